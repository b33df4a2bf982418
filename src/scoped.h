/*
 * scoped.h - scoped restore: a DR policy's applications, in restore order,
 * copied out of a recovery point into a directory, DIR/APP/PATH, with
 * each application's restore hooks around it.
 *
 * Guest names are untrusted: every directory on the way is opened with
 * O_NOFOLLOW from the one above (starting at DIR), so nothing is written
 * outside DIR, whatever symlinks the image or the target hold; a name
 * that is empty, "." or ".." is skipped. Files and symlinks are written
 * under a temp name and renamed over what is there, so a restore can be
 * re-run and gives the same tree.
 */
#ifndef VR_SCOPED_H
#define VR_SCOPED_H

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"

struct disk;
struct vr_err;

struct scoped_opts {
	const char *const *apps; /* only these (NULL: all), restore order */
	size_t napps;
	const char *repo_path, *point; /* for the hooks' environment */
};

struct scoped_stats {
	uint64_t files, dirs, symlinks, bytes, skipped;
	unsigned apps;
};

/*
 * Restore the applications of @p from @d (a point as a disk) into @dir
 * (made if missing). Returns 0, -ENOENT (an application @o names is not
 * in the policy; its volume is not found), -ECANCELED (a hook failed), or
 * what reading or writing returns, with what was restored before kept.
 */
int scoped_restore(struct disk *d, const struct policy *p, const char *dir,
		   const struct scoped_opts *o, struct scoped_stats *st,
		   struct vr_err *err);

#endif /* VR_SCOPED_H */
