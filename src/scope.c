/*
 * scope.c - an application's volume and files inside a disk (scope.h).
 */
#include <config.h>
#include "scope.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "disk.h"
#include "guestfs.h"
#include "glob.h"
#include "partition.h"
#include "vr_err.h"

struct scope_volume {
	struct guestfs *fs;
	char describe[200];
};

/* Does the file system at @off match @v (by label or UUID)? */
static int scope_try(struct disk *d, const struct policy_volume *v,
		     uint64_t off, uint64_t size, unsigned number,
		     struct scope_volume **out, struct vr_err *err)
{
	struct scope_volume *vol;
	struct guestfs *fs;
	char where[48];
	int rc;

	if (number)
		snprintf(where, sizeof(where), "partition %u", number);
	else
		snprintf(where, sizeof(where), "the whole disk");
	rc = guestfs_open(d, off, size, &fs, err);
	if (rc == -EINVAL && v->kind != POLICY_VOLUME_PARTITION) {
		vr_err_clear(err); /* no file system: not it, no problem */
		return -ENOENT;
	}
	if (rc == -EINVAL || rc == -ENOTSUP) {
		/* name the partition, not only the offset */
		struct vr_err why = *err;
		size_t skip = strlen(disk_path(d));

		if (strncmp(why.msg, disk_path(d), skip) ||
		    strncmp(why.msg + skip, ": ", 2))
			skip = 0;
		else
			skip += 2;
		vr_err_clear(err);
		return vr_err_set(err, rc == -EINVAL ? -ENOENT : rc,
				  "%s: %s: %s", disk_path(d), where,
				  rc == -EINVAL ? "no file system found"
						: why.msg + skip);
	}
	if (rc < 0)
		return rc;
	if ((v->kind == POLICY_VOLUME_LABEL &&
	     strcmp(guestfs_label(fs), v->text)) ||
	    (v->kind == POLICY_VOLUME_UUID &&
	     strcasecmp(guestfs_uuid(fs), v->text))) {
		guestfs_close(fs);
		return -ENOENT;
	}
	vol = calloc(1, sizeof(*vol));
	if (!vol) {
		guestfs_close(fs);
		return vr_err_set(err, -ENOMEM, "out of memory");
	}
	vol->fs = fs;
	snprintf(vol->describe, sizeof(vol->describe), "%s '%s' (%s)",
		 guestfs_type(fs), guestfs_label(fs), where);
	*out = vol;
	return 0;
}

int scope_volume_open(struct disk *d, const struct policy_volume *v,
		      struct scope_volume **out, struct vr_err *err)
{
	enum partition_scheme scheme;
	struct partition *parts = NULL;
	size_t n = 0, i;
	int rc;

	rc = partition_table_read(d, &scheme, &parts, &n, err);
	if (rc < 0)
		return rc;
	rc = -ENOENT;
	if (v->kind == POLICY_VOLUME_PARTITION) {
		for (i = 0; i < n && parts[i].number != v->partition; i++)
			;
		rc = i < n ? scope_try(d, v, parts[i].offset, parts[i].size,
				       parts[i].number, out, err)
			   : vr_err_set(err, -ENOENT,
					"%s: no partition %u (%s table, %zu "
					"partitions)",
					disk_path(d), v->partition,
					partition_scheme_name(scheme), n);
	} else {
		struct vr_err first = { 0 };

		/* a damaged partition does not hide the one we look for */
		for (i = 0; rc != 0 && i < n; i++) {
			struct vr_err perr = { 0 };

			rc = scope_try(d, v, parts[i].offset, parts[i].size,
				       parts[i].number, out, &perr);
			if (rc < 0 && rc != -ENOENT && !first.code)
				first = perr;
		}
		if (rc != 0 && n == 0)
			rc = scope_try(d, v, 0, disk_size(d), 0, out, &first);
		if (rc != 0 && first.code)
			rc = vr_err_set(err, first.code, "%s", first.msg);
		else if (rc != 0)
			rc = vr_err_set(err, -ENOENT,
					"%s: no file system with %s '%s'",
					disk_path(d),
					v->kind == POLICY_VOLUME_UUID ? "UUID"
								      : "label",
					v->text);
	}
	free(parts);
	return rc;
}

void scope_volume_close(struct scope_volume *vol)
{
	if (!vol)
		return;
	guestfs_close(vol->fs);
	free(vol);
}

const char *scope_volume_describe(const struct scope_volume *vol)
{
	return vol->describe;
}

struct guestfs *scope_volume_fs(struct scope_volume *vol)
{
	return vol->fs;
}

/* ---- selecting ---- */

struct scope_walk {
	const struct policy_app *app;
	int (*visit)(void *ctx, const struct guestfs_entry *e);
	void *ctx;
	unsigned flags; /* policy_glob_match()'s */
};

static bool scope_any(const char *const *globs, const char *path,
		      unsigned flags)
{
	for (; *globs; globs++)
		if (policy_glob_match(*globs, path, flags))
			return true;
	return false;
}

static bool scope_any_below(const char *const *globs, const char *dir,
			    unsigned flags)
{
	for (; *globs; globs++)
		if (policy_glob_may_match_below(*globs, dir, flags))
			return true;
	return false;
}

/*
 * Pass on what the globs select. An excluded directory goes with all it
 * holds, and one below which no include can match is not walked: only the
 * directories on the way to the application's files are read.
 */
static int scope_select(void *ctx, const struct guestfs_entry *e)
{
	const struct scope_walk *w = ctx;
	bool dir = e->kind == GUESTFS_DIR;
	int rc = 0;

	if (scope_any(w->app->exclude, e->path, w->flags))
		return dir ? GUESTFS_SKIP : 0;
	if (scope_any(w->app->include, e->path, w->flags))
		rc = w->visit(w->ctx, e);
	if (rc == 0 && dir &&
	    !scope_any_below(w->app->include, e->path, w->flags))
		rc = GUESTFS_SKIP;
	return rc;
}

int scope_walk(struct scope_volume *vol, const struct policy_app *app,
	       int (*visit)(void *ctx, const struct guestfs_entry *e),
	       void *ctx, struct vr_err *err)
{
	struct scope_walk w = {
		.app = app,
		.visit = visit,
		.ctx = ctx,
		.flags =
			guestfs_is_casefold(vol->fs) ? POLICY_GLOB_CASEFOLD : 0,
	};

	return guestfs_walk(vol->fs, scope_select, &w, err);
}
