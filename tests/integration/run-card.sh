#!/bin/sh
# run-card.sh HILRUN CARD: run every cell of an emulated card for real (QEMU,
# SeaBIOS, VNC, tesseract) and check the exit code, every stage's outcome, the
# verdict, the artifacts and their checksums.
. "$(dirname "$0")/lib.sh"
HILRUN=$1 CARD=$2
OUT=$(tmpdir)
trap 'rm -rf "$OUT"' EXIT

rc=0
"$HILRUN" --card "$CARD" --out "$OUT" --json >"$OUT/records.json" 2>"$OUT/stderr.txt" || rc=$?
cat "$OUT/stderr.txt"
check "hilrun --card $CARD exits 0 (got $rc)" [ "$rc" -eq 0 ]
check "--json printed one record per cell" [ "$(jq length "$OUT/records.json")" -ge 1 ]

for dir in "$OUT"/runs/*/; do
	rec="$dir/run.json"
	check "record $rec exists" [ -f "$rec" ]
	check "no QEMU left running, sockets removed" no_leftover_qemu "$rec"
	check "schema is hilrun-run/1" [ "$(jq -r .schema "$rec")" = hilrun-run/1 ]
	check "card is $CARD" [ "$(jq -r .card.id "$rec")" = "$CARD" ]
	check "verdict is pass" [ "$(jq -r .verdict "$rec")" = pass ]
	check "furthest stage is shutdown" [ "$(jq -r .furthest_stage "$rec")" = shutdown ]
	for st in start post text shutdown; do
		check "stage $st passed" [ "$(jq -r --arg s "$st" '.stages[] | select(.name==$s) | .outcome' "$rec")" = pass ]
	done
	accel=$(jq -r .accel "$rec")
	check "accelerator recorded ($accel)" [ "$accel" = kvm -o "$accel" = tcg ]
	check "the guest saw the card's PCI id" [ "$(jq -r '.stages[] | select(.name=="text") | .card_seen_by_guest' "$rec")" = true ]
	check "post and text read exactly by the decoder" [ "$(jq -r '[.stages[1,2].reader] | join(",")' "$rec")" = textmode,textmode ]
	check "calibration learned every glyph, all equal to the ROM font" [ "$(jq -r '.stages[2].calibration.glyphs_differing_from_font' "$rec")" = 0 ]
	check "the calibrated re-read of the text frame agrees" [ "$(jq -r '.stages[2].calibration.text_reread.text | map(select(. != "")) | join("|")' "$rec")" = "$(jq -r '[.stages[2].lines[].expected] | join("|")' "$rec")" ]
	for f in post.png text.png calibration.png serial.log qemu.log qemu-argv.txt qmp-events.jsonl; do
		check "artifact $f present" [ -f "$dir/$f" ]
	done
	for f in post.png text.png; do
		check "$f is a PNG" [ "$(head -c 8 "$dir/$f" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]
	done
	check "the guest ended with code 16" grep -q "HILRUN/1 end exit code=16" "$dir/serial.log"
	check "QEMU exit recorded" [ "$(jq -r .qemu.exit "$rec")" = "exited with status 33" ]
	# Every artifact's checksum matches the file.
	jq -r '.artifacts[] | "\(.sha256)  \(.path)"' "$rec" >"$OUT/sums"
	check "artifact checksums match" sh -c "cd '$dir' && sha256sum --quiet -c '$OUT/sums'"
	echo "wall time: $(jq -r .duration_ms "$rec") ms ($CARD $(jq -r '.firmware + "/" + .guest + " " + .variant' "$rec"))"
done
check "no temporary run directory left" [ -z "$(ls -A "$OUT/runs" | grep '^\.tmp' || true)" ]
echo "PASS: $CARD"
