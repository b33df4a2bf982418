/*
 * guestfs.c - a guest file system of any kind we read (guestfs.h): the
 * kind picked by its magic, the calls passed to its implementation.
 */
#include <config.h>
#include "guestfs.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disk.h"
#include "extfs.h"
#include "ntfsfs.h"
#include "vr_err.h"

struct guestfs {
	const struct guestfs_ops *ops;
	void *impl;
	char type[16], uuid[64];
	char label[160]; /* NTFS: 32 UTF-16 units, up to 128 bytes of UTF-8 */
	bool casefold;
};

int guestfs_new(const char *type, const struct guestfs_ops *ops, void *impl,
		const char *label, const char *uuid, bool casefold,
		struct guestfs **out, struct vr_err *err)
{
	struct guestfs *fs = calloc(1, sizeof(*fs));

	if (!fs) {
		ops->close(impl);
		return vr_err_set(err, -ENOMEM, "out of memory");
	}
	fs->ops = ops;
	fs->impl = impl;
	snprintf(fs->type, sizeof(fs->type), "%s", type);
	snprintf(fs->label, sizeof(fs->label), "%s", label);
	snprintf(fs->uuid, sizeof(fs->uuid), "%s", uuid);
	fs->casefold = casefold;
	*out = fs;
	return 0;
}

int guestfs_open(struct disk *d, uint64_t offset, uint64_t size,
		 struct guestfs **out, struct vr_err *err)
{
	uint8_t b[1024 + 64];
	int rc;

	rc = size < sizeof(b) ? -EINVAL
			      : disk_read(d, b, sizeof(b), offset, err);
	if (rc == -EINVAL)
		return vr_err_set(err, -EINVAL,
				  "%s: no file system at 0x%" PRIx64
				  " (%" PRIu64 " bytes)",
				  disk_path(d), offset, size);
	if (rc < 0)
		return rc;
	if (b[1024 + 56] == 0x53 && b[1024 + 57] == 0xef)
		return extfs_open(d, offset, size, out, err);
	if (!memcmp(b + 3, "NTFS    ", 8))
		return ntfsfs_open(d, offset, size, out, err);
	if (!memcmp(b + 82, "FAT32   ", 8) || !memcmp(b + 54, "FAT", 3))
		return vr_err_set(err, -ENOTSUP,
				  "%s: FAT file system at 0x%" PRIx64
				  ": cannot be read (ext2/3/4 and NTFS can)",
				  disk_path(d), offset);
	return vr_err_set(err, -EINVAL, "%s: no file system at 0x%" PRIx64,
			  disk_path(d), offset);
}

void guestfs_close(struct guestfs *fs)
{
	if (!fs)
		return;
	fs->ops->close(fs->impl);
	free(fs);
}

const char *guestfs_type(const struct guestfs *fs)
{
	return fs->type;
}

const char *guestfs_label(const struct guestfs *fs)
{
	return fs->label;
}

const char *guestfs_uuid(const struct guestfs *fs)
{
	return fs->uuid;
}

bool guestfs_is_casefold(const struct guestfs *fs)
{
	return fs->casefold;
}

int guestfs_walk(struct guestfs *fs,
		 int (*visit)(void *ctx, const struct guestfs_entry *e),
		 void *ctx, struct vr_err *err)
{
	return fs->ops->walk(fs->impl, visit, ctx, err);
}

int64_t guestfs_read(struct guestfs *fs, uint64_t ino, void *buf, size_t len,
		     uint64_t off, struct vr_err *err)
{
	return fs->ops->read(fs->impl, ino, buf, len, off, err);
}
