#!/usr/bin/env python3
"""mkguest.py: build the linux-drm reference guest from Debian 12 packages
that ci/setup fetched (apt-get download) into DEBS:

  mkguest.py headers DEBS OUT     the kernel's uapi DRM headers (for the agent)
                                  into OUT/include/drm
  mkguest.py guest DEBS OUT AGENT FONT [FIRMWARE-DEB...]
                                  OUT/vmlinuz and OUT/initrd.img: /init is the
                                  agent, /font.bin hilrun's console font, the
                                  display drivers of the tested cards and every
                                  module they need (from modules.dep), the
                                  modules' aliases (depmod), Debian's fbdev
                                  blacklist, busybox, and the /lib/firmware of
                                  any FIRMWARE-DEB a lab adds

The packages are extracted with dpkg-deb -x into OUT (nothing goes into the
host's /boot); depmod (package kmod) indexes the modules; cpio and gzip pack
the initramfs. Errors name the package or file that is missing."""
import glob
import os
import shutil
import subprocess
import sys

# The display drivers of the cards hilrun tests (QEMU's emulated adapters
# and the founding report's physical ones), and pvpanic's: the agent loads
# whichever matches a device's modalias.
MODULES = [
    "bochs", "cirrus", "qxl", "virtio-gpu", "vmwgfx",            # QEMU's adapters
    "radeon", "nouveau",                                        # Cedar, RV370; G98, G86, G72
    "aty128fb", "radeonfb", "atyfb",                            # fbdev, blacklisted by Debian
    "virtio_pci", "pvpanic-mmio", "pvpanic-pci",
]


def fail(msg):
    sys.exit("mkguest: " + msg)


def newest(debs, pattern, what):
    found = sorted(glob.glob(os.path.join(debs, pattern)))
    if not found:
        fail("no %s in %s (%s): run ci/setup, which fetches it" % (what, debs, pattern))
    return found[-1]


def extract(deb, into, *members):
    os.makedirs(into, exist_ok=True)
    if not members:
        subprocess.run(["dpkg-deb", "-x", deb, into], check=True)
        return
    tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", deb], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", into, "--wildcards", *members], input=tar, check=True)


def kernel_deb(debs):
    return newest(debs, "linux-image-[0-9]*-amd64_*.deb", "kernel image package")


def headers(debs, out):
    kdeb = os.path.basename(kernel_deb(debs))
    base = kdeb[len("linux-image-"):].split("-amd64")[0]  # 6.1.0-57
    deb = newest(debs, "linux-headers-%s-common_*.deb" % base, "kernel headers package")
    tmp = os.path.join(out, "headers-deb")
    shutil.rmtree(tmp, ignore_errors=True)
    extract(deb, tmp, "./usr/src/linux-headers-*/include/uapi/drm/*")
    src = glob.glob(os.path.join(tmp, "usr/src/linux-headers-*/include/uapi/drm"))[0]
    dst = os.path.join(out, "include", "drm")
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    shutil.rmtree(tmp)


def module_closure(moddir):
    deps, paths = {}, {}
    for line in open(os.path.join(moddir, "modules.dep")):
        path, _, rest = line.partition(":")
        deps[path] = rest.split()
        paths[os.path.basename(path).split(".ko")[0].replace("-", "_")] = path
    want = set()

    def add(path):
        if path not in want:
            want.add(path)
            for d in deps[path]:
                add(d)

    for name in MODULES:
        path = paths.get(name.replace("-", "_"))
        if not path:
            fail("the kernel has no module %s" % name)
        add(path)
    return sorted(want)


def guest(debs, out, agent, font, firmware_debs):
    root = os.path.join(out, "packages")
    shutil.rmtree(root, ignore_errors=True)
    extract(kernel_deb(debs), root)
    extract(newest(debs, "busybox-static_*.deb", "busybox-static package"), root)
    extract(newest(debs, "udev_*.deb", "udev package (for Debian's fbdev blacklist)"), root,
            "./lib/modprobe.d/fbdev-blacklist.conf")
    kvers = os.listdir(os.path.join(root, "lib/modules"))
    if len(kvers) != 1:
        fail("expected one kernel in the packages, found %s" % kvers)
    kv = kvers[0]
    subprocess.run(["depmod", "-b", root, kv], check=True)

    ir = os.path.join(out, "initramfs")
    shutil.rmtree(ir, ignore_errors=True)
    for d in ["bin", "dev", "proc", "sys", "lib/modprobe.d", "lib/firmware"]:
        os.makedirs(os.path.join(ir, d))
    src_mods, dst_mods = os.path.join(root, "lib/modules", kv), os.path.join(ir, "lib/modules", kv)
    for path in module_closure(src_mods):
        os.makedirs(os.path.dirname(os.path.join(dst_mods, path)), exist_ok=True)
        shutil.copy(os.path.join(src_mods, path), os.path.join(dst_mods, path))
    for f in ["modules.order", "modules.builtin", "modules.builtin.modinfo"]:
        shutil.copy(os.path.join(src_mods, f), os.path.join(dst_mods, f))
    subprocess.run(["depmod", "-b", ir, kv], check=True)
    shutil.copy(os.path.join(root, "lib/modprobe.d/fbdev-blacklist.conf"), os.path.join(ir, "lib/modprobe.d"))
    shutil.copy(os.path.join(root, "bin/busybox"), os.path.join(ir, "bin/busybox"))
    shutil.copy(agent, os.path.join(ir, "init"))
    os.chmod(os.path.join(ir, "init"), 0o755)
    shutil.copy(font, os.path.join(ir, "font.bin"))
    for deb in firmware_debs:  # a lab's non-free firmware (README)
        fw = os.path.join(out, "firmware-deb")
        shutil.rmtree(fw, ignore_errors=True)
        extract(deb, fw)
        for base in ["lib/firmware", "usr/lib/firmware"]:
            if os.path.isdir(os.path.join(fw, base)):
                shutil.copytree(os.path.join(fw, base), os.path.join(ir, "lib/firmware"), dirs_exist_ok=True)
        shutil.rmtree(fw)

    files = subprocess.run(["find", "."], cwd=ir, check=True, capture_output=True).stdout
    cpio = subprocess.run(["cpio", "--quiet", "-o", "-H", "newc", "--reproducible"], cwd=ir,
                          input=files, check=True, capture_output=True).stdout
    gz = subprocess.run(["gzip", "-6", "-n"], input=cpio, check=True, capture_output=True).stdout
    with open(os.path.join(out, "initrd.img.tmp"), "wb") as f:
        f.write(gz)
    os.replace(os.path.join(out, "initrd.img.tmp"), os.path.join(out, "initrd.img"))
    shutil.copy(os.path.join(root, "boot", "vmlinuz-" + kv), os.path.join(out, "vmlinuz"))
    shutil.rmtree(root)


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "headers":
        headers(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 6 and sys.argv[1] == "guest":
        guest(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6:])
    else:
        fail("usage: mkguest.py headers DEBS OUT | guest DEBS OUT AGENT FONT [FIRMWARE-DEB...]")


main()
