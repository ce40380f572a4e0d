#!/usr/bin/env python3
"""seeds.py SRC OUT: the seeds of every fuzz target but bundle and validate
(tests/fuzz/README.md), made from the source tree SRC's fixtures into
OUT/TARGET/. seeds.sh runs it; it needs nothing but Python.

  card/      every cards/*.card, and every card text of
             tests/unit/test_catalog.c (the broken ones too)
  stations/  tests/fixtures/stations/*, and test_catalog.c's stations texts
  report/    the fixture run's serial.log, and test_report.c's lines
  qmp/       a greeting and replies around the fixture run's QMP events
  journal/   journals as test_journal.c writes them, whole, cut, broken
  record/    the fixture run's run.json, with an earlier run, and broken
  image/     the small frames of tests/fixtures/frames/, two JPEGs, cut
             short; PPMs
  decode/    the text-mode frames of the fixtures in fuzz_decode.c's form
  vnc/       RFB sessions in several versions and encodings, refusals
"""
import json
import os
import re
import struct
import sys
import zlib

SRC, OUT = sys.argv[1:3]


def out(target, name, data):
    os.makedirs(os.path.join(OUT, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(OUT, target, name), "wb") as f:
        f.write(data)


def read(*path):
    with open(os.path.join(SRC, *path), "rb") as f:
        return f.read()


def c_strings(path, macros=None):
    """The string constants of a C file: adjacent literals joined, the
    given macros (names of string literals) expanded."""
    text = read(path).decode()
    macros = dict(macros or {})
    for m in re.finditer(r'#define (\w+) ((?:"(?:[^"\\\n]|\\.)*"\s*\\?\s*)+)', text):
        macros[m.group(1)] = m.group(2)
    token = r'"(?:[^"\\\n]|\\.)*"'
    names = "|".join(re.escape(k) for k in macros) or "(?!)"
    group = re.compile(r'(?:(?:%s|\b(?:%s)\b)\s*)+' % (token, names))
    for m in group.finditer(text):
        s = m.group(0)
        for k, v in macros.items():
            s = re.sub(r'\b%s\b' % re.escape(k), lambda _: v.replace("\\\n", ""), s)
        parts = re.findall(token, s)
        yield "".join(bytes(p[1:-1], "utf-8").decode("unicode_escape") for p in parts)


# card and stations: the tree's files, and the unit tests' texts
for name in sorted(os.listdir(os.path.join(SRC, "cards"))):
    out("card", name, read("cards", name))
for name in sorted(os.listdir(os.path.join(SRC, "tests/fixtures/stations"))):
    out("stations", name, read("tests/fixtures/stations", name))
texts = sorted({s for s in c_strings("tests/unit/test_catalog.c") if "\n" in s})
for i, s in enumerate(texts):
    target = "stations" if "station" in s or "host " in s else "card"
    out(target, "test_catalog-%03d" % i, s)

# report: the fixture's serial log, and each line of the unit tests
out("report", "serial.log", read("tests/fixtures/runs/std-vga-bios-post/serial.log"))
lines = [s for s in c_strings("tests/unit/test_report.c") if s.startswith("HILRUN")]
for i, s in enumerate(lines):
    out("report", "test_report-%03d" % i, s + "\n")
out("report", "test_report-all", "\r\n".join(lines) + "\n")

# qmp: what QEMU says (fuzz_qmp.c's client sends ids 1 to 4: the
# capabilities, two commands, a ping); the fixture run's events between
greeting = ('{"QMP": {"version": {"qemu": {"micro": 19, "minor": 2, "major": 7}, '
            '"package": "Debian 1:7.2+dfsg-7+deb12u7"}, "capabilities": ["oob"]}}\r\n')
events = read("tests/fixtures/runs/std-vga-bios-post/qmp-events.jsonl").decode().splitlines()
def ret(i, v="{}"):
    return '{"return": %s, "id": %d}\r\n' % (v, i)
ev = "".join(e + "\r\n" for e in events)
out("qmp", "session", greeting + ret(1) + events[0] + "\n" + ret(2, '{"status": "running", "running": true}')
    + ev + ret(3, '[{"name": "VGA", "parent": "pci-device"}]') + ret(4))
out("qmp", "greeting-only", greeting)
out("qmp", "error", greeting + ret(1) + '{"id": 2, "error": {"class": "CommandNotFound", "desc": "nope"}}\r\n')
out("qmp", "stale-ids", greeting + ret(1) + ret(7) + '{"return": 1}\n' + ret(2, "[]") + ret(3, "null"))
out("qmp", "no-greeting", ret(1) + ev)
out("qmp", "not-json", greeting + "{\"id\": 1, \"return\"\n")
out("qmp", "cut-short", (greeting + ret(1) + ev)[:-40])

# journal: the lines hilrun appends (journal.h), as test_journal.c
# writes them: a plan's whole life, one cut short, bad lines
def jl(e, **kw):
    kw.update(e=e, t="2026-12-05T01:02:03Z", pid=4242, pid_start=123456, boot_id="boot-then")
    return json.dumps(kw, sort_keys=True, separators=(",", ":")) + "\n"
cells = ["std-vga seabios/bios-post default", "std-vga ovmf/uefi-gop default"]
start = dict(plan="P1", cell=cells[0], run_id="R1", tmp_dir="/x/runs/.tmp-R1", card={"id": "std-vga"},
             firmware="seabios", guest="bios-post", variant="default", stages="start post text graphics shutdown")
whole = (jl("plan", plan="P1", argv=["hilrun", "--card", "std-vga"], cwd="/", cells=cells)
         + jl("start", **start) + jl("stage", run_id="R1", stage="start", outcome="pass")
         + jl("stage", run_id="R1", stage="post", outcome="undecided")
         + jl("finish", plan="P1", cell=cells[0], run_id="R1", verdict="pass", run_dir="/x/runs/R1"))
out("journal", "whole", whole + jl("plan-done", plan="P1"))
out("journal", "cut-short", whole + jl("start", **dict(start, run_id="R2", cell=cells[1]))[:-30])
# orphans for recovery: one from another boot (the host went down), one
# from this boot (fuzz_journal.c's: hilrun died), every stage decided
orphan = dict(start, run_id="R2", cell=cells[1])
out("journal", "orphans", whole + jl("start", **orphan) + jl("stage", run_id="R2", stage="start", outcome="pass")
    + jl("start", **dict(orphan, run_id="R3", stages="start post")).replace("boot-then", "fuzz-boot-now")
    + "".join(jl("stage", run_id="R3", stage=st, outcome="pass") for st in ("start", "post")))
out("journal", "bad-lines", "not json\n{}\n[1]\n" + jl("stage", run_id="R9", stage="x", outcome="y")
    + jl("plan-done", plan="P9") + '{"e": 1}\n' + jl("finish", run_id="R8"))

# record: the fixture run's run.json; an earlier failed run of its cell
# after it (fuzz_record.c's "@@@" line); records the matrix must skip
rec = json.loads(read("tests/fixtures/runs/std-vga-bios-post/run.json"))
def dump(r):
    return json.dumps(r, indent=2, sort_keys=True)
out("record", "fixture", read("tests/fixtures/runs/std-vga-bios-post/run.json"))
older = dict(rec, run_id=rec["run_id"] + "-0", verdict="fail:no-post", started_at="2026-01-01T00:00:00Z")
out("record", "history", dump(rec) + "\n@@@\n" + dump(older))
out("record", "retry", dump(dict(rec, retry_of="x")) + "\n@@@\n" + dump(dict(older, verdict="error:accel(kvm)")))
out("record", "other-card", dump(dict(rec, card={"id": "g98", "name": "GeForce", "kind": "vfio"},
                                      expected="fail:code43", verdict="fail:code43")))
out("record", "schema-2", dump(dict(rec, schema="hilrun-run/2.0")))
out("record", "minimal", '{"schema": "hilrun-run/1", "run_id": "r", "card": {}, "firmware": "", '
    '"guest": "", "variant": "", "accel": "", "verdict": "", "stages": [{}], "artifacts": []}')

# image: the fixtures' frames (the small PNGs, a JPEG of each kind), cut
# short; PPMs
frames = "tests/fixtures/frames"
for name in sorted(n for n in os.listdir(os.path.join(SRC, frames)) if "." in n):
    data = read(frames, name)
    small_png = name.endswith(".png") and len(data) < 8192
    if small_png or name in ("seabios-banner-stdvga-q80.jpg", "bios-post-stdvga-post-analog-phase-1080.jpg"):
        out("image", name, data)
        out("image", "cut-" + name, data[: len(data) * 2 // 3])
out("image", "run-post.png", read("tests/fixtures/runs/std-vga-bios-post/post.png"))
out("image", "ppm", b"P6\n4 3\n255\n" + bytes(range(36)))
out("image", "ppm-comment", b"P6 # from QEMU\n2 2 # w h\n255\n" + b"\xff\x00\x80" * 4)
out("image", "ppm-short", b"P6\n64 64\n255\n" + b"\x01" * 100)
out("image", "ppm-maxval", b"P6\n1 1\n65535\n" + b"\0" * 6)

# decode: the text-mode frames of the fixtures in fuzz_decode.c's form:
# width, height, options, then runs of (count - 1, colour)

def png_rgb(data):
    """Width, height and RGB rows of an 8-bit RGB, non-interlaced PNG
    (what frame_write_png writes); None for any other."""
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
    w, h, depth, ctype, _, _, interlace = ihdr
    if depth != 8 or ctype != 2 or interlace:
        return None
    raw, stride, rows, prev = zlib.decompress(idat), w * 3, [], bytearray(w * 3)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - 3] if i >= 3 else 0
            b, c = prev[i], prev[i - 3] if i >= 3 else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, rows


VGA = [(0, 0, 0), (0, 0, 0xa8), (0, 0xa8, 0), (0, 0xa8, 0xa8), (0xa8, 0, 0), (0xa8, 0, 0xa8),
       (0xa8, 0x57, 0), (0xa8, 0xa8, 0xa8), (0x57, 0x57, 0x57), (0x57, 0x57, 0xff), (0x57, 0xff, 0x57),
       (0x57, 0xff, 0xff), (0xff, 0x57, 0x57), (0xff, 0x57, 0xff), (0xff, 0xff, 0x57), (0xff, 0xff, 0xff)]


def nearest(px):
    return min(range(16), key=lambda k: sum((px[j] - VGA[k][j]) ** 2 for j in range(3)))


def decode_seed(w, h, rows, opts):
    runs, last, count, cache = bytearray(), None, 0, {}
    for row in rows:
        for x in range(w):
            px = row[3 * x:3 * x + 3]
            c = cache.get(px)
            if c is None:
                c = cache[px] = nearest(px)
            if c == last and count < 256:
                count += 1
                continue
            if last is not None:
                runs += bytes((count - 1, last))
            last, count = c, 1
    runs += bytes((count - 1, last))
    return struct.pack("<HHB", w, h, opts) + bytes(runs)


for path, opts in (("tests/fixtures/frames/bios-post-stdvga-text.png", 0),
                   ("tests/fixtures/frames/seabios-banner-stdvga.png", 2),
                   ("tests/fixtures/frames/seabios-colours.png", 1),
                   ("tests/fixtures/frames/calibration-stdvga.png", 4),
                   ("tests/fixtures/runs/std-vga-bios-post/text.png", 3)):
    frame = png_rgb(read(path))
    if frame and frame[0] <= 768 and frame[1] <= 432:
        out("decode", os.path.basename(path), decode_seed(*frame, opts))
out("decode", "blank-720x400", struct.pack("<HHB", 720, 400, 0) + bytes((255, 1)))
out("decode", "bars-768x432", struct.pack("<HHB", 768, 432, 0) + bytes((99, 15, 99, 0, 40, 4)))

# vnc: what a server says to fuzz_vnc.c's client, RFB 3.3, 3.7 and 3.8: the
# handshake, ServerInit, then updates (the client asks for 32 bpp, depth
# 24, true colour: pixels of 4 bytes, Tight and ZRLE's of 3). The last
# byte sizes the pieces written; its top bit makes the client a capture
# device.
W, H = 64, 48
PF = struct.pack(">BBBBHHHBBB3x", 32, 24, 0, 1, 255, 255, 255, 16, 8, 0)
def server_init(w=W, h=H, name=b"QEMU (fuzz)"):
    return struct.pack(">HH", w, h) + PF + struct.pack(">I", len(name)) + name
HELLO = {"3.8": b"RFB 003.008\n" + bytes((1, 1)) + struct.pack(">I", 0),
         "3.7": b"RFB 003.007\n" + bytes((1, 1)),
         "3.3": b"RFB 003.003\n" + struct.pack(">I", 1)}
def update(*rects):
    return struct.pack(">BxH", 0, len(rects)) + b"".join(rects)
def rect(x, y, w, h, enc, body=b""):
    return struct.pack(">HHHHi", x, y, w, h, enc) + body
def raw(x, y, w, h, seed=0):
    return rect(x, y, w, h, 0, bytes(((i * 7 + seed) & 255) if i % 4 != 3 else 0 for i in range(w * h * 4)))
def zrle(w, h, colour=b"\x10\x80\xf0"):
    tiles = b"".join(b"\x01" + colour for _ in range(((w + 63) // 64) * ((h + 63) // 64)))
    z = zlib.compressobj()
    data = z.compress(tiles) + z.flush(zlib.Z_SYNC_FLUSH)
    return rect(0, 0, w, h, 16, struct.pack(">I", len(data)) + data)
tight_fill = rect(0, 0, W, H, 7, b"\x80" + b"\x20\x40\x60")
rre = rect(0, 0, W, H, 2, struct.pack(">I", 1) + b"\x00\x00\xff\x00" + b"\xff\x00\x00\x00" + struct.pack(">HHHH", 1, 1, 8, 8))
hextile = rect(0, 0, 16, 16, 5, b"\x02" + b"\x11\x22\x33\x00") + rect(16, 0, W - 16, H, 0, bytes((W - 16) * H * 4))
resize = rect(0, 0, 32, 16, -223)
tail = (b"\x02" + b"\x03\x00\x00\x00" + struct.pack(">I", 5) + b"hello")  # Bell, ServerCutText
for ver, hello in HELLO.items():
    out("vnc", "raw-" + ver, hello + server_init() + update(raw(0, 0, W, H)) + b"\x05")
out("vnc", "raw-halves", HELLO["3.8"] + server_init() + update(raw(0, 0, W, H // 2)) + update(raw(0, H // 2, W, H - H // 2, 9)) + b"\x3f")
out("vnc", "zrle", HELLO["3.8"] + server_init() + update(zrle(W, H)) + tail + b"\x01")
out("vnc", "tight-fill", HELLO["3.8"] + server_init() + update(tight_fill) + b"\x81")
out("vnc", "rre-hextile", HELLO["3.8"] + server_init() + update(rre) + update(hextile) + b"\x02")
out("vnc", "resize", HELLO["3.8"] + server_init() + update(resize) + update(raw(0, 0, 32, 16)) + b"\x04")
out("vnc", "too-large", HELLO["3.8"] + server_init(9000, 16) + b"\x04")
out("vnc", "largest", HELLO["3.8"] + server_init(8192, 8192) + update(rect(0, 0, 8192, 8192, 7, b"\x80\x20\x40\x60")) + b"\x05")
out("vnc", "refused", b"RFB 003.008\n" + b"\x00" + struct.pack(">I", 11) + b"not welcome")
out("vnc", "password", b"RFB 003.008\n" + bytes((1, 2)) + bytes(16) + struct.pack(">I", 1))
out("vnc", "not-rfb", b"SSH-2.0-OpenSSH_9.2\r\n")
