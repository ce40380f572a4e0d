# lib.sh: helpers for the integration tests (sourced). Each check prints what
# it checked; the first failure ends the test with a message naming it.
set -eu

fail() { echo "FAIL: $*" >&2; exit 1; }
check() { # check DESCRIPTION COMMAND...
	desc=$1; shift
	if "$@"; then echo "ok: $desc"; else fail "$desc"; fi
}
# free_ports N: N TCP ports on 127.0.0.1 that nothing listens on now, from
# the kernel's ephemeral range (above 5900: QEMU's -vnc takes a display
# number, port - 5900). Ports from $$ could collide with another test's.
free_ports() {
	python3 - "$1" <<'EOP'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOP
}
# guest_with DIR NASM-DEFINES...: a test build of bios-post, as
# DIR/bios-post/bios-post.img (give --guests DIR).
guest_with() {
	d=$1; shift
	mkdir -p "$d/bios-post"
	nasm -f bin -w+all -Werror "$@" -o "$d/bios-post/bios-post.img" \
		"$(realpath "$(dirname "$0")/../..")/guests/bios-post/bios-post.asm"
}
whole() { # whole RUN.JSON: every artifact's checksum matches
	jq -r '.artifacts[] | "\(.sha256)  \(.path)"' "$1" | (cd "$(dirname "$1")" && sha256sum --quiet -c -)
}
tmpdir() {
	d=$(mktemp -d /tmp/hilrun-it-XXXXXX)
	echo "$d"
}
# No QEMU started by the run of this record may outlive hilrun. A run's QEMU
# is told apart from concurrent runs' by its private socket directory.
no_leftover_qemu() { # no_leftover_qemu RUN.JSON
	# (a record recovered from the journal names the directory itself)
	sockdir=$(jq -r '[.qemu_argv[] | select(startswith("socket,id=qmp,path=")) | sub("socket,id=qmp,path="; "") | sub("/qmp.sock$"; "")][0] // .recovered.sock_dir // empty' "$1")
	[ -n "$sockdir" ] || return 1
	! pgrep -f -- "$sockdir/" >/dev/null 2>&1 && [ ! -e "$sockdir" ]
}
# stop_server: SIGTERM to hilrun serve ($SRV_PID, its stderr in $SRV_LOG);
# it must exit 0 with no sanitizer report (the ASan build runs the tests too)
stop_server() {
	[ -n "$SRV_PID" ] || return 0
	kill "$SRV_PID"
	rc=0
	wait "$SRV_PID" || rc=$?
	SRV_PID=
	[ "$rc" -eq 0 ] || { cat "$SRV_LOG"; fail "hilrun serve exited $rc on SIGTERM"; }
	! grep -q "Sanitizer" "$SRV_LOG" || { cat "$SRV_LOG"; fail "a sanitizer report from hilrun serve"; }
	grep -q "Terminated: stopping" "$SRV_LOG" || fail "hilrun serve did not say it stops"
	echo "ok: hilrun serve stopped cleanly on SIGTERM"
}
