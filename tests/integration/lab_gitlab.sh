#!/bin/sh
# lab_gitlab.sh HILRUN: the example ci/lab/gitlab/.gitlab-ci.yml, checked
# with gitlab-ci-local (npm: ci/setup installs it into .npm-tools/):
#   - it validates against GitLab's schema (--preview, --list): one job per
#     station, each with its host's runner tag and its card's resource_group;
#   - its emulated station's job runs with the shell executor, for real:
#     hilrun on std-vga (seabios/bios-post, TCG), the run uploaded to a
#     real hilrun serve with the host's key, junit.xml kept as the report;
#   - the same job with the capture unreachable: hilrun exits 3, a lab
#     error, which the job allows (a warning, not the card's failure).
. "$(dirname "$0")/lib.sh"
HILRUN=$(realpath "$1")
SRC=$(realpath "$(dirname "$0")/../..")
GCL="$SRC/.npm-tools/node_modules/.bin/gitlab-ci-local"
[ -x "$GCL" ] || fail "no $GCL: ci/setup installs gitlab-ci-local (npm) there"
command -v rsync >/dev/null || fail "rsync not installed (gitlab-ci-local needs it; ci/setup installs it)"
T=$(tmpdir)
SRV_PID= SRV_LOG="$T/server.log"
trap '[ -z "$SRV_PID" ] || kill -9 "$SRV_PID" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT

# The project as GitLab sees it (its CI/CD configuration file set to
# ci/lab/gitlab/.gitlab-ci.yml): a git repository holding the example and
# the script it runs.
P="$T/project"
mkdir -p "$P/ci/lab/gitlab"
cp "$SRC/ci/lab/gitlab/.gitlab-ci.yml" "$P/ci/lab/gitlab/"
cp "$SRC/ci/lab/upload-new-runs" "$P/ci/lab/"
(cd "$P" && git init -q && git add -A && git -c user.name=lab -c user.email=lab@localhost commit -qm example) ||
	fail "git repository for gitlab-ci-local"
cd "$P"
gcl() { "$GCL" --file ci/lab/gitlab/.gitlab-ci.yml --json-schema-validation --ignore-predefined-vars CI_PIPELINE_SOURCE "$@"; }

gcl --preview >"$T/preview.yml" 2>"$T/preview.err" || { cat "$T/preview.err"; fail "gitlab-ci-local --preview"; }
grep -q "json schema validated" "$T/preview.err" || { cat "$T/preview.err"; fail "the file was not validated against GitLab's schema"; }
echo "ok: the example validates against GitLab's schema (gitlab-ci-local --preview --json-schema-validation)"
gcl --list >"$T/list" 2>&1 || { cat "$T/list"; fail "gitlab-ci-local --list"; }
check "one job per station, four" [ "$(grep -c '@' "$T/list")" -eq 4 ]
# every job, expanded: its runner tag and its card's resource group
python3 - "$T/preview.yml" <<'EOP' || fail "a station job lacks its tag or resource_group"
import re, sys
text = open(sys.argv[1]).read()
jobs = re.split(r"^(?=\S+@\S+:$)", text, flags=re.M)[1:]
assert len(jobs) == 4, len(jobs)
for j in jobs:
    name = j.split(":", 1)[0]
    card = name.split("@")[0]
    assert re.search(r"^  tags:\n    - hilrun-lab\d$", j, re.M), name
    assert re.search(rf"^  resource_group: {re.escape(card)}$", j, re.M), name
    assert re.search(r"^      junit: junit.xml$", j, re.M), name
EOP
echo "ok: each job has its host's runner tag, its card's resource_group and the JUnit report"

# --- the emulated station's job, run -------------------------------------
"$HILRUN" key new --id lab2 --dir "$T/keys" >/dev/null
printf 'format 1\nstation emu-1\ncard std-vga\n' >"$T/host.stations"
PORT=$(free_ports 1)
"$HILRUN" serve --store "$T/store" --keys "$T/keys/lab2.pub" --listen "127.0.0.1:$PORT" 2>"$SRV_LOG" &
SRV_PID=$!
# run_job OPTIONS: the job, as a scheduled pipeline on lab2's runner
run_job() {
	gcl --shell-isolation --variable CI_PIPELINE_SOURCE=schedule \
		--variable "HILRUN=$HILRUN" --variable "HILRUN_SERVER=http://127.0.0.1:$PORT" \
		--variable "HILRUN_STATIONS=$T/host.stations" --variable "HILRUN_KEY=$T/keys/lab2.key" \
		--variable "HILRUN_OUT=$T/out" --variable "HILRUN_OPTIONS=$1" 'std-vga@emu-1'
}
run_job "--guest bios-post --firmware seabios --accel tcg" >"$T/job1.log" 2>&1 ||
	{ cat "$T/job1.log"; fail "the std-vga@emu-1 job failed"; }
grep -E "^std-vga@emu-1 (>|finished)|PASS" "$T/job1.log"
check "the job passed" grep -q "PASS  *std-vga@emu-1" "$T/job1.log"
check "hilrun ran the cell: pass" grep -q "std-vga seabios/bios-post default: pass" "$T/job1.log"
curl -sf "http://127.0.0.1:$PORT/api/v1/runs" >"$T/stored.json" || fail "GET /api/v1/runs"
check "the server stored the job's run, sent with lab2's key" \
	[ "$(jq -r '[.[] | "\(.contributor) \(.card) \(.verdict)"] | join(",")' "$T/stored.json")" = "lab2 std-vga pass" ]
J=$(find "$P/.gitlab-ci-local/artifacts" -name junit.xml | head -1)
[ -n "$J" ] || fail "no junit.xml among the job's artifacts ($P/.gitlab-ci-local/artifacts)"
check "the job's JUnit report holds the cell" grep -q '<testcase .*name="std-vga seabios/bios-post default"' "$J"

# --- a lab error: allowed, not the card's failure --------------------------
run_job "--guest bios-post --firmware seabios --accel tcg --capture 127.0.0.1:1" >"$T/job2.log" 2>&1 ||
	{ cat "$T/job2.log"; fail "a lab error (exit 3) failed the pipeline: it should be an allowed failure"; }
check "hilrun said error (the capture unreachable)" grep -q "std-vga seabios/bios-post default: error" "$T/job2.log"
check "gitlab-ci-local shows the job as an allowed failure (warning)" grep -q "WARN  *std-vga@emu-1" "$T/job2.log"

stop_server
