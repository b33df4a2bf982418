/*
 * capture.h - filling a manifest from a disk: for each chunk asked for,
 * decide without reading whether it is zero or the base's, else read it,
 * and store it in batches (hashed and compressed on every core). The one
 * engine behind base add and replication cycles.
 *
 *	capture_new(r, m, base, last, &src, progress, ctx, total, &cap, &err);
 *	capture_chunk(cap, i, &err);	for each chunk to capture
 *	capture_finish(cap, &err);	store what is batched
 *	capture_free(cap);
 *
 * Chunks not captured keep what @m held (a cycle copies the last point
 * into @m first). A chunk that reads as the base's chunk at the same index
 * is recorded as "base chunk", never stored again.
 */
#ifndef VR_CAPTURE_H
#define VR_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "manifest.h"
#include "vhdx.h"

struct disk;
struct repo;
struct vr_err;
struct capture;

/* Where chunks come from: what they are without reading, and reads. */
struct capture_source {
	/*
	 * Classify @len bytes at @off: *@type ZERO or BASE_CHUNK when all
	 * of it is, else *@must_read.
	 */
	int (*classify)(void *ctx, uint64_t off, size_t len,
			enum manifest_chunk *type, bool *must_read,
			struct vr_err *err);
	int (*read)(void *ctx, void *buf, size_t len, uint64_t off,
		    struct vr_err *err);
	void *ctx;
};

/* What a chunk whose bytes come from @src is, as classify says it. */
void capture_classify_source(enum vhdx_source src, enum manifest_chunk *type,
			     bool *must_read);

/* A disk as a source (@disk_src holds its state; it must outlive use). */
struct capture_disk {
	struct disk *d;
	const struct vhdx *below; /* the base's file in the chain, or NULL */
};
void capture_source_disk(struct capture_disk *disk_src,
			 struct capture_source *src);

struct capture_stats {
	uint64_t chunks_read, bytes_read; /* read from the source */
	uint64_t chunks_changed; /* differ from @last (without: hold data) */
};

/*
 * Capture into @m from @src, storing into @r (opened for writing). @base
 * and @last (may be NULL) are borrowed; @progress (may be NULL) hears of
 * bytes done of @total. Returns 0 or -ENOMEM.
 */
int capture_new(struct repo *r, struct manifest *m, const struct manifest *base,
		const struct manifest *last, const struct capture_source *src,
		void (*progress)(void *ctx, uint64_t done, uint64_t total),
		void *ctx, uint64_t total, struct capture **out,
		struct vr_err *err);

/* Capture chunk @i of @m. Returns 0 or what reading or storing returns. */
int capture_chunk(struct capture *c, uint64_t i, struct vr_err *err);

/* Store the chunks still batched. Returns 0 or what storing returns. */
int capture_finish(struct capture *c, struct vr_err *err);

void capture_get_stats(const struct capture *c, struct capture_stats *st);

/* Accepts NULL. */
void capture_free(struct capture *c);

#endif /* VR_CAPTURE_H */
