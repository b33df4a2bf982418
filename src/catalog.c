/*
 * catalog.c - naming, finding and listing the bases and recovery points of
 * a repository. The directory is the catalog: a manifest is there whole
 * (vr_file_replace()) or not at all, so listing needs no other index.
 */
#include <config.h>
#include "catalog.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vr_err.h"

#define CATALOG_POINT_EXT ".point"
#define CATALOG_BASE_EXT ".base"

static char *catalog_path(const char *repo_path, const char *dir,
			  const char *name, const char *ext)
{
	char *p;

	return asprintf(&p, "%s/%s/%s%s", repo_path, dir, name, ext) < 0 ? NULL
									 : p;
}

char *catalog_base_path(const char *repo_path, const char *name)
{
	return catalog_path(repo_path, "bases", name, CATALOG_BASE_EXT);
}

char *catalog_point_path(const char *repo_path, const char *id)
{
	return catalog_path(repo_path, "points", id, CATALOG_POINT_EXT);
}

int catalog_prepare(const char *repo_path, struct vr_err *err)
{
	static const char *const dirs[] = { "bases", "points" };
	unsigned i;

	for (i = 0; i < 2; i++) {
		char *dir;
		int e;

		if (asprintf(&dir, "%s/%s", repo_path, dirs[i]) < 0)
			return vr_err_set(err, -ENOMEM, "%s: out of memory",
					  repo_path);
		e = mkdir(dir, 0755) < 0 && errno != EEXIST ? errno : 0;
		if (e)
			vr_err_set(err, -e, "%s: %s", dir, strerror(e));
		free(dir);
		if (e)
			return -e;
	}
	return 0;
}

/* Does @name end in @ext with a usable manifest name before it? */
static bool catalog_entry_name(const char *name, const char *ext,
			       char out[MANIFEST_NAME_MAX])
{
	size_t n = strlen(name), e = strlen(ext);

	if (n <= e || n - e >= MANIFEST_NAME_MAX || strcmp(name + n - e, ext))
		return false;
	memcpy(out, name, n - e);
	out[n - e] = '\0';
	return manifest_name_ok(out);
}

/* Load the manifest @name of kind @ext from @dir, header only or whole. */
static int catalog_load(const char *repo_path, const char *dir,
			const char *name, const char *ext, bool header_only,
			struct manifest **out, struct vr_err *err)
{
	char *path = catalog_path(repo_path, dir, name, ext);
	int rc;

	if (!path)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", repo_path);
	rc = header_only ? manifest_load_header(path, out, err)
			 : manifest_load(path, out, err);
	free(path);
	return rc;
}

static int catalog_point_cmp(const void *a, const void *b)
{
	const struct catalog_point *x = a, *y = b;

	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	/* "DISK-...Z-2" before "DISK-...Z-10": numbers compare as numbers */
	return strverscmp(x->id, y->id);
}

int catalog_list_points(const char *repo_path, const char *disk,
			struct catalog_point **out, size_t *n, size_t *damaged,
			struct vr_err *err)
{
	char(*ids)[MANIFEST_NAME_MAX];
	struct catalog_point *pts;
	size_t nids, cnt = 0, i;
	int rc;

	*out = NULL;
	*n = 0;
	if (damaged)
		*damaged = 0;
	rc = catalog_list_names(repo_path, CATALOG_POINTS, &ids, &nids, err);
	if (rc < 0)
		return rc;
	pts = calloc(nids ? nids : 1, sizeof(*pts));
	if (!pts) {
		free(ids);
		return vr_err_set(err, -ENOMEM, "%s: out of memory", repo_path);
	}
	for (i = 0; i < nids; i++) {
		struct vr_err lerr = { 0 };
		struct manifest *m = NULL;
		struct catalog_point *p;

		if (catalog_load(repo_path, "points", ids[i], CATALOG_POINT_EXT,
				 true, &m, &lerr) < 0) {
			if (damaged)
				(*damaged)++;
			continue;
		}
		if (!disk || strcmp(m->disk, disk) == 0) {
			p = &pts[cnt++];
			memcpy(p->id, ids[i], sizeof(p->id));
			memcpy(p->disk, m->disk, sizeof(p->disk));
			memcpy(p->base, m->base, sizeof(p->base));
			p->time = m->time;
			p->size = m->size;
			p->bytes_read = m->bytes_read;
			p->bytes_new = m->bytes_new;
			p->expires = m->expires;
			p->plain_new = m->plain_new;
			p->repo_used = m->repo_used;
			p->flags = m->flags;
		}
		manifest_free(m);
	}
	free(ids);
	if (cnt)
		qsort(pts, cnt, sizeof(*pts), catalog_point_cmp);
	*out = pts;
	*n = cnt;
	return 0;
}

static int catalog_name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

int catalog_list_names(const char *repo_path, enum catalog_kind kind,
		       char (**out)[MANIFEST_NAME_MAX], size_t *n,
		       struct vr_err *err)
{
	char(*names)[MANIFEST_NAME_MAX] = NULL;
	size_t cnt = 0, cap = 0;
	struct dirent *de;
	char *dir;
	DIR *d;
	int rc = 0;

	*out = NULL;
	*n = 0;
	const char *ext =
		kind == CATALOG_BASES ? CATALOG_BASE_EXT : CATALOG_POINT_EXT;

	if (asprintf(&dir, "%s/%s", repo_path,
		     kind == CATALOG_BASES ? "bases" : "points") < 0)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", repo_path);
	d = opendir(dir);
	if (!d) {
		rc = errno == ENOENT ? 0
				     : vr_err_set(err, -errno, "%s: %s", dir,
						  strerror(errno));
		free(dir);
		return rc;
	}
	while ((de = readdir(d))) {
		char name[MANIFEST_NAME_MAX];

		if (!catalog_entry_name(de->d_name, ext, name))
			continue; /* temp files of a save in progress */
		if (cnt == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			void *np = reallocarray(names, ncap, sizeof(*names));

			if (!np) {
				rc = vr_err_set(err, -ENOMEM,
						"%s: out of memory", dir);
				break;
			}
			names = np;
			cap = ncap;
		}
		memcpy(names[cnt++], name, MANIFEST_NAME_MAX);
	}
	closedir(d);
	free(dir);
	if (rc < 0) {
		free(names);
		return rc;
	}
	if (cnt)
		qsort(names, cnt, sizeof(*names), catalog_name_cmp);
	*out = names;
	*n = cnt;
	return 0;
}

int catalog_load_point(const char *repo_path, const char *spec,
		       struct manifest **out, struct vr_err *err)
{
	char disk[MANIFEST_NAME_MAX];
	const char *colon = strchr(spec, ':');
	struct catalog_point *pts;
	size_t n;
	int rc;

	if (strcmp(spec, "latest") != 0 &&
	    !(colon && strcmp(colon, ":latest") == 0)) {
		if (!manifest_name_ok(spec))
			return vr_err_set(err, -ENOENT,
					  "%s: no point '%s' (an id, latest "
					  "or DISK:latest)",
					  repo_path, spec);
		rc = catalog_load(repo_path, "points", spec, CATALOG_POINT_EXT,
				  false, out, err);
		if (rc == -ENOENT)
			vr_err_clear(err);
		return rc == -ENOENT
			       ? vr_err_set(err, -ENOENT, "%s: no point '%s'",
					    repo_path, spec)
			       : rc;
	}
	if (colon) {
		if ((size_t)(colon - spec) >= sizeof(disk))
			return vr_err_set(err, -ENOENT, "%s: no disk '%.*s'",
					  repo_path, (int)(colon - spec), spec);
		memcpy(disk, spec, (size_t)(colon - spec));
		disk[colon - spec] = '\0';
	}
	rc = catalog_list_points(repo_path, colon ? disk : NULL, &pts, &n, NULL,
				 err);
	if (rc < 0)
		return rc;
	if (n == 0)
		rc = colon ? vr_err_set(err, -ENOENT,
					"%s: no point of disk '%s'", repo_path,
					disk)
			   : vr_err_set(err, -ENOENT, "%s: no points yet",
					repo_path);
	else
		rc = catalog_load(repo_path, "points", pts[n - 1].id,
				  CATALOG_POINT_EXT, false, out, err);
	free(pts);
	return rc;
}

int catalog_load_base(const char *repo_path, const char *name,
		      struct manifest **out, struct vr_err *err)
{
	int rc;

	if (!manifest_name_ok(name))
		return vr_err_set(err, -ENOENT, "%s: no base '%s'", repo_path,
				  name);
	rc = catalog_load(repo_path, "bases", name, CATALOG_BASE_EXT, false,
			  out, err);
	if (rc == -ENOENT) {
		vr_err_clear(err);
		rc = vr_err_set(err, -ENOENT, "%s: no base '%s'", repo_path,
				name);
	}
	return rc;
}

int catalog_find_base(const char *repo_path, const uint8_t disk_id[16],
		      const uint8_t dwg[16], char name[MANIFEST_NAME_MAX],
		      struct vr_err *err)
{
	static const uint8_t none[16];
	char(*names)[MANIFEST_NAME_MAX];
	size_t n, i;
	int rc;

	if (!memcmp(dwg, none, 16))
		return -ENOENT; /* raw and VHD images have no identity */
	rc = catalog_list_names(repo_path, CATALOG_BASES, &names, &n, err);
	if (rc < 0)
		return rc;
	for (i = 0, rc = -ENOENT; i < n && rc == -ENOENT; i++) {
		struct manifest *m = NULL;

		rc = catalog_load(repo_path, "bases", names[i],
				  CATALOG_BASE_EXT, true, &m, err);
		if (rc == 0 && (memcmp(m->disk_id, disk_id, 16) != 0 ||
				memcmp(m->data_write_guid, dwg, 16) != 0))
			rc = -ENOENT;
		if (rc == 0)
			memcpy(name, names[i], MANIFEST_NAME_MAX);
		manifest_free(m);
	}
	free(names);
	return rc;
}

int catalog_new_point_id(const char *repo_path, const char *disk, uint64_t time,
			 char id[MANIFEST_NAME_MAX], struct vr_err *err)
{
	time_t t = (time_t)time;
	char stamp[32];
	struct tm tm;
	unsigned i;

	if (!gmtime_r(&t, &tm) ||
	    !strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm))
		return vr_err_set(err, -EINVAL, "%s: bad time %llu", repo_path,
				  (unsigned long long)time);
	for (i = 1; i < 1000; i++) {
		char *path;
		int n, gone;

		n = i == 1 ? snprintf(id, MANIFEST_NAME_MAX, "%s-%s", disk,
				      stamp)
			   : snprintf(id, MANIFEST_NAME_MAX, "%s-%s-%u", disk,
				      stamp, i);
		if (n < 0 || n >= MANIFEST_NAME_MAX)
			return vr_err_set(err, -ENAMETOOLONG,
					  "%s: disk name '%s' is too long for "
					  "a point id",
					  repo_path, disk);
		path = catalog_point_path(repo_path, id);
		if (!path)
			return vr_err_set(err, -ENOMEM, "%s: out of memory",
					  repo_path);
		gone = access(path, F_OK) < 0 && errno == ENOENT;
		free(path);
		if (gone)
			return 0;
	}
	return vr_err_set(err, -EEXIST,
			  "%s: too many points of %s in one "
			  "second",
			  repo_path, disk);
}
