#!/usr/bin/env python3
"""host-fixtures.py FIXTURES-DIR: (re)write the fixture host trees the
preflight, `hilrun station check` and `hilrun rom dump` read in tests:
sysfs/ and sysfs-noiommu/ (for $HILRUN_SYSFS), proc/ and proc-noiommu/
($HILRUN_PROC), boot/ ($HILRUN_BOOT), dev-vfio/ ($HILRUN_DEV_VFIO).
What each device is for: tests/fixtures/sysfs/README.md.

Layouts are Linux's: a device's directory sits under devices/pci0000:00/
below its root port, bus/pci/devices/BDF and kernel/iommu_groups/N/devices/BDF
are symlinks to it, and so are its driver and iommu_group links. The ROM
contents (`rom`) are the real SeaBIOS VGA BIOS, linked from /usr/share/seabios
(or a real cut of it). Inputs that are files from a real system: the kernel
config of Debian 12's linux-image-6.1.0-57-amd64 (boot/), and the
/proc/config.gz of this lab machine's kernel (built without VFIO;
proc-noiommu/): give them as --debian-config and --config-gz to refresh."""
import gzip, os, shutil, sys

SEABIOS = "/usr/share/seabios"


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def link(path, target):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.lexists(path):
        os.remove(path)
    os.symlink(target, path)


def rel(from_dir, to):
    return os.path.relpath(to, from_dir)


class Sysfs:
    def __init__(self, root):
        self.root = root
        readme = f"{root}/README.md"
        keep = open(readme).read() if os.path.exists(readme) else None
        shutil.rmtree(root, ignore_errors=True)
        os.makedirs(root)
        if keep is not None:
            write(readme, keep)

    def driver(self, name):
        d = f"{self.root}/bus/pci/drivers/{name}"
        os.makedirs(d, exist_ok=True)
        write(f"{d}/.keep", "")
        return d

    def device(self, bdf, ids, cls, parent=None, driver=None, group=None, boot_vga=None, rom=None):
        base = f"{self.root}/devices/pci0000:00"
        d = f"{base}/{parent}/{bdf}" if parent else f"{base}/{bdf}"
        os.makedirs(d, exist_ok=True)
        vendor, device = ids.split(":")
        write(f"{d}/vendor", f"0x{vendor}\n")
        write(f"{d}/device", f"0x{device}\n")
        write(f"{d}/class", f"0x{cls}\n")
        if boot_vga is not None:
            write(f"{d}/boot_vga", f"{boot_vga}\n")
        if driver:
            link(f"{d}/driver", rel(d, self.driver(driver)))
        if group is not None:
            g = f"{self.root}/kernel/iommu_groups/{group}"
            os.makedirs(f"{g}/devices", exist_ok=True)
            link(f"{d}/iommu_group", rel(d, g))
            link(f"{g}/devices/{bdf}", rel(f"{g}/devices", d))
        if rom == "cut":
            with open(f"{SEABIOS}/vgabios-stdvga.bin", "rb") as f:
                data = f.read(4096)
            with open(f"{d}/rom", "wb") as f:
                f.write(data)
        elif rom:
            link(f"{d}/rom", f"{SEABIOS}/{rom}")
        link(f"{self.root}/bus/pci/devices/{bdf}", rel(f"{self.root}/bus/pci/devices", d))

    def root_port(self, bdf, group):
        self.device(bdf, "8086:0c01", "060400", driver="pcieport", group=group)


def lab(fx):
    s = Sysfs(f"{fx}/sysfs")
    s.driver("vfio-pci")
    os.makedirs(f"{s.root}/class/iommu", exist_ok=True)
    link(f"{s.root}/class/iommu/dmar0", "../../devices/virtual/iommu/dmar0")
    os.makedirs(f"{s.root}/devices/virtual/iommu/dmar0", exist_ok=True)
    write(f"{s.root}/devices/virtual/iommu/dmar0/.keep", "")
    write(f"{s.root}/module/vfio_pci/parameters/disable_vga", "N\n")
    for bus in (1, 2, 3, 4, 5, 8, 9, 10, 11, 12):
        s.root_port(f"0000:00:{bus:02x}.0", 100 + bus)
    vga = "030000"
    p = lambda bus: f"0000:00:{bus:02x}.0"
    s.device("0000:01:00.0", "10de:06e4", vga, p(1), "vfio-pci", 1, 0, rom="vgabios-stdvga.bin")
    s.device("0000:02:00.0", "10de:042f", vga, p(2), "nouveau", 2, 0)
    s.device("0000:03:00.0", "10de:01d1", vga, p(3), "vfio-pci", None, 0)
    s.device("0000:04:00.0", "1002:68f9", vga, p(4), None, 4, 0)
    s.device("0000:05:00.0", "1002:68f9", vga, p(5), "vfio-pci", 5, 0)
    s.device("0000:05:00.1", "1002:aa68", "040300", p(5), "snd_hda_intel", 15)
    # A PCH without ACS: two root ports, the card below one and a NIC below
    # the other, all in group 6.
    s.device("0000:00:1c.0", "8086:a110", "060400", None, "pcieport", 6)
    s.device("0000:00:1c.4", "8086:a114", "060400", None, "pcieport", 6)
    s.device("0000:06:00.0", "1002:5b63", vga, "0000:00:1c.0", "vfio-pci", 6, 0)
    s.device("0000:07:00.0", "8086:10d3", "020000", "0000:00:1c.4", "e1000e", 6)
    s.device("0000:08:00.0", "10de:01d1", vga, p(8), "vfio-pci", 8, 1)
    s.device("0000:09:00.0", "10de:042f", vga, p(9), "vfio-pci", 9, 0)
    s.device("0000:0a:00.0", "10de:06e4", vga, p(10), "vfio-pci", 10, 0)
    s.device("0000:0a:00.1", "10de:0be2", "040300", p(10), "vfio-pci", 10)
    s.device("0000:0b:00.0", "1002:5b63", vga, p(11), "vfio-pci", 11, 0, rom="cut")
    s.device("0000:0c:00.0", "1234:1111", vga, p(12), "bochs-drm", 12, 0, rom="vgabios-stdvga.bin")

    write(f"{fx}/proc/cmdline",
          "BOOT_IMAGE=/boot/vmlinuz-6.1.0-57-amd64 root=UUID=4f3c2a1e-0d6b-4c1e-9f0a-3b5e7d2c8a91 ro quiet intel_iommu=on iommu=pt\n")
    write(f"{fx}/proc/sys/kernel/osrelease", "6.1.0-57-amd64\n")
    shutil.rmtree(f"{fx}/dev-vfio", ignore_errors=True)
    # /dev/vfio/GROUP for each group vfio-pci holds whole; 9 is left out
    # (the ENOENT case); 6 is not viable, but vfio-pci still makes its node.
    for g in ("vfio", "1", "5", "6", "8", "10", "11"):
        write(f"{fx}/dev-vfio/{g}", "")


def noiommu(fx):
    s = Sysfs(f"{fx}/sysfs-noiommu")
    s.driver("vfio-pci")
    os.makedirs(f"{s.root}/class/iommu")
    write(f"{s.root}/class/iommu/.keep", "")
    write(f"{s.root}/module/vfio_pci/parameters/disable_vga", "Y\n")
    s.root_port("0000:00:01.0", None)
    # Without an IOMMU there are no groups, and vfio-pci cannot bind.
    s.device("0000:01:00.0", "10de:06e4", "030000", "0000:00:01.0", None, None, 0)
    write(f"{fx}/proc-noiommu/cmdline",
          "BOOT_IMAGE=/boot/vmlinuz-6.18.44-fc-v1252 root=/dev/vda ro quiet iommu=pt\n")
    write(f"{fx}/proc-noiommu/sys/kernel/osrelease", "6.18.44-fc-v1252\n")


def main():
    fx = sys.argv[1]
    args = sys.argv[2:]
    opts = dict(zip(args[::2], args[1::2]))
    lab(fx)
    noiommu(fx)
    if "--debian-config" in opts:
        os.makedirs(f"{fx}/boot", exist_ok=True)
        shutil.copy(opts["--debian-config"], f"{fx}/boot/config-6.1.0-57-amd64")
    if "--config-gz" in opts:
        shutil.copy(opts["--config-gz"], f"{fx}/proc-noiommu/config.gz")
    for need in (f"{fx}/boot/config-6.1.0-57-amd64", f"{fx}/proc-noiommu/config.gz"):
        if not os.path.exists(need):
            sys.exit(f"host-fixtures: {need} is missing (give --debian-config / --config-gz)")


main()
