#!/usr/bin/env python3
"""repo_seed.py OUT - write a seed for fuzz_repo_index: a 4-byte index
length, a pack index (docs/repo-format.md) and its pack holding three
chunks stored as is. Written from the format document alone, so it also
cross-checks src/repo.c: `vhdrecover repo check --read-data` must call the
pair clean (see tests/fuzz/README.md)."""
import hashlib
import struct
import sys


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


chunks = [bytes([i]) * 3000 + bytes(range(256)) * 4 for i in range(1, 4)]
pack = b"VRPACK01"
entries = []
for c in chunks:
    h = hashlib.sha256(c).digest()
    entries.append((h, len(pack), len(c), len(c), 0))
    pack += struct.pack("<IIII", 0x4B435256, len(c), len(c), 0) + h + c
entries.sort()
idx = b"VRIDX001" + struct.pack("<II", len(entries), 0)
for h, off, stored, raw, codec in entries:
    idx += h + struct.pack("<QIIII", off, stored, raw, codec, 0)
idx += struct.pack("<I", crc32c(idx))
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<I", len(idx)) + idx + pack)
