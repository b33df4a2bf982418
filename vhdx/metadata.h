/*
 * metadata.h - the metadata region: table and known items, including the
 * parent locator ([MS-VHDX] 2.6). Internal to vhdx/.
 */
#ifndef VHDX_METADATA_H
#define VHDX_METADATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vhdx;
struct vr_err;

/* Metadata table header, 2.6.1.1 */
#define VHDX_MT_SIGNATURE 0    /* u64 "metadata" */
#define VHDX_MT_RESERVED 8     /* u16 */
#define VHDX_MT_ENTRY_COUNT 10 /* u16, at most 2047 */
#define VHDX_MT_ENTRIES 32
#define VHDX_MT_SIZE (64 * 1024)
#define VHDX_MT_MAX_ENTRIES 2047
/* Metadata table entry, 2.6.1.2 */
#define VHDX_MTE_ITEM_ID 0 /* GUID */
#define VHDX_MTE_OFFSET 16 /* u32, from the region start, >= 64 KiB */
#define VHDX_MTE_LENGTH 20 /* u32, at most 1 MiB */
#define VHDX_MTE_FLAGS 24  /* u32: IsUser 0, IsVirtualDisk 1, IsRequired 2 */
#define VHDX_MTE_SIZE 32
#define VHDX_MTE_IS_USER 0x1u
#define VHDX_MTE_IS_VIRTUAL_DISK 0x2u
#define VHDX_MTE_IS_REQUIRED 0x4u
_Static_assert(VHDX_MT_ENTRIES + VHDX_MT_MAX_ENTRIES * VHDX_MTE_SIZE <=
		       VHDX_MT_SIZE,
	       "metadata table layout");

/* File parameters, 2.6.2.1 */
#define VHDX_FP_BLOCK_SIZE 0 /* u32 */
#define VHDX_FP_FLAGS 4	     /* u32: LeaveBlockAllocated 0, HasParent 1 */
#define VHDX_FP_SIZE 8
#define VHDX_FP_LEAVE_BLOCKS_ALLOCATED 0x1u
#define VHDX_FP_HAS_PARENT 0x2u

/* Parent locator header and entries, 2.6.2.6 */
#define VHDX_PL_LOCATOR_TYPE 0	   /* GUID */
#define VHDX_PL_RESERVED 16	   /* u16 */
#define VHDX_PL_KEY_VALUE_COUNT 18 /* u16 */
#define VHDX_PL_ENTRIES 20
#define VHDX_PLE_KEY_OFFSET 0	 /* u32, from the locator start */
#define VHDX_PLE_VALUE_OFFSET 4	 /* u32 */
#define VHDX_PLE_KEY_LENGTH 8	 /* u16, bytes of UTF-16LE */
#define VHDX_PLE_VALUE_LENGTH 10 /* u16 */
#define VHDX_PLE_SIZE 12

#define VHDX_MAX_VIRTUAL_SIZE (64ull << 40) /* 64 TiB, 2.6.2.2 */
#define VHDX_MIN_BLOCK_SIZE (1u << 20)
#define VHDX_MAX_BLOCK_SIZE (256u << 20)

struct vhdx_locator_entry {
	char *key;   /* UTF-8 */
	char *value; /* UTF-8 */
};

struct vhdx_meta {
	uint32_t block_size;
	bool leave_blocks_allocated;
	bool has_parent;
	uint64_t virtual_size;
	uint32_t logical_sector_size;
	uint32_t physical_sector_size;
	uint8_t page83[16]; /* the VirtualDiskId */
	uint8_t locator_type[16];
	size_t locator_count;
	struct vhdx_locator_entry *locator;
};

/*
 * Read the metadata table and every known item of @v into v->meta; unknown
 * optional items are skipped, unknown required ones refused.
 * Returns 0, -VR_ECORRUPT (missing required item, value out of range,
 * overlapping or out-of-region item), -ENOTSUP, -ENOMEM, -EIO.
 */
int vhdx_meta_load(struct vhdx *v, struct vr_err *err);

/* Release what vhdx_meta_load() allocated. Accepts a zeroed struct. */
void vhdx_meta_free(struct vhdx_meta *m);

/* Value of locator @key, or NULL. Borrowed. */
const char *vhdx_meta_locator_get(const struct vhdx_meta *m, const char *key);

/*
 * Encode a parent locator item (2.6.2.6, VHDX locator type) from @n
 * key/value pairs: header, entry table, then UTF-16LE keys and values, in
 * a new buffer of @max bytes (*@out, the caller frees), *@out_len used.
 * Returns 0, -EINVAL (a string empty, not UTF-8, or not fitting), -ENOMEM.
 */
int vhdx_meta_locator_encode(const char *path,
			     const struct vhdx_locator_entry *kv, size_t n,
			     size_t max, uint8_t **out, size_t *out_len,
			     struct vr_err *err);

/*
 * Set locator @key to @value (adding the key if missing) in the file of a
 * read-write open of a differencing disk: the re-encoded item goes where
 * it was if it fits, else past the last item, and the table entry follows;
 * both through the write session's log (durable at vhdx_flush()).
 * Returns 0, -ENOSPC (no room in the region), -EINVAL, -ENOMEM, -EIO, or
 * what starting the session returns.
 */
int vhdx_meta_locator_set(struct vhdx *v, const char *key, const char *value,
			  struct vr_err *err);

#endif /* VHDX_METADATA_H */
