/*
 * ntfsfs.h - an NTFS file system inside a disk, read in-process through
 * libntfs-3g with our own device operations over disk.h: no loop device,
 * no kernel mount, and only the clusters behind the metadata and files
 * read are read. Mounted read-only: the device refuses writes, so neither
 * the disk nor the point behind it can change. Used through guestfs.h.
 */
#ifndef VR_NTFSFS_H
#define VR_NTFSFS_H

#include <stdint.h>

struct disk;
struct guestfs;
struct vr_err;

/*
 * Open the NTFS file system at @offset (@size bytes) of @d as a guestfs.
 * @d must outlive it. Returns 0, -EINVAL (no NTFS boot sector there),
 * -VR_ECORRUPT (one libntfs-3g rejects: the message says why), -ENOMEM,
 * or what reading @d returns.
 */
int ntfsfs_open(struct disk *d, uint64_t offset, uint64_t size,
		struct guestfs **out, struct vr_err *err);

#endif /* VR_NTFSFS_H */
