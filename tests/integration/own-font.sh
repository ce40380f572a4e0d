#!/bin/sh
# own-font.sh HILRUN: a card whose VGA BIOS draws text in its own font. A
# VGA BIOS is made here from the installed SeaBIOS one with six glyphs
# redrawn (0 a e S i t: tests/tools/font-variant.py, checksum fixed), and
# std VGA runs its seabios/bios-post cell with it (romfile=) and with the
# stock ROM. With its own font the cell must:
#   - pass, as the stock one does;
#   - take no longer than the stock cell plus 1 s (post and text are left
#     undecided after one look, and calibration decides them);
#   - keep, in post.txt and text.txt, the reading the verdict rests on: the
#     true text, with the first reading kept beside it, marked superseded.
. "$(dirname "$0")/lib.sh"
HILRUN=$(realpath "$1")
SRC=$(realpath "$(dirname "$0")/../..")
OUT=$(tmpdir)
trap 'pkill -f -- "-name hilrun-font-" 2>/dev/null || true; rm -rf "$OUT"' EXIT
STOCK=/usr/share/seabios/vgabios-stdvga.bin
off=$("$HILRUN" decode --json --font "$STOCK" "$SRC/tests/fixtures/frames/seabios-banner-stdvga.png" | jq -r .font | sed 's/.*@//')
python3 "$SRC/tests/tools/font-variant.py" "$STOCK" "$off" "$OUT/own-font.rom"
mkdir -p "$OUT/cards"
card() { # card ID DEVICE
	cat >"$OUT/cards/$1.card" <<EOC
format 1
id        $1
name      std VGA ($1)
kind      emulated
pci-id    1234:1111
device    $2
firmware  seabios
guest     bios-post
variant   default
EOC
}
card font-stock VGA
card font-own "VGA,romfile=$OUT/own-font.rom"
# Each cell twice: the quicker run of each is compared (a loaded machine
# slows single runs by more than the second allowed).
for id in font-stock font-own; do
	for i in 1 2; do
		rc=0
		"$HILRUN" --card $id --cards "$OUT/cards" --out "$OUT/r-$id-$i" --retries 0 || rc=$?
		check "$id run $i exits 0 (got $rc)" [ "$rc" -eq 0 ]
	done
done
quickest() { # quickest ID: the record of the quicker run
	for rec in "$OUT"/r-"$1"-*/runs/*/run.json; do echo "$(jq .duration_ms "$rec") $rec"; done |
		sort -n | head -1 | cut -d' ' -f2
}
stock=$(quickest font-stock)
own=$(quickest font-own)
for rec in "$stock" "$own"; do
	check "$(jq -r .card.id "$rec"): verdict pass" [ "$(jq -r .verdict "$rec")" = pass ]
done
d=$(dirname "$own")
check "calibration saw the six glyphs (30 53 61 65 69 74)" \
	[ "$(jq -r '.stages[2].calibration.differing_codes | join(" ")' "$own")" = "30 53 61 65 69 74" ]
check "post and text were left undecided after one look each" \
	[ "$(jq -r '[.stages[1,2] | "\(.looks) \(.undecided != null)"] | join(",")' "$own")" = "1 true,1 true" ]
check "and decided by the card's own glyphs" [ "$(jq -r '[.stages[1,2].reader] | join(",")' "$own")" = calibration,calibration ]
check "post.txt shows the true banner, as with the stock ROM" \
	[ "$(head -1 "$d/post.txt")" = "$(head -1 "$(dirname "$stock")/post.txt")" ]
check "post.txt starts 'SeaBIOS (version'" grep -q '^SeaBIOS (version' "$d/post.txt"
for line in "hilrun bios-post v1" "Reference guest for VGA passthrough tests" \
	"PCI display 00:02.0 id 1234:1111 class 0300" "Text mode check complete"; do
	check "text.txt shows '$line'" grep -qxF "$line" "$d/text.txt"
done
check "the first readings are kept, marked superseded" \
	[ "$(jq -r '[.stages[1,2].superseded.screen_text] | join(",")' "$own")" = post-superseded.txt,text-superseded.txt ]
check "and differ from the true text" sh -c "! cmp -s '$d/post.txt' '$d/post-superseded.txt'"
check "the record's checksums cover both" sh -c "jq -r '.artifacts[].path' '$own' | grep -qx post-superseded.txt"
t_stock=$(jq .duration_ms "$stock")
t_own=$(jq .duration_ms "$own")
check "the own-font cell takes at most 1 s more than the stock one ($t_own ms against $t_stock ms)" \
	[ "$t_own" -le $((t_stock + 1000)) ]
echo
echo "rom | stage ms (start post text graphics shutdown) | cell ms | post.txt's first line"
for rec in "$stock" "$own"; do
	echo "$(jq -r .card.id "$rec") | $(jq -r '[.stages[].duration_ms] | join(" ")' "$rec") | $(jq .duration_ms "$rec") | $(head -1 "$(dirname "$rec")/post.txt")"
done
echo "first reading (superseded): $(head -1 "$d/post-superseded.txt")"
echo "PASS: own-font"
