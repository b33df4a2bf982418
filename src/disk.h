/*
 * disk.h - "a disk": byte-addressed reads over a VHDX chain, a legacy VHD
 * (through libvhdi) or a raw image file. Everything above vhdx/ reads disks
 * through this, so guest file system readers and converters never care what
 * the container is (DESIGN.md section 4, block device abstraction).
 */
#ifndef VR_DISK_H
#define VR_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vr_err;
struct vhdx;
struct vhd;
struct vhdx_report;
struct disk;

enum disk_format {
	DISK_FORMAT_AUTO, /* probe: "vhdxfile", then a VHD footer, else raw */
	DISK_FORMAT_RAW,
	DISK_FORMAT_VHDX,
	DISK_FORMAT_VHD,
	DISK_FORMAT_POINT, /* a recovery point in a repository (point_disk.h) */
};

/*
 * Work out what @path holds: VHDX if it starts with "vhdxfile", VHD if it
 * has a "conectix" footer in its last 512 (or 511) bytes or a footer copy at
 * offset 0, raw otherwise. Returns 0 and sets *@fmt, or a negative errno.
 */
int disk_probe(const char *path, enum disk_format *fmt, struct vr_err *err);

/*
 * Open @path read-only as @fmt (DISK_FORMAT_AUTO probes). @parent_path, if
 * not NULL, overrides the parent of a differencing VHDX or VHD. VHDX open
 * warnings go to @rep if not NULL. On success *@out is the caller's; close
 * with disk_close(). Returns 0 or a negative errno with @err set.
 */
int disk_open(const char *path, enum disk_format fmt, const char *parent_path,
	      struct disk **out, struct vhdx_report *rep, struct vr_err *err);

/*
 * What a disk not backed by a file of ours reads through (a recovery point:
 * point_disk.h). The callbacks get @ctx and ranges already checked against
 * the size; @close (may be NULL) frees @ctx at disk_close().
 */
struct disk_backend {
	int (*read)(void *ctx, void *buf, size_t len, uint64_t off,
		    struct vr_err *err);
	int (*extent)(void *ctx, uint64_t off, uint64_t len, uint64_t *run,
		      bool *is_zero, struct vr_err *err);
	void (*close)(void *ctx);
};

/*
 * A disk of @fmt named @name (for messages), @size bytes, read through @ops
 * (borrowed, usually static) on @ctx, which the disk owns from now on,
 * even on failure. Returns 0 or -ENOMEM.
 */
int disk_open_backend(const char *name, enum disk_format fmt, uint64_t size,
		      const struct disk_backend *ops, void *ctx,
		      struct disk **out, struct vr_err *err);

/* Accepts NULL. */
void disk_close(struct disk *d);

uint64_t disk_size(const struct disk *d);
enum disk_format disk_get_format(const struct disk *d);
const char *disk_format_name(enum disk_format fmt); /* "raw", "vhdx", "vhd" */
const char *disk_path(const struct disk *d);

/* The VHDX chain behind @d, or NULL if it is not a VHDX. Borrowed. */
struct vhdx *disk_vhdx(struct disk *d);

/* The VHD chain behind @d, or NULL if it is not a VHD. Borrowed. */
struct vhd *disk_vhd(struct disk *d);

/*
 * Read @len bytes at @off; the range must lie inside the disk.
 * Returns 0, -EINVAL for a range outside the disk, or another negative errno.
 */
int disk_read(struct disk *d, void *buf, size_t len, uint64_t off,
	      struct vr_err *err);

/*
 * Like vhdx_extent(): the length of the run from @off (at most @len) that is
 * known zero without reading (*@is_zero) or must be read. Raw files report
 * holes through SEEK_DATA/SEEK_HOLE; VHD reports everything as data.
 */
int disk_extent(struct disk *d, uint64_t off, uint64_t len, uint64_t *run,
		bool *is_zero, struct vr_err *err);

#endif /* VR_DISK_H */
