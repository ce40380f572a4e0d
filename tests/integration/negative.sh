#!/bin/sh
# negative.sh HILRUN: the judge can fail. A card file that claims a PCI id
# the guest will not find (QEMU's std VGA is 1234:1111) must end fail:text
# with exit 1; the same card expecting that failure exits 0. Graphics: an
# adapter with too little video memory for the mode a guest insists on, and
# a guest that draws another run's code, must end fail:graphics. And the TCG
# path: std-vga forced onto TCG passes and records it.
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
"$HILRUN" --card wrong-id --cards "$OUT/cards" --out "$OUT/a" --retries 0 2>"$OUT/err" || rc=$?
cat "$OUT/err"
rec=$(ls "$OUT"/a/runs/*/run.json)
check "unexpected failure exits 1 (got $rc)" [ "$rc" -eq 1 ]
check "verdict fail:text" [ "$(jq -r .verdict "$rec")" = fail:text ]
check "post passed, text failed" [ "$(jq -r '[.stages[] | .outcome] | join(",")' "$rec")" = pass,pass,fail,pass,pass ]
check "furthest stage is post" [ "$(jq -r .furthest_stage "$rec")" = post ]
check "text stage says why" sh -c "jq -r '.stages[2].detail' '$rec' | grep -q 'the guest found no PCI display device 1234:9999'"
check "the frame judged is kept" [ -f "$(dirname "$rec")/text.png" ]
check "the summary names the cell" grep -q "^summary: unexpected: wrong-id seabios/bios-post default (fail:text)" "$OUT/err"

# The automatic retry (--retries, default 1): the failure is run again,
# the retry says which run it retries, and failing again it stays red.
rc=0
"$HILRUN" --card wrong-id --cards "$OUT/cards" --out "$OUT/retry" 2>"$OUT/err" || rc=$?
cat "$OUT/err"
check "a failure that fails again exits 1 (got $rc)" [ "$rc" -eq 1 ]
check "it was run twice" [ "$(ls "$OUT"/retry/runs/*/run.json | wc -l)" -eq 2 ]
first=$(jq -r 'select(.retry_of == null) | .run_id' "$OUT"/retry/runs/*/run.json)
check "the second run is the first one's retry" [ "$(jq -r 'select(.retry_of != null) | .retry_of' "$OUT"/retry/runs/*/run.json)" = "$first" ]
check "the first line said it would retry" grep -q "fail:text (unexpected: retrying)" "$OUT/err"

echo "expect    fail:text" >>"$OUT/cards/wrong-id.card"
rc=0
"$HILRUN" --card wrong-id --cards "$OUT/cards" --out "$OUT/b" 2>"$OUT/err" || rc=$?
cat "$OUT/err"
check "a known failure exits 0 (got $rc)" [ "$rc" -eq 0 ]
check "record says as expected" [ "$(jq -r .as_expected "$OUT"/b/runs/*/run.json)" = true ]

rc=0
"$HILRUN" --card std-vga --accel tcg --out "$OUT/tcg" 2>"$OUT/err" || rc=$?
cat "$OUT/err"
check "std-vga under TCG exits 0 (got $rc)" [ "$rc" -eq 0 ]
check "all four cells ran under TCG" [ "$(ls "$OUT"/tcg/runs/*/run.json | wc -l)" -eq 4 ]
for rec in "$OUT"/tcg/runs/*/run.json; do
	check "accel tcg recorded" [ "$(jq -r .accel "$rec")" = tcg ]
	check "reason recorded" [ "$(jq -r .accel_reason "$rec")" = "chosen with --accel" ]
	check "TCG widens the windows" [ "$(jq -r .timeout_scale "$rec")" = 3 ]
	check "verdict pass under TCG" [ "$(jq -r .verdict "$rec")" = pass ]
done
# A font that is not the card's: the decoder cannot trust its reading; the
# screen is the guest's text in another font, so the stages do not hold the
# guest (undecided after one look), calibration decides them with the
# card's own glyphs, and the verdict still holds. (Doubtful cells read one
# by one by tesseract, where no later screen decides: unit test test_screen.)
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
"$HILRUN" --card std-vga --firmware seabios --guest bios-post --font "$OUT/odd-font.rom" --out "$OUT/font" 2>"$OUT/err" || rc=$?
cat "$OUT/err"
rec=$(ls "$OUT"/font/runs/*/run.json)
check "run with a foreign font exits 0 (got $rc)" [ "$rc" -eq 0 ]
check "text was left undecided after one look, the e's read as another glyph" [ "$(jq -r '"\(.stages[2].looks) \(.stages[2].superseded.other_font.read_as | keys | join(","))"' "$rec")" = "1 e" ]
check "the reading the verdict rests on is judged exactly, at its rows" [ "$(jq -r '.stages[2].match_rule' "$rec")" = "exact, at the reported row" ]
check "the first reading differed in as many cells as there are e's on the screen" [ "$(jq -r '.stages[2].superseded.other_font.differ' "$rec")" -eq "$(jq -r '[.stages[2].lines[].expected] | join("") | [scan("e")] | length' "$rec")" ]
check "text.txt is the reading the verdict rests on" grep -qx "Reference guest for VGA passthrough tests" "$(dirname "$rec")/text.txt"
check "calibration found the glyph that differs ('e')" [ "$(jq -r '.stages[2].calibration.differing_codes | join(",")' "$rec")" = 65 ]
check "text re-judged exactly with the card's own glyphs" [ "$(jq -r '.stages[2].reader + " " + .stages[2].calibration.text_rejudged.outcome' "$rec")" = "calibration pass" ]
check "post re-judged too" [ "$(jq -r '.stages[1].reader' "$rec")" = calibration ]

# A driver that must fail, in the kernel's words: std VGA with 1 MiB of video
# memory, which bochs-drm refuses (-ENOMEM) when the OS guest loads it.
cat >"$OUT/cards/tiny-vram.card" <<EOC
format 1
id        tiny-vram
name      std VGA with 1 MiB of video memory
kind      emulated
pci-id    1234:1111
device    VGA,vgamem_mb=1
firmware  seabios
guest     linux-drm
variant   default
EOC
rc=0
"$HILRUN" --card tiny-vram --cards "$OUT/cards" --out "$OUT/probe" --retries 0 2>"$OUT/err" || rc=$?
cat "$OUT/err"
rec=$(ls "$OUT"/probe/runs/*/run.json)
check "a driver probe that fails exits 1 (got $rc)" [ "$rc" -eq 1 ]
check "verdict fail:driver-probe(-12), the kernel's errno" [ "$(jq -r .verdict "$rec")" = "fail:driver-probe(-12)" ]
check "the driver and its module recorded" [ "$(jq -r '.stages[3] | .probe_errors[0].driver + " " + .modules[0].name' "$rec")" = "bochs-drm bochs" ]

# Graphics that must fail. The guest is assembled here from its source with
# a test knob (see the header of guests/bios-post/bios-post.asm).
# 1. Too little video memory for the mode the guest insists on: std VGA with
#    4 MiB cannot offer 1280x1024 at 32 bpp (5 MiB).
guest_with "$OUT/insist" -DINSIST_WIDTH=1280 -DINSIST_HEIGHT=1024 -DINSIST_BPP=32
cat >"$OUT/cards/small-vram.card" <<EOC
format 1
id        small-vram
name      std VGA with 4 MiB of video memory
kind      emulated
pci-id    1234:1111
device    VGA
firmware  seabios
guest     bios-post
variant   default -global VGA.vgamem_mb=4
EOC
rc=0
"$HILRUN" --card small-vram --cards "$OUT/cards" --guests "$OUT/insist" --out "$OUT/vram" --retries 0 2>"$OUT/err" || rc=$?
cat "$OUT/err"
rec=$(ls "$OUT"/vram/runs/*/run.json)
check "too little video memory exits 1 (got $rc)" [ "$rc" -eq 1 ]
check "verdict fail:graphics" [ "$(jq -r .verdict "$rec")" = fail:graphics ]
check "post and text passed, graphics failed" [ "$(jq -r '[.stages[] | .outcome] | join(",")' "$rec")" = pass,pass,pass,fail,pass ]
check "the guest's reason is recorded" [ "$(jq -r '.stages[3].guest_error' "$rec")" = "reason=no-mode width=1280 height=1024 bpp=32" ]
check "graphics says why" sh -c "jq -r '.stages[3].detail' '$rec' | grep -q 'ended without showing its graphics pattern'"
# The same image where the memory suffices: the insisted mode is set and passes.
rc=0
"$HILRUN" --card std-vga --firmware seabios --guest bios-post --guests "$OUT/insist" --out "$OUT/big" 2>"$OUT/err" || rc=$?
cat "$OUT/err"
rec=$(ls "$OUT"/big/runs/*/run.json)
check "with 16 MiB the insisted mode passes (got $rc)" [ "$rc" -eq 0 ]
check "recorded mode 1280x1024" [ "$(jq -r '.stages[3].mode + " " + .stages[3].frame_size' "$rec")" = "1280x1024 1280x1024" ]
# 2. A frame that is not this run's: the guest draws another code.
guest_with "$OUT/wrong" -DWRONG_CODE
rc=0
"$HILRUN" --card std-vga --firmware seabios --guest bios-post --guests "$OUT/wrong" --out "$OUT/wc" --retries 0 2>"$OUT/err" || rc=$?
cat "$OUT/err"
rec=$(ls "$OUT"/wc/runs/*/run.json)
check "another run's code exits 1 (got $rc)" [ "$rc" -eq 1 ]
check "verdict fail:graphics" [ "$(jq -r .verdict "$rec")" = fail:graphics ]
code=$(jq -r '.stages[3].code' "$rec")
check "the code on screen is the reported one with its high half flipped" [ "$(jq -r '.stages[3].code_on_screen' "$rec")" = "$(printf '%08x' $((0x$code ^ 0xffff0000)))" ]
check "graphics says it is not this run's frame" sh -c "jq -r '.stages[3].detail' '$rec' | grep -q 'not this run.s frame'"
check "32 code blocks differ (16 bits, two rows each)" [ "$(jq -r '.stages[3].bad_blocks' "$rec")" -eq 32 ]
check "the frame and the diff image are kept" [ -f "$(dirname "$rec")/graphics.png" ] && [ -f "$(dirname "$rec")/graphics-diff.png" ]
check "the diff image is listed with its checksum" [ "$(jq -r '[.artifacts[].path] | index("graphics-diff.png") != null' "$rec")" = true ]

# --watchdog: petted about once a second while the run goes on, then the
# magic close ('V') so that a healthy end does not reboot the host. A FIFO
# stands in for /dev/watchdog.
mkfifo "$OUT/watchdog"
cat "$OUT/watchdog" >"$OUT/watchdog.out" &
reader=$!
rc=0
"$HILRUN" --card std-vga --firmware seabios --guest bios-post --out "$OUT/wd" --watchdog "$OUT/watchdog" 2>"$OUT/err" || rc=$?
wait $reader
cat "$OUT/err"
check "a run with --watchdog passes (got $rc)" [ "$rc" -eq 0 ]
pets=$(tr -cd 1 <"$OUT/watchdog.out" | wc -c)
secs=$(jq -r '.duration_ms / 1000 | floor' "$OUT"/wd/runs/*/run.json)
check "the watchdog was petted $pets times in a ${secs}s run (at least one a second)" [ "$pets" -ge "$secs" ]
check "and closed with the magic 'V'" [ "$(tail -c 1 "$OUT/watchdog.out")" = V ]
rc=0
"$HILRUN" --card std-vga --firmware seabios --guest bios-post --out "$OUT/wd" --watchdog "$OUT/no-such-watchdog" 2>"$OUT/err" || rc=$?
check "a watchdog that cannot be opened is a lab error (exit 3, got $rc)" [ "$rc" -eq 3 ]
check "naming the device" grep -q "no-such-watchdog: No such file or directory" "$OUT/err"

# SIGINT mid-run: QEMU stopped, the record written, exit 130. (linux-drm:
# a cell of seconds, even under TCG; interrupted once QEMU has started.)
"$HILRUN" --card std-vga --firmware seabios --guest linux-drm --out "$OUT/int" 2>"$OUT/err" &
pid=$!
i=0
while ! grep -q '"stage":"start"' "$OUT/int/journal.jsonl" 2>/dev/null && [ $i -lt 600 ]; do
	sleep 0.05; i=$((i + 1))
done
kill -INT $pid
rc=0
wait $pid || rc=$?
cat "$OUT/err"
rec=$(ls "$OUT"/int/runs/*/run.json)
check "interrupted run exits 130 (got $rc)" [ "$rc" -eq 130 ]
check "verdict error:interrupted" [ "$(jq -r .verdict "$rec")" = error:interrupted ]
check "no QEMU left after the interrupt" no_leftover_qemu "$rec"
echo "PASS: negative"
