/*
 * cycle.c - one replication cycle (cycle.h): decide what to read, read it
 * in batches, store new chunks, commit the point, then reset the bitmap.
 */
#include <config.h>
#include "cycle.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "catalog.h"
#include "cbt.h"
#include "disk.h"
#include "forget.h"
#include "freeze.h"
#include "hook.h"
#include "plan.h"
#include "progress.h"
#include "repo.h"
#include "track.h"
#include "vhdx.h"
#include "vr_err.h"

struct cycle {
	struct repo *r;
	const char *repo_path;
	const struct cycle_opts *o;
	struct cycle_result *res;

	struct disk *d;
	struct vhdx *v;		  /* the disk's VHDX chain, or NULL */
	const struct vhdx *below; /* the file of the chain that is the base */
	struct manifest *base;	  /* its manifest, or NULL */
	struct manifest *last;	  /* the disk's last point, if usable */
	struct manifest *m;	  /* the point being made */
	struct cbt *cbt;	  /* a VHDX not served: its bitmap */
	uint32_t cs;

	/* a disk being served: the process serving it froze it for us */
	struct freeze_client *fc;
	struct freeze_info fi; /* the disk and its parents (at the freeze) */
	unsigned below_depth;  /* the base's file: parents up, 0: none */

	/* per chunk: TRACK_MAP_CHANGED; served: where it comes from too */
	uint8_t *map;
	bool tracked;	       /* there is a change bitmap at all */
	int trust;	       /* enum cbt_trust of it */
	uint64_t generation;   /* its generation */
	struct repo_stats st0; /* the repository's counters at the start */
};

bool cycle_default_disk_name(const char *path, char name[MANIFEST_NAME_MAX])
{
	static const char *const ext[] = { ".vhdx", ".avhdx", ".vhd", ".raw",
					   ".img" };
	const char *slash = strrchr(path, '/');
	const char *file = slash ? slash + 1 : path;
	size_t n = strlen(file), i;

	if (n >= MANIFEST_NAME_MAX)
		return false;
	memcpy(name, file, n + 1);
	for (i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		size_t e = strlen(ext[i]);

		if (n > e && strcasecmp(name + n - e, ext[i]) == 0) {
			name[n - e] = '\0';
			break;
		}
	}
	return manifest_name_ok(name);
}

static void cycle_warn(struct cycle_result *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Note what went wrong without failing the cycle, for the caller to say. */
static void cycle_warn(struct cycle_result *res, const char *fmt, ...)
{
	va_list ap;

	if (res->nwarnings == CYCLE_MAX_WARNINGS)
		return;
	va_start(ap, fmt);
	vsnprintf(res->warnings[res->nwarnings++], sizeof(res->warnings[0]),
		  fmt, ap);
	va_end(ap);
}

/* A served disk as a capture source: the map classifies, reads go there. */
static int cycle_served_classify(void *ctx, uint64_t off, size_t len,
				 enum manifest_chunk *type, bool *must_read,
				 struct vr_err *err)
{
	const struct cycle *c = ctx;

	(void)len;
	(void)err;
	capture_classify_source(
		(enum vhdx_source)(c->map[off / c->cs] & ~TRACK_MAP_CHANGED),
		type, must_read);
	return 0;
}

static int cycle_served_read(void *ctx, void *buf, size_t len, uint64_t off,
			     struct vr_err *err)
{
	const struct cycle *c = ctx;

	return freeze_read(c->fc, buf, len, off, err);
}

/* Where the chunks come from: the frozen server, or the disk itself. */
static void cycle_source(struct cycle *c, struct capture_disk *cd,
			 struct capture_source *src)
{
	*cd = (struct capture_disk){ .d = c->d, .below = c->below };
	*src = (struct capture_source){ .classify = cycle_served_classify,
					.read = cycle_served_read,
					.ctx = c };
	if (!c->fc)
		capture_source_disk(cd, src);
}

/* Does the cycle capture chunk @i: all of them, or those marked? */
static bool cycle_wants(const struct cycle *c, uint64_t i)
{
	return c->res->full_scan || (c->map[i] & TRACK_MAP_CHANGED);
}

/*
 * Room without losing anything still valid: forget this disk's points its
 * retention drops that have expired (other disks have rules of their
 * own), then collect garbage, which also removes what interrupted cycles
 * left.
 */
static int cycle_make_room(struct cycle *c, struct vr_err *err)
{
	struct forget_opts fo = { .rules = c->o->retention,
				  .disk = c->res->disk,
				  .now = c->m->time,
				  .keep_unexpired = true };
	struct forget_result fr = { 0 };
	bool collected;
	int rc;

	if (c->o->retention && c->last)
		rc = forget_run(c->r, c->repo_path, &fo, &fr, err);
	else
		rc = forget_collect(c->r, c->repo_path, &fr.gc, &collected,
				    fr.warning, err);
	c->res->forgotten = fr.forgotten;
	return rc;
}

/*
 * Ask the planner whether the point fits, before reading anything. If
 * not, make room (cycle_make_room()) and ask again; if it still does not
 * fit, defer: -ENOSPC, no point made, none still valid deleted.
 */
static int cycle_plan(struct cycle *c, struct vr_err *err)
{
	struct cycle_result *res = c->res;
	struct capture_source src;
	struct capture_disk cd;
	enum manifest_chunk type;
	uint64_t i, to_read = 0;
	bool must_read;
	char need[32], left[32];
	int rc = 0;

	cycle_source(c, &cd, &src);
	for (i = 0; rc == 0 && i < c->m->nchunks; i++) {
		if (!cycle_wants(c, i))
			continue;
		must_read = false;
		rc = src.classify(src.ctx, i * c->cs,
				  manifest_chunk_len(c->m, i), &type,
				  &must_read, err);
		to_read += must_read ? manifest_chunk_len(c->m, i) : 0;
	}
	if (rc == 0)
		rc = plan_cycle_fit(c->r, c->repo_path, res->disk, to_read,
				    c->m->nchunks, &res->fit, err);
	if (rc == 0 && res->fit.verdict == PLAN_NO_ROOM) {
		rc = cycle_make_room(c, err);
		if (rc == 0)
			rc = plan_cycle_fit(c->r, c->repo_path, res->disk,
					    to_read, c->m->nchunks, &res->fit,
					    err);
	}
	if (rc < 0)
		return rc;
	if (res->fit.verdict == PLAN_NO_ROOM) {
		progress_format_bytes((double)res->fit.expected, need,
				      sizeof(need));
		progress_format_bytes((double)res->fit.space.left, left,
				      sizeof(left));
		res->deferred = true;
		return vr_err_set(err, -ENOSPC,
				  "%s: no room for a point of %s: about %s "
				  "needed, %s left; cycle deferred, every "
				  "unexpired point kept (%zu expired "
				  "forgotten)",
				  c->repo_path, res->disk, need, left,
				  res->forgotten);
	}
	return 0;
}

/*
 * Capture every chunk (a full scan), or those the change bitmap marked,
 * the rest as the last point had them.
 */
static int cycle_capture(struct cycle *c, struct vr_err *err)
{
	struct capture_disk cd;
	struct capture_source src;
	bool all = c->res->full_scan;
	uint64_t i, total = 0;
	struct capture_stats st;
	struct capture *cap;
	int rc;

	cycle_source(c, &cd, &src);
	if (!all) {
		memcpy(c->m->types, c->last->types, (size_t)c->m->nchunks);
		memcpy(c->m->hashes, c->last->hashes,
		       (size_t)c->m->nchunks * REPO_HASH_SIZE);
	}
	for (i = 0; i < c->m->nchunks; i++)
		total += cycle_wants(c, i) ? c->cs : 0;
	rc = capture_new(c->r, c->m, c->base, c->last, &src, c->o->progress,
			 c->o->ctx, total, &cap, err);
	for (i = 0; rc == 0 && i < c->m->nchunks; i++)
		if (cycle_wants(c, i))
			rc = capture_chunk(cap, i, err);
	if (rc == 0)
		rc = capture_finish(cap, err);
	if (rc == 0) {
		capture_get_stats(cap, &st);
		c->res->chunks_read = st.chunks_read;
		c->res->bytes_read = st.bytes_read;
		c->res->chunks_changed = st.chunks_changed;
	}
	capture_free(cap);
	return rc;
}

/*
 * The base of the disk: the nearest parent (c->fi.parents) that is a
 * registered base of this repository's chunk size and the disk's size.
 */
static int cycle_find_base(struct cycle *c, struct vr_err *err)
{
	char name[MANIFEST_NAME_MAX];
	unsigned d;
	int rc;

	for (d = 0; d < c->fi.nparents; d++) {
		rc = catalog_find_base(c->repo_path, c->fi.parents[d].disk_id,
				       c->fi.parents[d].data_write_guid, name,
				       err);
		if (rc == -ENOENT)
			continue;
		if (rc < 0)
			return rc;
		rc = catalog_load_base(c->repo_path, name, &c->base, err);
		if (rc < 0)
			return rc;
		if (c->base->size == c->m->size &&
		    c->base->chunk_size == c->cs) {
			c->below_depth = d + 1;
			snprintf(c->m->base, sizeof(c->m->base), "%s", name);
			return 0;
		}
		manifest_free(c->base);
		c->base = NULL;
	}
	return 0;
}

/* The disk's last point, if the new one can build on it. */
static int cycle_find_last(struct cycle *c, struct vr_err *err)
{
	struct catalog_point *pts;
	size_t n;
	int rc;

	rc = catalog_list_points(c->repo_path, c->m->disk, &pts, &n, NULL, err);
	if (rc < 0 || n == 0) {
		free(pts);
		return rc;
	}
	rc = catalog_load_point(c->repo_path, pts[n - 1].id, &c->last, err);
	free(pts);
	if (rc < 0)
		return rc;
	/* a name is one disk: never build on another disk's points */
	if (memcmp(c->last->disk_id, c->fi.disk.disk_id, 16) != 0) {
		char other[37];

		vhdx_guid_format(c->last->disk_id, other);
		return vr_err_set(err, -EEXIST,
				  "%s: disk name '%s' belongs to another disk "
				  "(VirtualDiskId %s); give this one --name",
				  c->repo_path, c->m->disk, other);
	}
	if (c->last->size != c->m->size || c->last->chunk_size != c->cs ||
	    strcmp(c->last->base, c->m->base) != 0) {
		manifest_free(c->last); /* resized or rebased: start over */
		c->last = NULL;
	}
	return 0;
}

/* Incremental, or why not (into res->scan_reason). */
static bool cycle_can_use_bitmap(struct cycle *c)
{
	struct cycle_result *res = c->res;

	if (!c->last) {
		snprintf(res->scan_reason, sizeof(res->scan_reason),
			 "first cycle");
		return false;
	}
	if (!c->tracked) {
		snprintf(res->scan_reason, sizeof(res->scan_reason),
			 "resync: a %s image has no change tracking",
			 disk_format_name(disk_get_format(c->d)));
		return false;
	}
	if (c->trust != CBT_TRUSTED) {
		snprintf(res->scan_reason, sizeof(res->scan_reason),
			 "resync: change bitmap not trusted (%s)",
			 cbt_trust_reason((enum cbt_trust)c->trust));
		return false;
	}
	if (c->generation != c->last->cbt_generation) {
		snprintf(res->scan_reason, sizeof(res->scan_reason),
			 "resync: change bitmap generation %" PRIu64
			 ", last point expects %" PRIu64,
			 c->generation, c->last->cbt_generation);
		return false;
	}
	return true;
}

/* The new point, its base and the last point, for a disk of @size. */
static int cycle_prepare_point(struct cycle *c, uint64_t size,
			       struct vr_err *err)
{
	int rc = manifest_new(MANIFEST_POINT, size, c->cs, &c->m, err);

	if (rc < 0)
		return rc;
	snprintf(c->m->disk, sizeof(c->m->disk), "%s", c->res->disk);
	c->m->time = (uint64_t)time(NULL);
	c->map = calloc((size_t)c->m->nchunks, 1);
	if (!c->map)
		return vr_err_set(err, -ENOMEM, "%s: out of memory",
				  c->repo_path);
	rc = cycle_find_base(c, err);
	if (rc == 0)
		rc = cycle_find_last(c, err);
	snprintf(c->res->base, sizeof(c->res->base), "%s", c->m->base);
	return rc;
}

/* A disk nobody writes (we hold its lock): open it and its bitmap. */
static int cycle_prepare_local(struct cycle *c, const char *disk_path,
			       struct vr_err *err)
{
	uint64_t off = 0, start, len, i, end;
	struct cbt_identity id;
	unsigned d;
	int rc;

	rc = disk_open(disk_path, DISK_FORMAT_AUTO, NULL, &c->d, NULL, err);
	if (rc < 0)
		return rc;
	c->v = disk_vhdx(c->d);
	if (c->v) {
		track_identity(c->v, &id);
		memcpy(c->fi.disk.disk_id, id.disk_id, 16);
		memcpy(c->fi.disk.data_write_guid, id.data_write_guid, 16);
		freeze_info_parents(c->v, &c->fi);
		rc = cbt_load(disk_path, &id, c->cs, &c->cbt, err);
		if (rc < 0)
			return rc;
		c->tracked = true;
		c->trust = (int)cbt_trust(c->cbt);
		c->generation = cbt_generation(c->cbt);
	}
	rc = cycle_prepare_point(c, disk_size(c->d), err);
	if (rc < 0)
		return rc;
	for (d = 0, c->below = c->v; d < c->below_depth; d++)
		c->below = vhdx_parent(c->below);
	if (!c->below_depth)
		c->below = NULL;
	while (c->cbt && cbt_next_extent(c->cbt, off, &start, &len)) {
		end = (start + len - 1) / c->cs;
		for (i = start / c->cs; i <= end && i < c->m->nchunks; i++)
			c->map[i] |= TRACK_MAP_CHANGED;
		off = start + len;
	}
	return 0;
}

/*
 * A disk being served: ask its process who it is, then freeze it; the
 * point's instant is the freeze.
 */
static int cycle_prepare_served(struct cycle *c, struct vr_err *err)
{
	uint8_t *map = NULL;
	int rc;

	rc = freeze_describe(c->fc, &c->fi, err);
	if (rc == 0)
		rc = cycle_prepare_point(c, c->fi.disk.size, err);
	if (rc == 0)
		rc = freeze_begin(c->fc, c->cs, c->below_depth, &c->fi, &map,
				  err);
	if (rc < 0)
		return rc;
	memcpy(c->map, map, (size_t)c->m->nchunks);
	free(map);
	c->tracked = true;
	c->trust = c->fi.disk.trust;
	c->generation = c->fi.disk.generation;
	return 0;
}

/* Commit: seal the chunks, publish the point, then start a new bitmap. */
static int cycle_commit(struct cycle *c, const char *disk_path,
			struct vr_err *err)
{
	struct vr_err werr = { 0 };
	struct cbt_identity id;
	struct repo_space space;
	struct repo_stats st;
	char *path;
	int rc;

	rc = repo_flush(c->r, err);
	if (rc == 0)
		rc = repo_space_get(c->r, &space, err);
	if (rc < 0)
		return rc;
	repo_get_stats(c->r, &st);
	c->res->chunks_new = st.chunks_new - c->st0.chunks_new;
	c->res->bytes_new = st.bytes_new - c->st0.bytes_new;
	c->m->plain_new = st.plain_new - c->st0.plain_new;
	c->m->repo_used = space.used;
	c->m->expires = c->o->retention
				? retention_expiry(c->o->retention, c->m->time)
				: 0;
	c->res->expires = c->m->expires;
	memcpy(c->m->disk_id, c->fi.disk.disk_id, 16);
	memcpy(c->m->data_write_guid, c->fi.disk.data_write_guid, 16);
	c->m->bytes_read = c->res->bytes_read;
	c->m->bytes_new = c->res->bytes_new;
	c->m->flags = (c->res->consistent ? MANIFEST_CONSISTENT : 0) |
		      (c->res->full_scan ? MANIFEST_FULL_SCAN : 0);
	/* the bitmap is reset right after: this is the one to build on */
	c->m->cbt_generation = c->tracked ? c->generation + 1 : 0;
	rc = catalog_prepare(c->repo_path, err);
	if (rc == 0)
		rc = catalog_new_point_id(c->repo_path, c->m->disk, c->m->time,
					  c->m->name, err);
	if (rc < 0)
		return rc;
	/* the manifest is the repository's too: within the quota */
	rc = repo_room(c->r, manifest_size_bound(c->m), err);
	if (rc < 0)
		return rc;
	path = catalog_point_path(c->repo_path, c->m->name);
	if (!path)
		return vr_err_set(err, -ENOMEM, "%s: out of memory",
				  c->repo_path);
	rc = manifest_save(c->m, path, err);
	free(path);
	if (rc < 0)
		return rc;
	snprintf(c->res->id, sizeof(c->res->id), "%s", c->m->name);
	if (plan_usage_note(c->repo_path, c->m->time, space.used, &werr) < 0)
		cycle_warn(c->res, "%s (the planner's growth history)",
			   werr.msg);
	vr_err_clear(&werr);
	/* committed; a bitmap not kept now costs the next cycle a resync */
	if (c->fc) {
		rc = freeze_end(c->fc, true, &werr);
	} else if (c->cbt) {
		track_identity(c->v, &id);
		rc = cbt_reset(c->cbt, 0, &werr);
		if (rc == 0)
			rc = cbt_save(c->cbt, &id, true, &werr);
	}
	c->res->bitmap_saved = c->tracked && rc == 0;
	if (rc < 0)
		cycle_warn(c->res,
			   "%s: point %s committed, but the change bitmap was "
			   "not saved (%s): the next cycle resyncs",
			   disk_path, c->m->name, werr.msg);
	return 0;
}

/* Run a quiesce hook with the cycle's facts in its environment. */
static int cycle_hook(struct cycle *c, const char *what, const char *cmd,
		      const char *disk_path, struct vr_err *err)
{
	char *env[5] = { NULL };
	int rc = -ENOMEM, i;

	if (asprintf(&env[0], "VR_HOOK=%s", what) >= 0 &&
	    asprintf(&env[1], "VR_REPO=%s", c->repo_path) >= 0 &&
	    asprintf(&env[2], "VR_DISK=%s", disk_path) >= 0 &&
	    asprintf(&env[3], "VR_DISK_NAME=%s", c->res->disk) >= 0)
		rc = hook_run(what, cmd, env, err);
	else
		vr_err_set(err, rc, "%s: out of memory", disk_path);
	for (i = 0; i < 4; i++)
		free(env[i]);
	return rc;
}

static double cycle_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Take the disk at one instant: lock it (nobody writes while we read), or,
 * if a writer serves it, have that writer freeze it.
 */
static int cycle_take(struct cycle *c, const char *disk_path,
		      enum disk_format fmt, int *lock_fd, struct vr_err *err)
{
	int rc = 0;

	if (fmt == DISK_FORMAT_VHDX)
		rc = track_lock(disk_path, lock_fd, err);
	if (rc == -EBUSY) {
		vr_err_clear(err);
		rc = freeze_connect(disk_path, &c->fc, err);
		if (rc == 0)
			rc = cycle_prepare_served(c, err);
		return rc;
	}
	return rc < 0 ? rc : cycle_prepare_local(c, disk_path, err);
}

int cycle_run(struct repo *r, const char *repo_path, const char *disk_path,
	      const struct cycle_opts *o, struct cycle_result *res,
	      struct vr_err *err)
{
	struct cycle c = { .r = r, .repo_path = repo_path, .o = o, .res = res };
	double t0 = cycle_now();
	enum disk_format fmt;
	int lock_fd = -1, rc;

	memset(res, 0, sizeof(*res));
	c.cs = repo_chunk_size(r);
	if (o->disk_name)
		snprintf(res->disk, sizeof(res->disk), "%s", o->disk_name);
	else if (!cycle_default_disk_name(disk_path, res->disk))
		return vr_err_set(err, -EINVAL,
				  "%s: no usable disk name in the file name; "
				  "give one with --name",
				  disk_path);
	if (!manifest_name_ok(res->disk))
		return vr_err_set(
			err, -EINVAL,
			"%s: disk name '%s': use 1..127 of letters, "
			"digits, '.', '_', '-', not starting with '.'",
			disk_path, res->disk);
	rc = disk_probe(disk_path, &fmt, err);
	if (rc < 0)
		return rc;
	if (o->pre_hook) {
		rc = cycle_hook(&c, "pre", o->pre_hook, disk_path, err);
		if (rc < 0)
			return rc;
	}
	repo_get_stats(r, &c.st0);
	rc = cycle_take(&c, disk_path, fmt, &lock_fd, err);
	if (o->post_hook) {
		struct vr_err herr = { 0 };

		if (cycle_hook(&c, "post", o->post_hook, disk_path, &herr) < 0)
			cycle_warn(res, "%s", herr.msg);
	}
	if (rc < 0)
		goto out;
	res->consistent = o->pre_hook != NULL;
	res->full_scan = !cycle_can_use_bitmap(&c);
	rc = cycle_plan(&c, err);
	if (rc == 0)
		rc = cycle_capture(&c, err);
	if (rc == 0)
		rc = cycle_commit(&c, disk_path, err);
	if (rc == -ENOSPC && !res->deferred && err) {
		/* the estimate was short: the same outcome as no room */
		char why[VR_ERR_MSG_MAX];

		snprintf(why, sizeof(why), "%s", err->msg);
		vr_err_clear(err);
		vr_err_set(err, rc, "%.200s; cycle deferred, every point kept",
			   why);
		res->deferred = true;
	}
out:
	res->seconds = cycle_now() - t0;
	freeze_close(c.fc); /* a freeze not ended is undone */
	free(c.map);
	cbt_free(c.cbt);
	manifest_free(c.m);
	manifest_free(c.last);
	manifest_free(c.base);
	disk_close(c.d);
	if (lock_fd >= 0)
		close(lock_fd);
	return rc;
}
