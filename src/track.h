/*
 * track.h - a VHDX open for writing whose every change marks its change
 * bitmap (cbt.h): the one way src/ writes a disk that replication follows
 * (vhdrecover write, the NBD export).
 *
 * Opening takes an exclusive lock on the disk (flock on the disk file), so
 * two tracked writers never share a disk, and saves the sidecar marked not
 * clean at once: if the process dies, the next look at the bitmap knows.
 *
 *	track_open(path, NULL, 0, 0, &t, &err);
 *	track_write(t, buf, len, off, &err);	marks, then writes
 *	track_flush(t, &err);			VHDX flush
 *	track_persist(t, &err);			flush + save the bitmap (a
 *cycle) track_finish(t, &err);			flush + save it clean
 *	track_close(t);				cannot fail
 */
#ifndef VR_TRACK_H
#define VR_TRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vr_err;
struct vhdx;
struct track;
struct cbt_identity;

/*
 * track_open() flag: no change bitmap at all, for measuring what tracking
 * costs (bench/nbd-throughput.sh). The sidecar is not touched, so a later
 * tracked open still knows nothing about these writes: it finds the
 * DataWriteGuid changed and distrusts its bitmap.
 */
#define TRACK_UNTRACKED 0x1u

/*
 * Open the VHDX @path read-write (its parent chain read-only, @parent
 * overriding the first parent's locator if not NULL) and its change bitmap
 * (@granularity used only for a new one; 0: the default).
 * Returns 0, -EBUSY (another writer holds the disk), or what vhdx_open()
 * and cbt_load()/cbt_save() return.
 */
int track_open(const char *path, const char *parent, uint32_t granularity,
	       unsigned flags, struct track **out, struct vr_err *err);

/*
 * Take the exclusive lock tracked writers hold on @path (flock on a new
 * read-only descriptor, *@out_fd; closing it drops the lock), without
 * waiting. Returns 0, -EBUSY (a writer holds it), or -errno of open().
 */
int track_lock(const char *path, int *out_fd, struct vr_err *err);

/* What the VHDX @v is now, as its change bitmap must match it. */
void track_identity(struct vhdx *v, struct cbt_identity *id);

/* The disk, for reads and extents. Borrowed until track_close(). */
struct vhdx *track_vhdx(struct track *t);

/* vhdx_write() / vhdx_zero(), the range marked changed first. */
int track_write(struct track *t, const void *buf, size_t len, uint64_t off,
		struct vr_err *err);
int track_zero(struct track *t, uint64_t off, uint64_t len, unsigned flags,
	       struct vr_err *err);

/* vhdx_flush(). */
int track_flush(struct track *t, struct vr_err *err);

/* Flush, then save the bitmap as it is (still not clean: the disk is open). */
int track_persist(struct track *t, struct vr_err *err);

/*
 * Flush and save the bitmap marked clean: the last call before
 * track_close() of a writer that stops normally. Writes after it fail.
 */
int track_finish(struct track *t, struct vr_err *err);

/*
 * A point in time of a disk being written (freeze.h serves it to a
 * cycle): track_freeze() fixes the disk as it is, and from then on the
 * first write to any chunk a cycle may read saves that chunk's old bytes
 * aside (copy-on-write into an unlinked temp file next to the disk), so
 * track_freeze_read() returns the disk of that instant while writes go on.
 * The change bitmap starts afresh at the freeze; track_thaw() keeps that
 * (the cycle committed) or undoes it (it did not: nothing is lost).
 */

/* A chunk in the freeze map: enum vhdx_source, plus this bit. */
#define TRACK_MAP_CHANGED                                                      \
	0x80u /* the bitmap marked it since the last cycle                     \
	       */

/* What the disk was at the freeze. */
struct track_freeze_info {
	uint8_t disk_id[16];
	uint8_t data_write_guid[16];
	uint64_t size;
	uint64_t generation; /* of the bitmap up to the freeze */
	int trust;	     /* enum cbt_trust of that bitmap */
};

/*
 * Freeze the disk (flushed first) for a cycle of @chunk_size chunks that
 * stores what lies above the parent @below_depth files up (0: none):
 * *@map (a new array of one byte per chunk, the caller's) says where each
 * chunk comes from and whether it changed. Returns 0, -EBUSY (frozen
 * already), -EINVAL (untracked, or a bad chunk size or depth), -ENOMEM,
 * -EIO, -ENOSPC.
 */
int track_freeze(struct track *t, uint32_t chunk_size, unsigned below_depth,
		 uint8_t **map, struct track_freeze_info *info,
		 struct vr_err *err);

/* Read the frozen disk. Returns 0, -EINVAL (not frozen, out of range). */
int track_freeze_read(struct track *t, void *buf, size_t len, uint64_t off,
		      struct vr_err *err);

/*
 * End the freeze: if @committed, the bitmap as started at the freeze is
 * saved; otherwise the freeze's reset is undone. Returns 0 or what saving
 * the bitmap returns (the freeze ends either way).
 */
int track_thaw(struct track *t, bool committed, struct vr_err *err);

/* Current identity and trust, as track_freeze() would report them. */
void track_describe(struct track *t, struct track_freeze_info *info);

/* Close the disk and drop the lock. Accepts NULL. */
void track_close(struct track *t);

#endif /* VR_TRACK_H */
