#!/bin/bash
# completion.sh COMPLETION HILRUN SOURCE_DIR: the bash completion driven as
# bash drives it (COMP_WORDS, COMP_CWORD, the function, COMPREPLY):
# subcommands, options per subcommand, card ids and variants from the card
# files (--cards, $HILRUN_CARDS, else hilrun's default), guest ids, lists
# after a comma, --opt=VALUE, files; and every long option of harness/cli/
# is offered somewhere.
. "$(dirname "$0")/lib.sh"
COMPLETION=$1 HILRUN=$2 SRC=$3
T=$(tmpdir)
trap 'rm -rf "$T"' EXIT
mkdir "$T/bin"
ln -s "$(realpath "$HILRUN")" "$T/bin/hilrun"
PATH=$T/bin:$PATH
unset HILRUN_CARDS
. "$COMPLETION"
check "complete -F _hilrun hilrun is registered" [ "$(complete -p hilrun)" = "complete -F _hilrun hilrun" ]

comp() { # comp WORD...: the sorted COMPREPLY for a line ending in the last WORD
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_hilrun
	printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//'
}
expect() { # expect "WANT" WORD...
	want=$1; shift
	got=$(comp "$@")
	[ "$got" = "$want" ] || fail "completing '$*': got '$got', expected '$want'"
	echo "ok: '$*' -> '$want'"
}

expect "decode grab help key list matrix resume rom run serve station upload version" hilrun ""
expect "station" hilrun st
expect "check" hilrun station ""
expect "dump" hilrun rom ""
expect "new" hilrun key ""
all_cards=$(sed -n 's/^id[[:space:]]*//p' "$SRC"/cards/*.card | sort | tr '\n' ' ' | sed 's/ $//')
check "the source tree has cards" [ -n "$all_cards" ]
expect "$all_cards" hilrun --card ""
expect "cirrus-vga" hilrun --card ci
expect "std-vga,cirrus-vga" hilrun --card std-vga,ci
expect "$all_cards" hilrun --card = ""
expect "--card --cards" hilrun --car
mkdir "$T/cards"
sed 's/^id .*/id        my-vga/; s/^variant .*/variant   mine/' "$SRC/cards/std-vga.card" >"$T/cards/my.card"
expect "my-vga" hilrun --cards "$T/cards" --card ""
expect "mine" hilrun --cards "$T/cards" --variant ""
HILRUN_CARDS=$T/cards expect "my-vga" hilrun --card ""
export HILRUN_CARDS=$T/cards
expect "my-vga" hilrun --all --card ""
unset HILRUN_CARDS
expect "default kvm-hidden" hilrun --card g98 --variant ""
expect "bios-post linux-drm uefi-gop windows" hilrun --guest ""
expect "bios-post,uefi-gop" hilrun --guest bios-post,u
expect "ovmf" hilrun --firmware o
expect "kvm tcg" hilrun --accel ""
expect "qemu vga" hilrun decode x.png --ninth ""
expect "--tls-cert --tls-key" hilrun serve --tls
expect "--dry-run" hilrun upload --dr
expect "--grab-timeout" hilrun station check --g
expect "--jobs --json" hilrun --card std-vga --j
expect "" hilrun --card std-vga -j ""
mkdir "$T/outdir" && : >"$T/outfile"
expect "$T/outdir" hilrun --out "$T/out"
expect "$T/outdir $T/outfile" hilrun --stations "$T/out"

# Every long option of the option tables is offered by the completion.
missing=
for o in $(grep -ohE '\{ "[a-z][a-z0-9-]*", *(no|required|optional)_argument' "$SRC"/harness/cli/*.c |
	sed -E 's/\{ "([^"]*)".*/--\1/' | sort -u); do
	grep -qE -- "(^|[ \"|])$o([ \"|)]|\$)" "$COMPLETION" || missing="$missing $o"
done
check "every long option is offered${missing:+ (missing:$missing)}" [ -z "$missing" ]
echo "ok: completion"
