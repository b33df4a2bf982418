/*
 * vhd.h - legacy VHD (Virtual PC / Hyper-V v1) input through libvhdi: fixed,
 * dynamic and differencing disks, read-only.
 */
#ifndef VR_VHD_H
#define VR_VHD_H

#include <stddef.h>
#include <stdint.h>

struct vr_err;
struct vhd;

/*
 * Open @path and, for a differencing VHD, its parent chain (found through
 * the parent locators relative to @path's directory, or @parent_path if not
 * NULL). On success *@out is the caller's; close with vhd_close().
 * Returns 0, -VR_ECORRUPT, -ENOENT (parent missing), -ESTALE (parent
 * identifier mismatch), -ELOOP, -ENOMEM, -EIO, with @err set.
 */
int vhd_open(const char *path, const char *parent_path, struct vhd **out,
	     struct vr_err *err);

/* Accepts NULL. */
void vhd_close(struct vhd *h);

/*
 * Virtual size. Follows the rule QEMU uses so both tools agree: images
 * made by Hyper-V, Disk2vhd, XenServer, XenConverter or new QEMU are sized
 * by the footer's current size, all others (Virtual PC, old QEMU) by their
 * CHS geometry; a CHS geometry at its maximum (65535/16/255) always means
 * the current size.
 */
uint64_t vhd_size(const struct vhd *h);

/* Read @len bytes at @off inside vhd_size(). Returns 0 or a negative errno. */
int vhd_read(struct vhd *h, void *buf, size_t len, uint64_t off,
	     struct vr_err *err);

#endif /* VR_VHD_H */
