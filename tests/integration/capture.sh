#!/bin/sh
# capture.sh HILRUN CAPTURE-BOX: whole runs watched through a capture box, as
# a physical card's station watches its card. std-vga runs in real QEMU
# under SeaBIOS (bios-post) and OVMF (uefi-gop); tests/tools/capture-box
# serves its display the way an HDMI capture box does (one output size
# whatever the mode, scaled by non-integer factors, a black border, JPEG)
# and hilrun watches that with --capture. The POST banner, the text lines,
# the calibration screen and the graphics pattern must all be read from the
# scaled frames as from QEMU's own.
. "$(dirname "$0")/lib.sh"
HILRUN=$(realpath "$1") BOX=$(realpath "$2")
OUT=$(tmpdir)
box=
trap '[ -z "$box" ] || kill "$box" 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$OUT"' EXIT
mkdir -p "$OUT/cards"
set -- $(free_ports 2)
port=$1 box_port=$2 # QEMU's VNC, the box's

stage() { jq -r --arg s "$2" ".stages[] | select(.name==\$s) | $3" "$1"; }

watch_through() { # watch_through NAME SIZE BORDER QUALITY [--tight-only]
	name=$1 size=$2 border=$3 quality=$4 mode=${5:-}
	cat >"$OUT/cards/cap-$name.card" <<EOC
format 1
id        cap-$name
name      std VGA seen through a capture box
kind      emulated
pci-id    1234:1111
device    VGA
firmware  seabios ovmf
guest     bios-post
guest     uefi-gop
variant   default -vnc 127.0.0.1:$((port - 5900))
EOC
	"$BOX" --from "127.0.0.1:$port" --listen $box_port --size "$size" --border "$border" \
		--quality "$quality" $mode 2>"$OUT/box-$name.log" &
	box=$!
	sleep 0.3
	echo "--- $size, border $border, JPEG q$quality ${mode:+($mode)}"
	rc=0
	"$HILRUN" --card "cap-$name" --cards "$OUT/cards" --out "$OUT/$name" \
		--capture "127.0.0.1:$box_port" || rc=$?
	kill "$box"; wait "$box" 2>/dev/null || true; box=
	check "hilrun exits 0 (got $rc)" [ "$rc" -eq 0 ]
	check "two cells ran" [ "$(ls "$OUT/$name"/runs/*/run.json | wc -l)" -eq 2 ]
	if [ -n "$mode" ]; then
		# hilrun asks a capture device for Tight JPEG at the top quality
		check "hilrun asked the Tight-only box for Tight with JPEG, level 9" \
			grep -q "asks for Tight with JPEG, quality level 9" "$OUT/box-$name.log"
		check "and the box refused nobody" sh -c "! grep -q refusing '$OUT/box-$name.log'"
	fi
	for rec in "$OUT/$name"/runs/*/run.json; do
		cell=$(jq -r '.firmware + "/" + .guest' "$rec")
		echo "- $cell"
		check "watched through the box" [ "$(stage "$rec" start .capture)" = "127.0.0.1:$box_port" ]
		check "every stage passed" [ "$(jq -r '[.stages[].outcome] | join(" ")' "$rec")" = "pass pass pass pass pass" ]
		for s in post text graphics; do
			check "$s: the frame is the box's $size" [ "$(stage "$rec" $s .frame_size)" = "$size" ]
		done
		mode=$(stage "$rec" graphics .mode)
		check "graphics: the pattern of the mode set ($mode) read from the scaled frame" \
			[ "$mode" = "$(stage "$rec" graphics '.mode_set.width + "x" + .mode_set.height')" ]
		check "graphics: the code on screen is the one the guest reported" \
			[ "$(stage "$rec" graphics .code_on_screen)" = "$(stage "$rec" graphics .code)" ]
		check "text: every line the guest reported found" \
			[ "$(stage "$rec" text '[.lines[] | select(.found)] | length')" = "$(stage "$rec" text '.lines | length')" ]
		case $cell in
		seabios/bios-post)
			check "post and text read exactly by the decoder" [ "$(jq -r '[.stages[1,2].reader] | join(",")' "$rec")" = textmode,textmode ]
			check "post: SeaBIOS's banner at row 0" [ "$(stage "$rec" post '.match.row')" = 0 ]
			check "text: the 4 lines, each at its row, read exactly" \
				[ "$(stage "$rec" text '[.lines[] | select(.found and .screen == .expected)] | length')" = 4 ]
			check "post and text: every cell trusted (no cell left to tesseract)" \
				[ "$(jq '[.stages[1,2].decoder_confidence >= 0.99] | all' "$rec")" = true ]
			check "calibration from the scaled frame: every glyph equal to the ROM font" \
				[ "$(stage "$rec" text .calibration.glyphs_differing_from_font)" = 0 ]
			check "the calibrated re-read of the text frame agrees" \
				[ "$(stage "$rec" text '.calibration.text_reread.text | map(select(. != "")) | join("|")')" = "$(stage "$rec" text '[.lines[].expected] | join("|")')" ] ;;
		ovmf/uefi-gop)
			check "post: the firmware drew on the screen" [ "$(stage "$rec" post .rule)" = "the firmware drew on the screen" ]
			check "text: a graphics console, read by tesseract" [ "$(stage "$rec" text .reader)" = tesseract ] ;;
		*) fail "unexpected cell $cell" ;;
		esac
		echo "wall time: $(jq -r .duration_ms "$rec") ms ($cell, $(jq -r .accel "$rec"))"
	done
}

watch_through hd 1280x720 13x7 80
watch_through fullhd 1920x1080 0x0 70
watch_through tight 1280x720 13x7 80 --tight-only

# The Tight-only box refuses a client that asks for lossless encodings
# (what hilrun asks of QEMU's own display): a second box, watching the
# first as QEMU's display is watched, is turned away.
"$BOX" --from unix:"$OUT/nothing" --listen $box_port --size 640x480 --tight-only 2>"$OUT/tight-only.log" &
box=$!
sleep 0.3
"$BOX" --from "127.0.0.1:$box_port" --listen $port --size 640x480 2>"$OUT/lossless-client.log" &
client=$!
sleep 1.5
kill "$client" "$box"; wait "$client" "$box" 2>/dev/null || true; box=
check "a client asking for ZRLE first is refused, and told why" \
	grep -q "refusing client 127.0.0.1: it does not ask for Tight with JPEG (preferred encoding 16" "$OUT/tight-only.log"
check "the refused client saw its source go" grep -q "source lost" "$OUT/lossless-client.log"
echo "PASS: runs watched through a capture box"
