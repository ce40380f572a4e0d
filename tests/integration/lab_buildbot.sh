#!/bin/sh
# lab_buildbot.sh HILRUN: ci/lab/buildbot/master.cfg for real, on loopback:
# a Buildbot master (SQLite) and two buildbot-workers standing in for two
# lab hosts (lab-a, lab-b: each in its own UTS namespace, so that each
# host's hilrun records its own host name), each with two emulated cards as
# its stations, and hilrun serve as the lab's results server, each host
# uploading with its own key (hilrun key new):
#   - every builder forced through the force scheduler (REST, JSON-RPC):
#     each build of an emulated card succeeds (hilrun exit 0), its JUnit
#     file attached, but a card that fails its text stage fails (exit 1),
#     the failure in its JUnit file; lab-b's station of a physical card the host does not
#     have is an exception (hilrun's lab error, exit 3), not a failure;
#   - lab-a's station marked may-hang held the host's lock alone: no other
#     run of lab-a overlapped its run;
#   - the server stored signed runs from both hosts, and the matrix it
#     serves shows both;
#   - a build of lab-a stopped in mid-cell (REST, as its Stop button):
#     cancelled; hilrun got SIGTERM and recorded error:interrupted;
#   - lab-b's worker and its hilrun SIGKILLed in mid-build: Buildbot
#     reports the build lost (retry) and builds the request again once the
#     worker is back; that build's hilrun recovers the interrupted run from
#     its journal (error:harness-died, so the build is an exception: a lab
#     error), runs the cell again, and both runs are uploaded.
# Cells are kept cheap: seabios/bios-post only, under TCG. Prints a
# transcript at the end.
. "$(dirname "$0")/lib.sh"
HILRUN=$(realpath "$1")
SRC=$(realpath "$(dirname "$0")/../..")
API="python3 $SRC/tests/integration/lab_api.py"
T=$(tmpdir)
STARTED=$(date +%s)
MASTER_PID= WA_PID= WB_PID= SRV_PID= SRV_LOG=

# tree PID: PID and every descendant (collected before anything is killed:
# a killed parent's children are reparented out of reach)
tree() {
	echo "$1"
	for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do tree "$c"; done
}
kill_tree() { # kill_tree SIGNAL PID
	[ -n "$2" ] || return 0
	pids=$(tree "$2")
	kill -"$1" $pids 2>/dev/null || true
}
cleanup() {
	for p in $WA_PID $WB_PID $MASTER_PID $SRV_PID; do kill_tree 9 "$p"; done
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

set -- $(free_ports 3)
WPORT=$1 HPORT=$2 SPORT=$3
URL="http://127.0.0.1:$HPORT"
SERVER="http://127.0.0.1:$SPORT"

# The card files: hilrun's, and a card that fails: std-vga under a PCI id
# it does not have, so that the guest does not find it (fail:text: hilrun
# exits 1)
mkdir -p "$T/cards"
cp "$SRC"/cards/*.card "$T/cards/"
sed -e 's/^id .*/id        std-vga-wrong-id/' -e 's/^pci-id .*/pci-id    1234:9999/' \
	-e 's/^name .*/name      std-vga under a PCI id it does not have/' "$SRC/cards/std-vga.card" \
	>"$T/cards/std-vga-wrong-id.card"
export HILRUN_CARDS="$T/cards" # hilrun's, on the hosts and the server

# --- the results server, a key per host ---------------------------------
for h in lab-a lab-b; do
	"$HILRUN" key new --id "$h" --dir "$T/keys" >/dev/null
done
cat "$T/keys/lab-a.pub" "$T/keys/lab-b.pub" >"$T/keys.txt"
SRV_LOG="$T/server.log"
"$HILRUN" serve --store "$T/store" --keys "$T/keys.txt" --listen "127.0.0.1:$SPORT" \
	--republish 1 2>"$SRV_LOG" &
SRV_PID=$!

# --- the lab: two hosts, emulated cards as their stations -----------------
printf 'format 1\nstation emu-a1\ncard std-vga\nstation emu-a2\ncard cirrus-vga\n' >"$T/lab-a.stations"
printf 'station emu-a3\ncard std-vga-wrong-id\n' >>"$T/lab-a.stations"
# (and a physical card's station on a host without the card: a lab error)
printf 'format 1\nstation emu-b1\ncard qxl-vga\nstation emu-b2\ncard virtio-vga\n' >"$T/lab-b.stations"
printf 'station bench-b3\ncard g98\nhost 0000:7f:00.0\ncapture 127.0.0.1:1\n' >>"$T/lab-b.stations"
for h in lab-a lab-b; do echo "pw-$h" >"$T/$h.pass"; done
cat >"$T/lab" <<EOF
format 1
results-server $SERVER
cards $T/cards
worker-port tcp:$WPORT:interface=127.0.0.1
www-port tcp:$HPORT:interface=127.0.0.1
www-url $URL/
EOF
for h in lab-a lab-b; do
	cat >>"$T/lab" <<EOF
host $h
password-file $h.pass
stations $h.stations
key $T/keys/$h.key
hilrun $HILRUN
out $T/$h
options --guest bios-post --firmware seabios --accel tcg
EOF
done
# emu-a2's builds take lab-a's lock exclusively; emu-a3's failure is
# decided without waiting out the text stage's whole window, nor retried
sed -i -e '/^host lab-a$/a may-hang emu-a2' \
	-e '/^host lab-a$/a station-options emu-a3 --retries 0 --timeout-scale 0.3' "$T/lab"

buildbot create-master -q -r -c "$SRC/ci/lab/buildbot/master.cfg" "$T/master" >/dev/null ||
	fail "buildbot create-master"
export HILRUN_LAB="$T/lab"
buildbot checkconfig "$T/master" >"$T/checkconfig.log" 2>&1 || { cat "$T/checkconfig.log"; fail "buildbot checkconfig of ci/lab/buildbot/master.cfg"; }
echo "ok: buildbot checkconfig accepts master.cfg with the lab file"
# (Debian's Buildbot has no web UI; rest-only/ stands in for it, so that
# the REST API and the force scheduler's JSON-RPC are served)
PYTHONPATH="$SRC/ci/lab/buildbot/rest-only" buildbot start --nodaemon "$T/master" >"$T/master.out" 2>&1 &
MASTER_PID=$!

# start_worker HOST: a buildbot-worker as HOST, its host name its own
# (unshare -u: a UTS namespace; -r too when not root)
UNSHARE="unshare -u"
[ "$(id -u)" -eq 0 ] || UNSHARE="unshare -r -u"
start_worker() {
	[ -d "$T/worker-$1" ] || buildbot-worker create-worker -q "$T/worker-$1" "127.0.0.1:$WPORT" "$1" "pw-$1" ||
		fail "buildbot-worker create-worker $1"
	$UNSHARE sh -c 'hostname "$1" && exec buildbot-worker start --nodaemon "$2"' sh "$1" "$T/worker-$1" \
		>>"$T/worker-$1.out" 2>&1 &
}
start_worker lab-a; WA_PID=$!
start_worker lab-b; WB_PID=$!
$API "$URL" workers 2 60 || { tail -20 "$T/master/twistd.log"; fail "the two workers did not connect to the master"; }
echo "ok: master up, workers lab-a and lab-b connected"

# --- every builder forced ------------------------------------------------
BRIDS=
for b in emu-a1 emu-a2 emu-a3 emu-b1 emu-b2 bench-b3; do
	BRIDS="$BRIDS $($API "$URL" force force "$b")" || fail "forcing $b"
done
$API "$URL" wait 120 $BRIDS >"$T/builds1" || fail "the forced builds did not complete"
cat "$T/builds1"
for b in emu-a1 emu-a2 emu-b1 emu-b2; do
	check "build of $b: success" grep -q " $b 1 success " "$T/builds1"
done
check "build of emu-a3 (a card whose guest does not find it): failure, the card's" \
	grep -q " emu-a3 1 failure .*hilrun:_card_failed" "$T/builds1"
$API "$URL" log emu-a3 1 junit junit.xml >"$T/junit-a3.xml" || fail "no junit.xml log on emu-a3's build"
check "emu-a3's JUnit file has the cell as a failure" grep -q '<failure .*fail:text' "$T/junit-a3.xml"
check "build of bench-b3 (g98, no such device on lab-b): exception, hilrun's lab error" \
	grep -q " bench-b3 1 exception .*hilrun:_lab_error" "$T/builds1"
$API "$URL" log emu-a1 1 junit junit.xml >"$T/junit-a1.xml" || fail "no junit.xml log on emu-a1's build"
check "emu-a1's build has the station's JUnit file attached" grep -q '<testcase .*std-vga seabios/bios-post default' "$T/junit-a1.xml"

# the may-hang station's run overlapped no other run of its host
python3 - "$T"/lab-a/emu-a2/runs/*/run.json "$T"/lab-a/emu-a1/runs/*/run.json "$T"/lab-a/emu-a3/runs/*/run.json <<'EOP' || fail "emu-a2 (may-hang: the host's lock, exclusive) overlapped another build of lab-a"
import json, sys, datetime
def span(p):
    r = json.load(open(p))
    t = datetime.datetime.fromisoformat(r["started_at"].replace("Z", "+00:00")).timestamp()
    return t, t + r["duration_ms"] / 1000
a0, a1 = span(sys.argv[1])
sys.exit(0 if all(a1 <= b0 or b1 <= a0 for b0, b1 in map(span, sys.argv[2:])) else 1)
EOP
echo "ok: emu-a2 (may-hang) held lab-a's lock alone: its run overlapped no other run of lab-a"

# --- what the results server received -------------------------------------
holds() { jq -e "$1" "$2" >/dev/null; } # holds FILTER FILE.json
# published RUNS: wait (up to 30 s) for a matrix of that many runs
published() {
	i=0
	until grep -q "published: $1 runs" "$SRV_LOG"; do
		i=$((i + 1))
		[ $i -lt 300 ] || { cat "$SRV_LOG"; fail "no matrix of $1 runs published"; }
		sleep 0.1
	done
}
# signed_by_host N: the server lists N stored runs, each sent by its host's
# key and recorded on that host, and each stored manifest's signature
# verifies (openssl, apart from hilrun) against that host's public key
signed_by_host() {
	curl -sf "$SERVER/api/v1/runs" >"$T/stored.json" || fail "GET /api/v1/runs"
	check "the server stored $1 runs" [ "$(jq length "$T/stored.json")" -eq "$1" ]
	check "each stored run came from its own host's key, with that host's name" \
		holds 'all(.[]; .contributor == .host) and ([.[].host] | unique == ["lab-a", "lab-b"])' "$T/stored.json"
	for d in "$T"/store/runs/*/*/; do
		who=$(basename "$(dirname "$d")")
		{ printf '302a300506032b6570032100' | xxd -r -p; cut -d' ' -f3 "$T/keys/$who.pub" | base64 -d; } >"$T/$who.der"
		base64 -d "$d/manifest.sig" >"$T/sig.bin"
		openssl pkeyutl -verify -pubin -keyform DER -inkey "$T/$who.der" -rawin -in "$d/manifest.json" \
			-sigfile "$T/sig.bin" >/dev/null || fail "stored run $d: its signature does not verify against $who's key"
		[ "$(sha256sum <"$d/run.json" | cut -d' ' -f1)" = "$(jq -r .run_json.sha256 "$d/manifest.json")" ] ||
			fail "stored run $d: run.json is not the one signed"
	done
	echo "ok: every stored run's signature verifies against its host's key (openssl), over the run.json stored"
}
signed_by_host 5
published 5
curl -sf "$SERVER/matrix.json" >"$T/matrix.json" || fail "GET /matrix.json"
check "the served matrix shows both hosts" \
	holds '[.cells[].sources[].host] | unique == ["lab-a", "lab-b"]' "$T/matrix.json"

# await_qemu WORKER_PID BUILDER: the QEMU under the worker's tree, once
# there is one (its hilrun in mid-cell)
await_qemu() {
	i=0
	while :; do
		for p in $(tree "$1"); do
			[ "$(ps -o comm= -p "$p" 2>/dev/null)" = qemu-system-x86 ] && { echo "$p"; return 0; }
		done
		i=$((i + 1))
		[ $i -lt 600 ] || fail "no QEMU under the worker within 30 s of forcing $2"
		sleep 0.05
	done
}

# --- a build stopped (as its Stop button does) -----------------------------
# (emu-a3's cell: it waits out its text window, about 12 s, so the stop
# surely lands in mid-cell)
BR=$($API "$URL" force force emu-a3) || fail "forcing emu-a3 again"
QEMU=$(await_qemu "$WA_PID" emu-a3)
$API "$URL" stop emu-a3 2 || fail "stopping emu-a3's build 2"
$API "$URL" build emu-a3 2 60 >"$T/stopped" || fail "emu-a3's build 2 did not end once stopped"
check "a stopped build is cancelled" grep -q "^emu-a3 2 cancelled " "$T/stopped"
check "its hilrun, sent SIGTERM, stopped QEMU and wrote the record: error:interrupted" \
	grep -q '"verdict": *"error:interrupted"' "$T"/lab-a/emu-a3/runs/*/run.json
check "QEMU $QEMU is gone" sh -c "! kill -0 $QEMU 2>/dev/null"

# --- a host lost in mid-build ----------------------------------------------
# (emu-b1's cell passes in about a second: QEMU is looked for every 50 ms
# and the kill follows at once)
BR=$($API "$URL" force force emu-b1) || fail "forcing emu-b1 again"
QEMU=$(await_qemu "$WB_PID" emu-b1)
HILRUN_PID=$(ps -o ppid= -p "$QEMU" | tr -d ' ')
[ "$(ps -o comm= -p "$HILRUN_PID")" = hilrun ] || fail "QEMU $QEMU's parent $HILRUN_PID is not hilrun"
kill -9 "$WB_PID" "$HILRUN_PID"
WB_PID=
echo "killed lab-b's worker and its hilrun (SIGKILL) while QEMU $QEMU ran emu-b1's cell"
$API "$URL" build emu-b1 2 60 >"$T/lost" || fail "Buildbot did not end emu-b1's build 2"
check "Buildbot reports the lost build as retry (the worker went away)" grep -q "^emu-b1 2 retry " "$T/lost"
i=0
while kill -0 "$QEMU" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "QEMU $QEMU outlived its hilrun by 5 s"
	sleep 0.05
done

start_worker lab-b; WB_PID=$!
$API "$URL" wait 120 "$BR" >"$T/builds2" || fail "emu-b1's request did not complete after lab-b came back"
cat "$T/builds2"
# hilrun exits 3 for the run it recovered (a lab error: hilrun died), even
# though the cell then passed: an exception, not the card's failure
check "the request was built again on lab-b once it came back: exception (hilrun: lab error)" \
	grep -q " emu-b1 3 exception .*hilrun:_lab_error" "$T/builds2"
$API "$URL" log emu-b1 3 hilrun stdio >"$T/stdio3" || fail "no stdio of emu-b1's build 3"
check "its hilrun said it recovered the interrupted run" grep -q "recovered .*: error:harness-died" "$T/stdio3"
RUNS="$T/lab-b/emu-b1/runs"
DIED=$(grep -l '"verdict": *"error:harness-died"' "$RUNS"/*/run.json) || fail "no error:harness-died record in $RUNS"
check "the interrupted run was recovered from the journal, whole" whole "$DIED"
check "the recovered run's QEMU and sockets are gone" no_leftover_qemu "$DIED"
check "the interrupted run is recovered, the cell ran again: 3 runs of emu-b1, 2 passed" [ \
	"$(jq -r .verdict "$RUNS"/*/run.json | sort | tr '\n' ' ')" = "error:harness-died pass pass " ]
signed_by_host 8
check "the server holds lab-a's interrupted run and lab-b's recovered one" holds \
	'any(.[]; .host == "lab-a" and .verdict == "error:interrupted") and any(.[]; .host == "lab-b" and .verdict == "error:harness-died")' \
	"$T/stored.json"
published 8

# --- transcript ----------------------------------------------------------------
echo
echo "=== transcript ==="
echo "builds (builder number result state):"
$API "$URL" builds | sed 's/^/  /'
echo "the results server received (contributor host card verdict):"
jq -r '.[] | "  \(.contributor) \(.host) \(.card) \(.verdict)"' "$T/stored.json"
echo "the served matrix (matrix.md):"
curl -sf "$SERVER/matrix.md" | grep -E '^\| .*(std-vga|cirrus-vga|qxl-vga|virtio-vga|std-vga-wrong-id)' | cut -d'|' -f2-6 | sed 's/^/  /'
echo "took $(($(date +%s) - STARTED)) s"
stop_server
