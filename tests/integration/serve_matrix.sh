#!/bin/sh
# serve_matrix.sh HILRUN: the results server's matrix with provenance, for
# real: hilrun serve with a lab results directory (--results) and a store,
# two contributors uploading the fixture run (std-vga seabios/bios-post),
# bob's with its verdict edited to fail (re-signed by hilrun upload):
#   - the matrix is published at start, and once more after both uploads,
#     sent at once inside the period that began with the first build
#     (debounced: --republish P, P set from how long this machine takes to
#     bundle and check the two runs, at least 5 s): exactly one build for
#     both, none after; into STORE/matrix (a link to a whole generation)
#   - GET / shows the cell with each source and host: the lab's on vm,
#     alice's on alices-pc agreeing, bob's on bobs-box disagreeing, flagged;
#     matrix.json says so too
#   - Chromium renders / and a contributor's run page and the lab's
#   - hilrun matrix --results --store builds the same offline
. "$(dirname "$0")/lib.sh"
HILRUN=$1
OUT=$(tmpdir)
SRV_PID= SRV_LOG=
trap '[ -z "$SRV_PID" ] || kill -9 "$SRV_PID" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$OUT"' EXIT
FIXTURE="$(realpath "$(dirname "$0")/../fixtures/runs/std-vga-bios-post")"
ID0=$(jq -r .run_id "$FIXTURE/run.json")
ST="$OUT/store" KF="$OUT/keys.txt" LOG="$OUT/server.log"
PORT=$(free_ports 1)
URL="http://127.0.0.1:$PORT"

# edited DEST HOSTNAME [VERDICT]: a copy of the fixture run on another host,
# its verdict (and its graphics stage) failed when given
edited() {
	rm -rf "$1"
	cp -r "$FIXTURE" "$1"
	python3 - "$1" "$2" "${3:-}" <<'EOP'
import json, sys
d, host, verdict = sys.argv[1:4]
rec = json.load(open(d + "/run.json"))
rec["host"]["hostname"] = host
if verdict:
    rec["verdict"] = verdict
    for st in rec["stages"]:
        if st["name"] == "graphics":
            st["outcome"] = "fail"
json.dump(rec, open(d + "/run.json", "w"), indent=2)
EOP
}
# published N: wait (up to 30 s) for the server's Nth matrix
published() {
	i=0
	until grep -q "matrix $1 published" "$LOG"; do
		i=$((i + 1))
		[ $i -lt 300 ] || { cat "$LOG"; fail "no matrix $1 published"; }
		kill -0 "$SRV_PID" 2>/dev/null || { cat "$LOG"; fail "hilrun serve exited"; }
		sleep 0.1
	done
}

for who in alice bob; do
	"$HILRUN" key new --id "$who" --dir "$OUT/keys" >/dev/null
done
cat "$OUT/keys/alice.pub" "$OUT/keys/bob.pub" >"$KF"
mkdir -p "$OUT/lab/runs"
cp -r "$FIXTURE" "$OUT/lab/runs/$ID0"

edited "$OUT/alice-run" alices-pc
edited "$OUT/bob-run" bobs-box fail:graphics
# The period: at least 5 s, and 4 times (and 2 s more) what bundling and
# checking both runs here takes (hilrun upload --dry-run does what the
# client and the server each do), so that both uploads land inside it
# however loaded the machine (or slow the ASan build) is.
t=$(date +%s%3N)
"$HILRUN" upload --dry-run --key "$OUT/keys/alice.key" "$OUT/alice-run" >/dev/null
"$HILRUN" upload --dry-run --key "$OUT/keys/bob.key" "$OUT/bob-run" >/dev/null
PERIOD=$((($(date +%s%3N) - t) * 4 / 1000 + 2))
[ "$PERIOD" -ge 5 ] || PERIOD=5
echo "republish period: $PERIOD s"

"$HILRUN" serve --store "$ST" --keys "$KF" --listen "127.0.0.1:$PORT" --results "$OUT/lab" \
	--republish "$PERIOD" 2>"$LOG" &
SRV_PID=$! SRV_LOG=$LOG
published 1
T0=$(date +%s%3N)
grep -q "matrix 1 published: 1 runs, 1 cells, 0 disagree" "$LOG" || { cat "$LOG"; fail "the first matrix is not the lab's run"; }
check "STORE/matrix is a link to a whole generation" sh -c "[ -L '$ST/matrix' ] && [ -f '$ST/matrix/matrix.html' ]"
curl -sf "$URL/" >"$OUT/root0" || fail "GET / failed"
check "GET / is the matrix, the lab's run on vm" grep -q "lab on vm" "$OUT/root0"

# both at once, inside the period
"$HILRUN" upload --server "$URL" --key "$OUT/keys/alice.key" "$OUT/alice-run" >"$OUT/up-alice" 2>&1 &
UP1=$!
"$HILRUN" upload --server "$URL" --key "$OUT/keys/bob.key" "$OUT/bob-run" >"$OUT/up-bob" 2>&1 &
UP2=$!
wait $UP1 || { cat "$OUT/up-alice"; fail "alice's upload"; }
wait $UP2 || { cat "$OUT/up-bob"; fail "bob's upload"; }
T1=$(date +%s%3N)
echo "both uploads accepted $((T1 - T0)) ms after the first build was seen (period $PERIOD s)"
[ $((T1 - T0)) -lt $((PERIOD * 1000)) ] ||
	fail "the uploads took $((T1 - T0)) ms, past the $PERIOD s period measured for them: debouncing cannot be told apart"
published 2
grep -q "matrix 2 published: 3 runs, 1 cells, 1 disagree" "$LOG" || { cat "$LOG"; fail "the second matrix is not of the three runs"; }
# Debouncing broken (a build per upload, or one at once) would show a
# third build within the period after the second.
sleep $((PERIOD + 1))
check "debounced: one build after two uploads, none after it" [ "$(grep -c "published" "$LOG")" -eq 2 ]
check "the generation before is removed" [ "$(ls "$ST/matrix.d" | wc -l)" -eq 1 ]

curl -sf "$URL/" >"$OUT/root"
for want in "lab on vm" "contributor:alice on alices-pc" "contributor:bob on bobs-box" "sources disagree" \
	"href=\"runs/bob/$ID0.html\"" "href=\"runs/$ID0.html\""; do
	check "GET / has '$want'" grep -qF "$want" "$OUT/root"
done
curl -sf "$URL/matrix.json" >"$OUT/matrix.json"
check "matrix.json: the cell disagrees, each source with its host and verdict" [ \
	"$(jq -c '[.disagreements, (.cells[0].sources | map([.source, .host, .verdict]))]' "$OUT/matrix.json")" = \
	"[[\"std-vga seabios/bios-post default\"],[[\"lab\",\"vm\",\"pass\"],[\"contributor:alice\",\"alices-pc\",\"pass\"],[\"contributor:bob\",\"bobs-box\",\"fail:graphics\"]]]" ]
check "matrix.json: bob's fail is his own unexpected failure, the lab's cell still passes" [ \
	"$(jq -c '[.cells[0].class, .cells[0].sources[2].class, (.summary | has("regression"))]' "$OUT/matrix.json")" = \
	'["pass","unexpected-failure",false]' ]
check "the stored run's own page still answers" sh -c "curl -sf '$URL/runs/bob/$ID0' | grep -q bobs-box"

command -v chromium >/dev/null || fail "chromium not installed (ci/setup installs it)"
# render URL NAME: Chromium's DOM of URL into $OUT/NAME.html, no console error
render() {
	timeout 120 chromium --headless=new --no-sandbox --disable-gpu --enable-logging=stderr --v=0 \
		--dump-dom "$1" >"$OUT/$2.html" 2>"$OUT/$2.log" || fail "chromium could not open $1"
	! grep -E 'CONSOLE|Uncaught' "$OUT/$2.log" || fail "console errors rendering $1"
}
render "$URL/" root-dom
for want in "lab on vm" "contributor:alice on alices-pc" "contributor:bob on bobs-box" "sources disagree"; do
	check "Chromium renders / with '$want'" grep -qF "$want" "$OUT/root-dom.html"
done
render "$URL/runs/bob/$ID0.html" bob-dom
check "Chromium renders bob's run page: his source, host and verdict" sh -c \
	"grep -q 'contributor:bob' '$OUT/bob-dom.html' && grep -q 'bobs-box' '$OUT/bob-dom.html' && grep -q 'fail:graphics' '$OUT/bob-dom.html'"
render "$URL/runs/$ID0.html" lab-dom
check "Chromium renders the lab's run page" sh -c \
	"grep -q '<span class=\"source\">lab</span>' '$OUT/lab-dom.html' && grep -q ' on vm' '$OUT/lab-dom.html'"

# the lab's own matrix of the same: hilrun matrix --results --store
"$HILRUN" matrix --results "$OUT/lab" --store "$ST" --out "$OUT/offline" 2>"$OUT/matrix.err" ||
	{ cat "$OUT/matrix.err"; fail "hilrun matrix --store"; }
check "hilrun matrix --results --store names the cell whose sources disagree" \
	grep -q "sources disagree  *1: std-vga seabios/bios-post default" "$OUT/matrix.err"
check "hilrun matrix --store: bob's run page apart from the lab's" sh -c \
	"[ -f '$OUT/offline/runs/bob/$ID0.html' ] && [ -f '$OUT/offline/runs/$ID0.html' ]"

stop_server
