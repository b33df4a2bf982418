/*
 * ntfsfs.c - NTFS through libntfs-3g (ntfsfs.h, guestfs.h). Our device
 * operations read a struct disk at the partition's offset, checked against
 * the partition's size; the volume is mounted read-only and the device
 * refuses every write with EROFS, so an unclean journal or a hibernated
 * Windows (which libntfs-3g only checks for read-write mounts) do not stop
 * us and nothing on the disk can change.
 *
 * What a walk shows: every name under the root in UTF-8, except the DOS
 * 8.3 aliases (a second name of a file that already has its long one),
 * "." and "..", and the system files (MFT records below 16). Symbolic
 * links are the reparse points IO_REPARSE_TAG_SYMLINK (Windows) and
 * IO_REPARSE_TAG_LX_SYMLINK (WSL, ntfs-3g -o special_files=wsl) and the
 * Interix "IntxLNK" system files ntfs-3g writes by default; other reparse
 * points (junctions, deduplicated or cloud files, WSL devices) are
 * GUESTFS_OTHER, as their data is not what reading the file gives.
 *
 * libntfs-3g reports through errno and its log (ntfs_log_*). Our log
 * handler prints nothing: it keeps the first error line of the calling
 * thread's current operation, which becomes the reason in our message.
 * A disk read error inside the library is kept by the device operations
 * and wins over the library's view of it.
 */
#include <config.h>
#include "ntfsfs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <ntfs-3g/types.h>
#include <ntfs-3g/attrib.h>
#include <ntfs-3g/cache.h>
#include <ntfs-3g/device.h>
#include <ntfs-3g/dir.h>
#include <ntfs-3g/inode.h>
#include <ntfs-3g/layout.h>
#include <ntfs-3g/logging.h>
#include <ntfs-3g/reparse.h>
#include <ntfs-3g/unistr.h>
#include <ntfs-3g/volume.h>

#include "disk.h"
#include "guestfs.h"
#include "strmap.h"
#include "vr_endian.h"
#include "vr_err.h"

/* Directories deeper than this are not walked: a corrupt tree cannot loop. */
#define NTFSFS_MAX_DEPTH 128
#define NTFSFS_PATH_MAX 4096
/* One device read at most this long; ntfs_pread() loops over the rest. */
#define NTFSFS_IO_MAX (1u << 30)

/* Boot sector fields (libntfs-3g's NTFS_BOOT_SECTOR in layout.h) */
#define NTFSFS_BOOT_OEM_ID 3  /* "NTFS    " */
#define NTFSFS_BOOT_SERIAL 72 /* u64, volume serial number */
#define NTFSFS_BOOT_SIZE 512
_Static_assert(NTFSFS_BOOT_SERIAL + 8 <= NTFSFS_BOOT_SIZE, "boot layout");

/* Seconds from 1601-01-01 (NTFS time 0) to 1970-01-01. */
#define NTFSFS_EPOCH_DELTA INT64_C(11644473600)
#define NTFSFS_TICKS_PER_SEC INT64_C(10000000) /* 100 ns units */

/* Reparse point ([MS-FSCC] 2.1.2): tag, data length, reserved, data */
#define NTFSFS_RP_TAG 0	     /* u32 */
#define NTFSFS_RP_DATA_LEN 4 /* u16 */
#define NTFSFS_RP_DATA 8
/* Windows caps it at 16 KiB (MAXIMUM_REPARSE_DATA_BUFFER_SIZE). */
#define NTFSFS_RP_MAX 16384
#define NTFSFS_TAG_MOUNT_POINT 0xa0000003u
#define NTFSFS_TAG_SYMLINK 0xa000000cu
#define NTFSFS_TAG_LX_SYMLINK 0xa000001du
#define NTFSFS_TAG_AF_UNIX 0x80000023u
#define NTFSFS_TAG_LX_FIFO 0x80000024u
#define NTFSFS_TAG_LX_CHR 0x80000025u
#define NTFSFS_TAG_LX_BLK 0x80000026u
/* Symbolic link reparse data ([MS-FSCC] 2.1.2.4), from NTFSFS_RP_DATA */
#define NTFSFS_SL_SUBST_OFF 0 /* u16, into the path buffer */
#define NTFSFS_SL_SUBST_LEN 2 /* u16, bytes */
#define NTFSFS_SL_PRINT_OFF 4 /* u16 */
#define NTFSFS_SL_PRINT_LEN 6 /* u16 */
#define NTFSFS_SL_FLAGS 8     /* u32 */
#define NTFSFS_SL_PATH 12
#define NTFSFS_SL_RELATIVE 1u
/* WSL symlink data: a u32 version, then the target in UTF-8 */
#define NTFSFS_LX_TARGET 4

/*
 * Interix special files: an 8-byte magic, then for links the UTF-16LE
 * target, for devices major and minor as u64. ntfs-3g reads a link of at
 * most 8 + 2 * PATH_MAX bytes; so do we.
 */
#define NTFSFS_INTX_MAGIC 8
#define NTFSFS_INTX_DEV_SIZE 24
#define NTFSFS_INTX_MAX (NTFSFS_INTX_MAGIC + 2 * NTFSFS_PATH_MAX)
static const uint8_t ntfsfs_intx_lnk[NTFSFS_INTX_MAGIC] = { 'I', 'n', 't', 'x',
							    'L', 'N', 'K', 1 };
static const uint8_t ntfsfs_intx_chr[NTFSFS_INTX_MAGIC] = { 'I', 'n', 't', 'x',
							    'C', 'H', 'R', 0 };
static const uint8_t ntfsfs_intx_blk[NTFSFS_INTX_MAGIC] = { 'I', 'n', 't', 'x',
							    'B', 'L', 'K', 0 };

/* What our device operations read from. */
struct ntfsfs_io {
	struct disk *d;
	uint64_t offset, size; /* of the partition; size <= INT64_MAX */
	uint64_t pos;	       /* for seek() and read() */
	struct vr_err derr;    /* the first disk error of the operation */
};

struct ntfsfs {
	struct ntfsfs_io io;
	struct ntfs_device *dev;
	ntfs_volume *vol;
	uint64_t mft_records; /* records the MFT holds */
	/* the file read last: a restore reads a file in many pieces */
	ntfs_inode *ni;
	ntfs_attr *na;
};

static const struct guestfs_ops ntfsfs_ops;

/* ---- libntfs-3g's log: captured, never printed ---- */

static pthread_once_t ntfsfs_log_once = PTHREAD_ONCE_INIT;
static __thread char ntfsfs_log_line[160];

static int ntfsfs_log_handler(const char *function, const char *file, int line,
			      u32 level, void *data, const char *format,
			      va_list args)
	__attribute__((format(printf, 6, 0)));

/* Keep the first error line of the operation: later ones are its echoes. */
static int ntfsfs_log_handler(const char *function, const char *file, int line,
			      u32 level, void *data, const char *format,
			      va_list args)
{
	int saved = errno; /* callers read errno after logging */
	size_t n;

	(void)function;
	(void)file;
	(void)line;
	(void)data;
	if (ntfsfs_log_line[0] ||
	    !(level & (NTFS_LOG_LEVEL_ERROR | NTFS_LOG_LEVEL_PERROR |
		       NTFS_LOG_LEVEL_CRITICAL))) {
		errno = saved;
		return 0;
	}
	vsnprintf(ntfsfs_log_line, sizeof(ntfsfs_log_line), format, args);
	/* one line, without its final period: it goes inside ours */
	n = strcspn(ntfsfs_log_line, "\n");
	while (n &&
	       (ntfsfs_log_line[n - 1] == '.' || ntfsfs_log_line[n - 1] == ' '))
		n--;
	ntfsfs_log_line[n] = '\0';
	errno = saved;
	return 0;
}

static void ntfsfs_log_init(void)
{
	ntfs_log_set_handler(ntfsfs_log_handler);
	ntfs_log_set_levels(NTFS_LOG_LEVEL_ERROR | NTFS_LOG_LEVEL_PERROR |
			    NTFS_LOG_LEVEL_CRITICAL);
}

/* A new operation: forget the reasons of the last one. */
static void ntfsfs_begin(struct ntfsfs *fs)
{
	vr_err_clear(&fs->io.derr);
	ntfsfs_log_line[0] = '\0';
}

static int ntfsfs_fail(struct ntfsfs *fs, int errnum, struct vr_err *err,
		       const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * A libntfs-3g failure (@errnum is its errno) while doing what @fmt says,
 * as our one line: the disk's own error if a read failed, else
 * -VR_ECORRUPT with the library's reason.
 */
static int ntfsfs_fail(struct ntfsfs *fs, int errnum, struct vr_err *err,
		       const char *fmt, ...)
{
	char what[NTFSFS_PATH_MAX + 64];
	const char *why = errnum ? strerror(errnum) : "failed";
	va_list ap;
	int code;

	if (fs->io.derr.code) {
		code = vr_err_set(err, fs->io.derr.code, "%s", fs->io.derr.msg);
		ntfsfs_begin(fs);
		return code;
	}
	if (errnum == ENOMEM)
		return vr_err_set(err, -ENOMEM, "%s: out of memory",
				  disk_path(fs->io.d));
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (ntfsfs_log_line[0])
		code = vr_err_set(err, -VR_ECORRUPT,
				  "%s: NTFS at 0x%" PRIx64 ": %s: %s (%s)",
				  disk_path(fs->io.d), fs->io.offset, what,
				  ntfsfs_log_line, why);
	else
		code = vr_err_set(
			err, -VR_ECORRUPT, "%s: NTFS at 0x%" PRIx64 ": %s: %s",
			disk_path(fs->io.d), fs->io.offset, what, why);
	ntfsfs_begin(fs);
	return code;
}

/* ---- device operations over a struct disk ---- */

static int ntfsfs_dev_open(struct ntfs_device *dev, int flags)
{
	if ((flags & O_ACCMODE) != O_RDONLY) {
		errno = EROFS;
		return -1;
	}
	NDevSetOpen(dev);
	NDevSetReadOnly(dev);
	return 0;
}

static int ntfsfs_dev_close(struct ntfs_device *dev)
{
	NDevClearOpen(dev);
	return 0;
}

static s64 ntfsfs_dev_seek(struct ntfs_device *dev, s64 offset, int whence)
{
	struct ntfsfs_io *io = dev->d_private;
	int64_t base, pos;

	switch (whence) {
	case SEEK_SET:
		base = 0;
		break;
	case SEEK_CUR:
		base = (int64_t)io->pos;
		break;
	case SEEK_END:
		base = (int64_t)io->size;
		break;
	default:
		errno = EINVAL;
		return -1;
	}
	/*
	 * Past the end is refused: libntfs-3g seeks to the volume's last
	 * sector to check that the partition holds all of it.
	 */
	if (__builtin_add_overflow(base, offset, &pos) || pos < 0 ||
	    (uint64_t)pos > io->size) {
		errno = EINVAL;
		return -1;
	}
	io->pos = (uint64_t)pos;
	return pos;
}

/* Like pread(2) on the partition: short at its end, 0 past it. */
static s64 ntfsfs_dev_pread(struct ntfs_device *dev, void *buf, s64 count,
			    s64 offset)
{
	struct ntfsfs_io *io = dev->d_private;
	uint64_t n;
	int rc;

	if (count < 0 || offset < 0) {
		errno = EINVAL;
		return -1;
	}
	if (count == 0 || (uint64_t)offset >= io->size)
		return 0;
	n = io->size - (uint64_t)offset;
	if (n > (uint64_t)count)
		n = (uint64_t)count;
	if (n > NTFSFS_IO_MAX)
		n = NTFSFS_IO_MAX;
	/* offset < size and offset + size fit the disk: no overflow */
	rc = disk_read(io->d, buf, (size_t)n, io->offset + (uint64_t)offset,
		       &io->derr);
	if (rc < 0) {
		errno = EIO;
		return -1;
	}
	return (s64)n;
}

static s64 ntfsfs_dev_read(struct ntfs_device *dev, void *buf, s64 count)
{
	struct ntfsfs_io *io = dev->d_private;
	s64 got = ntfsfs_dev_pread(dev, buf, count, (s64)io->pos);

	if (got > 0)
		io->pos += (uint64_t)got;
	return got;
}

static s64 ntfsfs_dev_write(struct ntfs_device *dev, const void *buf, s64 count)
{
	(void)dev;
	(void)buf;
	(void)count;
	errno = EROFS;
	return -1;
}

static s64 ntfsfs_dev_pwrite(struct ntfs_device *dev, const void *buf,
			     s64 count, s64 offset)
{
	(void)offset;
	return ntfsfs_dev_write(dev, buf, count);
}

static int ntfsfs_dev_sync(struct ntfs_device *dev)
{
	(void)dev;
	return 0;
}

/* A read-only regular file the size of the partition. */
static int ntfsfs_dev_stat(struct ntfs_device *dev, struct stat *st)
{
	struct ntfsfs_io *io = dev->d_private;

	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	st->st_size = (off_t)io->size;
	st->st_blksize = 512;
	st->st_blocks = (blkcnt_t)(io->size / 512);
	return 0;
}

/*
 * The size, which ntfs_device_size_get() asks for before probing with
 * seek() and read(); whatever else (geometry, sector size) is unknown,
 * and libntfs-3g falls back to its defaults as it does for image files.
 */
static int ntfsfs_dev_ioctl(struct ntfs_device *dev, unsigned long request,
			    void *argp)
{
	struct ntfsfs_io *io = dev->d_private;
	unsigned long sectors;
	uint64_t bytes;

	switch (request) {
	case BLKGETSIZE64:
		bytes = io->size;
		memcpy(argp, &bytes, sizeof(bytes));
		return 0;
	case BLKGETSIZE:
		sectors = (unsigned long)(io->size / 512);
		memcpy(argp, &sectors, sizeof(sectors));
		return 0;
	default:
		errno = ENOTTY;
		return -1;
	}
}

/* Not const: libntfs-3g's API takes it without. */
static struct ntfs_device_operations ntfsfs_dev_ops = {
	.open = ntfsfs_dev_open,
	.close = ntfsfs_dev_close,
	.seek = ntfsfs_dev_seek,
	.read = ntfsfs_dev_read,
	.write = ntfsfs_dev_write,
	.pread = ntfsfs_dev_pread,
	.pwrite = ntfsfs_dev_pwrite,
	.sync = ntfsfs_dev_sync,
	.stat = ntfsfs_dev_stat,
	.ioctl = ntfsfs_dev_ioctl,
};

/* ---- opening and closing ---- */

static int ntfsfs_mount(struct ntfsfs *fs, struct vr_err *err)
{
	ntfs_volume *vol;
	s64 mft_bytes, vol_bytes;
	int errnum, rc;

	pthread_once(&ntfsfs_log_once, ntfsfs_log_init);
	ntfsfs_begin(fs);
	fs->dev = ntfs_device_alloc(disk_path(fs->io.d), 0, &ntfsfs_dev_ops,
				    &fs->io);
	if (!fs->dev)
		return vr_err_set(err, -ENOMEM, "%s: out of memory",
				  disk_path(fs->io.d));
	errno = 0;
	vol = ntfs_device_mount(fs->dev, NTFS_MNT_RDONLY);
	if (!vol) {
		errnum = errno;
		rc = ntfsfs_fail(fs, errnum, err, "cannot mount");
		if (NDevOpen(fs->dev))
			fs->dev->d_ops->close(fs->dev);
		ntfs_device_free(fs->dev);
		fs->dev = NULL;
		return rc;
	}
	fs->vol = vol;
	/* what ntfs_mount() adds: inode and lookup caches */
	ntfs_create_lru_caches(vol);
	/* hidden files are files to restore; system files we skip ourselves */
	ntfs_set_shown_files(vol, FALSE, TRUE, FALSE);
	/*
	 * libntfs-3g builds absolute symlink targets on the mount point,
	 * which ntfs-3g sets and we have not: "" makes them start at the
	 * volume's root ("/Users/...").
	 */
	if (!vol->abs_mnt_point)
		vol->abs_mnt_point = "";
	/* the MFT cannot be larger than the volume */
	mft_bytes = vol->mft_na->initialized_size;
	if (vol->nr_clusters < 0 ||
	    __builtin_mul_overflow(vol->nr_clusters,
				   (s64)1 << vol->cluster_size_bits,
				   &vol_bytes))
		vol_bytes = INT64_MAX;
	if (mft_bytes > vol_bytes)
		mft_bytes = vol_bytes;
	fs->mft_records =
		mft_bytes > 0 ? (uint64_t)mft_bytes >> vol->mft_record_size_bits
			      : 0;
	return 0;
}

int ntfsfs_open(struct disk *d, uint64_t offset, uint64_t size,
		struct guestfs **out, struct vr_err *err)
{
	uint8_t boot[NTFSFS_BOOT_SIZE];
	uint64_t disk_bytes = disk_size(d);
	struct ntfsfs *fs;
	char uuid[17];
	const char *label;
	int rc;

	if (offset > disk_bytes || size > disk_bytes - offset ||
	    size > INT64_MAX)
		return vr_err_set(
			err, -EINVAL,
			"%s: NTFS at 0x%" PRIx64 ": %" PRIu64
			" bytes run past the end of the disk (%" PRIu64
			" bytes)",
			disk_path(d), offset, size, disk_bytes);
	rc = size < sizeof(boot)
		     ? -EINVAL
		     : disk_read(d, boot, sizeof(boot), offset, err);
	if (rc == 0 && memcmp(boot + NTFSFS_BOOT_OEM_ID, "NTFS    ", 8))
		rc = -EINVAL;
	if (rc == -EINVAL)
		return vr_err_set(err, -EINVAL,
				  "%s: no NTFS file system at 0x%" PRIx64,
				  disk_path(d), offset);
	if (rc < 0)
		return rc;
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return vr_err_set(err, -ENOMEM, "%s: out of memory",
				  disk_path(d));
	fs->io.d = d;
	fs->io.offset = offset;
	fs->io.size = size;
	rc = ntfsfs_mount(fs, err);
	if (rc < 0) {
		free(fs);
		return rc;
	}
	/* as blkid shows it */
	snprintf(uuid, sizeof(uuid), "%016" PRIX64,
		 vr_get_le64(boot + NTFSFS_BOOT_SERIAL));
	label = fs->vol->vol_name ? fs->vol->vol_name : "";
	return guestfs_new("ntfs", &ntfsfs_ops, fs, label, uuid, true, out,
			   err);
}

static void ntfsfs_cache_drop(struct ntfsfs *fs)
{
	if (fs->na)
		ntfs_attr_close(fs->na);
	if (fs->ni)
		ntfs_inode_close(fs->ni);
	fs->na = NULL;
	fs->ni = NULL;
}

static void ntfsfs_close(void *impl)
{
	struct ntfsfs *fs = impl;

	ntfsfs_cache_drop(fs);
	ntfs_umount(fs->vol, FALSE); /* frees fs->dev too */
	free(fs);
}

/* ---- files ---- */

static bool ntfsfs_is_dir(const ntfs_inode *ni)
{
	return (ni->mrec->flags & MFT_RECORD_IS_DIRECTORY) != 0;
}

/* 100 ns units since 1601 as Unix time; floor, so never a negative nsec. */
static struct timespec ntfsfs_time(ntfs_time t)
{
	int64_t ticks = (int64_t)sle64_to_cpu(t);
	int64_t secs = ticks / NTFSFS_TICKS_PER_SEC;
	int64_t rem = ticks % NTFSFS_TICKS_PER_SEC;
	struct timespec ts;

	if (rem < 0) {
		rem += NTFSFS_TICKS_PER_SEC;
		secs--;
	}
	ts.tv_sec = (time_t)(secs - NTFSFS_EPOCH_DELTA);
	ts.tv_nsec = (long)(rem * 100);
	return ts;
}

/*
 * Windows' view of the attributes: FILE_ATTRIBUTE_DIRECTORY set for
 * directories only, without NTFS's internal index-present bits.
 */
static uint32_t ntfsfs_attributes(const ntfs_inode *ni)
{
	uint32_t a = le32_to_cpu(ni->flags);

	a &= ~(le32_to_cpu(FILE_ATTR_I30_INDEX_PRESENT) |
	       le32_to_cpu(FILE_ATTR_VIEW_INDEX_PRESENT) |
	       le32_to_cpu(FILE_ATTR_DIRECTORY));
	if (ntfsfs_is_dir(ni))
		a |= le32_to_cpu(FILE_ATTR_DIRECTORY);
	return a;
}

/*
 * The names of @ni, the 8.3 aliases left out: what `ls -l` would count.
 * A file has at most 1024 hard links on NTFS; a corrupt record may claim
 * more, we stop counting there.
 */
static uint32_t ntfsfs_nlink(ntfs_inode *ni)
{
	const size_t type_at = offsetof(FILE_NAME_ATTR, file_name_type);
	ntfs_attr_search_ctx *ctx = ntfs_attr_get_search_ctx(ni, NULL);
	uint32_t n = 0;

	if (!ctx)
		return 1;
	while (n < 1024 && !ntfs_attr_lookup(AT_FILE_NAME, AT_UNNAMED, 0,
					     CASE_SENSITIVE, 0, NULL, 0, ctx)) {
		const ATTR_RECORD *a = ctx->attr;
		uint32_t alen = le32_to_cpu(a->length);
		uint16_t voff;
		uint32_t vlen;

		if (a->non_resident)
			continue;
		voff = le16_to_cpu(a->value_offset);
		vlen = le32_to_cpu(a->value_length);
		if (voff > alen || vlen > alen - voff || vlen <= type_at)
			continue;
		if (((const uint8_t *)a)[voff + type_at] != FILE_NAME_DOS)
			n++;
	}
	ntfs_attr_put_search_ctx(ctx);
	return n ? n : 1;
}

/*
 * The target of a Windows symlink relative to its directory, decoded
 * from @rp (@size bytes) when libntfs-3g will not: it only accepts
 * targets that exist, and a dangling link is still a link to restore.
 * NULL if @rp is not a well-formed relative link.
 */
static char *ntfsfs_symlink_relative(const uint8_t *rp, size_t size)
{
	const uint8_t *sl = rp + NTFSFS_RP_DATA;
	size_t dlen, off, len, i;
	ntfschar *u;
	char *t = NULL;
	int n;

	if (size < NTFSFS_RP_DATA + NTFSFS_SL_PATH)
		return NULL;
	dlen = vr_get_le16(rp + NTFSFS_RP_DATA_LEN);
	off = vr_get_le16(sl + NTFSFS_SL_SUBST_OFF);
	len = vr_get_le16(sl + NTFSFS_SL_SUBST_LEN);
	if (dlen > size - NTFSFS_RP_DATA || dlen < NTFSFS_SL_PATH ||
	    off > dlen - NTFSFS_SL_PATH || len > dlen - NTFSFS_SL_PATH - off ||
	    len == 0 || len % 2 ||
	    !(vr_get_le32(sl + NTFSFS_SL_FLAGS) & NTFSFS_SL_RELATIVE))
		return NULL;
	u = malloc(len); /* aligned for ntfschar */
	if (!u)
		return NULL;
	memcpy(u, sl + NTFSFS_SL_PATH + off, len);
	for (i = 0; i < len / 2; i++)
		if (!u[i])
			break;
	n = i == len / 2 ? ntfs_ucstombs(u, (int)(len / 2), &t, 0) : -1;
	free(u);
	if (n <= 0) {
		free(t);
		return NULL;
	}
	for (i = 0; t[i]; i++)
		if (t[i] == '\\')
			t[i] = '/';
	return t;
}

struct ntfsfs_kind {
	enum guestfs_kind kind;
	uint32_t type; /* S_IFMT bits */
	char *target;  /* of a symlink, malloc'd */
};

/* A reparse point: a symlink we can show, or something we skip. */
/*
 * Is the reparse data @rp (@size bytes) of a symlink (@tag) whole: its
 * length as the header says, the names inside it, a target of at least
 * one character?
 */
static bool ntfsfs_symlink_is_sound(const uint8_t *rp, size_t size,
				    uint32_t tag)
{
	const uint8_t *d = rp + NTFSFS_RP_DATA;
	size_t len = vr_get_le16(rp + NTFSFS_RP_DATA_LEN), off, n;

	if (len + NTFSFS_RP_DATA != size)
		return false;
	if (tag == NTFSFS_TAG_LX_SYMLINK) /* a version, then UTF-8 */
		return len > NTFSFS_LX_TARGET;
	if (len < NTFSFS_SL_PATH)
		return false;
	off = vr_get_le16(d + NTFSFS_SL_SUBST_OFF);
	n = vr_get_le16(d + NTFSFS_SL_SUBST_LEN);
	if (n < 2 || n % 2 || off + n > len - NTFSFS_SL_PATH)
		return false;
	off = vr_get_le16(d + NTFSFS_SL_PRINT_OFF);
	n = vr_get_le16(d + NTFSFS_SL_PRINT_LEN);
	return n % 2 == 0 && off + n <= len - NTFSFS_SL_PATH;
}

static int ntfsfs_classify_reparse(struct ntfsfs *fs, ntfs_inode *ni,
				   struct ntfsfs_kind *k, struct vr_err *err)
{
	uint8_t *rp = NULL;
	ntfs_attr *na;
	s64 size = 0;
	uint32_t tag;
	int rc = 0;

	k->kind = GUESTFS_OTHER;
	k->type = 0;
	na = ntfs_attr_open(ni, AT_REPARSE_POINT, AT_UNNAMED, 0);
	if (na) {
		size = na->data_size;
		if (size >= NTFSFS_RP_DATA && size <= NTFSFS_RP_MAX) {
			rp = malloc((size_t)size);
			if (!rp) {
				ntfs_attr_close(na);
				return vr_err_set(err, -ENOMEM,
						  "out of memory");
			}
		}
		if (rp && ntfs_attr_pread(na, 0, size, rp) != size) {
			free(rp);
			rp = NULL;
		}
		ntfs_attr_close(na);
	}
	if (!rp) /* flag without data: a broken reparse point, skipped */
		return fs->io.derr.code ? ntfsfs_fail(fs, EIO, err, "reparse")
					: 0;
	tag = vr_get_le32(rp + NTFSFS_RP_TAG);
	switch (tag) {
	case NTFSFS_TAG_SYMLINK:
	case NTFSFS_TAG_LX_SYMLINK:
		/* libntfs-3g leaks on data it rejects: it gets only sound
		 * links; the others are skipped as unknown reparse points */
		if (!ntfsfs_symlink_is_sound(rp, (size_t)size, tag))
			break;
		errno = 0;
		k->target = ntfs_make_symlink(ni, "");
		if (!k->target && tag == NTFSFS_TAG_SYMLINK)
			k->target = ntfsfs_symlink_relative(rp, (size_t)size);
		if (k->target && !k->target[0]) { /* no link can say "" */
			free(k->target);
			k->target = NULL;
		} else if (k->target) {
			k->kind = GUESTFS_SYMLINK;
			k->type = S_IFLNK;
		} else if (errno == ENOMEM || fs->io.derr.code) {
			rc = ntfsfs_fail(fs, errno, err, "symlink");
		}
		break;
	case NTFSFS_TAG_LX_FIFO:
		k->type = S_IFIFO;
		break;
	case NTFSFS_TAG_AF_UNIX:
		k->type = S_IFSOCK;
		break;
	case NTFSFS_TAG_LX_CHR:
		k->type = S_IFCHR;
		break;
	case NTFSFS_TAG_LX_BLK:
		k->type = S_IFBLK;
		break;
	case NTFSFS_TAG_MOUNT_POINT: /* a junction, maybe to another volume */
	default:
		break;
	}
	free(rp);
	return rc;
}

/*
 * A system file may be an Interix symlink or device (what ntfs-3g makes
 * for ln -s and mknod). Its FIFOs and sockets (empty or 1-byte system
 * files) look like any empty system file from Windows, so they stay files.
 */
static int ntfsfs_classify_interix(struct ntfsfs *fs, ntfs_inode *ni,
				   struct ntfsfs_kind *k, struct vr_err *err)
{
	uint8_t *buf;
	ntfs_attr *na;
	s64 size;
	int n, rc = 0;

	na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
	if (!na)
		return fs->io.derr.code ? ntfsfs_fail(fs, EIO, err, "data") : 0;
	size = na->data_size;
	if (size <= NTFSFS_INTX_MAGIC || size > NTFSFS_INTX_MAX) {
		ntfs_attr_close(na);
		return 0;
	}
	buf = malloc((size_t)size);
	if (!buf) {
		ntfs_attr_close(na);
		return vr_err_set(err, -ENOMEM, "out of memory");
	}
	if (ntfs_attr_pread(na, 0, size, buf) != size) {
		/* unreadable (encrypted, say): an ordinary file to us */
		if (fs->io.derr.code)
			rc = ntfsfs_fail(fs, EIO, err, "data");
	} else if (!memcmp(buf, ntfsfs_intx_lnk, NTFSFS_INTX_MAGIC)) {
		/* target: UTF-16LE, 2-aligned as malloc() aligns buf */
		n = ntfs_ucstombs((const ntfschar *)(buf + NTFSFS_INTX_MAGIC),
				  (int)((size - NTFSFS_INTX_MAGIC) / 2),
				  &k->target, 0);
		/* a NUL inside would make it another, shorter link */
		if (n > 0 && strlen(k->target) == (size_t)n) {
			k->kind = GUESTFS_SYMLINK;
			k->type = S_IFLNK;
		} else {
			free(k->target);
			k->target = NULL;
		}
	} else if (size == NTFSFS_INTX_DEV_SIZE &&
		   (!memcmp(buf, ntfsfs_intx_chr, NTFSFS_INTX_MAGIC) ||
		    !memcmp(buf, ntfsfs_intx_blk, NTFSFS_INTX_MAGIC))) {
		k->kind = GUESTFS_OTHER;
		k->type = buf[4] == 'C' ? S_IFCHR : S_IFBLK;
	}
	free(buf);
	ntfs_attr_close(na);
	return rc;
}

static int ntfsfs_classify(struct ntfsfs *fs, ntfs_inode *ni,
			   struct ntfsfs_kind *k, struct vr_err *err)
{
	k->target = NULL;
	if (ni->flags & FILE_ATTR_REPARSE_POINT)
		return ntfsfs_classify_reparse(fs, ni, k, err);
	if (ntfsfs_is_dir(ni)) {
		k->kind = GUESTFS_DIR;
		k->type = S_IFDIR;
		return 0;
	}
	k->kind = GUESTFS_FILE;
	k->type = S_IFREG;
	if (ni->flags & FILE_ATTR_SYSTEM)
		return ntfsfs_classify_interix(fs, ni, k, err);
	return 0;
}

/* No POSIX permissions without ntfs-3g's user mapping: fixed ones. */
static uint32_t ntfsfs_mode(const ntfs_inode *ni, const struct ntfsfs_kind *k)
{
	switch (k->type) {
	case S_IFDIR:
		return S_IFDIR | 0755;
	case S_IFLNK:
		return S_IFLNK | 0777;
	default:
		break;
	}
	if (ni->flags & FILE_ATTR_READONLY)
		return k->type | 0444;
	return k->type | 0644;
}

/*
 * Fill @e from file @mref (its sequence number is checked, so a stale
 * directory entry is an error); a symlink's target goes to *@target,
 * which the caller frees.
 */
static int ntfsfs_entry_fill(struct ntfsfs *fs, MFT_REF mref,
			     struct guestfs_entry *e, char **target,
			     struct vr_err *err)
{
	struct ntfsfs_kind k;
	ntfs_inode *ni;
	int rc;

	/* two open instances of one inode (the file being read, and a hard
	 * link to it met later in the walk) leak one inside libntfs-3g on
	 * close (LeakSanitizer shows it): one instance at a time */
	if (fs->ni && fs->ni->mft_no == MREF(mref))
		ntfsfs_cache_drop(fs);
	ni = ntfs_inode_open(fs->vol, mref);
	if (!ni)
		return ntfsfs_fail(fs, errno, err,
				   "%s: cannot open file %" PRIu64, e->path,
				   (uint64_t)MREF(mref));
	rc = ntfsfs_classify(fs, ni, &k, err);
	if (rc < 0) {
		ntfs_inode_close(ni);
		return rc;
	}
	e->kind = k.kind;
	e->ino = ni->mft_no;
	e->mode = ntfsfs_mode(ni, &k);
	e->uid = 0;
	e->gid = 0;
	e->nlink = ntfsfs_nlink(ni);
	e->atime = ntfsfs_time(ni->last_access_time);
	e->mtime = ntfsfs_time(ni->last_data_change_time);
	e->ctime = ntfsfs_time(ni->last_mft_change_time);
	e->btime = ntfsfs_time(ni->creation_time);
	e->attributes = ntfsfs_attributes(ni);
	e->target = k.target;
	if (k.kind == GUESTFS_SYMLINK)
		e->size = strlen(k.target);
	else if (k.kind == GUESTFS_DIR || ni->data_size < 0)
		e->size = 0;
	else
		e->size = (uint64_t)ni->data_size;
	*target = k.target;
	ntfs_inode_close(ni);
	return 0;
}

/* ---- walking ---- */

/* A directory's names, collected before any of them is opened. */
struct ntfsfs_names {
	struct ntfsfs_dirent {
		char *name;
		MFT_REF mref;
		bool bad_name; /* held a '/' or a NUL, now '?' */
	} * v;
	size_t n, cap;
	int errnum; /* what made the callback stop */
};

static void ntfsfs_names_free(struct ntfsfs_names *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
}

/* ntfs_readdir()'s callback: keep the names a walk shows. */
static int ntfsfs_names_add(void *priv, const ntfschar *name,
			    const int name_len, const int name_type,
			    const s64 pos, const MFT_REF mref,
			    const unsigned dt_type)
{
	struct ntfsfs_names *l = priv;
	ntfschar *copy;
	char *utf8 = NULL;
	bool bad = false;
	int i, len;

	(void)pos;
	(void)dt_type;
	if (name_type == FILE_NAME_DOS || MREF(mref) < FILE_first_user ||
	    name_len <= 0)
		return 0;
	/* a NUL would cut the name short and a '/' split it: either would
	 * name something else, so both become '?' and the entry is marked */
	copy = malloc((size_t)name_len * sizeof(*copy));
	if (!copy) {
		l->errnum = ENOMEM;
		errno = ENOMEM;
		return -1;
	}
	for (i = 0; i < name_len; i++) {
		copy[i] = name[i];
		if (!name[i] || name[i] == const_cpu_to_le16('/')) {
			copy[i] = const_cpu_to_le16('?');
			bad = true;
		}
	}
	len = ntfs_ucstombs(copy, name_len, &utf8, 0);
	free(copy);
	if (len < 0) {
		if (errno != ENOMEM)
			return 0; /* longer than PATH_MAX in UTF-8 */
		l->errnum = ENOMEM;
		return -1;
	}
	if (!strcmp(utf8, ".") || !strcmp(utf8, "..")) {
		free(utf8);
		return 0;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 32;
		void *v = reallocarray(l->v, cap, sizeof(*l->v));

		if (!v) {
			free(utf8);
			l->errnum = ENOMEM;
			errno = ENOMEM;
			return -1;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n].name = utf8;
	l->v[l->n].mref = mref;
	l->v[l->n].bad_name = bad;
	l->n++;
	return 0;
}

struct ntfsfs_walk {
	struct ntfsfs *fs;
	uint8_t *seen; /* bitmap of directories walked: hostile loops end */
	size_t seen_bytes;
	int (*visit)(void *ctx, const struct guestfs_entry *e);
	void *ctx;
	struct vr_err *err;
	char path[NTFSFS_PATH_MAX];
	size_t len; /* of path */
	unsigned depth;
};

/* Has directory @ino been walked? Marks it if not; -ENOMEM on failure. */
static int ntfsfs_walk_seen(struct ntfsfs_walk *w, uint64_t ino)
{
	size_t byte = (size_t)(ino / 8);
	uint8_t bit = (uint8_t)(1u << (ino % 8));

	/* ino < mft_records: the bitmap grows with the MFT, not the disk */
	if (byte >= w->seen_bytes) {
		size_t bytes = byte + 1 > 2 * w->seen_bytes ? byte + 1
							    : 2 * w->seen_bytes;
		uint8_t *seen = realloc(w->seen, bytes);

		if (!seen)
			return vr_err_set(w->err, -ENOMEM, "out of memory");
		memset(seen + w->seen_bytes, 0, bytes - w->seen_bytes);
		w->seen = seen;
		w->seen_bytes = bytes;
	}
	if (w->seen[byte] & bit)
		return 1;
	w->seen[byte] |= bit;
	return 0;
}

static int ntfsfs_walk_dir(struct ntfsfs_walk *w, MFT_REF dir);

static int ntfsfs_walk_entry(struct ntfsfs_walk *w,
			     const struct ntfsfs_dirent *de)
{
	size_t nlen = strlen(de->name), saved = w->len;
	struct guestfs_entry e = { 0 };
	char *target = NULL;
	int rc;

	if (w->len + 1 + nlen >= sizeof(w->path))
		return 0; /* a path longer than PATH_MAX: not restorable */
	w->path[w->len] = '/';
	memcpy(w->path + w->len + 1, de->name, nlen + 1);
	w->len += 1 + nlen;
	e.path = w->path;
	ntfsfs_begin(w->fs);
	rc = ntfsfs_entry_fill(w->fs, de->mref, &e, &target, w->err);
	e.bad_name = de->bad_name;
	if (rc == 0)
		rc = w->visit(w->ctx, &e);
	/* GUESTFS_SKIP (or any positive value): do not walk into it */
	if (rc > 0) {
		rc = 0;
	} else if (rc == 0 && e.kind == GUESTFS_DIR && !e.bad_name &&
		   w->depth < NTFSFS_MAX_DEPTH && e.ino < w->fs->mft_records) {
		/* each directory once: one listing itself would loop us */
		rc = ntfsfs_walk_seen(w, e.ino);
		rc = rc == 0 ? ntfsfs_walk_dir(w, de->mref) : rc > 0 ? 0 : rc;
	}
	free(target);
	w->len = saved;
	w->path[w->len] = '\0';
	return rc;
}

static int ntfsfs_walk_dir(struct ntfsfs_walk *w, MFT_REF dir)
{
	struct ntfsfs *fs = w->fs;
	struct ntfsfs_names names = { 0 };
	struct strmap *seen = NULL;
	const char *where = w->len ? w->path : "/";
	ntfs_inode *ni;
	s64 pos = 0;
	size_t i;
	int rc = 0;

	ntfsfs_begin(fs);
	ni = ntfs_inode_open(fs->vol, dir);
	if (!ni)
		return ntfsfs_fail(fs, errno, w->err, "%s: cannot open", where);
	if (ntfs_readdir(ni, &pos, &names, ntfsfs_names_add))
		rc = ntfsfs_fail(fs, names.errnum ? names.errnum : errno,
				 w->err, "%s: cannot read directory", where);
	ntfs_inode_close(ni);
	if (rc == 0 && strmap_new(&seen) < 0)
		rc = vr_err_set(w->err, -ENOMEM, "out of memory");
	w->depth++;
	for (i = 0; rc == 0 && i < names.n; i++) {
		/* a name listed twice (a damaged or hostile index) is shown
		 * once: the second could be a directory below a symlink
		 * put first */
		rc = strmap_put(seen, names.v[i].name, NULL);
		if (rc > 0)
			rc = ntfsfs_walk_entry(w, &names.v[i]);
		else if (rc < 0)
			rc = vr_err_set(w->err, -ENOMEM, "out of memory");
	}
	w->depth--;
	strmap_free(seen);
	ntfsfs_names_free(&names);
	return rc;
}

static int ntfsfs_walk(void *impl,
		       int (*visit)(void *ctx, const struct guestfs_entry *e),
		       void *ctx, struct vr_err *err)
{
	struct ntfsfs_walk *w = calloc(1, sizeof(*w));
	int rc;

	if (!w)
		return vr_err_set(err, -ENOMEM, "out of memory");
	w->fs = impl;
	w->visit = visit;
	w->ctx = ctx;
	w->err = err;
	rc = ntfsfs_walk_seen(w, FILE_root);
	if (rc == 0)
		rc = ntfsfs_walk_dir(w, FILE_root);
	free(w->seen);
	free(w);
	return rc;
}

/* ---- reading ---- */

/* EFS: the data on disk is ciphertext, the key is not ours to have. */
static int ntfsfs_encrypted(struct ntfsfs *fs, uint64_t ino, struct vr_err *err)
{
	return vr_err_set(err, -ENOTSUP,
			  "%s: NTFS at 0x%" PRIx64 ": file %" PRIu64
			  " is encrypted (EFS): its data cannot be read",
			  disk_path(fs->io.d), fs->io.offset, ino);
}

/* Open file @ino's unnamed $DATA into the cache. */
static int ntfsfs_cache_open(struct ntfsfs *fs, uint64_t ino,
			     struct vr_err *err)
{
	const char *path = disk_path(fs->io.d);
	ntfs_inode *ni;
	ntfs_attr *na;
	int errnum;

	ntfsfs_cache_drop(fs);
	if (ino < FILE_first_user || ino >= fs->mft_records)
		return vr_err_set(err, -EINVAL,
				  "%s: NTFS at 0x%" PRIx64 ": no file %" PRIu64
				  " (files are 16 to %" PRIu64 ")",
				  path, fs->io.offset, ino,
				  fs->mft_records ? fs->mft_records - 1 : 0);
	ni = ntfs_inode_open(fs->vol, (MFT_REF)ino);
	if (!ni)
		return ntfsfs_fail(fs, errno, err, "cannot open file %" PRIu64,
				   ino);
	if (ni->mrec->base_mft_record) {
		ntfs_inode_close(ni);
		return vr_err_set(err, -EINVAL,
				  "%s: NTFS at 0x%" PRIx64 ": %" PRIu64
				  " is an extension record, not a file",
				  path, fs->io.offset, ino);
	}
	/* before the attribute, which libntfs-3g checks against the flag */
	if (ni->flags & FILE_ATTR_ENCRYPTED) {
		ntfs_inode_close(ni);
		return ntfsfs_encrypted(fs, ino, err);
	}
	na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
	if (!na) {
		errnum = errno;
		ntfs_inode_close(ni);
		if (errnum == ENOENT && !fs->io.derr.code)
			return vr_err_set(err, -EINVAL,
					  "%s: NTFS at 0x%" PRIx64
					  ": file %" PRIu64 " has no data",
					  path, fs->io.offset, ino);
		return ntfsfs_fail(fs, errnum, err,
				   "file %" PRIu64 ": cannot open data", ino);
	}
	if (na->data_flags & ATTR_IS_ENCRYPTED) {
		ntfs_attr_close(na);
		ntfs_inode_close(ni);
		return ntfsfs_encrypted(fs, ino, err);
	}
	if (na->data_size < 0) {
		ntfs_attr_close(na);
		ntfs_inode_close(ni);
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: NTFS at 0x%" PRIx64 ": file %" PRIu64
				  ": negative data size",
				  path, fs->io.offset, ino);
	}
	fs->ni = ni;
	fs->na = na;
	return 0;
}

static int64_t ntfsfs_read(void *impl, uint64_t ino, void *buf, size_t len,
			   uint64_t off, struct vr_err *err)
{
	struct ntfsfs *fs = impl;
	uint64_t size, n;
	s64 got;
	int rc;

	ntfsfs_begin(fs);
	if (!fs->na || fs->ni->mft_no != ino) {
		rc = ntfsfs_cache_open(fs, ino, err);
		if (rc < 0)
			return rc;
	}
	size = (uint64_t)fs->na->data_size;
	if (off >= size || len == 0)
		return 0;
	n = size - off;
	if (n > len)
		n = len;
	if (n > NTFSFS_IO_MAX)
		n = NTFSFS_IO_MAX;
	got = ntfs_attr_pread(fs->na, (s64)off, (s64)n, buf);
	if (got < 0) {
		rc = ntfsfs_fail(fs, errno, err,
				 "file %" PRIu64 ": read at 0x%" PRIx64, ino,
				 off);
		ntfsfs_cache_drop(fs);
		return rc;
	}
	return got;
}

static const struct guestfs_ops ntfsfs_ops = {
	.walk = ntfsfs_walk,
	.read = ntfsfs_read,
	.close = ntfsfs_close,
};
