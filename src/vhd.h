/*
 * vhd.h - legacy VHD (Virtual PC / Hyper-V v1) input through libvhdi: fixed,
 * dynamic and differencing disks, read-only.
 */
#ifndef VR_VHD_H
#define VR_VHD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vr_err;
struct vhd;

/* vhd_open() flags */
/*
 * Open this file alone; do not look for the parent of a differencing disk
 * (info, check). The handle describes the file; vhd_read() on it fails.
 */
#define VHD_OPEN_NO_PARENT 0x1u

/* Disk types, as the footer's disk type field has them. */
enum vhd_type {
	VHD_TYPE_FIXED = 2,
	VHD_TYPE_DYNAMIC = 3,
	VHD_TYPE_DIFFERENCING = 4,
};

/* What one file of a chain is, as vhd_get_info() fills it. */
struct vhd_info {
	enum vhd_type type;
	uint64_t virtual_size; /* vhd_size(): the QEMU rule */
	uint64_t current_size; /* footer; libvhdi's media size */
	uint16_t cylinders;    /* footer CHS geometry */
	uint8_t heads;
	uint8_t sectors;	   /* per track */
	uint32_t block_size;	   /* bytes; 0 for a fixed disk */
	uint32_t bytes_per_sector; /* always 512 */
	uint64_t file_size;	   /* bytes on disk */
	uint8_t id[16];		   /* footer unique id, on-disk order */
	/*
	 * Creator application ("win ", "vpc ", "d2v ", "qem2", "tap"): the
	 * four footer bytes up to the first NUL, any byte that is not
	 * printable ASCII shown as '?'.
	 */
	char creator[5];
	uint32_t creator_version; /* major << 16 | minor */
	bool has_parent;	  /* differencing: the fields below are set */
	uint8_t parent_id[16];	  /* on-disk order */
	/* Borrowed, valid until vhd_close(); NULL if the disk has none. */
	const char *parent_name;     /* dynamic header's name, UTF-8 */
	const char *parent_relative; /* "W2ru" locator, UTF-8 Windows path */
};

/*
 * Open @path and, for a differencing VHD unless @flags has
 * VHD_OPEN_NO_PARENT, its parent chain (found through the parent locators
 * relative to @path's directory, or @parent_path if not NULL). On success
 * *@out is the caller's; close with vhd_close().
 * Returns 0, -VR_ECORRUPT, -VR_EBADCRC, -ENOENT (parent missing), -ESTALE
 * (parent identifier mismatch), -ELOOP, -ENOMEM, -EIO, or -EINVAL (unknown
 * @flags), with @err set.
 */
int vhd_open(const char *path, unsigned flags, const char *parent_path,
	     struct vhd **out, struct vr_err *err);

/* Accepts NULL. */
void vhd_close(struct vhd *h);

/* Fill @info for this file of the chain (not its parents). */
void vhd_get_info(const struct vhd *h, struct vhd_info *info);

/* Path as given to vhd_open() or resolved for a parent. Borrowed. */
const char *vhd_path(const struct vhd *h);

/*
 * The next file up the chain, or NULL (not differencing, or opened with
 * VHD_OPEN_NO_PARENT). Borrowed, valid until vhd_close().
 */
const struct vhd *vhd_parent(const struct vhd *h);

/*
 * Format a VHD identifier as vhdiinfo prints it: the 16 bytes in file order
 * ("5fa21a55-f394-aa4d-9958-1951a67d5540"). VHD stores them big-endian,
 * unlike VHDX GUIDs (vhdx_guid_format()).
 */
void vhd_id_format(const uint8_t id[16], char out[37]);

/*
 * Virtual size. Follows the rule QEMU uses so both tools agree: images
 * made by Hyper-V, Disk2vhd, XenServer, XenConverter or new QEMU are sized
 * by the footer's current size, all others (Virtual PC, old QEMU) by their
 * CHS geometry; a CHS geometry at its maximum (65535/16/255) always means
 * the current size.
 */
uint64_t vhd_size(const struct vhd *h);

/*
 * Read @len bytes at @off inside vhd_size(). Returns 0, -EINVAL (range
 * outside the disk), -ENOENT (differencing disk opened with
 * VHD_OPEN_NO_PARENT), or another negative errno.
 */
int vhd_read(struct vhd *h, void *buf, size_t len, uint64_t off,
	     struct vr_err *err);

#endif /* VR_VHD_H */
