/*
 * merge.c - fold a differencing disk into its parent so that a kill at any
 * instant leaves a readable disk. Spec: [MS-VHDX] 2.2.2 (DataWriteGuid),
 * 2.6.2.6.1 (parent_linkage2).
 *
 * The steps, and what a kill after each one leaves:
 *  1. The child's locator gets parent_linkage2 = D2, a new GUID (through
 *     the child's log). The chain reads as before: the parent's
 *     DataWriteGuid is still the child's parent_linkage.
 *  2. The parent's headers get DataWriteGuid = D2 before any of its data
 *     changes, as 2.2.2 asks. The child accepts it through
 *     parent_linkage2; other children of the parent now refuse it, as
 *     they must.
 *  3. Every sector present in the child is written into the parent (ZERO
 *     and UNMAPPED blocks as zeros). The chain still reads as before:
 *     every sector changed in the parent is one the child covers.
 *  4. The parent is flushed and closed: alone, it reads as the chain did.
 *  5. The child is deleted. Until then it is a valid child of the merged
 *     parent, reading the same.
 * A merge run again after a kill finds parent_linkage2 equal to the
 * parent's DataWriteGuid and keeps it, so step 1's promise holds; writing
 * the child's sectors again is harmless.
 */
#include <config.h>
#include "vhdx.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guid.h"
#include "internal.h"
#include "vr_err.h"
#include "vr_io.h"

#define VHDX_MERGE_CHUNK (4u * 1024 * 1024)

struct vhdx_merge {
	struct vhdx *child, *parent;
	uint8_t *buf; /* VHDX_MERGE_CHUNK */
	vhdx_progress_fn progress;
	void *ctx;
};

/* Copy @len bytes of the child's file at @file_off to the disk at @off. */
static int vhdx_merge_copy(struct vhdx_merge *m, uint64_t file_off,
			   uint64_t off, uint64_t len, struct vr_err *err)
{
	while (len > 0) {
		size_t n =
			len < VHDX_MERGE_CHUNK ? (size_t)len : VHDX_MERGE_CHUNK;
		int rc = vhdx_file_pread(m->child, m->buf, n, file_off,
					 "payload block", err);

		if (rc == 0)
			rc = vhdx_write(m->parent, m->buf, n, off, err);
		if (rc < 0)
			return rc;
		file_off += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* The runs of sectors a partially present block holds, copied. */
static int vhdx_merge_partial(struct vhdx_merge *m, uint64_t block,
			      uint64_t entry, uint64_t used, struct vr_err *err)
{
	struct vhdx *c = m->child;
	uint32_t lss = c->meta.logical_sector_size;
	uint64_t spb = c->meta.block_size / lss, sectors = used / lss;
	uint64_t chunk = block / c->geo.chunk_ratio;
	uint64_t sb = vhdx_bat_file_offset(vhdx_bat_bitmap(c, chunk));
	/* the block's bits start on a byte: spb >= 256 */
	uint64_t bits_off = sb + (block % c->geo.chunk_ratio) * spb / 8;
	uint8_t *bits = malloc((size_t)(spb / 8));
	uint64_t s = 0;
	int rc;

	if (!bits)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", c->path);
	rc = vhdx_file_pread(c, bits, (size_t)(spb / 8), bits_off,
			     "sector bitmap", err);
	while (rc == 0 && s < sectors) {
		uint64_t t = s;

		if (!(bits[s / 8] >> (s % 8) & 1)) {
			s++;
			continue;
		}
		while (t < sectors && (bits[t / 8] >> (t % 8) & 1))
			t++;
		rc = vhdx_merge_copy(m, vhdx_bat_file_offset(entry) + s * lss,
				     block * c->meta.block_size + s * lss,
				     (t - s) * lss, err);
		s = t;
	}
	free(bits);
	return rc;
}

/* Step 3: everything the child holds, into the parent. */
static int vhdx_merge_blocks(struct vhdx_merge *m, struct vr_err *err)
{
	struct vhdx *c = m->child;
	uint64_t block;
	int rc = 0;

	for (block = 0; rc == 0 && block < c->geo.data_blocks; block++) {
		uint64_t entry = vhdx_bat_payload(c, block);
		uint64_t off = block * c->meta.block_size;
		uint64_t used = vhdx_bat_block_used(c, block);

		switch (vhdx_bat_state(entry)) {
		case VHDX_BLOCK_FULLY_PRESENT:
			rc = vhdx_merge_copy(m, vhdx_bat_file_offset(entry),
					     off, used, err);
			break;
		case VHDX_BLOCK_PARTIALLY_PRESENT:
			rc = vhdx_merge_partial(m, block, entry, used, err);
			break;
		case VHDX_BLOCK_ZERO:
		case VHDX_BLOCK_UNMAPPED:
			rc = vhdx_zero(m->parent, off, used, 0, err);
			break;
		default: /* from the parent: nothing to fold */
			break;
		}
		if (m->progress)
			m->progress(m->ctx, off + used, c->meta.virtual_size);
	}
	return rc;
}

/* Steps 1 and 2: the GUID both sides agree on before data changes. */
static int vhdx_merge_relink(struct vhdx_merge *m, struct vr_err *err)
{
	uint8_t d2[16];
	char text[37], value[40];
	int rc;

	if (vhdx_locator_holds_guid(m->child, "parent_linkage2",
				    m->parent->hdr.data_write_guid))
		return vhdx_session_begin(m->parent,
					  m->parent->hdr.data_write_guid, err);
	rc = vhdx_guid_generate(d2, m->child->path, err);
	if (rc < 0)
		return rc;
	vhdx_guid_format(d2, text);
	snprintf(value, sizeof(value), "{%s}", text);
	rc = vhdx_meta_locator_set(m->child, "parent_linkage2", value, err);
	if (rc == 0)
		rc = vhdx_flush(m->child, err);
	if (rc == 0)
		rc = vhdx_session_begin(m->parent, d2, err);
	return rc;
}

/* Open the child (alone) and its parent read-write, checked as a chain. */
static int vhdx_merge_open(struct vhdx_merge *m, const char *child_path,
			   struct vr_err *err)
{
	struct vhdx *chain;
	char *parent_path;
	int rc;

	rc = vhdx_open(child_path, 0, NULL, &chain, NULL, err);
	if (rc < 0)
		return rc;
	if (!chain->meta.has_parent) {
		vhdx_close(chain);
		return vr_err_set(err, -EINVAL,
				  "%s: not a differencing disk: nothing to "
				  "merge",
				  child_path);
	}
	if (chain->parent->meta.virtual_size != chain->meta.virtual_size) {
		rc = vr_err_set(err, -ENOTSUP,
				"%s: parent %s is %" PRIu64
				" bytes, the child %" PRIu64
				": merge needs equal sizes",
				child_path, chain->parent->path,
				chain->parent->meta.virtual_size,
				chain->meta.virtual_size);
		vhdx_close(chain);
		return rc;
	}
	parent_path = strdup(chain->parent->path);
	vhdx_close(chain);
	if (!parent_path)
		return vr_err_set(err, -ENOMEM, "%s: out of memory",
				  child_path);
	rc = vhdx_open(child_path, VHDX_OPEN_RDWR | VHDX_OPEN_NO_PARENT, NULL,
		       &m->child, NULL, err);
	if (rc == 0)
		rc = vhdx_open(parent_path, VHDX_OPEN_RDWR, NULL, &m->parent,
			       NULL, err);
	if (rc == 0 && !vhdx_parent_linkage_matches(m->child, m->parent))
		rc = vr_err_set(err, -ESTALE,
				"%s: parent %s changed while the merge began",
				child_path, parent_path);
	free(parent_path);
	return rc;
}

int vhdx_merge(const char *child_path, vhdx_progress_fn progress, void *ctx,
	       struct vr_err *err)
{
	struct vhdx_merge m = { .progress = progress, .ctx = ctx };
	int rc;

	m.buf = malloc(VHDX_MERGE_CHUNK);
	if (!m.buf)
		return vr_err_set(err, -ENOMEM, "%s: out of memory",
				  child_path);
	rc = vhdx_merge_open(&m, child_path, err);
	if (rc == 0)
		rc = vhdx_merge_relink(&m, err);
	if (rc == 0)
		rc = vhdx_merge_blocks(&m, err);
	if (rc == 0)
		rc = vhdx_flush(m.parent, err);
	/* step 4: a clean close; what the flush made durable stays */
	vhdx_close(m.parent);
	vhdx_close(m.child);
	free(m.buf);
	if (rc < 0)
		return rc;
	if (unlink(child_path) < 0)
		return vr_err_set(err, -errno,
				  "%s: merged, but cannot remove it: %s",
				  child_path, strerror(errno));
	return vr_fsync_dir_of(child_path, err);
}
