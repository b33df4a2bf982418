/*
 * manifest.h - what a base image or a recovery point is made of: for every
 * chunk-sized extent of the disk, "zero", "the base's chunk at the same
 * index", or the SHA-256 of a chunk in the repository
 * (docs/repo-format.md, "Manifests"). Encoded with a fixed header, a
 * zstd-compressed body and a CRC-32C trailer; saved through
 * vr_file_replace(), so a manifest is visible whole or not at all.
 */
#ifndef VR_MANIFEST_H
#define VR_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "repo.h"

struct vr_err;

enum manifest_kind {
	MANIFEST_BASE = 1,
	MANIFEST_POINT = 2,
};

enum manifest_chunk {
	MANIFEST_ZERO = 0,	 /* reads as zeros */
	MANIFEST_HASH = 1,	 /* the chunk named by hashes[i] */
	MANIFEST_BASE_CHUNK = 2, /* the base's chunk i (points only) */
};

#define MANIFEST_NAME_MAX 128

/* Point flags. */
#define MANIFEST_CONSISTENT                                                    \
	0x1u /* quiesce hooks ran: application-consistent                      \
	      */
#define MANIFEST_FULL_SCAN                                                     \
	0x2u /* every chunk was read (first cycle, resync)                     \
	      */

struct manifest {
	enum manifest_kind kind;
	char name[MANIFEST_NAME_MAX]; /* base name or point id */
	char base[MANIFEST_NAME_MAX]; /* a point's base, "" if none */
	uint64_t size;		      /* virtual disk bytes */
	uint32_t chunk_size;
	uint64_t time;		     /* seconds since 1970, UTC */
	uint8_t disk_id[16];	     /* VirtualDiskId; zeros for raw, VHD */
	uint8_t data_write_guid[16]; /* as the disk was read */
	uint64_t nchunks;	     /* ceil(size / chunk_size) */
	/* points only (zero in a base) */
	char disk[MANIFEST_NAME_MAX]; /* the protected disk's name */
	uint32_t flags;		      /* MANIFEST_CONSISTENT, ... */
	uint64_t cbt_generation; /* change bitmap the next cycle builds on */
	uint64_t bytes_read;	 /* read from the disk by its cycle */
	uint64_t bytes_new;	 /* stored bytes of chunks new to the repo */
	uint64_t expires;	 /* seconds since 1970; 0: no expiry */
	uint64_t plain_new;	 /* bytes_new before compression */
	uint64_t repo_used; /* repository bytes after the commit (planner) */
	uint8_t *types;	    /* enum manifest_chunk, per chunk */
	uint8_t (*hashes)[REPO_HASH_SIZE]; /* per chunk; for MANIFEST_HASH */
};

/* Bytes of chunk @i of @m's disk: the chunk size, or less for the last. */
static inline size_t manifest_chunk_len(const struct manifest *m, uint64_t i)
{
	uint64_t off = i * m->chunk_size;

	return m->size - off < m->chunk_size ? (size_t)(m->size - off)
					     : m->chunk_size;
}

/*
 * Is @name usable as a base, disk or point name (and so as a file name):
 * 1..127 of [A-Za-z0-9._-], not starting with '.'?
 */
bool manifest_name_ok(const char *name);

/*
 * A manifest of @kind for a disk of @size bytes in @chunk_size chunks, all
 * zero. Free with manifest_free(). Returns 0, -EINVAL, -ENOMEM.
 */
int manifest_new(enum manifest_kind kind, uint64_t size, uint32_t chunk_size,
		 struct manifest **out, struct vr_err *err);

void manifest_free(struct manifest *m);

/* Bytes manifest_save() writes for @m, at most (for quotas). */
uint64_t manifest_size_bound(const struct manifest *m);

/*
 * Write @m to @path (temp + fsync + rename; never replacing an existing
 * file). Returns 0, -EEXIST, -ENOSPC, -EIO, -ENOMEM.
 */
int manifest_save(const struct manifest *m, const char *path,
		  struct vr_err *err);

/*
 * Read and check the manifest at @path. Returns 0, -ENOENT, -VR_ECORRUPT
 * (magic, lengths, checksum or a chunk type out of range), -ENOTSUP (a
 * newer version), -ENOMEM, -EIO.
 */
int manifest_load(const char *path, struct manifest **out, struct vr_err *err);

/*
 * As manifest_load(), checked the same way, but without the chunk list:
 * types and hashes are NULL. For listings.
 */
int manifest_load_header(const char *path, struct manifest **out,
			 struct vr_err *err);

#endif /* VR_MANIFEST_H */
