/*
 * point_disk.h - a recovery point (or a base) read as a disk (disk.h):
 * every read fetches just the chunks it covers from the repository, so
 * restore, scoped restore and mount read a point like any other disk.
 */
#ifndef VR_POINT_DISK_H
#define VR_POINT_DISK_H

struct disk;
struct manifest;
struct repo;
struct vr_err;

/*
 * A read-only disk over manifest @m, whose "base chunk" entries come from
 * @base (NULL if @m names none). @r, @m and @base are borrowed and must
 * outlive the disk. A chunk that is missing or damaged fails the read that
 * needs it, naming the chunk and its disk offset.
 * Returns 0, -EINVAL (@base missing or of another shape), -ENOMEM.
 */
int point_disk_open(struct repo *r, const struct manifest *m,
		    const struct manifest *base, struct disk **out,
		    struct vr_err *err);

/* A named point of a repository opened as a disk, and what it holds. */
struct point_disk_named {
	struct repo *r; /* opened for reading */
	struct manifest *m, *base;
	struct disk *d;
};

/*
 * Open point @spec (an id, latest, DISK:latest) of @repo_path as a disk
 * into @pd: the repository, the point, its base, the disk. Returns 0 or
 * what opening any of them returns; @pd is then closed already.
 */
int point_disk_open_named(const char *repo_path, const char *spec,
			  struct point_disk_named *pd, struct vr_err *err);

/* The same for base @name of @repo_path (pd->base stays NULL). */
int point_disk_open_base_named(const char *repo_path, const char *name,
			       struct point_disk_named *pd, struct vr_err *err);

/* Close what point_disk_open_named() opened. Accepts a zeroed @pd. */
void point_disk_close_named(struct point_disk_named *pd);

#endif /* VR_POINT_DISK_H */
