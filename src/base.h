/*
 * base.h - preloaded base images: chunk and hash a golden image once into
 * a repository, recorded as REPO/bases/NAME.base (a manifest), so that
 * recovery points of its children store only their delta.
 */
#ifndef VR_BASE_H
#define VR_BASE_H

#include <stdbool.h>
#include <stdint.h>

struct vr_err;
struct repo;

/* What base_add() did. */
struct base_add_stats {
	uint64_t chunks;      /* chunk-sized extents of the disk */
	uint64_t zero_chunks; /* all zeros: not stored */
	uint64_t new_chunks;  /* stored now (others were there already) */
	uint64_t bytes_read;  /* from the image */
};

/* Progress of long work: @done of @total bytes. */
typedef void (*base_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/*
 * Chunk the disk @image (raw, VHD or VHDX chain, read through disk.h) into
 * @r (opened for writing), flush, then publish bases/@name.base. An
 * existing base of that name is refused (-EEXIST). @progress (may be NULL)
 * hears of bytes done. Returns 0 or a negative errno with @err set.
 */
int base_add(struct repo *r, const char *repo_path, const char *image,
	     const char *name, base_progress_fn progress, void *ctx,
	     struct base_add_stats *stats, struct vr_err *err);

#endif /* VR_BASE_H */
