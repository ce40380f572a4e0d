#!/bin/sh
# matrix.sh HILRUN SHOTDIR: hilrun --card std-vga and two more cards for
# real, then hilrun matrix; the page is opened in headless Chromium (Debian's
# package): the grid it renders links every measured cell's run, holds every
# reported outcome (the Windows ones under the Windows driver column), shows
# a driver stage's verdict, has no console errors; the run pages open, and a
# screenshot is kept in SHOTDIR.
. "$(dirname "$0")/lib.sh"
HILRUN=$1 SHOTDIR=$2
OUT=$(tmpdir)
trap 'rm -rf "$OUT"' EXIT
command -v chromium >/dev/null || fail "chromium not installed (ci/setup installs it)"

"$HILRUN" --card std-vga --out "$OUT/results" || fail "hilrun --card std-vga failed"
"$HILRUN" --card cirrus-vga --firmware seabios --out "$OUT/results" || fail "cirrus-vga failed"
"$HILRUN" --card vmware-svga --firmware seabios --out "$OUT/results" || fail "vmware-svga failed"

rc=0
"$HILRUN" matrix --results "$OUT/results" --out "$OUT/matrix" --check 2>"$OUT/err" || rc=$?
cat "$OUT/err"
check "matrix --check exits 0 (got $rc)" [ "$rc" -eq 0 ]
for f in matrix.html matrix.md matrix.json junit.xml; do
	check "$f written" [ -s "$OUT/matrix/$f" ]
done
# std-vga's four cells, and seabios/bios-post and seabios/linux-drm of the others
check "8 measured cells" [ "$(jq '.cells | length' "$OUT/matrix/matrix.json")" -eq 8 ]
check "junit: 8 test cases, none failed" grep -q 'tests="8" failures="0"' "$OUT/matrix/junit.xml"
check "reported outcomes apart, marked" [ "$(jq '[.reported[] | select(.kind == "reported")] | length' "$OUT/matrix/matrix.json")" -gt 0 ]

browse() { # browse PAGE: the DOM Chromium renders, its log in $OUT/chromium.log
	timeout 120 chromium --headless=new --no-sandbox --disable-gpu --enable-logging=stderr \
		--v=0 --dump-dom "file://$1" 2>"$OUT/chromium.log"
}
browse "$OUT/matrix/matrix.html" >"$OUT/dom.html" || fail "chromium could not open matrix.html"
runs=$(grep -o 'data-run="[^"]*"' "$OUT/dom.html" | sort -u | wc -l)
check "the rendered grid links each of the 8 cells' runs (got $runs)" [ "$runs" -eq 8 ]
reported=$(jq '.reported | length' "$OUT/matrix/matrix.json")
check "every reported outcome is in the grid, marked ($reported)" [ "$(grep -o 'data-reported="1"' "$OUT/dom.html" | wc -l)" -eq "$reported" ]
check "vmware-svga's driver stage shows its probe error" grep -q 'linux-drm ✗ driver-probe(-38)' "$OUT/dom.html"
check "the 2013 report's Windows outcomes sit in the Windows driver column" sh -c "jq -e '.grid.rows[] | select(.card == \"g98\" and .row == \"reported\") | .cells[\"seabios driver-windows\"] | map(.what) == [\"driver:win7-vga\", \"driver:vendor\"]' '$OUT/matrix/matrix.json'"
check "no console errors" sh -c "! grep -E 'CONSOLE|Uncaught' '$OUT/chromium.log'"
run=$(jq -r '.cells[0].run_id' "$OUT/matrix/matrix.json")
browse "$OUT/matrix/runs/$run.html" >"$OUT/run.html" || fail "chromium could not open the run page"
check "the run page shows its stages, serial log and QEMU argv" sh -c "grep -q '<h2>Stages</h2>' '$OUT/run.html' && grep -q '<h2>Serial log</h2>' '$OUT/run.html' && grep -q 'qemu-system-x86_64' '$OUT/run.html'"
mkdir -p "$SHOTDIR"
timeout 120 chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars \
	--window-size=1900,1700 --screenshot="$SHOTDIR/matrix.png" "file://$OUT/matrix/matrix.html" 2>/dev/null
check "screenshot kept: $SHOTDIR/matrix.png" [ -s "$SHOTDIR/matrix.png" ]
echo "PASS: matrix"
