#!/usr/bin/env python3
"""mkvhdx.py - write VHDX test images from a second, independent
implementation of [MS-VHDX] v1.0, and say what they must read as.

The C library in vhdx/ is checked against this script and against libvhdi,
so nothing here is shared with it: layout, CRC-32C, GUID order and block
states are written from the spec alone (Python 3 standard library only).

What it writes (every offset fixed, so corruptions can be aimed):
  0        file type identifier: "vhdxfile", creator in UTF-16LE
  64 KiB   header 1 (sequence 1)     128 KiB  header 2 (sequence 2)
  192 KiB  region table 1            256 KiB  region table 2
  1 MiB    log, 1 MiB of zeros (LogGuid zero: the log is clean)
  2 MiB    metadata region, 1 MiB    3 MiB    BAT, rounded up to 1 MiB
  then payload and sector bitmap blocks at 1 MiB-aligned offsets, in BAT
  order, each a whole block even when the disk ends inside it.

--expect-raw writes what the virtual disk must read as. It comes from the
writes themselves (and, for a differencing disk, from the parent read by the
small reader below, or from --parent-raw), not from reading the new file back;
the new file is then read back with that reader and must agree (--no-verify
skips this).
"""

import argparse
import os
import random
import struct
import sys
import textwrap
import uuid

KiB = 1024
MiB = 1024 * 1024

# ---- CRC-32C (Castagnoli), reflected polynomial 0x82F63B78 ----


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data, crc=0):
    """CRC-32C of @data, chained zlib-style from @crc."""
    crc ^= 0xFFFFFFFF
    table = _CRC_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283, "CRC-32C known answer"


def crc_with_zero_field(buf, at):
    """CRC-32C of @buf with the u32 at @at counted as zero ([MS-VHDX] 2.2)."""
    return crc32c(bytes(buf[at + 4:]), crc32c(bytes(buf[:at]) + b"\0" * 4))


# ---- GUIDs: text form in, on-disk bytes (Data1-3 little-endian) out ----


def guid(text):
    return uuid.UUID(text).bytes_le


def guid_text(raw):
    return str(uuid.UUID(bytes_le=bytes(raw)))


GUID_BAT = guid("2DC27766-F623-4200-9D64-115E9BFD4A08")
GUID_METADATA = guid("8B7CA206-4790-4B9A-B8FE-575F050F886E")
GUID_FILE_PARAMETERS = guid("CAA16737-FA36-4D43-B3B6-33F0AA44E76B")
GUID_VIRTUAL_DISK_SIZE = guid("2FA54224-CD1B-4876-B211-5DBED83BF4B8")
GUID_PAGE83 = guid("BECA12AB-B2E6-4523-93EF-C309E000C746")
GUID_LOGICAL_SECTOR = guid("8141BF1D-A96F-4709-BA47-F233A8FAAB5F")
GUID_PHYSICAL_SECTOR = guid("CDA348C7-445D-4471-9CC9-E9885251C556")
GUID_PARENT_LOCATOR = guid("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C")
GUID_LOCATOR_TYPE_VHDX = guid("B04AEFB7-D19E-4A81-B789-25B8E9445913")
# Made up for --corrupt unknown-required-region: no spec region has it.
GUID_UNKNOWN_REGION = guid("5C1F6B34-8A0E-4D7B-9E21-3F60C0DE0001")

# ---- layout ----

FILE_ID_OFFSET = 0
HEADER_OFFSETS = (64 * KiB, 128 * KiB)
REGION_OFFSETS = (192 * KiB, 256 * KiB)
HEADER_SIZE = 4 * KiB
REGION_TABLE_SIZE = 64 * KiB
LOG_OFFSET = 1 * MiB
LOG_LENGTH = 1 * MiB
META_OFFSET = 2 * MiB
META_LENGTH = 1 * MiB
META_TABLE_SIZE = 64 * KiB
BAT_OFFSET = 3 * MiB
SB_BLOCK_SIZE = 1 * MiB
SECTORS_PER_BITMAP = 1 << 23

# metadata entry flags
MD_IS_USER = 1
MD_IS_VIRTUAL_DISK = 2
MD_IS_REQUIRED = 4

# payload block states ([MS-VHDX] 2.5.1.1) and sector bitmap states (2.5.1.2)
NOT_PRESENT = 0
UNDEFINED = 1
ZERO = 2
UNMAPPED = 3
FULLY_PRESENT = 6
PARTIALLY_PRESENT = 7
SB_NOT_PRESENT = 0
SB_PRESENT = 6

GARBAGE = 0xEE  # sectors of a partial block that the bitmap says are not here

CORRUPT_KINDS = {
    "header1-crc":
        "header 1 is made the newer one (sequence 2), then its LogGuid is "
        "changed without fixing its checksum: a reader must warn and use "
        "header 2 (a reader that skips the checksum sees a dirty log)",
    "both-headers-crc":
        "both headers fail their checksum (fatal)",
    "region1-crc":
        "region table 1's first entry is moved 1 MiB without fixing its "
        "checksum: a reader must warn and use region table 2",
    "both-regions-crc":
        "both region tables fail their checksum (fatal)",
    "unknown-required-region":
        "both region tables list a third region, with an unknown GUID and "
        "Required=1, at the end of the file (fatal; checksums are right)",
    "missing-required-metadata":
        "the metadata table has no virtual disk size item (fatal)",
    "block-size-not-pow2":
        "file parameters say the block size is 3 MiB (fatal)",
    "block-size-too-big":
        "file parameters say the block size is 512 MiB (fatal)",
    "bat-past-eof":
        "payload block 0 is FULLY_PRESENT at an offset 16 MiB past the end "
        "of the file (fatal)",
    "bat-in-metadata":
        "payload block 0 is FULLY_PRESENT at 2 MiB, inside the metadata "
        "region (fatal)",
    "bat-overlap":
        "payload blocks 0 and 1 are FULLY_PRESENT at the same file offset "
        "(fatal)",
    "bat-reserved-state":
        "payload block 0 is in reserved state 4 (fatal)",
    "bad-file-id":
        "the file type identifier signature reads \"vhdxfilE\" instead of "
        "\"vhdxfile\"; everything else is intact",
    "partial-without-bitmap":
        "differencing only: a PARTIALLY_PRESENT payload block whose chunk "
        "has no sector bitmap block (fatal)",
    "parent-linkage-mismatch":
        "differencing only: parent_linkage is a random GUID, not the "
        "parent's DataWriteGuid (fatal when the chain is opened)",
}


class MkvhdxError(Exception):
    pass


def is_zero(data):
    """All bytes zero? (bytes.count runs in C; any() would not.)"""
    return data.count(0) == len(data)


def write_sparse(f, off, data, piece=64 * KiB):
    """Write @data at @off, skipping all-zero pieces: the file was sized
    with truncate() first, so they stay holes and read as zeros."""
    for i in range(0, len(data), piece):
        p = data[i:i + piece]
        if not is_zero(p):
            f.seek(off + i)
            f.write(p)


def round_up(x, to):
    return (x + to - 1) // to * to


def parse_size(text):
    """Byte count: decimal or 0x hex, optional K, M, G, T (powers of 1024)."""
    t = text.strip()
    mul = 1
    if t and t[-1] in "kKmMgGtT":
        mul = 1024 ** ("KMGT".index(t[-1].upper()) + 1)
        t = t[:-1]
    try:
        v = int(t, 0)
    except ValueError:
        raise argparse.ArgumentTypeError("bad size %r" % text)
    if v < 0:
        raise argparse.ArgumentTypeError("negative size %r" % text)
    return v * mul


def parse_write(text):
    parts = text.split(":")
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(
            "--write wants OFFSET:LENGTH:SEED, got %r" % text)
    try:
        seed = int(parts[2], 0)
    except ValueError:
        raise argparse.ArgumentTypeError("bad SEED in %r" % text)
    return parse_size(parts[0]), parse_size(parts[1]), seed


def parse_guid_arg(text):
    try:
        return uuid.UUID(text.strip("{}")).bytes_le
    except ValueError:
        raise argparse.ArgumentTypeError("bad GUID %r" % text)


class Geometry:
    """BAT geometry of [MS-VHDX] 2.5: payload entries interleaved with one
    sector bitmap entry after every chunk_ratio of them."""

    def __init__(self, size, block_size, lss, has_parent):
        self.size = size
        self.block_size = block_size
        self.lss = lss
        self.chunk_ratio = SECTORS_PER_BITMAP * lss // block_size
        self.data_blocks = (size + block_size - 1) // block_size
        self.bitmap_blocks = ((self.data_blocks + self.chunk_ratio - 1)
                              // self.chunk_ratio)
        if has_parent:
            self.total_entries = self.bitmap_blocks * (self.chunk_ratio + 1)
        else:
            self.total_entries = (self.data_blocks +
                                  (self.data_blocks - 1) // self.chunk_ratio)
        self.sectors_per_block = block_size // lss

    def payload_index(self, block):
        return block + block // self.chunk_ratio

    def bitmap_index(self, chunk):
        return chunk * (self.chunk_ratio + 1) + self.chunk_ratio

    def span(self, block):
        """Bytes of @block inside the virtual disk."""
        return min(self.block_size, self.size - block * self.block_size)


# ---- reader: enough of the format to read back what we (or Hyper-V) wrote


class VhdxReader:
    """Read a VHDX file and its parent chain. Checks signatures, checksums and
    the parent linkage; meant for well-formed files."""

    MAX_DEPTH = 64

    def __init__(self, path, parent_path=None, _depth=0, _seen=None):
        self.path = path
        self.f = open(path, "rb")
        self.file_size = os.fstat(self.f.fileno()).st_size
        seen = set(_seen or ())
        st = os.stat(path)
        if (st.st_dev, st.st_ino) in seen:
            raise MkvhdxError("%s: parent chain loops" % path)
        seen.add((st.st_dev, st.st_ino))
        if self._pread(0, 8) != b"vhdxfile":
            raise MkvhdxError("%s: no vhdxfile signature" % path)
        self._load_header()
        self._load_regions()
        self._load_metadata()
        self._load_bat()
        self.parent = None
        if self.has_parent:
            if _depth >= self.MAX_DEPTH:
                raise MkvhdxError("%s: parent chain too deep" % path)
            self.parent = self._open_parent(parent_path, _depth, seen)

    def close(self):
        if self.parent:
            self.parent.close()
        self.f.close()

    def _pread(self, off, n):
        self.f.seek(off)
        data = self.f.read(n)
        if len(data) != n:
            raise MkvhdxError("%s: truncated at 0x%x" % (self.path, off))
        return data

    def _load_header(self):
        best = None
        for off in HEADER_OFFSETS:
            h = self._pread(off, HEADER_SIZE)
            if h[:4] != b"head":
                continue
            if struct.unpack_from("<I", h, 4)[0] != crc_with_zero_field(h, 4):
                continue
            seq = struct.unpack_from("<Q", h, 8)[0]
            if best is None or seq > best[0]:
                best = (seq, h)
        if best is None:
            raise MkvhdxError("%s: no valid header" % self.path)
        h = best[1]
        self.data_write_guid = h[32:48]
        self.log_guid = h[48:64]
        if any(self.log_guid):
            raise MkvhdxError("%s: the log is dirty; this reader does not "
                              "replay logs" % self.path)

    def _load_regions(self):
        for off in REGION_OFFSETS:
            t = self._pread(off, REGION_TABLE_SIZE)
            if t[:4] != b"regi":
                continue
            if struct.unpack_from("<I", t, 4)[0] != crc_with_zero_field(t, 4):
                continue
            count = struct.unpack_from("<I", t, 8)[0]
            regions = {}
            for i in range(min(count, 2047)):
                e = t[16 + 32 * i:48 + 32 * i]
                g = e[:16]
                foff, flen, flags = struct.unpack_from("<QII", e, 16)
                regions[g] = (foff, flen)
                if g not in (GUID_BAT, GUID_METADATA) and flags & 1:
                    raise MkvhdxError("%s: unknown required region %s" %
                                      (self.path, guid_text(g)))
            if GUID_BAT not in regions or GUID_METADATA not in regions:
                raise MkvhdxError("%s: region table lacks BAT or metadata" %
                                  self.path)
            self.bat_offset, self.bat_length = regions[GUID_BAT]
            self.meta_offset, self.meta_length = regions[GUID_METADATA]
            return
        raise MkvhdxError("%s: no valid region table" % self.path)

    def _load_metadata(self):
        m = self._pread(self.meta_offset, self.meta_length)
        if m[:8] != b"metadata":
            raise MkvhdxError("%s: bad metadata signature" % self.path)
        count = struct.unpack_from("<H", m, 10)[0]
        items = {}
        for i in range(count):
            e = m[32 + 32 * i:64 + 32 * i]
            off, length, flags = struct.unpack_from("<III", e, 16)
            if flags & MD_IS_USER:
                continue
            items[bytes(e[:16])] = m[off:off + length]
        try:
            bs, fp_flags = struct.unpack("<II", items[GUID_FILE_PARAMETERS])
            self.size = struct.unpack("<Q", items[GUID_VIRTUAL_DISK_SIZE])[0]
            self.lss = struct.unpack("<I", items[GUID_LOGICAL_SECTOR])[0]
            self.pss = struct.unpack("<I", items[GUID_PHYSICAL_SECTOR])[0]
            self.page83 = items[GUID_PAGE83]
        except KeyError as e:
            raise MkvhdxError("%s: required metadata item missing (%s)" %
                              (self.path, e))
        if bs & (bs - 1) or not MiB <= bs <= 256 * MiB:
            raise MkvhdxError("%s: bad block size %d" % (self.path, bs))
        self.block_size = bs
        self.leave_blocks_allocated = bool(fp_flags & 1)
        self.has_parent = bool(fp_flags & 2)
        self.locator = {}
        if self.has_parent:
            self.locator = decode_locator(items.get(GUID_PARENT_LOCATOR),
                                          self.path)

    def _load_bat(self):
        self.geo = Geometry(self.size, self.block_size, self.lss,
                            self.has_parent)
        n = self.geo.total_entries
        raw = self._pread(self.bat_offset, n * 8)
        self.bat = struct.unpack("<%dQ" % n, raw)

    def _open_parent(self, override, depth, seen):
        link = self.locator.get("parent_linkage")
        if link is None:
            raise MkvhdxError("%s: parent locator has no parent_linkage" %
                              self.path)
        want = parse_guid_arg(link)
        here = os.path.dirname(os.path.abspath(self.path))
        cands = []
        if override:
            cands.append(override)
        else:
            rel = self.locator.get("relative_path")
            if rel:
                cands.append(os.path.join(here, rel.replace("\\", "/")))
            for key in ("volume_path", "absolute_win32_path"):
                val = self.locator.get(key)
                if val:
                    cands.append(os.path.join(here, val.split("\\")[-1]))
        for c in cands:
            if not os.path.exists(c):
                continue
            p = VhdxReader(c, None, depth + 1, seen)
            if p.data_write_guid != want:
                p.close()
                raise MkvhdxError("%s: parent %s does not match its "
                                  "parent_linkage" % (self.path, c))
            return p
        raise MkvhdxError("%s: parent not found (tried %s)" %
                          (self.path, ", ".join(cands) or "nothing"))

    def _entry_offset(self, entry):
        return (entry >> 20) << 20

    def read_parent(self, off, n):
        if not self.has_parent:
            return bytes(n)
        return self.parent.read(off, n)

    def is_sparse(self, off, n):
        """Does [off, off + n) read as zeros without any data read?"""
        g = self.geo
        end = min(off + n, self.size)
        while off < end:
            b = off // g.block_size
            k = min(end, (b + 1) * g.block_size) - off
            st = self.bat[g.payload_index(b)] & 7
            if st in (FULLY_PRESENT, PARTIALLY_PRESENT):
                return False
            if st in (NOT_PRESENT, UNDEFINED) and self.has_parent and \
                    not self.parent.is_sparse(off, k):
                return False
            off += k
        return True

    def read(self, off, n):
        """@n bytes of the virtual disk at @off; zeros past its end."""
        out = bytearray()
        g = self.geo
        while n > 0:
            if off >= self.size:
                out += bytes(n)
                break
            b = off // g.block_size
            inb = off % g.block_size
            k = min(n, g.block_size - inb, self.size - off)
            e = self.bat[g.payload_index(b)]
            st = e & 7
            if st == FULLY_PRESENT:
                out += self._pread(self._entry_offset(e) + inb, k)
            elif st == PARTIALLY_PRESENT:
                sb = self.bat[g.bitmap_index(b // g.chunk_ratio)]
                if sb & 7 != SB_PRESENT:
                    raise MkvhdxError("%s: partial block %d without bitmap" %
                                      (self.path, b))
                bit0 = (b % g.chunk_ratio) * g.sectors_per_block
                first = inb // self.lss
                last = (inb + k - 1) // self.lss
                bits = self._pread(self._entry_offset(sb) + (bit0 + first) // 8,
                                   (bit0 + last) // 8 - (bit0 + first) // 8 + 1)
                data = bytearray(self._pread(self._entry_offset(e) + inb, k))
                par = self.read_parent(off, k)
                base = (bit0 + first) // 8 * 8
                for s in range(first, last + 1):
                    bit = bit0 + s - base
                    if not bits[bit // 8] >> (bit % 8) & 1:
                        lo = max(s * self.lss, inb) - inb
                        hi = min((s + 1) * self.lss, inb + k) - inb
                        data[lo:hi] = par[lo:hi]
                out += data
            elif st in (NOT_PRESENT, UNDEFINED):
                out += self.read_parent(off, k)
            elif st in (ZERO, UNMAPPED):
                out += bytes(k)
            else:
                raise MkvhdxError("%s: block %d in reserved state %d" %
                                  (self.path, b, st))
            off += k
            n -= k
        return bytes(out)


def decode_locator(pl, path):
    if pl is None or len(pl) < 20:
        raise MkvhdxError("%s: differencing disk without a parent locator" %
                          path)
    if pl[:16] != GUID_LOCATOR_TYPE_VHDX:
        raise MkvhdxError("%s: parent locator type is not VHDX" % path)
    count = struct.unpack_from("<H", pl, 18)[0]
    out = {}
    for i in range(count):
        ko, vo, kl, vl = struct.unpack_from("<IIHH", pl, 20 + 12 * i)
        out[pl[ko:ko + kl].decode("utf-16-le")] = \
            pl[vo:vo + vl].decode("utf-16-le")
    return out


class RawParent:
    """A parent given as raw virtual content (--parent-raw)."""

    def __init__(self, path):
        self.f = open(path, "rb")
        self.size = os.fstat(self.f.fileno()).st_size

    def read(self, off, n):
        self.f.seek(off)
        data = self.f.read(n)
        return data + bytes(n - len(data))

    def is_sparse(self, off, n):
        """A hole (or past the end) over the whole range?"""
        if off >= self.size:
            return True
        try:
            data = os.lseek(self.f.fileno(), off, os.SEEK_DATA)
        except OSError:
            return True  # ENXIO: no data from @off on
        return data >= off + n

    def close(self):
        self.f.close()


# ---- writer ----


def encode_header(seq, file_write_guid, data_write_guid, log_guid):
    h = bytearray(HEADER_SIZE)
    h[0:4] = b"head"
    struct.pack_into("<Q", h, 8, seq)
    h[16:32] = file_write_guid
    h[32:48] = data_write_guid
    h[48:64] = log_guid
    struct.pack_into("<HHIQ", h, 64, 0, 1, LOG_LENGTH, LOG_OFFSET)
    struct.pack_into("<I", h, 4, crc_with_zero_field(h, 4))
    return h


def encode_region_table(entries):
    """@entries: (guid, offset, length, required)."""
    t = bytearray(REGION_TABLE_SIZE)
    t[0:4] = b"regi"
    struct.pack_into("<II", t, 8, len(entries), 0)
    for i, (g, off, length, req) in enumerate(entries):
        struct.pack_into("<16sQII", t, 16 + 32 * i, g, off, length,
                         1 if req else 0)
    struct.pack_into("<I", t, 4, crc_with_zero_field(t, 4))
    return t


def encode_locator(pairs):
    """Parent locator item ([MS-VHDX] 2.6.2.6) from (key, value) pairs."""
    head = bytearray(GUID_LOCATOR_TYPE_VHDX)
    head += struct.pack("<HH", 0, len(pairs))
    strings = bytearray()
    base = 20 + 12 * len(pairs)
    for k, v in pairs:
        kb = k.encode("utf-16-le")
        vb = v.encode("utf-16-le")
        ko = base + len(strings)
        strings += kb
        vo = base + len(strings)
        strings += vb
        head += struct.pack("<IIHH", ko, vo, len(kb), len(vb))
    return bytes(head + strings)


def encode_metadata(items):
    """@items: (guid, flags, data); data placed from 64 KiB on."""
    m = bytearray(META_LENGTH)
    m[0:8] = b"metadata"
    struct.pack_into("<HH", m, 8, 0, len(items))
    off = META_TABLE_SIZE
    for i, (g, flags, data) in enumerate(items):
        struct.pack_into("<16sIIII", m, 32 + 32 * i, g, off, len(data), flags,
                         0)
        m[off:off + len(data)] = data
        off = round_up(off + len(data), 8)
    if off > META_LENGTH:
        raise MkvhdxError("metadata items do not fit in 1 MiB")
    return m


class Image:
    def __init__(self, args):
        self.args = args
        self.parent = None
        self.parent_dwg = None
        self.differencing = bool(args.parent or args.parent_name or
                                 args.parent_raw)
        if args.parent:
            self.parent = VhdxReader(args.parent)
            self.parent_dwg = self.parent.data_write_guid
        elif args.parent_raw:
            self.parent = RawParent(args.parent_raw)
        self.lss = args.logical_sector
        self.pss = args.physical_sector
        size = args.size
        if size is None:
            if not isinstance(self.parent, VhdxReader):
                raise MkvhdxError("--size is needed")
            size = self.parent.size
        if isinstance(self.parent, VhdxReader):
            if args.logical_sector_given and self.parent.lss != self.lss:
                raise MkvhdxError("the parent has %d-byte sectors" %
                                  self.parent.lss)
            self.lss = self.parent.lss
        self.block_size = args.block_size
        if (self.block_size & (self.block_size - 1) or
                not MiB <= self.block_size <= 256 * MiB):
            raise MkvhdxError("--block-size must be a power of 2 from 1M "
                              "to 256M")
        if size == 0 or size % self.lss:
            raise MkvhdxError("--size must be a non-zero multiple of %d" %
                              self.lss)
        self.size = size
        if self.differencing and args.type == "fixed":
            raise MkvhdxError("a differencing disk cannot be fixed")
        self.fixed = args.type == "fixed"
        self.geo = Geometry(size, self.block_size, self.lss,
                            self.differencing)
        self.blocks = {}  # block -> bytearray(block_size): bytes in the file
        self.present = {}  # differencing: block -> bytearray, 1 per sector
        self.state = {}  # block -> payload state (default NOT_PRESENT)
        self.data_write_guid = args.data_write_guid or uuid.uuid4().bytes_le
        self.file_write_guid = args.file_write_guid or uuid.uuid4().bytes_le
        self.page83 = args.virtual_disk_id or uuid.uuid4().bytes_le

    # -- content --

    def apply_writes(self):
        g = self.geo
        for off, length, seed in self.args.write:
            if off % self.lss or length % self.lss or length == 0:
                raise MkvhdxError("--write %d:%d: not a non-empty run of "
                                  "whole %d-byte sectors" %
                                  (off, length, self.lss))
            if off + length > self.size:
                raise MkvhdxError("--write %d:%d: past the end of the disk" %
                                  (off, length))
            data = random.Random(seed).randbytes(length)
            pos = off
            while pos < off + length:
                b = pos // g.block_size
                inb = pos % g.block_size
                n = min(g.block_size - inb, off + length - pos)
                blk = self.blocks.setdefault(b, bytearray(g.block_size))
                blk[inb:inb + n] = data[pos - off:pos - off + n]
                if self.differencing:
                    pr = self.present.setdefault(
                        b, bytearray(g.sectors_per_block))
                    for s in range(inb // self.lss, (inb + n) // self.lss):
                        pr[s] = 1
                pos += n
        for b in self.blocks:
            if not self.differencing:
                self.state[b] = FULLY_PRESENT
                continue
            pr = self.present[b]
            inside = (g.span(b) + self.lss - 1) // self.lss
            self.state[b] = (FULLY_PRESENT if all(pr[:inside])
                             else PARTIALLY_PRESENT)
        for b, st in [(b, ZERO) for b in self.args.zero_block] + \
                [(b, UNMAPPED) for b in self.args.unmap_block]:
            if not 0 <= b < g.data_blocks:
                raise MkvhdxError("block %d is outside the disk (%d blocks)" %
                                  (b, g.data_blocks))
            if self.fixed:
                raise MkvhdxError("a fixed disk keeps every block present")
            self.blocks.pop(b, None)
            self.present.pop(b, None)
            self.state[b] = st
        if self.fixed:
            for b in range(g.data_blocks):
                self.state[b] = FULLY_PRESENT
        # Partial blocks: sectors whose bit is 0 hold garbage in the file.
        for b, st in self.state.items():
            if st != PARTIALLY_PRESENT:
                continue
            blk, pr = self.blocks[b], self.present[b]
            for s in range(g.sectors_per_block):
                if not pr[s] and s * self.lss < g.span(b):
                    blk[s * self.lss:(s + 1) * self.lss] = \
                        bytes([GARBAGE]) * self.lss

    def parent_read(self, off, n):
        if self.parent is None:
            if self.differencing:
                raise MkvhdxError("--expect-raw of a differencing disk needs "
                                  "--parent or --parent-raw")
            return bytes(n)
        if isinstance(self.parent, VhdxReader) and off >= self.parent.size:
            return bytes(n)
        if isinstance(self.parent, VhdxReader):
            k = min(n, self.parent.size - off)
            return self.parent.read(off, k) + bytes(n - k)
        return self.parent.read(off, n)

    def expected_is_sparse(self, b):
        """Block @b reads as zeros and needs no reading to know it."""
        g = self.geo
        st = self.state.get(b, NOT_PRESENT)
        if st in (ZERO, UNMAPPED):
            return True
        if st != NOT_PRESENT:
            return False
        if not self.differencing:
            return True
        return self.parent is not None and \
            self.parent.is_sparse(b * g.block_size, g.span(b))

    def expected_block(self, b):
        """What block @b of the virtual disk must read as (span bytes)."""
        g = self.geo
        span = g.span(b)
        off = b * g.block_size
        st = self.state.get(b, NOT_PRESENT)
        if st == FULLY_PRESENT:
            return bytes(self.blocks[b][:span]) if b in self.blocks \
                else bytes(span)
        if st in (ZERO, UNMAPPED):
            return bytes(span)
        if st == NOT_PRESENT:
            return self.parent_read(off, span) if self.differencing \
                else bytes(span)
        # PARTIALLY_PRESENT
        out = bytearray(self.parent_read(off, span))
        blk, pr = self.blocks[b], self.present[b]
        for s in range(g.sectors_per_block):
            lo = s * self.lss
            if lo >= span:
                break
            if pr[s]:
                out[lo:lo + self.lss] = blk[lo:lo + self.lss]
        return bytes(out)

    # -- layout --

    def layout(self):
        """Assign file offsets; returns the BAT as a list of u64."""
        g = self.geo
        bat = [0] * g.total_entries
        self.bat_length = round_up(max(g.total_entries * 8, 1), MiB)
        nxt = BAT_OFFSET + self.bat_length
        self.block_offset = {}
        self.bitmap_offset = {}
        partial_chunks = {b // g.chunk_ratio for b, st in self.state.items()
                          if st == PARTIALLY_PRESENT}
        if self.differencing and self.args.bitmap_every_chunk:
            partial_chunks = set(range(g.bitmap_blocks))
        for b in range(g.data_blocks):
            st = self.state.get(b, NOT_PRESENT)
            idx = g.payload_index(b)
            if st in (FULLY_PRESENT, PARTIALLY_PRESENT):
                self.block_offset[b] = nxt
                bat[idx] = st | (nxt >> 20) << 20
                nxt += g.block_size
            else:
                bat[idx] = st
            last_of_chunk = (b % g.chunk_ratio == g.chunk_ratio - 1 or
                             b == g.data_blocks - 1)
            c = b // g.chunk_ratio
            if last_of_chunk and c in partial_chunks:
                self.bitmap_offset[c] = nxt
                bat[g.bitmap_index(c)] = SB_PRESENT | (nxt >> 20) << 20
                nxt += SB_BLOCK_SIZE
        self.file_end = nxt
        return bat

    def bitmap_block(self, c):
        """Sector bitmap block of chunk @c: bit i = sector i of the chunk,
        LSB first in each byte, set = sector in this file."""
        g = self.geo
        sb = bytearray(SB_BLOCK_SIZE)
        for k in range(g.chunk_ratio):
            b = c * g.chunk_ratio + k
            if self.state.get(b) != PARTIALLY_PRESENT:
                continue
            pr = self.present[b]
            bit0 = k * g.sectors_per_block
            for s in range(g.sectors_per_block):
                if pr[s]:
                    i = bit0 + s
                    sb[i // 8] |= 1 << (i % 8)
        return sb

    def locator_pairs(self, linkage):
        a = self.args
        name = a.parent_name or os.path.basename(a.parent or a.parent_raw)
        pairs = [("parent_linkage", "{%s}" % guid_text(linkage)),
                 ("relative_path", a.relative_path or ".\\" + name)]
        if a.volume_path:
            pairs.append(("volume_path", a.volume_path))
        pairs.append(("absolute_win32_path",
                      a.absolute_path or "C:\\vms\\" + name))
        return pairs

    def metadata_items(self, corrupt):
        a = self.args
        bs = self.block_size
        if corrupt == "block-size-not-pow2":
            bs = 3 * MiB
        elif corrupt == "block-size-too-big":
            bs = 512 * MiB
        flags = (1 if self.fixed else 0) | (2 if self.differencing else 0)
        vd = MD_IS_VIRTUAL_DISK | MD_IS_REQUIRED
        items = [(GUID_FILE_PARAMETERS, MD_IS_REQUIRED,
                  struct.pack("<II", bs, flags))]
        if corrupt != "missing-required-metadata":
            items.append((GUID_VIRTUAL_DISK_SIZE, vd,
                          struct.pack("<Q", self.size)))
        items += [(GUID_PAGE83, vd, self.page83),
                  (GUID_LOGICAL_SECTOR, vd, struct.pack("<I", self.lss)),
                  (GUID_PHYSICAL_SECTOR, vd, struct.pack("<I", self.pss))]
        if self.differencing:
            linkage = a.parent_linkage_guid or self.parent_dwg
            if linkage is None:
                raise MkvhdxError("a differencing disk without --parent "
                                  "needs --parent-linkage-guid")
            if corrupt == "parent-linkage-mismatch":
                linkage = uuid.uuid4().bytes_le
            items.append((GUID_PARENT_LOCATOR, MD_IS_REQUIRED,
                          encode_locator(self.locator_pairs(linkage))))
        return items

    def prepare_corruption(self, corrupt):
        """Make sure the blocks a corruption aims at exist."""
        g = self.geo
        if corrupt in ("partial-without-bitmap", "parent-linkage-mismatch"):
            if not self.differencing:
                raise MkvhdxError("--corrupt %s needs a differencing disk "
                                  "(--parent or --parent-name)" % corrupt)
        if corrupt == "partial-without-bitmap" and \
                PARTIALLY_PRESENT not in self.state.values():
            self.args.write.append((0, self.lss, 1))
            self.apply_writes()
        need = {"bat-past-eof": 1, "bat-in-metadata": 1, "bat-overlap": 2}
        if corrupt in need:
            if g.data_blocks < need[corrupt]:
                raise MkvhdxError("--corrupt %s needs a disk of %d blocks" %
                                  (corrupt, need[corrupt]))
            for b in range(need[corrupt]):
                if self.state.get(b) not in (FULLY_PRESENT,
                                             PARTIALLY_PRESENT):
                    self.blocks[b] = bytearray(g.block_size)
                    self.state[b] = FULLY_PRESENT
                    if self.differencing:
                        self.present[b] = bytearray(
                            [1]) * g.sectors_per_block

    def write(self, out):
        a = self.args
        corrupt = a.corrupt
        self.prepare_corruption(corrupt)
        g = self.geo
        bat = self.layout()
        file_end = self.file_end

        if corrupt == "bat-past-eof":
            bat[g.payload_index(0)] = FULLY_PRESENT | \
                ((round_up(file_end, MiB) + 16 * MiB) >> 20) << 20
        elif corrupt == "bat-in-metadata":
            bat[g.payload_index(0)] = FULLY_PRESENT | (META_OFFSET >> 20) << 20
        elif corrupt == "bat-overlap":
            bat[g.payload_index(1)] = (bat[g.payload_index(1)] & 7) | \
                (bat[g.payload_index(0)] >> 20) << 20
        elif corrupt == "bat-reserved-state":
            bat[g.payload_index(0)] = 4
        elif corrupt == "partial-without-bitmap":
            for c in range(g.bitmap_blocks):
                bat[g.bitmap_index(c)] = SB_NOT_PRESENT

        regions = [(GUID_BAT, BAT_OFFSET, self.bat_length, True),
                   (GUID_METADATA, META_OFFSET, META_LENGTH, True)]
        if corrupt == "unknown-required-region":
            regions.append((GUID_UNKNOWN_REGION, round_up(file_end, MiB),
                            MiB, True))
            file_end = round_up(file_end, MiB) + MiB

        seqs = (1, 1) if a.equal_sequence else (1, 2)
        if corrupt == "header1-crc":
            seqs = (2, 1)
        headers = [encode_header(s, self.file_write_guid,
                                 self.data_write_guid, bytes(16))
                   for s in seqs]
        tables = [encode_region_table(regions) for _ in range(2)]
        if corrupt == "header1-crc":
            headers[0][48:64] = uuid.uuid4().bytes_le  # CRC left stale
        elif corrupt == "both-headers-crc":
            for h in headers:
                h[100] ^= 0x5A
        elif corrupt == "region1-crc":
            off = struct.unpack_from("<Q", tables[0], 16 + 16)[0]
            struct.pack_into("<Q", tables[0], 16 + 16, off + MiB)
        elif corrupt == "both-regions-crc":
            for t in tables:
                t[1000] ^= 0x5A

        file_id = bytearray(64 * KiB)
        file_id[0:8] = b"vhdxfilE" if corrupt == "bad-file-id" \
            else b"vhdxfile"
        creator = a.creator.encode("utf-16-le")[:512]
        file_id[8:8 + len(creator)] = creator

        tmp = out + ".tmp"
        with open(tmp, "wb") as f:
            f.truncate(file_end)

            def put(off, data):
                f.seek(off)
                f.write(data)

            put(FILE_ID_OFFSET, file_id)
            put(HEADER_OFFSETS[0], headers[0])
            put(HEADER_OFFSETS[1], headers[1])
            put(REGION_OFFSETS[0], tables[0])
            put(REGION_OFFSETS[1], tables[1])
            put(META_OFFSET, encode_metadata(self.metadata_items(corrupt)))
            put(BAT_OFFSET, struct.pack("<%dQ" % len(bat), *bat))
            for b, foff in sorted(self.block_offset.items()):
                blk = self.blocks.get(b)
                if blk is None:
                    continue  # a fixed disk's unwritten block: a hole
                write_sparse(f, foff, blk)
            for c, foff in sorted(self.bitmap_offset.items()):
                put(foff, self.bitmap_block(c))
        os.replace(tmp, out)

    def write_expected(self, path):
        g = self.geo
        with open(path + ".tmp", "wb") as f:
            f.truncate(self.size)
            for b in range(g.data_blocks):
                if self.expected_is_sparse(b):
                    continue
                write_sparse(f, b * g.block_size, self.expected_block(b))
        os.replace(path + ".tmp", path)

    def verify(self, out, parent_override=None):
        """Read @out back with the reader: it must equal expected_block()."""
        r = VhdxReader(out, parent_override)
        try:
            g = self.geo
            for b in range(g.data_blocks):
                if self.expected_is_sparse(b) and \
                        r.is_sparse(b * g.block_size, g.span(b)):
                    continue
                got = r.read(b * g.block_size, g.span(b))
                if got != self.expected_block(b):
                    raise MkvhdxError("%s: read back block %d differs from "
                                      "what was written (generator bug)" %
                                      (out, b))
        finally:
            r.close()


def read_mode(args):
    """--read IN: write IN's virtual content (through its chain) as raw."""
    if not args.expect_raw:
        raise MkvhdxError("--read needs --expect-raw RAW_OUT")
    r = VhdxReader(args.read, args.parent)
    try:
        with open(args.expect_raw + ".tmp", "wb") as f:
            f.truncate(r.size)
            step = r.block_size
            for off in range(0, r.size, step):
                if r.is_sparse(off, min(step, r.size - off)):
                    continue
                write_sparse(f, off, r.read(off, min(step, r.size - off)))
        os.replace(args.expect_raw + ".tmp", args.expect_raw)
    finally:
        r.close()


def build_parser():
    def para(text):
        return textwrap.fill(" ".join(text.split()), 79)

    corrupt_help = "\n".join(
        textwrap.fill(v, 79, initial_indent="  %-25s " % k,
                      subsequent_indent=" " * 28)
        for k, v in CORRUPT_KINDS.items())
    epilog = "\n\n".join([
        para("""Block states: a --write makes the blocks it touches
        FULLY_PRESENT (dynamic: the rest of the block reads zero). In a
        differencing disk a block written whole is FULLY_PRESENT; a block
        written in part is PARTIALLY_PRESENT with a sector bitmap, and its
        sectors not written hold 0xEE garbage in the file, so a reader that
        ignores the bitmap fails. --zero-block and --unmap-block are applied
        after all writes (ZERO and UNMAPPED read as zeros, also over a
        parent)."""),
        para("""Differencing disks: --parent P names and reads P (linkage =
        P's DataWriteGuid, relative_path ".\\NAME", absolute_win32_path
        "C:\\vms\\NAME"). Without --parent, give --parent-name and
        --parent-linkage-guid (e.g. to build two files that name each
        other), and --parent-raw for --expect-raw."""),
        para("""--corrupt KIND writes a file with exactly one structural
        problem (--expect-raw still gives the intended content):""") +
        "\n" + corrupt_help,
        "Examples:\n"
        "  mkvhdx.py base.vhdx --size 64M --write 0:1M:1 --expect-raw b.raw\n"
        "  mkvhdx.py child.vhdx --parent base.vhdx --write 4096:8192:2 \\\n"
        "      --zero-block 0 --expect-raw c.raw\n"
        "  mkvhdx.py --read child.vhdx --expect-raw c.raw"])
    p = argparse.ArgumentParser(
        prog="mkvhdx.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Write a VHDX test image ([MS-VHDX] v1.0) from an "
        "implementation independent of vhdrecover's, and optionally what "
        "its virtual disk must read as.",
        epilog=epilog)
    p.add_argument("out", nargs="?", metavar="OUT",
                   help="VHDX file to write (replaced)")
    p.add_argument("--size", type=parse_size,
                   help="virtual size (K/M/G/T suffixes); default: the "
                   "parent's")
    p.add_argument("--block-size", type=parse_size, default=MiB,
                   help="payload block size, power of 2, 1M..256M "
                   "(default 1M)")
    p.add_argument("--logical-sector", type=int, choices=(512, 4096),
                   default=None, help="logical sector size (default 512, "
                   "or the parent's)")
    p.add_argument("--physical-sector", type=int, choices=(512, 4096),
                   default=4096, help="physical sector size (default 4096)")
    p.add_argument("--type", choices=("dynamic", "fixed"), default="dynamic")
    p.add_argument("--parent", metavar="PARENT.vhdx",
                   help="make a differencing disk over PARENT.vhdx")
    p.add_argument("--parent-raw", metavar="FILE",
                   help="raw content of the parent, for --expect-raw when "
                   "the parent is not given with --parent")
    p.add_argument("--parent-name", metavar="NAME",
                   help="parent file name written in the locator (default: "
                   "basename of --parent)")
    p.add_argument("--parent-linkage-guid", type=parse_guid_arg,
                   metavar="GUID", help="parent_linkage value (default: "
                   "the parent's DataWriteGuid)")
    p.add_argument("--relative-path", metavar="PATH",
                   help="relative_path value (default \".\\NAME\")")
    p.add_argument("--absolute-path", metavar="PATH",
                   help="absolute_win32_path value (default "
                   "\"C:\\vms\\NAME\")")
    p.add_argument("--volume-path", metavar="PATH",
                   help="add a volume_path entry with this value")
    p.add_argument("--data-write-guid", type=parse_guid_arg, metavar="GUID",
                   help="this file's DataWriteGuid (default: random)")
    p.add_argument("--file-write-guid", type=parse_guid_arg, metavar="GUID",
                   help="this file's FileWriteGuid (default: random)")
    p.add_argument("--virtual-disk-id", type=parse_guid_arg, metavar="GUID",
                   help="Page 83 data (default: random)")
    p.add_argument("--creator", default="mkvhdx.py",
                   help="creator in the file type identifier")
    p.add_argument("--equal-sequence", action="store_true",
                   help="write both headers with sequence number 1, "
                   "byte-identical (as Disk2VHD does)")
    p.add_argument("--write", action="append", type=parse_write, default=[],
                   metavar="OFFSET:LENGTH:SEED",
                   help="fill [OFFSET, OFFSET+LENGTH), whole sectors, with "
                   "random.Random(SEED).randbytes(LENGTH); repeatable, "
                   "later writes win")
    p.add_argument("--zero-block", action="append", type=int, default=[],
                   metavar="N", help="payload block N is ZERO")
    p.add_argument("--unmap-block", action="append", type=int, default=[],
                   metavar="N", help="payload block N is UNMAPPED")
    p.add_argument("--bitmap-every-chunk", action="store_true",
                   help="differencing: give every chunk a sector bitmap "
                   "block, not only chunks with partial blocks (Hyper-V "
                   "does; libvhdi 20210425 misreads chunks without one)")
    p.add_argument("--expect-raw", metavar="RAW_OUT",
                   help="write what the virtual disk must read as")
    p.add_argument("--no-verify", action="store_true",
                   help="do not read the new file back to check it")
    p.add_argument("--corrupt", choices=sorted(CORRUPT_KINDS), metavar="KIND",
                   help="break the file in one way; KIND is one of the list "
                   "below")
    p.add_argument("--read", metavar="IN.vhdx",
                   help="write nothing: read IN.vhdx (and its parents, or "
                   "--parent) into --expect-raw")
    return p


def main(argv):
    p = build_parser()
    args = p.parse_args(argv)
    args.logical_sector_given = args.logical_sector is not None
    if args.logical_sector is None:
        args.logical_sector = 512
    try:
        if args.read:
            if args.out:
                p.error("--read takes no OUT")
            read_mode(args)
            return 0
        if not args.out:
            p.error("OUT is required")
        if args.parent and args.parent_raw:
            p.error("--parent and --parent-raw exclude each other")
        img = Image(args)
        img.apply_writes()
        img.write(args.out)
        if args.expect_raw:
            img.write_expected(args.expect_raw)
            if not args.corrupt and not args.no_verify and \
                    (args.parent or not img.differencing):
                img.verify(args.out, args.parent)
        return 0
    except MkvhdxError as e:
        print("mkvhdx.py: %s" % e, file=sys.stderr)
        return 1
    except OSError as e:
        print("mkvhdx.py: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
