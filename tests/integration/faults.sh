#!/bin/sh
# faults.sh HILRUN: fault injection with real QEMU. Each fault must end with
# the right verdict, a whole record and no leftover process, and prints how
# long after its window (or after the fault) it was declared:
#   1 a guest that hangs after POST        fail:guest-hang (text)
#   2 a guest that hangs in graphics mode  fail:guest-hang (graphics)
#   3 QEMU killed with SIGKILL mid-run     fail:qemu-crash
#   4 QEMU stopped with SIGSTOP            fail:qemu-hang
#   5 the VNC server gone mid-run          error:capture-lost
#   6 hilrun killed with SIGKILL, rerun    error:harness-died, plan resumed
#   7 a simulated reboot (boot id changed) fail:host-hang
#   8 the disk full while writing          error:disk-full, a smaller whole record
#   9 two hilruns on one card              the second refused (exit 3), or queued with --wait
# Every case uses its own card id (copies of std-vga), so concurrent tests
# never see each other's QEMU.
. "$(dirname "$0")/lib.sh"
HILRUN=$(realpath "$1")
OUT=$(tmpdir)
trap 'pkill -f -- "-name hilrun-fault" 2>/dev/null || true; rm -rf "$OUT"' EXIT
mkdir -p "$OUT/cards"
card() { # card ID [VARIANT-ARGS...]: a std-vga copy with its own id
	id=$1; shift
	cat >"$OUT/cards/$id.card" <<EOC
format 1
id        $id
name      std VGA for fault injection
kind      emulated
pci-id    1234:1111
device    VGA
firmware  seabios
guest     bios-post
variant   default $*
EOC
}
ms() { date +%s%3N; }
qemu_of() { pgrep -f -- "-name hilrun-$1," | head -1; }
wait_stage() { # wait_stage OUTDIR STAGE: until the journal has STAGE decided (20 s)
	# Looked at often: under TCG a bios-post cell's text and graphics
	# stages take ~0.5 s together, and cases 6 and 7 kill hilrun in them.
	i=0
	while [ $i -lt 2000 ]; do
		grep -q "\"stage\":\"$2\"" "$1/journal.jsonl" 2>/dev/null && return 0
		sleep 0.01; i=$((i + 1))
	done
	return 1
}
one_record() { ls "$1"/runs/*/run.json; }
common() { # common RUN.JSON VERDICT
	check "verdict $2" [ "$(jq -r .verdict "$1")" = "$2" ]
	check "record whole (artifact checksums)" whole "$1"
	check "no QEMU left, sockets removed" no_leftover_qemu "$1"
	check "no temporary run directory left" [ -z "$(ls -A "$(dirname "$(dirname "$1")")" | grep '^\.tmp' || true)" ]
}
LAT="$OUT/latency"
: >"$LAT"
row() { echo "$1|$2|$3" >>"$LAT"; }
# Short windows so that hangs are declared in seconds: x0.4 of the defaults.
SCALE=0.4

echo "== 1. guest hangs after POST"
guest_with "$OUT/g1" -DHANG_AFTER_POST
card fault-1
rc=0
"$HILRUN" --card fault-1 --cards "$OUT/cards" --guests "$OUT/g1" --out "$OUT/r1" --timeout-scale $SCALE --retries 0 || rc=$?
rec=$(one_record "$OUT/r1")
common "$rec" fail:guest-hang
check "exit 1 (got $rc)" [ "$rc" -eq 1 ]
check "post passed, text hung" [ "$(jq -r '[.stages[].outcome] | join(",")' "$rec")" = pass,pass,fail,skip,skip ]
check "the last frame is kept" [ -f "$(dirname "$rec")/text.png" ]
row "guest hangs after POST" "$(jq -r .verdict "$rec")" "$(jq -r '.stages[2].hang.declared_after_window_ms' "$rec") ms after its $(jq -r '.stages[2].hang.window_ms' "$rec") ms window"

echo "== 2. guest hangs in graphics mode"
guest_with "$OUT/g2" -DHANG_IN_GRAPHICS
card fault-2
rc=0
"$HILRUN" --card fault-2 --cards "$OUT/cards" --guests "$OUT/g2" --out "$OUT/r2" --timeout-scale $SCALE --retries 0 || rc=$?
rec=$(one_record "$OUT/r2")
common "$rec" fail:guest-hang
check "text passed, graphics hung" [ "$(jq -r '[.stages[].outcome] | join(",")' "$rec")" = pass,pass,pass,fail,skip ]
check "the last frame (the pattern, 640x480) is kept" [ "$(jq -r '.stages[3].frame + " " + .stages[3].frame_size' "$rec")" = "graphics.png 640x480" ]
row "guest hangs in graphics mode" "$(jq -r .verdict "$rec")" "$(jq -r '.stages[3].hang.declared_after_window_ms' "$rec") ms after its $(jq -r '.stages[3].hang.window_ms' "$rec") ms window"

echo "== 3. QEMU killed with SIGKILL mid-run"
card fault-3
"$HILRUN" --card fault-3 --cards "$OUT/cards" --out "$OUT/r3" --retries 0 &
pid=$!
check "post decided" wait_stage "$OUT/r3" post
t0=$(ms); kill -KILL "$(qemu_of fault-3)"
rc=0; wait $pid || rc=$?; t1=$(ms)
rec=$(one_record "$OUT/r3")
common "$rec" fail:qemu-crash
check "exit 1 (got $rc)" [ "$rc" -eq 1 ]
check "QEMU's end recorded" [ "$(jq -r .qemu.exit "$rec")" = "killed by signal 9 (Killed)" ]
row "QEMU killed (SIGKILL)" "$(jq -r .verdict "$rec")" "hilrun done $((t1 - t0)) ms after the kill"

echo "== 4. QEMU stopped with SIGSTOP (its monitor frozen)"
card fault-4
"$HILRUN" --card fault-4 --cards "$OUT/cards" --out "$OUT/r4" --retries 0 &
pid=$!
check "post decided" wait_stage "$OUT/r4" post
qpid=$(qemu_of fault-4)
t0=$(ms); kill -STOP "$qpid"
rc=0; wait $pid || rc=$?; t1=$(ms)
rec=$(one_record "$OUT/r4")
common "$rec" fail:qemu-hang
check "says QEMU was stopped" sh -c "jq -r '.stages[] | select(.outcome==\"fail\") | .detail' '$rec' | grep -q 'process state is T (stopped)'"
row "QEMU stopped (SIGSTOP)" "$(jq -r .verdict "$rec")" "$(jq -r '[.stages[] | .qemu_hang | select(.)][0].declared_after_window_ms' "$rec") ms after its $(jq -r '[.stages[] | .qemu_hang | select(.)][0].window_ms' "$rec") ms window; hilrun done $((t1 - t0)) ms after the stop"

echo "== 5. the VNC server gone mid-run"
# QEMU also serves VNC on TCP; hilrun watches through a proxy that dies.
set -- $(free_ports 2)
port=$1 proxy_port=$2
card fault-5 -vnc 127.0.0.1:$((port - 5900))
python3 - "$port" "$proxy_port" >"$OUT/proxy.log" 2>&1 <<'EOP' &
import socket, sys, threading
src, dst = int(sys.argv[2]), int(sys.argv[1])
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", src)); ls.listen(1)
c, _ = ls.accept()
s = socket.create_connection(("127.0.0.1", dst))
def pipe(a, b):
    while True:
        d = a.recv(65536)
        if not d: break
        b.sendall(d)
threading.Thread(target=pipe, args=(s, c), daemon=True).start()
pipe(c, s)
EOP
proxy=$!
sleep 0.3
"$HILRUN" --card fault-5 --cards "$OUT/cards" --out "$OUT/r5" --capture "127.0.0.1:$proxy_port" &
pid=$!
check "post decided" wait_stage "$OUT/r5" post
t0=$(ms); kill -KILL $proxy
rc=0; wait $pid || rc=$?; t1=$(ms)
rec=$(one_record "$OUT/r5")
common "$rec" error:capture-lost
check "a lab error exits 3 (got $rc)" [ "$rc" -eq 3 ]
row "VNC server gone" "$(jq -r .verdict "$rec")" "hilrun done $((t1 - t0)) ms after the capture went"

echo "== 6. hilrun killed with SIGKILL mid-run, then started again"
card fault-6
cat >>"$OUT/cards/fault-6.card" <<EOC
variant   second
EOC
"$HILRUN" --card fault-6 --cards "$OUT/cards" --out "$OUT/r6" &
pid=$!
check "post decided" wait_stage "$OUT/r6" post
qpid=$(qemu_of fault-6)
kill -KILL $pid; wait $pid 2>/dev/null || true
i=0; while kill -0 "$qpid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "QEMU died with hilrun (parent-death signal)" sh -c "! kill -0 $qpid 2>/dev/null"
check "the run is left half-done" [ -n "$(ls -A "$OUT/r6/runs" | grep '^\.tmp' || true)" ]
t0=$(ms)
rc=0
"$HILRUN" resume --out "$OUT/r6" 2>"$OUT/err6" || rc=$?
cat "$OUT/err6"
check "resume says what it recovered" grep -q "recovered .*: error:harness-died" "$OUT/err6"
check "and resumed the plan" grep -q "resuming plan .*: 1 of 2 cells left" "$OUT/err6"
died=$(jq -r 'select(.verdict=="error:harness-died") | input_filename' "$OUT"/r6/runs/*/run.json)
common "$died" error:harness-died
check "the stage it died in (text or graphics) is an error, the ones before kept" \
	jq -e '[.stages[].outcome] | join(",") | test("^pass,pass,(error,skip|pass,error),skip$")' "$died"
check "the serial log taken so far is in the record" grep -q "HILRUN/1 post hold" "$(dirname "$died")/serial.log"
check "the other cell ran and passed" [ "$(jq -r 'select(.variant=="second") | .verdict' "$OUT"/r6/runs/*/run.json)" = pass ]
row "hilrun killed (SIGKILL), rerun" "$(jq -r .verdict "$died")" "at the next start (resume ran $(( $(ms) - t0 )) ms, the remaining cell included)"

echo "== 7. a simulated reboot: the host went down during a run"
card fault-7
HILRUN_BOOT_ID=fault-7-boot-a "$HILRUN" --card fault-7 --cards "$OUT/cards" --out "$OUT/r7" &
pid=$!
check "post decided" wait_stage "$OUT/r7" post
kill -KILL $pid; wait $pid 2>/dev/null || true
rc=0
HILRUN_BOOT_ID=fault-7-boot-b "$HILRUN" resume --out "$OUT/r7" 2>"$OUT/err7" || rc=$?
cat "$OUT/err7"
rec=$(one_record "$OUT/r7")
common "$rec" fail:host-hang
check "a card failure exits 1 (got $rc)" [ "$rc" -eq 1 ]
check "the record says which boots" [ "$(jq -r '.recovered.boot_id_at_start + " " + .recovered.boot_id_now' "$rec")" = "fault-7-boot-a fault-7-boot-b" ]
row "host went down (boot id changed)" "$(jq -r .verdict "$rec")" "at the next start after the reboot"

echo "== 8. the disk fills while the record is written"
# A small tmpfs (in a private mount namespace, so no root is needed) holds
# the results; when the run reaches graphics, the rest of the disk is taken.
card fault-8
mkdir -p "$OUT/r8"
unshare -rm sh -c '
	mount -t tmpfs -o size=512k none "$1" || exit 99
	"$2" --card fault-8 --cards "$3" --out "$1" 2>"$1.err" &
	pid=$!
	i=0
	while ! grep -q "\"stage\":\"text\"" "$1/journal.jsonl" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.05; i=$((i + 1)); done
	dd if=/dev/zero of="$1/filler" bs=4k 2>/dev/null
	rc=0; wait $pid || rc=$?
	echo "$rc" >"$1.rc"
	rm -f "$1/filler"
	cp -a "$1" "$1.copy"
' sh "$OUT/r8" "$HILRUN" "$OUT/cards" || fail "could not run in a private tmpfs (unshare -rm)"
cat "$OUT/r8.err"
rc=$(cat "$OUT/r8.rc")
rec=$(one_record "$OUT/r8.copy")
common "$rec" error:disk-full
check "a lab error exits 3 (got $rc)" [ "$rc" -eq 3 ]
check "the verdict the run reached is kept" [ "$(jq -r .verdict_before_disk_full "$rec")" = pass ]
check "what was dropped to make room is listed" [ "$(jq -r '.disk_full.dropped_artifacts | length' "$rec")" -ge 1 ]
check "the serial log is kept" [ -f "$(dirname "$rec")/serial.log" ]
row "disk full while writing the record" "$(jq -r .verdict "$rec")" "dropped $(jq -r '[.disk_full.dropped_artifacts[].path] | join(", ")' "$rec")"

echo "== 9. two hilruns on one card"
card fault-9
"$HILRUN" --card fault-9 --cards "$OUT/cards" --out "$OUT/r9" 2>"$OUT/err9a" &
pid=$!
check "post decided" wait_stage "$OUT/r9" post
# The first is held where it is, its lock with it (SIGSTOP), so that it
# cannot finish before the second starts: under TCG a bios-post cell
# takes under a second (an ASan build's second hilrun once started after
# the first had passed).
kill -STOP $pid
rc=0
"$HILRUN" --card fault-9 --cards "$OUT/cards" --out "$OUT/r9" 2>"$OUT/err9b" || rc=$?
cat "$OUT/err9b"
check "the second exits 3 (got $rc)" [ "$rc" -eq 3 ]
check "naming the holder" grep -q "card fault-9 is being run by hilrun pid $pid" "$OUT/err9b"
t0=$(ms)
rc=0
(sleep 1; kill -CONT $pid) &
"$HILRUN" --card fault-9 --cards "$OUT/cards" --out "$OUT/r9" --wait 2>"$OUT/err9c" || rc=$?
queued=$(( $(ms) - t0 ))
rc1=0; wait $pid || rc1=$?
check "the first passes (got $rc1)" [ "$rc1" -eq 0 ]
check "with --wait the second queues, then passes (got $rc)" [ "$rc" -eq 0 ]
check "  it waited for the first to go on ($queued ms)" [ "$queued" -ge 1000 ]
check "two records" [ "$(ls "$OUT"/r9/runs/*/run.json | wc -l)" -eq 2 ]
for rec in "$OUT"/r9/runs/*/run.json; do common "$rec" pass; done
row "two hilruns on one card" "second: exit 3 naming the holder; with --wait: pass" "queued $queued ms"

echo
echo "fault | verdict | detection"
cat "$LAT"
echo "PASS: faults"
