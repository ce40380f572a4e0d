#!/bin/sh
# deb.sh SOURCE_DIR BUILD_DIR DEBS_DIR: the Debian package, end to end.
#  1. builds hilrun_VERSION_amd64.deb with `dpkg-buildpackage -us -uc -b`
#     from a copy of the source tree (its .debs for the linux-drm guest from
#     DEBS_DIR), into BUILD_DIR/deb/; an existing one there is reused if no
#     source file is newer (or give one: HILRUN_DEB=FILE);
#  2. lintian: no errors;
#  3. apt-get install ./hilrun_....deb (its dependencies from the archive);
#  4. from PATH, in a directory outside the source tree: hilrun list,
#     hilrun --version (the installed data), bash completion, and a whole
#     hilrun --card std-vga (its four cells, exit 0, records in ./results);
#  5. apt-get purge: every file the package held is gone, /usr/share/hilrun
#     and /etc/hilrun too; the results are left.
# Needs root (apt-get); exits 77 (skipped) otherwise. Refuses to run if
# hilrun is installed already (it would be removed).
. "$(dirname "$0")/lib.sh"
SRC=$(realpath "$1") BUILD=$(realpath "$2") DEBS=$3
[ "$(id -u)" -eq 0 ] || { echo "skipped: apt-get needs root"; exit 77; }
command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null ||
	{ echo "skipped: no dpkg-buildpackage/debhelper (apt-get install dpkg-dev debhelper)"; exit 77; }
if dpkg-query -W -f '${Status}' hilrun 2>/dev/null | grep -q ' installed$'; then
	fail "the package hilrun is installed already: remove it first (this test installs and removes it)"
fi
T=$(tmpdir)
trap 'rm -rf "$T"' EXIT
start=$(date +%s)

# 1. the package
version=$(sed -n '1s/^hilrun (\([^)]*\)).*/\1/p' "$SRC/debian/changelog")
deb=${HILRUN_DEB:-$BUILD/deb/hilrun_${version}_amd64.deb}
if [ -n "${HILRUN_DEB-}" ]; then
	echo "using $deb"
elif [ -f "$deb" ] && [ -z "$(find "$SRC" \( -path "$SRC/build*" -o -path "$SRC/.git" -o -path "$SRC/.debs" \
		-o -path "$SRC/.npm-tools" -o -path "$SRC/results" \) -prune -o -type f -newer "$deb" -print | head -1)" ]; then
	echo "reusing $deb (no source file is newer)"
else
	mkdir -p "$T/pkg/src" "$BUILD/deb"
	tar -C "$SRC" --exclude='./build*' --exclude=./.git --exclude=./.debs --exclude=./.npm-tools \
		--exclude=./results -cf - . | tar -C "$T/pkg/src" -xf -
	echo "building $deb (dpkg-buildpackage -us -uc -b)"
	if ! (cd "$T/pkg/src" && HIL_DEBS_DIR=$DEBS DEB_BUILD_OPTIONS=parallel=1 \
			dpkg-buildpackage -us -uc -b) >"$T/pkg/build.log" 2>&1; then
		tail -40 "$T/pkg/build.log"; fail "dpkg-buildpackage"
	fi
	cp "$T/pkg/hilrun_${version}_amd64.deb" "$deb"
	echo "ok: built in $(($(date +%s) - start)) s"
fi
check "the package is hilrun_${version}_amd64.deb" [ -s "$deb" ]
dpkg-deb -f "$deb" Package Version Architecture Installed-Size Depends
depends=$(dpkg-deb -f "$deb" Depends)
for d in qemu-system-x86 seabios ovmf tesseract-ocr tesseract-ocr-eng libtesseract5 libvncclient1 libsodium23; do
	check "Depends names $d" sh -c "echo '$depends' | tr ',' '\n' | grep -q '^ *$d\\b'"
done

# 2. lintian
if command -v lintian >/dev/null; then
	lintian "$deb" >"$T/lintian" 2>&1 || true
	cat "$T/lintian"
	check "lintian: no errors" sh -c "! grep -q '^E:' '$T/lintian'"
else
	echo "lintian not installed: not run"
fi

# 3. install
dpkg-deb -c "$deb" | awk '{print substr($6, 2)}' | sed 's|/$||; /^$/d' >"$T/files"
apt-get install -y -q -o DPkg::Lock::Timeout=120 "$(realpath "$deb")" >"$T/apt-install" 2>&1 ||
	{ cat "$T/apt-install"; fail "apt-get install $deb"; }
tail -4 "$T/apt-install"
check "dpkg says hilrun is installed" sh -c "dpkg-query -W -f '\${Status}' hilrun | grep -q ' installed$'"

# 4. run it from PATH, outside the source tree
mkdir "$T/work"
cd "$T/work"
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
unset HILRUN_CARDS HILRUN_GUESTS HILRUN_QEMU
check "hilrun on PATH is /usr/bin/hilrun" [ "$(command -v hilrun)" = /usr/bin/hilrun ]
hilrun list >"$T/list" || fail "hilrun list"
check "hilrun list: the cards" grep -q '^std-vga ' "$T/list"
check "hilrun list: the guests" grep -q '^linux-drm ' "$T/list"
hilrun --version | tee "$T/version"
check "--version: the installed cards" grep -qxF "cards:     /usr/share/hilrun/cards (installed)" "$T/version"
check "--version: the installed guests" grep -qxF "guests:    /usr/share/hilrun/guests (installed)" "$T/version"
check "man hilrun finds the page" sh -c "man -w hilrun | grep -q '^/usr/share/man/man1/hilrun.1.gz$'"
check "bash completion from the installed file" sh -c "bash -c '. /usr/share/bash-completion/completions/hilrun; COMP_WORDS=(hilrun --card std); COMP_CWORD=2; _hilrun; echo \"\${COMPREPLY[*]}\"' | grep -qx std-vga"
rc=0
hilrun --card std-vga >"$T/run.out" 2>&1 || rc=$?
cat "$T/run.out"
check "hilrun --card std-vga exits 0 (got $rc)" [ "$rc" -eq 0 ]
check "four cells recorded in ./results" [ "$(ls "$T"/work/results/runs/*/run.json | wc -l)" -eq 4 ]
for rec in "$T"/work/results/runs/*/run.json; do
	check "$(jq -r '.firmware + "/" + .guest + ": " + .verdict' "$rec"), whole" whole "$rec"
	check "its guest came from /usr/share/hilrun/guests" grep -qF /usr/share/hilrun/guests/ "$(dirname "$rec")/qemu-argv.txt"
done

# 5. remove it: nothing left but the results
apt-get purge -y -q -o DPkg::Lock::Timeout=120 hilrun >"$T/apt-purge" 2>&1 || { cat "$T/apt-purge"; fail "apt-get purge hilrun"; }
grep -v "Reading database" "$T/apt-purge" | tail -3
check "dpkg no longer knows hilrun" sh -c "! dpkg-query -W -f '\${Status}' hilrun 2>/dev/null | grep -q 'installed\|config-files'"
left=
while read -r f; do
	[ -e "$f" ] || [ -L "$f" ] || continue
	[ -d "$f" ] && [ ! -L "$f" ] && dpkg -S "$f" >/dev/null 2>&1 && continue # another package's directory
	left="$left $f"
done <"$T/files"
check "every file of the package is gone${left:+ (left:$left)}" [ -z "$left" ]
for d in /usr/share/hilrun /usr/share/doc/hilrun /etc/hilrun /var/lib/hilrun; do
	check "$d is gone" [ ! -e "$d" ]
done
check "hilrun is no longer on PATH" sh -c "! command -v hilrun"
check "the results are left" [ "$(ls "$T"/work/results/runs/*/run.json | wc -l)" -eq 4 ]
echo "ok: deb ($(($(date +%s) - start)) s)"
