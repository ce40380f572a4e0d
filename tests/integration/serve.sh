#!/bin/sh
# serve.sh HILRUN: the results server and the sending, for real: hilrun
# serve on a loopback port with a temporary store and keys file, keys made
# by hilrun key new, the real run directory fixture (and variants of it),
# the real hilrun upload, and curl or python3 for what the client never
# sends. After every rejection the store is byte for byte unchanged.
#   - accepted (201) and stored byte for byte under runs/CONTRIBUTOR/RUN_ID;
#     again: already stored (200); the same run id with other content: 409
#   - a bad signature, an unknown key, a key revoked by an edit and SIGHUP
#     (a keys file that does not parse keeps the old keys), an artifact
#     tampered before and after signing, path traversal, absolute names and
#     links in a hand-made tar, an oversize body (413, not read; chunked:
#     dropped at the cap), a
#     truncated tar, a body cut short, a wrong content type (415), a client
#     that stalls (timed out while others are served), one that trickles
#     (dropped after --upload-time)
#   - the contributor's cap (403), the rate limit (429 with Retry-After),
#     the cap on connections at once, the run page's escaping (as Chromium
#     renders it), GET / (the matrix)
#   - 20 uploads at once: all stored, none torn
#   - SIGTERM mid-upload: that upload is still answered and stored
#   - the server SIGKILLed mid-upload: no partial run; after a restart the
#     tmp leftovers are gone and every accepted run is served
#   - HTTPS in-process with a self-signed certificate (--cacert); a server
#     that redirects (not followed: exit 2)
#   - upload against a port nobody listens on: retried, exit 3; a 4xx is
#     never retried
. "$(dirname "$0")/lib.sh"
HILRUN=$1
OUT=$(tmpdir)
SRV_PID= SRV_LOG=
trap '[ -z "$SRV_PID" ] || kill -9 "$SRV_PID" 2>/dev/null; rm -rf "$OUT"' EXIT
FIXTURE="$(realpath "$(dirname "$0")/../fixtures/runs/std-vga-bios-post")"
ID0=$(jq -r .run_id "$FIXTURE/run.json")
ST="$OUT/store"
KF="$OUT/keys.txt"
set -- $(free_ports 3)
PORT=$1 PORT2=$2 DEAD=$3
URL="http://127.0.0.1:$PORT"

# start_server PORT LOG [OPTIONS...]: hilrun serve, waited for until it listens
# (LOG, its stderr, is emptied first)
start_server() {
	port=$1 log=$2; shift 2
	: >"$log"
	"$HILRUN" serve --store "$ST" --keys "$KF" --listen "127.0.0.1:$port" "$@" 2>>"$log" &
	SRV_PID=$! SRV_LOG=$log
	i=0
	until grep -q "listening on 127.0.0.1:$port" "$log" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "hilrun serve did not listen on $port: $(cat "$log")"
		kill -0 "$SRV_PID" 2>/dev/null || fail "hilrun serve exited: $(cat "$log")"
		sleep 0.1
	done
}
snapshot() { # every path and every file's checksum under the store, but
	# the matrix published from it (republished after accepted uploads)
	(cd "$ST" && find . -path ./matrix.d -prune -o -print | sort &&
	 find . -path ./matrix.d -prune -o -type f -print | sort | xargs -r sha256sum)
}
unchanged_since() { # unchanged_since SNAPSHOT-FILE WHAT
	snapshot >"$OUT/snap.now"
	cmp -s "$1" "$OUT/snap.now" || { diff "$1" "$OUT/snap.now" || true; fail "$2: the store changed"; }
	echo "ok: $2: the store is unchanged"
}
# variant DEST RUN_ID [SERIAL-TEXT] [CARD-NAME]: a copy of the fixture as
# another run (run.json's run_id), its serial.log rewritten (and its
# checksum in run.json with it), its card name changed
variant() {
	rm -rf "$1"
	cp -r "$FIXTURE" "$1"
	python3 - "$1" "$2" "${3:-}" "${4:-}" <<'EOP'
import hashlib, json, sys
d, run_id, serial, card_name = sys.argv[1:5]
rec = json.load(open(d + "/run.json"))
rec["run_id"] = run_id
if serial:
    open(d + "/serial.log", "w").write(serial)
    for a in rec["artifacts"]:
        if a["path"] == "serial.log":
            data = open(d + "/serial.log", "rb").read()
            a["bytes"], a["sha256"] = len(data), hashlib.sha256(data).hexdigest()
if card_name:
    rec["card"]["name"] = card_name
json.dump(rec, open(d + "/run.json", "w"), indent=2)
EOP
}
# up EXPECTED-EXIT PATTERN ARGS...: hilrun upload --server, its exit and output
up() {
	code=$1 pattern=$2; shift 2
	rc=0
	"$HILRUN" upload --server "$URL" "$@" >"$OUT/out" 2>&1 || rc=$?
	if [ "$rc" -ne "$code" ]; then cat "$OUT/out"; fail "upload $* exited $rc, expected $code"; fi
	grep -qF -- "$pattern" "$OUT/out" || { cat "$OUT/out"; fail "upload $*: no '$pattern' in its output"; }
	echo "ok: upload $* -> $code, says '$pattern'"
}
# post FILE [CONTENT-TYPE]: curl's POST; prints the status, the answer in $OUT/answer
post() {
	curl -s -o "$OUT/answer" -w '%{http_code}' -H "Content-Type: ${2:-application/x-tar}" \
		--data-binary "@$1" "$URL/api/v1/runs"
}
expect_post() { # expect_post STATUS CODE FILE [CONTENT-TYPE]
	st=$(post "$3" "${4:-}")
	[ "$st" = "$1" ] || { cat "$OUT/answer"; fail "POST $3: HTTP $st, expected $1"; }
	jq -e --arg c "$2" '[.errors[].code] | index($c)' "$OUT/answer" >/dev/null ||
		{ cat "$OUT/answer"; fail "POST $3: no error $2 in the answer"; }
	echo "ok: POST $(basename "$3") -> $1 with error $2"
}

for who in alice bob mallory; do
	"$HILRUN" key new --id "$who" --dir "$OUT/keys" >/dev/null
done
cat "$OUT/keys/alice.pub" "$OUT/keys/bob.pub" >"$KF"
ALICE="--key $OUT/keys/alice.key"
LOG="$OUT/server.log"
start_server "$PORT" "$LOG" --timeout 2 --upload-time 4 --rate 1000

# accepted, byte for byte; again; other content
up 0 "accepted: $URL/runs/alice/$ID0" $ALICE "$FIXTURE"
STORED="$ST/runs/alice/$ID0"
for f in "$FIXTURE"/*; do
	cmp -s "$f" "$STORED/$(basename "$f")" || fail "stored $(basename "$f") differs from the run's"
done
check "the stored run has the run's files and the signed manifest, nothing else" \
	[ "$(ls "$STORED" | wc -l)" -eq $(($(ls "$FIXTURE" | wc -l) + 2)) ]
check "the tmp directory is empty" [ -z "$(ls -A "$ST/tmp")" ]
snapshot >"$OUT/snap"
up 0 "already stored: $URL/runs/alice/$ID0" $ALICE "$FIXTURE"
unchanged_since "$OUT/snap" "already stored"
variant "$OUT/other" "$ID0" "another serial line"
up 1 "rejected (HTTP 409)" $ALICE "$OUT/other"
grep -q "error run-conflict: run $ID0 of alice is already stored with other content" "$OUT/out" || fail "409 without run-conflict"
check "a rejection is not tried again" sh -c "! grep -q 'again in' '$OUT/out'"
unchanged_since "$OUT/snap" "409"

# the served API and pages
curl -sf "$URL/api/v1/runs?card=std-vga" >"$OUT/list"
check "the list has the run with its card, verdict and host" \
	[ "$(jq -c '.[0] | [.contributor, .run_id, .card, .verdict, .host, .url]' "$OUT/list")" = \
	  "[\"alice\",\"$ID0\",\"std-vga\",\"pass\",\"vm\",\"/runs/alice/$ID0\"]" ]
check "no runs of another card" [ "$(curl -sf "$URL/api/v1/runs?card=g98")" = "[]" ]
curl -sf "$URL/runs/alice/$ID0/serial.log" | cmp -s - "$FIXTURE/serial.log" || fail "GET of a stored file differs"
i=0
until grep -q "matrix 1 published" "$LOG"; do
	i=$((i + 1)); [ $i -lt 300 ] || { cat "$LOG"; fail "no matrix published"; }; sleep 0.1
done
check "GET / is the matrix (serve_matrix.sh checks its provenance)" \
	[ "$(curl -s -o "$OUT/root" -w '%{http_code}' "$URL/")" = 200 ]
grep -q "hilrun compatibility matrix" "$OUT/root" || fail "GET / is not the matrix"
check "a path cannot split a log line" [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/x%0aPOST%20/api/v1/runs%20201%20alice")" = 404 ]
grep -q "^GET /x?POST?/api/v1/runs?201?alice 404 " "$LOG" || { cat "$LOG"; fail "the path was not logged with '?' for its control bytes"; }
check "no such run: 404" [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/runs/alice/nosuch")" = 404 ]
check "a traversal in a GET: 404" \
	[ "$(curl -s -o /dev/null -w '%{http_code}' --path-as-is "$URL/runs/alice/../../keys.txt")" = 404 ]
# Links placed in the store by someone who can write there: one out of it
# (a stored file, and a whole run directory) is never served; one that
# stays inside is.
echo "not the store's" >"$OUT/secret"
ln -s "$OUT/secret" "$STORED/planted.log"
ln -s "$OUT" "$ST/runs/alice/planted-run"
ln -s serial.log "$STORED/inside.log"
check "a stored link out of the store: 404" \
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/runs/alice/$ID0/planted.log")" = 404 ]
check "a run directory linked out of the store: 404" \
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/runs/alice/planted-run/secret")" = 404 ]
curl -sf "$URL/runs/alice/$ID0/inside.log" | cmp -s - "$FIXTURE/serial.log" || fail "a link inside the store was not served"
rm "$STORED/planted.log" "$ST/runs/alice/planted-run" "$STORED/inside.log"
variant "$OUT/xss" "run-xss" "" '<script>alert("x")</script>'
up 0 "accepted:" $ALICE "$OUT/xss"
curl -sf "$URL/runs/alice/run-xss" >"$OUT/page.html"
grep -qF '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;' "$OUT/page.html" || fail "the run page does not escape the card name"
check "the run page has no script element" sh -c "! grep -q '<script' '$OUT/page.html'"
command -v chromium >/dev/null || fail "chromium not installed (ci/setup installs it)"
timeout 120 chromium --headless=new --no-sandbox --disable-gpu --enable-logging=stderr --v=0 \
	--dump-dom "$URL/runs/alice/run-xss" >"$OUT/dom.html" 2>"$OUT/chromium.log" || fail "chromium could not open the run page"
check "Chromium renders the run page: the card name as text, no script, no console error" sh -c \
	"grep -qF '&lt;script&gt;alert(\"x\")&lt;/script&gt;' '$OUT/dom.html' && ! grep -q '<script' '$OUT/dom.html' &&
	 grep -q '<td>pass</td>' '$OUT/dom.html' && ! grep -E 'CONSOLE|Uncaught' '$OUT/chromium.log'"
snapshot >"$OUT/snap"

# hostile uploads by the real client: an unknown key, an artifact tampered before signing
up 1 "rejected (HTTP 401)" --key "$OUT/keys/mallory.key" "$FIXTURE"
grep -q "error contributor-unknown" "$OUT/out" || fail "401 without contributor-unknown"
check "a 401 is not tried again" sh -c "! grep -q 'again in' '$OUT/out'"
check "the server saw one POST from mallory's try" [ "$(grep -c 'POST /api/v1/runs 401' "$LOG")" -eq 1 ]
unchanged_since "$OUT/snap" "unknown key"
variant "$OUT/tampered" "run-tampered"
printf 'x' >>"$OUT/tampered/serial.log"
up 1 "error artifact-size: serial.log" $ALICE "$OUT/tampered"
grep -q "rejected (HTTP 422)" "$OUT/out" || fail "a tampered artifact is not a 422"
unchanged_since "$OUT/snap" "artifact tampered before signing"

# bundles made by hand from a good one (hilrun upload --dry-run --save)
variant "$OUT/good" "run-good"
"$HILRUN" upload --dry-run --save "$OUT/tars" $ALICE "$OUT/good" >/dev/null || fail "upload --dry-run --save"
GOOD="$OUT/tars/run-good.tar"
python3 - "$GOOD" "$OUT" <<'EOP'
import io, sys, tarfile
good, out = sys.argv[1:3]
files = {m.name: tarfile.open(good).extractfile(m).read() for m in tarfile.open(good)}
def write(name, entries):
    with tarfile.open(out + "/" + name, "w", format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            t.addfile(*e)
def reg(name, data):
    i = tarfile.TarInfo(name); i.size = len(data); i.mode = 0o644
    return (i, io.BytesIO(data))
def link(name, target, kind):
    i = tarfile.TarInfo(name); i.type = kind; i.linkname = target
    return (i,)
# the signature of other bytes
sig = bytearray(files["manifest.sig"]); sig[10] = ord("A") if sig[10] != ord("A") else ord("B")
write("badsig.tar", [reg(n, bytes(sig) if n == "manifest.sig" else d) for n, d in files.items()])
# an artifact changed after signing (same size)
ser = bytearray(files["serial.log"]); ser[0] ^= 1
write("after.tar", [reg(n, bytes(ser) if n == "serial.log" else d) for n, d in files.items()])
# path traversal, absolute names, links
write("hostile.tar", [reg(n, d) for n, d in files.items()] + [
    reg("../../evil", b"x"), reg("/tmp/hilrun-evil-abs", b"x"), reg("sub/../../evil2", b"x"),
    link("passwd", "/etc/passwd", tarfile.SYMTYPE), link("hard", "run.json", tarfile.LNKTYPE)])
# a tar cut short
open(out + "/truncated.tar", "wb").write(open(good, "rb").read()[:len(open(good, "rb").read()) // 2])
EOP
expect_post 403 signature-invalid "$OUT/badsig.tar"
unchanged_since "$OUT/snap" "bad signature"
expect_post 422 file-sha256 "$OUT/after.tar"
unchanged_since "$OUT/snap" "artifact tampered after signing"
expect_post 400 name-traversal "$OUT/hostile.tar"
for c in name-absolute entry-link; do
	jq -e --arg c $c '[.errors[].code] | index($c)' "$OUT/answer" >/dev/null || fail "hostile tar: no $c"
done
check "nothing written outside the store" sh -c "[ ! -e '$OUT/evil' ] && [ ! -e /tmp/hilrun-evil-abs ] && [ ! -e '$ST/evil' ]"
unchanged_since "$OUT/snap" "path traversal and links"
expect_post 400 bundle-damaged "$OUT/truncated.tar"
unchanged_since "$OUT/snap" "truncated tar"
expect_post 415 content-type "$GOOD" application/json
unchanged_since "$OUT/snap" "wrong content type"

# raw HTTP: an oversize body is refused before it is read; a body cut short
python3 - "$PORT" "$GOOD" >"$OUT/raw" <<'EOP'
import socket, sys, time
port, good = int(sys.argv[1]), open(sys.argv[2], "rb").read()
def head(n):
    return (f"POST /api/v1/runs HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\n"
            f"Content-Length: {n}\r\n\r\n").encode()
s = socket.create_connection(("127.0.0.1", port))
s.sendall(head(200 * 1024 * 1024) + b"\0" * 65536)
t0 = time.time()
s.settimeout(5)
answer = s.recv(4096).decode(errors="replace")
print("oversize:", answer.split("\r\n")[0], "in %.1f s" % (time.time() - t0))
s.close()
s = socket.create_connection(("127.0.0.1", port))
s.sendall(head(len(good)) + good[: len(good) // 2])
s.close()
print("cut: sent half and closed")
EOP
cat "$OUT/raw"
grep -q "^oversize: HTTP/1.1 413" "$OUT/raw" || fail "an oversize body is not a 413 at once"
# chunked (no Content-Length) past the cap: dropped once it passes it
python3 - "$PORT" >"$OUT/chunked" <<'EOP'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /api/v1/runs HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\n"
          b"Transfer-Encoding: chunked\r\n\r\n")
chunk = b"%x\r\n" % (1 << 20) + b"\0" * (1 << 20) + b"\r\n"
sent = 0
try:
    for _ in range(200):
        s.sendall(chunk)
        sent += 1
    s.settimeout(5)
    got = s.recv(100)
except (ConnectionResetError, BrokenPipeError):
    got = b""
print("chunked: %s after %d MiB" % ("dropped" if not got else got[:12], sent))
EOP
cat "$OUT/chunked"
grep -q "^chunked: dropped after" "$OUT/chunked" || fail "a chunked body over the cap was not dropped"
grep -q "POST /api/v1/runs 413 - [0-9]* [0-9]* ms (body over the cap: dropped)" "$LOG" ||
	fail "the server did not log the dropped chunked body"
sleep 0.5
unchanged_since "$OUT/snap" "oversize and cut-short bodies"

# a client that stalls is timed out (--timeout 2), and others are served meanwhile
python3 - "$PORT" "$GOOD" >"$OUT/stall" <<'EOP' &
import socket, sys, time
port, good = int(sys.argv[1]), open(sys.argv[2], "rb").read()
s = socket.create_connection(("127.0.0.1", port))
s.sendall((f"POST /api/v1/runs HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\n"
           f"Content-Length: {len(good)}\r\n\r\n").encode() + good[: len(good) // 2])
t0 = time.time()
s.settimeout(20)
try:
    got = s.recv(4096)
except ConnectionResetError:
    got = b""
print("closed by the server after %.1f s: %r" % (time.time() - t0, got[:20]))
EOP
STALL=$!
sleep 0.5
variant "$OUT/during" "run-during-stall"
up 0 "accepted:" $ALICE "$OUT/during"
wait $STALL
cat "$OUT/stall"
grep -q "closed by the server after [0-9.]* s: b''" "$OUT/stall" || fail "the stalled client was not dropped"
check "the server logged the time-out" grep -q "POST /api/v1/runs - - [0-9]* [0-9]* ms (timed out)" "$LOG"
# a client that trickles (never idle for --timeout) is dropped after --upload-time 4
python3 - "$PORT" >"$OUT/trickle" <<'EOP'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /api/v1/runs HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\n"
          b"Content-Length: 100000\r\n\r\n")
t0 = time.time()
try:
    while time.time() - t0 < 15:
        s.sendall(b"\0" * 100)
        time.sleep(0.5)
    got = b"still open"
except (ConnectionResetError, BrokenPipeError):
    got = b""
print("trickle: %s after %.0f s" % ("dropped" if not got else got.decode(), time.time() - t0))
EOP
cat "$OUT/trickle"
grep -Eq "^trickle: dropped after [4-9] s" "$OUT/trickle" || fail "a trickling client was not dropped after --upload-time"
grep -q "POST /api/v1/runs - - [0-9]* [0-9]* ms (body too slow: dropped)" "$LOG" || fail "no log of the slow body"
snapshot >"$OUT/snap"

# a key revoked: an edit and SIGHUP; a keys file that does not parse keeps the old keys
variant "$OUT/bob1" "run-bob-1"
up 0 "accepted:" --key "$OUT/keys/bob.key" "$OUT/bob1"
echo "not a key line" >>"$KF"
kill -HUP "$SRV_PID"
sleep 0.5
grep -q "keys not reloaded, the old ones stay: $KF:3: " "$LOG" || { cat "$LOG"; fail "a bad keys file: no file:line in the log"; }
variant "$OUT/bob2" "run-bob-2"
up 0 "accepted:" --key "$OUT/keys/bob.key" "$OUT/bob2"
cat "$OUT/keys/alice.pub" >"$KF"
kill -HUP "$SRV_PID"
sleep 0.5
grep -q "keys reloaded from $KF: 1 key" "$LOG" || fail "no reload logged"
snapshot >"$OUT/snap"
variant "$OUT/bob3" "run-bob-3"
up 1 "rejected (HTTP 401)" --key "$OUT/keys/bob.key" "$OUT/bob3"
unchanged_since "$OUT/snap" "revoked key"
up 0 "already stored:" --key "$OUT/keys/alice.key" "$FIXTURE"

# 20 uploads at once, each its own run
mkdir -p "$OUT/many"
for i in $(seq -w 1 20); do variant "$OUT/many/c$i" "run-many-$i" "serial of run $i"; done
for i in $(seq -w 1 20); do
	"$HILRUN" upload --server "$URL" $ALICE "$OUT/many/c$i" >"$OUT/many/out$i" 2>&1 &
	eval "P$i=\$!"
done
for i in $(seq -w 1 20); do
	eval "wait \$P$i" || { cat "$OUT/many/out$i"; fail "upload $i of 20 failed"; }
done
n=0
for i in $(seq -w 1 20); do
	d="$ST/runs/alice/run-many-$i"
	whole "$d/run.json" || fail "stored run-many-$i is torn"
	diff -r -x manifest.json -x manifest.sig "$OUT/many/c$i" "$d" >/dev/null || fail "stored run-many-$i differs"
	n=$((n + 1))
done
check "20 uploads at once: all 20 stored whole" [ $n -eq 20 ]
check "the tmp directory is empty" [ -z "$(ls -A "$ST/tmp")" ]

# the contributor's cap and rate: a second server at 2 uploads a minute,
# with room for one more run of alice's
stop_server
USED=$(find "$ST/runs/alice" -type f -printf '%s\n' | awk '{ n += $1 } END { print n }')
start_server "$PORT2" "$OUT/server2.log" --rate 2 --max-contributor-bytes $((USED + 50000)) \
	--max-connections 2
for i in 1 2 3; do variant "$OUT/rate$i" "run-rate-$i"; done
URL="http://127.0.0.1:$PORT2"
up 0 "accepted:" $ALICE "$OUT/rate1"
snapshot >"$OUT/snap"
up 1 "rejected (HTTP 403)" $ALICE "$OUT/rate2"
grep -q "error contributor-quota: contributor alice stores" "$OUT/out" || fail "403 without contributor-quota"
unchanged_since "$OUT/snap" "the contributor's cap"
up 3 "server unreachable after 1 attempt: HTTP 429, Retry-After " --attempts 1 $ALICE "$OUT/rate3"
# A token comes back every 30 s (2 a minute): a slow (ASan) run is a second or more into the wait.
grep -qE "HTTP 429, Retry-After ([1-9]|[12][0-9]|30) s" "$OUT/out" ||
	{ cat "$OUT/out"; fail "Retry-After not 1-30 s"; }
"$HILRUN" upload --dry-run --save "$OUT/tars" $ALICE "$OUT/rate3" >/dev/null
curl -s -D "$OUT/headers" -o /dev/null -H 'Content-Type: application/x-tar' \
	--data-binary "@$OUT/tars/run-rate-3.tar" "$URL/api/v1/runs"
grep -qi "^Retry-After: [0-9]" "$OUT/headers" || { cat "$OUT/headers"; fail "a 429 without Retry-After"; }
# --max-connections 2: a third connection is closed at once, and served
# again once one of the two is gone
python3 - "$PORT2" >"$OUT/conns" <<'EOP'
import socket, sys, time
port = int(sys.argv[1])
def get():  # the first bytes of the answer to a GET on a new connection, b"" if dropped
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(5)
    try:
        s.sendall(b"GET /api/v1/runs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return s.recv(100)[:12]
    except (ConnectionResetError, BrokenPipeError):
        return b""
    finally:
        s.close()
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
for s in held:
    s.sendall(b"POST /api/v1/runs HTTP/1.1\r\nHost: x\r\n")
time.sleep(0.3)
print("third while two are held:", get())
held[0].close()
for _ in range(30):  # until the server has seen the close
    time.sleep(0.1)
    got = get()
    if got:
        break
print("after one is gone:", got)
EOP
cat "$OUT/conns"
grep -qx "third while two are held: b''" "$OUT/conns" || fail "a connection over --max-connections was served"
grep -qx "after one is gone: b'HTTP/1.1 200'" "$OUT/conns" || fail "no connection served after one was freed"
stop_server
URL="http://127.0.0.1:$PORT"

# SIGTERM mid-upload: the upload under way is still answered and stored
start_server "$PORT" "$OUT/server-term.log"
variant "$OUT/termed" "run-termed"
"$HILRUN" upload --dry-run --save "$OUT/tars" $ALICE "$OUT/termed" >/dev/null
curl -s -o "$OUT/termed.answer" -w '%{http_code}' --limit-rate 20k -H 'Content-Type: application/x-tar' \
	--data-binary "@$OUT/tars/run-termed.tar" "$URL/api/v1/runs" >"$OUT/termed.status" &
CURL=$!
sleep 0.7
stop_server
wait $CURL || true
check "an upload under way at SIGTERM is answered 201" [ "$(cat "$OUT/termed.status")" = 201 ]
check "and stored" [ -f "$ST/runs/alice/run-termed/run.json" ]

# the server SIGKILLed mid-upload
start_server "$PORT" "$OUT/server-killed.log" --timeout 30
BEFORE=$(curl -sf "$URL/api/v1/runs" | jq length)
variant "$OUT/killed" "run-killed"
"$HILRUN" upload --dry-run --save "$OUT/tars" $ALICE "$OUT/killed" >/dev/null
curl -s -o /dev/null --limit-rate 10k -H 'Content-Type: application/x-tar' \
	--data-binary "@$OUT/tars/run-killed.tar" "$URL/api/v1/runs" &
CURL=$!
sleep 1.5
kill -9 "$SRV_PID"
wait "$SRV_PID" 2>/dev/null || true
SRV_PID=
wait $CURL || true
check "no partial run in the store" [ ! -e "$ST/runs/alice/run-killed" ]
# a run half-written when a server died (what the kill leaves mid-write)
mkdir -p "$ST/tmp/put-half"
head -c 100 "$FIXTURE/run.json" >"$ST/tmp/put-half/run.json"
LOG="$OUT/server-restarted.log"
start_server "$PORT" "$LOG"
check "the leftovers under tmp are removed at start" [ -z "$(ls -A "$ST/tmp")" ]
grep -q "(1 leftover removed from tmp)" "$LOG" || fail "the start does not say it removed the leftover"
check "every run accepted before is listed" [ "$(curl -sf "$URL/api/v1/runs" | jq length)" -eq "$BEFORE" ]
for i in $(seq -w 1 20); do
	curl -sf "$URL/runs/alice/run-many-$i/serial.log" | cmp -s - "$OUT/many/c$i/serial.log" ||
		fail "run-many-$i is not served after the restart"
done
curl -sf "$URL/runs/alice/$ID0/post.png" | cmp -s - "$FIXTURE/post.png" || fail "the first run is not served after the restart"
echo "ok: after the restart every accepted run is served"
up 0 "accepted:" $ALICE "$OUT/killed"

# HTTPS in-process, with a self-signed certificate
stop_server
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$OUT/tls.key" -out "$OUT/tls.crt" 2>/dev/null
start_server "$PORT2" "$OUT/server-tls.log" --tls-cert "$OUT/tls.crt" --tls-key "$OUT/tls.key"
grep -q "listening on 127.0.0.1:$PORT2 (https)" "$OUT/server-tls.log" || fail "not listening on https"
URL="https://127.0.0.1:$PORT2"
up 0 "already stored: $URL/runs/alice/$ID0" --cacert "$OUT/tls.crt" $ALICE "$FIXTURE"
up 2 "certificate" $ALICE "$FIXTURE"
check "the run page over https" sh -c "curl -sf --cacert '$OUT/tls.crt' '$URL/runs/alice/$ID0' | grep -q '<h1>run $ID0</h1>'"
check "no plain http on the https port" sh -c "! curl -sf 'http://127.0.0.1:$PORT2/api/v1/runs' >/dev/null 2>&1"
stop_server

# a server that redirects: not followed, a configuration error (exit 2)
python3 - "$PORT2" <<'EOP' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(301)
        self.send_header("Location", "https://elsewhere.example/api/v1/runs")
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOP
REDIR=$!
URL="http://127.0.0.1:$PORT2"
i=0
until curl -s -o /dev/null "$URL/" || [ $i -ge 50 ]; do i=$((i + 1)); sleep 0.1; done
up 2 "HTTP 301: the server sends uploads to https://elsewhere.example: give that as --server" $ALICE "$FIXTURE"
kill $REDIR
wait $REDIR 2>/dev/null || true

# nobody listening: retried, then exit 3
URL="http://127.0.0.1:$DEAD"
up 3 "server unreachable after 3 attempts" --attempts 3 $ALICE "$FIXTURE"
check "each retry is printed" [ "$(grep -c 'failed (.*): again in' "$OUT/out")" -eq 2 ]
echo "PASS: serve"
