/*
 * chunk_cache.c - a bounded, shared cache of chunks (chunk_cache.h).
 *
 * A fixed set of slots, each a chunk's worth of memory, found by hash
 * through a chained table. A slot is free, loading (its chunk being
 * fetched: readers of it wait) or ready (on the LRU list, whose oldest
 * goes first). One mutex guards it all; the repository is read outside
 * it, each fetch with a repo_reader taken from a pool, so fetches run in
 * parallel. Readahead threads take hashes from a small queue.
 */
#include <config.h>
#include "chunk_cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vr_err.h"

/* Hashes waiting for a readahead thread: beyond this, wishes drop. */
#define CHUNK_CACHE_QUEUE 256u
#define CHUNK_CACHE_MAX_THREADS 16u

enum chunk_slot_state {
	CHUNK_SLOT_FREE,
	CHUNK_SLOT_LOADING,
	CHUNK_SLOT_READY,
};

struct chunk_slot {
	uint8_t hash[REPO_HASH_SIZE];
	enum chunk_slot_state state;
	size_t len;		  /* ready: the chunk's length */
	uint8_t *data;		  /* the chunk size, allocated on first use */
	struct chunk_slot *chain; /* next in its table bucket */
	struct chunk_slot *newer, *older; /* LRU list: free and ready ones */
};

struct chunk_cache {
	struct repo *r;
	size_t chunk_size;
	pthread_mutex_t lock;
	pthread_cond_t loaded; /* a slot stopped loading */
	pthread_cond_t wished; /* the queue got a hash, or stop */

	struct chunk_slot *slots;
	size_t nslots;
	struct chunk_slot **buckets; /* by the hash's first bytes */
	size_t nbuckets;	     /* a power of two */
	struct chunk_slot *newest, *oldest;

	struct repo_reader **idle; /* readers not in use */
	size_t nidle, cap_idle;

	uint8_t (*queue)[REPO_HASH_SIZE]; /* ring of hashes to prefetch */
	size_t qhead, qlen;
	pthread_t threads[CHUNK_CACHE_MAX_THREADS];
	unsigned nthreads;
	bool stopping;

	struct chunk_cache_stats stats;
};

static size_t chunk_bucket(const struct chunk_cache *c, const uint8_t *hash)
{
	size_t h;

	memcpy(&h, hash, sizeof(h)); /* a SHA-256 is spread already */
	return h & (c->nbuckets - 1);
}

static struct chunk_slot *chunk_find(const struct chunk_cache *c,
				     const uint8_t *hash)
{
	struct chunk_slot *s = c->buckets[chunk_bucket(c, hash)];

	while (s && memcmp(s->hash, hash, REPO_HASH_SIZE) != 0)
		s = s->chain;
	return s;
}

static void chunk_table_add(struct chunk_cache *c, struct chunk_slot *s)
{
	struct chunk_slot **b = &c->buckets[chunk_bucket(c, s->hash)];

	s->chain = *b;
	*b = s;
}

static void chunk_table_remove(struct chunk_cache *c, struct chunk_slot *s)
{
	struct chunk_slot **p = &c->buckets[chunk_bucket(c, s->hash)];

	while (*p != s)
		p = &(*p)->chain;
	*p = s->chain;
}

static void chunk_lru_remove(struct chunk_cache *c, struct chunk_slot *s)
{
	if (s->newer)
		s->newer->older = s->older;
	else
		c->newest = s->older;
	if (s->older)
		s->older->newer = s->newer;
	else
		c->oldest = s->newer;
	s->newer = s->older = NULL;
}

/* Put @s first to go (a free slot) or last (one just used). */
static void chunk_lru_add(struct chunk_cache *c, struct chunk_slot *s,
			  bool newest)
{
	if (newest) {
		s->older = c->newest;
		if (c->newest)
			c->newest->newer = s;
		c->newest = s;
		if (!c->oldest)
			c->oldest = s;
	} else {
		s->newer = c->oldest;
		if (c->oldest)
			c->oldest->older = s;
		c->oldest = s;
		if (!c->newest)
			c->newest = s;
	}
}

/* A reader from the pool, or a new one. Called locked. */
static int chunk_reader_take(struct chunk_cache *c, struct repo_reader **rd,
			     struct vr_err *err)
{
	if (c->nidle) {
		*rd = c->idle[--c->nidle];
		return 0;
	}
	return repo_reader_new(c->r, rd, err);
}

/* Back into the pool (freed if the pool cannot grow). Called locked. */
static void chunk_reader_put(struct chunk_cache *c, struct repo_reader *rd)
{
	if (c->nidle == c->cap_idle) {
		size_t cap = c->cap_idle ? 2 * c->cap_idle : 4;
		void *p = reallocarray(c->idle, cap, sizeof(*c->idle));

		if (!p) {
			repo_reader_free(rd);
			return;
		}
		c->idle = p;
		c->cap_idle = cap;
	}
	c->idle[c->nidle++] = rd;
}

/*
 * The ready slot of chunk @hash, fetched if it is not cached (waiting
 * for it if another thread is fetching it). Called and returns locked;
 * unlocked while the repository is read. NULL with *@rc on failure.
 */
static struct chunk_slot *chunk_get_locked(struct chunk_cache *c,
					   const uint8_t *hash, bool prefetch,
					   int *rc, struct vr_err *err)
{
	struct repo_reader *rd = NULL;
	struct chunk_slot *s;
	size_t len = 0;

	for (;;) {
		s = chunk_find(c, hash);
		if (s && s->state == CHUNK_SLOT_READY) {
			chunk_lru_remove(c, s);
			chunk_lru_add(c, s, true);
			c->stats.hits += !prefetch;
			return s;
		}
		/* being fetched, or every slot is: wait for one to end */
		if (s || !c->oldest) {
			c->stats.waited += !prefetch;
			pthread_cond_wait(&c->loaded, &c->lock);
			continue;
		}
		break;
	}
	s = c->oldest;
	chunk_lru_remove(c, s);
	if (s->state == CHUNK_SLOT_READY)
		chunk_table_remove(c, s);
	s->state = CHUNK_SLOT_LOADING;
	memcpy(s->hash, hash, REPO_HASH_SIZE);
	chunk_table_add(c, s);
	if (!s->data)
		s->data = malloc(c->chunk_size);
	*rc = s->data ? chunk_reader_take(c, &rd, err)
		      : vr_err_set(err, -ENOMEM, "out of memory");
	if (*rc == 0) {
		pthread_mutex_unlock(&c->lock);
		*rc = repo_reader_get(rd, hash, s->data, &len, err);
		pthread_mutex_lock(&c->lock);
		chunk_reader_put(c, rd);
	}
	pthread_cond_broadcast(&c->loaded);
	if (*rc < 0) {
		chunk_table_remove(c, s);
		s->state = CHUNK_SLOT_FREE;
		chunk_lru_add(c, s, false);
		return NULL;
	}
	s->state = CHUNK_SLOT_READY;
	s->len = len;
	chunk_lru_add(c, s, true);
	if (prefetch)
		c->stats.prefetched++;
	else
		c->stats.fetched++;
	return s;
}

int chunk_cache_read(struct chunk_cache *c, const uint8_t hash[REPO_HASH_SIZE],
		     size_t chunk_len, void *buf, size_t in, size_t len,
		     struct vr_err *err)
{
	struct chunk_slot *s;
	char name[65];
	int rc = 0;

	pthread_mutex_lock(&c->lock);
	s = chunk_get_locked(c, hash, false, &rc, err);
	if (s && s->len != chunk_len) {
		repo_hash_format(hash, name);
		rc = vr_err_set(err, -VR_ECORRUPT,
				"chunk %s holds %zu bytes, the disk needs %zu",
				name, s->len, chunk_len);
	} else if (s && (in > s->len || len > s->len - in)) {
		rc = vr_err_set(err, -EINVAL,
				"read of %zu bytes at %zu of a %zu-byte chunk",
				len, in, s->len);
	} else if (s) {
		memcpy(buf, s->data + in, len);
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

void chunk_cache_prefetch(struct chunk_cache *c,
			  const uint8_t hash[REPO_HASH_SIZE])
{
	size_t i;

	pthread_mutex_lock(&c->lock);
	if (!c->nthreads || c->qlen == CHUNK_CACHE_QUEUE || chunk_find(c, hash))
		goto out;
	for (i = 0; i < c->qlen; i++)
		if (!memcmp(c->queue[(c->qhead + i) % CHUNK_CACHE_QUEUE], hash,
			    REPO_HASH_SIZE))
			goto out;
	memcpy(c->queue[(c->qhead + c->qlen++) % CHUNK_CACHE_QUEUE], hash,
	       REPO_HASH_SIZE);
	pthread_cond_signal(&c->wished);
out:
	pthread_mutex_unlock(&c->lock);
}

static void *chunk_readahead(void *arg)
{
	struct chunk_cache *c = arg;
	uint8_t hash[REPO_HASH_SIZE];

	pthread_mutex_lock(&c->lock);
	while (!c->stopping) {
		struct vr_err err = { 0 };
		int rc;

		if (!c->qlen) {
			pthread_cond_wait(&c->wished, &c->lock);
			continue;
		}
		memcpy(hash, c->queue[c->qhead], REPO_HASH_SIZE);
		c->qhead = (c->qhead + 1) % CHUNK_CACHE_QUEUE;
		c->qlen--;
		/* a failure is the reader's to report, when it reads */
		if (!chunk_find(c, hash))
			chunk_get_locked(c, hash, true, &rc, &err);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int chunk_cache_new(struct repo *r, size_t bytes, unsigned threads,
		    struct chunk_cache **out, struct vr_err *err)
{
	struct chunk_cache *c = calloc(1, sizeof(*c));
	size_t i;
	int rc;

	if (!c)
		return vr_err_set(err, -ENOMEM, "out of memory");
	c->r = r;
	c->chunk_size = repo_chunk_size(r);
	c->nslots = bytes / c->chunk_size;
	if (c->nslots < CHUNK_CACHE_MIN_CHUNKS)
		c->nslots = CHUNK_CACHE_MIN_CHUNKS;
	for (c->nbuckets = 16; c->nbuckets < 2 * c->nslots;)
		c->nbuckets *= 2;
	c->slots = calloc(c->nslots, sizeof(*c->slots));
	c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
	c->queue = calloc(CHUNK_CACHE_QUEUE, sizeof(*c->queue));
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->loaded, NULL);
	pthread_cond_init(&c->wished, NULL);
	if (!c->slots || !c->buckets || !c->queue) {
		chunk_cache_free(c);
		return vr_err_set(err, -ENOMEM, "out of memory");
	}
	for (i = 0; i < c->nslots; i++)
		chunk_lru_add(c, &c->slots[i], false);
	c->stats.chunks = c->nslots;
	if (threads > CHUNK_CACHE_MAX_THREADS)
		threads = CHUNK_CACHE_MAX_THREADS;
	for (; c->nthreads < threads; c->nthreads++) {
		rc = pthread_create(&c->threads[c->nthreads], NULL,
				    chunk_readahead, c);
		if (rc != 0) {
			chunk_cache_free(c);
			return vr_err_set(err, -rc,
					  "cannot start a readahead thread: %s",
					  strerror(rc));
		}
	}
	*out = c;
	return 0;
}

void chunk_cache_free(struct chunk_cache *c)
{
	size_t i;

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stopping = true;
	pthread_cond_broadcast(&c->wished);
	pthread_mutex_unlock(&c->lock);
	for (i = 0; i < c->nthreads; i++)
		pthread_join(c->threads[i], NULL);
	for (i = 0; i < c->nidle; i++)
		repo_reader_free(c->idle[i]);
	for (i = 0; c->slots && i < c->nslots; i++)
		free(c->slots[i].data);
	pthread_cond_destroy(&c->wished);
	pthread_cond_destroy(&c->loaded);
	pthread_mutex_destroy(&c->lock);
	free(c->idle);
	free(c->queue);
	free(c->buckets);
	free(c->slots);
	free(c);
}

struct repo *chunk_cache_repo(const struct chunk_cache *c)
{
	return c->r;
}

void chunk_cache_get_stats(struct chunk_cache *c, struct chunk_cache_stats *st)
{
	pthread_mutex_lock(&c->lock);
	*st = c->stats;
	pthread_mutex_unlock(&c->lock);
}
