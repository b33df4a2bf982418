/*
 * bat.c - Block Allocation Table: decode entries, check them against the
 * file, map payload blocks and sector bitmap blocks to file offsets.
 * Spec: [MS-VHDX] 2.5 "BAT".
 *
 * Layout (2.5): after every chunk_ratio payload entries comes one sector
 * bitmap entry, so payload block i is entry i + i / chunk_ratio and the
 * bitmap of chunk c is entry c * (chunk_ratio + 1) + chunk_ratio. A file
 * without a parent may omit the trailing bitmap entry.
 *
 * qemu 7.2 accepts blocks that overlap each other and blocks in reserved
 * states, and then returns wrong data; both are refused here.
 */
#include <config.h>
#include "bat.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "vhdx.h"
#include "vr_endian.h"
#include "vr_err.h"

/* A range of the file that something owns, for the overlap check. */
struct vhdx_bat_extent {
	uint64_t off;
	uint64_t len;
	uint64_t entry; /* BAT index, or UINT64_MAX for a fixed structure */
};

uint64_t vhdx_bat_payload_index(const struct vhdx *v, uint64_t block)
{
	return block + block / v->geo.chunk_ratio;
}

uint64_t vhdx_bat_bitmap_index(const struct vhdx *v, uint64_t chunk)
{
	return chunk * (v->geo.chunk_ratio + 1ull) + v->geo.chunk_ratio;
}

uint64_t vhdx_bat_block_used(const struct vhdx *v, uint64_t block)
{
	uint64_t left = v->meta.virtual_size - block * v->meta.block_size;

	return left < v->meta.block_size ? left : v->meta.block_size;
}

uint64_t vhdx_bat_payload(const struct vhdx *v, uint64_t block)
{
	return v->bat[vhdx_bat_payload_index(v, block)];
}

uint64_t vhdx_bat_bitmap(const struct vhdx *v, uint64_t chunk)
{
	return v->bat[vhdx_bat_bitmap_index(v, chunk)];
}

static int vhdx_bat_extent_cmp(const void *a, const void *b)
{
	const struct vhdx_bat_extent *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

static void vhdx_bat_extent_name(const struct vhdx_bat_extent *e, char *buf,
				 size_t size)
{
	if (e->entry == UINT64_MAX)
		snprintf(buf, size, "the headers, log, BAT or metadata");
	else
		snprintf(buf, size, "BAT entry %" PRIu64, e->entry);
}

/* Sort every owned range and refuse any two that share a byte. */
static int vhdx_bat_check_overlaps(struct vhdx *v, struct vhdx_bat_extent *ext,
				   size_t n, struct vr_err *err)
{
	size_t i;

	qsort(ext, n, sizeof(*ext), vhdx_bat_extent_cmp);
	for (i = 1; i < n; i++) {
		char a[64], b[64];

		if (ext[i].off >= ext[i - 1].off + ext[i - 1].len)
			continue;
		vhdx_bat_extent_name(&ext[i - 1], a, sizeof(a));
		vhdx_bat_extent_name(&ext[i], b, sizeof(b));
		/* Name the BAT entry first: that is the one to blame. */
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: %s: block at 0x%" PRIx64 " overlaps %s",
				  v->path, ext[i].entry == UINT64_MAX ? a : b,
				  ext[i].entry == UINT64_MAX ? ext[i - 1].off
							     : ext[i].off,
				  ext[i].entry == UINT64_MAX ? b : a);
	}
	return 0;
}

void vhdx_bat_geometry(uint64_t virtual_size, uint32_t block_size,
		       uint32_t logical_sector_size, bool has_parent,
		       struct vhdx_bat_geometry *g)
{
	/* Both are powers of two with block_size <= 2^28 < 2^23 * 512. */
	g->chunk_ratio = (uint32_t)((VHDX_SB_SECTORS * logical_sector_size) /
				    block_size);
	g->data_blocks =
		virtual_size / block_size + (virtual_size % block_size != 0);
	g->bitmap_blocks = g->data_blocks / g->chunk_ratio +
			   (g->data_blocks % g->chunk_ratio != 0);
	if (has_parent)
		g->entries = g->bitmap_blocks * (g->chunk_ratio + 1ull);
	else
		g->entries =
			g->data_blocks + (g->data_blocks - 1) / g->chunk_ratio;
}

static int vhdx_bat_compute_geometry(struct vhdx *v, struct vr_err *err)
{
	const struct vhdx_meta *m = &v->meta;

	vhdx_bat_geometry(m->virtual_size, m->block_size,
			  m->logical_sector_size, m->has_parent, &v->geo);
	if (v->geo.entries * VHDX_BAT_ENTRY_SIZE > v->bat_length)
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: BAT region of %" PRIu32
				  " bytes is too small for %" PRIu64 " entries",
				  v->path, v->bat_length, v->geo.entries);
	return 0;
}

/* Bytes of payload block @block that lie inside the virtual disk. */
static uint64_t vhdx_bat_block_span(const struct vhdx *v, uint64_t block)
{
	uint64_t start = block * v->meta.block_size;
	uint64_t left = v->meta.virtual_size - start;

	return left < v->meta.block_size ? left : v->meta.block_size;
}

static int vhdx_bat_check_entry(struct vhdx *v, uint64_t idx, bool is_bitmap,
				uint64_t block, struct vhdx_bat_extent *ext,
				size_t *n, struct vr_err *err)
{
	uint64_t e = v->bat[idx];
	unsigned st = vhdx_bat_state(e);
	uint64_t off = vhdx_bat_file_offset(e);
	uint64_t len, end;

	if (is_bitmap) {
		if (st == VHDX_SB_NOT_PRESENT)
			return 0;
		if (st != VHDX_SB_PRESENT)
			return vr_err_set(
				err, -VR_ECORRUPT,
				"%s: BAT entry %" PRIu64
				": sector bitmap in reserved state %u",
				v->path, idx, st);
		if (!v->meta.has_parent)
			return vr_err_set(
				err, -VR_ECORRUPT,
				"%s: BAT entry %" PRIu64
				": sector bitmap present in a disk without a parent",
				v->path, idx);
		len = VHDX_SB_BLOCK_SIZE;
	} else {
		switch (st) {
		case VHDX_BLOCK_NOT_PRESENT:
		case VHDX_BLOCK_UNDEFINED:
		case VHDX_BLOCK_ZERO:
		case VHDX_BLOCK_UNMAPPED:
			return 0;
		case VHDX_BLOCK_FULLY_PRESENT:
			break;
		case VHDX_BLOCK_PARTIALLY_PRESENT:
			if (v->meta.has_parent)
				break;
			return vr_err_set(
				err, -VR_ECORRUPT,
				"%s: BAT entry %" PRIu64
				": partially present block in a disk without a parent",
				v->path, idx);
		default:
			return vr_err_set(
				err, -VR_ECORRUPT,
				"%s: BAT entry %" PRIu64
				": payload block in reserved state %u",
				v->path, idx, st);
		}
		len = vhdx_bat_block_span(v, block);
	}
	if (__builtin_add_overflow(off, len, &end) || end > v->file_size)
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: BAT entry %" PRIu64
				  ": block at 0x%" PRIx64
				  " ends past end of file (%" PRIu64 " bytes)",
				  v->path, idx, off, v->file_size);
	ext[*n].off = off;
	ext[*n].len = len;
	ext[*n].entry = idx;
	(*n)++;
	return 0;
}

static int vhdx_bat_check(struct vhdx *v, struct vr_err *err)
{
	struct vhdx_bat_extent *ext;
	size_t n = 0;
	uint64_t i, block = 0;
	int rc = 0;

	ext = calloc(v->geo.entries + 4, sizeof(*ext));
	if (!ext)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", v->path);
	ext[n++] = (struct vhdx_bat_extent){ 0, VHDX_MiB, UINT64_MAX };
	ext[n++] = (struct vhdx_bat_extent){ v->bat_offset, v->bat_length,
					     UINT64_MAX };
	ext[n++] = (struct vhdx_bat_extent){ v->meta_offset, v->meta_length,
					     UINT64_MAX };
	if (v->hdr.log_length)
		ext[n++] = (struct vhdx_bat_extent){ v->hdr.log_offset,
						     v->hdr.log_length,
						     UINT64_MAX };
	for (i = 0; i < v->geo.entries; i++) {
		bool is_bitmap = (i + 1) % (v->geo.chunk_ratio + 1ull) == 0;

		if (!is_bitmap && block >= v->geo.data_blocks)
			continue; /* padding entries of the last chunk */
		rc = vhdx_bat_check_entry(v, i, is_bitmap, block, ext, &n, err);
		if (rc < 0)
			goto out;
		if (!is_bitmap)
			block++;
	}
	for (block = 0; block < v->geo.data_blocks; block++) {
		uint64_t chunk = block / v->geo.chunk_ratio;

		if (vhdx_bat_state(vhdx_bat_payload(v, block)) !=
		    VHDX_BLOCK_PARTIALLY_PRESENT)
			continue;
		if (vhdx_bat_state(vhdx_bat_bitmap(v, chunk)) !=
		    VHDX_SB_PRESENT) {
			rc = vr_err_set(
				err, -VR_ECORRUPT,
				"%s: payload block %" PRIu64
				" is partially present but sector bitmap block %" PRIu64
				" is not present",
				v->path, block, chunk);
			goto out;
		}
	}
	rc = vhdx_bat_check_overlaps(v, ext, n, err);
out:
	free(ext);
	return rc;
}

int vhdx_bat_load(struct vhdx *v, struct vr_err *err)
{
	uint8_t *raw;
	size_t bytes;
	uint64_t i;
	int rc;

	rc = vhdx_bat_compute_geometry(v, err);
	if (rc < 0)
		return rc;
	bytes = (size_t)(v->geo.entries * VHDX_BAT_ENTRY_SIZE);
	raw = malloc(bytes ? bytes : 1);
	v->bat = calloc(v->geo.entries ? v->geo.entries : 1, sizeof(*v->bat));
	if (!raw || !v->bat) {
		free(raw);
		return vr_err_set(err, -ENOMEM,
				  "%s: BAT of %" PRIu64
				  " entries: out of memory",
				  v->path, v->geo.entries);
	}
	rc = vhdx_file_pread(v, raw, bytes, v->bat_offset, "BAT", err);
	if (rc < 0)
		goto out;
	for (i = 0; i < v->geo.entries; i++)
		v->bat[i] = vr_get_le64(raw + i * VHDX_BAT_ENTRY_SIZE);
	rc = vhdx_bat_check(v, err);
out:
	free(raw);
	return rc;
}
