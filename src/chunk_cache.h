/*
 * chunk_cache.h - chunks read lately from a repository, kept in memory
 * of a bounded size and shared by every disk read from it (point_disk.h).
 * Chunks are kept by content, so one that several points and their base
 * hold is fetched and kept once. Several threads may read at once; a
 * chunk two of them want is fetched once. With readahead threads, the
 * chunks a sequential reader will want next are fetched (read,
 * decompressed, checked) in the background while it copies what it has.
 *
 *	chunk_cache_new(r, 64 << 20, 2, &c, &err);
 *	chunk_cache_read(c, hash, chunk_len, buf, in, len, &err);
 *	chunk_cache_prefetch(c, hash);
 *	chunk_cache_free(c);
 */
#ifndef VR_CHUNK_CACHE_H
#define VR_CHUNK_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "repo.h"

struct chunk_cache;

/* The fewest chunks a cache holds, whatever its size says. */
#define CHUNK_CACHE_MIN_CHUNKS 8u

/*
 * A cache of at most @bytes of chunks (CHUNK_CACHE_MIN_CHUNKS at least)
 * over @r, a repository opened for reading that must outlive it, with
 * @threads readahead threads (0: chunk_cache_prefetch() does nothing).
 * Returns 0, -ENOMEM, -EAGAIN (a thread cannot be started).
 */
int chunk_cache_new(struct repo *r, size_t bytes, unsigned threads,
		    struct chunk_cache **out, struct vr_err *err);

/* Stops the readahead threads. Accepts NULL. */
void chunk_cache_free(struct chunk_cache *c);

/* The repository it reads. */
struct repo *chunk_cache_repo(const struct chunk_cache *c);

/*
 * Copy @len bytes at @in of chunk @hash, which must hold @chunk_len
 * bytes, into @buf: from the cache, or fetched into it. Returns 0,
 * -VR_ECORRUPT (the chunk holds another length), or what
 * repo_reader_get() returns (the error names the chunk).
 */
int chunk_cache_read(struct chunk_cache *c, const uint8_t hash[REPO_HASH_SIZE],
		     size_t chunk_len, void *buf, size_t in, size_t len,
		     struct vr_err *err);

/*
 * Have chunk @hash fetched into the cache in the background, unless it
 * is there or on its way. Returns at once; when many are waiting already
 * the wish is dropped (a later read fetches the chunk itself). A chunk
 * that cannot be fetched is left out: its reader gets the error.
 */
void chunk_cache_prefetch(struct chunk_cache *c,
			  const uint8_t hash[REPO_HASH_SIZE]);

/* What a cache did so far. */
struct chunk_cache_stats {
	uint64_t hits;	     /* reads the cache answered */
	uint64_t fetched;    /* chunks read from the repository by readers */
	uint64_t prefetched; /* ... by the readahead threads */
	uint64_t waited;     /* reads that waited for a fetch under way */
	size_t chunks;	     /* chunks it can hold */
};

void chunk_cache_get_stats(struct chunk_cache *c, struct chunk_cache_stats *st);

#endif /* VR_CHUNK_CACHE_H */
