/*
 * fuzz_guestfs.c - libFuzzer harness for the guest file system readers
 * (src/guestfs.c, src/extfs.c over libext2fs, src/ntfsfs.c over
 * libntfs-3g): any byte string as an ext2/3/4 or NTFS volume.
 *
 * Input: an 8-byte header, then the first bytes of the volume (beyond them
 * the volume reads as zeros, so a seed keeps only what is not zero at its
 * end):
 *	0  u32 LE  volume size in 512-byte sectors; 0: the bytes given,
 *		   rounded up to a sector
 *	4  u8	   sectors of zeros before the volume: its offset on the disk
 *	5  u8	   flags, FZ_SKIP | FZ_REWALK | FZ_BADBLOCK
 *	6  u16 LE  with FZ_BADBLOCK: the 4 KiB block of the volume whose
 *		   every read fails with -EIO
 * The disk (a disk.h memory backend) is the offset plus the volume.
 *
 * Per input (deterministic):
 *  1. guestfs_open(). A failure must be one of the codes guestfs.h lists,
 *     with the same code and a message in the error context. On success
 *     the type, label and UUID must be NUL-terminated and well-formed.
 *  2. guestfs_walk() with a visitor that checks each entry against the
 *     promises of guestfs.h: an absolute path of non-empty components, no
 *     "." or "..", at most FZ_MAX_DEPTH deep, parents before children
 *     (each entry's parent is on the stack of directories walked into,
 *     so a directory the visitor skipped, or one with a bad name, has no
 *     children); a valid kind whose st_mode type agrees; a symlink's
 *     target (not "") and nothing else's; nanoseconds below 10^9; ext has
 *     no NTFS attributes. It stops the walk after FZ_MAX_ENTRIES entries by
 *     returning FZ_STOP, which the walk must hand back.
 *  3. Inside the visitor, as a restore does: each regular file's first
 *     64 KiB, a piece at an odd offset (overlapping bytes must agree),
 *     100 bytes at offset 1, and a read past the end, each within the
 *     length asked and the file's size; at most FZ_MAX_FILES files and
 *     FZ_MAX_BYTES bytes per walk. Each read has its own error context on
 *     the visitor's stack, as any caller may.
 *  4. FZ_SKIP: the visitor returns GUESTFS_SKIP for directories with an
 *     odd number. FZ_REWALK: a second walk must see the same entries and
 *     read the same bytes (libntfs-3g caches, ntfsfs.c keeps the last file
 *     open). FZ_BADBLOCK: disk read errors reach every path that reads.
 *  5. Reads of inode 0 and of inode 2^64-1 must fail; guestfs_close().
 *
 * FUZZ_GUESTFS_VERBOSE=1 prints what was opened and walked (for checking
 * seeds and for triage); FUZZ_GUESTFS_WAIVE=ntfs-leak makes LeakSanitizer
 * ignore memory allocated inside libntfs-3g (below).
 *
 * Build like fuzz_vhdx_open (tests/fuzz/README.md), then:
 *   tests/fuzz/guestfs_seeds.sh         (ext and NTFS seeds, needs root)
 *   FUZZ_GUESTFS_WAIVE=ntfs-leak \
 *   ./tests/fuzz/fuzz_guestfs -max_len=4194312 -timeout=10 \
 *           CORPUS_DIR ../tests/fuzz/corpus-work/guestfs-seeds
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "disk.h"
#include "fuzz_check.h"
#include "guestfs.h"
#include "vr_endian.h"
#include "vr_err.h"

#define FZ_HDR_SIZE 8
#define FZ_HDR_SECTORS 0  /* u32 */
#define FZ_HDR_OFFSET 4	  /* u8, sectors */
#define FZ_HDR_FLAGS 5	  /* u8 */
#define FZ_HDR_BADBLOCK 6 /* u16, 4 KiB blocks */
_Static_assert(FZ_HDR_BADBLOCK + 2 == FZ_HDR_SIZE, "header layout");

#define FZ_SKIP 0x01
#define FZ_REWALK 0x02
#define FZ_BADBLOCK 0x04

#define FZ_SECTOR 512u
#define FZ_BLOCK 4096u

/* What extfs.c and ntfsfs.c bound a walk to (guestfs.h: "bounded"). */
#define FZ_MAX_DEPTH 128
#define FZ_PATH_MAX 4096
/* Work per walk: libFuzzer runs with -timeout=10. */
#define FZ_MAX_ENTRIES 20000
#define FZ_MAX_FILES 1024
#define FZ_MAX_BYTES (4u << 20)
#define FZ_STOP (-ECANCELED)

#define FZ_HEAD (64u * 1024)
#define FZ_PIECE 3001u
#define FZ_SMALL 100u

struct fz_image {
	const uint8_t *data;
	size_t size;
	uint64_t offset; /* of the volume on the disk */
	bool bad;
	uint64_t bad_off; /* disk offset of the failing block */
};

static int fz_read(void *ctx, void *buf, size_t len, uint64_t off,
		   struct vr_err *err)
{
	const struct fz_image *im = ctx;
	uint8_t *out = buf;
	uint64_t at;
	size_t have, skip;

	/* disk.h checked the range against the disk's size */
	if (im->bad && off < im->bad_off + FZ_BLOCK && im->bad_off < off + len)
		return vr_err_set(err, -EIO,
				  "fuzz: injected read error at 0x%" PRIx64,
				  off);
	memset(out, 0, len);
	skip = off < im->offset ? (size_t)(im->offset - off) : 0;
	if (skip >= len)
		return 0;
	at = off + skip - im->offset;
	if (at >= im->size)
		return 0;
	have = im->size - (size_t)at;
	if (have > len - skip)
		have = len - skip;
	memcpy(out + skip, im->data + at, have);
	return 0;
}

static int fz_extent(void *ctx, uint64_t off, uint64_t len, uint64_t *run,
		     bool *is_zero, struct vr_err *err)
{
	(void)ctx;
	(void)off;
	(void)err;
	*run = len;
	*is_zero = false;
	return 0;
}

/* the disk owns its context: freed at close */
static const struct disk_backend fz_ops = { .read = fz_read,
					    .extent = fz_extent,
					    .close = free };

static int fz_verbose = -1;

/*
 * FUZZ_GUESTFS_WAIVE=ntfs-leak: LeakSanitizer ignores memory allocated
 * inside libntfs-3g (ntfs_device_mount() leaks when it fails on a damaged
 * $AttrDef). Broad: without frame pointers in the library, the stacks
 * LeakSanitizer records at malloc() end there, so a leak of ours through
 * libntfs-3g is hidden too. Replay the corpus without it and with
 * ASAN_OPTIONS=fast_unwind_on_malloc=0 to tell them apart (README.md).
 */

struct fz_walk {
	struct guestfs *fs;
	bool ntfs;
	unsigned flags;
	uint64_t entries, files, bytes, read_errors;
	uint64_t hash; /* FNV-1a of what was seen and read */
	/*
	 * The directories walked into above the current entry: dirs holds
	 * the deepest one's path, dir_len[i] the length of the i-th, each a
	 * prefix of the next.
	 */
	char dirs[FZ_PATH_MAX];
	size_t dir_len[FZ_MAX_DEPTH + 1];
	unsigned ndirs;
};

static uint8_t fz_head[FZ_HEAD], fz_piece[FZ_PIECE], fz_small[FZ_SMALL];

static void fz_hash(struct fz_walk *w, const void *p, size_t len)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		w->hash = (w->hash ^ b[i]) * UINT64_C(0x100000001b3);
}

/* A read's result: within what was asked, an error with its message. */
static int64_t fz_read_check(struct fz_walk *w, uint64_t ino, void *buf,
			     size_t len, uint64_t off)
{
	struct vr_err err = { 0 };
	int64_t got;

	got = guestfs_read(w->fs, ino, buf, len, off, &err);
	if (got < 0) {
		FUZZ_CHECK(err.code < 0 && err.msg[0]);
		w->read_errors++;
		if (fz_verbose > 0)
			fprintf(stderr, "    read %zu at 0x%" PRIx64 ": %s\n",
				len, off, err.msg);
	} else {
		FUZZ_CHECK((uint64_t)got <= len);
		w->bytes += (uint64_t)got;
	}
	return got;
}

/* Read parts of file @e; the bytes go into the hash for FZ_REWALK. */
static void fz_read_file(struct fz_walk *w, const struct guestfs_entry *e)
{
	uint64_t size = e->size, odd = (size / 2) | 1;
	int64_t head, got;
	size_t i;

	if (w->files >= FZ_MAX_FILES || w->bytes >= FZ_MAX_BYTES)
		return;
	w->files++;
	head = fz_read_check(w, e->ino, fz_head, FZ_HEAD, 0);
	if (head < 0)
		return;
	if (fz_verbose > 0)
		fprintf(stderr, "    read %" PRId64 " bytes\n", head);
	FUZZ_CHECK((uint64_t)head <= size);
	if (w->flags & FZ_REWALK) {
		fz_hash(w, &head, sizeof(head));
		fz_hash(w, fz_head, (size_t)head);
	}

	/* a piece at an odd offset: what it shares with the head agrees */
	got = fz_read_check(w, e->ino, fz_piece, FZ_PIECE, odd);
	if (got >= 0) {
		FUZZ_CHECK(odd < size ? (uint64_t)got <= size - odd : got == 0);
		for (i = 0; odd + i < (uint64_t)head && i < (size_t)got; i++)
			FUZZ_CHECK(fz_piece[i] == fz_head[odd + i]);
		if (w->flags & FZ_REWALK) {
			fz_hash(w, &got, sizeof(got));
			fz_hash(w, fz_piece, (size_t)got);
		}
	}

	/* unaligned, after another offset was read */
	got = fz_read_check(w, e->ino, fz_small, FZ_SMALL, 1);
	if (got >= 0) {
		FUZZ_CHECK(size > 1 ? (uint64_t)got <= size - 1 : got == 0);
		for (i = 0; 1 + i < (uint64_t)head && i < (size_t)got; i++)
			FUZZ_CHECK(fz_small[i] == fz_head[1 + i]);
	}

	/* at and past the end: nothing, or an error */
	got = fz_read_check(w, e->ino, fz_small, FZ_SMALL, size);
	FUZZ_CHECK(got <= 0);
	got = fz_read_check(w, e->ino, fz_small, FZ_SMALL, UINT64_MAX - 1);
	FUZZ_CHECK(got <= 0);
	got = fz_read_check(w, e->ino, fz_small, 0, 0);
	FUZZ_CHECK(got == 0 || got < 0);
}

static bool fz_ts_ok(struct timespec ts)
{
	return ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L;
}

/*
 * @path: "/a/b", no empty component, no "." or ".."; returns its depth
 * (1 for "/a").
 */
static unsigned fz_path_depth(const char *path, size_t len)
{
	unsigned depth = 0;
	size_t i = 0, start, n;

	FUZZ_CHECK(len >= 2 && path[0] == '/'); /* "/" is not visited */
	while (i < len) {
		FUZZ_CHECK(path[i] == '/');
		start = ++i;
		while (i < len && path[i] != '/')
			i++;
		n = i - start;
		FUZZ_CHECK(n > 0); /* no "//" and no final '/' */
		FUZZ_CHECK(!(n == 1 && path[start] == '.'));
		FUZZ_CHECK(!(n == 2 && path[start] == '.' &&
			     path[start + 1] == '.'));
		depth++;
	}
	return depth;
}

static int fz_visit(void *ctx, const struct guestfs_entry *e)
{
	struct fz_walk *w = ctx;
	const char *slash;
	size_t len, parent;
	unsigned depth;
	uint32_t type;

	FUZZ_CHECK(e && e->path);
	len = strnlen(e->path, FZ_PATH_MAX);
	FUZZ_CHECK(len < FZ_PATH_MAX);
	if (fz_verbose > 0)
		fprintf(stderr,
			"  %s kind %d ino %" PRIu64 " size %" PRIu64
			" mode %o nlink %" PRIu32 "%s%s%s\n",
			e->path, (int)e->kind, e->ino, e->size, e->mode,
			e->nlink, e->target ? " -> " : "",
			e->target ? e->target : "",
			e->bad_name ? " (bad)" : "");
	depth = fz_path_depth(e->path, len);
	FUZZ_CHECK(depth <= FZ_MAX_DEPTH);

	/* parents first: the parent is a directory walked into */
	slash = strrchr(e->path, '/');
	parent = (size_t)(slash - e->path);
	while (w->ndirs && !(w->dir_len[w->ndirs - 1] == parent &&
			     !memcmp(w->dirs, e->path, parent)))
		w->ndirs--;
	FUZZ_CHECK(parent == 0 ? w->ndirs == 0 : w->ndirs > 0);
	FUZZ_CHECK(w->ndirs + 1 == depth);

	FUZZ_CHECK(e->kind == GUESTFS_FILE || e->kind == GUESTFS_DIR ||
		   e->kind == GUESTFS_SYMLINK || e->kind == GUESTFS_OTHER);
	type = e->mode & S_IFMT;
	switch (e->kind) {
	case GUESTFS_FILE:
		FUZZ_CHECK(type == S_IFREG);
		break;
	case GUESTFS_DIR:
		FUZZ_CHECK(type == S_IFDIR);
		break;
	case GUESTFS_SYMLINK:
		FUZZ_CHECK(type == S_IFLNK);
		break;
	case GUESTFS_OTHER: /* devices, FIFOs, links with no target */
		FUZZ_CHECK(type != S_IFREG && type != S_IFDIR);
		break;
	}
	FUZZ_CHECK((e->kind == GUESTFS_SYMLINK) == (e->target != NULL));
	if (e->target) {
		len = strnlen(e->target, 1 << 20);
		FUZZ_CHECK(len < (1 << 20));
		/* symlink(2) cannot make one to "" */
		FUZZ_CHECK(len > 0);
		/* NTFS: the size of a symlink is its target's length */
		FUZZ_CHECK(!w->ntfs || e->size == len);
	}
	FUZZ_CHECK(e->ino != 0);
	FUZZ_CHECK(fz_ts_ok(e->atime) && fz_ts_ok(e->mtime) &&
		   fz_ts_ok(e->ctime) && fz_ts_ok(e->btime));
	FUZZ_CHECK(w->ntfs || e->attributes == 0);

	fz_hash(w, e->path, strlen(e->path) + 1);
	fz_hash(w, &e->kind, sizeof(e->kind));
	fz_hash(w, &e->ino, sizeof(e->ino));
	fz_hash(w, &e->size, sizeof(e->size));
	if (++w->entries >= FZ_MAX_ENTRIES)
		return FZ_STOP;
	if (e->kind == GUESTFS_FILE)
		fz_read_file(w, e);
	if (e->kind != GUESTFS_DIR || e->bad_name)
		return 0;
	if ((w->flags & FZ_SKIP) && (e->ino & 1))
		return GUESTFS_SKIP;
	/* it may be walked into (unless seen before or too deep) */
	FUZZ_CHECK(w->ndirs < FZ_MAX_DEPTH + 1);
	memcpy(w->dirs, e->path, strlen(e->path));
	w->dir_len[w->ndirs++] = strlen(e->path);
	return 0;
}

/* Walk everything; returns the walk's result, @w holds what it saw. */
static int fz_walk(struct guestfs *fs, bool ntfs, unsigned flags,
		   struct fz_walk *w)
{
	struct vr_err err = { 0 };
	int rc;

	memset(w, 0, sizeof(*w));
	w->fs = fs;
	w->ntfs = ntfs;
	w->flags = flags;
	w->hash = UINT64_C(0xcbf29ce484222325);
	rc = guestfs_walk(fs, fz_visit, w, &err);
	if (fz_verbose > 0)
		fprintf(stderr,
			"walk: %d (%s), %" PRIu64 " entries, %" PRIu64
			" files, %" PRIu64 " bytes read\n",
			rc, err.msg, w->entries, w->files, w->bytes);
	if (w->entries >= FZ_MAX_ENTRIES) {
		FUZZ_CHECK(rc == FZ_STOP);
	} else if (rc < 0) {
		FUZZ_CHECK(rc != FZ_STOP);
		FUZZ_CHECK(err.code == rc && err.msg[0]);
	} else {
		FUZZ_CHECK(rc == 0);
	}
	return rc;
}

static bool fz_is_hex(const char *s, size_t n, bool upper)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (!upper && s[i] >= 'a' && s[i] <= 'f') ||
		      (upper && s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return true;
}

static void fz_check_names(struct guestfs *fs, bool ntfs)
{
	const char *label = guestfs_label(fs), *uuid = guestfs_uuid(fs);

	FUZZ_CHECK(label && strnlen(label, 64) < 64);
	FUZZ_CHECK(uuid);
	if (ntfs) {
		FUZZ_CHECK(strlen(uuid) == 16 && fz_is_hex(uuid, 16, true));
	} else {
		FUZZ_CHECK(strlen(uuid) == 36);
		FUZZ_CHECK(uuid[8] == '-' && uuid[13] == '-' &&
			   uuid[18] == '-' && uuid[23] == '-');
		FUZZ_CHECK(fz_is_hex(uuid, 8, false) &&
			   fz_is_hex(uuid + 9, 4, false) &&
			   fz_is_hex(uuid + 14, 4, false) &&
			   fz_is_hex(uuid + 19, 4, false) &&
			   fz_is_hex(uuid + 24, 12, false));
	}
	FUZZ_CHECK(guestfs_is_casefold(fs) == ntfs);
}

const char *__lsan_default_suppressions(void);

/* Read by LeakSanitizer before its first leak check. */
const char *__lsan_default_suppressions(void)
{
	const char *waive = getenv("FUZZ_GUESTFS_WAIVE");

	if (waive && strstr(waive, "ntfs-leak"))
		return "leak:libntfs-3g.so\n";
	return "";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz_walk w1, w2;
	struct fz_image *im;
	struct guestfs *fs = NULL;
	struct vr_err err = { 0 };
	struct disk *d = NULL;
	uint64_t vol_bytes, disk_bytes;
	const char *type;
	unsigned flags;
	bool ntfs;
	int rc, rc2;

	if (fz_verbose < 0) {
		fz_verbose = getenv("FUZZ_GUESTFS_VERBOSE") != NULL;
	}
	if (size < FZ_HDR_SIZE)
		return 0;
	im = calloc(1, sizeof(*im));
	if (!im)
		return 0;
	im->data = data + FZ_HDR_SIZE;
	im->size = size - FZ_HDR_SIZE;
	vol_bytes = (uint64_t)vr_get_le32(data + FZ_HDR_SECTORS) * FZ_SECTOR;
	if (vol_bytes == 0)
		vol_bytes = (im->size + FZ_SECTOR - 1) / FZ_SECTOR * FZ_SECTOR;
	im->offset = (uint64_t)data[FZ_HDR_OFFSET] * FZ_SECTOR;
	flags = data[FZ_HDR_FLAGS];
	im->bad = flags & FZ_BADBLOCK;
	im->bad_off = im->offset +
		      (uint64_t)vr_get_le16(data + FZ_HDR_BADBLOCK) * FZ_BLOCK;
	disk_bytes = im->offset + vol_bytes;
	if (disk_open_backend("fuzz", DISK_FORMAT_RAW, disk_bytes, &fz_ops, im,
			      &d, &err) < 0)
		return 0;

	rc = guestfs_open(d, im->offset, vol_bytes, &fs, &err);
	if (rc < 0) {
		if (fz_verbose > 0)
			fprintf(stderr, "open: %d: %s\n", rc, err.msg);
		FUZZ_CHECK(rc == -EINVAL || rc == -ENOTSUP ||
			   rc == -VR_ECORRUPT || rc == -ENOMEM || rc == -EIO);
		FUZZ_CHECK(err.code == rc && err.msg[0]);
		FUZZ_CHECK(fs == NULL);
		disk_close(d);
		return 0;
	}
	FUZZ_CHECK(fs);
	type = guestfs_type(fs);
	FUZZ_CHECK(type);
	ntfs = !strcmp(type, "ntfs");
	FUZZ_CHECK(ntfs || !strcmp(type, "ext2") || !strcmp(type, "ext3") ||
		   !strcmp(type, "ext4"));
	fz_check_names(fs, ntfs);
	if (fz_verbose > 0)
		fprintf(stderr, "open: %s label \"%s\" uuid %s\n", type,
			guestfs_label(fs), guestfs_uuid(fs));

	rc = fz_walk(fs, ntfs, flags, &w1);
	if (flags & FZ_REWALK) {
		/* read-only: the same again, whatever the caches hold */
		rc2 = fz_walk(fs, ntfs, flags, &w2);
		FUZZ_CHECK(rc2 == rc);
		FUZZ_CHECK(w2.entries == w1.entries && w2.files == w1.files &&
			   w2.bytes == w1.bytes && w2.hash == w1.hash);
	}

	/* no file 0, no file 2^64-1 */
	memset(&err, 0, sizeof(err));
	FUZZ_CHECK(guestfs_read(fs, 0, fz_small, FZ_SMALL, 0, &err) < 0);
	FUZZ_CHECK(err.code < 0 && err.msg[0]);
	memset(&err, 0, sizeof(err));
	FUZZ_CHECK(guestfs_read(fs, UINT64_MAX, fz_small, FZ_SMALL, 0, &err) <
		   0);
	FUZZ_CHECK(err.code < 0 && err.msg[0]);

	guestfs_close(fs);
	disk_close(d);
	return 0;
}
