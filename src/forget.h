/*
 * forget.h - applying retention to a repository: decide per disk which
 * points go (retention.h), delete their manifests, then collect the chunks
 * no manifest names any more (repo_gc()).
 *
 *	forget_run(r, "/srv/repo", &opts, &res, &err);
 *
 * Order, so that a kill anywhere loses nothing that is kept: every
 * decision is made (and refused, if it would drop an unexpired point
 * without force) before anything is deleted; manifests go first, one
 * unlink each; chunks go only after, and only those no readable manifest
 * names. A manifest that cannot be read stops the collection: its chunks
 * might be needed.
 */
#ifndef VR_FORGET_H
#define VR_FORGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "repo.h"
#include "retention.h"

struct vr_err;

/* Kept because unexpired (automatic forgetting never forces). */
#define FORGET_UNEXPIRED 0x100u
/* Kept because it is not the point named (forgetting by id). */
#define FORGET_NOT_NAMED 0x200u

#define FORGET_WARNING_MAX 384

struct forget_opts {
	const struct retention_rules *rules; /* NULL: forget @ids */
	const char *const *ids;		     /* points to forget by id */
	size_t nids;
	const char *disk;    /* NULL: every disk */
	uint64_t now;	     /* seconds since 1970 UTC */
	bool force;	     /* drop unexpired points the rules (or ids) name */
	bool keep_unexpired; /* automatic: keep them silently instead */
	bool dry_run;	     /* decide and report, change nothing */
	/* each point, with why it is kept (RETENTION_*, FORGET_*) or 0 */
	void (*decision)(void *ctx, const struct catalog_point *p,
			 unsigned keep);
	void *ctx;
};

struct forget_result {
	size_t points, forgotten;     /* looked at; gone (or would go) */
	uint64_t forgotten_bytes_new; /* what their cycles stored */
	bool collected;		      /* repo_gc() ran: @gc holds it */
	struct repo_gc_stats gc;
	char warning[FORGET_WARNING_MAX]; /* why garbage was not collected, or
					     "" */
};

/*
 * Forget points of @r (opened for writing, at @repo_path) as @o says,
 * then collect garbage (not in a dry run). Returns 0; -ENOENT (no points
 * of @o->disk, an id not found); -EINVAL (no rule; or, without force,
 * unexpired points would go or an id names the newest point of its disk:
 * nothing changed); or -errno with nothing kept lost.
 */
int forget_run(struct repo *r, const char *repo_path,
	       const struct forget_opts *o, struct forget_result *res,
	       struct vr_err *err);

/*
 * Collect garbage only: the chunks no base or point names. Returns 0
 * (@warning says why nothing was collected, if so), or -errno.
 */
int forget_collect(struct repo *r, const char *repo_path,
		   struct repo_gc_stats *st, bool *collected,
		   char warning[FORGET_WARNING_MAX], struct vr_err *err);

#endif /* VR_FORGET_H */
