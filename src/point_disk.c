/*
 * point_disk.c - a manifest read as a disk, through a chunk cache
 * (chunk_cache.h): reads smaller than a chunk (file systems read 4 KiB
 * at a time, and come back to their metadata) cost one fetch per chunk,
 * not one per read, and a sequential reader's next chunks are asked for
 * ahead.
 */
#include <config.h>
#include "point_disk.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "chunk_cache.h"
#include "disk.h"
#include "manifest.h"
#include "repo.h"
#include "vr_err.h"

/* The cache a disk makes for itself when it is given none. */
#define POINT_DISK_CACHE_BYTES (8u * 1024 * 1024)
/*
 * Readahead of a sequential reader: this many bytes of chunks beyond the
 * furthest it read are asked for (at least 4 chunks, at most a quarter
 * of the cache). A read is sequential when it starts within the slack of
 * where the reads before ended: the kernel's reads of one stream come
 * about in order, but not exactly when several threads serve them.
 */
#define POINT_DISK_READAHEAD (4u * 1024 * 1024)
#define POINT_DISK_READAHEAD_MIN 4u
#define POINT_DISK_SEQUENTIAL_SLACK (512u * 1024)

struct point_disk {
	struct repo *r;
	const struct manifest *m, *base;
	struct chunk_cache *cache;
	bool own_cache;
	uint64_t ra_window;	 /* chunks asked for ahead */
	pthread_mutex_t ra_lock; /* guards the two below */
	uint64_t ra_last;	 /* the furthest chunk read + 1; 0: none */
	uint64_t ra_until;	 /* chunks below this were asked for */
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

/*
 * After a read of chunks @first..@last: if it starts near where the reads
 * before ended, ask for the chunks that come next.
 */
static void point_disk_readahead(struct point_disk *pd, uint64_t first,
				 uint64_t last)
{
	uint64_t cs = pd->m->chunk_size, i, end, window = pd->ra_window;
	uint64_t slack = 1 + POINT_DISK_SEQUENTIAL_SLACK / cs;
	bool follows;

	pthread_mutex_lock(&pd->ra_lock);
	follows = pd->ra_last && first + slack >= pd->ra_last &&
		  first <= pd->ra_last + slack;
	if (!follows) {
		pd->ra_last = pd->ra_until = last + 1;
		pthread_mutex_unlock(&pd->ra_lock);
		return;
	}
	if (last + 1 > pd->ra_last)
		pd->ra_last = last + 1;
	i = pd->ra_until > pd->ra_last ? pd->ra_until : pd->ra_last;
	end = pd->ra_last + window < pd->m->nchunks ? pd->ra_last + window
						    : pd->m->nchunks;
	if (end > pd->ra_until)
		pd->ra_until = end;
	pthread_mutex_unlock(&pd->ra_lock);
	for (; i < end; i++)
		if (point_disk_hash(pd, i))
			chunk_cache_prefetch(pd->cache, point_disk_hash(pd, i));
}

static int point_disk_read(void *ctx, void *buf, size_t len, uint64_t off,
			   struct vr_err *err)
{
	struct point_disk *pd = ctx;
	uint32_t cs = pd->m->chunk_size;
	uint8_t *p = buf;

	if (len == 0)
		return 0;
	point_disk_readahead(pd, off / cs, (off + len - 1) / cs);
	while (len > 0) {
		uint64_t i = off / cs;
		size_t in = (size_t)(off % cs), n = cs - in;
		const uint8_t *h = point_disk_hash(pd, i);
		int rc;

		if (n > len)
			n = len;
		if (!h) {
			memset(p, 0, n);
		} else {
			rc = chunk_cache_read(pd->cache, h,
					      manifest_chunk_len(pd->m, i), p,
					      in, n, err);
			if (rc < 0 && err) {
				/* say what is lost: the point, where */
				struct vr_err why = *err;

				vr_err_clear(err);
				return vr_err_set(err, rc,
						  "%s (point %s, disk offset "
						  "0x%" PRIx64 ")",
						  why.msg, pd->m->name, i * cs);
			}
			if (rc < 0)
				return rc;
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

	if (pd->own_cache)
		chunk_cache_free(pd->cache);
	pthread_mutex_destroy(&pd->ra_lock);
	free(pd);
}

static const struct disk_backend point_disk_ops = {
	.read = point_disk_read,
	.extent = point_disk_extent,
	.close = point_disk_close,
};

int point_disk_open(struct repo *r, struct chunk_cache *cache,
		    const struct manifest *m, const struct manifest *base,
		    struct disk **out, struct vr_err *err)
{
	struct chunk_cache_stats cst;
	struct point_disk *pd;
	uint64_t i;
	int rc = 0;

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
	pthread_mutex_init(&pd->ra_lock, NULL);
	pd->r = r;
	pd->m = m;
	pd->base = base;
	pd->cache = cache;
	if (!cache) {
		pd->own_cache = true;
		rc = chunk_cache_new(r, POINT_DISK_CACHE_BYTES, 0, &pd->cache,
				     err);
	}
	if (rc < 0) {
		point_disk_close(pd);
		return rc;
	}
	/* what is asked for ahead must not push out what is being read: a
	 * quarter of the cache at most */
	chunk_cache_get_stats(pd->cache, &cst);
	pd->ra_window = POINT_DISK_READAHEAD / m->chunk_size;
	if (pd->ra_window < POINT_DISK_READAHEAD_MIN)
		pd->ra_window = POINT_DISK_READAHEAD_MIN;
	if (pd->ra_window > cst.chunks / 4)
		pd->ra_window = cst.chunks / 4;
	return disk_open_backend(m->name, DISK_FORMAT_POINT, m->size,
				 &point_disk_ops, pd, out, err);
}

/*
 * Point @spec (or, with @base, the base named @spec) of @repo_path, read
 * through @shared's repository and cache, or its own.
 */
static int point_disk_open_any(const char *repo_path,
			       struct chunk_cache *shared, const char *spec,
			       bool base, struct point_disk_named *pd,
			       struct vr_err *err)
{
	int rc = 0;

	memset(pd, 0, sizeof(*pd));
	if (shared)
		pd->r = chunk_cache_repo(shared);
	else
		rc = repo_open(repo_path, 0, &pd->r, err);
	pd->own_repo = !shared;
	if (rc == 0)
		rc = base ? catalog_load_base(repo_path, spec, &pd->m, err)
			  : catalog_load_point(repo_path, spec, &pd->m, err);
	if (rc == 0 && !base && pd->m->base[0])
		rc = catalog_load_base(repo_path, pd->m->base, &pd->base, err);
	if (rc == 0)
		rc = point_disk_open(pd->r, shared, pd->m, pd->base, &pd->d,
				     err);
	if (rc < 0)
		point_disk_close_named(pd);
	return rc;
}

int point_disk_open_named(const char *repo_path, struct chunk_cache *shared,
			  const char *spec, struct point_disk_named *pd,
			  struct vr_err *err)
{
	return point_disk_open_any(repo_path, shared, spec, false, pd, err);
}

int point_disk_open_base_named(const char *repo_path,
			       struct chunk_cache *shared, const char *name,
			       struct point_disk_named *pd, struct vr_err *err)
{
	return point_disk_open_any(repo_path, shared, name, true, pd, err);
}

void point_disk_close_named(struct point_disk_named *pd)
{
	disk_close(pd->d);
	manifest_free(pd->base);
	manifest_free(pd->m);
	if (pd->own_repo)
		repo_close(pd->r);
	memset(pd, 0, sizeof(*pd));
}
