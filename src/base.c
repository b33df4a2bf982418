/*
 * base.c - base_add(): a golden image chunked, hashed and stored once.
 * The chunks are flushed (packs sealed) before the manifest naming them
 * is published, so a base is visible only when all of it is stored.
 */
#include <config.h>
#include "base.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "capture.h"
#include "catalog.h"
#include "disk.h"
#include "manifest.h"
#include "repo.h"
#include "vhdx.h"
#include "vr_err.h"

/* Fill @m's chunk list from @d. */
static int base_chunk_all(struct repo *r, struct disk *d, struct manifest *m,
			  base_progress_fn progress, void *ctx,
			  struct base_add_stats *st, struct vr_err *err)
{
	struct capture_disk cd = { .d = d };
	struct repo_stats before, after;
	struct capture_source src;
	struct capture_stats cst;
	struct capture *cap;
	uint64_t i;
	int rc;

	capture_source_disk(&cd, &src);
	rc = capture_new(r, m, NULL, NULL, &src, progress, ctx, m->size, &cap,
			 err);
	if (rc < 0)
		return rc;
	repo_get_stats(r, &before);
	for (i = 0; rc == 0 && i < m->nchunks; i++)
		rc = capture_chunk(cap, i, err);
	if (rc == 0)
		rc = capture_finish(cap, err);
	capture_get_stats(cap, &cst);
	capture_free(cap);
	repo_get_stats(r, &after);
	st->chunks = m->nchunks;
	st->zero_chunks = m->nchunks - cst.chunks_changed;
	st->new_chunks = after.chunks_new - before.chunks_new;
	st->bytes_read = cst.bytes_read;
	return rc;
}

int base_add(struct repo *r, const char *repo_path, const char *image,
	     const char *name, base_progress_fn progress, void *ctx,
	     struct base_add_stats *stats, struct vr_err *err)
{
	struct manifest *m = NULL;
	struct disk *d = NULL;
	struct stat sb;
	char *path = NULL;
	int rc;

	memset(stats, 0, sizeof(*stats));
	if (!manifest_name_ok(name))
		return vr_err_set(
			err, -EINVAL,
			"%s: base name '%s': use 1..127 of letters, "
			"digits, '.', '_', '-', not starting with '.'",
			repo_path, name);
	path = catalog_base_path(repo_path, name);
	if (!path) {
		rc = vr_err_set(err, -ENOMEM, "%s: out of memory", repo_path);
		goto out;
	}
	if (stat(path, &sb) == 0) {
		rc = vr_err_set(err, -EEXIST, "%s: base %s exists already",
				repo_path, name);
		goto out;
	}
	rc = catalog_prepare(repo_path, err);
	if (rc < 0)
		goto out;
	rc = disk_open(image, DISK_FORMAT_AUTO, NULL, &d, NULL, err);
	if (rc == 0)
		rc = manifest_new(MANIFEST_BASE, disk_size(d),
				  repo_chunk_size(r), &m, err);
	if (rc < 0)
		goto out;
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->time = (uint64_t)time(NULL);
	if (disk_vhdx(d)) {
		struct vhdx_info info;

		vhdx_get_info(disk_vhdx(d), &info);
		memcpy(m->disk_id, info.virtual_disk_id, 16);
		memcpy(m->data_write_guid, info.data_write_guid, 16);
	}
	rc = base_chunk_all(r, d, m, progress, ctx, stats, err);
	/* publish last: every chunk it names is sealed first */
	if (rc == 0)
		rc = repo_flush(r, err);
	if (rc == 0)
		rc = manifest_save(m, path, err);
out:
	manifest_free(m);
	disk_close(d);
	free(path);
	return rc;
}
