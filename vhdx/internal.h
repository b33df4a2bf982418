/*
 * internal.h - struct vhdx and the layout constants shared by the files of
 * vhdx/. Nothing outside vhdx/ includes this.
 *
 * Invariants of an open struct vhdx (all established by vhdx_open()):
 *  1. Every number below came from the file and was range-checked against
 *     the spec and against file_size before it was stored here.
 *  2. bat[] holds geo.entries host-order entries; every FULLY_PRESENT or
 *     PARTIALLY_PRESENT payload entry and every PRESENT sector bitmap entry
 *     points at a block whose used part (a last block may reach past the
 *     disk's end) lies inside the file, outside the fixed structures
 *     (headers, log, region tables, BAT, metadata), and no two overlap.
 *  3. If the file had a pending log and was opened read-only, replay is
 *     non-NULL and every read of the file goes through vhdx_file_pread(),
 *     which patches the log's writes in; the file itself is never written.
 *  4. parent is non-NULL exactly when has_parent and VHDX_OPEN_NO_PARENT
 *     was not given; its logical sector size equals ours. Its virtual size
 *     may be smaller: what lies past its end reads as zeros.
 */
#ifndef VHDX_INTERNAL_H
#define VHDX_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bat.h"
#include "header.h"
#include "log.h"
#include "metadata.h"

struct vhdx_log_replay;
struct vhdx_report;
struct vhdx_session;
struct vr_err;

#define VHDX_KiB 1024u
#define VHDX_MiB (1024u * 1024u)

struct vhdx {
	char *path;
	int fd;
	unsigned flags;	    /* VHDX_OPEN_* */
	uint64_t file_size; /* as the file reads after log replay */
	uint64_t phys_size; /* bytes on disk */
	char creator[256];  /* UTF-8 */

	struct vhdx_header hdr; /* the current header */
	unsigned cur_header;	/* 1 or 2 */

	uint64_t bat_offset;
	uint32_t bat_length;
	uint64_t meta_offset;
	uint32_t meta_length;

	struct vhdx_meta meta;

	/* derived from metadata, [MS-VHDX] 2.5 */
	struct vhdx_bat_geometry geo;
	uint64_t *bat;

	struct vhdx_log_replay *replay; /* read-only open of a dirty log */
	unsigned log_entries_replayed;

	struct vhdx_session *ses; /* write.c: the write session, or NULL */

	struct vhdx *parent;
	struct vhdx_report *rep; /* borrowed during open, then NULL */
};

/*
 * Read @len bytes of the file at @off as the file reads after log replay:
 * bytes past the physical end but before the replayed size read as zeros.
 * Returns 0, -VR_ECORRUPT "truncated" if the range ends past the (replayed)
 * file size, -EIO.
 */
int vhdx_file_pread(const struct vhdx *v, void *buf, size_t len, uint64_t off,
		    const char *what, struct vr_err *err);

/*
 * Append a line to the open's report, if there is one.
 * @is_error: count as an error rather than a warning.
 */
void vhdx_report_add(struct vhdx_report *rep, bool is_error, const char *fmt,
		     ...) __attribute__((format(printf, 3, 4)));

/*
 * Patch @buf, holding the file's bytes [@off, @off + @len), with metadata
 * sectors the write session has changed but not yet written in place.
 */
void vhdx_session_overlay(const struct vhdx *v, void *buf, size_t len,
			  uint64_t off);

/* Where @v's log is, for entries carrying @log_guid (borrowed). */
struct vhdx_log_params vhdx_log_params_of(const struct vhdx *v,
					  const uint8_t *log_guid);

/* Does locator @key of @v hold @guid (not the all-zero GUID)? */
bool vhdx_locator_holds_guid(const struct vhdx *v, const char *key,
			     const uint8_t guid[16]);

/* Does @parent's DataWriteGuid match parent_linkage or parent_linkage2? */
bool vhdx_parent_linkage_matches(const struct vhdx *child,
				 const struct vhdx *parent);

/*
 * Begin the write session of a read-write open, if not begun: new
 * FileWriteGuid, and DataWriteGuid @data_write_guid (random if NULL), in
 * both headers. Returns 0, -EBADF (read-only open), -ENOTSUP (log too
 * small), -EIO (an earlier failure broke the session), -ENOMEM.
 */
int vhdx_session_begin(struct vhdx *v, const uint8_t *data_write_guid,
		       struct vr_err *err);

/*
 * Change @len bytes of metadata at file offset @off (inside the metadata
 * region) to @data, through the session's log like every metadata change.
 * Durable at vhdx_flush(). Returns 0 or what vhdx_write() returns.
 */
int vhdx_session_meta_put(struct vhdx *v, uint64_t off, const void *data,
			  size_t len, struct vr_err *err);

/*
 * End the write session, if any (vhdx_close()): log what is pending, write
 * the log's sectors in place, flush and clear LogGuid. Cannot fail: any
 * error leaves the log to be replayed at the next open.
 */
void vhdx_session_end(struct vhdx *v);

#endif /* VHDX_INTERNAL_H */
