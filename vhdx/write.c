/*
 * write.c - the write half of a read-write open: payload writes and zeroing
 * through block allocation, sector bitmaps and the BAT, every metadata
 * change carried by the log. Spec: [MS-VHDX] 2.2.2 (FileWriteGuid,
 * DataWriteGuid, LogGuid), 2.3 (log), 2.5 (BAT, sector bitmaps).
 *
 * A write session begins with the first change of an open and ends at
 * vhdx_close(). Metadata changes (BAT entries, sector bitmap bits) are made
 * in memory and in "dirty" copies of the 4 KiB file sectors that hold them.
 * Dirty sectors go to the log as entries of one sequence; they are written
 * in place only at a checkpoint, which then starts a new sequence.
 *
 * Invariants (W1-W6), which make a killed process leave the disk as it was
 * after some prefix of its writes, the write in flight possibly in part, and
 * a power loss leave a consistent structure with every write up to the
 * last vhdx_flush() (later ones possibly in part, as a disk cache would):
 *  W1. Payload data is written before the metadata naming it: a new block
 *      is invisible until a log entry allocates it.
 *  W2. Before data readers can already see is changed in place (a write to
 *      an allocated block), every pending metadata change is logged.
 *  W3. The file's own BAT and sector bitmaps hold what the durable log
 *      replays to, or older: a dirty sector is written in place only at a
 *      checkpoint, after the entries holding it are flushed, and the
 *      sectors written then are exactly what the log holds.
 *  W4. A sequence never grows past half the log (log.h), so a new sequence
 *      never overwrites the previous, applied one.
 *  W5. File space is never reused within a session: blocks are allocated
 *      past the end of the file; space freed by zeroing whole blocks is
 *      punched only after the checkpoint that made the new state durable.
 *  W6. The header's LogGuid is set only once an entry carrying it is
 *      durable, and cleared only after a checkpoint.
 * A failure after metadata was touched in memory breaks the session: later
 * writes are refused and close leaves the file to log replay.
 */
#include <config.h>
#include "vhdx.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guid.h"
#include "internal.h"
#include "log.h"
#include "vr_endian.h"
#include "vr_err.h"
#include "vr_io.h"

#define VHDX_SECTOR 4096u /* log and metadata sector */

/*
 * Most dirty sectors one block's change adds: its BAT sector, the sector
 * of its chunk's bitmap entry, and its bits (256 MiB / 512 / 8 = 64 KiB).
 */
#define VHDX_BLOCK_MAX_DIRTY 18u

/* A metadata sector of the file with changes not yet written in place. */
struct vhdx_dirty {
	uint64_t off;  /* file offset, multiple of 4 KiB */
	bool unlogged; /* changed since the last log entry */
	uint8_t *data; /* 4 KiB, the sector as it is to be */
};

struct vhdx_freed {
	uint64_t off, len;
};

struct vhdx_session {
	bool broken;
	bool log_in_header; /* LogGuid set in the header */
	uint8_t log_guid[16];
	struct vhdx_log_writer *log;
	size_t max_unlogged; /* log before this many dirty sectors wait */

	struct vhdx_dirty *dirty; /* sorted by off */
	size_t ndirty, cap_dirty, unlogged;

	struct vhdx_freed *freed;
	size_t nfreed, cap_freed;

	uint64_t flushed_size; /* file size at the last flush */
	/* payload written since writeback was last started: bytes, span */
	uint64_t unsynced, unsynced_lo, unsynced_hi;
};

/*
 * Start writeback once this much payload is dirty: big writes (convert,
 * restore) then stream to the disk instead of piling up for the flush.
 */
#define VHDX_WRITEBACK_BYTES (64ull * 1024 * 1024)

/* ---- the dirty sector set ---- */

/* Index of the first dirty sector at or after @off. */
static size_t vhdx_dirty_find(const struct vhdx_session *s, uint64_t off)
{
	size_t lo = 0, hi = s->ndirty;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->dirty[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void vhdx_session_overlay(const struct vhdx *v, void *buf, size_t len,
			  uint64_t off)
{
	const struct vhdx_session *s = v->ses;
	uint64_t first = off / VHDX_SECTOR * VHDX_SECTOR;
	size_t i;

	if (!s || s->ndirty == 0 || len == 0)
		return;
	for (i = vhdx_dirty_find(s, first);
	     i < s->ndirty && s->dirty[i].off < off + len; i++) {
		const struct vhdx_dirty *d = &s->dirty[i];
		uint64_t from = d->off > off ? d->off : off;
		uint64_t to = d->off + VHDX_SECTOR < off + len
				      ? d->off + VHDX_SECTOR
				      : off + len;

		memcpy((uint8_t *)buf + (from - off), d->data + (from - d->off),
		       (size_t)(to - from));
	}
}

/*
 * The dirty copy of the metadata sector at @off (4 KiB aligned), made from
 * the file on first use, for changing: it counts as unlogged from now on.
 */
static int vhdx_dirty_get(struct vhdx *v, uint64_t off, uint8_t **out,
			  struct vr_err *err)
{
	struct vhdx_session *s = v->ses;
	size_t i = vhdx_dirty_find(s, off);
	struct vhdx_dirty *d;
	uint8_t *data;
	int rc;

	if (i == s->ndirty || s->dirty[i].off != off) {
		if (s->ndirty == s->cap_dirty) {
			size_t cap = s->cap_dirty ? 2 * s->cap_dirty : 64;
			void *p =
				reallocarray(s->dirty, cap, sizeof(*s->dirty));

			if (!p)
				return vr_err_set(err, -ENOMEM,
						  "%s: out of memory", v->path);
			s->dirty = p;
			s->cap_dirty = cap;
		}
		data = malloc(VHDX_SECTOR);
		if (!data)
			return vr_err_set(err, -ENOMEM, "%s: out of memory",
					  v->path);
		rc = vhdx_file_pread(v, data, VHDX_SECTOR, off,
				     "metadata sector", err);
		if (rc < 0) {
			free(data);
			return rc;
		}
		memmove(&s->dirty[i + 1], &s->dirty[i],
			(s->ndirty - i) * sizeof(*s->dirty));
		s->dirty[i] = (struct vhdx_dirty){ .off = off, .data = data };
		s->ndirty++;
	}
	d = &s->dirty[i];
	if (!d->unlogged) {
		d->unlogged = true;
		s->unlogged++;
	}
	*out = d->data;
	return 0;
}

static void vhdx_dirty_clear(struct vhdx_session *s)
{
	size_t i;

	for (i = 0; i < s->ndirty; i++)
		free(s->dirty[i].data);
	s->ndirty = 0;
	s->unlogged = 0;
}

/* Set BAT entry @index, in memory and in its dirty sector. */
static int vhdx_bat_set(struct vhdx *v, uint64_t index, uint64_t entry,
			struct vr_err *err)
{
	uint64_t byte = index * VHDX_BAT_ENTRY_SIZE;
	uint8_t *sec;
	int rc;

	rc = vhdx_dirty_get(v, v->bat_offset + byte / VHDX_SECTOR * VHDX_SECTOR,
			    &sec, err);
	if (rc < 0)
		return rc;
	vr_put_le64(sec + byte % VHDX_SECTOR, entry);
	v->bat[index] = entry;
	return 0;
}

/* ---- the session: header, log, checkpoints ---- */

static int vhdx_sync(const struct vhdx *v, const char *what, struct vr_err *err)
{
	if (fdatasync(v->fd) < 0)
		return vr_err_set(err, -errno, "%s: flush %s: %s", v->path,
				  what, strerror(errno));
	return 0;
}

static int vhdx_session_broken(const struct vhdx *v, struct vr_err *err)
{
	return vr_err_set(
		err, -EIO,
		"%s: an earlier write failed; reopen the disk to go on",
		v->path);
}

/*
 * New FileWriteGuid and DataWriteGuid in both headers before the first
 * change, as 2.2.2 asks, so children made from the old content refuse the
 * new one.
 */
int vhdx_session_begin(struct vhdx *v, const uint8_t *data_write_guid,
		       struct vr_err *err)
{
	struct vhdx_session *s;
	int rc;

	if (v->ses)
		return v->ses->broken ? vhdx_session_broken(v, err) : 0;
	if (!(v->flags & VHDX_OPEN_RDWR))
		return vr_err_set(err, -EBADF, "%s: opened read-only", v->path);
	/* a quarter of the log, so entries stay small beside half of it */
	if (v->hdr.log_length / 4 / VHDX_SECTOR < 2 * VHDX_BLOCK_MAX_DIRTY)
		return vr_err_set(err, -ENOTSUP,
				  "%s: log of %" PRIu32
				  " bytes is too small to write through",
				  v->path, v->hdr.log_length);
	s = calloc(1, sizeof(*s));
	if (!s)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", v->path);
	s->max_unlogged = v->hdr.log_length / 4 / VHDX_SECTOR;
	s->flushed_size = v->phys_size;
	rc = vhdx_guid_generate(v->hdr.file_write_guid, v->path, err);
	if (rc == 0 && data_write_guid)
		memcpy(v->hdr.data_write_guid, data_write_guid, 16);
	else if (rc == 0)
		rc = vhdx_guid_generate(v->hdr.data_write_guid, v->path, err);
	if (rc == 0)
		rc = vhdx_guid_generate(s->log_guid, v->path, err);
	if (rc == 0)
		rc = vhdx_header_update(v, err);
	v->ses = s;
	if (rc < 0)
		s->broken = true;
	return rc;
}

/* Make the logged state the file's own: W3, W5, then a new sequence. */
static int vhdx_session_checkpoint(struct vhdx *v, struct vr_err *err)
{
	struct vhdx_session *s = v->ses;
	size_t i;
	int rc;

	assert(s->unlogged == 0);
	if (s->ndirty == 0 && s->nfreed == 0)
		return 0;
	rc = vhdx_sync(v, "log", err);
	if (rc < 0)
		return rc;
	for (i = 0; i < s->ndirty; i++) {
		ssize_t n = vr_pwrite_full(v->fd, s->dirty[i].data, VHDX_SECTOR,
					   s->dirty[i].off);

		if (n < 0)
			return vr_err_set(
				err, (int)n,
				"%s: metadata write at 0x%" PRIx64 ": %s",
				v->path, s->dirty[i].off, strerror((int)-n));
	}
	rc = vhdx_sync(v, "metadata", err);
	if (rc < 0)
		return rc;
	s->flushed_size = v->phys_size;
	vhdx_dirty_clear(s);
	if (s->log)
		vhdx_log_writer_restart(s->log);
	/* Punching is an optimisation: a file system without it keeps them. */
	for (i = 0; i < s->nfreed; i++)
		(void)fallocate(v->fd,
				FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				(off_t)s->freed[i].off, (off_t)s->freed[i].len);
	s->nfreed = 0;
	return 0;
}

static int vhdx_session_log_open(struct vhdx *v, struct vr_err *err)
{
	struct vhdx_session *s = v->ses;
	struct vhdx_log_params p = vhdx_log_params_of(v, s->log_guid);

	return vhdx_log_writer_new(&p, 1, &s->log, err);
}

/* Write every unlogged dirty sector as one log entry (W2, W6, W4). */
static int vhdx_session_log(struct vhdx *v, struct vr_err *err)
{
	struct vhdx_session *s = v->ses;
	struct vhdx_log_sector *secs;
	size_t i, n = 0;
	int rc;

	if (s->unlogged == 0)
		return 0;
	if (!s->log) {
		rc = vhdx_session_log_open(v, err);
		if (rc < 0)
			return rc;
	}
	secs = calloc(s->unlogged, sizeof(*secs));
	if (!secs)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", v->path);
	for (i = 0; i < s->ndirty; i++)
		if (s->dirty[i].unlogged)
			secs[n++] = (struct vhdx_log_sector){
				.file_offset = s->dirty[i].off,
				.data = s->dirty[i].data,
			};
	rc = vhdx_log_write_entry(s->log, secs, n, s->flushed_size,
				  v->phys_size, err);
	free(secs);
	if (rc < 0)
		return rc;
	for (i = 0; i < s->ndirty; i++)
		s->dirty[i].unlogged = false;
	s->unlogged = 0;
	if (!s->log_in_header) {
		rc = vhdx_sync(v, "log", err);
		if (rc < 0)
			return rc;
		s->flushed_size = v->phys_size;
		memcpy(v->hdr.log_guid, s->log_guid, 16);
		rc = vhdx_header_update(v, err);
		if (rc < 0)
			return rc;
		s->log_in_header = true;
	}
	if (vhdx_log_writer_room(s->log) < s->max_unlogged)
		return vhdx_session_checkpoint(v, err);
	return 0;
}

/* Log what is pending, with the session broken if that fails. */
static int vhdx_session_log_or_break(struct vhdx *v, struct vr_err *err)
{
	int rc = vhdx_session_log(v, err);

	if (rc < 0)
		v->ses->broken = true;
	return rc;
}

int vhdx_session_meta_put(struct vhdx *v, uint64_t off, const void *data,
			  size_t len, struct vr_err *err)
{
	const uint8_t *src = data;
	int rc = vhdx_session_begin(v, NULL, err);

	while (rc == 0 && len > 0) {
		uint64_t sec = off / VHDX_SECTOR * VHDX_SECTOR;
		size_t at = (size_t)(off - sec);
		size_t n = VHDX_SECTOR - at < len ? VHDX_SECTOR - at : len;
		uint8_t *buf = NULL;

		if (v->ses->unlogged + 1 > v->ses->max_unlogged)
			rc = vhdx_session_log_or_break(v, err);
		if (rc == 0)
			rc = vhdx_dirty_get(v, sec, &buf, err);
		if (rc < 0)
			break;
		memcpy(buf + at, src, n);
		src += n;
		off += n;
		len -= n;
	}
	return rc;
}

int vhdx_flush(struct vhdx *v, struct vr_err *err)
{
	int rc;

	assert(v);
	if (!v->ses)
		return 0;
	if (v->ses->broken)
		return vhdx_session_broken(v, err);
	rc = vhdx_session_log_or_break(v, err);
	if (rc == 0)
		rc = vhdx_sync(v, "data", err);
	if (rc < 0) {
		v->ses->broken = true;
		return rc;
	}
	v->ses->flushed_size = v->phys_size;
	return 0;
}

void vhdx_session_end(struct vhdx *v)
{
	struct vhdx_session *s = v->ses;

	if (!s)
		return;
	/*
	 * A clean end makes the log's work the file's own and clears
	 * LogGuid. Any failure leaves the log for replay at the next open,
	 * which loses nothing a vhdx_flush() made durable.
	 */
	if (!s->broken) {
		int rc = vhdx_session_log(v, NULL);

		if (rc == 0)
			rc = vhdx_session_checkpoint(v, NULL);
		if (rc == 0)
			rc = vhdx_sync(v, "data", NULL);
		if (rc == 0 && s->log_in_header) {
			memset(v->hdr.log_guid, 0, 16);
			(void)vhdx_header_update(v, NULL);
		}
	}
	vhdx_dirty_clear(s);
	free(s->dirty);
	free(s->freed);
	vhdx_log_writer_free(s->log);
	free(s);
	v->ses = NULL;
}

/* ---- blocks ---- */

/*
 * @len bytes of new space at the end of the file, 1 MiB aligned (W5); it
 * reads as zeros.
 */
static int vhdx_alloc(struct vhdx *v, uint64_t len, uint64_t *out,
		      struct vr_err *err)
{
	uint64_t off = (v->phys_size + VHDX_MiB - 1) / VHDX_MiB * VHDX_MiB;
	uint64_t end;

	/* FileOffsetMB has 44 bits; off_t has 63 */
	if (__builtin_add_overflow(off, len, &end) || end > INT64_MAX)
		return vr_err_set(err, -EFBIG, "%s: file would grow too large",
				  v->path);
	if (ftruncate(v->fd, (off_t)end) < 0)
		return vr_err_set(err, -errno,
				  "%s: growing to %" PRIu64 " bytes: %s",
				  v->path, end, strerror(errno));
	v->phys_size = v->file_size = end;
	*out = off;
	return 0;
}

/* Count @len bytes written at @off; start writeback when enough pile up. */
static void vhdx_writeback(struct vhdx_session *s, int fd, uint64_t off,
			   uint64_t len)
{
	if (s->unsynced == 0 || off < s->unsynced_lo)
		s->unsynced_lo = off;
	if (s->unsynced == 0 || off + len > s->unsynced_hi)
		s->unsynced_hi = off + len;
	s->unsynced += len;
	if (s->unsynced < VHDX_WRITEBACK_BYTES)
		return;
	/* asynchronous: only starts the writes; errors come at the flush */
	(void)sync_file_range(fd, (off_t)s->unsynced_lo,
			      (off_t)(s->unsynced_hi - s->unsynced_lo),
			      SYNC_FILE_RANGE_WRITE);
	s->unsynced = 0;
}

/* Write @len bytes at file offset @off: @data, or zeros if NULL. */
static int vhdx_write_file(struct vhdx *v, const uint8_t *data, uint64_t len,
			   uint64_t off, struct vr_err *err)
{
	static const uint8_t zeros[64 * 1024];
	int mode = v->meta.leave_blocks_allocated
			   ? FALLOC_FL_ZERO_RANGE
			   : FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	uint64_t done = 0;

	if (!data && fallocate(v->fd, mode, (off_t)off, (off_t)len) == 0)
		return 0;
	while (done < len) {
		size_t n = len - done;
		ssize_t w;

		if (!data && n > sizeof(zeros))
			n = sizeof(zeros);
		w = vr_pwrite_full(v->fd, data ? data + done : zeros, n,
				   off + done);
		if (w < 0)
			return vr_err_set(
				err, (int)w,
				"%s: payload write at 0x%" PRIx64 ": %s",
				v->path, off + done, strerror((int)-w));
		done += n;
	}
	vhdx_writeback(v->ses, v->fd, off, len);
	return 0;
}

/*
 * Bits [@first, @first + @count) of the sector bitmap block at @sb_off:
 * set them (@set) or test whether they are all set (*@all).
 */
static int vhdx_sb_bits(struct vhdx *v, uint64_t sb_off, uint64_t first,
			uint64_t count, bool set, bool *all, struct vr_err *err)
{
	uint8_t *sec, tmp[VHDX_SECTOR];
	uint64_t bit = first, end = first + count;
	int rc;

	while (bit < end) {
		uint64_t sec_off = sb_off + bit / 8 / VHDX_SECTOR * VHDX_SECTOR;
		uint64_t sec_end =
			(bit / 8 / VHDX_SECTOR + 1) * VHDX_SECTOR * 8;
		uint64_t stop = end < sec_end ? end : sec_end;

		if (set) {
			rc = vhdx_dirty_get(v, sec_off, &sec, err);
		} else {
			rc = vhdx_file_pread(v, tmp, VHDX_SECTOR, sec_off,
					     "sector bitmap", err);
			sec = tmp;
		}
		if (rc < 0)
			return rc;
		for (; bit < stop; bit++) {
			uint8_t *byte = &sec[bit / 8 % VHDX_SECTOR];
			uint8_t mask = (uint8_t)(1u << (bit % 8));

			/* whole bytes at a time where the range allows */
			if (bit % 8 == 0 && stop - bit >= 8) {
				if (set)
					*byte = 0xff;
				else if (*byte != 0xff)
					goto not_all;
				bit += 7;
				continue;
			}
			if (set)
				*byte |= mask;
			else if (!(*byte & mask))
				goto not_all;
		}
	}
	if (all)
		*all = true;
	return 0;
not_all:
	*all = false;
	return 0;
}

/* Clear the bits of a block being allocated: they may be stale. */
static int vhdx_sb_bits_clear(struct vhdx *v, uint64_t sb_off, uint64_t first,
			      uint64_t count, struct vr_err *err)
{
	uint8_t tmp[VHDX_SECTOR], *sec;
	uint64_t b = first / 8, end = (first + count) / 8;
	int rc;

	/* a block's bits start and end on bytes: sectors per block >= 256 */
	assert(first % 8 == 0 && count % 8 == 0);
	while (b < end) {
		uint64_t sec_off = sb_off + b / VHDX_SECTOR * VHDX_SECTOR;
		size_t at = (size_t)(b % VHDX_SECTOR);
		size_t n = VHDX_SECTOR - at < end - b ? VHDX_SECTOR - at
						      : (size_t)(end - b);
		size_t i;

		rc = vhdx_file_pread(v, tmp, VHDX_SECTOR, sec_off,
				     "sector bitmap", err);
		if (rc < 0)
			return rc;
		for (i = 0; i < n && tmp[at + i] == 0; i++)
			;
		if (i < n) {
			rc = vhdx_dirty_get(v, sec_off, &sec, err);
			if (rc < 0)
				return rc;
			memset(sec + at, 0, n);
		}
		b += n;
	}
	return 0;
}

/*
 * Mark sectors [@in_block, @in_block + @len) of block @block present in its
 * chunk's sector bitmap (allocating that bitmap block if the chunk has
 * none), clearing the block's other bits first if @fresh; set the block's
 * BAT entry to partially present at @foff, or fully present once every
 * sector is.
 */
static int vhdx_mark_present(struct vhdx *v, uint64_t block, uint64_t foff,
			     uint64_t in_block, uint64_t len, bool fresh,
			     struct vr_err *err)
{
	uint32_t lss = v->meta.logical_sector_size;
	uint64_t spb = v->meta.block_size / lss;
	uint64_t chunk = block / v->geo.chunk_ratio;
	uint64_t sb_index = vhdx_bat_bitmap_index(v, chunk);
	uint64_t sb_entry = v->bat[sb_index];
	uint64_t bit0 = (block % v->geo.chunk_ratio) * spb;
	uint64_t sb_off, state = VHDX_BLOCK_PARTIALLY_PRESENT;
	bool all = false;
	int rc;

	if (vhdx_bat_state(sb_entry) != VHDX_SB_PRESENT) {
		rc = vhdx_alloc(v, VHDX_SB_BLOCK_SIZE, &sb_off, err);
		if (rc == 0)
			rc = vhdx_bat_set(v, sb_index, sb_off | VHDX_SB_PRESENT,
					  err);
		if (rc < 0)
			return rc;
		fresh = false; /* a new bitmap block is all zeros */
	}
	sb_off = vhdx_bat_file_offset(v->bat[sb_index]);
	if (fresh) {
		rc = vhdx_sb_bits_clear(v, sb_off, bit0, spb, err);
		if (rc < 0)
			return rc;
	}
	rc = vhdx_sb_bits(v, sb_off, bit0 + in_block / lss, len / lss, true,
			  NULL, err);
	if (rc == 0)
		rc = vhdx_sb_bits(v, sb_off, bit0,
				  vhdx_bat_block_used(v, block) / lss, false,
				  &all, err);
	if (rc < 0)
		return rc;
	if (all)
		state = VHDX_BLOCK_FULLY_PRESENT;
	if (v->bat[vhdx_bat_payload_index(v, block)] == (foff | state))
		return 0;
	return vhdx_bat_set(v, vhdx_bat_payload_index(v, block), foff | state,
			    err);
}

/*
 * Write (or zero, @data NULL) @len bytes at @in_block of block @block.
 * Returns 0 or a negative errno; on failure *@touched says whether
 * metadata had been changed in memory (the session must then break).
 */
static int vhdx_write_block(struct vhdx *v, uint64_t block, uint64_t in_block,
			    uint64_t len, const uint8_t *data, bool *touched,
			    struct vr_err *err)
{
	uint64_t index = vhdx_bat_payload_index(v, block);
	uint64_t entry = v->bat[index], foff;
	unsigned state = vhdx_bat_state(entry);
	bool whole = in_block == 0 && len == vhdx_bat_block_used(v, block);
	bool allocated = state == VHDX_BLOCK_FULLY_PRESENT ||
			 state == VHDX_BLOCK_PARTIALLY_PRESENT;
	bool from_parent =
		v->meta.has_parent && (state == VHDX_BLOCK_NOT_PRESENT ||
				       state == VHDX_BLOCK_UNDEFINED);
	int rc;

	*touched = false;
	if (allocated) {
		rc = vhdx_session_log_or_break(v, err); /* W2 */
		if (rc < 0)
			return rc;
		foff = vhdx_bat_file_offset(entry);
		rc = vhdx_write_file(v, data, len, foff + in_block, err);
		if (rc < 0 || state == VHDX_BLOCK_FULLY_PRESENT)
			return rc;
		*touched = true;
		return vhdx_mark_present(v, block, foff, in_block, len, false,
					 err);
	}
	/* Not allocated: zeros here already, unless the parent shows through */
	if (!data && !from_parent)
		return 0;
	rc = vhdx_alloc(v, v->meta.block_size, &foff, err);
	if (rc == 0 && data)
		rc = vhdx_write_file(v, data, len, foff + in_block, err);
	if (rc < 0)
		return rc;
	*touched = true;
	/*
	 * Only sectors the parent provides can stay behind in a partially
	 * present block; elsewhere the rest of the block is the new space's
	 * zeros, which is what ZERO and UNMAPPED blocks read as.
	 */
	if (from_parent && !whole)
		return vhdx_mark_present(v, block, foff, in_block, len, true,
					 err);
	return vhdx_bat_set(v, index, foff | VHDX_BLOCK_FULLY_PRESENT, err);
}

/* Zero whole block @block of a dynamic disk by its BAT state alone. */
static int vhdx_zero_block_state(struct vhdx *v, uint64_t block, unsigned flags,
				 struct vr_err *err)
{
	struct vhdx_session *s = v->ses;
	uint64_t index = vhdx_bat_payload_index(v, block);
	uint64_t entry = v->bat[index];

	if (vhdx_bat_state(entry) != VHDX_BLOCK_FULLY_PRESENT &&
	    vhdx_bat_state(entry) != VHDX_BLOCK_PARTIALLY_PRESENT)
		return 0; /* reads as zeros already */
	if (s->nfreed == s->cap_freed) {
		size_t cap = s->cap_freed ? 2 * s->cap_freed : 16;
		void *p = reallocarray(s->freed, cap, sizeof(*s->freed));

		if (!p)
			return vr_err_set(err, -ENOMEM, "%s: out of memory",
					  v->path);
		s->freed = p;
		s->cap_freed = cap;
	}
	s->freed[s->nfreed++] = (struct vhdx_freed){
		.off = vhdx_bat_file_offset(entry),
		.len = v->meta.block_size,
	};
	return vhdx_bat_set(v, index,
			    (flags & VHDX_ZERO_UNMAP) ? VHDX_BLOCK_UNMAPPED
						      : VHDX_BLOCK_ZERO,
			    err);
}

/* vhdx_write() and vhdx_zero(): @data NULL writes zeros. */
static int vhdx_write_range(struct vhdx *v, const uint8_t *data, uint64_t len,
			    uint64_t off, unsigned flags, struct vr_err *err)
{
	uint32_t lss = v->meta.logical_sector_size;
	uint32_t bs = v->meta.block_size;
	int rc;

	assert(v);
	if (off > v->meta.virtual_size || len > v->meta.virtual_size - off)
		return vr_err_set(err, -EINVAL,
				  "%s: write of %" PRIu64 " bytes at 0x%" PRIx64
				  " is outside the disk (%" PRIu64 " bytes)",
				  v->path, len, off, v->meta.virtual_size);
	if (off % lss || len % lss)
		return vr_err_set(err, -EINVAL,
				  "%s: write of %" PRIu64 " bytes at 0x%" PRIx64
				  " is not aligned to the %" PRIu32
				  "-byte sector",
				  v->path, len, off, lss);
	if (len == 0)
		return 0;
	rc = vhdx_session_begin(v, NULL, err);
	if (rc < 0)
		return rc;
	while (len > 0) {
		uint64_t block = off / bs, in_block = off % bs;
		uint64_t n = bs - in_block < len ? bs - in_block : len;
		bool touched = false;

		if (v->ses->unlogged + VHDX_BLOCK_MAX_DIRTY >
		    v->ses->max_unlogged) {
			rc = vhdx_session_log_or_break(v, err);
			if (rc < 0)
				return rc;
		}
		if (!data && in_block == 0 &&
		    n == vhdx_bat_block_used(v, block) && !v->meta.has_parent &&
		    !v->meta.leave_blocks_allocated) {
			touched = true;
			rc = vhdx_zero_block_state(v, block, flags, err);
		} else {
			rc = vhdx_write_block(v, block, in_block, n, data,
					      &touched, err);
		}
		if (rc < 0) {
			if (touched)
				v->ses->broken = true;
			return rc;
		}
		if (data)
			data += n;
		off += n;
		len -= n;
	}
	return 0;
}

int vhdx_write(struct vhdx *v, const void *buf, size_t len, uint64_t off,
	       struct vr_err *err)
{
	assert(buf);
	return vhdx_write_range(v, buf, len, off, 0, err);
}

int vhdx_zero(struct vhdx *v, uint64_t off, uint64_t len, unsigned flags,
	      struct vr_err *err)
{
	return vhdx_write_range(v, NULL, len, off, flags, err);
}
