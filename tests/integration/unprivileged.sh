#!/bin/sh
# unprivileged.sh HILRUN: a whole cell (std-vga seabios/bios-post) run by an
# ordinary user: as root, the test drops to nobody:nogroup with no
# supplementary groups (setpriv); as anyone else, it already is one.
#   - the cell passes, QEMU in its sandbox
#   - the accelerator and why are recorded: KVM only if this user may open
#     /dev/kvm (the kvm group), else TCG, saying /dev/kvm's answer
#   - nothing hilrun made (run directory, record, journal, locks) is
#     writable by others
. "$(dirname "$0")/lib.sh"
HILRUN=$(realpath "$1")
SRC=$(realpath "$(dirname "$0")/../..")
OUT=$(tmpdir)
trap 'rm -rf "$OUT"' EXIT
RES="$OUT/results"
mkdir -p "$RES"
if [ "$(id -u)" -eq 0 ]; then
	chown nobody:nogroup "$RES"
	chmod 755 "$OUT" # mktemp's 0700 would keep nobody out
	as_user() { setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"; }
	who="nobody (from root, through setpriv, no supplementary groups)"
else
	as_user() { "$@"; }
	who="$(id -un) (uid $(id -u))"
fi
echo "running as $who"
# hilrun, the card files and the guest copied where the user can read them
# (a clone under a private home directory is out of its reach)
INST="$OUT/inst"
mkdir -p "$INST/guests/bios-post"
cp "$HILRUN" "$INST/hilrun"
cp -r "$SRC/cards" "$INST/cards"
cp "$(dirname "$HILRUN")/../guests/bios-post/bios-post.img" "$INST/guests/bios-post/"
chmod -R a+rX "$INST"
lists() { as_user "$INST/hilrun" list --cards "$INST/cards" >/dev/null; }
check "the user can run hilrun and read its data" lists
rc=0
(cd "$RES" && as_user "$INST/hilrun" --card std-vga --firmware seabios --guest bios-post \
	--cards "$INST/cards" --guests "$INST/guests" --out "$RES") \
	2>"$OUT/err" || rc=$?
cat "$OUT/err"
rec=$(ls "$RES"/runs/*/run.json 2>/dev/null || true)
check "a record was written" [ -n "$rec" ]
check "the cell passes as $who (exit $rc)" [ "$rc" -eq 0 ]
check "  verdict pass" [ "$(jq -r .verdict "$rec")" = pass ]
check "QEMU ran in its sandbox" [ "$(jq -r '.sandbox // "none"' "$rec" | cut -d, -f1)" = on ]
accel=$(jq -r .accel "$rec") reason=$(jq -r .accel_reason "$rec")
echo "accelerator: $accel ($reason)"
if as_user sh -c 'exec 3<>/dev/kvm' 2>/dev/null; then
	check "the user may open /dev/kvm: the timed trials chose" sh -c "echo '$reason' | grep -q 'timed trial boots'"
else
	check "the user may not open /dev/kvm: TCG, and why" [ "$accel" = tcg ]
	answer="Permission denied"
	[ -e /dev/kvm ] || answer="No such file or directory" # a host without nested virtualisation
	check "  the reason is /dev/kvm's answer ($answer)" sh -c "echo '$reason' | grep -q '^/dev/kvm: $answer; using TCG'"
fi
check "hilrun's files belong to the user" [ -z "$(find "$RES" ! -user "$(as_user id -u)" ! -path "$RES")" ]
check "nothing hilrun made is writable by others" [ -z "$(find "$RES" -perm -o+w ! -type l)" ]
check "no QEMU left" no_leftover_qemu "$rec"
echo "unprivileged: ok"
