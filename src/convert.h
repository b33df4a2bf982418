/*
 * convert.h - copy a disk into a new image file: a sparse raw image or a
 * dynamic or fixed VHDX, replaced atomically (convert, merge -o, restore).
 */
#ifndef VR_CONVERT_H
#define VR_CONVERT_H

#include "progress.h"

struct disk;
struct vr_err;
struct vhdx_create_opts;

/*
 * Write the whole of @d to @out: raw if @vhdx_opts is NULL, else a VHDX as
 * @vhdx_opts says (type, block size; size and sector sizes come from @d).
 * Zero runs are not written. @out is replaced through a temp file, fsync
 * and rename, so a failure leaves any old @out as it was. Progress under
 * @label. Returns 0 or a negative errno with @err set.
 */
int convert_disk(struct disk *d, const char *out,
		 const struct vhdx_create_opts *vhdx_opts, const char *label,
		 enum progress_mode mode, struct vr_err *err);

#endif /* VR_CONVERT_H */
