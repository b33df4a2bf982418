/*
 * vhd.c - legacy VHD input (Virtual PC / Hyper-V v1) through libvhdi: open a
 * fixed, dynamic or differencing disk with its parent chain, size it as QEMU
 * does, read it. Spec: Microsoft "Virtual Hard Disk Image Format
 * Specification" 1.0: hard disk footer, dynamic disk header, parent locators.
 *
 * libvhdi opens every file and reads fixed and dynamic disks. We decode the
 * footer ourselves because libvhdi neither verifies its checksum nor reports
 * the creator or the CHS geometry that the size rule needs and `info` shows.
 * We decode the dynamic header too: libvhdi does not report the block size,
 * and of a differencing disk exposes only the parent name (often an absolute
 * Windows path such as "C:\dir\parent.vhd"), not the relative locator
 * (".\parent.vhd").
 *
 * Differencing disks are read here, not by libvhdi: libvhdi 20210425 (and
 * upstream at least into 2022) decodes a VHD sector bitmap with
 * "byte >> (7 - bit)" and no "& 1", so after the first set bit of a bitmap
 * byte every later sector of that byte counts as present in the child, and
 * the child's stale block content hides the parent's data. We follow the
 * spec: bit set (MSB first) means the sector is in the child, clear means
 * read the parent.
 *
 * Invariants:
 *  1. A struct vhd owns its parent. A child's libvhdi file points at its
 *     parent's libvhdi file (libvhdi_file_set_parent_file() borrows it), so a
 *     chain is freed child first.
 *  2. Every file of a chain is linked to its parent only after the parent's
 *     identifier matched the child's parent identifier, and a chain holds at
 *     most VHD_MAX_CHAIN_DEPTH files, none of them twice (device, inode).
 *  3. size <= INT64_MAX, so every offset inside the disk fits an off64_t.
 *     Reads below media_size go to the file (libvhdi, or vhd_diff_read()
 *     for a differencing disk); the rest reads as zeros.
 *  4. A parent's media size is at least its child's, so a child reads its
 *     parent only inside the parent's media size.
 *  5. parent is NULL for a differencing disk only when it was opened with
 *     VHD_OPEN_NO_PARENT; vhd_read() then fails before reading anything.
 */
#include <config.h>
#include "vhd.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libvhdi.h>

#include "vr_endian.h"
#include "vr_err.h"
#include "vr_io.h"
#include "vr_text.h"

/* Hard disk footer, spec section "Hard Disk Footer Format"; big-endian */
#define VHD_FTR_COOKIE 0	/* "conectix" */
#define VHD_FTR_DATA_OFFSET 16	/* u64, dynamic header; all ones if fixed */
#define VHD_FTR_CREATOR_APP 28	/* 4 characters, e.g. "vpc ", "win " */
#define VHD_FTR_CREATOR_VER 32	/* u32, major << 16 | minor */
#define VHD_FTR_CURRENT_SIZE 48 /* u64, bytes */
#define VHD_FTR_CYLINDERS 56	/* u16 */
#define VHD_FTR_HEADS 58	/* u8 */
#define VHD_FTR_SECTORS 59	/* u8, per track */
#define VHD_FTR_DISK_TYPE 60	/* u32: 2 fixed, 3 dynamic, 4 differencing */
#define VHD_FTR_CHECKSUM 64	/* u32, ones' complement of the byte sum */
#define VHD_FTR_UNIQUE_ID 68	/* 16 bytes */
#define VHD_FTR_SIZE 512
_Static_assert(VHD_FTR_UNIQUE_ID + 16 < VHD_FTR_SIZE, "footer layout");

/* struct vhd_info takes the footer's disk type as it is. */
_Static_assert((int)VHD_TYPE_FIXED == (int)LIBVHDI_DISK_TYPE_FIXED &&
		       (int)VHD_TYPE_DYNAMIC ==
			       (int)LIBVHDI_DISK_TYPE_DYNAMIC &&
		       (int)VHD_TYPE_DIFFERENCING ==
			       (int)LIBVHDI_DISK_TYPE_DIFFERENTIAL,
	       "disk type values");

/* Dynamic disk header, spec section "Dynamic Disk Header Format" */
#define VHD_DYN_COOKIE 0	/* "cxsparse" */
#define VHD_DYN_TABLE_OFFSET 16 /* u64, BAT */
#define VHD_DYN_MAX_ENTRIES 28	/* u32, BAT entries */
#define VHD_DYN_BLOCK_SIZE 32	/* u32, bytes, a power of two */
#define VHD_DYN_CHECKSUM 36	/* u32, as the footer's */
#define VHD_DYN_LOCATORS 576	/* 8 parent locator entries */
#define VHD_DYN_SIZE 1024
#define VHD_LOC_COUNT 8
#define VHD_LOC_SIZE 24
#define VHD_LOC_CODE 0	       /* u32 platform code */
#define VHD_LOC_DATA_LENGTH 8  /* u32, bytes */
#define VHD_LOC_DATA_OFFSET 16 /* u64, file offset */
_Static_assert(VHD_DYN_LOCATORS + VHD_LOC_COUNT * VHD_LOC_SIZE <= VHD_DYN_SIZE,
	       "dynamic header layout");

/* Platform code of a relative Windows path in UTF-16LE ("W2ru") */
#define VHD_LOC_W2RU 0x57327275u
/* A Windows path is at most 32767 UTF-16 units. */
#define VHD_LOC_DATA_MAX 65536u
/* libvhdi's parent name comes from a 512-byte UTF-16 field. */
#define VHD_PARENT_NAME_MAX 4096u

/* A CHS geometry at this maximum says nothing about the size. */
#define VHD_CHS_MAX_CYLINDERS 65535u
#define VHD_CHS_MAX_HEADS 16u
#define VHD_CHS_MAX_SECTORS 255u

/* BAT entry of a block that is not in the file */
#define VHD_BAT_UNUSED 0xffffffffu
#define VHD_SECTOR 512u
/* Spec default is 2 MiB; beyond this a bitmap would not fit in memory well. */
#define VHD_BLOCK_SIZE_MAX (256u * 1024 * 1024)

/* Files in one chain, the child included (as VHDX_MAX_CHAIN_DEPTH). */
#define VHD_MAX_CHAIN_DEPTH 64

struct vhd_footer {
	uint64_t data_offset;
	char creator[5]; /* NUL-terminated copy */
	uint32_t creator_version;
	uint64_t current_size;
	uint16_t cylinders;
	uint8_t heads;
	uint8_t sectors;
	uint32_t disk_type;
	uint32_t checksum;
};

struct vhd {
	char *path;
	libvhdi_file_t *file;
	struct vhd *parent;  /* owned; NULL unless differencing (inv. 5) */
	uint64_t size;	     /* virtual size by the QEMU rule */
	uint64_t media_size; /* what libvhdi reads; zeros beyond it */
	uint32_t disk_type;
	struct vhd_footer footer; /* decoded and checked */
	dev_t dev;
	ino_t ino;
	uint8_t id[16];	       /* footer unique id, on-disk order */
	uint8_t parent_id[16]; /* differencing only */
	char *parent_name;     /* libvhdi's parent name (UTF-8) or NULL */
	char *parent_relative; /* "W2ru" locator (UTF-8) or NULL */
	int fd;		       /* differencing only (own block map), else -1 */
	uint64_t file_size;
	uint64_t bat_offset;
	uint32_t bat_entries;
	uint32_t block_size;   /* dynamic and differencing, else 0 */
	uint32_t bitmap_size;  /* bytes before each block's data */
	uint8_t *bitmap;       /* bitmap of block bitmap_block */
	uint64_t bitmap_block; /* UINT64_MAX: none cached */
};

static uint16_t vhd_get_be16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | (uint16_t)p[1]);
}

static uint32_t vhd_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t vhd_get_be64(const uint8_t *p)
{
	return (uint64_t)vhd_get_be32(p) << 32 | (uint64_t)vhd_get_be32(p + 4);
}

/* Ones' complement of the byte sum, the checksum field counted as zero. */
static uint32_t vhd_csum(const uint8_t *buf, size_t len, size_t csum_off)
{
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i < len; i++)
		if (i < csum_off || i >= csum_off + 4)
			sum += buf[i];
	return ~sum;
}

void vhd_id_format(const uint8_t id[16], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	unsigned i, o = 0;

	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[id[i] >> 4];
		out[o++] = hex[id[i] & 0xf];
	}
	out[o] = '\0';
}

/*
 * Record a libvhdi failure as one line. libvhdi's error is a backtrace whose
 * first line is the innermost cause ("libvhdi_file_footer_read_data:
 * unsupported signature.") and whose last is the generic outermost one; we
 * keep the cause without its final period. Failures inside libcfile are the
 * operating system's, so they become -EIO whatever @code says. Frees *@lerr.
 */
static int vhd_lib_fail(struct vr_err *err, int code, libvhdi_error_t **lerr,
			const char *path, const char *what)
{
	char trace[2048];
	size_t n;
	char *nl;

	trace[0] = '\0';
	if (*lerr &&
	    libvhdi_error_backtrace_sprint(*lerr, trace, sizeof(trace)) < 0 &&
	    libvhdi_error_sprint(*lerr, trace, sizeof(trace)) < 0)
		trace[0] = '\0';
	libvhdi_error_free(lerr);
	trace[sizeof(trace) - 1] = '\0';
	if (strstr(trace, "libcfile_"))
		code = -EIO;
	nl = strchr(trace, '\n');
	if (nl)
		*nl = '\0';
	n = strlen(trace);
	while (n > 0 && (trace[n - 1] == '.' || trace[n - 1] == '\r' ||
			 trace[n - 1] == ' '))
		trace[--n] = '\0';
	if (n == 0)
		return vr_err_set(err, code, "%s: %s: libvhdi failed", path,
				  what);
	return vr_err_set(err, code, "%s: %s: libvhdi: %s", path, what, trace);
}

static void vhd_footer_decode(const uint8_t *buf, struct vhd_footer *f)
{
	f->data_offset = vhd_get_be64(buf + VHD_FTR_DATA_OFFSET);
	memcpy(f->creator, buf + VHD_FTR_CREATOR_APP, 4);
	f->creator[4] = '\0';
	f->creator_version = vhd_get_be32(buf + VHD_FTR_CREATOR_VER);
	f->current_size = vhd_get_be64(buf + VHD_FTR_CURRENT_SIZE);
	f->cylinders = vhd_get_be16(buf + VHD_FTR_CYLINDERS);
	f->heads = buf[VHD_FTR_HEADS];
	f->sectors = buf[VHD_FTR_SECTORS];
	f->disk_type = vhd_get_be32(buf + VHD_FTR_DISK_TYPE);
	f->checksum = vhd_get_be32(buf + VHD_FTR_CHECKSUM);
}

/* Check the footer at @foff (the last 512 bytes of a @file_size file). */
static int vhd_footer_check(const char *path, const uint8_t *buf,
			    const struct vhd_footer *f, uint64_t foff,
			    struct vr_err *err)
{
	uint32_t csum = vhd_csum(buf, VHD_FTR_SIZE, VHD_FTR_CHECKSUM);
	uint64_t end;

	if (memcmp(buf + VHD_FTR_COOKIE, "conectix", 8) != 0)
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: footer at 0x%" PRIx64
				  ": no \"conectix\" cookie",
				  path, foff);
	if (csum != f->checksum)
		return vr_err_set(err, -VR_EBADCRC,
				  "%s: footer at 0x%" PRIx64
				  ": checksum mismatch (expected 0x%08" PRIx32
				  ", found 0x%08" PRIx32 ")",
				  path, foff, csum, f->checksum);
	if (f->disk_type != LIBVHDI_DISK_TYPE_FIXED &&
	    f->disk_type != LIBVHDI_DISK_TYPE_DYNAMIC &&
	    f->disk_type != LIBVHDI_DISK_TYPE_DIFFERENTIAL)
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: footer: unknown disk type %" PRIu32,
				  path, f->disk_type);
	if (f->current_size > INT64_MAX)
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: footer: current size %" PRIu64
				  " is too large",
				  path, f->current_size);
	if (f->disk_type == LIBVHDI_DISK_TYPE_FIXED) {
		/* The data of a fixed disk is the file up to the footer. */
		if (f->current_size > foff)
			return vr_err_set(
				err, -VR_ECORRUPT,
				"%s: fixed disk of %" PRIu64
				" bytes truncated (file holds %" PRIu64
				" bytes of data)",
				path, f->current_size, foff);
		return 0;
	}
	if (__builtin_add_overflow(f->data_offset, VHD_DYN_SIZE, &end) ||
	    end > foff)
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: footer: dynamic header at 0x%" PRIx64
				  " ends past the footer at 0x%" PRIx64,
				  path, f->data_offset, foff);
	return 0;
}

/*
 * The size rule of QEMU's vpc driver, so both tools agree on every image:
 * Hyper-V ("win "), Disk2vhd ("d2v "), XenServer ("tap\0"), XenConverter
 * ("CTXS") and new QEMU ("qem2") mean the footer's current size; every
 * other creator (Virtual PC, old QEMU, unknown tools) is sized by its CHS
 * geometry, whose capacity is what those guests saw. A geometry at its
 * maximum always means the current size, which it cannot express.
 */
static uint64_t vhd_size_choose(const struct vhd_footer *f)
{
	static const char current_size_creators[][4] = { "win ", "d2v ", "tap",
							 "CTXS", "qem2" };
	uint64_t chs = (uint64_t)f->cylinders * f->heads * f->sectors * 512;
	bool chs_max = f->cylinders == VHD_CHS_MAX_CYLINDERS &&
		       f->heads == VHD_CHS_MAX_HEADS &&
		       f->sectors == VHD_CHS_MAX_SECTORS;
	size_t i;

	if (chs_max)
		return f->current_size;
	for (i = 0; i < sizeof(current_size_creators) /
				sizeof(current_size_creators[0]);
	     i++)
		if (!memcmp(f->creator, current_size_creators[i], 4))
			return f->current_size;
	return chs;
}

/*
 * BAT geometry of differencing disk @h from its dynamic header @dyn, whose
 * block size is already in h->block_size and checked.
 */
static int vhd_bat_check(struct vhd *h, const uint8_t *dyn,
			 const struct vhd_footer *f, struct vr_err *err)
{
	uint64_t blocks, bat_end, sectors;

	h->bat_offset = vhd_get_be64(dyn + VHD_DYN_TABLE_OFFSET);
	h->bat_entries = vhd_get_be32(dyn + VHD_DYN_MAX_ENTRIES);
	blocks = f->current_size / h->block_size +
		 (f->current_size % h->block_size != 0);
	if (h->bat_entries < blocks)
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: dynamic header: %" PRIu32
				  " BAT entries cannot map %" PRIu64
				  " bytes (expected %" PRIu64 ")",
				  h->path, h->bat_entries, f->current_size,
				  blocks);
	if (__builtin_add_overflow(h->bat_offset, (uint64_t)h->bat_entries * 4,
				   &bat_end) ||
	    bat_end > h->file_size)
		return vr_err_set(
			err, -VR_ECORRUPT,
			"%s: BAT at 0x%" PRIx64 " (%" PRIu32
			" entries) ends past end of file (%" PRIu64 " bytes)",
			h->path, h->bat_offset, h->bat_entries, h->file_size);
	/* one bit per sector, padded to a whole sector */
	sectors = h->block_size / VHD_SECTOR;
	h->bitmap_size = (uint32_t)((sectors / 8 + VHD_SECTOR - 1) /
				    VHD_SECTOR * VHD_SECTOR);
	if (h->bitmap_size == 0)
		h->bitmap_size = VHD_SECTOR;
	h->bitmap = malloc(h->bitmap_size);
	if (!h->bitmap)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", h->path);
	h->bitmap_block = UINT64_MAX;
	return 0;
}

/*
 * Read the dynamic header of dynamic or differencing disk @h: its block size
 * and, for a differencing disk, its BAT geometry and its first relative
 * Windows locator ("W2ru") into h->parent_relative.
 */
static int vhd_dyn_read(struct vhd *h, int fd, const struct vhd_footer *f,
			uint64_t file_size, struct vr_err *err)
{
	uint8_t dyn[VHD_DYN_SIZE];
	uint8_t *data;
	ssize_t n;
	uint32_t csum;
	unsigned i;
	int rc;

	n = vr_pread_full(fd, dyn, sizeof(dyn), f->data_offset);
	if (n < 0)
		return vr_err_set(err, (int)n,
				  "%s: dynamic header at 0x%" PRIx64 ": %s",
				  h->path, f->data_offset, strerror((int)-n));
	if ((size_t)n < sizeof(dyn))
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: dynamic header at 0x%" PRIx64
				  ": truncated (file is %" PRIu64 " bytes)",
				  h->path, f->data_offset, file_size);
	if (memcmp(dyn + VHD_DYN_COOKIE, "cxsparse", 8) != 0)
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: dynamic header at 0x%" PRIx64
				  ": no \"cxsparse\" cookie",
				  h->path, f->data_offset);
	csum = vhd_csum(dyn, sizeof(dyn), VHD_DYN_CHECKSUM);
	if (csum != vhd_get_be32(dyn + VHD_DYN_CHECKSUM))
		return vr_err_set(err, -VR_EBADCRC,
				  "%s: dynamic header at 0x%" PRIx64
				  ": checksum mismatch (expected 0x%08" PRIx32
				  ", found 0x%08" PRIx32 ")",
				  h->path, f->data_offset, csum,
				  vhd_get_be32(dyn + VHD_DYN_CHECKSUM));
	h->block_size = vhd_get_be32(dyn + VHD_DYN_BLOCK_SIZE);
	if (h->block_size < VHD_SECTOR || h->block_size > VHD_BLOCK_SIZE_MAX ||
	    (h->block_size & (h->block_size - 1)) != 0)
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: dynamic header: block size %" PRIu32
				  " is not a power of two from 512 to %u",
				  h->path, h->block_size, VHD_BLOCK_SIZE_MAX);
	if (f->disk_type != LIBVHDI_DISK_TYPE_DIFFERENTIAL)
		return 0;
	rc = vhd_bat_check(h, dyn, f, err);
	if (rc < 0)
		return rc;
	for (i = 0; i < VHD_LOC_COUNT; i++) {
		const uint8_t *e = dyn + VHD_DYN_LOCATORS + i * VHD_LOC_SIZE;
		uint32_t len = vhd_get_be32(e + VHD_LOC_DATA_LENGTH);
		uint64_t off = vhd_get_be64(e + VHD_LOC_DATA_OFFSET);

		if (vhd_get_be32(e + VHD_LOC_CODE) != VHD_LOC_W2RU || len == 0)
			continue;
		if (len > VHD_LOC_DATA_MAX || off > file_size ||
		    len > file_size - off)
			return vr_err_set(err, -VR_ECORRUPT,
					  "%s: parent locator %u: %" PRIu32
					  " bytes at 0x%" PRIx64
					  " do not fit the file (%" PRIu64
					  " bytes)",
					  h->path, i, len, off, file_size);
		data = malloc(len);
		if (!data)
			return vr_err_set(err, -ENOMEM, "%s: out of memory",
					  h->path);
		n = vr_pread_full(fd, data, len, off);
		if (n != (ssize_t)len) {
			free(data);
			return vr_err_set(err, n < 0 ? (int)n : -EIO,
					  "%s: parent locator %u at 0x%" PRIx64
					  ": read failed",
					  h->path, i, off);
		}
		/* A name that is not UTF-16 is no use: try the others. */
		h->parent_relative = vr_utf16le_dup(data, len);
		free(data);
		if (h->parent_relative && h->parent_relative[0])
			return 0;
		free(h->parent_relative);
		h->parent_relative = NULL;
	}
	return 0;
}

/* Parent identifier and name of differencing disk @h, as libvhdi has them. */
static int vhd_parent_info_get(struct vhd *h, struct vr_err *err)
{
	libvhdi_error_t *lerr = NULL;
	size_t size = 0;
	int r;

	r = libvhdi_file_get_parent_identifier(h->file, h->parent_id,
					       sizeof(h->parent_id), &lerr);
	if (r < 0)
		return vhd_lib_fail(err, -VR_ECORRUPT, &lerr, h->path,
				    "parent identifier");
	if (r == 0)
		return vr_err_set(
			err, -VR_ECORRUPT,
			"%s: differencing disk without a parent identifier",
			h->path);
	r = libvhdi_file_get_utf8_parent_filename_size(h->file, &size, &lerr);
	if (r < 0)
		return vhd_lib_fail(err, -VR_ECORRUPT, &lerr, h->path,
				    "parent name");
	if (r == 0 || size <= 1)
		return 0;
	if (size > VHD_PARENT_NAME_MAX)
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: parent name of %zu bytes is too long",
				  h->path, size);
	h->parent_name = calloc(1, size);
	if (!h->parent_name)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", h->path);
	if (libvhdi_file_get_utf8_parent_filename(
		    h->file, (uint8_t *)h->parent_name, size, &lerr) != 1)
		return vhd_lib_fail(err, -VR_ECORRUPT, &lerr, h->path,
				    "parent name");
	h->parent_name[size - 1] = '\0';
	return 0;
}

static void vhd_node_free(struct vhd *h)
{
	if (!h)
		return;
	if (h->file) {
		libvhdi_file_close(h->file, NULL);
		libvhdi_file_free(&h->file, NULL);
	}
	if (h->fd >= 0)
		close(h->fd);
	free(h->bitmap);
	free(h->parent_name);
	free(h->parent_relative);
	free(h->path);
	free(h);
}

/*
 * Open one file of a chain: @fd is @path opened by the caller (borrowed).
 * Decodes and checks the footer, opens the file with libvhdi, then reads
 * the dynamic header (block size; BAT and parent locators of a differencing
 * disk).
 */
static int vhd_node_open(const char *path, int fd, struct vhd **out,
			 struct vr_err *err)
{
	libvhdi_error_t *lerr = NULL;
	uint8_t buf[VHD_FTR_SIZE];
	struct vhd_footer f;
	struct vhd *h;
	struct stat st;
	uint64_t file_size, foff;
	size64_t media = 0;
	ssize_t n;
	int ftype = 0, rc;

	if (fstat(fd, &st) < 0) {
		rc = errno;
		return vr_err_set(err, -rc, "%s: stat: %s", path, strerror(rc));
	}
	if (!S_ISREG(st.st_mode))
		return vr_err_set(err, -EINVAL, "%s: not a regular file", path);
	file_size = (uint64_t)st.st_size;
	if (file_size < VHD_FTR_SIZE)
		return vr_err_set(
			err, -VR_ECORRUPT,
			"%s: too small for a VHD footer (file is %" PRIu64
			" bytes)",
			path, file_size);
	/* libvhdi reads the footer at the end only; so must we. */
	foff = file_size - VHD_FTR_SIZE;
	n = vr_pread_full(fd, buf, sizeof(buf), foff);
	if (n < 0)
		return vr_err_set(err, (int)n,
				  "%s: footer at 0x%" PRIx64 ": %s", path, foff,
				  strerror((int)-n));
	if ((size_t)n < sizeof(buf))
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: footer at 0x%" PRIx64
				  ": truncated (file is %" PRIu64 " bytes)",
				  path, foff, file_size);
	vhd_footer_decode(buf, &f);
	rc = vhd_footer_check(path, buf, &f, foff, err);
	if (rc < 0)
		return rc;

	h = calloc(1, sizeof(*h));
	if (!h)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", path);
	h->fd = -1;
	h->path = strdup(path);
	if (!h->path) {
		rc = vr_err_set(err, -ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	h->dev = st.st_dev;
	h->ino = st.st_ino;
	h->file_size = file_size;
	h->disk_type = f.disk_type;
	h->footer = f;
	h->size = vhd_size_choose(&f);
	memcpy(h->id, buf + VHD_FTR_UNIQUE_ID, sizeof(h->id));

	if (libvhdi_file_initialize(&h->file, &lerr) != 1) {
		rc = vhd_lib_fail(err, -ENOMEM, &lerr, path, "open");
		goto fail;
	}
	if (libvhdi_file_open(h->file, path, LIBVHDI_OPEN_READ, &lerr) != 1) {
		/* Not open: libvhdi_file_close() must not see it. */
		libvhdi_file_free(&h->file, NULL);
		rc = vhd_lib_fail(err, -VR_ECORRUPT, &lerr, path, "open");
		goto fail;
	}
	if (libvhdi_file_get_file_type(h->file, &ftype, &lerr) != 1 ||
	    libvhdi_file_get_media_size(h->file, &media, &lerr) != 1) {
		rc = vhd_lib_fail(err, -VR_ECORRUPT, &lerr, path, "open");
		goto fail;
	}
	if (ftype != LIBVHDI_FILE_TYPE_VHD) {
		rc = vr_err_set(err, -VR_ECORRUPT,
				"%s: libvhdi reads this file as VHDX, not VHD",
				path);
		goto fail;
	}
	if (media > INT64_MAX) {
		rc = vr_err_set(err, -VR_ECORRUPT,
				"%s: media size %" PRIu64 " is too large", path,
				(uint64_t)media);
		goto fail;
	}
	h->media_size = media;
	if (media != f.current_size) {
		/* our block map (differencing) was checked against this */
		rc = vr_err_set(err, -VR_ECORRUPT,
				"%s: libvhdi media size %" PRIu64
				" differs from the footer's %" PRIu64,
				path, (uint64_t)media, f.current_size);
		goto fail;
	}
	/*
	 * After libvhdi, so that what it refuses (a dynamic header without
	 * its cookie) is reported in its words; it checks no more than that.
	 */
	if (f.disk_type != LIBVHDI_DISK_TYPE_FIXED) {
		rc = vhd_dyn_read(h, fd, &f, file_size, err);
		if (rc < 0)
			goto fail;
	}
	if (f.disk_type == LIBVHDI_DISK_TYPE_DIFFERENTIAL) {
		h->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (h->fd < 0) {
			rc = errno;
			rc = vr_err_set(err, -rc, "%s: dup: %s", path,
					strerror(rc));
			goto fail;
		}
		rc = vhd_parent_info_get(h, err);
		if (rc < 0)
			goto fail;
	}
	*out = h;
	return 0;

fail:
	vhd_node_free(h);
	return rc;
}

/* Directory part of @path ("." if none), newly allocated. */
static char *vhd_dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

static char *vhd_path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *s = malloc(n);

	if (s)
		snprintf(s, n, "%s/%s", dir, name);
	return s;
}

/* Last component of a Windows path ("C:\dir\p.vhd" -> "p.vhd") or NULL. */
static const char *vhd_win_basename(const char *win)
{
	const char *b = win, *p;

	for (p = win; *p; p++)
		if (*p == '\\' || *p == '/')
			b = p + 1;
	if (b == win && win[0] && win[1] == ':')
		b = win + 2; /* "C:p.vhd" */
	if (!*b || strcmp(b, ".") == 0 || strcmp(b, "..") == 0)
		return NULL;
	return b;
}

/*
 * A relative Windows path (".\p.vhd", "..\base\p.vhd") as a POSIX path
 * relative to the child's directory, newly allocated; NULL if @win is not
 * relative (drive letter, UNC or rooted) or out of memory.
 */
static char *vhd_win_relative(const char *win)
{
	char *s, *p;

	if (win[0] == '\\' || win[0] == '/' || (win[0] && win[1] == ':'))
		return NULL;
	while (win[0] == '.' && (win[1] == '\\' || win[1] == '/'))
		win += 2;
	if (!*win)
		return NULL;
	s = strdup(win);
	if (!s)
		return NULL;
	for (p = s; *p; p++)
		if (*p == '\\')
			*p = '/';
	return s;
}

/* Is the file behind @p already in the chain from @top? */
static const struct vhd *vhd_chain_find(const struct vhd *top,
					const struct vhd *p)
{
	const struct vhd *h;

	for (h = top; h; h = h->parent)
		if (h->dev == p->dev && h->ino == p->ino)
			return h;
	return NULL;
}

#define VHD_CANDIDATES 3

/*
 * Find, open and check the parent of @child, the last file of the chain
 * from @top. Candidates, in order: @override, the base name of the parent
 * name in the child's directory, the relative locator from there. A
 * candidate that does not exist is skipped; one that exists but is not the
 * parent stops the search, since the next is most likely the same file.
 */
static int vhd_parent_open(const struct vhd *top, const struct vhd *child,
			   const char *override, struct vhd **out,
			   struct vr_err *err)
{
	char *cand[VHD_CANDIDATES] = { NULL };
	char want[37], found[37];
	const char *base, *shown;
	struct vhd *p = NULL;
	char *dir, *rel = NULL;
	unsigned i, j;
	int fd, rc;

	dir = vhd_dir_of(child->path);
	if (!dir)
		return vr_err_set(err, -ENOMEM, "%s: out of memory",
				  child->path);
	rc = -ENOMEM;
	if (override) {
		cand[0] = strdup(override);
		if (!cand[0])
			goto out_nomem;
	}
	base = child->parent_name ? vhd_win_basename(child->parent_name) : NULL;
	if (base) {
		cand[1] = vhd_path_join(dir, base);
		if (!cand[1])
			goto out_nomem;
	}
	if (child->parent_relative) {
		rel = vhd_win_relative(child->parent_relative);
		if (rel) {
			cand[2] = vhd_path_join(dir, rel);
			if (!cand[2])
				goto out_nomem;
		}
	}

	for (i = 0; i < VHD_CANDIDATES; i++) {
		if (!cand[i])
			continue;
		for (j = 0; j < i; j++)
			if (cand[j] && strcmp(cand[j], cand[i]) == 0)
				break;
		if (j < i)
			continue; /* tried already */
		/* O_NONBLOCK: a FIFO at a locator path must not hang us. */
		fd = open(cand[i], O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0 && (errno == ENOENT || errno == ENOTDIR))
			continue;
		if (fd < 0) {
			rc = errno;
			rc = vr_err_set(err, -rc, "%s: parent %s: %s",
					child->path, cand[i], strerror(rc));
			goto out;
		}
		rc = vhd_node_open(cand[i], fd, &p, err);
		close(fd);
		if (rc < 0)
			goto out;
		if (vhd_chain_find(top, p)) {
			rc = vr_err_set(
				err, -ELOOP,
				"%s: parent chain loops: %s is already in the chain",
				child->path, cand[i]);
			goto out;
		}
		if (memcmp(p->id, child->parent_id, sizeof(p->id)) != 0) {
			vhd_id_format(child->parent_id, want);
			vhd_id_format(p->id, found);
			rc = vr_err_set(
				err, -ESTALE,
				"%s: parent %s: parent identifier mismatch (expected %s, found %s)",
				child->path, cand[i], want, found);
			goto out;
		}
		if (p->media_size < child->media_size) {
			rc = vr_err_set(
				err, -VR_ECORRUPT,
				"%s: parent %s is smaller than its child (%" PRIu64
				" < %" PRIu64 " bytes)",
				child->path, cand[i], p->media_size,
				child->media_size);
			goto out;
		}
		*out = p;
		p = NULL;
		rc = 0;
		goto out;
	}

	shown = child->parent_relative ? child->parent_relative
		: child->parent_name   ? child->parent_name
				       : "(unnamed)";
	if (override)
		rc = vr_err_set(
			err, -ENOENT,
			"%s: parent %s not found (tried %s, looked in %s)",
			child->path, shown, override, dir);
	else if (!cand[1] && !cand[2])
		rc = vr_err_set(
			err, -ENOENT,
			"%s: parent not found: the disk names no usable parent path",
			child->path);
	else
		rc = vr_err_set(err, -ENOENT,
				"%s: parent %s not found (looked in %s)",
				child->path, shown, dir);
	goto out;

out_nomem:
	rc = vr_err_set(err, -ENOMEM, "%s: out of memory", child->path);
out:
	vhd_node_free(p);
	for (i = 0; i < VHD_CANDIDATES; i++)
		free(cand[i]);
	free(rel);
	free(dir);
	return rc;
}

int vhd_open(const char *path, unsigned flags, const char *parent_path,
	     struct vhd **out, struct vr_err *err)
{
	libvhdi_error_t *lerr = NULL;
	const char *override = parent_path;
	struct vhd *top = NULL, *cur, *p = NULL;
	unsigned depth = 1;
	int fd, rc;

	assert(path && out);
	if (flags & ~VHD_OPEN_NO_PARENT)
		return vr_err_set(err, -EINVAL, "%s: unknown open flags 0x%x",
				  path, flags);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		rc = errno;
		return vr_err_set(err, -rc, "%s: %s", path, strerror(rc));
	}
	rc = vhd_node_open(path, fd, &top, err);
	close(fd);
	if (rc < 0)
		return rc;
	if (flags & VHD_OPEN_NO_PARENT) {
		*out = top;
		return 0;
	}

	for (cur = top; cur->disk_type == LIBVHDI_DISK_TYPE_DIFFERENTIAL;
	     cur = p) {
		if (depth >= VHD_MAX_CHAIN_DEPTH) {
			rc = vr_err_set(
				err, -ELOOP,
				"%s: parent chain is longer than %d files",
				path, VHD_MAX_CHAIN_DEPTH);
			goto fail;
		}
		rc = vhd_parent_open(top, cur, override, &p, err);
		if (rc < 0)
			goto fail;
		cur->parent = p;
		if (libvhdi_file_set_parent_file(cur->file, p->file, &lerr) !=
		    1) {
			rc = vhd_lib_fail(err, -ESTALE, &lerr, cur->path,
					  "parent");
			goto fail;
		}
		override = NULL; /* it names the first parent only */
		depth++;
	}
	*out = top;
	return 0;

fail:
	vhd_close(top);
	return rc;
}

void vhd_close(struct vhd *h)
{
	/* Child first: its libvhdi file borrows the parent's (invariant 1). */
	while (h) {
		struct vhd *parent = h->parent;

		vhd_node_free(h);
		h = parent;
	}
}

uint64_t vhd_size(const struct vhd *h)
{
	assert(h);
	return h->size;
}

const char *vhd_path(const struct vhd *h)
{
	assert(h);
	return h->path;
}

const struct vhd *vhd_parent(const struct vhd *h)
{
	assert(h);
	return h->parent;
}

void vhd_get_info(const struct vhd *h, struct vhd_info *info)
{
	const struct vhd_footer *f;
	unsigned i;

	assert(h && info);
	f = &h->footer;
	memset(info, 0, sizeof(*info));
	info->type = (enum vhd_type)h->disk_type;
	info->virtual_size = h->size;
	info->current_size = f->current_size;
	info->cylinders = f->cylinders;
	info->heads = f->heads;
	info->sectors = f->sectors;
	info->block_size = h->block_size;
	info->bytes_per_sector = VHD_SECTOR;
	info->file_size = h->file_size;
	memcpy(info->id, h->id, sizeof(info->id));
	/* the bytes come from the file: keep them printable */
	for (i = 0; i < 4 && f->creator[i]; i++) {
		char c = f->creator[i];

		info->creator[i] = c >= 0x20 && c < 0x7f ? c : '?';
	}
	info->creator[i] = '\0';
	info->creator_version = f->creator_version;
	if (h->disk_type != LIBVHDI_DISK_TYPE_DIFFERENTIAL)
		return;
	info->has_parent = true;
	memcpy(info->parent_id, h->parent_id, sizeof(info->parent_id));
	info->parent_name = h->parent_name;
	info->parent_relative = h->parent_relative;
}

static int vhd_media_read(struct vhd *h, uint8_t *buf, size_t len, uint64_t off,
			  struct vr_err *err);

/* Load the sector bitmap of @block (BAT entry @entry) into h->bitmap. */
static int vhd_bitmap_load(struct vhd *h, uint64_t block, uint32_t entry,
			   struct vr_err *err)
{
	uint64_t at = (uint64_t)entry * VHD_SECTOR;
	ssize_t n;

	if (h->bitmap_block == block)
		return 0;
	h->bitmap_block = UINT64_MAX;
	n = vr_pread_full(h->fd, h->bitmap, h->bitmap_size, at);
	if (n < 0)
		return vr_err_set(err, (int)n,
				  "%s: block %" PRIu64 ": bitmap at 0x%" PRIx64
				  ": %s",
				  h->path, block, at, strerror((int)-n));
	if ((size_t)n < h->bitmap_size)
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: block %" PRIu64 ": bitmap at 0x%" PRIx64
				  " ends past end of file (%" PRIu64 " bytes)",
				  h->path, block, at, h->file_size);
	h->bitmap_block = block;
	return 0;
}

static bool vhd_bitmap_test(const struct vhd *h, uint64_t sector)
{
	return h->bitmap[sector / 8] & (0x80u >> (sector % 8));
}

/*
 * Read [@off, @off + @len) of differencing disk @h, all inside one block
 * at @in bytes into block @block: runs of sectors whose bitmap bit is set
 * come from this file, the others from the parent.
 */
static int vhd_diff_block_read(struct vhd *h, uint8_t *buf, size_t len,
			       uint64_t off, uint64_t block, uint32_t in,
			       struct vr_err *err)
{
	uint32_t entry;
	uint8_t raw[4];
	uint64_t data, pos = in, end = (uint64_t)in + len;
	ssize_t n;
	int rc;

	n = vr_pread_full(h->fd, raw, sizeof(raw), h->bat_offset + block * 4);
	if (n != (ssize_t)sizeof(raw))
		return vr_err_set(err, n < 0 ? (int)n : -VR_ECORRUPT,
				  "%s: BAT entry %" PRIu64 ": read failed",
				  h->path, block);
	entry = vhd_get_be32(raw);
	if (entry == VHD_BAT_UNUSED)
		return vhd_media_read(h->parent, buf, len, off, err);
	rc = vhd_bitmap_load(h, block, entry, err);
	if (rc < 0)
		return rc;
	data = (uint64_t)entry * VHD_SECTOR + h->bitmap_size;
	while (pos < end) {
		uint64_t s = pos / VHD_SECTOR, run_end;
		bool here = vhd_bitmap_test(h, s);
		size_t run;

		/* extend the run while the sectors agree */
		run_end = (s + 1) * VHD_SECTOR;
		while (run_end < end &&
		       vhd_bitmap_test(h, run_end / VHD_SECTOR) == here)
			run_end += VHD_SECTOR;
		if (run_end > end)
			run_end = end;
		run = (size_t)(run_end - pos);
		if (here) {
			n = vr_pread_full(h->fd, buf, run, data + pos);
			if (n < 0)
				return vr_err_set(err, (int)n,
						  "%s: block %" PRIu64
						  ": read at 0x%" PRIx64 ": %s",
						  h->path, block, data + pos,
						  strerror((int)-n));
			if ((size_t)n < run)
				return vr_err_set(
					err, -VR_ECORRUPT,
					"%s: block %" PRIu64
					": data at 0x%" PRIx64
					" ends past end of file (%" PRIu64
					" bytes)",
					h->path, block, data + pos,
					h->file_size);
		} else {
			rc = vhd_media_read(h->parent, buf, run,
					    off + (pos - in), err);
			if (rc < 0)
				return rc;
		}
		buf += run;
		pos = run_end;
	}
	return 0;
}

/* Read a differencing disk block by block (see the file header). */
static int vhd_diff_read(struct vhd *h, uint8_t *buf, size_t len, uint64_t off,
			 struct vr_err *err)
{
	int rc;

	assert(h->parent && h->fd >= 0);
	while (len > 0) {
		uint64_t block = off / h->block_size;
		uint32_t in = (uint32_t)(off % h->block_size);
		size_t n = len;

		if (n > h->block_size - in)
			n = h->block_size - in;
		/* block < bat_entries: checked against the media size */
		rc = vhd_diff_block_read(h, buf, n, off, block, in, err);
		if (rc < 0)
			return rc;
		buf += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* Read inside libvhdi's media size (invariants 3 and 4). */
static int vhd_media_read(struct vhd *h, uint8_t *buf, size_t len, uint64_t off,
			  struct vr_err *err)
{
	libvhdi_error_t *lerr = NULL;
	ssize_t n;

	assert(off <= h->media_size && len <= h->media_size - off);
	if (len == 0)
		return 0;
	if (h->disk_type == LIBVHDI_DISK_TYPE_DIFFERENTIAL)
		return vhd_diff_read(h, buf, len, off, err);
	n = libvhdi_file_read_buffer_at_offset(h->file, buf, len, (off64_t)off,
					       &lerr);
	if (n < 0) {
		char what[64];

		snprintf(what, sizeof(what), "read at 0x%" PRIx64, off);
		return vhd_lib_fail(err, -EIO, &lerr, h->path, what);
	}
	if ((size_t)n != len)
		return vr_err_set(err, -EIO,
				  "%s: read at 0x%" PRIx64
				  ": libvhdi returned %zd of %zu bytes",
				  h->path, off, n, len);
	return 0;
}

int vhd_read(struct vhd *h, void *buf, size_t len, uint64_t off,
	     struct vr_err *err)
{
	size_t want = 0;
	int rc;

	assert(h && (buf || len == 0));
	if (off > h->size || len > h->size - off)
		return vr_err_set(err, -EINVAL,
				  "%s: read of %zu bytes at 0x%" PRIx64
				  " is outside the disk (%" PRIu64 " bytes)",
				  h->path, len, off, h->size);
	if (h->disk_type == LIBVHDI_DISK_TYPE_DIFFERENTIAL && !h->parent)
		return vr_err_set(
			err, -ENOENT,
			"%s: differencing disk opened without its parent",
			h->path);
	if (off < h->media_size) {
		want = len;
		if (want > h->media_size - off)
			want = (size_t)(h->media_size - off);
	}
	if (want > 0) {
		rc = vhd_media_read(h, buf, want, off, err);
		if (rc < 0)
			return rc;
	}
	/* Past libvhdi's media size, where the CHS size is larger. */
	memset((uint8_t *)buf + want, 0, len - want);
	return 0;
}
