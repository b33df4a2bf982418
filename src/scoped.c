/*
 * scoped.c - scoped restore (scoped.h): each application's volume opened,
 * its hooks run, the entries its globs select handed to a sink (sink.h),
 * hard links kept as links, and with a base only what differs from it.
 */
#include <config.h>
#include "scoped.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk.h"
#include "guestfs.h"
#include "hook.h"
#include "scope.h"
#include "sink.h"
#include "strmap.h"
#include "vr_err.h"
#include "vr_io.h"

#define SCOPED_CMP (1024 * 1024)

/* ---- one application ---- */

/* An entry of the base, to tell what the point changed. */
struct scoped_base_entry {
	struct guestfs_entry e;
	char target[]; /* a symlink's, "" otherwise */
};

struct scoped_app {
	const struct scoped_opts *o;
	struct sink *sink;
	struct guestfs *fs, *base_fs; /* base_fs: with o->base, if found */
	struct strmap *base;	      /* path -> struct scoped_base_entry */
	struct strmap *links;	      /* inode -> the first path put */
	uint8_t *a, *b;		      /* for comparing with the base */
	struct scoped_stats *st;
	struct progress *progress;
	uint64_t done; /* bytes of the files looked at, for the progress */
	struct vr_err *err;
};

static int scoped_remember_base(void *ctx, const struct guestfs_entry *e)
{
	struct scoped_app *a = ctx;
	const char *target = e->target ? e->target : "";
	struct scoped_base_entry *b = malloc(sizeof(*b) + strlen(target) + 1);

	if (!b)
		return vr_err_set(a->err, -ENOMEM, "out of memory");
	b->e = *e;
	b->e.path = NULL;
	b->e.target = NULL;
	strcpy(b->target, target);
	return strmap_put(a->base, e->path, b) < 0
		       ? vr_err_set(a->err, -ENOMEM, "out of memory")
		       : 0;
}

/* Do files @e (of the point) and @b (of the base) hold the same bytes? */
static int scoped_same_data(struct scoped_app *a, const struct guestfs_entry *e,
			    const struct guestfs_entry *b)
{
	uint64_t off = 0;
	int64_t x, y;

	while (off < e->size) {
		x = guestfs_read(a->fs, e->ino, a->a, SCOPED_CMP, off, a->err);
		if (x <= 0)
			return x < 0 ? (int)x : 0;
		y = guestfs_read(a->base_fs, b->ino, a->b, (size_t)x, off,
				 a->err);
		if (y < 0)
			return (int)y;
		if (y != x || memcmp(a->a, a->b, (size_t)x))
			return 0;
		off += (uint64_t)x;
	}
	return 1;
}

/*
 * Is @e as the base has it? 1 yes, 0 no, or a negative errno. Directories
 * the base has count as the same: they are made as files need them.
 */
static int scoped_is_unchanged(struct scoped_app *a,
			       const struct guestfs_entry *e)
{
	const struct scoped_base_entry *b = strmap_get(a->base, e->path);

	if (!b || b->e.kind != e->kind)
		return 0;
	if (e->kind == GUESTFS_DIR)
		return 1;
	if (b->e.mode != e->mode || b->e.uid != e->uid || b->e.gid != e->gid)
		return 0;
	if (e->kind == GUESTFS_SYMLINK)
		return !strcmp(b->target, e->target);
	return b->e.size == e->size ? scoped_same_data(a, e, &b->e) : 0;
}

/* Entry @e restored (or left out, counted why). */
static int scoped_entry_put(struct scoped_app *a, const struct guestfs_entry *e)
{
	const char *first = NULL;
	char ino[24];
	int64_t rc;
	int same;

	if (e->kind == GUESTFS_OTHER) { /* devices, FIFOs: not restored */
		a->st->skipped++;
		return 0;
	}
	if (!sink_entry_is_writable(e, NULL)) { /* nor what no path holds */
		a->st->skipped++;
		return e->kind == GUESTFS_DIR ? GUESTFS_SKIP : 0;
	}
	if (a->base_fs) {
		same = scoped_is_unchanged(a, e);
		if (same < 0)
			return same;
		a->st->unchanged += same && e->kind != GUESTFS_DIR;
		if (same)
			return 0;
	}
	snprintf(ino, sizeof(ino), "%" PRIu64, e->ino);
	if (e->kind == GUESTFS_FILE && e->nlink > 1)
		first = strmap_get(a->links, ino);
	rc = sink_put(a->sink, a->fs, e, first, a->err);
	if (rc < 0)
		return (int)rc;
	if (e->kind == GUESTFS_FILE && e->nlink > 1 && !first) {
		char *path = strdup(e->path);

		if (!path || strmap_put(a->links, ino, path) < 0)
			return vr_err_set(a->err, -ENOMEM, "out of memory");
	}
	a->st->dirs += e->kind == GUESTFS_DIR;
	a->st->symlinks += e->kind == GUESTFS_SYMLINK;
	a->st->files += e->kind == GUESTFS_FILE && !first;
	a->st->hardlinks += first != NULL;
	a->st->bytes += (uint64_t)rc;
	return 0;
}

static int scoped_entry(void *ctx, const struct guestfs_entry *e)
{
	struct scoped_app *a = ctx;
	int rc = scoped_entry_put(a, e);

	if (e->kind == GUESTFS_FILE) { /* the progress: files looked at */
		a->done += e->size;
		progress_update(a->progress, a->done);
	}
	return rc;
}

/* Run @app's @what hook (may be NULL) with the restore's facts. */
static int scoped_hook(const struct policy_app *app, const char *what,
		       const char *cmd, const char *target,
		       const struct scoped_opts *o, struct vr_err *err)
{
	char *env[6] = { NULL };
	int rc = -ENOMEM, i;

	if (!cmd)
		return 0;
	if (asprintf(&env[0], "VR_HOOK=%s", what) >= 0 &&
	    asprintf(&env[1], "VR_APP=%s", app->name) >= 0 &&
	    asprintf(&env[2], "VR_TARGET=%s", target) >= 0 &&
	    asprintf(&env[3], "VR_REPO=%s", o->repo_path) >= 0 &&
	    asprintf(&env[4], "VR_POINT=%s", o->point) >= 0)
		rc = hook_run(what, cmd, env, err);
	else
		vr_err_set(err, rc, "out of memory");
	for (i = 0; i < 5; i++)
		free(env[i]);
	return rc;
}

static int scoped_count(void *ctx, const struct guestfs_entry *e)
{
	uint64_t *bytes = ctx;

	if (e->kind == GUESTFS_FILE)
		*bytes += e->size;
	return 0;
}

/*
 * What a person watching sees: the application's bytes, counted by a walk
 * of its metadata first (only when the progress is shown: it costs reads).
 */
static int scoped_progress_start(struct scoped_app *a, struct scope_volume *vol,
				 const struct policy_app *app)
{
	uint64_t total = 0;
	char label[300];
	int rc;

	if (a->o->progress == PROGRESS_OFF ||
	    (a->o->progress == PROGRESS_AUTO && !isatty(STDERR_FILENO)))
		return 0;
	rc = scope_walk(vol, app, scoped_count, &total, a->err);
	if (rc < 0)
		return rc;
	snprintf(label, sizeof(label), "restore %s", app->name);
	a->progress = progress_new(label, total, a->o->progress);
	return 0;
}

/* With a base: its entries of @app, to compare the point's with. */
static int scoped_base_load(struct scoped_app *a, const struct policy_app *app,
			    struct scope_volume **vol)
{
	struct vr_err why = { 0 };
	int rc;

	a->a = malloc(SCOPED_CMP);
	a->b = malloc(SCOPED_CMP);
	if (!a->a || !a->b)
		return vr_err_set(a->err, -ENOMEM, "out of memory");
	rc = scope_volume_open(a->o->base, &app->volume, vol, &why);
	if (rc == -ENOENT)
		return 0; /* not in the base: all of it is new */
	if (rc < 0)
		return vr_err_set(a->err, rc, "%s", why.msg);
	a->base_fs = scope_volume_fs(*vol);
	return scope_walk(*vol, app, scoped_remember_base, a, a->err);
}

/* One application: its volume, its pre hook, its files, its post hook. */
static int scoped_app(struct disk *d, const struct policy_app *app,
		      struct sink *sink, const struct scoped_opts *o,
		      struct scoped_stats *st, struct vr_err *err)
{
	struct scoped_app a = { .o = o, .sink = sink, .st = st, .err = err };
	struct scope_volume *vol = NULL, *base_vol = NULL;
	int rc;

	rc = strmap_new(&a.base) < 0 || strmap_new(&a.links) < 0
		     ? vr_err_set(err, -ENOMEM, "out of memory")
		     : sink_app_begin(sink, app->name, err);
	if (rc == 0)
		rc = scope_volume_open(d, &app->volume, &vol, err);
	if (rc == 0 && o->base)
		rc = scoped_base_load(&a, app, &base_vol);
	if (rc == 0)
		rc = scoped_progress_start(&a, vol, app);
	if (rc == 0)
		rc = scoped_hook(app, "pre", app->pre, sink_app_where(sink), o,
				 err);
	if (rc == 0) {
		a.fs = scope_volume_fs(vol);
		rc = scope_walk(vol, app, scoped_entry, &a, err);
	}
	if (rc == 0)
		rc = sink_app_end(sink, err);
	if (rc == 0)
		rc = scoped_hook(app, "post", app->post, sink_app_where(sink),
				 o, err);
	st->apps += rc == 0;
	progress_free(a.progress);
	strmap_free(a.base);
	strmap_free(a.links);
	scope_volume_close(base_vol);
	scope_volume_close(vol);
	free(a.a);
	free(a.b);
	return rc;
}

/* What scoped_restore() was asked, for a sink made later. */
struct scoped_run {
	struct disk *d;
	const struct policy *p;
	const char *target;
	const struct scoped_opts *o;
	struct scoped_stats *st;
};

/* Every application asked for, in the policy's restore order. */
static int scoped_apps(const struct scoped_run *run, struct sink *sink,
		       struct vr_err *err)
{
	const struct scoped_opts *o = run->o;
	size_t i, k;
	int rc = 0;

	for (i = 0; rc == 0 && i < policy_app_count(run->p); i++) {
		const struct policy_app *app = policy_app_at(run->p, i);

		for (k = 0; k < o->napps && strcmp(o->apps[k], app->name); k++)
			;
		if (o->napps && k == o->napps)
			continue;
		rc = scoped_app(run->d, app, sink, o, run->st, err);
	}
	return rc;
}

/* vr_file_replace()'s writer: the whole archive into @fd. */
static int scoped_archive(int fd, const char *tmp_path, void *ctx,
			  struct vr_err *err)
{
	const struct scoped_run *run = ctx;
	struct sink *sink;
	int rc, crc;

	(void)tmp_path;
	rc = sink_archive_open(fd, sink_kind_of(run->target), run->target,
			       &sink, err);
	if (rc < 0)
		return rc;
	rc = scoped_apps(run, sink, err);
	crc = sink_close(sink, rc < 0 ? NULL : err);
	return rc < 0 ? rc : crc;
}

int scoped_restore(struct disk *d, const struct policy *p, const char *target,
		   const struct scoped_opts *o, struct scoped_stats *st,
		   struct vr_err *err)
{
	struct scoped_run run = {
		.d = d, .p = p, .target = target, .o = o, .st = st
	};
	struct sink *sink;
	size_t k;
	int rc, crc;

	memset(st, 0, sizeof(*st));
	for (k = 0; k < o->napps; k++)
		if (!policy_app_find(p, o->apps[k]))
			return vr_err_set(err, -ENOENT,
					  "no application '%s' in the policy",
					  o->apps[k]);
	if (sink_kind_of(target) != SINK_DIR)
		return vr_file_replace(target, 0600, 0, scoped_archive, &run,
				       err);
	rc = sink_dir_open(target, &sink, err);
	if (rc < 0)
		return rc;
	rc = scoped_apps(&run, sink, err);
	crc = sink_close(sink, rc < 0 ? NULL : err);
	return rc < 0 ? rc : crc;
}
