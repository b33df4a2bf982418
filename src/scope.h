/*
 * scope.h - a DR policy's application inside a disk: find the volume the
 * policy names (a partition number, or a file system label or UUID, in an
 * MBR or GPT table or on the whole disk), open its file system, and walk
 * the entries the application's include and exclude globs select.
 *
 *	scope_volume_open(d, &app->volume, &vol, &err);
 *	scope_walk(vol, app, visit, ctx, &err);
 *	scope_volume_close(vol);
 *
 * File systems: what guestfs.h reads (ext2/3/4, NTFS; globs compare
 * NTFS names without case). Others are recognised and named, so the
 * caller can say what is not supported.
 */
#ifndef VR_SCOPE_H
#define VR_SCOPE_H

#include <stdint.h>

#include "guestfs.h"
#include "policy.h"

struct disk;
struct vr_err;
struct scope_volume;

/*
 * Open the volume @v names in @d (borrowed; it must outlive the volume).
 * Returns 0; -ENOENT (no such partition, or no file system with that
 * label or UUID); -ENOTSUP (a file system we cannot read yet, named in
 * the message); or what reading the partition table or the file system
 * returns.
 */
int scope_volume_open(struct disk *d, const struct policy_volume *v,
		      struct scope_volume **out, struct vr_err *err);

/* Accepts NULL. */
void scope_volume_close(struct scope_volume *vol);

/* "ext4 'data' (partition 2)", for messages and reports. */
const char *scope_volume_describe(const struct scope_volume *vol);

/* The file system, to read what the walk found. */
struct guestfs *scope_volume_fs(struct scope_volume *vol);

/*
 * Call @visit for each entry of @vol that @app's include globs select and
 * its exclude globs do not, parents before children. An excluded
 * directory is left out with all below it; directories below which no
 * include glob can match are not read. @visit returns as guestfs_walk()
 * wants (0, GUESTFS_SKIP or a negative errno that stops the walk).
 * Returns 0, what @visit returned, or a negative errno.
 */
int scope_walk(struct scope_volume *vol, const struct policy_app *app,
	       int (*visit)(void *ctx, const struct guestfs_entry *e),
	       void *ctx, struct vr_err *err);

#endif /* VR_SCOPE_H */
