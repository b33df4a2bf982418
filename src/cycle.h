/*
 * cycle.h - one replication cycle: capture what changed on a protected disk
 * since its last recovery point into the repository and commit a new point
 * (DESIGN.md section 4; docs/ARCHITECTURE.md, "Replication cycles").
 *
 * The point is the disk at one instant: a disk nobody writes is locked
 * for the cycle; a served one is frozen by the serving process
 * (freeze.h), and writes go on.
 *
 * What is read: on the first cycle of a disk, or when its change bitmap
 * cannot be trusted, every chunk the disk holds above its base (a full
 * scan: chunks are hashed and only new ones stored, so a resync costs reads,
 * not space); otherwise only the chunks the bitmap marks. A disk whose
 * parent chain holds a registered base (same VirtualDiskId and
 * DataWriteGuid) stores "the base's chunk" for everything the base serves.
 *
 * Before anything is read, the planner (plan.h) estimates what the point
 * adds; a point that does not fit, even after forgetting this disk's
 * expired points its retention drops and collecting garbage, is deferred:
 * -ENOSPC, res->deferred; no unexpired point is ever deleted for room.
 *
 * Order, so that a crash anywhere loses nothing: chunks stored and sealed,
 * then the point's manifest saved (the commit), then the bitmap reset and
 * saved. A crash before the commit leaves the bitmap as it was (the next
 * cycle ships the same changes again); after it, the bitmap's generation
 * no longer matches the point, and the next cycle resyncs.
 */
#ifndef VR_CYCLE_H
#define VR_CYCLE_H

#include <stdbool.h>
#include <stdint.h>

#include "manifest.h"
#include "plan.h"
#include "retention.h"

struct vr_err;
struct repo;

#define CYCLE_MAX_WARNINGS 3

struct cycle_opts {
	const char *disk_name; /* NULL: the file name without its extension */
	const char *pre_hook;  /* quiesce commands; NULL: none */
	const char *post_hook;
	/*
	 * Retention (NULL: none): gives the point its expiry, and lets the
	 * planner forget expired points the rules drop to make room.
	 */
	const struct retention_rules *retention;
	/* progress of the chunks to read: @done of @total bytes */
	void (*progress)(void *ctx, uint64_t done, uint64_t total);
	void *ctx;
};

struct cycle_result {
	char id[MANIFEST_NAME_MAX];	  /* the new point */
	char disk[MANIFEST_NAME_MAX];	  /* the disk's name */
	char base[MANIFEST_NAME_MAX];	  /* its base, "" if none */
	bool full_scan;			  /* why: @scan_reason */
	char scan_reason[96];		  /* "first cycle", "resync: ..." */
	bool consistent;		  /* quiesce hooks ran */
	uint64_t chunks_read, bytes_read; /* from the disk */
	uint64_t chunks_new, bytes_new;	  /* stored (compressed) */
	uint64_t chunks_changed;	  /* differ from the last point */
	double seconds;
	bool bitmap_saved; /* false: the next cycle resyncs (warned) */
	uint64_t expires;  /* the point's expiry; 0: none */
	/* the planner, before anything was read */
	struct plan_fit fit;
	/* no room (the planner said so, or the store ran out): -ENOSPC,
	 * nothing committed, nothing deleted */
	bool deferred;
	size_t forgotten; /* expired points forgotten to make room */
	/* what went wrong without failing the cycle: a post hook, the bitmap */
	char warnings[CYCLE_MAX_WARNINGS][384];
	unsigned nwarnings;
};

/*
 * The name a disk gets by default: @path's file name without a known
 * extension (.vhdx, .avhdx, .vhd, .raw, .img), into @name. Returns false
 * if that is no usable name (manifest_name_ok()).
 */
bool cycle_default_disk_name(const char *path, char name[MANIFEST_NAME_MAX]);

/*
 * Run one cycle of the disk @disk_path into @r (opened for writing, at
 * @repo_path). A disk no one writes is locked for the cycle; a disk being
 * served is frozen by its server (freeze.h); a disk written by another
 * tracked writer that serves no freezes gives -ENOENT.
 * Returns 0 with @res filled, or a negative errno with @err set; no point
 * is committed then.
 */
int cycle_run(struct repo *r, const char *repo_path, const char *disk_path,
	      const struct cycle_opts *o, struct cycle_result *res,
	      struct vr_err *err);

#endif /* VR_CYCLE_H */
