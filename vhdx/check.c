/*
 * check.c - structural check of a VHDX file: what vhdx_open() verifies,
 * with checksum failures reported instead of fatal, plus what open lets
 * pass but an administrator should hear about; and the one safe repair,
 * replaying a pending log.
 */
#include <config.h>
#include "vhdx.h"

#include <inttypes.h>
#include <string.h>

#include "bat.h"
#include "guid.h"
#include "internal.h"
#include "vr_err.h"

/* Reserved BAT bits 3-19 are zero in a well-formed file. */
#define VHDX_BAT_RESERVED_MASK 0xffff8ull

static bool vhdx_check_fixed_state_ok(unsigned state)
{
	return state == VHDX_BLOCK_FULLY_PRESENT || state == VHDX_BLOCK_ZERO;
}

static void vhdx_check_bat(const struct vhdx *v, struct vhdx_report *rep)
{
	uint64_t i, reserved = 0, first = 0, block;

	for (i = 0; i < v->geo.entries; i++)
		if (v->bat[i] & VHDX_BAT_RESERVED_MASK && reserved++ == 0)
			first = i;
	if (reserved)
		vhdx_report_add(
			rep, false,
			"%s: %" PRIu64
			" BAT entries have reserved bits set (first: entry %" PRIu64
			")",
			v->path, reserved, first);
	if (!v->meta.leave_blocks_allocated || v->meta.has_parent)
		return;
	/*
	 * A fixed disk keeps every block allocated (2.6.2.1): a block that
	 * gave up its space is worth a warning. ZERO is fine: qemu-img
	 * creates fixed disks that way, and the space stays allocated.
	 */
	for (block = 0; block < v->geo.data_blocks; block++)
		if (!vhdx_check_fixed_state_ok(
			    vhdx_bat_state(vhdx_bat_payload(v, block)))) {
			vhdx_report_add(rep, false,
					"%s: fixed disk: payload block %" PRIu64
					" is %s, not allocated",
					v->path, block,
					vhdx_block_state_name(vhdx_bat_state(
						vhdx_bat_payload(v, block))));
			break;
		}
}

int vhdx_check(const char *path, const char *parent_path,
	       struct vhdx_report *rep, struct vr_err *err)
{
	struct vr_err open_err = { 0 };
	struct vhdx *v;
	int rc;

	rc = vhdx_open(path, VHDX_OPEN_IGNORE_CSUM | VHDX_OPEN_NO_PARENT, NULL,
		       &v, rep, &open_err);
	if (rc < 0) {
		vhdx_report_add(rep, true, "%s", open_err.msg);
		return vr_err_set(err, rc, "%s", open_err.msg);
	}
	vhdx_check_bat(v, rep);
	if (v->meta.has_parent) {
		struct vhdx *chain;
		struct vr_err perr = { 0 };

		/* Opening the chain verifies locator, linkage and loops. */
		if (vhdx_open(path, VHDX_OPEN_IGNORE_CSUM, parent_path, &chain,
			      NULL, &perr) < 0)
			vhdx_report_add(rep, true, "%s", perr.msg);
		else
			vhdx_close(chain);
	}
	vhdx_close(v);
	return 0;
}

int vhdx_repair(const char *path, unsigned *log_entries, struct vr_err *err)
{
	struct vhdx_info in;
	struct vhdx *v;
	int rc;

	/* A read-write open replays a pending log into the file. */
	rc = vhdx_open(path, VHDX_OPEN_RDWR | VHDX_OPEN_NO_PARENT, NULL, &v,
		       NULL, err);
	if (rc < 0)
		return rc;
	vhdx_get_info(v, &in);
	vhdx_close(v);
	*log_entries = in.log_entries_replayed;
	return 0;
}
