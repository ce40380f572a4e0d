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
# A font that is not the card's: the decoder cannot trust its reading, the
# runner falls back to tesseract and says so, and the verdict still holds.
cp /usr/share/seabios/vgabios-stdvga.bin "$OUT/odd-font.rom"
off=$("$HILRUN" decode --json "$(dirname "$0")/../fixtures/frames/bios-post-stdvga-text.png" | jq -r .font | sed 's/.*@//')
# Blank glyph 'e' (0x65): every 'e' on the screen now best matches 'ë' (0x89),
# four pixels off; that must not be trusted as a reading.
head -c 16 /dev/zero | dd of="$OUT/odd-font.rom" bs=1 seek=$((off + 0x65 * 16)) conv=notrunc 2>/dev/null
rc=0
"$HILRUN" decode --font "$OUT/odd-font.rom" "$(dirname "$0")/../fixtures/frames/bios-post-stdvga-text.png" >/dev/null 2>"$OUT/err" || rc=$?
check "decode with a foreign font exits 1 (low confidence, got $rc)" [ "$rc" -eq 1 ]
check "decode says why" grep -q "low confidence" "$OUT/err"
rc=0
"$HILRUN" --card std-vga --font "$OUT/odd-font.rom" --out "$OUT/font" 2>"$OUT/err" || rc=$?
cat "$OUT/err"
rec=$(ls "$OUT"/font/runs/*/run.json)
check "run with a foreign font exits 0 (got $rc)" [ "$rc" -eq 0 ]
check "the doubtful cells were read one by one by tesseract" [ "$(jq -r '[.stages[2].ocr_cells[].tesseract] | unique | join(",")' "$rec")" = e ]
check "and the patched reading is judged exactly, at its rows" [ "$(jq -r '.stages[2].match_rule' "$rec")" = "exact, at the reported row" ]
check "as many as there are e's on the screen" [ "$(jq -r '.stages[2].ocr_cells | length' "$rec")" -eq "$(jq -r '[.stages[2].lines[].expected] | join("") | [scan("e")] | length' "$rec")" ]
check "calibration found the glyph that differs ('e')" [ "$(jq -r '.stages[2].calibration.differing_codes | join(",")' "$rec")" = 65 ]
check "text re-judged exactly with the card's own glyphs" [ "$(jq -r '.stages[2].reader + " " + .stages[2].calibration.text_rejudged.outcome' "$rec")" = "calibration pass" ]
check "post re-judged too" [ "$(jq -r '.stages[1].reader' "$rec")" = calibration ]

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
check "no QEMU left after the interrupt" no_leftover_qemu "$rec"
echo "PASS: negative"
