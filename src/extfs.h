/*
 * extfs.h - an ext2/3/4 file system inside a disk (a partition of a
 * recovery point, say), read in-process through libext2fs with our own
 * io_manager: no loop device, no kernel mount, and only the blocks the
 * metadata and files read live in are read from the disk.
 *
 *	extfs_open(d, part_offset, part_size, &fs, &err);
 *	extfs_walk(fs, visit, ctx, &err);	every entry, depth first
 *	extfs_read(fs, ino, buf, len, off, &err);
 *	extfs_close(fs);
 *
 * Read-only: the io_manager refuses writes, so nothing of the disk (or the
 * point behind it) can change, even through a journal replay.
 */
#ifndef VR_EXTFS_H
#define VR_EXTFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct disk;
struct vr_err;
struct extfs;

enum extfs_kind {
	EXTFS_FILE,
	EXTFS_DIR,
	EXTFS_SYMLINK,
	EXTFS_OTHER, /* devices, FIFOs, sockets */
};

/* One entry met by extfs_walk(). Strings are valid during the call. */
struct extfs_entry {
	const char *path; /* "/etc/nginx/nginx.conf"; "/" is not visited */
	enum extfs_kind kind;
	uint32_t ino;
	uint64_t size; /* bytes of a file, or of a symlink's target */
	uint32_t mode; /* st_mode: type and permission bits */
	uint32_t uid, gid;
	uint32_t nlink;
	int64_t atime, mtime, ctime; /* seconds since 1970 */
	const char *target;	     /* a symlink's target, else NULL */
};

/*
 * Open the file system at @offset (@size bytes) of @d, read-only. @d must
 * outlive @fs. Returns 0, -EINVAL (no ext2/3/4 superblock there),
 * -VR_ECORRUPT (one that libext2fs rejects: the message says why), -ENOMEM,
 * or what reading @d returns.
 */
int extfs_open(struct disk *d, uint64_t offset, uint64_t size,
	       struct extfs **out, struct vr_err *err);

/* Accepts NULL. */
void extfs_close(struct extfs *fs);

/* Its label ("" if none) and UUID ("xxxxxxxx-xxxx-...", 36 characters). */
const char *extfs_label(const struct extfs *fs);
void extfs_uuid(const struct extfs *fs, char out[37]);

/*
 * Call @visit for every entry under "/", parents before children, names in
 * directory order. A non-zero return of @visit stops the walk and is
 * returned. Each directory is walked once and depth is bounded, so a
 * hostile tree (directories listing themselves) cannot loop us.
 * Returns 0, what @visit returned, or a negative errno.
 */
int extfs_walk(struct extfs *fs,
	       int (*visit)(void *ctx, const struct extfs_entry *e), void *ctx,
	       struct vr_err *err);

/*
 * Read up to @len bytes of file @ino at @off into @buf. Returns the bytes
 * read (0 at the end), or a negative errno.
 */
int64_t extfs_read(struct extfs *fs, uint32_t ino, void *buf, size_t len,
		   uint64_t off, struct vr_err *err);

#endif /* VR_EXTFS_H */
