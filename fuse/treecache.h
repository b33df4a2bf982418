/*
 * treecache.h - walks of guest file systems saved on local disk, so that
 * a later mount lists a point's volume without fetching its chunks again
 * (a walk fetches every chunk that holds a directory or an inode: for
 * 100,000 files, about a hundred MiB). A point never changes, so a saved
 * walk stays true; the mount names each file by a hash of the point's
 * manifests and the volume (vfuse.c).
 *
 *	treecache_new(&tc);
 *	treecache_add(tc, e);			for each entry of the walk
 *	treecache_save(tc, "DIR/KEY.tree", &err);	atomic
 *	treecache_replay("DIR/KEY.tree", visit, ctx, &err);
 *
 * File: "VRTREE1\n", u32 version, u32 entries, u64 body length, then the
 * body compressed with zstd (one record per entry, in walk order) and a
 * CRC-32C of all before it. A damaged file is refused whole.
 */
#ifndef VR_TREECACHE_H
#define VR_TREECACHE_H

#include <stddef.h>
#include <stdint.h>

#include "guestfs.h"

struct treecache;
struct vr_err;

/* An empty recording. Returns 0 or -ENOMEM. */
int treecache_new(struct treecache **out);

/* Accepts NULL. */
void treecache_free(struct treecache *tc);

/* Record entry @e (as guestfs_walk() passed it). Returns 0 or -ENOMEM. */
int treecache_add(struct treecache *tc, const struct guestfs_entry *e);

/*
 * Write the recording to @path: temp file, fsync, rename. Returns 0 or
 * -errno with @err set.
 */
int treecache_save(const struct treecache *tc, const char *path,
		   struct vr_err *err);

/*
 * Call @visit with each entry saved at @path, in the walk's order (its
 * return values other than a negative errno are ignored: the recording
 * holds only what the walk went into). Returns 0, -ENOENT (no such
 * file), -VR_ECORRUPT (damaged, truncated, another version), -ENOMEM,
 * or what @visit returned.
 */
int treecache_replay(const char *path,
		     int (*visit)(void *ctx, const struct guestfs_entry *e),
		     void *ctx, struct vr_err *err);

/* The same for a file's bytes in memory (@name for messages). */
int treecache_replay_buf(const uint8_t *buf, size_t len, const char *name,
			 int (*visit)(void *ctx, const struct guestfs_entry *e),
			 void *ctx, struct vr_err *err);

/*
 * Keep directory @dir's *.tree files within @bytes, removing those used
 * least lately (by mtime: treecache_replay() touches what it reads).
 */
void treecache_trim(const char *dir, uint64_t bytes);

#endif /* VR_TREECACHE_H */
