/*
 * capture.c - the capture engine (capture.h). Chunks to store are read
 * into a batch of CAPTURE_BATCH_BYTES and handed to the repository
 * together, so hashing and compression run on every core (while the next
 * batch is read) and the order of the store stays that of the disk.
 */
#include <config.h>
#include "capture.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "disk.h"
#include "repo.h"
#include "vhdx.h"
#include "vr_err.h"

/* Bytes of chunks read before they are hashed and stored together. */
#define CAPTURE_BATCH_BYTES (8u * 1024 * 1024)

struct capture {
	struct repo *r;
	struct manifest *m;
	const struct manifest *base, *last;
	struct capture_source src;
	void (*progress)(void *ctx, uint64_t done, uint64_t total);
	void *ctx;
	uint64_t done, total;
	struct capture_stats st;

	/*
	 * Two batches: one filled by reads while the other is hashed and
	 * compressed (repo_put_start()) until the next one is full.
	 */
	struct capture_batch {
		uint8_t *buf; /* chunk-sized slots */
		struct repo_put *puts;
		uint64_t *chunk; /* the chunk index of each put */
		size_t n;
	} b[2];
	unsigned cur;  /* the batch being filled */
	bool inflight; /* the other one is being stored */
	size_t batch;  /* puts per batch */
};

static int capture_disk_classify(void *ctx, uint64_t off, size_t len,
				 enum manifest_chunk *type, bool *must_read,
				 struct vr_err *err)
{
	const struct capture_disk *cd = ctx;
	struct vhdx *v = disk_vhdx(cd->d);
	enum vhdx_source src = VHDX_SOURCE_ZERO;
	uint64_t done = 0, run;
	bool is_zero;
	int rc;

	if (v) {
		rc = vhdx_range_source(v, cd->below, off, len, &src, err);
		if (rc < 0)
			return rc;
	}
	while (!v && done < len && src == VHDX_SOURCE_ZERO) {
		rc = disk_extent(cd->d, off + done, len - done, &run, &is_zero,
				 err);
		if (rc < 0)
			return rc;
		src = is_zero ? VHDX_SOURCE_ZERO : VHDX_SOURCE_DATA;
		done += run;
	}
	capture_classify_source(src, type, must_read);
	return 0;
}

static int capture_disk_read(void *ctx, void *buf, size_t len, uint64_t off,
			     struct vr_err *err)
{
	const struct capture_disk *cd = ctx;

	return disk_read(cd->d, buf, len, off, err);
}

void capture_classify_source(enum vhdx_source src, enum manifest_chunk *type,
			     bool *must_read)
{
	*must_read = src == VHDX_SOURCE_DATA;
	*type = src == VHDX_SOURCE_BELOW ? MANIFEST_BASE_CHUNK : MANIFEST_ZERO;
}

void capture_source_disk(struct capture_disk *disk_src,
			 struct capture_source *src)
{
	src->classify = capture_disk_classify;
	src->read = capture_disk_read;
	src->ctx = disk_src;
}

int capture_new(struct repo *r, struct manifest *m, const struct manifest *base,
		const struct manifest *last, const struct capture_source *src,
		void (*progress)(void *ctx, uint64_t done, uint64_t total),
		void *ctx, uint64_t total, struct capture **out,
		struct vr_err *err)
{
	struct capture *c = calloc(1, sizeof(*c));

	bool ok = c != NULL;
	unsigned k;

	for (k = 0; ok && k < 2; k++) {
		struct capture_batch *b = &c->b[k];

		c->batch = CAPTURE_BATCH_BYTES / m->chunk_size;
		if (!c->batch)
			c->batch = 1;
		b->buf = malloc(c->batch * (size_t)m->chunk_size);
		b->puts = calloc(c->batch, sizeof(*b->puts));
		b->chunk = calloc(c->batch, sizeof(*b->chunk));
		ok = b->buf && b->puts && b->chunk;
	}
	if (!ok) {
		capture_free(c);
		return vr_err_set(err, -ENOMEM, "%s: out of memory", m->name);
	}
	c->r = r;
	c->m = m;
	c->base = base;
	c->last = last;
	c->src = *src;
	c->progress = progress;
	c->ctx = ctx;
	c->total = total;
	*out = c;
	return 0;
}

void capture_free(struct capture *c)
{
	unsigned k;

	if (!c)
		return;
	if (c->inflight) /* an error ended the capture: let it finish */
		repo_put_wait(c->r, NULL);
	for (k = 0; k < 2; k++) {
		free(c->b[k].buf);
		free(c->b[k].puts);
		free(c->b[k].chunk);
	}
	free(c);
}

void capture_get_stats(const struct capture *c, struct capture_stats *st)
{
	*st = c->st;
}

/* Record chunk @i; count it if it differs from the last point. */
static void capture_set(struct capture *c, uint64_t i, enum manifest_chunk type,
			const uint8_t *hash)
{
	struct manifest *m = c->m;
	bool changed;

	m->types[i] = (uint8_t)type;
	if (type == MANIFEST_HASH)
		memcpy(m->hashes[i], hash, REPO_HASH_SIZE);
	else
		memset(m->hashes[i], 0, REPO_HASH_SIZE);
	if (!c->last)
		changed = type == MANIFEST_HASH; /* the disk's own data */
	else
		changed = c->last->types[i] != type ||
			  (type == MANIFEST_HASH &&
			   memcmp(c->last->hashes[i], hash, REPO_HASH_SIZE));
	c->st.chunks_changed += changed;
}

/* Wait for the batch in flight and record where its chunks went. */
static int capture_wait(struct capture *c, struct vr_err *err)
{
	struct capture_batch *b = &c->b[c->cur ^ 1];
	size_t k;
	int rc;

	if (!c->inflight)
		return 0;
	c->inflight = false;
	rc = repo_put_wait(c->r, err);
	if (rc < 0)
		return rc;
	for (k = 0; k < b->n; k++) {
		uint64_t i = b->chunk[k];
		const uint8_t *h = b->puts[k].hash;

		/* a chunk the base holds unchanged stays "the base's" */
		if (c->base && c->base->types[i] == MANIFEST_HASH &&
		    memcmp(c->base->hashes[i], h, REPO_HASH_SIZE) == 0)
			capture_set(c, i, MANIFEST_BASE_CHUNK, NULL);
		else
			capture_set(c, i, MANIFEST_HASH, h);
	}
	b->n = 0;
	return 0;
}

/* Hand the batch being filled to the store; fill the other one next. */
static int capture_submit(struct capture *c, struct vr_err *err)
{
	struct capture_batch *b = &c->b[c->cur];
	int rc = capture_wait(c, err);

	if (rc == 0 && b->n)
		rc = repo_put_start(c->r, b->puts, b->n, err);
	if (rc < 0 || !b->n)
		return rc;
	c->inflight = true;
	c->cur ^= 1;
	return 0;
}

int capture_finish(struct capture *c, struct vr_err *err)
{
	int rc = capture_submit(c, err);

	return rc < 0 ? rc : capture_wait(c, err);
}

int capture_chunk(struct capture *c, uint64_t i, struct vr_err *err)
{
	uint32_t cs = c->m->chunk_size;
	uint64_t off = i * cs;
	size_t len = manifest_chunk_len(c->m, i);
	struct capture_batch *b;
	enum manifest_chunk type;
	bool must_read;
	uint8_t *slot;
	int rc;

	rc = c->src.classify(c->src.ctx, off, len, &type, &must_read, err);
	if (rc < 0)
		return rc;
	if (type == MANIFEST_BASE_CHUNK && !c->base)
		type = MANIFEST_ZERO; /* defensive: no base to refer to */
	c->done += len;
	if (c->progress)
		c->progress(c->ctx, c->done, c->total);
	if (!must_read) {
		capture_set(c, i, type, NULL);
		return 0;
	}
	b = &c->b[c->cur];
	slot = b->buf + b->n * (size_t)cs;
	rc = c->src.read(c->src.ctx, slot, len, off, err);
	if (rc < 0)
		return rc;
	c->st.chunks_read++;
	c->st.bytes_read += len;
	if (repo_is_zero(slot, len)) {
		capture_set(c, i, MANIFEST_ZERO, NULL);
		return 0;
	}
	b->puts[b->n].buf = slot;
	b->puts[b->n].len = len;
	b->chunk[b->n] = i;
	if (++b->n == c->batch)
		return capture_submit(c, err);
	return 0;
}
