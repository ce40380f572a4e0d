# lib.sh: helpers for the integration tests (sourced). Each check prints what
# it checked; the first failure ends the test with a message naming it.
set -eu

fail() { echo "FAIL: $*" >&2; exit 1; }
check() { # check DESCRIPTION COMMAND...
	desc=$1; shift
	if "$@"; then echo "ok: $desc"; else fail "$desc"; fi
}
tmpdir() {
	d=$(mktemp -d /tmp/hilrun-it-XXXXXX)
	echo "$d"
}
# No QEMU started for this card may outlive hilrun.
no_leftover_qemu() {
	! pgrep -f "hilrun-$1," >/dev/null 2>&1
}
