/*
 * ntfsfs.c - NTFS through libntfs-3g (ntfsfs.h). PLACEHOLDER: being
 * written; refuses every volume for now.
 */
#include <config.h>
#include "ntfsfs.h"

#include <errno.h>

#include "disk.h"
#include "vr_err.h"

int ntfsfs_open(struct disk *d, uint64_t offset, uint64_t size,
		struct guestfs **out, struct vr_err *err)
{
	(void)offset;
	(void)size;
	(void)out;
	return vr_err_set(err, -ENOTSUP, "%s: NTFS: not readable yet",
			  disk_path(d));
}
