/*
 * create.c - make a new fixed, dynamic or differencing VHDX file.
 * Spec: [MS-VHDX] 2.1 (layout), 2.2 (headers, region table), 2.5 (BAT),
 * 2.6 (metadata, parent locator).
 *
 * Layout, as Hyper-V lays out new files: header section (1 MiB), log
 * (1 MiB, empty), metadata region (1 MiB), BAT region (rounded up to
 * 1 MiB), then payload blocks (fixed) or sector bitmap blocks
 * (differencing), allocated in order. The whole image is built in a temp file
 * that vr_file_replace() flushes and renames: a crash leaves no half-made
 * disk, so creation needs no log.
 */
#include <config.h>
#include "vhdx.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bat.h"
#include "guid.h"
#include "header.h"
#include "internal.h"
#include "metadata.h"
#include "vr_endian.h"
#include "vr_err.h"
#include "vr_io.h"
#include "vr_text.h"

#define VHDX_CREATE_LOG_OFFSET (1ull << 20)
#define VHDX_CREATE_LOG_LENGTH (1u << 20)
#define VHDX_CREATE_META_OFFSET (2ull << 20)
#define VHDX_CREATE_META_LENGTH (1u << 20)
#define VHDX_CREATE_BAT_OFFSET (3ull << 20)
/* Items follow the 64 KiB table; the locator comes after the fixed ones. */
#define VHDX_CREATE_ITEMS (64u * 1024)
#define VHDX_CREATE_LOCATOR (VHDX_CREATE_ITEMS + 4096)
#define VHDX_CREATE_MAX_LOCATOR (VHDX_CREATE_META_LENGTH - VHDX_CREATE_LOCATOR)

/* Everything the writer needs, worked out before the temp file exists. */
struct vhdx_create_plan {
	const char *path;
	bool fixed;
	bool has_parent;
	uint64_t virtual_size;
	uint32_t block_size, lss, pss;
	struct vhdx_bat_geometry g;
	uint64_t bat_length;  /* 1 MiB multiple */
	uint64_t data_offset; /* first payload block */
	uint64_t file_size;
	uint8_t file_write_guid[16], data_write_guid[16], page83[16];
	uint8_t *locator; /* parent locator item, or NULL */
	size_t locator_len;
};

static bool vhdx_create_is_power_of_2(uint32_t x)
{
	return x && !(x & (x - 1));
}

/*
 * @to as seen from directory @from, both absolute and canonical, in
 * Windows form: ".\base.vhdx", "..\golden\base.vhdx".
 */
static char *vhdx_create_relative(const char *from, const char *to)
{
	size_t f = 0, t = 0, i, ups = 0;
	char *out, *p;

	/* Skip whole path components the two share ("/" is one too). */
	for (;;) {
		size_t fl = strcspn(from + f + 1, "/") + 1;
		size_t tl = strcspn(to + t + 1, "/") + 1;

		if (from[f] == '\0' || to[t + tl] == '\0' || fl != tl ||
		    strncmp(from + f, to + t, fl) != 0)
			break;
		f += fl;
		t += tl;
	}
	/* every component of @from not shared is one ".." */
	for (i = f; from[i]; i++)
		ups += from[i] == '/' && from[i + 1] != '\0';
	out = malloc(3 * ups + strlen(to + t) + 3);
	if (!out)
		return NULL;
	strcpy(out, ups ? "" : ".");
	for (i = 0; i < ups; i++)
		strcat(out, i ? "\\.." : "..");
	strcat(out, to + t); /* starts with its '/' */
	for (p = out; *p; p++)
		if (*p == '/')
			*p = '\\';
	return out;
}

/* Take size, sectors and identity from the parent; build the locator. */
static int vhdx_create_plan_parent(struct vhdx_create_plan *pl,
				   const char *parent_path, struct vr_err *err)
{
	struct vhdx_locator_entry kv[3] = { { "parent_linkage", NULL },
					    { "relative_path", NULL },
					    { "absolute_win32_path", NULL } };
	char *child_copy = strdup(pl->path), *child_dir = NULL;
	char *parent_abs = NULL, guid[37];
	struct vhdx_info in;
	struct vhdx *parent;
	unsigned i;
	int rc;

	if (!child_copy)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", pl->path);
	/* The whole chain must open: a child of a broken parent is useless. */
	rc = vhdx_open(parent_path, 0, NULL, &parent, NULL, err);
	if (rc < 0)
		goto out;
	vhdx_get_info(parent, &in);
	vhdx_close(parent);
	pl->virtual_size = in.virtual_size;
	if (pl->lss && pl->lss != in.logical_sector_size) {
		rc = vr_err_set(err, -EINVAL,
				"%s: logical sector size %" PRIu32
				" differs from the parent's %" PRIu32,
				pl->path, pl->lss, in.logical_sector_size);
		goto out;
	}
	pl->lss = in.logical_sector_size;
	if (!pl->pss)
		pl->pss = in.physical_sector_size;
	parent_abs = realpath(parent_path, NULL);
	child_dir = realpath(dirname(child_copy), NULL);
	if (!parent_abs || !child_dir) {
		rc = vr_err_set(err, -errno, "%s: cannot resolve %s: %s",
				pl->path,
				parent_abs ? "its directory" : parent_path,
				strerror(errno));
		goto out;
	}
	vhdx_guid_format(in.data_write_guid, guid);
	if (asprintf(&kv[0].value, "{%s}", guid) < 0)
		kv[0].value = NULL;
	kv[1].value = vhdx_create_relative(child_dir, parent_abs);
	kv[2].value = strdup(parent_abs);
	if (!kv[0].value || !kv[1].value || !kv[2].value) {
		rc = vr_err_set(err, -ENOMEM, "%s: out of memory", pl->path);
		goto out;
	}
	rc = vhdx_meta_locator_encode(pl->path, kv, 3, VHDX_CREATE_MAX_LOCATOR,
				      &pl->locator, &pl->locator_len, err);
out:
	for (i = 0; i < 3; i++)
		free(kv[i].value);
	free(parent_abs);
	free(child_dir);
	free(child_copy);
	return rc;
}

static int vhdx_create_plan(struct vhdx_create_plan *pl, const char *path,
			    const struct vhdx_create_opts *o,
			    struct vr_err *err)
{
	uint64_t bat_bytes;
	int rc;

	memset(pl, 0, sizeof(*pl));
	pl->path = path;
	pl->fixed = o->type == VHDX_TYPE_FIXED;
	pl->has_parent = o->type == VHDX_TYPE_DIFFERENCING;
	pl->virtual_size = o->virtual_size;
	pl->lss = o->logical_sector_size;
	pl->pss = o->physical_sector_size;
	pl->block_size = o->block_size	  ? o->block_size
			 : pl->has_parent ? 2u << 20
					  : 32u << 20;
	if (pl->has_parent != (o->parent_path != NULL))
		return vr_err_set(err, -EINVAL,
				  "%s: a differencing disk needs a parent, "
				  "and only it",
				  path);
	if (pl->has_parent) {
		rc = vhdx_create_plan_parent(pl, o->parent_path, err);
		if (rc < 0)
			return rc;
	}
	if (!pl->lss)
		pl->lss = 512;
	if (!pl->pss)
		pl->pss = 4096;
	if ((pl->lss != 512 && pl->lss != 4096) ||
	    (pl->pss != 512 && pl->pss != 4096))
		return vr_err_set(err, -EINVAL,
				  "%s: sector sizes must be 512 or 4096", path);
	if (!vhdx_create_is_power_of_2(pl->block_size) ||
	    pl->block_size < VHDX_MIN_BLOCK_SIZE ||
	    pl->block_size > VHDX_MAX_BLOCK_SIZE)
		return vr_err_set(err, -EINVAL,
				  "%s: block size %" PRIu32
				  " is not a power of 2 from 1 MiB to 256 MiB",
				  path, pl->block_size);
	if (pl->virtual_size == 0 || pl->virtual_size % pl->lss ||
	    pl->virtual_size > VHDX_MAX_VIRTUAL_SIZE)
		return vr_err_set(err, -EINVAL,
				  "%s: size %" PRIu64
				  " is not a non-zero multiple of %" PRIu32
				  " up to 64 TiB",
				  path, pl->virtual_size, pl->lss);
	vhdx_bat_geometry(pl->virtual_size, pl->block_size, pl->lss,
			  pl->has_parent, &pl->g);
	bat_bytes = pl->g.entries * VHDX_BAT_ENTRY_SIZE;
	pl->bat_length = (bat_bytes + VHDX_MiB - 1) / VHDX_MiB * VHDX_MiB;
	if (pl->bat_length > UINT32_MAX - VHDX_MiB + 1)
		return vr_err_set(err, -EINVAL, "%s: BAT too large", path);
	pl->data_offset = VHDX_CREATE_BAT_OFFSET + pl->bat_length;
	if (pl->fixed)
		pl->file_size =
			pl->data_offset + pl->g.data_blocks * pl->block_size;
	else if (pl->has_parent)
		pl->file_size = pl->data_offset +
				pl->g.bitmap_blocks * VHDX_SB_BLOCK_SIZE;
	else
		pl->file_size = pl->data_offset;
	rc = vhdx_guid_generate(pl->file_write_guid, path, err);
	if (rc == 0)
		rc = vhdx_guid_generate(pl->data_write_guid, path, err);
	if (rc == 0)
		rc = vhdx_guid_generate(pl->page83, path, err);
	return rc;
}

static int vhdx_create_put(int fd, const struct vhdx_create_plan *pl,
			   const void *buf, size_t len, uint64_t off,
			   const char *what, struct vr_err *err)
{
	ssize_t n = vr_pwrite_full(fd, buf, len, off);

	if (n < 0)
		return vr_err_set(err, (int)n, "%s: writing the %s: %s",
				  pl->path, what, strerror((int)-n));
	return 0;
}

static int vhdx_create_write_headers(int fd, const struct vhdx_create_plan *pl,
				     uint8_t *buf, struct vr_err *err)
{
	static const char creator[] = "vhdrecover " PACKAGE_VERSION;
	struct vhdx_header h = { .version = 1,
				 .log_length = VHDX_CREATE_LOG_LENGTH,
				 .log_offset = VHDX_CREATE_LOG_OFFSET };
	uint8_t *e;
	size_t i;
	int rc;

	memset(buf, 0, 64 * 1024);
	memcpy(buf, "vhdxfile", 8);
	for (i = 0; creator[i]; i++)
		vr_put_le16(buf + VHDX_FILE_ID_CREATOR + 2 * i,
			    (uint8_t)creator[i]);
	rc = vhdx_create_put(fd, pl, buf, 64 * 1024, 0, "file identifier", err);
	memcpy(h.file_write_guid, pl->file_write_guid, 16);
	memcpy(h.data_write_guid, pl->data_write_guid, 16);
	for (i = 0; i < 2 && rc == 0; i++) {
		h.sequence = i + 1;
		vhdx_header_encode(&h, buf);
		rc = vhdx_create_put(fd, pl, buf, VHDX_HDR_CSUM_SIZE,
				     i ? VHDX_HEADER2_OFFSET
				       : VHDX_HEADER1_OFFSET,
				     "header", err);
	}
	if (rc < 0)
		return rc;
	memset(buf, 0, VHDX_RT_SIZE);
	memcpy(buf + VHDX_RT_SIGNATURE, "regi", 4);
	vr_put_le32(buf + VHDX_RT_ENTRY_COUNT, 2);
	e = buf + VHDX_RT_ENTRIES;
	memcpy(e + VHDX_RTE_GUID, vhdx_guid_bat, 16);
	vr_put_le64(e + VHDX_RTE_FILE_OFFSET, VHDX_CREATE_BAT_OFFSET);
	vr_put_le32(e + VHDX_RTE_LENGTH, (uint32_t)pl->bat_length);
	vr_put_le32(e + VHDX_RTE_FLAGS, 1);
	e += VHDX_RTE_SIZE;
	memcpy(e + VHDX_RTE_GUID, vhdx_guid_metadata, 16);
	vr_put_le64(e + VHDX_RTE_FILE_OFFSET, VHDX_CREATE_META_OFFSET);
	vr_put_le32(e + VHDX_RTE_LENGTH, VHDX_CREATE_META_LENGTH);
	vr_put_le32(e + VHDX_RTE_FLAGS, 1);
	vhdx_region_csum_set(buf);
	rc = vhdx_create_put(fd, pl, buf, VHDX_RT_SIZE, VHDX_REGION1_OFFSET,
			     "region table", err);
	if (rc == 0)
		rc = vhdx_create_put(fd, pl, buf, VHDX_RT_SIZE,
				     VHDX_REGION2_OFFSET, "region table", err);
	return rc;
}

/* Table entry @i for item @guid at @off of @len bytes. */
static void vhdx_create_meta_entry(uint8_t *table, unsigned i,
				   const uint8_t *guid, uint32_t off,
				   uint32_t len, uint32_t flags)
{
	uint8_t *e = table + VHDX_MT_ENTRIES + i * VHDX_MTE_SIZE;

	memcpy(e + VHDX_MTE_ITEM_ID, guid, 16);
	vr_put_le32(e + VHDX_MTE_OFFSET, off);
	vr_put_le32(e + VHDX_MTE_LENGTH, len);
	vr_put_le32(e + VHDX_MTE_FLAGS, flags);
}

static int vhdx_create_write_metadata(int fd, const struct vhdx_create_plan *pl,
				      uint8_t *buf, struct vr_err *err)
{
	const uint32_t disk = VHDX_MTE_IS_VIRTUAL_DISK | VHDX_MTE_IS_REQUIRED;
	uint8_t *it = buf + VHDX_CREATE_ITEMS;
	unsigned n = 0;

	memset(buf, 0, VHDX_CREATE_META_LENGTH);
	memcpy(buf + VHDX_MT_SIGNATURE, "metadata", 8);
	vhdx_create_meta_entry(buf, n++, vhdx_guid_file_parameters,
			       VHDX_CREATE_ITEMS, 8, VHDX_MTE_IS_REQUIRED);
	vr_put_le32(it + VHDX_FP_BLOCK_SIZE, pl->block_size);
	vr_put_le32(it + VHDX_FP_FLAGS,
		    (pl->fixed ? VHDX_FP_LEAVE_BLOCKS_ALLOCATED : 0) |
			    (pl->has_parent ? VHDX_FP_HAS_PARENT : 0));
	vhdx_create_meta_entry(buf, n++, vhdx_guid_virtual_disk_size,
			       VHDX_CREATE_ITEMS + 8, 8, disk);
	vr_put_le64(it + 8, pl->virtual_size);
	vhdx_create_meta_entry(buf, n++, vhdx_guid_page83,
			       VHDX_CREATE_ITEMS + 16, 16, disk);
	memcpy(it + 16, pl->page83, 16);
	vhdx_create_meta_entry(buf, n++, vhdx_guid_logical_sector_size,
			       VHDX_CREATE_ITEMS + 32, 4, disk);
	vr_put_le32(it + 32, pl->lss);
	vhdx_create_meta_entry(buf, n++, vhdx_guid_physical_sector_size,
			       VHDX_CREATE_ITEMS + 36, 4, disk);
	vr_put_le32(it + 36, pl->pss);
	if (pl->locator) {
		vhdx_create_meta_entry(
			buf, n++, vhdx_guid_parent_locator, VHDX_CREATE_LOCATOR,
			(uint32_t)pl->locator_len, VHDX_MTE_IS_REQUIRED);
		memcpy(buf + VHDX_CREATE_LOCATOR, pl->locator, pl->locator_len);
	}
	vr_put_le16(buf + VHDX_MT_ENTRY_COUNT, (uint16_t)n);
	return vhdx_create_put(fd, pl, buf, VHDX_CREATE_META_LENGTH,
			       VHDX_CREATE_META_OFFSET, "metadata", err);
}

/*
 * The BAT of a fixed disk: every payload block allocated, in order, after
 * the BAT. Of a differencing disk: a zeroed sector bitmap block for every
 * chunk (all sectors from the parent), as Hyper-V makes them; libvhdi
 * reads a chunk without one wrongly. Dynamic disks need no entries.
 */
static int vhdx_create_write_bat(int fd, const struct vhdx_create_plan *pl,
				 struct vr_err *err)
{
	uint8_t *bat = calloc(1, (size_t)pl->bat_length);
	uint64_t b, c;
	int rc;

	if (!bat)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", pl->path);
	for (b = 0; pl->fixed && b < pl->g.data_blocks; b++) {
		uint64_t idx = b + b / pl->g.chunk_ratio;
		uint64_t off = pl->data_offset + b * pl->block_size;

		vr_put_le64(bat + idx * VHDX_BAT_ENTRY_SIZE,
			    off | VHDX_BLOCK_FULLY_PRESENT);
	}
	for (c = 0; pl->has_parent && c < pl->g.bitmap_blocks; c++) {
		uint64_t idx =
			c * (pl->g.chunk_ratio + 1ull) + pl->g.chunk_ratio;
		uint64_t off = pl->data_offset + c * VHDX_SB_BLOCK_SIZE;

		vr_put_le64(bat + idx * VHDX_BAT_ENTRY_SIZE,
			    off | VHDX_SB_PRESENT);
	}
	rc = vhdx_create_put(fd, pl, bat, (size_t)pl->bat_length,
			     VHDX_CREATE_BAT_OFFSET, "BAT", err);
	free(bat);
	if (rc < 0 || !pl->fixed)
		return rc;
	/* Reserve the space now, so writes to a fixed disk cannot fail. */
	rc = posix_fallocate(fd, (off_t)pl->data_offset,
			     (off_t)(pl->file_size - pl->data_offset));
	if (rc && rc != EOPNOTSUPP && rc != EINVAL)
		return vr_err_set(err, -rc,
				  "%s: allocating %" PRIu64 " bytes: %s",
				  pl->path, pl->file_size - pl->data_offset,
				  strerror(rc));
	return 0;
}

static int vhdx_create_write(int fd, const char *tmp, void *ctx,
			     struct vr_err *err)
{
	const struct vhdx_create_plan *pl = ctx;
	uint8_t *buf = malloc(VHDX_CREATE_META_LENGTH);
	int rc;

	(void)tmp;
	if (!buf)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", pl->path);
	if (ftruncate(fd, (off_t)pl->file_size) < 0) {
		rc = vr_err_set(err, -errno,
				"%s: sizing to %" PRIu64 " bytes: %s", pl->path,
				pl->file_size, strerror(errno));
		goto out;
	}
	rc = vhdx_create_write_headers(fd, pl, buf, err);
	if (rc == 0)
		rc = vhdx_create_write_metadata(fd, pl, buf, err);
	if (rc == 0)
		rc = vhdx_create_write_bat(fd, pl, err);
out:
	free(buf);
	return rc;
}

int vhdx_create(const char *path, const struct vhdx_create_opts *o,
		struct vr_err *err)
{
	struct vhdx_create_plan pl;
	struct stat st;
	int rc;

	/* Fail early; the rename refuses a file made in the meantime. */
	if (lstat(path, &st) == 0)
		return vr_err_set(err, -EEXIST, "%s: already exists", path);
	rc = vhdx_create_plan(&pl, path, o, err);
	if (rc == 0)
		rc = vr_file_replace(path, 0644, VR_REPLACE_NOCLOBBER,
				     vhdx_create_write, &pl, err);
	free(pl.locator);
	return rc;
}

int vhdx_create_fd(int fd, const char *path, const struct vhdx_create_opts *o,
		   struct vr_err *err)
{
	struct vhdx_create_plan pl;
	int rc;

	rc = vhdx_create_plan(&pl, path, o, err);
	if (rc == 0)
		rc = vhdx_create_write(fd, path, &pl, err);
	free(pl.locator);
	return rc;
}
