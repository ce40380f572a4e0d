#!/bin/sh
# several.sh HILRUN: several cards in one invocation, with real QEMU (a
# worker per cell, never two of one card at once):
#   1 bad --card lists, -j and --all with --card: exit 2, said
#   2 --card a,b,c -j2 without a terminal: one whole line per finished cell,
#     one journalled plan of every cell, cells of two cards at once; -j1:
#     never two at once; cells never timed first, then the longest
#   3 --all: every emulated card and every card with a station, no other
#   4 on a terminal: a live line per running cell, cleared, then the lines
#   5 the whole invocation killed mid-way (SIGKILL to every process): resume
#     finishes the plan: every cell has a record, none twice
#   6 SIGINT to hilrun alone: the workers stop their cells, records written,
#     exit 130, no QEMU left
# The cards are copies of std-vga with their own ids (two cells each), so
# the cells are the cheapest there are and no other test's QEMU is seen.
. "$(dirname "$0")/lib.sh"
HILRUN=$(realpath "$1")
OUT=$(tmpdir)
trap 'pkill -KILL -f -- "-name hilrun-several-" 2>/dev/null || true; rm -rf "$OUT"' EXIT
mkdir -p "$OUT/cards"
for id in several-a several-b several-c; do
	cat >"$OUT/cards/$id.card" <<EOC
format 1
id        $id
name      std VGA, one of several
kind      emulated
pci-id    1234:1111
device    VGA
firmware  seabios
guest     bios-post
variant   default
variant   second
EOC
done
C="--cards $OUT/cards"

expect_usage() { # expect_usage MESSAGE ARGS...: exit 2, MESSAGE said
	msg=$1; shift
	rc=0
	"$HILRUN" "$@" $C --out "$OUT/usage" 2>"$OUT/err" || rc=$?
	check "exit 2 for '$*' (got $rc)" [ "$rc" -eq 2 ]
	check "says: $msg" grep -qF -- "$msg" "$OUT/err"
}
# overlaps RUNS_DIR: two runs of different cards were running at one time
overlaps() {
	jq -s '[.[] | {c: .card.id, s: .started_at, f: .finished_at}] as $r
	       | [$r[] as $a | $r[] as $b | select($a.c < $b.c and $a.s < $b.f and $b.s < $a.f)]
	       | length > 0' "$1"/*/run.json | grep -q true
}
no_overlap() { ! overlaps "$1"; }
keys() { jq -r '.card.id + " " + .firmware + "/" + .guest + " " + .variant' "$1"/runs/*/run.json | sort; }
ALL_KEYS=$(for c in a b c; do for v in default second; do echo "several-$c seabios/bios-post $v"; done; done | sort)

echo "== 1. bad options"
expect_usage "-j/--jobs: expected a number of cells at once from 1 to 64, got '0'" --card several-a -j 0
expect_usage "--card and --all: give one or the other" --card several-a --all
expect_usage "no card 'nope' in" --card several-a,nope
expect_usage "--card: several-b is named twice" --card several-b,several-a,several-b
expect_usage "card several-a runs no guest 'uefi-gop'" --card several-a,several-b --guest bios-post,uefi-gop
check "nothing was journalled" [ ! -e "$OUT/usage/journal.jsonl" ]

echo "== 2. three cards, -j2, no terminal"
rc=0
"$HILRUN" --card several-a,several-b,several-c -j2 $C --out "$OUT/r2" 2>"$OUT/err2" || rc=$?
cat "$OUT/err2"
check "exit 0 (got $rc)" [ "$rc" -eq 0 ]
check "one line per finished cell, each whole" [ "$(grep -cE '^\[[1-6]/6\] several-[abc] seabios/bios-post (default|second): pass  [0-9.]+s  /' "$OUT/err2")" -eq 6 ]
check "and nothing else" [ "$(wc -l <"$OUT/err2")" -eq 6 ]
check "every cell has its record" [ "$(keys "$OUT/r2")" = "$ALL_KEYS" ]
check "one plan, of every cell" [ "$(jq -s '[.[] | select(.e == "plan")] | map(.cells | length)' "$OUT/r2/journal.jsonl" | tr -d ' \n')" = "[6]" ]
check "the plan is done" [ "$(jq -s '[.[] | select(.e == "plan-done" and .interrupted == false)] | length' "$OUT/r2/journal.jsonl")" -eq 1 ]
check "cells of two cards ran at once" overlaps "$OUT/r2/runs"
rc=0
"$HILRUN" --all --guest bios-post,uefi-gop --variant default -j2 $C --out "$OUT/r2all" 2>"$OUT/err2all" || rc=$?
cat "$OUT/err2all"
check "--all with a list naming a guest no card runs: exit 0 (got $rc)" [ "$rc" -eq 0 ]
check "  and each card's cells of the rest" [ "$(ls "$OUT/r2all/runs" | wc -l)" -eq 3 ]
"$HILRUN" --card several-a,several-b -j1 $C --out "$OUT/r2j1" 2>/dev/null
check "-j1: never two at once" no_overlap "$OUT/r2j1/runs"

# The order: cells never timed first (in plan order), then the longest as
# the last runs took (OUT/cell-times.json), which each run updates.
mkdir -p "$OUT/r2t"
echo '{"several-c seabios/bios-post second": 9000, "several-a seabios/bios-post default": 100}' \
	>"$OUT/r2t/cell-times.json"
"$HILRUN" --card several-a,several-c -j1 $C --out "$OUT/r2t" 2>/dev/null
check "cells never timed first, then the longest" [ "$(jq -rs 'sort_by(.started_at) | map(.card.id + " " + .variant) | join(",")' "$OUT"/r2t/runs/*/run.json)" = \
	"several-a second,several-c default,several-c second,several-a default" ]
check "every cell's time remembered" [ "$(jq '[.[] | select(type == "number" and . > 0 and . < 9000)] | length' "$OUT/r2t/cell-times.json")" -eq 4 ]

echo "== 3. --all"
cp "$(dirname "$0")/../../cards/g98.card" "$OUT/cards/"
cp "$(dirname "$0")/../../cards/g86.card" "$OUT/cards/"
cat >"$OUT/stations" <<EOS
format 1
station bench-1
card    g98
host    0000:01:00.0
capture 127.0.0.1:5901
EOS
"$HILRUN" --all --dry-run $C --stations "$OUT/stations" >"$OUT/dry3" 2>"$OUT/err3" || { cat "$OUT/err3"; fail "--all --dry-run"; }
check "every emulated card and the station's, not the card without one" [ "$(grep '^# ' "$OUT/dry3" | cut -d' ' -f2 | sort -u | tr '\n' ' ')" = "g98 several-a several-b several-c " ]
check "the station's card on its host" grep -q "vfio-pci,host=0000:01:00.0" "$OUT/dry3"

echo "== 4. on a terminal"
script -qec "'$HILRUN' --card several-a,several-b -j2 $C --out '$OUT/r4'" /dev/null >"$OUT/tty4" </dev/null
check "a live line per running cell" grep -qE '\[[1-4]/4\] several-[ab] seabios/bios-post (default|second): starting' "$OUT/tty4"
check "live lines with their stages" grep -qE '\[[1-4]/4\] several-[ab] seabios/bios-post (default|second): start:pass post:pass' "$OUT/tty4"
check "cleared before each line" grep -q "$(printf '\033')\[[0-9]*A" "$OUT/tty4"
check "then each finished line" [ "$(grep -cE 'several-[ab] seabios/bios-post (default|second): pass  [0-9.]+s' "$OUT/tty4")" -eq 4 ]

echo "== 5. the whole invocation killed mid-way, then resumed"
setsid "$HILRUN" --card several-a,several-b,several-c -j2 $C --out "$OUT/r5" 2>"$OUT/err5a" &
pid=$!
finished() { n=$(grep -c '"e":"finish"' "$OUT/r5/journal.jsonl" 2>/dev/null || true); echo "${n:-0}"; }
i=0
while [ "$(finished)" -lt 2 ] && [ $i -lt 300 ]; do
	sleep 0.05; i=$((i + 1))
done
kill -KILL "-$pid" # the group: hilrun, its workers, their QEMU
wait "$pid" 2>/dev/null || true
done_before=$(finished)
check "killed with cells left ($done_before of 6 finished)" [ "$done_before" -lt 6 ]
rc=0
"$HILRUN" resume --out "$OUT/r5" 2>"$OUT/err5" || rc=$?
cat "$OUT/err5"
check "resumed the whole plan" grep -qE "resuming plan .*: [0-9] of 6 cells left" "$OUT/err5"
check "every cell has a record, none twice" [ "$(keys "$OUT/r5")" = "$ALL_KEYS" ]
check "the cells cut short are recovered, the rest pass" [ -z "$(jq -r 'select(.verdict != "pass" and .verdict != "error:harness-died") | .verdict' "$OUT"/r5/runs/*/run.json)" ]
check "exit 3 if one was cut short, else 0 (got $rc)" [ "$rc" -eq "$(grep -q harness-died "$OUT/err5" && echo 3 || echo 0)" ]
check "the plan is done now" [ "$(jq -s '[.[] | select(.e == "plan-done")] | length' "$OUT/r5/journal.jsonl")" -eq 1 ]

echo "== 6. SIGINT to hilrun alone"
"$HILRUN" --card several-a,several-b,several-c -j2 $C --out "$OUT/r6" 2>"$OUT/err6" &
pid=$!
i=0
while ! grep -q '"stage":"post"' "$OUT/r6/journal.jsonl" 2>/dev/null && [ $i -lt 300 ]; do
	sleep 0.02; i=$((i + 1))
done
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
cat "$OUT/err6"
check "exit 130 (got $rc)" [ "$rc" -eq 130 ]
check "said so" grep -q "interrupted: the running cells are stopping" "$OUT/err6"
check "the interrupted cells are recorded" [ "$(jq -r 'select(.verdict == "error:interrupted") | .card.id' "$OUT"/r6/runs/*/run.json | wc -l)" -ge 1 ]
check "no card started after it" [ -z "$(jq -r 'select(.card.id == "several-c") | .run_id' "$OUT"/r6/runs/*/run.json)" ]
check "the plan is done, interrupted" [ "$(jq -s '[.[] | select(.e == "plan-done" and .interrupted)] | length' "$OUT/r6/journal.jsonl")" -eq 1 ]
# (a bracket expression: the pattern does not match this shell's own argv)
check "no QEMU left" sh -c "! pgrep -f -- '-name hilrun-several-[abc],' >/dev/null"
echo "several: ok"
