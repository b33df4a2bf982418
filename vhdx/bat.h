/*
 * bat.h - Block Allocation Table: payload and sector bitmap entries
 * interleaved by chunk ratio ([MS-VHDX] 2.5). Internal to vhdx/.
 */
#ifndef VHDX_BAT_H
#define VHDX_BAT_H

#include <stdbool.h>
#include <stdint.h>

struct vhdx;
struct vr_err;

/* BAT entry, 2.5.1: State bits 0-2, reserved 3-19, FileOffsetMB 20-63 */
#define VHDX_BAT_STATE_MASK 0x7ull
#define VHDX_BAT_OFFSET_SHIFT 20
#define VHDX_BAT_ENTRY_SIZE 8

/* Sector bitmap block states, 2.5.1.2 */
#define VHDX_SB_NOT_PRESENT 0
#define VHDX_SB_PRESENT 6
#define VHDX_SB_BLOCK_SIZE (1024u * 1024u)
/* Sectors described by one sector bitmap block: 2^23 */
#define VHDX_SB_SECTORS (VHDX_SB_BLOCK_SIZE * 8ull)

static inline unsigned vhdx_bat_state(uint64_t entry)
{
	return (unsigned)(entry & VHDX_BAT_STATE_MASK);
}

static inline uint64_t vhdx_bat_file_offset(uint64_t entry)
{
	return entry >> VHDX_BAT_OFFSET_SHIFT << VHDX_BAT_OFFSET_SHIFT;
}

/* Sizes of the BAT of a disk, [MS-VHDX] 2.5. */
struct vhdx_bat_geometry {
	uint32_t chunk_ratio;	/* payload blocks per sector bitmap block */
	uint64_t data_blocks;	/* payload entries */
	uint64_t bitmap_blocks; /* sector bitmap entries a parent needs */
	uint64_t entries;	/* all BAT entries */
};

/*
 * Geometry of a disk with these (already validated) parameters: block size
 * a power of two in 1..256 MiB, sectors 512 or 4096, size > 0.
 */
void vhdx_bat_geometry(uint64_t virtual_size, uint32_t block_size,
		       uint32_t logical_sector_size, bool has_parent,
		       struct vhdx_bat_geometry *g);

/*
 * Work out chunk ratio and entry counts from v->meta, read the BAT region
 * into v->bat and check every entry: states valid for the disk type,
 * allocated blocks inside the file, clear of the header section, log,
 * BAT and metadata, and not overlapping each other; every partially present
 * block has its sector bitmap block.
 * Returns 0, -VR_ECORRUPT, -ENOMEM, -EIO.
 */
int vhdx_bat_load(struct vhdx *v, struct vr_err *err);

/* Index into v->bat of payload block @block / chunk @chunk's bitmap. */
uint64_t vhdx_bat_payload_index(const struct vhdx *v, uint64_t block);
uint64_t vhdx_bat_bitmap_index(const struct vhdx *v, uint64_t chunk);

/* Bytes of payload block @block inside the disk (the last may be short). */
uint64_t vhdx_bat_block_used(const struct vhdx *v, uint64_t block);

/* Entry of payload block @block (< v->data_blocks). */
uint64_t vhdx_bat_payload(const struct vhdx *v, uint64_t block);

/* Entry of the sector bitmap block of chunk @chunk (< v->bitmap_blocks). */
uint64_t vhdx_bat_bitmap(const struct vhdx *v, uint64_t chunk);

#endif /* VHDX_BAT_H */
