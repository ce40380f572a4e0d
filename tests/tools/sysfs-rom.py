#!/usr/bin/env python3
"""sysfs-rom.py FIFO ROMFILE LOG: play Linux's PCI rom attribute over a FIFO
for one `echo 1 >rom; cat rom; echo 0 >rom` sequence, as hilrun rom dump
does it (three opens): read what is written (the enable; logged), serve
ROMFILE's bytes to the reader only if enabled, read the disable (logged).
Each write is logged as its bytes with the newline shown as \\n, one per
line. Gives up after 10 s (a dump that never comes)."""
import signal, sys

fifo, romfile, log = sys.argv[1:4]
signal.alarm(10)
with open(log, "w") as out:
    with open(fifo, "rb") as f:          # the enable
        data = f.read()
    out.write(data.decode().replace("\n", "\\n") + "\n")
    out.flush()
    enabled = not (len(data) == 2 and data[:1] == b"0")
    with open(fifo, "wb") as f:          # the read
        if enabled:
            f.write(open(romfile, "rb").read())
    with open(fifo, "rb") as f:          # the disable
        data = f.read()
    out.write(data.decode().replace("\n", "\\n") + "\n")
