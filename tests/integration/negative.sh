#!/bin/sh
# negative.sh HILRUN: the judge can fail. A card file that claims a PCI id
# the guest will not find (QEMU's std VGA is 1234:1111) must end fail:text
# with exit 1; the same card expecting that failure exits 0. And the TCG path:
# std-vga forced onto TCG passes and records it.
. "$(dirname "$0")/lib.sh"
HILRUN=$1
OUT=$(tmpdir)
trap 'rm -rf "$OUT"' EXIT
mkdir -p "$OUT/cards"
cat >"$OUT/cards/wrong-id.card" <<EOC
format 1
id        wrong-id
name      std VGA under a PCI id it does not have
kind      emulated
pci-id    1234:9999
device    VGA
firmware  seabios
guest     bios-post
variant   default
EOC

rc=0
"$HILRUN" --card wrong-id --cards "$OUT/cards" --out "$OUT/a" 2>"$OUT/err" || rc=$?
cat "$OUT/err"
rec=$(ls "$OUT"/a/runs/*/run.json)
check "unexpected failure exits 1 (got $rc)" [ "$rc" -eq 1 ]
check "verdict fail:text" [ "$(jq -r .verdict "$rec")" = fail:text ]
check "post passed, text failed" [ "$(jq -r '[.stages[] | .outcome] | join(",")' "$rec")" = pass,pass,fail,pass ]
check "furthest stage is post" [ "$(jq -r .furthest_stage "$rec")" = post ]
check "text stage says why" sh -c "jq -r '.stages[2].detail' '$rec' | grep -q 'the guest found no PCI display device 1234:9999'"
check "the frame judged is kept" [ -f "$(dirname "$rec")/text.png" ]

echo "expect    fail:text" >>"$OUT/cards/wrong-id.card"
rc=0
"$HILRUN" --card wrong-id --cards "$OUT/cards" --out "$OUT/b" 2>"$OUT/err" || rc=$?
cat "$OUT/err"
check "a known failure exits 0 (got $rc)" [ "$rc" -eq 0 ]
check "record says as expected" [ "$(jq -r .as_expected "$OUT"/b/runs/*/run.json)" = true ]

rc=0
"$HILRUN" --card std-vga --accel tcg --out "$OUT/tcg" 2>"$OUT/err" || rc=$?
cat "$OUT/err"
rec=$(ls "$OUT"/tcg/runs/*/run.json)
check "std-vga under TCG exits 0 (got $rc)" [ "$rc" -eq 0 ]
check "accel tcg recorded" [ "$(jq -r .accel "$rec")" = tcg ]
check "reason recorded" [ "$(jq -r .accel_reason "$rec")" = "chosen with --accel" ]
check "TCG widens the windows" [ "$(jq -r .timeout_scale "$rec")" = 3 ]
check "verdict pass under TCG" [ "$(jq -r .verdict "$rec")" = pass ]
# SIGINT mid-run: QEMU stopped, the record written, exit 130.
"$HILRUN" --card std-vga --out "$OUT/int" 2>"$OUT/err" &
pid=$!
sleep 1.5
kill -INT $pid
rc=0
wait $pid || rc=$?
cat "$OUT/err"
rec=$(ls "$OUT"/int/runs/*/run.json)
check "interrupted run exits 130 (got $rc)" [ "$rc" -eq 130 ]
check "verdict error:interrupted" [ "$(jq -r .verdict "$rec")" = error:interrupted ]
check "no QEMU left after the interrupt" no_leftover_qemu std-vga
echo "PASS: negative"
