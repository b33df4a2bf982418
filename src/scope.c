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
#include "glob.h"
#include "partition.h"
#include "vr_err.h"

struct scope_volume {
	struct extfs *fs;
	char describe[200];
};

/* What file system starts at @off of @d, by its magic: "ext", "ntfs",
 * "fat", or NULL. */
static const char *scope_fs_kind(struct disk *d, uint64_t off, uint64_t size)
{
	uint8_t b[1024 + 64];

	if (size < sizeof(b) || disk_read(d, b, sizeof(b), off, NULL) < 0)
		return NULL;
	if (b[1024 + 56] == 0x53 && b[1024 + 57] == 0xef)
		return "ext";
	if (!memcmp(b + 3, "NTFS    ", 8))
		return "ntfs";
	if (!memcmp(b + 82, "FAT32   ", 8) || !memcmp(b + 54, "FAT", 3))
		return "fat";
	return NULL;
}

/* Does the file system at @off match @v (by label or UUID)? */
static int scope_try(struct disk *d, const struct policy_volume *v,
		     uint64_t off, uint64_t size, unsigned number,
		     struct scope_volume **out, struct vr_err *err)
{
	const char *kind = scope_fs_kind(d, off, size);
	struct scope_volume *vol;
	char uuid[37], where[48];
	struct extfs *fs;
	int rc;

	if (number)
		snprintf(where, sizeof(where), "partition %u", number);
	else
		snprintf(where, sizeof(where), "the whole disk");
	if (!kind || strcmp(kind, "ext")) {
		if (v->kind != POLICY_VOLUME_PARTITION)
			return -ENOENT; /* not it; labels of others: later */
		return vr_err_set(err, kind ? -ENOTSUP : -ENOENT, "%s: %s: %s",
				  disk_path(d), where,
				  kind ? "this file system cannot be read "
					 "yet (ext2/3/4 can)"
				       : "no file system found");
	}
	rc = extfs_open(d, off, size, &fs, err);
	if (rc < 0)
		return rc;
	extfs_uuid(fs, uuid);
	if ((v->kind == POLICY_VOLUME_LABEL &&
	     strcmp(extfs_label(fs), v->text)) ||
	    (v->kind == POLICY_VOLUME_UUID && strcasecmp(uuid, v->text))) {
		extfs_close(fs);
		return -ENOENT;
	}
	vol = calloc(1, sizeof(*vol));
	if (!vol) {
		extfs_close(fs);
		return vr_err_set(err, -ENOMEM, "out of memory");
	}
	vol->fs = fs;
	snprintf(vol->describe, sizeof(vol->describe), "ext '%s' (%s)",
		 extfs_label(fs), where);
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
					"%s: no ext file system with %s '%s'",
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
	extfs_close(vol->fs);
	free(vol);
}

const char *scope_volume_describe(const struct scope_volume *vol)
{
	return vol->describe;
}

struct extfs *scope_volume_fs(struct scope_volume *vol)
{
	return vol->fs;
}

/* ---- selecting ---- */

struct scope_walk {
	const struct policy_app *app;
	int (*visit)(void *ctx, const struct extfs_entry *e);
	void *ctx;
};

static bool scope_any(const char *const *globs, const char *path)
{
	for (; *globs; globs++)
		if (policy_glob_match(*globs, path, 0))
			return true;
	return false;
}

static int scope_select(void *ctx, const struct extfs_entry *e)
{
	const struct scope_walk *w = ctx;

	if (!scope_any(w->app->include, e->path) ||
	    scope_any(w->app->exclude, e->path))
		return 0;
	return w->visit(w->ctx, e);
}

int scope_walk(struct scope_volume *vol, const struct policy_app *app,
	       int (*visit)(void *ctx, const struct extfs_entry *e), void *ctx,
	       struct vr_err *err)
{
	struct scope_walk w = { .app = app, .visit = visit, .ctx = ctx };

	return extfs_walk(vol->fs, scope_select, &w, err);
}
