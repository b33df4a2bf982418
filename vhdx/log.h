/*
 * log.h - the VHDX metadata log ([MS-VHDX] 2.3): find the active sequence,
 * validate it, and replay it either into the file or into memory.
 * Internal to vhdx/.
 */
#ifndef VHDX_LOG_H
#define VHDX_LOG_H

#include <stddef.h>
#include <stdint.h>

struct vr_err;

/*
 * The writes of a log's active sequence, in replay order (tail to head),
 * ready to apply. Opaque.
 */
struct vhdx_log_replay;

/*
 * Where the log lives and what identifies its entries; filled from the
 * current header by the caller.
 */
struct vhdx_log_params {
	const char *path;	 /* for messages */
	int fd;			 /* read with pread() only */
	uint64_t file_size;	 /* bytes on disk now */
	uint64_t log_offset;	 /* LogOffset, multiple of 1 MiB, checked */
	uint32_t log_length;	 /* LogLength, multiple of 1 MiB, checked */
	const uint8_t *log_guid; /* 16 bytes, not all zero */
};

/*
 * Scan the log region, find the active sequence (the valid sequence with
 * the highest head sequence number whose head's Tail points inside it) and
 * load its descriptors and data sectors. Every entry of the sequence must
 * have a good signature, CRC-32C, LogGuid, length and descriptors, and
 * each data sector's sequence halves must match.
 * On success *@out holds the replay; free with vhdx_log_replay_free().
 * Returns 0, -VR_ECORRUPT (no active sequence although LogGuid is set,
 * a descriptor outside the file's valid range, FlushedFileOffset past the
 * end of the file), -ENOMEM, -EIO; @err names the file, the entry's offset
 * in the log and the problem.
 */
int vhdx_log_load(const struct vhdx_log_params *p, struct vhdx_log_replay **out,
		  struct vr_err *err);

void vhdx_log_replay_free(struct vhdx_log_replay *r);

/* Entries in the active sequence. */
unsigned vhdx_log_replay_entries(const struct vhdx_log_replay *r);

/* LastFileOffset of the head entry: the file's size after replay. */
uint64_t vhdx_log_replay_last_file_offset(const struct vhdx_log_replay *r);

/*
 * Patch @buf, which holds the file's bytes [@off, @off + @len) as they are on
 * disk, with what the replay writes there (data sectors and zero ranges, in
 * order). Used for read-only opens: the file is never touched.
 */
void vhdx_log_replay_overlay(const struct vhdx_log_replay *r, void *buf,
			     size_t len, uint64_t off);

/*
 * Apply the replay to the file: write every data and zero descriptor in
 * order, extend the file to LastFileOffset if shorter, fdatasync(). The
 * caller then clears LogGuid in the headers. Returns 0, -ENOSPC, -EIO.
 */
int vhdx_log_replay_apply(const struct vhdx_log_replay *r, int fd,
			  const char *path, struct vr_err *err);

/*
 * Writing the log (2.3.1), the half a read-write open uses for every
 * metadata change. Entries form a sequence: each names the sequence's
 * first entry as its Tail, so replay applies them all, oldest first, and
 * later entries win. The caller applies the sequence's sectors to the file
 * only at a checkpoint (flush the entries, write the sectors in place,
 * flush), then starts a new sequence with vhdx_log_writer_restart().
 *
 * A sequence never grows past half the log. So the first entry of a new
 * sequence, written at the head, never overwrites the previous sequence:
 * a torn write leaves that sequence whole, and replaying it again (it was
 * applied) changes nothing.
 */
struct vhdx_log_writer;

/* One 4 KiB sector of the file and its new content. */
struct vhdx_log_sector {
	uint64_t file_offset; /* multiple of 4096 */
	const uint8_t *data;  /* 4096 bytes, borrowed */
};

/*
 * Start writing the log described by @p (fd open for writing; log_guid the
 * GUID entries will carry, not all zero) at log offset 0 with sequence
 * number @first_sequence (> 0). Returns 0, -EINVAL, -ENOMEM.
 */
int vhdx_log_writer_new(const struct vhdx_log_params *p,
			uint64_t first_sequence, struct vhdx_log_writer **out,
			struct vr_err *err);

void vhdx_log_writer_free(struct vhdx_log_writer *w);

/*
 * How many sectors one more entry of the current sequence may carry
 * (0: none; checkpoint and restart first).
 */
size_t vhdx_log_writer_room(const struct vhdx_log_writer *w);

/*
 * Start a new sequence at the head. Only after every entry written so far
 * has been applied to the file and flushed.
 */
void vhdx_log_writer_restart(struct vhdx_log_writer *w);

/*
 * Encode @n sector updates as one entry of the current sequence (data
 * descriptors in the given order) and write it at the log's head. Does not
 * flush: the caller does before anything depends on it, and applies the
 * sectors only at a checkpoint. @flushed_file_offset and @last_file_offset
 * go into the entry header (2.3.1.1).
 * Returns 0, -EINVAL (no sectors, an unaligned offset, more sectors than
 * vhdx_log_writer_room()), -ENOMEM, -EIO, -ENOSPC.
 */
int vhdx_log_write_entry(struct vhdx_log_writer *w,
			 const struct vhdx_log_sector *sectors, size_t n,
			 uint64_t flushed_file_offset,
			 uint64_t last_file_offset, struct vr_err *err);

#endif /* VHDX_LOG_H */
