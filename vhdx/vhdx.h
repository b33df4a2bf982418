/*
 * vhdx.h - the VHDX library's front door: open a VHDX file and its parent
 * chain, describe it, read the virtual disk, check and repair the structure,
 * create new files.
 * Spec: [MS-VHDX] v1.0. Nothing here knows about repositories.
 *
 * Calling sequence:
 *	struct vr_err err = { 0 };
 *	struct vhdx *v;
 *	if (vhdx_open("disk.vhdx", 0, NULL, &v, &err) < 0)
 *		... err.msg says why ...
 *	vhdx_read(v, buf, len, off, &err);
 *	vhdx_close(v);
 *
 * A handle is used by one thread at a time.
 */
#ifndef VHDX_H
#define VHDX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vr_err;
struct vhdx;

enum vhdx_type {
	VHDX_TYPE_FIXED,
	VHDX_TYPE_DYNAMIC,
	VHDX_TYPE_DIFFERENCING,
};

/* Payload block states, [MS-VHDX] 2.5.1.1; 4 and 5 are reserved. */
enum vhdx_block_state {
	VHDX_BLOCK_NOT_PRESENT = 0,
	VHDX_BLOCK_UNDEFINED = 1,
	VHDX_BLOCK_ZERO = 2,
	VHDX_BLOCK_UNMAPPED = 3,
	VHDX_BLOCK_FULLY_PRESENT = 6,
	VHDX_BLOCK_PARTIALLY_PRESENT = 7,
};

/* vhdx_open() flags */
/* Read-only unless set. A pending log is then replayed into the file. */
#define VHDX_OPEN_RDWR 0x1u
/*
 * Read-only recovery: checksum failures become report warnings instead of
 * errors. Refused together with VHDX_OPEN_RDWR.
 */
#define VHDX_OPEN_IGNORE_CSUM 0x2u
/* Open this file alone; do not look for its parent (info, check). */
#define VHDX_OPEN_NO_PARENT 0x4u

/* Parent chains deeper than this are refused (a loop is caught earlier). */
#define VHDX_MAX_CHAIN_DEPTH 64

/*
 * Problems found by vhdx_check() and warnings from vhdx_open(): each a line
 * "FILE: what: problem". The caller owns it; vhdx_report_free() releases the
 * lines (not the struct, which usually lives on the caller's stack).
 */
struct vhdx_report {
	unsigned errors;
	unsigned warnings;
	size_t count;
	char **lines; /* "error: ..." or "warning: ..." */
};

void vhdx_report_free(struct vhdx_report *rep);

/* What one file of a chain is, as vhdx_get_info() fills it. */
struct vhdx_info {
	enum vhdx_type type;
	uint64_t virtual_size;	       /* bytes */
	uint32_t block_size;	       /* bytes, 1 MiB .. 256 MiB */
	uint32_t logical_sector_size;  /* 512 or 4096 */
	uint32_t physical_sector_size; /* 512 or 4096 */
	bool leave_blocks_allocated;
	bool has_parent;
	uint32_t chunk_ratio; /* payload blocks per sector bitmap block */
	uint64_t data_blocks; /* payload BAT entries */
	uint64_t bat_entries; /* payload + sector bitmap entries */
	uint64_t blocks_in_state[8]; /* payload entries per state (0..7) */
	uint64_t bitmap_blocks_present;
	uint8_t virtual_disk_id[16]; /* Page 83 data, on-disk byte order */
	uint8_t file_write_guid[16];
	uint8_t data_write_guid[16];
	uint8_t log_guid[16];
	uint64_t header_sequence;
	unsigned current_header; /* 1 or 2 */
	uint64_t log_offset;
	uint32_t log_length;
	unsigned log_entries_replayed; /* 0 if the log was empty */
	bool log_replayed_in_memory;   /* read-only open of a dirty file */
	uint64_t file_size;	       /* bytes on disk */
	char creator[256];	       /* file type identifier, UTF-8 */
};

/*
 * Open @path (and, unless VHDX_OPEN_NO_PARENT, its whole parent chain found
 * through the parent locators). @parent_path, if not NULL, overrides the
 * locator for the first parent only. Warnings (a damaged header or region
 * table copy, a replayed log) are appended to @rep when it is not NULL.
 * On success *@out owns the chain; release with vhdx_close().
 * Returns 0, or -VR_ECORRUPT (structure), -VR_EBADCRC (checksum),
 * -ENOTSUP (valid feature we do not implement), -ENOENT (parent missing),
 * -ESTALE (parent linkage mismatch), -ELOOP (parent chain loops or is too
 * deep), -ENOMEM, -EIO, with @err naming the file and the problem.
 */
int vhdx_open(const char *path, unsigned flags, const char *parent_path,
	      struct vhdx **out, struct vhdx_report *rep, struct vr_err *err);

/*
 * Close the chain opened by vhdx_open(). Accepts NULL. After writes it
 * finishes the session (the log's work written in place, LogGuid cleared);
 * call vhdx_flush() first to learn of errors: what it made durable is
 * never lost, whatever close meets.
 */
void vhdx_close(struct vhdx *v);

/* Fill @info for this file of the chain (not its parents). */
void vhdx_get_info(const struct vhdx *v, struct vhdx_info *info);

/* Path as given to vhdx_open() or resolved for a parent. Borrowed. */
const char *vhdx_path(const struct vhdx *v);

/* The next file up the chain, or NULL. Borrowed, valid until vhdx_close(). */
const struct vhdx *vhdx_parent(const struct vhdx *v);

/* Virtual disk size in bytes. */
uint64_t vhdx_virtual_size(const struct vhdx *v);

/*
 * Parent locator of a differencing file: its type GUID (on-disk order) and
 * key/value entries, converted to UTF-8. Returns the entry count (0 for a
 * file without a locator). Strings are borrowed until vhdx_close().
 */
size_t vhdx_locator_count(const struct vhdx *v);
const uint8_t *vhdx_locator_type(const struct vhdx *v);
void vhdx_locator_entry(const struct vhdx *v, size_t i, const char **key,
			const char **value);

/*
 * Read @len bytes of the virtual disk at @off into @buf, through the parent
 * chain. @off and @len may be any byte range inside the virtual size.
 * Returns 0, or -EINVAL (range outside the disk), -VR_ECORRUPT (data the
 * BAT points at is missing from the file), -EIO.
 */
int vhdx_read(struct vhdx *v, void *buf, size_t len, uint64_t off,
	      struct vr_err *err);

/*
 * Write @len bytes from @buf to the virtual disk at @off, in this file only
 * (a parent is never written). @off and @len must be multiples of the
 * logical sector size. Needs VHDX_OPEN_RDWR. The first change of an open
 * gives the file a new FileWriteGuid and DataWriteGuid (so children made
 * from the old content refuse it); metadata changes go through the log.
 * Data is durable after vhdx_flush(); a process killed before leaves the
 * disk as it was after some prefix of its writes (the one in flight
 * possibly in part).
 * Returns 0, -EINVAL (range outside the disk or unaligned), -EBADF
 * (read-only open), -ENOSPC, -EFBIG, -ENOMEM, -EIO (also: an earlier write
 * of this open failed, reopen to go on), -ENOTSUP (log too small).
 */
int vhdx_write(struct vhdx *v, const void *buf, size_t len, uint64_t off,
	       struct vr_err *err);

/* vhdx_zero() flags: the range may give back its space (trim, UNMAP). */
#define VHDX_ZERO_UNMAP 0x1u

/*
 * Make @len bytes at @off read as zeros, as vhdx_write() of zeros would
 * but cheaper: whole blocks of a dynamic disk become ZERO (or, with
 * VHDX_ZERO_UNMAP, UNMAPPED) blocks whose space is released at the next
 * checkpoint; elsewhere the file range is punched or zero-filled. A
 * differencing disk keeps zeros as present data, so every reader agrees
 * they hide the parent. Returns as vhdx_write().
 */
int vhdx_zero(struct vhdx *v, uint64_t off, uint64_t len, unsigned flags,
	      struct vr_err *err);

/*
 * Make every write so far durable: pending metadata goes to the log, and
 * the file is flushed. Cheap to call often; vhdx_close() later writes the
 * log's work in place and clears the log. Returns 0, -EIO, -ENOSPC.
 */
int vhdx_flush(struct vhdx *v, struct vr_err *err);

/*
 * How the disk reads from @off on: sets *@run to the length (> 0, at most
 * @len) of a run that is all zero without reading it (*@is_zero true), or
 * that holds data to be read (*@is_zero false). Data runs may still contain
 * zeros. Returns 0 or a negative errno as vhdx_read().
 */
int vhdx_extent(struct vhdx *v, uint64_t off, uint64_t len, uint64_t *run,
		bool *is_zero, struct vr_err *err);

/* Where a run of a chain's virtual disk comes from (vhdx_extent_source()). */
enum vhdx_source {
	VHDX_SOURCE_ZERO,  /* reads as zeros, nothing to read */
	VHDX_SOURCE_DATA,  /* data held by a file above @below */
	VHDX_SOURCE_BELOW, /* whatever @below, a file of the chain, holds */
};

/*
 * As vhdx_extent(), but stopping at @below, a parent in @v's chain (NULL:
 * none): runs that no file above @below holds or zeroes are
 * VHDX_SOURCE_BELOW. What a recovery point stores of a disk over a base
 * it references (DESIGN.md, logical backup). Returns as vhdx_extent().
 */
int vhdx_extent_source(struct vhdx *v, const struct vhdx *below, uint64_t off,
		       uint64_t len, uint64_t *run, enum vhdx_source *src,
		       struct vr_err *err);

/*
 * What reading all of @len bytes at @off needs, in one word:
 * VHDX_SOURCE_ZERO (all zero), VHDX_SOURCE_BELOW (all @below's), or
 * VHDX_SOURCE_DATA (a file above @below holds some of it, or zeros hide
 * part of @below's: only the bytes tell). Returns as vhdx_extent().
 */
int vhdx_range_source(struct vhdx *v, const struct vhdx *below, uint64_t off,
		      uint64_t len, enum vhdx_source *src, struct vr_err *err);

/*
 * Structural check of @path: everything vhdx_open() verifies, without
 * stopping at the first problem where it can go on, plus the parent chain.
 * Every problem becomes a line in @rep. Returns 0 if the file opened at all
 * (look at rep->errors), or the negative errno that stopped it.
 */
int vhdx_check(const char *path, const char *parent_path,
	       struct vhdx_report *rep, struct vr_err *err);

/* What vhdx_create() makes; zero fields take the defaults. */
struct vhdx_create_opts {
	enum vhdx_type type;
	uint64_t virtual_size;	      /* bytes; a differencing disk: parent's */
	uint32_t block_size;	      /* 0: 32 MiB, or 2 MiB differencing */
	uint32_t logical_sector_size; /* 0: 512, or the parent's */
	uint32_t physical_sector_size; /* 0: 4096, or the parent's */
	const char *parent_path;       /* differencing only */
};

/*
 * Create the VHDX file @path as @o says ([MS-VHDX] layout: headers, 1 MiB
 * log, metadata, BAT; a fixed disk gets every block allocated). A
 * differencing disk takes size and sector sizes from its parent, whose
 * whole chain must open; its locator holds parent_linkage (the parent's
 * DataWriteGuid), relative_path and, as a POSIX path, absolute_win32_path.
 * The file is written under a temp name, flushed and renamed, so it is
 * never seen half made; an existing @path is refused (-EEXIST).
 * Returns 0, -EINVAL (parameters out of the spec's range), -EEXIST,
 * -ENOSPC, -EIO, or what opening the parent returns.
 */
int vhdx_create(const char *path, const struct vhdx_create_opts *o,
		struct vr_err *err);

/*
 * As vhdx_create(), but lay the new file out in @fd, an empty file open for
 * writing (a temp file the caller renames to @path after filling it; see
 * vr_file_replace()). @path is what the parent locator is made relative
 * to. Returns as vhdx_create(), never -EEXIST.
 */
int vhdx_create_fd(int fd, const char *path, const struct vhdx_create_opts *o,
		   struct vr_err *err);

/* Progress of long work: @done of @total units (bytes) finished. */
typedef void (*vhdx_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/*
 * Fold the differencing disk @child_path into its parent, then delete it.
 * The parent gets a new DataWriteGuid before its data changes (the child
 * learns it first, as parent_linkage2), so other children of the parent
 * refuse it afterwards, and a kill at any instant leaves either the chain
 * or the merged parent reading as the chain did; running the merge again
 * finishes it. @progress (may be NULL) hears of each block.
 * Returns 0, -EINVAL (not a differencing disk), -ENOTSUP (parent of
 * another size), -ESTALE, -ENOSPC, -EIO, or what vhdx_open() returns.
 */
int vhdx_merge(const char *child_path, vhdx_progress_fn progress, void *ctx,
	       struct vr_err *err);

/*
 * Repair what is safe to repair in @path: replay a pending log into the
 * file (then clear LogGuid through a header update). Never guesses: any
 * other damage is left for vhdx_check() to report. *@log_entries gets the
 * number of log entries replayed (0: nothing to do). Returns 0, or what a
 * read-write vhdx_open() returns.
 */
int vhdx_repair(const char *path, unsigned *log_entries, struct vr_err *err);

/* Format a GUID held in on-disk order as "xxxxxxxx-xxxx-..." (37 bytes). */
void vhdx_guid_format(const uint8_t guid[16], char out[37]);

/* Name of a payload block state, e.g. "fully present"; "reserved" for 4, 5. */
const char *vhdx_block_state_name(unsigned state);

#endif /* VHDX_H */
