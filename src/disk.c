/*
 * disk.c - one read interface over the three containers we take as input:
 * a VHDX chain (vhdx/), a legacy VHD chain (vhd.c, through libvhdi) or a raw
 * image file or block device. Probing tells them apart by their signatures:
 * "vhdxfile" at offset 0 ([MS-VHDX] 2.2.1), a "conectix" footer at the end
 * or its copy at offset 0 (VHD spec, "Hard Disk Footer Format").
 *
 * Every range is checked here against the disk size before it reaches a
 * backend, so all three report an out-of-range request the same way.
 */
#include <config.h>
#include "disk.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vhd.h"
#include "vhdx.h"
#include "vr_err.h"
#include "vr_io.h"

#define DISK_VHD_FOOTER_SIZE 512

struct disk {
	enum disk_format fmt;
	char *path;
	uint64_t size;
	int fd;				/* raw only, else -1 */
	struct vhdx *vhdx;		/* VHDX only */
	struct vhd *vhd;		/* VHD only */
	const struct disk_backend *ops; /* a backend disk only */
	void *ctx;
};

/*
 * Size of the file or block device open as @fd. Raw disks may be block
 * devices, whose st_size is 0: their size comes from lseek(), which moves a
 * file position we never use (all I/O is pread()).
 */
static int disk_fd_size(const char *path, int fd, uint64_t *size,
			struct vr_err *err)
{
	struct stat st;
	off_t end;
	int e;

	if (fstat(fd, &st) < 0) {
		e = errno;
		return vr_err_set(err, -e, "%s: stat: %s", path, strerror(e));
	}
	if (S_ISREG(st.st_mode)) {
		*size = (uint64_t)st.st_size;
		return 0;
	}
	if (S_ISDIR(st.st_mode))
		return vr_err_set(err, -EISDIR, "%s: is a directory", path);
	if (!S_ISBLK(st.st_mode))
		return vr_err_set(err, -EINVAL,
				  "%s: not a regular file or block device",
				  path);
	end = lseek(fd, 0, SEEK_END);
	if (end < 0) {
		e = errno;
		return vr_err_set(err, -e, "%s: size of block device: %s", path,
				  strerror(e));
	}
	*size = (uint64_t)end;
	return 0;
}

static int disk_open_fd(const char *path, int *fd, struct vr_err *err)
{
	int e;

	/* O_NONBLOCK: a FIFO must not hang the probe; files ignore it. */
	*fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (*fd < 0) {
		e = errno;
		return vr_err_set(err, -e, "%s: %s", path, strerror(e));
	}
	return 0;
}

/* Read exactly @len bytes at @off, inside a file of @size bytes. */
static int disk_pread(const char *path, int fd, void *buf, size_t len,
		      uint64_t off, uint64_t size, struct vr_err *err)
{
	ssize_t n = vr_pread_full(fd, buf, len, off);

	if (n < 0)
		return vr_err_set(err, (int)n,
				  "%s: read of %zu bytes at 0x%" PRIx64 ": %s",
				  path, len, off, strerror((int)-n));
	if ((size_t)n < len)
		return vr_err_set(err, -EIO,
				  "%s: short read at 0x%" PRIx64
				  ": %zd of %zu bytes (file was %" PRIu64
				  " bytes; did it shrink?)",
				  path, off, n, len, size);
	return 0;
}

/*
 * A VHDX whose file type identifier was overwritten still has its header
 * and region table signatures at fixed offsets ([MS-VHDX] 2.1). Calling it
 * VHDX lets the reader refuse it with a clear message, instead of a
 * recovery tool copying the container out as if it were a raw disk.
 */
static bool disk_probe_vhdx_structures(const char *path, int fd, uint64_t size)
{
	static const uint64_t headers[] = { 64 * 1024, 128 * 1024 };
	static const uint64_t regions[] = { 192 * 1024, 256 * 1024 };
	bool has_header = false, has_region = false;
	uint8_t sig[4];
	size_t i;

	if (size < 1024 * 1024)
		return false;
	for (i = 0; i < 2; i++) {
		if (disk_pread(path, fd, sig, 4, headers[i], size, NULL) == 0 &&
		    !memcmp(sig, "head", 4))
			has_header = true;
		if (disk_pread(path, fd, sig, 4, regions[i], size, NULL) == 0 &&
		    !memcmp(sig, "regi", 4))
			has_region = true;
	}
	return has_header && has_region;
}

int disk_probe(const char *path, enum disk_format *fmt, struct vr_err *err)
{
	uint8_t head[8], tail[DISK_VHD_FOOTER_SIZE];
	uint64_t size;
	int fd, rc;

	assert(path && fmt);
	rc = disk_open_fd(path, &fd, err);
	if (rc < 0)
		return rc;
	rc = disk_fd_size(path, fd, &size, err);
	if (rc < 0)
		goto out;
	if (size < sizeof(head)) {
		*fmt = DISK_FORMAT_RAW;
		goto out;
	}
	rc = disk_pread(path, fd, head, sizeof(head), 0, size, err);
	if (rc < 0)
		goto out;
	if (memcmp(head, "vhdxfile", 8) == 0 ||
	    disk_probe_vhdx_structures(path, fd, size)) {
		*fmt = DISK_FORMAT_VHDX;
		goto out;
	}
	if (size >= DISK_VHD_FOOTER_SIZE) {
		/* Read 512 bytes; a footer may start there or one later. */
		rc = disk_pread(path, fd, tail, sizeof(tail),
				size - DISK_VHD_FOOTER_SIZE, size, err);
		if (rc < 0)
			goto out;
		/*
		 * The last 512 bytes, or 511 (old Virtual PC wrote a footer
		 * one byte short), or the copy a dynamic disk keeps at 0.
		 */
		if (memcmp(tail, "conectix", 8) == 0 ||
		    memcmp(tail + 1, "conectix", 8) == 0 ||
		    memcmp(head, "conectix", 8) == 0) {
			*fmt = DISK_FORMAT_VHD;
			goto out;
		}
	}
	*fmt = DISK_FORMAT_RAW;
out:
	close(fd);
	return rc;
}

int disk_open(const char *path, enum disk_format fmt, const char *parent_path,
	      struct disk **out, struct vhdx_report *rep, struct vr_err *err)
{
	struct disk *d;
	int rc;

	assert(path && out);
	if (fmt == DISK_FORMAT_AUTO) {
		rc = disk_probe(path, &fmt, err);
		if (rc < 0)
			return rc;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", path);
	d->fd = -1;
	d->fmt = fmt;
	d->path = strdup(path);
	if (!d->path) {
		rc = vr_err_set(err, -ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	switch (fmt) {
	case DISK_FORMAT_RAW:
		if (parent_path) {
			rc = vr_err_set(
				err, -EINVAL,
				"%s: a raw image has no parent (%s given)",
				path, parent_path);
			goto fail;
		}
		rc = disk_open_fd(path, &d->fd, err);
		if (rc < 0)
			goto fail;
		rc = disk_fd_size(path, d->fd, &d->size, err);
		if (rc < 0)
			goto fail;
		if (d->size > INT64_MAX) {
			rc = vr_err_set(err, -EFBIG, "%s: too large", path);
			goto fail;
		}
		break;
	case DISK_FORMAT_VHDX:
		rc = vhdx_open(path, 0, parent_path, &d->vhdx, rep, err);
		if (rc < 0)
			goto fail;
		d->size = vhdx_virtual_size(d->vhdx);
		break;
	case DISK_FORMAT_VHD:
		rc = vhd_open(path, 0, parent_path, &d->vhd, err);
		if (rc < 0)
			goto fail;
		d->size = vhd_size(d->vhd);
		break;
	case DISK_FORMAT_AUTO:
	default:
		rc = vr_err_set(err, -EINVAL, "%s: unknown disk format %d",
				path, (int)fmt);
		goto fail;
	}
	*out = d;
	return 0;

fail:
	disk_close(d);
	return rc;
}

int disk_open_backend(const char *name, enum disk_format fmt, uint64_t size,
		      const struct disk_backend *ops, void *ctx,
		      struct disk **out, struct vr_err *err)
{
	struct disk *d = calloc(1, sizeof(*d));

	if (!d || !(d->path = strdup(name))) {
		free(d);
		if (ops->close)
			ops->close(ctx);
		return vr_err_set(err, -ENOMEM, "%s: out of memory", name);
	}
	d->fd = -1;
	d->fmt = fmt;
	d->size = size;
	d->ops = ops;
	d->ctx = ctx;
	*out = d;
	return 0;
}

void disk_close(struct disk *d)
{
	if (!d)
		return;
	if (d->ops && d->ops->close)
		d->ops->close(d->ctx);
	if (d->fd >= 0)
		close(d->fd);
	vhdx_close(d->vhdx);
	vhd_close(d->vhd);
	free(d->path);
	free(d);
}

uint64_t disk_size(const struct disk *d)
{
	assert(d);
	return d->size;
}

enum disk_format disk_get_format(const struct disk *d)
{
	assert(d);
	return d->fmt;
}

const char *disk_format_name(enum disk_format fmt)
{
	switch (fmt) {
	case DISK_FORMAT_AUTO:
		return "auto";
	case DISK_FORMAT_RAW:
		return "raw";
	case DISK_FORMAT_VHDX:
		return "vhdx";
	case DISK_FORMAT_VHD:
		return "vhd";
	case DISK_FORMAT_POINT:
		return "point";
	}
	return "unknown";
}

const char *disk_path(const struct disk *d)
{
	assert(d);
	return d->path;
}

struct vhdx *disk_vhdx(struct disk *d)
{
	assert(d);
	return d->vhdx;
}

struct vhd *disk_vhd(struct disk *d)
{
	assert(d);
	return d->vhd;
}

int disk_read(struct disk *d, void *buf, size_t len, uint64_t off,
	      struct vr_err *err)
{
	assert(d && (buf || len == 0));
	if (off > d->size || len > d->size - off)
		return vr_err_set(err, -EINVAL,
				  "%s: read of %zu bytes at 0x%" PRIx64
				  " is outside the disk (%" PRIu64 " bytes)",
				  d->path, len, off, d->size);
	if (len == 0)
		return 0;
	if (d->ops)
		return d->ops->read(d->ctx, buf, len, off, err);
	switch (d->fmt) {
	case DISK_FORMAT_VHDX:
		return vhdx_read(d->vhdx, buf, len, off, err);
	case DISK_FORMAT_VHD:
		return vhd_read(d->vhd, buf, len, off, err);
	case DISK_FORMAT_RAW:
	case DISK_FORMAT_AUTO:
	default:
		break;
	}
	return disk_pread(d->path, d->fd, buf, len, off, d->size, err);
}

/*
 * Raw files: a hole reads as zeros, so it is a zero run. lseek() with
 * SEEK_DATA/SEEK_HOLE returns the offset it found and only moves the file
 * position as a side effect, which no reader depends on.
 */
static int disk_raw_extent(struct disk *d, uint64_t off, uint64_t len,
			   uint64_t *run, bool *is_zero, struct vr_err *err)
{
	off_t data, hole;
	int e;

	data = lseek(d->fd, (off_t)off, SEEK_DATA);
	if (data < 0) {
		e = errno;
		if (e == ENXIO) {
			/* no data from @off to the end of the file */
			*run = len;
			*is_zero = true;
			return 0;
		}
		if (e == EINVAL || e == EOPNOTSUPP || e == ENOTSUP) {
			/* no hole reporting here (old fs, block device) */
			*run = len;
			*is_zero = false;
			return 0;
		}
		return vr_err_set(err, -e, "%s: SEEK_DATA at 0x%" PRIx64 ": %s",
				  d->path, off, strerror(e));
	}
	if ((uint64_t)data > off) {
		*run = (uint64_t)data - off < len ? (uint64_t)data - off : len;
		*is_zero = true;
		return 0;
	}
	hole = lseek(d->fd, (off_t)off, SEEK_HOLE);
	if (hole < 0) {
		e = errno;
		if (e != ENXIO)
			return vr_err_set(err, -e,
					  "%s: SEEK_HOLE at 0x%" PRIx64 ": %s",
					  d->path, off, strerror(e));
		hole = (off_t)(off + len); /* file shrank under us */
	}
	*run = len;
	if ((uint64_t)hole > off && (uint64_t)hole - off < len)
		*run = (uint64_t)hole - off;
	*is_zero = false;
	return 0;
}

int disk_extent(struct disk *d, uint64_t off, uint64_t len, uint64_t *run,
		bool *is_zero, struct vr_err *err)
{
	assert(d && run && is_zero);
	if (len == 0 || off > d->size || len > d->size - off)
		return vr_err_set(err, -EINVAL,
				  "%s: extent of %" PRIu64
				  " bytes at 0x%" PRIx64
				  " is outside the disk (%" PRIu64 " bytes)",
				  d->path, len, off, d->size);
	if (d->ops)
		return d->ops->extent(d->ctx, off, len, run, is_zero, err);
	switch (d->fmt) {
	case DISK_FORMAT_VHDX:
		return vhdx_extent(d->vhdx, off, len, run, is_zero, err);
	case DISK_FORMAT_VHD:
		/* libvhdi does not say which blocks are allocated */
		*run = len;
		*is_zero = false;
		return 0;
	case DISK_FORMAT_RAW:
	case DISK_FORMAT_AUTO:
	default:
		break;
	}
	return disk_raw_extent(d, off, len, run, is_zero, err);
}
