/*
 * catalog.h - the repository's named manifests: preloaded bases
 * (REPO/bases/NAME.base) and recovery points (REPO/points/ID.point), how
 * they are named, found and listed (docs/repo-format.md).
 *
 * A point id is "DISK-YYYYMMDDTHHMMSSZ" (UTC), with "-2", "-3", ... when a
 * disk gets several points in one second, so ids sort by disk, then time.
 * Where a user names a point, "latest" means the newest point of the
 * repository and "DISK:latest" the newest point of one disk.
 */
#ifndef VR_CATALOG_H
#define VR_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "manifest.h"

struct vr_err;

/* What listing shows of a point (its manifest without the chunk list). */
struct catalog_point {
	char id[MANIFEST_NAME_MAX];
	char disk[MANIFEST_NAME_MAX];
	char base[MANIFEST_NAME_MAX];
	uint64_t time, size, bytes_read, bytes_new, expires;
	uint64_t plain_new, repo_used;
	uint32_t flags;
};

/*
 * "REPO/bases/NAME.base" or "REPO/points/ID.point", in a new string (NULL
 * when out of memory).
 */
char *catalog_base_path(const char *repo_path, const char *name);
char *catalog_point_path(const char *repo_path, const char *id);

/*
 * Make REPO/bases and REPO/points if they are missing (before the first
 * manifest is saved). Returns 0 or -errno.
 */
int catalog_prepare(const char *repo_path, struct vr_err *err);

/*
 * Every point of @repo_path (of @disk only, if not NULL), oldest first
 * (by time, then id), in a new array *@out of *@n the caller frees. A
 * manifest that cannot be read is left out, so one damaged point hides no
 * other; *@damaged (may be NULL) counts them ("repo check" names them).
 * Returns 0, -ENOMEM, or -errno reading the directory.
 */
int catalog_list_points(const char *repo_path, const char *disk,
			struct catalog_point **out, size_t *n, size_t *damaged,
			struct vr_err *err);

enum catalog_kind {
	CATALOG_BASES,
	CATALOG_POINTS,
};

/*
 * The names of every base or point of @repo_path, sorted, without reading
 * them, in a new array *@out of *@n the caller frees. Returns 0, -ENOMEM,
 * or -errno reading the directory.
 */
int catalog_list_names(const char *repo_path, enum catalog_kind kind,
		       char (**out)[MANIFEST_NAME_MAX], size_t *n,
		       struct vr_err *err);

/*
 * Load the point @spec names: an id, "latest" or "DISK:latest".
 * Returns 0, -ENOENT ("no point ..."), or what manifest_load() returns.
 */
int catalog_load_point(const char *repo_path, const char *spec,
		       struct manifest **out, struct vr_err *err);

/* Load base @name. Returns 0, -ENOENT ("no base ..."), or as manifest_load().
 */
int catalog_load_base(const char *repo_path, const char *name,
		      struct manifest **out, struct vr_err *err);

/*
 * The name of the base recorded with VirtualDiskId @disk_id and
 * DataWriteGuid @dwg, copied into @name. Returns 0, -ENOENT (none), or
 * what reading bases/ returns.
 */
int catalog_find_base(const char *repo_path, const uint8_t disk_id[16],
		      const uint8_t dwg[16], char name[MANIFEST_NAME_MAX],
		      struct vr_err *err);

/*
 * A new point id for @disk at @time not taken yet, into @id. The caller
 * holds the repository's writer lock, so it stays free until saved.
 * Returns 0, -ENAMETOOLONG (@disk too long for an id), -EEXIST.
 */
int catalog_new_point_id(const char *repo_path, const char *disk, uint64_t time,
			 char id[MANIFEST_NAME_MAX], struct vr_err *err);

#endif /* VR_CATALOG_H */
