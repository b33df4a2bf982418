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
	uint8_t *buf = malloc(m->chunk_size);
	uint64_t i;
	int rc = 0;

	if (!buf)
		return vr_err_set(err, -ENOMEM, "%s: out of memory",
				  disk_path(d));
	for (i = 0; rc == 0 && i < m->nchunks; i++) {
		uint64_t off = i * m->chunk_size, run;
		size_t len = m->size - off < m->chunk_size
				     ? (size_t)(m->size - off)
				     : m->chunk_size;
		bool is_zero, added = false;

		rc = disk_extent(d, off, len, &run, &is_zero, err);
		if (rc < 0)
			break;
		st->chunks++;
		if (progress)
			progress(ctx, off + len, m->size);
		if (is_zero && run == len) {
			st->zero_chunks++; /* known zero without reading */
			continue;
		}
		rc = disk_read(d, buf, len, off, err);
		if (rc < 0)
			break;
		st->bytes_read += len;
		if (repo_is_zero(buf, len)) {
			st->zero_chunks++;
			continue;
		}
		rc = repo_chunk_put(r, buf, len, m->hashes[i], &added, err);
		m->types[i] = MANIFEST_HASH;
		st->new_chunks += added;
	}
	free(buf);
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
