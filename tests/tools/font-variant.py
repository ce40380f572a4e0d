#!/usr/bin/env python3
"""font-variant.py SRC.rom OFFSET OUT.rom: a copy of the VGA BIOS SRC.rom
whose 8x16 font (at OFFSET, as `hilrun decode --json --font SRC.rom` names
it) draws 0 a e S i t in another hand, as a card's own VGA BIOS does: a
slashed zero, a single-storey a, an e with its bar lower, a square S, an i
and a t without serifs. The option ROM's checksum is fixed (its last byte),
so that QEMU and hilrun's ROM checks take it. For tests of a card whose
font is not SeaBIOS's."""
import sys

GLYPHS = {
    "0": [0x00, 0x00, 0x3C, 0x66, 0xC3, 0xC7, 0xCF, 0xDB, 0xF3, 0xE3, 0x66, 0x3C, 0, 0, 0, 0],
    "a": [0x00, 0x00, 0x00, 0x00, 0x00, 0x76, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0x76, 0, 0, 0, 0],
    "e": [0x00, 0x00, 0x00, 0x00, 0x00, 0x7C, 0xC6, 0xC6, 0xFE, 0xC0, 0xC6, 0x7C, 0, 0, 0, 0],
    "S": [0x00, 0x00, 0x7E, 0xC0, 0xC0, 0xC0, 0x7C, 0x06, 0x06, 0x06, 0x06, 0xFC, 0, 0, 0, 0],
    "i": [0x00, 0x00, 0x18, 0x18, 0x00, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0x18, 0, 0, 0, 0],
    "t": [0x00, 0x00, 0x30, 0x30, 0x30, 0xFC, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0, 0, 0, 0],
}


def main():
    src, offset, out = sys.argv[1], int(sys.argv[2], 0), sys.argv[3]
    rom = bytearray(open(src, "rb").read())
    if rom[0:2] != b"\x55\xaa":
        sys.exit("font-variant: %s is not an option ROM" % src)
    for ch, rows in GLYPHS.items():
        at = offset + ord(ch) * 16
        if rom[at : at + 16] == bytes(rows):
            sys.exit("font-variant: %r is drawn that way already" % ch)
        rom[at : at + 16] = bytes(rows)
    size = rom[2] * 512
    rom[size - 1] = (rom[size - 1] - sum(rom[:size])) & 0xFF
    assert sum(rom[:size]) & 0xFF == 0
    open(out, "wb").write(rom)


main()
