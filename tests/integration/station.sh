#!/bin/sh
# station.sh HILRUN CAPTURE-BOX: hilrun station check on the fixture lab
# (tests/fixtures/stations/lab.stations against tests/fixtures/sysfs etc.,
# its capture endpoints pointed at capture-boxes on loopback: bench-1's
# serves HTTP snapshots, bench-3/4's Tight JPEG VNC, the others' a port
# nothing listens on): the table, the fixes, JSON, the exit code; and hilrun rom dump on fixture
# devices, with the rom attribute played over a FIFO (tests/tools/sysfs-rom.py)
# so the enable, read and disable are the real code's. Never starts QEMU.
. "$(dirname "$0")/lib.sh"
HILRUN=$1 BOX=$2
OUT=$(tmpdir)
boxes=
trap '[ -z "$boxes" ] || kill $boxes 2>/dev/null || true; rm -rf "$OUT"' EXIT
FX="$(cd "$(dirname "$0")/../fixtures" && pwd)"
export HILRUN_SYSFS="$FX/sysfs" HILRUN_PROC="$FX/proc" HILRUN_BOOT="$FX/boot" HILRUN_DEV_VFIO="$FX/dev-vfio"
# no QEMU may run: a QEMU that is not there
export HILRUN_QEMU=/nonexistent/qemu

set -- $(free_ports 3)
http_port=$1 vnc_port=$2 dead_port=$3
"$BOX" --from unix:"$OUT/no-source" --http "$http_port" --auth lab:s3cret --size 1280x720 2>/dev/null &
boxes=$!
"$BOX" --from unix:"$OUT/no-source" --listen "$vnc_port" --tight-only --size 1024x768 2>/dev/null &
boxes="$boxes $!"
sed -e "s|^capture 10.0.0.5:5900|capture http://lab:s3cret@127.0.0.1:$http_port/snapshot|" \
	-e "s|^capture 10.0.0.7:5900|capture 127.0.0.1:$vnc_port|" \
	-e "s|^capture 10.0.0.[0-9]*:5900|capture 127.0.0.1:$dead_port|" \
	"$FX/stations/lab.stations" >"$OUT/lab.stations"
sleep 0.5
rc=0
"$HILRUN" station check --stations "$OUT/lab.stations" >"$OUT/table" 2>"$OUT/err" || rc=$?
cat "$OUT/table" "$OUT/err"
check "station check exits 2: a configuration error (bench-6 names no capture; bench-8's ROM is another card's) is the worst (got $rc)" [ "$rc" -eq 2 ]
# the columns: device iommu group companions x-vga boot-vga vfio-dev memlock endpoint rom capture
check "bench-1 is all ok, a 1280x720 frame grabbed over HTTP" sh -c "grep '^bench-1 ' '$OUT/table' | tr -s ' ' | grep -Eq '^bench-1 g98 0000:01:00.0 ok ok ok none ok ok ok [^ ]+ ok none 1280x720 http$'"
# (the box has no source: a black frame, which Tight sends as a solid fill,
# not as JPEG; capture.sh checks a JPEG one)
check "bench-4: a 1024x768 frame grabbed from the Tight-only VNC box" sh -c "grep '^bench-4 ' '$OUT/table' | tr -s ' ' | grep -q ' 1024x768 vnc$'"
check "bench-2: its capture device unreachable" sh -c "grep '^bench-2 ' '$OUT/table' | tr -s ' ' | grep -q ' unreachable$'"
check "  and said why, with the command that shows it" grep -q "  capture: $OUT/lab.stations:8: no frame from the capture device (vnc 127.0.0.1:$dead_port: connection refused); is it on, and is its address right? (hilrun grab 127.0.0.1:$dead_port shows what it sends)" "$OUT/table"
check "the password is not shown" sh -c "! grep -q s3cret '$OUT/table'"
check "bench-2: bound to nouveau, no /dev/vfio/2" sh -c "grep '^bench-2 ' '$OUT/table' | tr -s ' ' | grep -q '^bench-2 g86 0000:02:00.0 nouveau ok ok none ok ok ENOENT '"
check "bench-3: its audio function bound to snd_hda_intel" sh -c "grep '^bench-3 ' '$OUT/table' | tr -s ' ' | grep -q ' ok ok ok .1 bound ok ok ok '"
check "bench-4: the same, named as a companion" sh -c "grep '^bench-4 ' '$OUT/table' | tr -s ' ' | grep -q ' ok ok ok ok ok ok ok '"
check "bench-5: group not viable" sh -c "grep '^bench-5 ' '$OUT/table' | tr -s ' ' | grep -q ' ok ok not viable none '"
check "bench-6: boot VGA, no endpoint" sh -c "grep '^bench-6 ' '$OUT/table' | tr -s ' ' | grep -q ' boot VGA ok [^ ]* none named none -$'"
check "bench-7: no /dev/vfio/9" sh -c "grep '^bench-7 ' '$OUT/table' | tr -s ' ' | grep -q ' ok ok ENOENT '"
check "bench-8: a ROM for another card" sh -c "grep '^bench-8 ' '$OUT/table' | tr -s ' ' | grep -q ' ok bad unreachable$'"
check "the fixes follow, naming the device and the command" grep -q "  group: preflight: IOMMU group 6 of 0000:06:00.0 is not viable: 0000:07:00.0 (8086:10d3) is bound to e1000e" "$OUT/table"
check "and the ROM's mismatch" grep -q "  rom: /usr/share/seabios/vgabios-stdvga.bin: ROM is for PCI device 1234:1111, the card is 10de:06e4" "$OUT/table"
check "bench-1 has no fix listed" sh -c "! grep -q '^bench-1 (' '$OUT/table'"

rc=0
"$HILRUN" station check --stations "$OUT/lab.stations" --json >"$OUT/json" || rc=$?
check "--json exits the same (got $rc)" [ "$rc" -eq 2 ]
check "--json: 8 stations, overall exit 2" [ "$(jq '.stations | length' "$OUT/json") $(jq .exit "$OUT/json")" = "8 2" ]
check "--json: bench-5's group is a lab error with its message" [ "$(jq -r '.stations[4].checks.group | "\(.status) \(.short)"' "$OUT/json")" = "lab not viable" ]
check "--json: bench-6 exits 2, bench-7 exits 3, bench-4 exits 0" [ "$(jq -r '[.stations[5,6,3].exit] | join(" ")' "$OUT/json")" = "2 3 0" ]
check "--json: bench-1's capture ok, with what came" [ "$(jq -r '.stations[0].checks.capture | "\(.status) \(.message)"' "$OUT/json")" = "ok 1280x720, HTTP snapshot, image/jpeg, 15 KiB" ]
check "--json: bench-2's capture a lab error" [ "$(jq -r '.stations[1].checks.capture | "\(.status) \(.short)"' "$OUT/json")" = "lab unreachable" ]

# the host without an IOMMU: lab errors only (exit 3)
printf 'format 1\nstation bare\ncard g98\nhost 0000:01:00.0\ncapture 10.0.0.5:5900\n' >"$OUT/bare.stations"
rc=0
HILRUN_SYSFS="$FX/sysfs-noiommu" HILRUN_PROC="$FX/proc-noiommu" "$HILRUN" station check --stations "$OUT/bare.stations" >"$OUT/table" || rc=$?
cat "$OUT/table"
check "a host without an IOMMU exits 3 (got $rc)" [ "$rc" -eq 3 ]
check "it says what to add to the kernel command line" grep -q "add intel_iommu=on (Intel) or amd_iommu=on (AMD) to the kernel command line" "$OUT/table"
check "and that the kernel has no CONFIG_VFIO_PCI_VGA" grep -q "is built without CONFIG_VFIO_PCI_VGA ($FX/proc-noiommu/config.gz)" "$OUT/table"
rc=0
"$HILRUN" station check >"$OUT/out" 2>&1 || rc=$?
check "station check without --stations is a usage error (got $rc)" [ "$rc" -eq 2 ] && grep -q "give --stations FILE" "$OUT/out"

# rom dump: a copy of the lab whose device 0000:0c:00.0 has its rom
# attribute played over a FIFO
cp -a "$FX/sysfs" "$OUT/sysfs"
dev="$OUT/sysfs/devices/pci0000:00/0000:00:0c.0/0000:0c:00.0"
rm "$dev/rom" && mkfifo "$dev/rom"
python3 "$(dirname "$0")/../tools/sysfs-rom.py" "$dev/rom" /usr/share/seabios/vgabios-stdvga.bin "$OUT/writes" &
player=$!
rc=0
HILRUN_SYSFS="$OUT/sysfs" "$HILRUN" rom dump 0000:0c:00.0 -o "$OUT/std.rom" >"$OUT/out" 2>&1 || rc=$?
wait $player
cat "$OUT/out"
check "rom dump exits 0 (got $rc)" [ "$rc" -eq 0 ]
check 'it wrote "1\n", then "0\n"' [ "$(cat "$OUT/writes" | tr '\n' ' ')" = '1\n 0\n ' ]
check "the file is the ROM, byte for byte" cmp "$OUT/std.rom" /usr/share/seabios/vgabios-stdvga.bin
check "it names the size, the images and the checksum" grep -qF "$OUT/std.rom: 39936 bytes from 0000:0c:00.0, 1 image (x86), x86 checksum ok" "$OUT/out"
check "its PCIR ids are the device's, and the card file's" grep -qF "PCIR ids 1234:1111 are the device's (card std-vga)" "$OUT/out"
check "no temporary file is left" [ "$(ls "$OUT" | grep -c '^std.rom')" -eq 1 ]

# the fixture's plain files (no FIFO) for the failures that need no player
rc=0
"$HILRUN" rom dump 0000:02:00.0 -o "$OUT/none.rom" >"$OUT/out" 2>&1 || rc=$?
cat "$OUT/out"
check "a device without a rom attribute: exit 3 (got $rc)" [ "$rc" -eq 3 ]
check "saying so, and that nothing was written" grep -qF "0000:02:00.0/rom: No such file or directory: the device has no expansion ROM (no ROM BAR, so no rom attribute); nothing written to $OUT/none.rom" "$OUT/out"
check "and nothing is" [ ! -e "$OUT/none.rom" ]
rc=0
"$HILRUN" rom dump 0000:3f:00.0 -o "$OUT/none.rom" >"$OUT/out" 2>&1 || rc=$?
check "no such device: exit 2 (got $rc)" [ "$rc" -eq 2 ] && grep -q "rom dump: no PCI device 0000:3f:00.0 on this host" "$OUT/out"
rc=0
"$HILRUN" rom dump -o "$OUT/none.rom" >"$OUT/out" 2>&1 || rc=$?
check "no address: exit 2 (got $rc)" [ "$rc" -eq 2 ] && grep -q "expected one PCI address and -o FILE" "$OUT/out"
echo "PASS: station"
