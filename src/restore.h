/*
 * restore.h - full-disk restore of a recovery point: to a sparse raw image
 * or a new VHDX, or as a differencing VHDX over the restore site's own
 * copy of the point's base, verified against the base's recorded hashes
 * first, so that only the delta comes from the repository.
 */
#ifndef VR_RESTORE_H
#define VR_RESTORE_H

#include <stdint.h>

#include "progress.h"
#include "vhdx.h"

struct repo;
struct manifest;
struct vr_err;

enum restore_format {
	RESTORE_RAW,
	RESTORE_VHDX,
};

struct restore_opts {
	enum restore_format format;
	enum vhdx_type vhdx_type; /* RESTORE_VHDX without a parent */
	const char *parent;	  /* local copy of the base: a VHDX */
	enum progress_mode mode;
};

struct restore_stats {
	uint64_t chunks_fetched, bytes_fetched; /* from the repository */
	uint64_t bytes_written;			/* data written to the output */
	uint64_t base_bytes_verified;		/* of the local base */
};

/*
 * Restore point @m of the repository @r (at @repo_path) to @out, replaced
 * atomically (temp file, fsync, rename). With o->parent, @out becomes a
 * differencing VHDX over it holding only what the point has that the base
 * has not; the parent must read as the point's base to the last chunk.
 * Returns 0 or a negative errno with @err set: -ENOENT (base missing),
 * -ESTALE (the local base differs from the recorded one), what reading a
 * chunk returns (naming the point and disk offset), -ENOSPC, -EIO.
 */
int restore_disk(struct repo *r, const char *repo_path,
		 const struct manifest *m, const char *out,
		 const struct restore_opts *o, struct restore_stats *st,
		 struct vr_err *err);

#endif /* VR_RESTORE_H */
