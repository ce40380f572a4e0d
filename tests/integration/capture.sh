#!/bin/sh
# capture.sh HILRUN CAPTURE-BOX: whole runs watched through a capture box, as
# a physical card's station watches its card. std-vga runs in real QEMU
# under SeaBIOS (bios-post) and OVMF (uefi-gop); tests/tools/capture-box
# serves its display the way an HDMI capture box does (one output size
# whatever the mode, scaled by non-integer factors, a black border, JPEG)
# and hilrun watches that with --capture. The POST banner, the text lines,
# the calibration screen and the graphics pattern must all be read from the
# scaled frames as from QEMU's own. The box serves as VNC (JPEG-compressed,
# or Tight JPEG only as PiKVM's kvmd-vnc) and as HTTP JPEG snapshots with
# basic authentication (as ustreamer). Then `hilrun grab` on each kind of
# endpoint, and its errors.
. "$(dirname "$0")/lib.sh"
HILRUN=$(realpath "$1") BOX=$(realpath "$2")
OUT=$(tmpdir)
box= qemu=
trap '[ -z "$box" ] || kill "$box" 2>/dev/null || true; [ -z "$qemu" ] || kill "$qemu" 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$OUT"' EXIT
mkdir -p "$OUT/cards"
set -- $(free_ports 2)
port=$1 box_port=$2 # QEMU's VNC, the box's

stage() { jq -r --arg s "$2" ".stages[] | select(.name==\$s) | $3" "$1"; }

watch_through() { # watch_through NAME SIZE BORDER QUALITY [--tight-only|http]
	name=$1 size=$2 border=$3 quality=$4 mode=${5:-}
	serve="--listen $box_port" capture="127.0.0.1:$box_port" shown="127.0.0.1:$box_port"
	if [ "$mode" = http ]; then
		serve="--http $box_port --auth lab:s3cret" mode=
		capture="http://lab:s3cret@127.0.0.1:$box_port/snapshot"
		shown="http://lab@127.0.0.1:$box_port/snapshot"
	fi
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
	"$BOX" --from "127.0.0.1:$port" $serve --size "$size" --border "$border" \
		--quality "$quality" $mode 2>"$OUT/box-$name.log" &
	box=$!
	sleep 0.3
	echo "--- $size, border $border, JPEG q$quality ${mode:+($mode)}"
	rc=0
	"$HILRUN" --card "cap-$name" --cards "$OUT/cards" --out "$OUT/$name" \
		--capture "$capture" || rc=$?
	kill "$box"; wait "$box" 2>/dev/null || true; box=
	check "hilrun exits 0 (got $rc)" [ "$rc" -eq 0 ]
	check "two cells ran" [ "$(ls "$OUT/$name"/runs/*/run.json | wc -l)" -eq 2 ]
	if [ -n "$mode" ]; then
		# hilrun asks a capture device for Tight JPEG at the top quality
		check "hilrun asked the Tight-only box for Tight with JPEG, level 9" \
			grep -q "asks for Tight with JPEG, quality level 9" "$OUT/box-$name.log"
		check "and the box refused nobody" sh -c "! grep -q refusing '$OUT/box-$name.log'"
	fi
	case $capture in http*)
		check "snapshots were fetched" grep -q "http GET /snapshot: 200" "$OUT/box-$name.log"
		check "every one with the credentials (no 401)" sh -c "! grep -q ': 401' '$OUT/box-$name.log'"
		check "the password is in no record, journal or lock" sh -c "! grep -rq s3cret '$OUT/$name'"
		check "the journal keeps the URL without it" grep -qF "\"http://lab@127.0.0.1:$box_port/snapshot\"" "$OUT/$name/journal.jsonl" ;;
	esac
	for rec in "$OUT/$name"/runs/*/run.json; do
		cell=$(jq -r '.firmware + "/" + .guest' "$rec")
		echo "- $cell"
		check "watched through the box" [ "$(stage "$rec" start .capture)" = "$shown" ]
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
watch_through http 1280x720 13x7 80 http

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

# hilrun grab: one whole frame from each kind of endpoint, and what it is.
echo "--- hilrun grab"
grab() { # grab NAME ENDPOINT: JSON into $OUT/grab-NAME.json, the frame into .png
	"$HILRUN" grab "$2" --json -o "$OUT/grab-$1.png" --timeout 10 >"$OUT/grab-$1.json"
}
field() { jq -r "$2" "$OUT/grab-$1.json"; }
qemu-system-x86_64 -display none -vnc unix:"$OUT/qemu-vnc.sock" -S -nodefaults -device VGA \
	-machine pc,accel=tcg &
qemu=$!
"$BOX" --from unix:"$OUT/qemu-vnc.sock" --listen $box_port --http $port --auth lab:s3cret \
	--size 800x600 --quality 80 2>"$OUT/box-grab.log" &
box=$!
sleep 1
check "grab from QEMU's own display" grab qemu unix:"$OUT/qemu-vnc.sock"
check "  says it came lossless" [ "$(field qemu .encoding)" = "VNC, lossless (ZRLE, Tight or Raw)" ]
check "  and the PNG has its size" [ "$(identify -format %wx%h "$OUT/grab-qemu.png")" = "$(field qemu '"\(.width)x\(.height)"')" ]
check "grab from the box's VNC" grab vnc 127.0.0.1:$box_port
check "  says it came as Tight JPEG" [ "$(field vnc .encoding)" = "VNC, Tight JPEG" ]
check "  800x600" [ "$(field vnc '"\(.width)x\(.height)"')" = 800x600 ]
check "grab from the box's snapshots" grab http "http://lab:s3cret@127.0.0.1:$port/snapshot"
check "  says it came as an HTTP JPEG snapshot" sh -c "jq -r .encoding '$OUT/grab-http.json' | grep -q '^HTTP snapshot, image/jpeg, [0-9]* KiB$'"
check "  800x600, the password not shown" [ "$(field http '"\(.width)x\(.height) \(.endpoint)"')" = "800x600 http://lab@127.0.0.1:$port/snapshot" ]
check "  and the PNG is 800x600" [ "$(identify -format %wx%h "$OUT/grab-http.png")" = 800x600 ]
expect_grab() { # expect_grab CODE MESSAGE ENDPOINT
	rc=0
	"$HILRUN" grab "$3" -o "$OUT/bad.png" --timeout 3 >"$OUT/grab.out" 2>"$OUT/grab.err" || rc=$?
	check "grab $3: exit $1 (got $rc)" [ "$rc" -eq "$1" ]
	check "  says '$2'" grep -qF "$2" "$OUT/grab.err"
	check "  leaves no file" [ ! -e "$OUT/bad.png" ]
}
expect_grab 3 "http://lab@127.0.0.1:$port/snapshot refused the credentials (HTTP 401)" \
	"http://lab:wrong@127.0.0.1:$port/snapshot"
check "  and never shows the wrong password either" sh -c "! grep -q wrong '$OUT/grab.err'"
expect_grab 3 "no snapshot there (HTTP 404" "http://lab:s3cret@127.0.0.1:$port/stream"
expect_grab 3 "Couldn't connect to server" "http://127.0.0.1:$(free_ports 1)/snapshot"
kill "$box" "$qemu"; wait "$box" "$qemu" 2>/dev/null || true; box= qemu=

# A web server that serves what a capture device should not: a page, half
# a JPEG, a body that never ends in time.
mkdir -p "$OUT/www"
echo "<html>login</html>" >"$OUT/www/page"
convert -size 320x200 xc:grey "$OUT/www/whole.jpg"
head -c 300 "$OUT/www/whole.jpg" >"$OUT/www/half.jpg"
(cd "$OUT/www" && exec python3 -m http.server --bind 127.0.0.1 "$port" 2>/dev/null) &
box=$!
# Until it listens (a second was not always enough beside an ASan build).
for _ in $(seq 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	sleep 0.1
done
check "grab of a plain JPEG file over HTTP" grab www "http://127.0.0.1:$port/whole.jpg"
check "  320x200" [ "$(field www '"\(.width)x\(.height)"')" = 320x200 ]
expect_grab 3 "http://127.0.0.1:$port/page: not a JPEG or PPM (P6) image (19 bytes starting \"<html>login</htm\")" \
	"http://127.0.0.1:$port/page"
expect_grab 3 "truncated or corrupt JPEG" "http://127.0.0.1:$port/half.jpg"
kill "$box"; wait "$box" 2>/dev/null || true; box=
echo "PASS: runs watched through a capture box"
