/*
 * convert.c - copy any disk (disk.h: VHDX chain, VHD, raw, a recovery
 * point) into a new sparse raw image or VHDX, replaced atomically.
 *
 * The output is written to a temp file next to OUT, fsynced and renamed
 * over OUT, so OUT is either the old file or the complete new one. Runs
 * the disk reports as zero are never read; data runs are scanned in 4 KiB
 * pages and all-zero pages are not written: holes in a raw image, and in
 * a dynamic VHDX blocks that stay unallocated (or zeros inside allocated
 * ones), like qemu-img's -S 4k.
 */
#include <config.h>
#include "convert.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk.h"
#include "progress.h"
#include "vhdx.h"
#include "vr_err.h"
#include "vr_io.h"

#define CONVERT_CHUNK (8u * 1024 * 1024)
#define CONVERT_PAGE 4096u
/* Start writeback this often so the final fsync has little left to do. */
#define CONVERT_WRITEBACK (64ull * 1024 * 1024)

struct convert_job {
	struct disk *disk;
	const char *out_path;
	struct progress *progress;
	uint8_t *buf;
	bool to_vhdx;
	struct vhdx_create_opts vhdx_opts;
	/* where the data goes: the temp file (raw) or the new VHDX */
	int out_fd;
	struct vhdx *out_vhdx;
};

static bool convert_page_is_zero(const uint8_t *p)
{
	static const uint8_t zero[CONVERT_PAGE];

	return memcmp(p, zero, CONVERT_PAGE) == 0;
}

/* @len bytes of data at disk offset @off into the output. */
static int convert_put(struct convert_job *job, const uint8_t *buf, size_t len,
		       uint64_t off, struct vr_err *err)
{
	ssize_t w;

	if (job->out_vhdx)
		return vhdx_write(job->out_vhdx, buf, len, off, err);
	w = vr_pwrite_full(job->out_fd, buf, len, off);
	if (w < 0)
		return vr_err_set(err, (int)w, "%s: write at 0x%" PRIx64 ": %s",
				  job->out_path, off, strerror((int)-w));
	return 0;
}

/* Write the non-zero pages of @buf (@len bytes at disk offset @off). */
static int convert_write_data(struct convert_job *job, const uint8_t *buf,
			      size_t len, uint64_t off, struct vr_err *err)
{
	size_t i = 0;
	int rc;

	while (i < len) {
		size_t start, n;

		while (i < len && len - i >= CONVERT_PAGE &&
		       convert_page_is_zero(buf + i))
			i += CONVERT_PAGE;
		if (i >= len)
			break;
		start = i;
		while (i < len && (len - i < CONVERT_PAGE ||
				   !convert_page_is_zero(buf + i)))
			i += len - i < CONVERT_PAGE ? len - i : CONVERT_PAGE;
		n = i - start;
		rc = convert_put(job, buf + start, n, off + start, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Copy every data run of the input into the output. */
static int convert_copy(struct convert_job *job, struct vr_err *err)
{
	uint64_t size = disk_size(job->disk), off = 0, flushed = 0;
	int rc;

	while (off < size) {
		uint64_t run;
		bool is_zero;

		rc = disk_extent(job->disk, off, size - off, &run, &is_zero,
				 err);
		if (rc < 0)
			return rc;
		while (!is_zero && run > 0) {
			size_t n = run < CONVERT_CHUNK ? (size_t)run
						       : CONVERT_CHUNK;

			rc = disk_read(job->disk, job->buf, n, off, err);
			if (rc < 0)
				return rc;
			rc = convert_write_data(job, job->buf, n, off, err);
			if (rc < 0)
				return rc;
			off += n;
			run -= n;
			if (!job->out_vhdx &&
			    off - flushed >= CONVERT_WRITEBACK) {
				sync_file_range(job->out_fd, (off_t)flushed,
						(off_t)(off - flushed),
						SYNC_FILE_RANGE_WRITE);
				flushed = off;
			}
			progress_update(job->progress, off);
		}
		off += is_zero ? run : 0;
		progress_update(job->progress, off);
	}
	return 0;
}

static int convert_write_raw(int fd, const char *tmp, void *ctx,
			     struct vr_err *err)
{
	struct convert_job *job = ctx;
	uint64_t size = disk_size(job->disk);

	(void)tmp;
	if (ftruncate(fd, (off_t)size) < 0)
		return vr_err_set(err, -errno,
				  "%s: cannot size to %" PRIu64 " bytes: %s",
				  job->out_path, size, strerror(errno));
	job->out_fd = fd;
	return convert_copy(job, err);
}

/* Lay out a new VHDX in the temp file, then write into it. */
static int convert_write_vhdx(int fd, const char *tmp, void *ctx,
			      struct vr_err *err)
{
	struct convert_job *job = ctx;
	int rc;

	rc = vhdx_create_fd(fd, job->out_path, &job->vhdx_opts, err);
	if (rc < 0)
		return rc;
	rc = vhdx_open(tmp, VHDX_OPEN_RDWR, NULL, &job->out_vhdx, NULL, err);
	if (rc < 0)
		return rc;
	rc = convert_copy(job, err);
	if (rc == 0)
		rc = vhdx_flush(job->out_vhdx, err);
	vhdx_close(job->out_vhdx);
	job->out_vhdx = NULL;
	return rc;
}

/* The new VHDX's shape: the input's size, sectors of a VHDX input. */
static int convert_vhdx_plan(struct convert_job *job, const char *in,
			     struct vr_err *err)
{
	struct vhdx_create_opts *o = &job->vhdx_opts;
	struct vhdx *v = disk_vhdx(job->disk);

	o->virtual_size = disk_size(job->disk);
	if (v) {
		struct vhdx_info info;

		vhdx_get_info(v, &info);
		o->logical_sector_size = info.logical_sector_size;
		o->physical_sector_size = info.physical_sector_size;
	}
	if (o->virtual_size == 0 ||
	    o->virtual_size % (o->logical_sector_size ?: 512))
		return vr_err_set(err, -EINVAL,
				  "%s: size %" PRIu64 " is not a whole number "
				  "of %u-byte sectors",
				  in, o->virtual_size,
				  o->logical_sector_size ?: 512);
	return 0;
}

int convert_disk(struct disk *d, const char *out,
		 const struct vhdx_create_opts *vhdx_opts, const char *label,
		 enum progress_mode mode, struct vr_err *err)
{
	struct convert_job job = { .disk = d, .out_path = out };
	const char *in = disk_path(d);
	int rc;

	if (vhdx_opts) {
		job.to_vhdx = true;
		job.vhdx_opts = *vhdx_opts;
	}
	job.buf = malloc(CONVERT_CHUNK);
	job.progress = progress_new(label, disk_size(d), mode);
	if (!job.buf || !job.progress) {
		rc = vr_err_set(err, -ENOMEM, "%s: out of memory", in);
		goto out;
	}
	if (job.to_vhdx) {
		rc = convert_vhdx_plan(&job, in, err);
		if (rc == 0)
			rc = vr_file_replace(out, 0644, 0, convert_write_vhdx,
					     &job, err);
	} else {
		rc = vr_file_replace(out, 0644, 0, convert_write_raw, &job,
				     err);
	}
out:
	progress_free(job.progress);
	free(job.buf);
	return rc;
}
