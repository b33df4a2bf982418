/*
 * point_disk.c - a manifest read as a disk. The chunks fetched lately are
 * kept (8 MiB of them), so reads smaller than a chunk (file systems read
 * 4 KiB at a time, and come back to their metadata) cost one fetch per
 * chunk, not one per read.
 */
#include <config.h>
#include "point_disk.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "disk.h"
#include "manifest.h"
#include "repo.h"
#include "vr_err.h"

/*
 * Chunks fetched lately, kept so that the blocks a guest file system
 * reads again and again (inode tables, directories, extent trees between
 * the file data it reads) are fetched from the repository once.
 */
#define POINT_DISK_CACHE_BYTES (8u * 1024 * 1024)
#define POINT_DISK_CACHE_MIN 2u

struct point_disk_slot {
	uint64_t index; /* the chunk's index + 1; 0: empty */
	uint64_t used;	/* pd->tick when last read: the oldest goes */
	uint8_t *data;
};

struct point_disk {
	struct repo *r;
	const struct manifest *m, *base;
	struct point_disk_slot *slots;
	size_t nslots;
	uint64_t tick;
};

/* The hash behind chunk @i, or NULL if it reads as zeros. */
static const uint8_t *point_disk_hash(const struct point_disk *pd, uint64_t i)
{
	switch (pd->m->types[i]) {
	case MANIFEST_HASH:
		return pd->m->hashes[i];
	case MANIFEST_BASE_CHUNK:
		return pd->base->types[i] == MANIFEST_HASH ? pd->base->hashes[i]
							   : NULL;
	default:
		return NULL;
	}
}

/* Chunk @i, from the cache or fetched into it: *@data. */
static int point_disk_fetch(struct point_disk *pd, uint64_t i,
			    const uint8_t **data, struct vr_err *err)
{
	const uint8_t *h = point_disk_hash(pd, i);
	size_t want = manifest_chunk_len(pd->m, i), got = 0, k;
	struct point_disk_slot *slot = &pd->slots[0];
	char name[65];
	int rc;

	pd->tick++;
	for (k = 0; k < pd->nslots; k++) {
		if (pd->slots[k].index == i + 1) {
			pd->slots[k].used = pd->tick;
			*data = pd->slots[k].data;
			return 0;
		}
		if (pd->slots[k].used < slot->used)
			slot = &pd->slots[k];
	}
	slot->index = 0;
	/* as long as a stored chunk can say: the repository's chunk size */
	if (!slot->data)
		slot->data = malloc(repo_chunk_size(pd->r));
	if (!slot->data)
		return vr_err_set(err, -ENOMEM, "%s: out of memory",
				  pd->m->name);
	rc = repo_chunk_get(pd->r, h, slot->data, &got, err);
	if (rc == 0 && got != want) {
		repo_hash_format(h, name);
		rc = vr_err_set(err, -VR_ECORRUPT,
				"%s: chunk %s holds %zu bytes, the disk needs "
				"%zu",
				pd->m->name, name, got, want);
	}
	if (rc < 0 && err) {
		/* say what is lost: the point and where in its disk */
		struct vr_err why = *err;

		vr_err_clear(err);
		return vr_err_set(err, rc,
				  "%s (point %s, disk offset 0x%" PRIx64 ")",
				  why.msg, pd->m->name, i * pd->m->chunk_size);
	}
	if (rc < 0)
		return rc;
	slot->index = i + 1;
	slot->used = pd->tick;
	*data = slot->data;
	return 0;
}

static int point_disk_read(void *ctx, void *buf, size_t len, uint64_t off,
			   struct vr_err *err)
{
	struct point_disk *pd = ctx;
	uint32_t cs = pd->m->chunk_size;
	uint8_t *p = buf;

	while (len > 0) {
		uint64_t i = off / cs;
		size_t in = (size_t)(off % cs), n = cs - in;
		int rc;

		if (n > len)
			n = len;
		if (!point_disk_hash(pd, i)) {
			memset(p, 0, n);
		} else {
			const uint8_t *chunk;

			rc = point_disk_fetch(pd, i, &chunk, err);
			if (rc < 0)
				return rc;
			memcpy(p, chunk + in, n);
		}
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

static int point_disk_extent(void *ctx, uint64_t off, uint64_t len,
			     uint64_t *run, bool *is_zero, struct vr_err *err)
{
	struct point_disk *pd = ctx;
	uint32_t cs = pd->m->chunk_size;
	uint64_t i = off / cs, end = off + len, pos;
	bool zero = !point_disk_hash(pd, i);

	(void)err;
	pos = (i + 1) * cs;
	while (pos < end && !point_disk_hash(pd, pos / cs) == zero)
		pos += cs;
	*run = (pos < end ? pos : end) - off;
	*is_zero = zero;
	return 0;
}

static void point_disk_close(void *ctx)
{
	struct point_disk *pd = ctx;
	size_t k;

	for (k = 0; pd->slots && k < pd->nslots; k++)
		free(pd->slots[k].data);
	free(pd->slots);
	free(pd);
}

static const struct disk_backend point_disk_ops = {
	.read = point_disk_read,
	.extent = point_disk_extent,
	.close = point_disk_close,
};

int point_disk_open(struct repo *r, const struct manifest *m,
		    const struct manifest *base, struct disk **out,
		    struct vr_err *err)
{
	struct point_disk *pd;
	uint64_t i;

	for (i = 0; i < m->nchunks; i++)
		if (m->types[i] == MANIFEST_BASE_CHUNK)
			break;
	if (i < m->nchunks && (!base || base->size != m->size ||
			       base->chunk_size != m->chunk_size))
		return vr_err_set(err, -EINVAL,
				  "%s: point %s needs base '%s', which is "
				  "missing or of another shape",
				  m->disk, m->name, m->base);
	if (m->chunk_size > repo_chunk_size(r))
		return vr_err_set(err, -EINVAL,
				  "%s: chunk size %u is larger than the "
				  "repository's",
				  m->name, (unsigned)m->chunk_size);
	pd = calloc(1, sizeof(*pd));
	if (!pd)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", m->name);
	pd->nslots = POINT_DISK_CACHE_BYTES / repo_chunk_size(r);
	if (pd->nslots < POINT_DISK_CACHE_MIN)
		pd->nslots = POINT_DISK_CACHE_MIN;
	pd->slots = calloc(pd->nslots, sizeof(*pd->slots));
	if (!pd->slots) {
		point_disk_close(pd);
		return vr_err_set(err, -ENOMEM, "%s: out of memory", m->name);
	}
	pd->r = r;
	pd->m = m;
	pd->base = base;
	return disk_open_backend(m->name, DISK_FORMAT_POINT, m->size,
				 &point_disk_ops, pd, out, err);
}

/* Point @spec (or, with @base, the base named @spec) of @repo_path. */
static int point_disk_open_any(const char *repo_path, const char *spec,
			       bool base, struct point_disk_named *pd,
			       struct vr_err *err)
{
	int rc;

	memset(pd, 0, sizeof(*pd));
	rc = repo_open(repo_path, 0, &pd->r, err);
	if (rc == 0)
		rc = base ? catalog_load_base(repo_path, spec, &pd->m, err)
			  : catalog_load_point(repo_path, spec, &pd->m, err);
	if (rc == 0 && !base && pd->m->base[0])
		rc = catalog_load_base(repo_path, pd->m->base, &pd->base, err);
	if (rc == 0)
		rc = point_disk_open(pd->r, pd->m, pd->base, &pd->d, err);
	if (rc < 0)
		point_disk_close_named(pd);
	return rc;
}

int point_disk_open_named(const char *repo_path, const char *spec,
			  struct point_disk_named *pd, struct vr_err *err)
{
	return point_disk_open_any(repo_path, spec, false, pd, err);
}

int point_disk_open_base_named(const char *repo_path, const char *name,
			       struct point_disk_named *pd, struct vr_err *err)
{
	return point_disk_open_any(repo_path, name, true, pd, err);
}

void point_disk_close_named(struct point_disk_named *pd)
{
	disk_close(pd->d);
	manifest_free(pd->base);
	manifest_free(pd->m);
	repo_close(pd->r);
	memset(pd, 0, sizeof(*pd));
}
