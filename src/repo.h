/*
 * repo.h - the repository's chunk store: content-addressed chunks named by
 * the SHA-256 of their plaintext, compressed with zstd, appended to pack
 * files of tens of MiB, each sealed by an index file (docs/repo-format.md).
 * Recovery points and bases (manifests naming chunks) build on this.
 *
 *	repo_init("/srv/repo", &opts, &err);
 *	repo_open("/srv/repo", REPO_OPEN_WRITE, &r, &err);	takes the lock
 *	repo_chunk_put(r, data, len, hash, &err);		dedups
 *	repo_flush(r, &err);	seal the open pack: durable after this
 *	repo_close(r);
 *
 * Invariants: a pack becomes visible only when its index is renamed into
 * place, after the pack was fsynced; packs and indexes are never changed
 * after that. A crash leaves at most a pack without an index: its chunks
 * are unreferenced, repo_check() reports the pack, and later puts store
 * them again.
 */
#ifndef VR_REPO_H
#define VR_REPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vr_err;
struct repo;

#define REPO_HASH_SIZE 32
#define REPO_DEFAULT_CHUNK_SIZE (64u * 1024)
/*
 * zstd level 2: on 64 KiB chunks of mixed data it takes a fifth less CPU
 * than level 3 for 1% more bytes (measured on bench/incremental.sh's
 * disk), and hashing plus compression bound a first cycle.
 */
#define REPO_DEFAULT_ZSTD_LEVEL 2

struct repo_init_opts {
	uint32_t chunk_size; /* 0: 64 KiB; a power of two, 4K..64M */
	int zstd_level;	     /* 0: 2; 1..19 */
	uint64_t quota;	     /* bytes the repository may take; 0: no quota */
};

/*
 * Make an empty repository in @path (created; an existing non-empty
 * directory is refused). Returns 0, -EEXIST, -EINVAL (options out of
 * range), -errno.
 */
int repo_init(const char *path, const struct repo_init_opts *o,
	      struct vr_err *err);

/*
 * repo_open() flags: open for adding chunks (takes the writer's lock).
 * Without it the open is a reader's: it holds REPO/readers shared, so a
 * garbage collection (repo_gc()) never removes a pack under a reader.
 */
#define REPO_OPEN_WRITE 0x1u

/*
 * Open the repository in @path and load every pack index. With
 * REPO_OPEN_WRITE, take the repository's lock (another writer: -EBUSY,
 * "in use by pid N"). Returns 0, -EBUSY, -VR_ECORRUPT (config or an index
 * damaged), -ENOTSUP (a newer format), -ENOMEM, -errno.
 */
int repo_open(const char *path, unsigned flags, struct repo **out,
	      struct vr_err *err);

/*
 * Close without sealing the open pack: chunks put since the last
 * repo_flush() are dropped (the unsealed pack is removed: nobody can name
 * its chunks), never half-visible. Accepts NULL.
 */
void repo_close(struct repo *r);

uint32_t repo_chunk_size(const struct repo *r);

/* Is @buf all zeros? Callers never store zero chunks: manifests say "zero". */
bool repo_is_zero(const void *buf, size_t len);

/*
 * Store @len (<= the chunk size) bytes unless a chunk with the same
 * SHA-256 is stored already; *@hash gets the name. *@added (may be NULL)
 * says whether the chunk was new. Durable after repo_flush().
 * Returns 0, -EINVAL (too long, opened read-only), -ENOSPC, -EIO, -ENOMEM.
 */
int repo_chunk_put(struct repo *r, const void *buf, size_t len,
		   uint8_t hash[REPO_HASH_SIZE], bool *added,
		   struct vr_err *err);

/* One chunk of a repo_chunk_put_batch(). */
struct repo_put {
	const void *buf; /* @len bytes, <= the chunk size, not all zero */
	size_t len;
	uint8_t hash[REPO_HASH_SIZE]; /* out: the chunk's name */
	bool added;		      /* out: it was new */
};

/*
 * repo_chunk_put() of @n chunks, hashed and compressed on every core,
 * stored in order. Returns as repo_chunk_put(); on failure some of them
 * may be stored (unreferenced until a manifest names them).
 */
int repo_chunk_put_batch(struct repo *r, struct repo_put *puts, size_t n,
			 struct vr_err *err);

/*
 * repo_chunk_put_batch() in two halves, so the caller can read the next
 * batch while this one is hashed and compressed: start returns at once;
 * @puts and their buffers must stay untouched until wait, which stores
 * the new chunks and fills in hash and added. One batch in flight at a
 * time; a batch started must be waited for, even on the way out.
 */
int repo_put_start(struct repo *r, struct repo_put *puts, size_t n,
		   struct vr_err *err);
int repo_put_wait(struct repo *r, struct vr_err *err);

/* Is the chunk @hash stored (and sealed or pending in the open pack)? */
bool repo_chunk_has(const struct repo *r, const uint8_t hash[REPO_HASH_SIZE]);

/*
 * Read chunk @hash into @buf (the chunk size at least); *@len gets its
 * length. The plaintext's SHA-256 is checked. Returns 0, -ENOENT (no such
 * chunk), -VR_EBADCRC (the stored bytes do not give that hash),
 * -VR_ECORRUPT, -EIO.
 */
int repo_chunk_get(struct repo *r, const uint8_t hash[REPO_HASH_SIZE],
		   void *buf, size_t *len, struct vr_err *err);

/*
 * Readers of several threads: each thread reads with a repo_reader of
 * its own (decompression state and buffers), all of them at once, from
 * a repository opened for reading (no puts, no garbage collection).
 *
 *	repo_reader_new(r, &rd, &err);
 *	repo_reader_get(rd, hash, buf, &len, &err);	as repo_chunk_get()
 *	repo_reader_free(rd);
 *
 * Returns 0 or -ENOMEM. A reader must be freed before its repository.
 */
struct repo_reader;

int repo_reader_new(struct repo *r, struct repo_reader **out,
		    struct vr_err *err);
int repo_reader_get(struct repo_reader *rd, const uint8_t hash[REPO_HASH_SIZE],
		    void *buf, size_t *len, struct vr_err *err);
/* Accepts NULL. */
void repo_reader_free(struct repo_reader *rd);

/*
 * Bring a reader's open (no REPO_OPEN_WRITE) up to date: packs sealed
 * since it opened (or last refreshed) are added, so points committed
 * meanwhile can be read. Nothing goes: repo_gc() removes no pack while
 * a reader has the repository open. Cheap when nothing changed (one
 * stat). Safe while other threads read; one thread refreshes at a time.
 * Returns 0, -EINVAL (a writer), or what loading an index returns.
 */
int repo_refresh(struct repo *r, struct vr_err *err);

/* Seal the open pack (fsync, index, rename, fsync dir). Returns 0, -errno. */
int repo_flush(struct repo *r, struct vr_err *err);

/* What this open did so far. */
struct repo_stats {
	uint64_t chunks_new, bytes_new;	  /* stored by puts (compressed) */
	uint64_t plain_new;		  /* their bytes before compression */
	uint64_t chunks_read, bytes_read; /* fetched by gets (as stored) */
};

void repo_get_stats(const struct repo *r, struct repo_stats *st);

/* How much room the repository has. */
struct repo_space {
	uint64_t used;	  /* bytes of its files: packs, indexes, manifests */
	uint64_t quota;	  /* its quota (config), 0: none */
	uint64_t fs_free; /* free bytes of its file system (statvfs) */
	uint64_t left;	  /* what it may still grow: the smaller room */
};

/*
 * Measure the repository's files and its file system now. Returns 0 or
 * -errno (statvfs, reading a directory).
 */
int repo_space_get(struct repo *r, struct repo_space *s, struct vr_err *err);

/*
 * May the repository grow by @bytes within its quota (a manifest about to
 * be saved)? Returns 0 or -ENOSPC ("quota of N bytes reached").
 */
int repo_room(struct repo *r, uint64_t bytes, struct vr_err *err);

/*
 * Set the quota (0: none), rewriting the config atomically; opened for
 * writing. Puts that would take the repository over it fail with -ENOSPC.
 * Returns 0, -EINVAL (read-only open), -errno.
 */
int repo_set_quota(struct repo *r, uint64_t quota, struct vr_err *err);

/* What repo_gc() did. */
struct repo_gc_stats {
	uint64_t packs_deleted;	  /* held only unneeded chunks */
	uint64_t packs_rewritten; /* needed chunks copied out, then deleted */
	uint64_t chunks_dropped;  /* unneeded chunks gone with them */
	uint64_t chunks_moved;	  /* needed chunks copied */
	uint64_t leftovers;	  /* files of interrupted writes removed */
	uint64_t bytes_before, bytes_after; /* repository files */
	bool readers_busy; /* nothing done: a reader has it open */
	bool out_of_space; /* a rewrite stopped for want of room */
};

/*
 * Collect garbage: delete the packs whose chunks @is_live says are all
 * unneeded, and rewrite those with at least a fifth unneeded (needed
 * chunks copied to new packs, sealed, then the old pack deleted: a kill at
 * any moment leaves each needed chunk in a sealed pack). Packs left by
 * interrupted writes go too. Opened for writing, with no batch in flight.
 * If a reader has the repository open, nothing is done (readers_busy).
 * A rewrite that runs out of room stops there; what it copied stays as
 * harmless duplicates. Returns 0, or -errno with nothing of the
 * repository lost.
 */
int repo_gc(struct repo *r,
	    bool (*is_live)(void *ctx, const uint8_t hash[REPO_HASH_SIZE]),
	    void *ctx, struct repo_gc_stats *st, struct vr_err *err);

/* What repo_check() found. */
struct repo_check_report {
	uint64_t packs, chunks, stored_bytes;
	uint64_t bad_chunks;	  /* unreadable or wrong hash (--read-data) */
	uint64_t unindexed_packs; /* left by a crash: unreferenced */
	void (*problem)(void *ctx, const char *line); /* each problem */
	/* each chunk found unreadable or damaged (may be NULL) */
	void (*bad_chunk)(void *ctx, const uint8_t hash[REPO_HASH_SIZE]);
	void *ctx;
};

/*
 * Check every index against its pack (records where the index says, of
 * the lengths it says) and, with @read_data, every chunk's hash; report
 * packs without an index. Returns 0 (look at the report), or -errno when
 * the check itself could not run.
 */
int repo_check(struct repo *r, bool read_data, struct repo_check_report *rep,
	       struct vr_err *err);

/* The SHA-256 that names @len bytes at @buf. Returns 0 or -EIO. */
int repo_hash(const void *buf, size_t len, uint8_t hash[REPO_HASH_SIZE]);

/* Lower-case hex of a hash (65 bytes with the NUL). */
void repo_hash_format(const uint8_t hash[REPO_HASH_SIZE], char out[65]);

#endif /* VR_REPO_H */
