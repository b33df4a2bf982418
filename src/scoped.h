/*
 * scoped.h - scoped restore: a DR policy's applications, in restore order,
 * taken out of a recovery point (read as a disk) into a directory,
 * DIR/APP/PATH, or an archive (.tar, .tar.zst, .zip: APP/PATH), with each
 * application's restore hooks around it.
 *
 * Guest names are untrusted: nothing is written outside the target
 * (sink.h says how); a directory target converges when a restore is
 * re-run, an archive is written to a temp file and renamed when whole.
 */
#ifndef VR_SCOPED_H
#define VR_SCOPED_H

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"
#include "progress.h"

struct disk;
struct vr_err;

struct scoped_opts {
	const char *const *apps; /* only these (NULL: all), restore order */
	size_t napps;
	const char *repo_path, *point; /* for the hooks' environment */
	/*
	 * If set, only what differs from this disk (the point's preloaded
	 * base): files whose type, size, content, mode, owner or link
	 * target differ, and those it does not have.
	 */
	struct disk *base;
	enum progress_mode progress;
};

struct scoped_stats {
	uint64_t files, dirs, symlinks, hardlinks, bytes;
	uint64_t skipped;   /* names not written, devices, FIFOs */
	uint64_t unchanged; /* as in the base (with opts.base) */
	unsigned apps;
};

/*
 * Restore the applications of @p from @d (a point as a disk) into
 * @target: an archive if its name ends in .tar, .tar.zst or .zip (see
 * sink_kind_of()), else a directory (made if missing). Returns 0,
 * -ENOENT (an application @o names is not in the policy; its volume is
 * not found), -ECANCELED (a hook failed), or what reading or writing
 * returns; a directory keeps what was restored before, an archive is not
 * made.
 */
int scoped_restore(struct disk *d, const struct policy *p, const char *target,
		   const struct scoped_opts *o, struct scoped_stats *st,
		   struct vr_err *err);

#endif /* VR_SCOPED_H */
