#!/bin/sh
# install.sh BUILD_DIR HILRUN: `cmake --install BUILD_DIR --prefix P` into a
# fresh P: every file where the README's "Installing" says, the installed
# hilrun finding its cards and guests under P (not in the source or build
# tree) from any directory, the systemd units naming P's binary, every
# override (--cards/--guests, $HILRUN_CARDS/$HILRUN_GUESTS) still winning,
# and `hilrun --version` saying where each comes from; the build tree's
# hilrun still using the trees. No QEMU is started.
. "$(dirname "$0")/lib.sh"
BUILD=$1 HILRUN=$2
SRC=$(realpath "$(dirname "$0")/../..")
T=$(tmpdir)
trap 'rm -rf "$T"' EXIT
P=$T/prefix

cmake --install "$BUILD" --prefix "$P" >"$T/install.log" || { cat "$T/install.log"; fail "cmake --install"; }
for f in bin/hilrun share/hilrun/cards/std-vga.card share/hilrun/cards/g98.card \
	share/hilrun/guests/bios-post/bios-post.img share/hilrun/guests/uefi-gop/uefi-gop.img \
	share/doc/hilrun/README.md share/doc/hilrun/docs/run-record.md \
	lib/systemd/system/hilrun-serve.service lib/systemd/system/hilrun-resume.service \
	share/man/man1/hilrun.1 share/bash-completion/completions/hilrun; do
	check "installed $f" [ -s "$P/$f" ]
done
check "every card file installed" [ "$(ls "$P/share/hilrun/cards" | wc -l)" -eq "$(ls "$SRC"/cards/*.card | wc -l)" ]
check "the installed hilrun is executable" [ -x "$P/bin/hilrun" ]
if [ -e "$BUILD/guests/linux-drm/vmlinuz" ]; then
	check "linux-drm guest installed" [ -s "$P/share/hilrun/guests/linux-drm/vmlinuz" ] && [ -s "$P/share/hilrun/guests/linux-drm/initrd.img" ]
fi

# The installed hilrun, from a directory outside both trees, with no
# overrides in the environment.
mkdir "$T/elsewhere"
cd "$T/elsewhere"
unset HILRUN_CARDS HILRUN_GUESTS
"$P/bin/hilrun" list >"$T/list" || fail "installed hilrun list"
check "installed hilrun lists the installed cards" grep -q '^std-vga ' "$T/list"
"$P/bin/hilrun" --version >"$T/version" || fail "installed hilrun --version"
cat "$T/version"
check "--version: cards from the prefix" grep -qxF "cards:     $P/share/hilrun/cards (installed)" "$T/version"
check "--version: guests from the prefix" grep -qxF "guests:    $P/share/hilrun/guests (installed)" "$T/version"
check "--version: tesseract's version and library" grep -q '^tesseract: [0-9][^ ]* (libtesseract\.so\.[0-9]*)$' "$T/version"
check "--version: tesseract's data" grep -q '^tessdata:  /.*("eng" model loaded)$' "$T/version"
HILRUN_TESSERACT_LIB=libc.so.6 "$P/bin/hilrun" --version >"$T/version-notess"
check "--version: a tesseract that cannot load" grep -qxF "tesseract: not loadable (libc.so.6)" "$T/version-notess"
check "--version: no data without tesseract" grep -qxF "tessdata:  none (tesseract not loadable)" "$T/version-notess"
TESSDATA_PREFIX=$T/nodata "$P/bin/hilrun" --version >"$T/version-nodata"
check "--version: \$TESSDATA_PREFIX without the model" grep -qxF "tessdata:  no \"eng\" model in $T/nodata" "$T/version-nodata"
"$P/bin/hilrun" help >"$T/help"
check "help names the installed default cards dir" grep -qF "else $P/share/hilrun/cards)" "$T/help"
"$P/bin/hilrun" --card std-vga --dry-run >"$T/dry" || fail "installed dry run"
check "a dry run boots the installed guest" grep -qF "$P/share/hilrun/guests/bios-post/bios-post.img" "$T/dry"
check "no path into the source tree in the dry run" sh -c "! grep -qF '$SRC/' '$T/dry'"
check "the serve unit runs the installed hilrun" grep -qxF "ExecStart=$P/bin/hilrun serve --store /var/lib/hilrun/store --keys /etc/hilrun/keys --listen 127.0.0.1:8080" "$P/lib/systemd/system/hilrun-serve.service"
check "the resume unit runs the installed hilrun" grep -qxF "ExecStart=$P/bin/hilrun resume --out /var/lib/hilrun/results" "$P/lib/systemd/system/hilrun-resume.service"
check "no unit is left with an unreplaced @VAR@" sh -c "! grep -q '@[A-Z_]*@' '$P'/lib/systemd/system/*"
if command -v systemd-analyze >/dev/null; then
	# verify checks ExecStart's binary exists and the unit's syntax.
	for u in "$P"/lib/systemd/system/*.service; do
		systemd-analyze verify "$u" >"$T/verify" 2>&1 || true
		if grep -v -e 'Cannot add dependency job' -e 'Failed to load' -e 'multi-user.target' -e 'network' "$T/verify" | grep -qi -e 'unknown' -e 'invalid' -e 'is not executable' -e 'not absolute'; then
			cat "$T/verify"; fail "systemd-analyze verify $(basename "$u")"
		fi
		echo "ok: systemd-analyze verify $(basename "$u")"
	done
fi

# The installed completion offers the installed cards (the installed
# hilrun's default) when hilrun is that one on PATH.
bash -c '. "$1/share/bash-completion/completions/hilrun"; PATH=$1/bin:$PATH
	COMP_WORDS=(hilrun --card std); COMP_CWORD=2; _hilrun; echo "${COMPREPLY[*]}"' sh "$P" >"$T/comp"
check "installed completion: card ids from the installed cards" grep -qx "std-vga" "$T/comp"

# Every override still wins over the installed defaults.
mkdir -p "$T/cards" "$T/guests"
cp "$SRC/cards/std-vga.card" "$T/cards/"
check "--cards overrides" [ "$("$P/bin/hilrun" list --cards "$T/cards" | sed -n '2,/^$/p' | grep -c .)" -eq 1 ]
check "\$HILRUN_CARDS overrides" [ "$(HILRUN_CARDS=$T/cards "$P/bin/hilrun" list | sed -n '2,/^$/p' | grep -c .)" -eq 1 ]
HILRUN_CARDS=$T/cards HILRUN_GUESTS=$T/guests "$P/bin/hilrun" --version >"$T/version2"
check "--version names \$HILRUN_CARDS" grep -qxF "cards:     $T/cards (\$HILRUN_CARDS)" "$T/version2"
check "--version names \$HILRUN_GUESTS" grep -qxF "guests:    $T/guests (\$HILRUN_GUESTS)" "$T/version2"
"$P/bin/hilrun" --card std-vga --dry-run --guests "$T/guests" >"$T/dry2"
check "--guests overrides" grep -qF "$T/guests/bios-post/bios-post.img" "$T/dry2"

# The installed binary moved with its data still finds it (--prefix need
# not be the configured one: this one was not).
mv "$P" "$T/moved"
check "a moved prefix still finds its cards" grep -qxF "cards:     $T/moved/share/hilrun/cards (installed)" "$("$T/moved/bin/hilrun" --version >"$T/version3"; echo "$T/version3")"
mv "$T/moved" "$P"

# The build tree's hilrun is as it was: the source tree's cards, the build
# tree's guests.
"$HILRUN" help >"$T/help4"
check "build-tree hilrun help: the source tree's cards" grep -qF "else $SRC/cards)" "$T/help4"
"$HILRUN" --version >"$T/version4"
check "build-tree hilrun: the source tree's cards" grep -qxF "cards:     $SRC/cards (build tree)" "$T/version4"
check "build-tree hilrun: the build tree's guests" grep -qxF "guests:    $(realpath "$BUILD")/guests (build tree)" "$T/version4"
echo "ok: install"
