/*
 * point_disk.h - a recovery point (or a base) read as a disk (disk.h):
 * every read fetches just the chunks it covers from the repository, so
 * restore, scoped restore and mount read a point like any other disk.
 * Reads go through a chunk cache (chunk_cache.h): the disk's own small
 * one, or one shared by many disks (the mount's), whose readahead
 * threads then fetch ahead of a sequential reader. Several threads may
 * read one disk at once when its cache is shared.
 */
#ifndef VR_POINT_DISK_H
#define VR_POINT_DISK_H

#include <stdbool.h>

struct chunk_cache;
struct disk;
struct manifest;
struct repo;
struct vr_err;

/*
 * A read-only disk over manifest @m, whose "base chunk" entries come from
 * @base (NULL if @m names none), read through @cache (over @r), or with
 * @cache NULL through a cache of its own of 8 MiB without readahead. @r,
 * @cache, @m and @base are borrowed and must outlive the disk. A chunk that is
 * missing or damaged fails the read that needs it, naming the chunk and its
 * disk offset. Returns 0, -EINVAL (@base missing or of another shape), -ENOMEM.
 */
int point_disk_open(struct repo *r, struct chunk_cache *cache,
		    const struct manifest *m, const struct manifest *base,
		    struct disk **out, struct vr_err *err);

/* A named point of a repository opened as a disk, and what it holds. */
struct point_disk_named {
	struct repo *r; /* opened for reading, or the shared cache's */
	struct manifest *m, *base;
	struct disk *d;
	bool own_repo; /* r was opened for this disk */
};

/*
 * Open point @spec (an id, latest, DISK:latest) of @repo_path as a disk
 * into @pd: the point, its base, the disk, read through @shared (a cache
 * over @repo_path, opened for reading), or with @shared NULL through the
 * repository opened for it and a cache of its own. Returns 0 or what
 * opening any of them returns; @pd is then closed already.
 */
int point_disk_open_named(const char *repo_path, struct chunk_cache *shared,
			  const char *spec, struct point_disk_named *pd,
			  struct vr_err *err);

/* The same for base @name of @repo_path (pd->base stays NULL). */
int point_disk_open_base_named(const char *repo_path,
			       struct chunk_cache *shared, const char *name,
			       struct point_disk_named *pd, struct vr_err *err);

/* Close what point_disk_open_named() opened. Accepts a zeroed @pd. */
void point_disk_close_named(struct point_disk_named *pd);

#endif /* VR_POINT_DISK_H */
