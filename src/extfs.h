/*
 * extfs.h - an ext2/3/4 file system inside a disk, read in-process
 * through libext2fs with our own io_manager over disk.h: no loop device,
 * no kernel mount. The io_manager refuses writes, so nothing of the disk
 * (or the point behind it) can change, even through a journal replay.
 * Used through guestfs.h.
 */
#ifndef VR_EXTFS_H
#define VR_EXTFS_H

#include <stdint.h>

struct disk;
struct guestfs;
struct vr_err;

/*
 * Open the ext2/3/4 file system at @offset (@size bytes) of @d as a
 * guestfs. @d must outlive it. Returns 0, -EINVAL (no ext superblock
 * there), -VR_ECORRUPT (one that libext2fs rejects: the message says
 * why), -ENOMEM, or what reading @d returns.
 */
int extfs_open(struct disk *d, uint64_t offset, uint64_t size,
	       struct guestfs **out, struct vr_err *err);

#endif /* VR_EXTFS_H */
