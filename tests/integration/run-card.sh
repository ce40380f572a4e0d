#!/bin/sh
# run-card.sh HILRUN CARD: run every cell of an emulated card for real (QEMU,
# SeaBIOS and OVMF, VNC, tesseract, Debian's kernel): seabios/bios-post,
# ovmf/uefi-gop, and linux-drm under both. Checks the exit code, every
# stage's outcome, the verdict against the card file, the graphics mode and
# pattern code, the driver the OS guest measured, the artifacts and their
# checksums.
. "$(dirname "$0")/lib.sh"
HILRUN=$1 CARD=$2
OUT=$(tmpdir)
trap 'rm -rf "$OUT"' EXIT

rc=0
"$HILRUN" --card "$CARD" --out "$OUT" --json >"$OUT/records.json" 2>"$OUT/stderr.txt" || rc=$?
cat "$OUT/stderr.txt"
check "hilrun --card $CARD exits 0 (got $rc)" [ "$rc" -eq 0 ]
check "--json printed one record per cell" [ "$(jq length "$OUT/records.json")" -ge 1 ]

check "its cells: seabios/bios-post, ovmf/uefi-gop, linux-drm under both" [ "$(jq -r '[.[] | .firmware + "/" + .guest] | sort | join(" ")' "$OUT/records.json")" = "ovmf/linux-drm ovmf/uefi-gop seabios/bios-post seabios/linux-drm" ]

# The driver linux-drm measured binding to each card (Debian 12, kernel 6.1),
# "" where none binds (cards/*.card say why).
driver_of() {
	case $1 in
	std-vga) echo bochs-drm ;; cirrus-vga) echo cirrus ;; ati-vga) echo aty128fb ;;
	qxl-vga) echo qxl ;; virtio-vga) echo virtio_gpu ;; *) echo "" ;;
	esac
}

# The stage outcomes a record must have, in order.
outcomes() { jq -r '[.stages[].outcome] | join(" ")' "$1"; }
stage() { jq -r --arg s "$2" ".stages[] | select(.name==\$s) | $3" "$1"; }

for dir in "$OUT"/runs/*/; do
	rec="$dir/run.json"
	check "record $rec exists" [ -f "$rec" ]
	cell=$(jq -r '.firmware + "/" + .guest' "$rec")
	echo "--- $CARD $cell"
	check "no QEMU left running, sockets removed" no_leftover_qemu "$rec"
	check "schema is hilrun-run/1.2" [ "$(jq -r .schema "$rec")" = hilrun-run/1.2 ]
	check "card is $CARD" [ "$(jq -r .card.id "$rec")" = "$CARD" ]
	check "verdict is the card file's expectation" [ "$(jq -r .as_expected "$rec")" = true ]
	accel=$(jq -r .accel "$rec")
	check "accelerator recorded ($accel: $(jq -r .accel_reason "$rec"))" [ "$accel" = kvm -o "$accel" = tcg ]
	for f in serial.log qemu.log qemu-argv.txt qmp-events.jsonl post.png; do
		check "artifact $f present" [ -f "$dir/$f" ]
	done
	sandbox=on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny
	check "QEMU ran in its seccomp sandbox (record)" [ "$(jq -r .sandbox "$rec")" = "$sandbox" ]
	check "  and its argv says so" grep -qF -- "-sandbox $sandbox " "$dir/qemu-argv.txt"
	check "the guest ended with code 16" grep -q "HILRUN/1 end exit code=16" "$dir/serial.log"
	check "QEMU exit recorded" [ "$(jq -r .qemu.exit "$rec")" = "exited with status 33" ]
	if [ "$(jq -r .verdict "$rec")" = pass ]; then
		check "every stage passed" [ "$(outcomes "$rec")" = "pass pass pass pass pass" ]
		check "furthest stage is shutdown" [ "$(jq -r .furthest_stage "$rec")" = shutdown ]
	fi
	if [ "$(jq -r .verdict "$rec")" = pass ] && [ "$(jq -r .guest "$rec")" != linux-drm ]; then
		mode=$(stage "$rec" graphics .mode)
		check "graphics: the recorded mode ($mode) is the mode the guest set" [ "$mode" = "$(stage "$rec" graphics '.mode_set.width + "x" + .mode_set.height')" ]
		check "graphics: the code on screen is the one the guest reported" [ "$(stage "$rec" graphics .code_on_screen)" = "$(stage "$rec" graphics .code)" ]
		check "graphics: the frame is the mode's size" [ "$(stage "$rec" graphics .frame_size)" = "$mode" ]
		for f in text.png graphics.png; do
			check "$f is a PNG" [ "$(head -c 8 "$dir/$f" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]
		done
	fi
	case $cell in
	seabios/bios-post)
		check "seabios/bios-post passes" [ "$(jq -r .verdict "$rec")" = pass ]
		check "the guest saw the card's PCI id" [ "$(stage "$rec" text .card_seen_by_guest)" = true ]
		check "post and text read exactly by the decoder" [ "$(jq -r '[.stages[1,2].reader] | join(",")' "$rec")" = textmode,textmode ]
		check "calibration learned every glyph, all equal to the ROM font" [ "$(jq -r '.stages[2].calibration.glyphs_differing_from_font' "$rec")" = 0 ]
		check "the calibrated re-read of the text frame agrees" [ "$(jq -r '.stages[2].calibration.text_reread.text | map(select(. != "")) | join("|")' "$rec")" = "$(jq -r '[.stages[2].lines[].expected] | join("|")' "$rec")" ]
		check "artifact calibration.png present" [ -f "$dir/calibration.png" ]
		check "graphics: a VBE mode was set" [ "$(stage "$rec" graphics .mode_set.status)" = 0x004f ] ;;
	ovmf/uefi-gop)
		check "OVMF's post rule: the firmware drew on the screen" [ "$(stage "$rec" post .rule)" = "the firmware drew on the screen" ]
		if [ "$CARD" = ati-vga ]; then
			# OVMF has no driver for it (cards/ati-vga.card says so).
			check "ati-vga under OVMF: no post (QEMU's placeholder)" [ "$(jq -r .verdict "$rec")" = fail:no-post ]
			check "ati-vga under OVMF: stages as it really does" [ "$(outcomes "$rec")" = "pass fail fail fail pass" ]
			check "ati-vga under OVMF: the guest found no GOP" [ "$(stage "$rec" graphics .guest_error)" = reason=no-gop ]
		else
			check "ovmf/uefi-gop passes" [ "$(jq -r .verdict "$rec")" = pass ]
			check "graphics: a GOP mode was set" [ "$(stage "$rec" graphics .mode_set.status)" = 0x0 ]
		fi ;;
	seabios/linux-drm | ovmf/linux-drm)
		check "stages: start post text driver shutdown" [ "$(jq -r '[.stages[].name] | join(" ")' "$rec")" = "start post text driver shutdown" ]
		if [ "$cell" = ovmf/linux-drm ] && [ "$CARD" = ati-vga ]; then
			check "ati-vga under OVMF: no framebuffer for the kernel, no post" [ "$(jq -r .verdict "$rec")" = fail:no-post ]
			check "the guest found no firmware framebuffer" [ "$(stage "$rec" post '.firmware_fb | length')" = 0 ]
			check "yet its driver stage passes: aty128fb bound, pattern and console shown" [ "$(jq -r '.stages[] | select(.name == "driver") | .outcome + " " + .driver' "$rec")" = "pass aty128fb" ]
		elif [ "$CARD" = vmware-svga ]; then
			check "vmware-svga: vmwgfx's probe fails with -38" [ "$(jq -r .verdict "$rec")" = "fail:driver-probe(-38)" ]
			check "the kernel's words are in the record" [ "$(stage "$rec" driver '.probe_errors[0].driver')" = vmwgfx ]
		else
			check "$cell passes" [ "$(jq -r .verdict "$rec")" = pass ]
			check "the guest saw the card's PCI id" [ "$(stage "$rec" text .card_seen_by_guest)" = true ]
			check "driver: $(driver_of "$CARD") is bound to the card" [ "$(stage "$rec" driver .driver)" = "$(driver_of "$CARD")" ]
			check "driver: the pattern's code on screen is the one the guest reported" [ "$(stage "$rec" driver .pattern.code_on_screen)" = "$(stage "$rec" driver .pattern.code)" ]
			check "driver: the console read exactly" [ "$(stage "$rec" driver .console.reader)" = textmode ]
			for f in driver.png console.png console.txt; do
				check "artifact $f present" [ -f "$dir/$f" ]
			done
		fi ;;
	*) fail "unexpected cell $cell" ;;
	esac
	# Every artifact's checksum matches the file.
	jq -r '.artifacts[] | "\(.sha256)  \(.path)"' "$rec" >"$OUT/sums"
	check "artifact checksums match" sh -c "cd '$dir' && sha256sum --quiet -c '$OUT/sums'"
	echo "wall time: $(jq -r .duration_ms "$rec") ms ($CARD $cell $(jq -r .variant "$rec"), $accel)"
done
check "no temporary run directory left" [ -z "$(ls -A "$OUT/runs" | grep '^\.tmp' || true)" ]
echo "PASS: $CARD"
