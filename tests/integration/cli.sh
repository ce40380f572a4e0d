#!/bin/sh
# cli.sh HILRUN: the command line without a full run: list, usage and
# configuration errors (exit 2, message naming file:line), the physical
# cards' dry-run argv, ROM checks against real ROM files, decode, tesseract
# missing, a lab error (guest image missing) that still writes a whole
# record (exit 3), and sharing results: key new, upload --dry-run (ok,
# rejected, key refused) and upload with neither --server nor --dry-run
# (sending is tested by serve.sh).
. "$(dirname "$0")/lib.sh"
HILRUN=$1
OUT=$(tmpdir)
trap 'rm -rf "$OUT"' EXIT

expect_exit() { # expect_exit CODE PATTERN -- ARGS...
	code=$1 pattern=$2; shift 3
	rc=0
	"$HILRUN" "$@" >"$OUT/out" 2>"$OUT/err" || rc=$?
	if [ "$rc" -ne "$code" ]; then cat "$OUT/out" "$OUT/err"; fail "hilrun $* exited $rc, expected $code"; fi
	if ! grep -qF -- "$pattern" "$OUT/out" "$OUT/err"; then cat "$OUT/out" "$OUT/err"; fail "hilrun $*: no '$pattern' in its output"; fi
	echo "ok: hilrun $* -> $code, says '$pattern'"
}

# list
expect_exit 0 "g98          vfio      10de:06e4  GeForce 8400 GS (G98)" -- list
check "list shows 11 cards" [ "$(sed -n '2,/^$/p' "$OUT/out" | grep -c .)" -eq 11 ]
grep -q "^bios-post" "$OUT/out" || fail "list shows no guest bios-post"

# usage and configuration errors
expect_exit 2 "no card given" -- --out "$OUT"
expect_exit 2 "no card 'nosuch'" -- --card nosuch
expect_exit 2 "unknown command 'frobnicate'" -- frobnicate
expect_exit 2 "card std-vga has no variant 'kvm-hidden'" -- --card std-vga --variant kvm-hidden
expect_exit 2 "card g98 is a physical (vfio) card: give --host BDF" -- --card g98 --dry-run
expect_exit 2 "--accel: expected 'kvm' or 'tcg', got 'hvf'" -- --card std-vga --accel hvf

mkdir -p "$OUT/badcards"
printf 'format 1\nid broken\nname Broken\nkind gpu\n' >"$OUT/badcards/broken.card"
expect_exit 2 "$OUT/badcards/broken.card:4: expected 'vfio' or 'emulated' after 'kind', got 'gpu'" -- list --cards "$OUT/badcards"

# physical cards: the dry run prints the exact argv
expect_exit 0 "-vga none -display none -device vfio-pci,host=0000:01:00.0,x-vga=on" -- --card g98 --host 0000:01:00.0 --dry-run
check "dry run has both g98 variants" [ "$(grep -c '^# g98 seabios/bios-post' "$OUT/out")" -eq 2 ]
grep -q -- "-cpu host,kvm=off,hv-vendor-id=hilrunhilrun" "$OUT/out" || fail "kvm-hidden argv lacks its -cpu"
echo "ok: kvm-hidden variant adds -cpu host,kvm=off,hv-vendor-id=hilrunhilrun"

# ROM checks use real ROM files: stdvga's ROM is not a G98's
expect_exit 2 "ROM is for PCI device 1234:1111, the card is 10de:06e4" -- --card g98 --host 0000:01:00.0 --rom /usr/share/seabios/vgabios-stdvga.bin --dry-run
head -c 3000 /usr/share/seabios/vgabios-stdvga.bin >"$OUT/cut.rom"
expect_exit 2 "$OUT/cut.rom: no PCIR structure where the header points" -- --card g98 --host 0000:01:00.0 --rom "$OUT/cut.rom" --dry-run

# stations file names the card's host
cat >"$OUT/stations" <<EOS
format 1
station bench-2
card g86
host 0000:02:00.0
capture 127.0.0.1:5999
EOS
expect_exit 0 "vfio-pci,host=0000:02:00.0,x-vga=on" -- --card g86 --stations "$OUT/stations" --dry-run
printf 'format 1\nstation x\ncard g86\nhost 1:2\n' >"$OUT/badstations"
expect_exit 2 "$OUT/badstations:4: expected a host PCI address like 0000:01:00.0 after 'host', got '1:2'" -- --card g86 --stations "$OUT/badstations" --dry-run

# the windows guest boots the lab's own image: without one its cells are
# left out (said once), asked for it is a configuration error; named by
# --windows-image or the station, it is booted as its format, snapshot=on
expect_exit 0 "note: 2 windows cells left out: no Windows image is named" -- --card g98 --host 0000:01:00.0 --dry-run
check "no windows cell planned without an image" [ "$(grep -c '^# g98 seabios/windows' "$OUT/out")" -eq 0 ]
expect_exit 2 "guest windows runs a lab's own Windows image, and none is named" -- --card g98 --host 0000:01:00.0 --guest windows --dry-run
expect_exit 2 "Windows image $OUT/nowin.qcow2: No such file or directory" -- --card g98 --host 0000:01:00.0 --windows-image "$OUT/nowin.qcow2" --dry-run
qemu-img create -q -f qcow2 "$OUT/win7.qcow2" 64M
expect_exit 0 "-m 2048" -- --card g98 --host 0000:01:00.0 --guest windows --variant default --windows-image "$OUT/win7.qcow2" --dry-run
grep -qF -- "-drive if=ide,format=qcow2,snapshot=on,file=$OUT/win7.qcow2 -boot order=c,strict=on" "$OUT/out" || fail "windows argv: $(cat "$OUT/out")"
echo "ok: windows cell boots the qcow2 image with snapshot=on"
printf 'windows-image %s\n' "$OUT/win7.qcow2" >>"$OUT/stations"
expect_exit 0 "format=qcow2,snapshot=on,file=$OUT/win7.qcow2" -- --card g86 --stations "$OUT/stations" --guest windows --dry-run

# physical-card preflight, against a fixture sysfs tree (tests/fixtures/sysfs)
FX="$(dirname "$0")/../fixtures"
export HILRUN_SYSFS="$FX/sysfs" HILRUN_PROC="$FX/proc" HILRUN_BOOT="$FX/boot" HILRUN_DEV_VFIO="$FX/dev-vfio"
expect_exit 3 "preflight: no PCI device 0000:1f:00.0 on this host" -- --card g98 --host 0000:1f:00.0 --capture 127.0.0.1:5999 --out "$OUT/pf"
expect_exit 2 "preflight: 0000:01:00.0 is PCI device 10de:06e4, card g86 is 10de:042f (wrong --host or station?)" -- --card g86 --host 0000:01:00.0 --capture 127.0.0.1:5999 --out "$OUT/pf"
expect_exit 3 "preflight: 0000:02:00.0 is bound to nouveau, not vfio-pci" -- --card g86 --host 0000:02:00.0 --capture 127.0.0.1:5999 --out "$OUT/pf"
expect_exit 3 "preflight: 0000:03:00.0 has no IOMMU group" -- --card g72 --host 0000:03:00.0 --capture 127.0.0.1:5999 --out "$OUT/pf"
expect_exit 3 "preflight: 0000:04:00.0 is bound to no driver" -- --card cedar --host 0000:04:00.0 --capture 127.0.0.1:5999 --out "$OUT/pf"
expect_exit 2 "preflight: card g98 needs a capture endpoint" -- --card g98 --host 0000:01:00.0 --out "$OUT/pf"
check "preflight failures start no run" [ ! -d "$OUT/pf/runs" ]
# A ready station (per the fixture) goes on to QEMU, which fails where it
# opens the host device: a lab error with QEMU's words in the record.
expect_exit 3 "error:qemu-start" -- --card g98 --guest bios-post --variant default --host 0000:01:00.0 --capture 127.0.0.1:5999 --out "$OUT/pf"
rec=$(ls "$OUT"/pf/runs/*/run.json)
check "record names the station" [ "$(jq -r .station "$rec")" = one-off ]
# (On a host without /dev/kvm QEMU stops a step earlier, at KVM.)
qemu_reason="no such host device"
[ -e /dev/kvm ] || qemu_reason="Could not access KVM kernel module"
check "start stage is error, QEMU's reason kept ($qemu_reason)" sh -c "jq -r '.stages[0].detail' '$rec' | grep -q '$qemu_reason'"
check "without a ROM, text is read with SeaBIOS's font" sh -c "jq -r .font '$rec' | grep -q '^/usr/share/seabios/vgabios-stdvga.bin@'"
# With the card's own ROM file, its VGA BIOS's font reads the text. A real
# SeaBIOS ROM made to carry the G98's PCI id stands in for the card's dump.
python3 - /usr/share/seabios/vgabios-stdvga.bin "$OUT/g98.rom" <<'EOP'
import sys
rom = bytearray(open(sys.argv[1], "rb").read())
pcir = rom[0x18] | rom[0x19] << 8
rom[pcir + 4:pcir + 8] = bytes([0xde, 0x10, 0xe4, 0x06])
n = rom[2] * 512
rom[n - 1] = (rom[n - 1] - sum(rom[:n])) & 0xff
open(sys.argv[2], "wb").write(rom)
EOP
rm -rf "$OUT/pf"
expect_exit 3 "error:qemu-start" -- --card g98 --guest bios-post --variant default --host 0000:01:00.0 --rom "$OUT/g98.rom" --capture 127.0.0.1:5999 --out "$OUT/pf"
rec=$(ls "$OUT"/pf/runs/*/run.json)
check "with --rom, text is read with the card ROM's font" sh -c "jq -r .font '$rec' | grep -q '^$OUT/g98.rom@'"
unset HILRUN_SYSFS HILRUN_PROC HILRUN_BOOT HILRUN_DEV_VFIO

# decode: exact text of a real frame, errors for what it cannot read
FR="$(dirname "$0")/../fixtures/frames"
"$HILRUN" decode "$FR/bios-post-stdvga-text.png" >"$OUT/decoded" || fail "decode of a real frame failed"
grep -v "^$" "$OUT/decoded" | diff -u "$FR/bios-post-stdvga-text.txt" - || fail "decode differs from the expected text"
echo "ok: decode reads the bios-post frame exactly"
check "decode --json has 80x25 cells" [ "$("$HILRUN" decode --json "$FR/bios-post-stdvga-text.png" | jq '[.cells[] | length] | add')" -eq 2000 ]
expect_exit 2 "unsupported text geometry 4x2 (this decoder reads 720x400 and 640x400)" -- decode "$FR/tiny-rgb16.png"
expect_exit 2 "not a PNG, JPEG or PPM (P6) image" -- decode /etc/hostname
expect_exit 2 "decode: expected one image file" -- decode
expect_exit 1 "low confidence" -- decode "$FR/seabios-banner-stdvga-q80.jpg"
grep -v "^$" "$OUT/out" | diff -u "$FR/seabios-banner-stdvga.txt" - || fail "a 720x400 JPEG is not read as a capture"
echo "ok: a 720x400 JPEG reads right as a capture, and is not trusted"
# a capture of the calibration screen (scaled, JPEG, bordered) as the font
convert "$FR/calibration-stdvga.png" -bordercolor black -border 13x7 -resize 1920x1080! -quality 70 "$OUT/calib.jpg"
"$HILRUN" decode --font "$OUT/calib.jpg" "$FR/bios-post-stdvga-text.png" >"$OUT/decoded" || fail "decode with a captured calibration frame as the font failed"
grep -v "^$" "$OUT/decoded" | diff -u "$FR/bios-post-stdvga-text.txt" - || fail "decode with the font learned from a capture differs"
echo "ok: decode --font CAPTURED-CALIBRATION-FRAME reads the frame exactly"
"$HILRUN" decode --font "$FR/calibration-stdvga.png" "$FR/bios-post-stdvga-text.png" >"$OUT/decoded" || fail "decode with a calibration frame as the font failed"
grep -v "^$" "$OUT/decoded" | diff -u "$FR/bios-post-stdvga-text.txt" - || fail "decode with the learned font differs"
echo "ok: decode --font CALIBRATION-FRAME reads the frame exactly"
check "the record of the font says where it came from" sh -c "'$HILRUN' decode --json --font '$FR/calibration-stdvga.png' '$FR/bios-post-stdvga-text.png' | jq -r .font | grep -q '^calibration frame '"
expect_exit 2 "not a VGA BIOS ROM, and no calibration screen: calibration screen not shown" -- decode --font "$FR/bios-post-stdvga-text.png" "$FR/bios-post-stdvga-text.png"

# tesseract is loaded only when needed: decode reads without it; a run that
# cannot load it is a lab error before any QEMU starts
HILRUN_TESSERACT_LIB=/nonexistent/libtesseract.so.5 "$HILRUN" decode "$FR/bios-post-stdvga-text.png" >"$OUT/decoded" || fail "decode needs tesseract"
grep -v "^$" "$OUT/decoded" | diff -u "$FR/bios-post-stdvga-text.txt" - || fail "decode without tesseract differs"
echo "ok: decode reads the frame exactly with no tesseract to load"
export HILRUN_TESSERACT_LIB=/nonexistent/libtesseract.so.5
expect_exit 3 "cannot load tesseract (/nonexistent/libtesseract.so.5)" -- --card std-vga --out "$OUT/notess"
export HILRUN_TESSERACT_LIB=libc.so.6
expect_exit 3 "libc.so.6 has no TessVersion: not a tesseract 4 or 5 C API" -- --card std-vga --out "$OUT/notess"
expect_exit 0 "(tesseract not loadable)" -- --version
unset HILRUN_TESSERACT_LIB

# a lab error is an error, not a card failure, and the record is still whole
mkdir -p "$OUT/noguests"
expect_exit 3 "error:guest-image-missing" -- --card std-vga --out "$OUT/res" --guests "$OUT/noguests"
check "a record written for each cell's lab error (std-vga's four)" [ "$(ls "$OUT"/res/runs/*/run.json | wc -l)" -eq 4 ]
for rec in "$OUT"/res/runs/*/run.json; do
	check "verdict error:guest-image-missing" [ "$(jq -r .verdict "$rec")" = error:guest-image-missing ]
	check "start stage is error" [ "$(jq -r '.stages[0].outcome' "$rec")" = error ]
	check "later stages skipped" [ "$(jq -r '[.stages[1:][] | .outcome] | unique | join(",")' "$rec")" = skip ]
done
# hilrun matrix: a cell that passed and now fails is a regression: --check
# exits 1 naming it; a record that does not load is skipped with a warning.
mk_run() { # mk_run DIR RUN_ID MINUTE VERDICT
	mkdir -p "$1/runs/$2"
	cat >"$1/runs/$2/run.json" <<EOR
{"schema":"hilrun-run/1","run_id":"$2","card":{"id":"std-vga","name":"QEMU standard VGA","kind":"emulated","pci_id":"1234:1111"},
 "firmware":"seabios","guest":"bios-post","variant":"default","accel":"kvm","verdict":"$4","expected":"pass",
 "started_at":"2026-11-24T00:$3:00.000Z","furthest_stage":"post","stages":[],"artifacts":[]}
EOR
}
mk_run "$OUT/mres" r1 01 pass
mk_run "$OUT/mres" r2 02 fail:text
mkdir -p "$OUT/mres/runs/r3" && printf '{"schema":"hilrun-run/1"' >"$OUT/mres/runs/r3/run.json"
expect_exit 1 "regression         1: std-vga seabios/bios-post default" -- matrix --results "$OUT/mres" --out "$OUT/mout" --check
expect_exit 0 "runs/r3/run.json:1: " -- matrix --results "$OUT/mres" --out "$OUT/mout"
for f in matrix.html matrix.md matrix.json junit.xml; do
	check "matrix wrote $f" [ -s "$OUT/mout/$f" ]
done
check "matrix.json names the regression" [ "$(jq -r '.summary.regression[0]' "$OUT/mout/matrix.json")" = "std-vga seabios/bios-post default" ]
expect_exit 2 "matrix: give --out DIR" -- matrix --results "$OUT/mres"
# sharing results: keys and the upload dry run (docs/upload.md)
FIXTURE_RUN="$(dirname "$0")/../fixtures/runs/std-vga-bios-post"
expect_exit 0 "send the lab this line for its keys file:" -- key new --id alice --dir "$OUT/keys"
check "the secret key is 0600" [ "$(stat -c %a "$OUT/keys/alice.key")" = 600 ]
check "the printed line is the .pub file" grep -qxF "$(cat "$OUT/keys/alice.pub")" "$OUT/out"
expect_exit 2 "never overwritten" -- key new --id alice --dir "$OUT/keys"
expect_exit 2 "contributor id 'Alice'" -- key new --id Alice --dir "$OUT/keys"
expect_exit 0 "ok, " -- upload --dry-run --key "$OUT/keys/alice.key" "$FIXTURE_RUN"
expect_exit 0 '"ok": true' -- upload --dry-run --json --key "$OUT/keys/alice.key" "$FIXTURE_RUN"
cp -r "$FIXTURE_RUN" "$OUT/tampered"
printf 'x' >>"$OUT/tampered/serial.log"
expect_exit 1 "error artifact-size: serial.log: " -- upload --dry-run --key "$OUT/keys/alice.key" "$FIXTURE_RUN" "$OUT/tampered"
grep -q "std-vga-bios-post: ok, " "$OUT/out" || fail "the good run is not ok beside the rejected one"
export XDG_CONFIG_HOME="$OUT/xdg" # the default key directory: $XDG_CONFIG_HOME/hilrun
expect_exit 2 "no key in $OUT/xdg/hilrun: make one with 'hilrun key new --id NAME'" -- upload --dry-run "$FIXTURE_RUN"
expect_exit 0 "$OUT/xdg/hilrun/bob.key" -- key new --id bob
expect_exit 0 "contributor bob)" -- upload --dry-run "$FIXTURE_RUN"
unset XDG_CONFIG_HOME
chmod 644 "$OUT/keys/alice.key"
expect_exit 2 "mode 0644 lets its group and others read the secret key: run chmod 600" -- upload --dry-run --key "$OUT/keys/alice.key" "$FIXTURE_RUN"
expect_exit 2 "expected --server URL (send) or --dry-run (check here)" -- upload "$FIXTURE_RUN"
echo "PASS: cli"
