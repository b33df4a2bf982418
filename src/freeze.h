/*
 * freeze.h - point in time while a disk is served: the process serving a
 * disk (the NBD plugin) answers, on a local socket named after the disk,
 * a replication cycle that wants the disk as it is at one instant
 * (track.h, track_freeze(): copy-on-write while writes go on). Both ends
 * of that protocol live here (docs/ARCHITECTURE.md, "Point in time").
 *
 * The socket is in the abstract namespace ("\0vhdrecover-freeze:DEV:INO"
 * of the disk file), so it needs no file and vanishes with its process;
 * only a peer of the server's uid (or root) is served. A cycle that dies
 * or disconnects without committing has its freeze undone: the bitmap
 * keeps every change.
 *
 *	freeze_connect(disk, &fc, &err);	-ENOENT: nobody serves it
 *	freeze_describe(fc, &info, &err);	identity, chain, bitmap state
 *	freeze_begin(fc, chunk, depth, &info, &map, &err);	the instant
 *	freeze_read(fc, buf, len, off, &err);	the disk of that instant
 *	freeze_end(fc, committed, &err);
 *	freeze_close(fc);
 */
#ifndef VR_FREEZE_H
#define VR_FREEZE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "track.h"

struct vr_err;
struct vhdx;
struct freeze_client;
struct freeze_server;

/* Parent files reported, at most (the VHDX engine's chain limit). */
#define FREEZE_MAX_PARENTS 64

struct freeze_info {
	struct track_freeze_info disk; /* the served file */
	unsigned nparents;	       /* its parents, nearest first */
	struct {
		uint8_t disk_id[16];
		uint8_t data_write_guid[16];
	} parents[FREEZE_MAX_PARENTS];
};

/*
 * Fill @info's parents from the chain above @top, nearest first (they
 * never change while a disk is served or locked).
 */
void freeze_info_parents(const struct vhdx *top, struct freeze_info *info);

/*
 * Serve freezes of @t (the disk @disk_path, open for writing) on its
 * socket from a thread of our own; every operation on @t takes @lock,
 * which the caller's own I/O takes too. Returns 0, -EADDRINUSE (someone
 * serves it already), -errno.
 */
int freeze_server_start(const char *disk_path, struct track *t,
			pthread_mutex_t *lock, struct freeze_server **out,
			struct vr_err *err);

/* Stop serving (a freeze in progress is undone). Accepts NULL. */
void freeze_server_stop(struct freeze_server *s);

/*
 * Connect to the process serving @disk_path. Returns 0, -ENOENT (no one
 * serves it), -EACCES, -errno.
 */
int freeze_connect(const char *disk_path, struct freeze_client **out,
		   struct vr_err *err);

/* The served disk's identity, parents and bitmap state, not frozen. */
int freeze_describe(struct freeze_client *fc, struct freeze_info *info,
		    struct vr_err *err);

/*
 * Freeze the disk for chunks of @chunk_size storing what lies above the
 * parent @below_depth files up (0: none). *@map: a new array, one byte per
 * chunk (TRACK_MAP_* of track.h); @info: the disk at that instant.
 */
int freeze_begin(struct freeze_client *fc, uint32_t chunk_size,
		 unsigned below_depth, struct freeze_info *info, uint8_t **map,
		 struct vr_err *err);

/* Read the frozen disk. */
int freeze_read(struct freeze_client *fc, void *buf, size_t len, uint64_t off,
		struct vr_err *err);

/* End the freeze, saying whether the point was committed. */
int freeze_end(struct freeze_client *fc, bool committed, struct vr_err *err);

/* Disconnect (a freeze not ended is undone by the server). Accepts NULL. */
void freeze_close(struct freeze_client *fc);

#endif /* VR_FREEZE_H */
