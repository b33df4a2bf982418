/*
 * cbt.h - change tracking: which parts of a virtual disk were written since
 * the last replication cycle. One bit per granule (64 KiB by default) of the
 * virtual disk, kept in memory while the disk is open for writing and
 * persisted atomically in a sidecar file next to the disk, "DISK.cbt"
 * (format: docs/cbt-format.md).
 *
 * A bitmap is trusted only if it is provably complete: it belongs to this
 * disk (VirtualDiskId, size), nobody wrote the disk since it was saved
 * (DataWriteGuid), its writer closed cleanly, and a cycle has made it a
 * baseline (cbt_reset()). Anything else makes it untrusted, with a reason,
 * and an untrusted bitmap reports the whole disk as changed, so no caller
 * can ever read "no changes" after a crash.
 *
 *	cbt_load(path, &id, 0, &c, &err);	the sidecar, judged against id
 *	cbt_mark(c, off, len);			every write
 *	cbt_save(c, &id_now, clean, &err);	at a cycle's flush, clean close
 *	cbt_free(c);
 */
#ifndef VR_CBT_H
#define VR_CBT_H

#include <stdbool.h>
#include <stdint.h>

struct vr_err;
struct cbt;

#define CBT_DEFAULT_GRANULARITY (64u * 1024)
#define CBT_MIN_GRANULARITY 4096u
#define CBT_MAX_GRANULARITY (64u * 1024 * 1024)

/* What the disk is now, as the bitmap must match it. */
struct cbt_identity {
	uint8_t disk_id[16];	     /* VirtualDiskId (page 83 data) */
	uint8_t data_write_guid[16]; /* changes whenever anyone writes */
	uint64_t size;		     /* virtual size, bytes */
};

/* Whether the bitmap can be trusted, or why not. Stored in the sidecar. */
enum cbt_trust {
	CBT_TRUSTED = 0,
	CBT_NO_BASELINE = 1,	   /* never reset by a cycle */
	CBT_UNCLEAN = 2,	   /* its writer did not close cleanly */
	CBT_OTHER_DISK = 3,	   /* VirtualDiskId or size differ */
	CBT_WRITTEN_ELSEWHERE = 4, /* DataWriteGuid changed behind us */
	CBT_STALE_GENERATION = 5,  /* not the generation the caller expects */
	CBT_DAMAGED = 6,	   /* sidecar unreadable or corrupt */
};

/*
 * "DISK.cbt" for @disk_path, in a new string the caller frees, or NULL when
 * out of memory.
 */
char *cbt_sidecar_path(const char *disk_path);

/*
 * Load the sidecar of @disk_path and judge it against @id. A missing or
 * corrupt sidecar is no error: it gives an empty bitmap of @granularity
 * (0: CBT_DEFAULT_GRANULARITY) that is untrusted (CBT_NO_BASELINE,
 * CBT_DAMAGED); so does one of another disk, its bits dropped. Otherwise
 * the sidecar's own granularity is kept. On success *@out is the caller's.
 * Returns 0, -EINVAL (@granularity not a power of two in range), -ENOMEM,
 * -EIO (the sidecar exists but cannot be read).
 */
int cbt_load(const char *disk_path, const struct cbt_identity *id,
	     uint32_t granularity, struct cbt **out, struct vr_err *err);

void cbt_free(struct cbt *c);

enum cbt_trust cbt_trust(const struct cbt *c);

/* "trusted", "no baseline", "writer did not close cleanly", ... */
const char *cbt_trust_reason(enum cbt_trust t);

/* Distrust the bitmap from now on (kept across saves until a reset). */
void cbt_distrust(struct cbt *c, enum cbt_trust why);

uint64_t cbt_generation(const struct cbt *c);
uint32_t cbt_granularity(const struct cbt *c);

/* Record that [@off, @off + @len) of the disk changed. */
void cbt_mark(struct cbt *c, uint64_t off, uint64_t len);

/*
 * The first changed extent at or after byte @off: *@start and *@len, in
 * bytes (granule-aligned, the last one cut at the disk's end). Returns
 * false when there is none. An untrusted bitmap reports the whole disk.
 */
bool cbt_next_extent(const struct cbt *c, uint64_t off, uint64_t *start,
		     uint64_t *len);

/*
 * A cycle shipped every change: clear the bitmap, advance the generation,
 * trust it from now on, with @granularity if not 0.
 */
int cbt_reset(struct cbt *c, uint32_t granularity, struct vr_err *err);

/* A copy of @c (taken before a reset, to undo it). Returns 0 or -ENOMEM. */
int cbt_copy(const struct cbt *c, struct cbt **out, struct vr_err *err);

/*
 * Undo cbt_reset() after the cycle it served failed: the bits of @before
 * (a copy taken just before the reset) are marked again, on top of those
 * marked since, and generation and trust are @before's. Nothing marked in
 * between is lost.
 */
void cbt_undo_reset(struct cbt *c, const struct cbt *before);

/*
 * Persist the bitmap as belonging to the disk as @id says it is now, with
 * the clean flag @clean, through vr_file_replace() (temp + fsync +
 * rename). Returns 0 or a negative errno (-ENOSPC, -EIO).
 */
int cbt_save(struct cbt *c, const struct cbt_identity *id, bool clean,
	     struct vr_err *err);

#endif /* VR_CBT_H */
