/*
 * guestfs.h - a guest file system inside a disk (a partition of a
 * recovery point, say), whatever its kind: ext2/3/4 (extfs.h) or NTFS
 * (ntfsfs.h), read in-process over disk.h, so only the blocks behind the
 * metadata and files read are fetched.
 *
 *	guestfs_open(d, part_offset, part_size, &fs, &err);
 *	guestfs_walk(fs, visit, ctx, &err);	every entry, depth first
 *	guestfs_read(fs, e->ino, buf, len, off, &err);
 *	guestfs_close(fs);
 *
 * Read-only: nothing of the disk (or the point behind it) can change.
 */
#ifndef VR_GUESTFS_H
#define VR_GUESTFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct disk;
struct vr_err;
struct guestfs;

enum guestfs_kind {
	GUESTFS_FILE,
	GUESTFS_DIR,
	GUESTFS_SYMLINK,
	GUESTFS_OTHER, /* devices, FIFOs, sockets, reparse points we skip */
};

/* One entry met by guestfs_walk(). Strings are valid during the call. */
struct guestfs_entry {
	const char *path; /* "/etc/nginx/nginx.conf"; "/" is not visited */
	enum guestfs_kind kind;
	uint64_t ino;  /* the file's number (ext inode, NTFS MFT record) */
	uint64_t size; /* bytes of a file, or of a symlink's target */
	uint32_t mode; /* st_mode: type and permission bits */
	uint32_t uid, gid;
	uint32_t nlink; /* names of the file: > 1 for hard links */
	struct timespec atime, mtime, ctime;
	struct timespec btime; /* creation; 0 if the file system has none */
	uint32_t attributes;   /* NTFS FILE_ATTRIBUTE_* bits; 0 on ext */
	const char *target;    /* a symlink's target, else NULL */
	/*
	 * Its name holds a '/' or a NUL, which no path can say: shown with
	 * '?' in @path, never written, and a directory is not walked into.
	 */
	bool bad_name;
};

/*
 * What guestfs_walk()'s @visit returns: 0 to go on, GUESTFS_SKIP to not
 * walk into the directory just visited, a negative errno to stop.
 */
#define GUESTFS_SKIP 1

/*
 * Open the file system at @offset (@size bytes) of @d, read-only, of
 * whichever kind its magic says. @d must outlive @fs. Returns 0, -EINVAL
 * (no file system there), -ENOTSUP (a kind we cannot read: FAT, ...; the
 * message names it), -VR_ECORRUPT, -ENOMEM, or what reading @d returns.
 */
int guestfs_open(struct disk *d, uint64_t offset, uint64_t size,
		 struct guestfs **out, struct vr_err *err);

/* Accepts NULL. */
void guestfs_close(struct guestfs *fs);

/* "ext4", "ntfs". */
const char *guestfs_type(const struct guestfs *fs);

/* Its label ("" if none) and UUID (ext: "xxxxxxxx-xxxx-...", NTFS: the
 * 16 hex digits of its serial number). */
const char *guestfs_label(const struct guestfs *fs);
const char *guestfs_uuid(const struct guestfs *fs);

/* Do names compare without case (NTFS)? For glob matching. */
bool guestfs_is_casefold(const struct guestfs *fs);

/*
 * Call @visit for every entry under "/", parents before children. Each
 * directory is walked once and depth is bounded, so a hostile tree
 * (directories listing themselves) cannot loop us. Returns 0, the
 * negative value @visit returned, or a negative errno.
 */
int guestfs_walk(struct guestfs *fs,
		 int (*visit)(void *ctx, const struct guestfs_entry *e),
		 void *ctx, struct vr_err *err);

/*
 * Read up to @len bytes of file @ino at @off into @buf. Returns the bytes
 * read (0 at the end), or a negative errno.
 */
int64_t guestfs_read(struct guestfs *fs, uint64_t ino, void *buf, size_t len,
		     uint64_t off, struct vr_err *err);

/* ---- for the kinds (extfs.c, ntfsfs.c) ---- */

struct guestfs_ops {
	int (*walk)(void *impl,
		    int (*visit)(void *ctx, const struct guestfs_entry *e),
		    void *ctx, struct vr_err *err);
	int64_t (*read)(void *impl, uint64_t ino, void *buf, size_t len,
			uint64_t off, struct vr_err *err);
	void (*close)(void *impl);
};

/*
 * A file system of @type ("ext4") over @impl, which it owns from now on
 * (closed by @ops->close, even on failure). @label and @uuid are copied
 * (a label to 159 bytes, a UUID to 63). Returns 0 or -ENOMEM.
 */
int guestfs_new(const char *type, const struct guestfs_ops *ops, void *impl,
		const char *label, const char *uuid, bool casefold,
		struct guestfs **out, struct vr_err *err);

#endif /* VR_GUESTFS_H */
