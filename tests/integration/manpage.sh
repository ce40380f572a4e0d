#!/bin/sh
# manpage.sh MANPAGE HILRUN SOURCE_DIR: hilrun(1) (docs/hilrun.1, as built)
# names every option `hilrun help` lists, every long option of every
# subcommand's option table in harness/cli/, every subcommand, every exit
# code and the installed files; and groff reads it without a warning.
. "$(dirname "$0")/lib.sh"
MAN=$1 HILRUN=$2 SRC=$3
T=$(tmpdir)
trap 'rm -rf "$T"' EXIT

# The page's words as a reader sees them: roff's \- is a hyphen, \& nothing.
sed -e 's/\\-/-/g' -e 's/\\&//g' -e 's/\\f[BIRP]//g' "$MAN" >"$T/plain"
has() { grep -qE -- "(^|[^A-Za-z0-9_-])$1([^A-Za-z0-9_-]|\$)" "$T/plain"; }

"$HILRUN" help >"$T/help"
grep -oE -- '(^|[^A-Za-z0-9_-])--?[a-zA-Z][a-zA-Z0-9-]*' "$T/help" | sed -E 's/^[^-]*//' | sort -u >"$T/help-options"
check "hilrun help lists options" [ "$(wc -l <"$T/help-options")" -gt 40 ]
missing=
for o in $(cat "$T/help-options"); do has "$o" || missing="$missing $o"; done
check "every option of hilrun help is in hilrun(1)${missing:+ (missing:$missing)}" [ -z "$missing" ]

grep -ohE '\{ "[a-z][a-z0-9-]*", *(no|required|optional)_argument' "$SRC"/harness/cli/*.c |
	sed -E 's/\{ "([^"]*)".*/--\1/' | sort -u >"$T/src-options"
check "the option tables have options" [ "$(wc -l <"$T/src-options")" -gt 40 ]
missing=
for o in $(cat "$T/src-options"); do has "$o" || missing="$missing $o"; done
check "every long option in harness/cli/ is in hilrun(1)${missing:+ (missing:$missing)}" [ -z "$missing" ]
missing=
for o in $(cat "$T/src-options"); do grep -qF -- "$o" "$T/help" || missing="$missing $o"; done
check "every long option in harness/cli/ is in hilrun help${missing:+ (missing:$missing)}" [ -z "$missing" ]

sed -n '/^} commands\[\] = {/,/^};/p' "$SRC/harness/cli/main.c" | grep -oE '\{ "[a-z]+"' | tr -d '{ "' >"$T/commands"
check "main.c's table has the subcommands" [ "$(wc -l <"$T/commands")" -ge 12 ]
missing=
for c in $(cat "$T/commands") "station check" "rom dump" "key new"; do
	grep -qE "^\.(B|BR|TP) .*$c" "$T/plain" || missing="$missing $c"
done
check "every subcommand has its entry in hilrun(1)${missing:+ (missing:$missing)}" [ -z "$missing" ]

sed -n '/^\.SH EXIT STATUS/,/^\.SH /p' "$T/plain" >"$T/exit"
for code in 0 1 2 3 130; do
	check "exit code $code under EXIT STATUS" grep -qx "\.B $code" "$T/exit"
done
for f in /usr/share/hilrun/cards /usr/share/hilrun/guests /etc/hilrun/stations /etc/hilrun/keys /var/lib/hilrun/ hilrun-serve.service hilrun-resume.service journal.jsonl; do
	check "FILES names $f" grep -qF "$f" "$T/plain"
done
for e in HILRUN_CARDS HILRUN_GUESTS HILRUN_QEMU HILRUN_TESSERACT_LIB HILRUN_CAPTURE_AUTH HILRUN_CAPTURE_CA TESSDATA_PREFIX; do
	check "ENVIRONMENT names $e" grep -qx "\.B $e" "$T/plain"
done

check "no placeholder left (@VAR@)" sh -c "! grep -q '@[A-Z_]*@' '$MAN'"
LC_ALL=C.UTF-8 MANWIDTH=80 groff -man -ww -z "$MAN" 2>"$T/groff" || true
check "groff -ww: no warnings$(head -3 "$T/groff" | tr '\n' ' ')" [ ! -s "$T/groff" ]
LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 "$MAN" >/dev/null 2>"$T/man" || true
check "man --warnings: none$(head -3 "$T/man" | tr '\n' ' ')" [ ! -s "$T/man" ]
echo "ok: manpage"
