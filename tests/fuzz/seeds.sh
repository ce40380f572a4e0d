#!/bin/sh
# seeds.sh HILRUN OUT: the seeds the fuzz corpora were grown from, made
# from the fixture run (tests/fixtures/runs/std-vga-bios-post) with the
# real hilrun key new and hilrun upload --dry-run --save:
#   OUT/bundle/    tars: the fixture run's bundle, a small run's, runs that
#                  fail validation (an artifact changed, unlisted, an
#                  unknown card, another schema), and tars hilrun would
#                  never write (links, devices, '..', absolute and long
#                  names, duplicates, too many entries, a pax header, cut
#                  short, empty)
#   OUT/validate/  the same runs as fuzz_validate's file lists ("@@@ NAME"
#                  lines, tests/fuzz/fuzz_validate.c), and ways to break
#                  the record and the manifest
#   OUT/card/ ... OUT/vnc/   the other targets' seeds, made from the
#                  fixtures by seeds.py (Python alone; run it by itself
#                  as seeds.py SRC OUT)
# ci/fuzz TARGET --merge OUT/TARGET merges them into the checked-in corpus
# (tests/fuzz/README.md).
set -eu
HILRUN=$1 OUT=$2
FIXTURE="$(realpath "$(dirname "$0")/../fixtures/runs/std-vga-bios-post")"
TMP=$(mktemp -d /tmp/hilrun-seeds-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$OUT/bundle" "$OUT/validate"
"$HILRUN" key new --id seed --dir "$TMP/keys" >/dev/null

# run directories: the fixture; a small one (run.json and two tiny files);
# and broken ones, each from the small one
python3 - "$FIXTURE" "$TMP/runs" <<'EOP'
import hashlib, json, os, shutil, sys
fixture, runs = sys.argv[1:3]
shutil.copytree(fixture, runs + "/fixture")
rec = json.load(open(fixture + "/run.json"))
png = b"\x89PNG\r\n\x1a\n" + b"\0" * 8
files = {"post.png": png, "post.txt": b"SeaBIOS (version 1.16.2)\n"}
def run(name, edit=None, files=files, listed=None):
    d = runs + "/" + name
    os.makedirs(d)
    r = json.loads(json.dumps(rec))
    r["run_id"] = "seed-" + name
    r["artifacts"] = [{"path": n, "bytes": len(b), "sha256": hashlib.sha256(b).hexdigest()}
                      for n, b in sorted((listed or files).items())]
    if edit:
        edit(r)
    for n, b in files.items():
        open(d + "/" + n, "wb").write(b)
    json.dump(r, open(d + "/run.json", "w"), indent=2, sort_keys=True)
run("small")
run("changed", listed=dict(files, **{"post.txt": b"SeaBIOS (version 1.16.3)\n"}))
run("unlisted", files=dict(files, **{"extra.log": b"x\n"}))
run("notpng", files=dict(files, **{"text.png": b"GIF89a"}))
run("unknown-card", lambda r: r["card"].update(id="rtx-9090", pci_id="10de:9999"))
run("pci-differs", lambda r: r["card"].update(pci_id="1234:0000"))
run("schema-2", lambda r: r.update(schema="hilrun-run/2.0"))
run("no-verdict", lambda r: r.pop("verdict"))
run("bad-run-id", lambda r: r.update(run_id="../up"))
run("contributor", lambda r: r.update(contributor="mallory"))
EOP

# the runs' bundles, as hilrun upload packs them (failing ones too)
for d in "$TMP"/runs/*; do
	"$HILRUN" upload --dry-run --save "$TMP/tars" --key "$TMP/keys/seed.key" "$d" >/dev/null 2>&1 || true
done
ls "$TMP"/tars/*.tar >/dev/null || { echo "seeds.sh: hilrun upload --save wrote no bundle" >&2; exit 1; }
cp "$TMP"/tars/*.tar "$OUT/bundle/"

# tars hilrun never writes, and the validator's file lists
python3 - "$TMP/tars/seed-small.tar" "$TMP/runs" "$OUT" <<'EOP'
import io, json, os, sys, tarfile
good, runs, out = sys.argv[1:4]
files = {m.name: tarfile.open(good).extractfile(m).read() for m in tarfile.open(good)}
def write(name, entries, fmt=tarfile.PAX_FORMAT):
    with tarfile.open(out + "/bundle/" + name, "w", format=fmt) as t:
        for e in entries:
            t.addfile(*e)
def reg(name, data):
    i = tarfile.TarInfo(name); i.size = len(data); i.mode = 0o644
    return (i, io.BytesIO(data))
def special(name, kind, target=""):
    i = tarfile.TarInfo(name); i.type = kind; i.linkname = target
    return (i,)
def good_entries(): return [reg(n, d) for n, d in files.items()]
write("links.tar", good_entries() + [special("passwd", tarfile.SYMTYPE, "/etc/passwd"),
                                   special("hard", tarfile.LNKTYPE, "run.json")])
write("names.tar", [reg("../../evil", b"x"), reg("/abs", b"x"), reg("sub/../../e", b"x"),
                    reg("a/b", b"x"), reg(".hidden", b"x"), reg("sp ace", b"x"), reg("", b"x"),
                    reg("n" * 200, b"x"), reg("run.json", b"{}"), reg("run.json", b"{}")])
write("devices.tar", [special("dev", tarfile.CHRTYPE), special("blk", tarfile.BLKTYPE),
                      special("fifo", tarfile.FIFOTYPE), special("dir", tarfile.DIRTYPE)])
write("gnu.tar", good_entries() + [reg("l" * 120 + ".txt", b"long")], tarfile.GNU_FORMAT)
write("ustar.tar", good_entries(), tarfile.USTAR_FORMAT)
write("many.tar", [reg("f%03d" % i, b"") for i in range(70)])
write("empty.tar", [])
raw = open(good, "rb").read()
open(out + "/bundle/truncated.tar", "wb").write(raw[:len(raw) // 2])

def lst(name, fs):
    with open(out + "/validate/" + name, "wb") as f:
        f.write(b"\n".join(b"@@@ " + n.encode() + b"\n" + d for n, d in fs.items()))
def rundir(name):
    d = runs + "/" + name
    return {n: open(d + "/" + n, "rb").read() for n in sorted(os.listdir(d))}
for name in sorted(os.listdir(runs)):
    lst(name, rundir(name))
small = rundir("small")
# the signed manifest given (not the one the target writes): canonical, or not
lst("manifest-given", dict(files))
man = json.loads(files["manifest.json"])
lst("manifest-pretty", dict(small, **{"manifest.json": json.dumps(man, indent=1).encode()}))
man2 = dict(man, artifacts=list(reversed(man["artifacts"])), format="hilrun-bundle/2")
lst("manifest-unsorted", dict(small, **{"manifest.json": json.dumps(man2, sort_keys=True, separators=(",", ":")).encode()}))
lst("signature-bad", dict(small, **{"manifest.sig": b"c2lnbmF0dXJl\n"}))
rec = json.loads(small["run.json"])
rec["artifacts"].append(rec["artifacts"][0])
lst("listed-twice", dict(small, **{"run.json": json.dumps(rec).encode()}))
lst("record-not-json", dict(small, **{"run.json": b"{\"schema\": \"hilrun-run/1.2\", "}))
lst("nothing", {})
EOP
python3 "$(dirname "$0")/seeds.py" "$(realpath "$(dirname "$0")/../..")" "$OUT"
echo "seeds.sh: $(ls "$OUT/bundle" | wc -l) bundle seeds, $(ls "$OUT/validate" | wc -l) validate seeds in $OUT"
for t in "$OUT"/*/; do
	case $t in */bundle/|*/validate/) ;; *) echo "seeds.sh: $(ls "$t" | wc -l) $(basename "$t") seeds" ;; esac
done
