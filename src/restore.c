/*
 * restore.c - restore_disk(): a point as a whole disk. A raw or standalone
 * VHDX output is the point disk (point_disk.h) copied by convert_disk();
 * a differencing output is written here, chunk by chunk, with only the
 * chunks in which the point differs from its base.
 */
#include <config.h>
#include "restore.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "convert.h"
#include "disk.h"
#include "manifest.h"
#include "point_disk.h"
#include "repo.h"
#include "vr_err.h"
#include "vr_io.h"

struct restore_job {
	struct repo *r;
	const struct manifest *m, *base;
	const struct restore_opts *o;
	struct restore_stats *st;
	const char *out;
	uint8_t *buf; /* one chunk */
};

/*
 * Does the local base @v read as the recorded base, chunk by chunk? Zero
 * runs the file reports are not read.
 */
static int restore_verify_base(struct restore_job *job, struct vhdx *v,
			       struct vr_err *err)
{
	const struct manifest *b = job->base;
	struct progress *p = progress_new("verify base", b->size, job->o->mode);
	const char *path = job->o->parent;
	uint64_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < b->nchunks; i++) {
		uint64_t off = i * b->chunk_size, run;
		size_t len = manifest_chunk_len(b, i);
		uint8_t h[REPO_HASH_SIZE];
		bool is_zero, same;

		progress_update(p, off + len);
		rc = vhdx_extent(v, off, len, &run, &is_zero, err);
		if (rc < 0)
			break;
		if (is_zero && run == len) {
			same = b->types[i] == MANIFEST_ZERO;
		} else {
			rc = vhdx_read(v, job->buf, len, off, err);
			if (rc < 0)
				break;
			job->st->base_bytes_verified += len;
			if (repo_is_zero(job->buf, len)) {
				same = b->types[i] == MANIFEST_ZERO;
			} else {
				rc = repo_hash(job->buf, len, h);
				if (rc < 0) {
					vr_err_set(err, rc,
						   "%s: SHA-256 failed", path);
					break;
				}
				same = b->types[i] == MANIFEST_HASH &&
				       !memcmp(h, b->hashes[i], REPO_HASH_SIZE);
			}
		}
		if (!same)
			rc = vr_err_set(err, -ESTALE,
					"%s: differs from base %s at offset "
					"0x%" PRIx64 ": not the image the "
					"point was made over",
					path, b->name, off);
	}
	progress_free(p);
	return rc;
}

/* Write into the new child what point chunk @i has and the base has not. */
static int restore_delta_chunk(struct restore_job *job, struct vhdx *child,
			       uint64_t i, struct vr_err *err)
{
	const struct manifest *m = job->m, *b = job->base;
	uint64_t off = i * m->chunk_size;
	size_t len = manifest_chunk_len(m, i), got = 0;
	int rc;

	switch (m->types[i]) {
	case MANIFEST_BASE_CHUNK:
		return 0;
	case MANIFEST_ZERO:
		if (b->types[i] == MANIFEST_ZERO)
			return 0;
		job->st->bytes_written += len;
		return vhdx_zero(child, off, len, 0, err);
	default:
		break;
	}
	if (b->types[i] == MANIFEST_HASH &&
	    !memcmp(b->hashes[i], m->hashes[i], REPO_HASH_SIZE))
		return 0;
	rc = repo_chunk_get(job->r, m->hashes[i], job->buf, &got, err);
	if (rc == 0 && got != len)
		rc = vr_err_set(err, -VR_ECORRUPT,
				"%s: chunk at disk offset 0x%" PRIx64
				" holds %zu bytes, not %zu",
				m->name, off, got, len);
	if (rc < 0)
		return rc;
	job->st->bytes_written += len;
	return vhdx_write(child, job->buf, len, off, err);
}

/* vr_file_replace() writer: the differencing VHDX over the local base. */
static int restore_write_child(int fd, const char *tmp, void *ctx,
			       struct vr_err *err)
{
	struct restore_job *job = ctx;
	struct vhdx_create_opts co = { .type = VHDX_TYPE_DIFFERENCING,
				       .parent_path = job->o->parent };
	struct progress *p;
	struct vhdx *child = NULL;
	uint64_t i;
	int rc;

	rc = vhdx_create_fd(fd, job->out, &co, err);
	if (rc == 0)
		rc = vhdx_open(tmp, VHDX_OPEN_RDWR, job->o->parent, &child,
			       NULL, err);
	if (rc < 0)
		return rc;
	p = progress_new("restore", job->m->size, job->o->mode);
	for (i = 0; rc == 0 && i < job->m->nchunks; i++) {
		rc = restore_delta_chunk(job, child, i, err);
		progress_update(p, (i + 1) * job->m->chunk_size);
	}
	progress_free(p);
	if (rc == 0)
		rc = vhdx_flush(child, err);
	vhdx_close(child);
	return rc;
}

static int restore_over_parent(struct restore_job *job, struct vr_err *err)
{
	struct vhdx *v = NULL;
	int rc;

	if (!job->base)
		return vr_err_set(err, -EINVAL,
				  "%s: point %s has no base: restore it "
				  "without --parent",
				  job->out, job->m->name);
	rc = vhdx_open(job->o->parent, 0, NULL, &v, NULL, err);
	if (rc < 0)
		return rc;
	if (vhdx_virtual_size(v) != job->m->size)
		rc = vr_err_set(err, -ESTALE,
				"%s: %" PRIu64
				" bytes, but base %s has %" PRIu64,
				job->o->parent, vhdx_virtual_size(v),
				job->base->name, job->base->size);
	if (rc == 0)
		rc = restore_verify_base(job, v, err);
	vhdx_close(v);
	if (rc == 0)
		rc = vr_file_replace(job->out, 0644, 0, restore_write_child,
				     job, err);
	return rc;
}

int restore_disk(struct repo *r, const char *repo_path,
		 const struct manifest *m, const char *out,
		 const struct restore_opts *o, struct restore_stats *st,
		 struct vr_err *err)
{
	struct restore_job job = {
		.r = r, .m = m, .o = o, .st = st, .out = out
	};
	struct manifest *base = NULL;
	struct repo_stats before, after;
	struct disk *d = NULL;
	int rc = 0;

	memset(st, 0, sizeof(*st));
	repo_get_stats(r, &before);
	if (m->base[0])
		rc = catalog_load_base(repo_path, m->base, &base, err);
	if (rc < 0)
		return rc;
	job.base = base;
	if (o->parent) {
		job.buf = malloc(repo_chunk_size(r));
		rc = job.buf ? restore_over_parent(&job, err)
			     : vr_err_set(err, -ENOMEM, "%s: out of memory",
					  out);
	} else {
		struct vhdx_create_opts vo = { .type = o->vhdx_type };

		rc = point_disk_open(r, NULL, m, base, &d, err);
		if (rc == 0)
			rc = convert_disk(
				d, out, o->format == RESTORE_VHDX ? &vo : NULL,
				"restore", o->mode, err);
	}
	repo_get_stats(r, &after);
	st->chunks_fetched = after.chunks_read - before.chunks_read;
	st->bytes_fetched = after.bytes_read - before.bytes_read;
	disk_close(d);
	free(job.buf);
	manifest_free(base);
	return rc;
}
