#!/usr/bin/python3
"""make-fuzz-seeds.py - the seeds of tests/fuzz/corpus_volume/ from the test
volumes: each volume compacted to a few KB (its boot sector, its three FVE
metadata blocks and its volume header, moved next to each other and the
offsets that point at them rewritten), so that libFuzzer's mutations land in
the metadata instead of in 100 MB of holes; plus one of them inside a GPT
disk and one inside an MBR disk, and a few descriptions for the parser.

    tests/volume/make-fuzz-seeds.py IMAGES_DIR OUT_DIR

IMAGES_DIR: the extracted tests/volume/data/bitlk-images.tar.xz.  Field
offsets as libbde's documentation of the format gives them.  Test tooling
only: nothing here is used to read a real disk.
"""
import os
import struct
import subprocess
import sys

SLOT = 0x1000          # each metadata block copy gets 4 KiB
BOOT = 0x2000          # the boot area kept from the start


def u64(b, o):
    return struct.unpack_from("<Q", b, o)[0]


def compact(img):
    with open(img, "rb") as f:
        data = f.read()
    togo = data[3:11] == b"MSWIN4.1"
    at = 0x1B8 if togo else 0xB0          # the three metadata offsets
    offs = [u64(data, at + 8 * i) for i in range(3)]
    blk = data[offs[0]:offs[0] + 64]
    vh_off = u64(blk, 0x38)
    vh_sectors = struct.unpack_from("<I", blk, 0x1C)[0]
    vh_size = min(vh_sectors * 512, 0x2000) if vh_sectors else 0x2000
    new_offs = [BOOT + SLOT * i for i in range(3)]
    new_vh = BOOT + SLOT * 3
    total = new_vh + vh_size
    out = bytearray(total)
    out[0:BOOT] = data[0:BOOT]
    for i in range(3):
        size = 64 + struct.unpack_from("<I", data, offs[i] + 64)[0]
        assert size <= SLOT, "metadata block larger than its slot"
        b = bytearray(data[offs[i]:offs[i] + size])
        struct.pack_into("<Q", b, 0x10, total)          # volume size
        for k in range(3):
            struct.pack_into("<Q", b, 0x20 + 8 * k, new_offs[k])
        struct.pack_into("<Q", b, 0x38, new_vh)
        # the entry that repeats the volume header's place (type and
        # value type 0x000f: offset, size) after the 48-byte header
        pos = 64 + 48
        while pos + 8 <= size:
            esize, etype, vtype = struct.unpack_from("<HHH", b, pos)
            if esize < 8:
                break
            if etype == 0x000F and vtype == 0x000F and esize >= 24:
                struct.pack_into("<QQ", b, pos + 8, new_vh, vh_size)
            pos += esize
        out[new_offs[i]:new_offs[i] + size] = b
    for k in range(3):
        struct.pack_into("<Q", out, at + 8 * k, new_offs[k])
    if togo:    # its size is the FAT32 boot sector's sector count
        struct.pack_into("<I", out, 0x20, total // 512)
    out[new_vh:new_vh + vh_size] = data[vh_off:vh_off + vh_size]
    return bytes(out)


def main():
    src, dst = sys.argv[1], sys.argv[2]
    os.makedirs(dst, exist_ok=True)
    seeds = {}
    for name in sorted(os.listdir(src)):
        if name.endswith(".img"):
            seeds[name[:-4]] = compact(os.path.join(src, name))
    for name, b in seeds.items():
        with open(os.path.join(dst, name), "wb") as f:
            f.write(b)
    # one volume inside whole disks (sfdisk writes the tables): sector 64
    # of a GPT, 63 of an MBR
    vol = seeds["bitlk-aes-xts-128"]
    nsec = (len(vol) + 511) // 512
    for kind, start in (("gpt", 64), ("mbr", 63)):
        path = os.path.join(dst, "disk-" + kind + ".raw")
        with open(path, "wb") as f:
            f.write(bytes((start + nsec + 40) * 512))
        table = "label: %s\nunit: sectors\nstart=%d, size=%d\n" % (
            "gpt" if kind == "gpt" else "dos", start, nsec)
        subprocess.run(["sfdisk", "-q", path], input=table.encode(),
                       check=True, stdout=subprocess.DEVNULL)
        with open(path, "r+b") as f:
            f.seek(start * 512)
            f.write(vol)
    for i, d in enumerate(("DESKTOP-LG39GVP E: 15/09/2020",
                           "WIN11 New Volume 09/03/2025",
                           "EVIL\x1b[31m E: 1/1/2020")):
        with open(os.path.join(dst, "description-%d" % i), "wb") as f:
            f.write(d.encode())


main()
