/*
 * forget.c - retention applied to a repository (forget.h): decisions per
 * disk, manifests deleted, then garbage collected against the set of
 * chunks the remaining manifests name.
 */
#include <config.h>
#include "forget.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "manifest.h"
#include "vr_endian.h"
#include "vr_err.h"

/* ---- the chunks manifests name ---- */

/* A set of chunk hashes: open addressing, kept under half full. */
struct forget_live {
	uint8_t (*slot)[REPO_HASH_SIZE];
	bool *used;
	size_t size, n;
};

static size_t forget_live_home(const struct forget_live *l, const uint8_t *hash)
{
	return vr_get_le64(hash) & (l->size - 1);
}

static bool forget_live_has(void *ctx, const uint8_t hash[REPO_HASH_SIZE])
{
	const struct forget_live *l = ctx;
	size_t i;

	if (!l->size)
		return false;
	for (i = forget_live_home(l, hash); l->used[i];
	     i = (i + 1) & (l->size - 1))
		if (!memcmp(l->slot[i], hash, REPO_HASH_SIZE))
			return true;
	return false;
}

static int forget_live_add(struct forget_live *l, const uint8_t *hash)
{
	size_t i;

	if (2 * (l->n + 1) > l->size) {
		struct forget_live g = { .size = l->size ? 2 * l->size : 4096 };

		g.slot = calloc(g.size, sizeof(*g.slot));
		g.used = calloc(g.size, sizeof(*g.used));
		if (!g.slot || !g.used) {
			free(g.slot);
			free(g.used);
			return -ENOMEM;
		}
		for (i = 0; i < l->size; i++)
			if (l->used[i])
				forget_live_add(&g, l->slot[i]);
		free(l->slot);
		free(l->used);
		*l = g;
	}
	for (i = forget_live_home(l, hash); l->used[i];
	     i = (i + 1) & (l->size - 1))
		if (!memcmp(l->slot[i], hash, REPO_HASH_SIZE))
			return 0;
	memcpy(l->slot[i], hash, REPO_HASH_SIZE);
	l->used[i] = true;
	l->n++;
	return 0;
}

/*
 * Add the chunks every manifest of @kind names. A manifest that cannot be
 * read stops it: what it names is unknown, so nothing may be collected.
 */
static int forget_live_load(struct forget_live *l, const char *repo_path,
			    enum catalog_kind kind, struct vr_err *err)
{
	char(*names)[MANIFEST_NAME_MAX] = NULL;
	size_t n, i;
	uint64_t k;
	int rc;

	rc = catalog_list_names(repo_path, kind, &names, &n, err);
	for (i = 0; rc == 0 && i < n; i++) {
		struct manifest *m = NULL;

		rc = kind == CATALOG_BASES
			     ? catalog_load_base(repo_path, names[i], &m, err)
			     : catalog_load_point(repo_path, names[i], &m, err);
		if (rc == -ENOENT) { /* forgotten meanwhile: names nothing */
			vr_err_clear(err);
			rc = 0;
			continue;
		}
		if (rc < 0)
			break;
		for (k = 0; rc == 0 && k < m->nchunks; k++)
			if (m->types[k] == MANIFEST_HASH &&
			    forget_live_add(l, m->hashes[k]) < 0)
				rc = vr_err_set(err, -ENOMEM,
						"%s: out of memory", repo_path);
		manifest_free(m);
	}
	free(names);
	return rc;
}

int forget_collect(struct repo *r, const char *repo_path,
		   struct repo_gc_stats *st, bool *collected,
		   char warning[FORGET_WARNING_MAX], struct vr_err *err)
{
	struct forget_live live = { 0 };
	struct vr_err lerr = { 0 };
	int rc;

	*collected = false;
	warning[0] = '\0';
	memset(st, 0, sizeof(*st));
	rc = forget_live_load(&live, repo_path, CATALOG_BASES, &lerr);
	if (rc == 0)
		rc = forget_live_load(&live, repo_path, CATALOG_POINTS, &lerr);
	if (rc == -ENOMEM) {
		vr_err_set(err, rc, "%s", lerr.msg);
	} else if (rc < 0) {
		snprintf(warning, FORGET_WARNING_MAX,
			 "garbage not collected: %s (its chunks may be "
			 "needed; see repo check)",
			 lerr.msg);
		rc = 0;
	} else {
		rc = repo_gc(r, forget_live_has, &live, st, err);
		*collected = rc == 0 && !st->readers_busy;
		if (rc == 0 && st->readers_busy)
			snprintf(warning, FORGET_WARNING_MAX,
				 "garbage not collected: %s is being read "
				 "(restore, points, plan, check); collect "
				 "later (forget, repo gc)",
				 repo_path);
	}
	free(live.slot);
	free(live.used);
	return rc;
}

/* ---- deciding ---- */

/* Mark the points @o->ids names to go: the rest of @pts are kept. */
static int forget_by_id(const char *repo_path, const struct forget_opts *o,
			const struct catalog_point *pts, size_t n,
			unsigned *keep, struct vr_err *err)
{
	size_t i, k, newest;

	for (i = 0; i < n; i++)
		keep[i] = FORGET_NOT_NAMED;
	for (k = 0; k < o->nids; k++) {
		for (i = 0; i < n && strcmp(pts[i].id, o->ids[k]); i++)
			;
		if (i == n)
			return vr_err_set(err, -ENOENT, "%s: no point %s",
					  repo_path, o->ids[k]);
		/* the newest point of its disk: pts are oldest first */
		for (newest = n; newest-- > 0;)
			if (!strcmp(pts[newest].disk, pts[i].disk))
				break;
		if (!o->force && newest == i)
			return vr_err_set(err, -EINVAL,
					  "%s: point %s is the newest of disk "
					  "%s; --force drops it anyway",
					  repo_path, pts[i].id, pts[i].disk);
		if (!o->force && pts[i].expires > o->now)
			return vr_err_set(err, -EINVAL,
					  "%s: point %s has not expired; "
					  "--force drops it anyway",
					  repo_path, pts[i].id);
		keep[i] = 0;
	}
	return 0;
}

/* Not decided yet (a keep value no decision gives). */
#define FORGET_UNDECIDED UINT32_MAX

/*
 * Apply the rules to each disk's points on their own (a rule never weighs
 * one disk's points against another's); unexpired ones kept if asked.
 */
static int forget_by_rules(const char *repo_path, const struct forget_opts *o,
			   const struct catalog_point *pts, size_t n,
			   unsigned *keep, struct vr_err *err)
{
	struct retention_point *rp = calloc(n + 1, sizeof(*rp));
	size_t *at = calloc(n + 1, sizeof(*at));
	struct vr_err rerr = { 0 };
	size_t i, j, k;
	int rc = 0;

	if (!rp || !at) {
		free(rp);
		free(at);
		return vr_err_set(err, -ENOMEM, "out of memory");
	}
	for (i = 0; rc >= 0 && i < n; i++) {
		if (keep[i] != FORGET_UNDECIDED)
			continue;
		/* pts[i].disk's points, oldest first as pts is */
		for (j = i, k = 0; j < n; j++) {
			if (strcmp(pts[j].disk, pts[i].disk))
				continue;
			at[k] = j;
			rp[k] = (struct retention_point){
				.id = pts[j].id,
				.time = pts[j].time,
				.expires = pts[j].expires,
				.consistent =
					pts[j].flags & MANIFEST_CONSISTENT,
			};
			k++;
		}
		rc = retention_apply(o->rules, rp, k, o->now,
				     o->force || o->keep_unexpired, &rerr);
		if (rc < 0)
			vr_err_set(err, rc, "%s: disk %s: point %s", repo_path,
				   pts[i].disk, rerr.msg);
		for (j = 0; rc >= 0 && j < k; j++) {
			keep[at[j]] = rp[j].keep;
			if (!rp[j].keep && o->keep_unexpired && !o->force &&
			    rp[j].expires > o->now)
				keep[at[j]] = FORGET_UNEXPIRED;
		}
	}
	free(rp);
	free(at);
	return rc < 0 ? rc : 0;
}

/* Delete the manifests of the points that go, then make that durable. */
static int forget_delete(const char *repo_path, const struct catalog_point *pts,
			 size_t n, const unsigned *keep, struct vr_err *err)
{
	char *dir = NULL;
	int fd, rc = 0;
	size_t i;

	if (asprintf(&dir, "%s/points", repo_path) < 0)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", repo_path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		rc = vr_err_set(err, -errno, "%s: %s", dir, strerror(errno));
	for (i = 0; rc == 0 && i < n; i++) {
		char name[MANIFEST_NAME_MAX + 8];

		if (keep[i])
			continue;
		snprintf(name, sizeof(name), "%s.point", pts[i].id);
		if (unlinkat(fd, name, 0) < 0 && errno != ENOENT)
			rc = vr_err_set(err, -errno, "%s/%s: %s", dir, name,
					strerror(errno));
	}
	if (fd >= 0 && fsync(fd) < 0 && rc == 0)
		rc = vr_err_set(err, -errno, "%s: fsync: %s", dir,
				strerror(errno));
	if (fd >= 0)
		close(fd);
	free(dir);
	return rc;
}

int forget_run(struct repo *r, const char *repo_path,
	       const struct forget_opts *o, struct forget_result *res,
	       struct vr_err *err)
{
	struct catalog_point *pts = NULL;
	unsigned *keep = NULL;
	size_t n = 0, i;
	int rc;

	memset(res, 0, sizeof(*res));
	if (o->rules && !retention_rules_any(o->rules))
		return retention_apply(o->rules, NULL, 0, o->now, false, err);
	rc = catalog_list_points(repo_path, o->disk, &pts, &n, NULL, err);
	if (rc < 0)
		return rc;
	if (o->disk && n == 0) {
		free(pts);
		return vr_err_set(err, -ENOENT, "%s: no points of disk %s",
				  repo_path, o->disk);
	}
	keep = malloc((n + 1) * sizeof(*keep));
	if (!keep) {
		free(pts);
		return vr_err_set(err, -ENOMEM, "%s: out of memory", repo_path);
	}
	for (i = 0; i < n; i++)
		keep[i] = FORGET_UNDECIDED;
	rc = o->rules ? forget_by_rules(repo_path, o, pts, n, keep, err)
		      : forget_by_id(repo_path, o, pts, n, keep, err);
	for (i = 0; rc == 0 && i < n; i++) {
		res->points++;
		if (!keep[i]) {
			res->forgotten++;
			res->forgotten_bytes_new += pts[i].bytes_new;
		}
		if (o->decision)
			o->decision(o->ctx, &pts[i], keep[i]);
	}
	if (rc == 0 && !o->dry_run && res->forgotten)
		rc = forget_delete(repo_path, pts, n, keep, err);
	if (rc == 0 && !o->dry_run)
		rc = forget_collect(r, repo_path, &res->gc, &res->collected,
				    res->warning, err);
	free(keep);
	free(pts);
	return rc;
}
