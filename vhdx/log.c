/*
 * log.c - the VHDX metadata log: scan the circular log region for the active
 * sequence, validate every entry of it, and turn its descriptors into an
 * ordered list of writes that can be applied to the file or patched into
 * reads. Spec: [MS-VHDX] section 2.3 "Log" (2.3.1 entries, 2.3.2 sequences,
 * 2.3.3 replay).
 *
 * How the active sequence is found (2.3.3): every 4 KiB position of the log
 * is a possible entry. An entry is valid when its signature, LogGuid,
 * lengths, descriptors, data sectors and CRC-32C all check. Valid entries
 * link into runs: B follows A when B starts where A ends (mod LogLength) and
 * B's SequenceNumber is A's plus one. The spec's scan tries every start and
 * extends each run as far as it goes, so every start inside a run ends at
 * the same head; checking each maximal run once, from its first entry, gives
 * the same answer in linear time. A run is a valid sequence when its head's
 * Tail is the log offset of one of its entries; replay covers the entries
 * from that tail entry through the head. The active sequence is the valid
 * one with the highest head SequenceNumber.
 *
 * Invariants of a struct vhdx_log_replay:
 *  1. writes[] is in replay order (tail entry first, descriptors in the
 *     order they appear); a later write to the same bytes wins.
 *  2. Every write's [off, off + len) ends at or before the larger of the file
 *     size at load time and the head's LastFileOffset (at most INT64_MAX),
 *     checked without overflow, so off + len never wraps.
 *  3. A data write's data points at a whole 4 KiB sector in sectors[], with
 *     LeadingBytes and TrailingBytes already put back; a zero write has
 *     data == NULL.
 *
 * Why structurally valid entries never overlap: every sector of a valid
 * entry after its first starts with a descriptor ("desc"/"zero") or a data
 * sector ("data"), never with "loge". So each position belongs to at most
 * one valid entry, a valid entry has at most one predecessor, and the cost of
 * all CRCs together is bounded by about one pass over the log.
 */
#include <config.h>
#include "log.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vr_crc.h"
#include "vr_endian.h"
#include "vr_err.h"
#include "vr_io.h"

#define VHDX_LOG_SECTOR 4096u
#define VHDX_LOG_ALIGN (1024u * 1024u) /* LogOffset and LogLength */
/*
 * The whole region is read into memory; Windows and qemu make 1 MiB logs,
 * so a larger one is more likely a damaged header than a real log.
 */
#define VHDX_LOG_MAX_LENGTH (256u * 1024u * 1024u)
/* Zero descriptors are written from a buffer of this size. */
#define VHDX_LOG_ZERO_CHUNK (1024u * 1024u)

/* Signatures, as the little-endian u32 of their ASCII bytes */
#define VHDX_LOG_SIG_ENTRY 0x65676f6cu /* "loge" */
#define VHDX_LOG_SIG_ZERO 0x6f72657au  /* "zero" */
#define VHDX_LOG_SIG_DESC 0x63736564u  /* "desc" */
#define VHDX_LOG_SIG_DATA 0x61746164u  /* "data" */

/* Entry header, 2.3.1.1 */
#define VHDX_LOG_HDR_SIGNATURE 0	    /* u32, "loge" */
#define VHDX_LOG_HDR_CHECKSUM 4		    /* u32, CRC-32C of the entry */
#define VHDX_LOG_HDR_ENTRY_LENGTH 8	    /* u32, multiple of 4 KiB */
#define VHDX_LOG_HDR_TAIL 12		    /* u32, log offset, 4 KiB aligned */
#define VHDX_LOG_HDR_SEQUENCE 16	    /* u64, > 0 */
#define VHDX_LOG_HDR_DESC_COUNT 24	    /* u32, may be 0 */
#define VHDX_LOG_HDR_RESERVED 28	    /* u32, 0 */
#define VHDX_LOG_HDR_LOG_GUID 32	    /* 16 bytes */
#define VHDX_LOG_HDR_FLUSHED_FILE_OFFSET 48 /* u64 */
#define VHDX_LOG_HDR_LAST_FILE_OFFSET 56    /* u64 */
#define VHDX_LOG_HDR_SIZE 64
_Static_assert(VHDX_LOG_HDR_LAST_FILE_OFFSET + 8 == VHDX_LOG_HDR_SIZE,
	       "log entry header layout");

/* Zero descriptor 2.3.1.2 and data descriptor 2.3.1.3 share this layout */
#define VHDX_LOG_DESC_SIGNATURE 0 /* u32, "zero" or "desc" */
#define VHDX_LOG_ZERO_RESERVED 4  /* u32, 0 */
#define VHDX_LOG_ZERO_LENGTH 8	  /* u64, multiple of 4 KiB */
#define VHDX_LOG_DESC_TRAILING 4  /* 4 bytes: bytes 4092-4095 of the sector */
#define VHDX_LOG_DESC_LEADING 8	  /* 8 bytes: bytes 0-7 of the sector */
#define VHDX_LOG_DESC_FILE_OFFSET 16 /* u64, multiple of 4 KiB */
#define VHDX_LOG_DESC_SEQUENCE 24    /* u64, the entry's SequenceNumber */
#define VHDX_LOG_DESC_SIZE 32
_Static_assert(VHDX_LOG_DESC_SEQUENCE + 8 == VHDX_LOG_DESC_SIZE,
	       "log descriptor layout");
_Static_assert(VHDX_LOG_SECTOR % VHDX_LOG_DESC_SIZE == 0 &&
		       VHDX_LOG_HDR_SIZE % VHDX_LOG_DESC_SIZE == 0,
	       "a descriptor never straddles a sector");

/* Data sector, 2.3.1.4 */
#define VHDX_LOG_DATA_SIGNATURE 0  /* u32, "data" */
#define VHDX_LOG_DATA_SEQ_HIGH 4   /* u32, SequenceNumber >> 32 */
#define VHDX_LOG_DATA_DATA 8	   /* 4084 bytes: bytes 8-4091 of the sector */
#define VHDX_LOG_DATA_SEQ_LOW 4092 /* u32, low half of SequenceNumber */
#define VHDX_LOG_LEADING_LEN 8
#define VHDX_LOG_TRAILING_LEN 4
#define VHDX_LOG_DATA_LEN (VHDX_LOG_DATA_SEQ_LOW - VHDX_LOG_DATA_DATA)
_Static_assert(VHDX_LOG_DATA_SEQ_LOW + 4 == VHDX_LOG_SECTOR,
	       "log data sector layout");
_Static_assert(VHDX_LOG_LEADING_LEN + VHDX_LOG_DATA_LEN +
			       VHDX_LOG_TRAILING_LEN ==
		       VHDX_LOG_SECTOR,
	       "a data descriptor rebuilds one whole sector");

/* One write of the replay; see the invariants above. */
struct vhdx_log_write {
	uint64_t off;
	uint64_t len;
	const uint8_t *data; /* VHDX_LOG_SECTOR bytes, or NULL for zeros */
};

struct vhdx_log_replay {
	struct vhdx_log_write *writes;
	size_t nwrites;
	uint8_t *sectors; /* the rebuilt data sectors, owned */
	unsigned entries;
	uint64_t last_file_offset; /* of the head entry */
};

/* What the scan learnt about the entry at one 4 KiB position. */
struct vhdx_log_slot {
	bool valid;
	bool has_prev; /* a valid entry with SequenceNumber - 1 ends here */
	uint32_t length;
	uint32_t tail;
	uint32_t desc_count;
	uint32_t data_count;
	uint64_t seq;
	uint64_t flushed_file_offset;
	uint64_t last_file_offset;
};

struct vhdx_log_scan {
	const uint8_t *log; /* the whole region */
	uint32_t len;	    /* LogLength */
	const uint8_t *guid;
	struct vhdx_log_slot *slots; /* one per 4 KiB position */
	uint32_t nslots;

	/*
	 * Why no sequence is valid, if none is: the problem of the rejected
	 * entry carrying the current LogGuid with the highest SequenceNumber,
	 * the one most likely meant to be the head.
	 */
	bool have_problem;
	uint64_t problem_seq;
	char problem[200];
};

/*
 * Address of byte @off of the entry at log offset @pos. The log is circular,
 * so an entry may run past the end of the region and go on at its start;
 * both values are below LogLength, so the sum cannot overflow a u64.
 */
static const uint8_t *vhdx_log_at(const struct vhdx_log_scan *s, uint32_t pos,
				  uint64_t off)
{
	return s->log + ((uint64_t)pos + off) % s->len;
}

/*
 * Remember why the entry at @pos was rejected, if it is the most relevant
 * problem so far. Returns false, so a check can end in "return note(...)".
 */
static bool vhdx_log_note(struct vhdx_log_scan *s, uint32_t pos, uint64_t seq,
			  const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static bool vhdx_log_note(struct vhdx_log_scan *s, uint32_t pos, uint64_t seq,
			  const char *fmt, ...)
{
	va_list ap;
	int n;

	if (s->have_problem && seq <= s->problem_seq)
		return false;
	s->have_problem = true;
	s->problem_seq = seq;
	n = snprintf(s->problem, sizeof(s->problem),
		     "log entry at log offset 0x%" PRIx32 ": ", pos);
	if (n < 0 || (size_t)n >= sizeof(s->problem))
		return false;
	va_start(ap, fmt);
	vsnprintf(s->problem + n, sizeof(s->problem) - (size_t)n, fmt, ap);
	va_end(ap);
	return false;
}

/* CRC-32C of @n bytes of the log from log offset @start, wrapping. */
static uint32_t vhdx_log_crc_range(const struct vhdx_log_scan *s, uint32_t crc,
				   uint32_t start, uint64_t n)
{
	/* n <= LogLength, so this runs at most twice */
	while (n > 0) {
		uint64_t piece = s->len - start;

		if (piece > n)
			piece = n;
		crc = vr_crc32c(crc, s->log + start, (size_t)piece);
		start = (uint32_t)(((uint64_t)start + piece) % s->len);
		n -= piece;
	}
	return crc;
}

/*
 * The entry's CRC-32C with its Checksum field counted as zero. Four zero
 * bytes are fed in the field's place, which gives the CRC of the zeroed copy
 * without writing to any buffer.
 */
static uint32_t vhdx_log_entry_crc(const struct vhdx_log_scan *s, uint32_t pos,
				   uint32_t length)
{
	static const uint8_t zero[4];
	uint32_t crc;

	crc = vr_crc32c(0, s->log + pos, VHDX_LOG_HDR_CHECKSUM);
	crc = vr_crc32c(crc, zero, sizeof(zero));
	return vhdx_log_crc_range(s, crc, pos + VHDX_LOG_HDR_CHECKSUM + 4,
				  length - VHDX_LOG_HDR_CHECKSUM - 4);
}

/* Sectors taken by the header and @desc_count descriptors. */
static uint64_t vhdx_log_desc_sectors(uint32_t desc_count)
{
	uint64_t bytes =
		VHDX_LOG_HDR_SIZE + (uint64_t)desc_count * VHDX_LOG_DESC_SIZE;

	return (bytes + VHDX_LOG_SECTOR - 1) / VHDX_LOG_SECTOR;
}

/* Check descriptor @i of the entry @e at @pos; counts data descriptors. */
static bool vhdx_log_desc_check(struct vhdx_log_scan *s, uint32_t pos,
				const struct vhdx_log_slot *e, uint32_t i,
				uint32_t *data_count)
{
	const uint8_t *d = vhdx_log_at(
		s, pos, VHDX_LOG_HDR_SIZE + (uint64_t)i * VHDX_LOG_DESC_SIZE);
	uint32_t sig = vr_get_le32(d + VHDX_LOG_DESC_SIGNATURE);
	uint64_t seq = vr_get_le64(d + VHDX_LOG_DESC_SEQUENCE);
	uint64_t off = vr_get_le64(d + VHDX_LOG_DESC_FILE_OFFSET);

	if (sig != VHDX_LOG_SIG_DESC && sig != VHDX_LOG_SIG_ZERO)
		return vhdx_log_note(s, pos, e->seq,
				     "descriptor %" PRIu32
				     ": bad signature 0x%08" PRIx32,
				     i, sig);
	if (seq != e->seq)
		return vhdx_log_note(
			s, pos, e->seq,
			"descriptor %" PRIu32
			": sequence number mismatch (expected %" PRIu64
			", found %" PRIu64 ")",
			i, e->seq, seq);
	if (off % VHDX_LOG_SECTOR != 0)
		return vhdx_log_note(s, pos, e->seq,
				     "descriptor %" PRIu32
				     ": file offset 0x%" PRIx64
				     " is not a multiple of 4096",
				     i, off);
	if (sig == VHDX_LOG_SIG_DESC) {
		(*data_count)++;
		return true;
	}
	if (vr_get_le32(d + VHDX_LOG_ZERO_RESERVED) != 0)
		return vhdx_log_note(
			s, pos, e->seq,
			"descriptor %" PRIu32
			": reserved field is not zero (found 0x%08" PRIx32 ")",
			i, vr_get_le32(d + VHDX_LOG_ZERO_RESERVED));
	if (vr_get_le64(d + VHDX_LOG_ZERO_LENGTH) % VHDX_LOG_SECTOR != 0)
		return vhdx_log_note(s, pos, e->seq,
				     "descriptor %" PRIu32
				     ": zero length 0x%" PRIx64
				     " is not a multiple of 4096",
				     i, vr_get_le64(d + VHDX_LOG_ZERO_LENGTH));
	return true;
}

/* Check the data sector of the @i-th data descriptor of @e at @pos. */
static bool vhdx_log_data_check(struct vhdx_log_scan *s, uint32_t pos,
				const struct vhdx_log_slot *e, uint32_t i)
{
	uint64_t sector = vhdx_log_desc_sectors(e->desc_count) + i;
	const uint8_t *ds = vhdx_log_at(s, pos, sector * VHDX_LOG_SECTOR);
	uint32_t sig = vr_get_le32(ds + VHDX_LOG_DATA_SIGNATURE);
	uint32_t high = vr_get_le32(ds + VHDX_LOG_DATA_SEQ_HIGH);
	uint32_t low = vr_get_le32(ds + VHDX_LOG_DATA_SEQ_LOW);

	if (sig != VHDX_LOG_SIG_DATA)
		return vhdx_log_note(s, pos, e->seq,
				     "data sector %" PRIu32
				     ": bad signature 0x%08" PRIx32,
				     i, sig);
	if (high != (uint32_t)(e->seq >> 32))
		return vhdx_log_note(
			s, pos, e->seq,
			"data sector %" PRIu32
			": SequenceHigh mismatch (expected 0x%08" PRIx32
			", found 0x%08" PRIx32 ")",
			i, (uint32_t)(e->seq >> 32), high);
	if (low != (uint32_t)e->seq)
		return vhdx_log_note(
			s, pos, e->seq,
			"data sector %" PRIu32
			": SequenceLow mismatch (expected 0x%08" PRIx32
			", found 0x%08" PRIx32 ")",
			i, (uint32_t)e->seq, low);
	return true;
}

/*
 * Decode and check the entry at log offset @pos into @e. Returns whether it
 * is a valid entry of the current log. Sectors that are not entries and
 * entries of an earlier log (another LogGuid) are skipped silently: stale
 * entries are normal, 2.3.1.1 says they "MUST NOT be considered valid".
 * The CRC comes last, after the structure has bounded the work.
 */
static bool vhdx_log_entry_check(struct vhdx_log_scan *s, uint32_t pos,
				 struct vhdx_log_slot *e)
{
	const uint8_t *h = s->log + pos;
	uint32_t i, data_count = 0, stored, crc;
	uint64_t desc_sectors, expect;

	if (vr_get_le32(h + VHDX_LOG_HDR_SIGNATURE) != VHDX_LOG_SIG_ENTRY)
		return false;
	if (memcmp(h + VHDX_LOG_HDR_LOG_GUID, s->guid, 16) != 0)
		return false;
	e->length = vr_get_le32(h + VHDX_LOG_HDR_ENTRY_LENGTH);
	e->tail = vr_get_le32(h + VHDX_LOG_HDR_TAIL);
	e->seq = vr_get_le64(h + VHDX_LOG_HDR_SEQUENCE);
	e->desc_count = vr_get_le32(h + VHDX_LOG_HDR_DESC_COUNT);
	e->flushed_file_offset =
		vr_get_le64(h + VHDX_LOG_HDR_FLUSHED_FILE_OFFSET);
	e->last_file_offset = vr_get_le64(h + VHDX_LOG_HDR_LAST_FILE_OFFSET);

	if (e->seq == 0)
		return vhdx_log_note(s, pos, e->seq, "sequence number is 0");
	if (vr_get_le32(h + VHDX_LOG_HDR_RESERVED) != 0)
		return vhdx_log_note(
			s, pos, e->seq,
			"reserved field is not zero (found 0x%08" PRIx32 ")",
			vr_get_le32(h + VHDX_LOG_HDR_RESERVED));
	if (e->length == 0 || e->length % VHDX_LOG_SECTOR != 0)
		return vhdx_log_note(s, pos, e->seq,
				     "entry length 0x%" PRIx32
				     " is not a non-zero multiple of 4096",
				     e->length);
	if (e->length > s->len)
		return vhdx_log_note(s, pos, e->seq,
				     "entry length 0x%" PRIx32
				     " is larger than the log (0x%" PRIx32
				     " bytes)",
				     e->length, s->len);
	if (e->tail % VHDX_LOG_SECTOR != 0 || e->tail >= s->len)
		return vhdx_log_note(
			s, pos, e->seq,
			"tail 0x%" PRIx32
			" is not a 4 KiB aligned offset in the log (0x%" PRIx32
			" bytes)",
			e->tail, s->len);
	desc_sectors = vhdx_log_desc_sectors(e->desc_count);
	if (desc_sectors > e->length / VHDX_LOG_SECTOR)
		return vhdx_log_note(s, pos, e->seq,
				     "descriptor count %" PRIu32
				     " does not fit in entry length 0x%" PRIx32,
				     e->desc_count, e->length);
	/* bounded: desc_count < EntryLength / 32 <= LogLength / 32 */
	for (i = 0; i < e->desc_count; i++)
		if (!vhdx_log_desc_check(s, pos, e, i, &data_count))
			return false;
	expect = (desc_sectors + data_count) * VHDX_LOG_SECTOR;
	if (expect != e->length)
		return vhdx_log_note(s, pos, e->seq,
				     "entry length does not match its %" PRIu32
				     " descriptors (expected 0x%" PRIx64
				     ", found 0x%" PRIx32 ")",
				     e->desc_count, expect, e->length);
	e->data_count = data_count;
	for (i = 0; i < data_count; i++)
		if (!vhdx_log_data_check(s, pos, e, i))
			return false;
	stored = vr_get_le32(h + VHDX_LOG_HDR_CHECKSUM);
	crc = vhdx_log_entry_crc(s, pos, e->length);
	if (crc != stored)
		return vhdx_log_note(s, pos, e->seq,
				     "checksum mismatch (expected 0x%08" PRIx32
				     ", found 0x%08" PRIx32 ")",
				     crc, stored);
	e->valid = true;
	return true;
}

/* The slot right after valid slot @i, if it continues @i's sequence. */
static bool vhdx_log_next(const struct vhdx_log_scan *s, uint32_t i,
			  uint32_t *next)
{
	const struct vhdx_log_slot *e = &s->slots[i];
	uint64_t end = (uint64_t)i * VHDX_LOG_SECTOR + e->length;
	uint32_t j = (uint32_t)(end % s->len / VHDX_LOG_SECTOR);

	/* UINT64_MAX has no successor: 0 is not a valid SequenceNumber */
	if (!s->slots[j].valid || e->seq == UINT64_MAX ||
	    s->slots[j].seq != e->seq + 1)
		return false;
	*next = j;
	return true;
}

/*
 * Find the active sequence: on success *@tail_slot is its tail entry, *@count
 * its length in entries and *@head_slot its head. Returns false if there is
 * none, with the reason noted in @s.
 */
static bool vhdx_log_find_active(struct vhdx_log_scan *s, uint32_t *tail_slot,
				 uint32_t *count, uint32_t *head_slot)
{
	bool found = false;
	uint64_t best_seq = 0;
	uint32_t i, j;

	for (i = 0; i < s->nslots; i++)
		vhdx_log_entry_check(s, i * VHDX_LOG_SECTOR, &s->slots[i]);
	for (i = 0; i < s->nslots; i++)
		if (s->slots[i].valid && vhdx_log_next(s, i, &j))
			s->slots[j].has_prev = true;

	/*
	 * Walk each maximal run from its first entry. Runs cannot loop (the
	 * sequence number only grows) and valid entries do not overlap, so a
	 * run has at most nslots entries; the bound holds regardless.
	 */
	for (i = 0; i < s->nslots; i++) {
		const struct vhdx_log_slot *head;
		uint32_t n = 1, cur = i, k, tail = 0;
		bool tail_found = false;

		if (!s->slots[i].valid || s->slots[i].has_prev)
			continue;
		while (n < s->nslots && vhdx_log_next(s, cur, &j)) {
			cur = j;
			n++;
		}
		head = &s->slots[cur];
		for (k = 0, j = i; k < n; k++) {
			if ((uint64_t)j * VHDX_LOG_SECTOR == head->tail) {
				tail_found = true;
				tail = k;
				break;
			}
			if (!vhdx_log_next(s, j, &j))
				break;
		}
		if (!tail_found) {
			vhdx_log_note(s, cur * VHDX_LOG_SECTOR, head->seq,
				      "tail 0x%" PRIx32
				      " is not an entry of its sequence",
				      head->tail);
			continue;
		}
		if (found && head->seq <= best_seq)
			continue;
		found = true;
		best_seq = head->seq;
		*tail_slot = head->tail / VHDX_LOG_SECTOR;
		*count = n - tail;
		*head_slot = cur;
	}
	return found;
}

/*
 * Turn the @count entries from @tail_slot on into writes in @r. @limit is
 * the file size replay may write up to.
 */
static int vhdx_log_collect(const struct vhdx_log_params *p,
			    const struct vhdx_log_scan *s, uint32_t tail_slot,
			    uint32_t count, uint64_t limit,
			    struct vhdx_log_replay *r, struct vr_err *err)
{
	uint64_t ndesc = 0, ndata = 0;
	uint32_t slot = tail_slot, k, i;
	uint8_t *sector;

	for (k = 0; k < count; k++) {
		const struct vhdx_log_slot *e = &s->slots[slot];

		ndesc += e->desc_count;
		ndata += e->data_count;
		vhdx_log_next(s, slot, &slot);
	}
	/* both are below LogLength / 32, far from overflowing a size_t */
	if (ndesc > 0) {
		r->writes = calloc((size_t)ndesc, sizeof(*r->writes));
		if (!r->writes)
			return vr_err_set(err, -ENOMEM,
					  "%s: out of memory for %" PRIu64
					  " log descriptors",
					  p->path, ndesc);
	}
	if (ndata > 0) {
		r->sectors = calloc((size_t)ndata, VHDX_LOG_SECTOR);
		if (!r->sectors)
			return vr_err_set(err, -ENOMEM,
					  "%s: out of memory for %" PRIu64
					  " log data sectors",
					  p->path, ndata);
	}

	sector = r->sectors;
	slot = tail_slot;
	for (k = 0; k < count; k++) {
		const struct vhdx_log_slot *e = &s->slots[slot];
		uint32_t pos = slot * VHDX_LOG_SECTOR, data_index = 0;
		uint64_t desc_sectors = vhdx_log_desc_sectors(e->desc_count);

		for (i = 0; i < e->desc_count; i++) {
			const uint8_t *d = vhdx_log_at(
				s, pos,
				VHDX_LOG_HDR_SIZE +
					(uint64_t)i * VHDX_LOG_DESC_SIZE);
			struct vhdx_log_write *w = &r->writes[r->nwrites];
			const uint8_t *ds;

			w->off = vr_get_le64(d + VHDX_LOG_DESC_FILE_OFFSET);
			if (vr_get_le32(d + VHDX_LOG_DESC_SIGNATURE) ==
			    VHDX_LOG_SIG_ZERO) {
				w->len = vr_get_le64(d + VHDX_LOG_ZERO_LENGTH);
				w->data = NULL;
			} else {
				ds = vhdx_log_at(s, pos,
						 (desc_sectors + data_index) *
							 VHDX_LOG_SECTOR);
				memcpy(sector, d + VHDX_LOG_DESC_LEADING,
				       VHDX_LOG_LEADING_LEN);
				memcpy(sector + VHDX_LOG_LEADING_LEN,
				       ds + VHDX_LOG_DATA_DATA,
				       VHDX_LOG_DATA_LEN);
				memcpy(sector + VHDX_LOG_LEADING_LEN +
					       VHDX_LOG_DATA_LEN,
				       d + VHDX_LOG_DESC_TRAILING,
				       VHDX_LOG_TRAILING_LEN);
				w->len = VHDX_LOG_SECTOR;
				w->data = sector;
				sector += VHDX_LOG_SECTOR;
				data_index++;
			}
			/*
			 * 2.3.3 lets descriptors reach past the current end
			 * of file (replay extends it), but not past the size
			 * the head entry says all structures fit into.
			 */
			if (w->off > limit || w->len > limit - w->off)
				return vr_err_set(
					err, -VR_ECORRUPT,
					"%s: log entry at log offset 0x%" PRIx32
					": descriptor %" PRIu32
					" writes 0x%" PRIx64
					" bytes at 0x%" PRIx64
					", past the end of the file after replay (%" PRIu64
					" bytes)",
					p->path, pos, i, w->len, w->off, limit);
			r->nwrites++;
		}
		vhdx_log_next(s, slot, &slot);
	}
	return 0;
}

/* Read the whole log region into a new buffer in *@out. */
static int vhdx_log_read(const struct vhdx_log_params *p, uint8_t **out,
			 struct vr_err *err)
{
	uint64_t end;
	uint8_t *buf;
	ssize_t n;

	/* vr_pread_full() refuses ends past INT64_MAX: no file is so long */
	if (__builtin_add_overflow(p->log_offset, (uint64_t)p->log_length,
				   &end) ||
	    end > INT64_MAX)
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: log region truncated (file is %" PRIu64
				  " bytes)",
				  p->path, p->file_size);
	buf = malloc(p->log_length);
	if (!buf)
		return vr_err_set(err, -ENOMEM,
				  "%s: out of memory for a log of %" PRIu32
				  " bytes",
				  p->path, p->log_length);
	n = vr_pread_full(p->fd, buf, p->log_length, p->log_offset);
	if (n < 0) {
		free(buf);
		return vr_err_set(err, (int)n,
				  "%s: cannot read log region at 0x%" PRIx64
				  ": %s",
				  p->path, p->log_offset, strerror((int)-n));
	}
	if ((size_t)n < p->log_length) {
		free(buf);
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: log region truncated (file is %" PRIu64
				  " bytes)",
				  p->path, p->log_offset + (uint64_t)n);
	}
	*out = buf;
	return 0;
}

static bool vhdx_log_guid_is_zero(const uint8_t *guid)
{
	size_t i;

	for (i = 0; i < 16; i++)
		if (guid[i] != 0)
			return false;
	return true;
}

int vhdx_log_load(const struct vhdx_log_params *p, struct vhdx_log_replay **out,
		  struct vr_err *err)
{
	struct vhdx_log_scan s = { 0 };
	struct vhdx_log_replay *r = NULL;
	const struct vhdx_log_slot *head;
	uint32_t tail_slot = 0, count = 0, head_slot = 0;
	uint8_t *log = NULL;
	uint64_t limit;
	int rc;

	assert(p && out && p->path && p->log_guid);
	if (p->log_length == 0 || p->log_length % VHDX_LOG_ALIGN != 0 ||
	    p->log_offset % VHDX_LOG_ALIGN != 0)
		return vr_err_set(err, -EINVAL,
				  "%s: log at 0x%" PRIx64 ", 0x%" PRIx32
				  " bytes, is not a whole number of MiB",
				  p->path, p->log_offset, p->log_length);
	if (vhdx_log_guid_is_zero(p->log_guid))
		return vr_err_set(err, -EINVAL,
				  "%s: no log to replay (LogGuid is zero)",
				  p->path);
	if (p->log_length > VHDX_LOG_MAX_LENGTH)
		return vr_err_set(
			err, -ENOTSUP,
			"%s: log of %" PRIu32
			" bytes is larger than the %u bytes supported",
			p->path, p->log_length, VHDX_LOG_MAX_LENGTH);

	rc = vhdx_log_read(p, &log, err);
	if (rc < 0)
		return rc;
	s.log = log;
	s.len = p->log_length;
	s.guid = p->log_guid;
	s.nslots = p->log_length / VHDX_LOG_SECTOR;
	s.slots = calloc(s.nslots, sizeof(*s.slots));
	if (!s.slots) {
		rc = vr_err_set(err, -ENOMEM, "%s: out of memory", p->path);
		goto out;
	}

	/*
	 * A torn head entry (bad CRC, missing data sector) is not valid, so
	 * its sequence ends before it and the earlier complete sequence is
	 * replayed, as 2.3.3 intends. Only when nothing valid is left is it
	 * an error, and the message then names the entry that failed.
	 */
	if (!vhdx_log_find_active(&s, &tail_slot, &count, &head_slot)) {
		if (s.have_problem)
			rc = vr_err_set(err, -VR_ECORRUPT,
					"%s: no valid log sequence: %s",
					p->path, s.problem);
		else
			rc = vr_err_set(
				err, -VR_ECORRUPT,
				"%s: no valid log sequence (no entry has the current LogGuid)",
				p->path);
		goto out;
	}
	head = &s.slots[head_slot];
	if (p->file_size < head->flushed_file_offset) {
		rc = vr_err_set(
			err, -VR_ECORRUPT,
			"%s: log entry at log offset 0x%" PRIx32
			": file is shorter than FlushedFileOffset (expected at least %" PRIu64
			" bytes, found %" PRIu64 ")",
			p->path, head_slot * VHDX_LOG_SECTOR,
			head->flushed_file_offset, p->file_size);
		goto out;
	}
	if (head->last_file_offset > INT64_MAX) {
		rc = vr_err_set(err, -VR_ECORRUPT,
				"%s: log entry at log offset 0x%" PRIx32
				": LastFileOffset 0x%" PRIx64
				" is past the largest file offset",
				p->path, head_slot * VHDX_LOG_SECTOR,
				head->last_file_offset);
		goto out;
	}
	limit = p->file_size > head->last_file_offset ? p->file_size
						      : head->last_file_offset;

	r = calloc(1, sizeof(*r));
	if (!r) {
		rc = vr_err_set(err, -ENOMEM, "%s: out of memory", p->path);
		goto out;
	}
	rc = vhdx_log_collect(p, &s, tail_slot, count, limit, r, err);
	if (rc < 0)
		goto out;
	r->entries = count;
	r->last_file_offset = head->last_file_offset;
	*out = r;
	r = NULL;
out:
	vhdx_log_replay_free(r);
	free(s.slots);
	free(log);
	return rc;
}

void vhdx_log_replay_free(struct vhdx_log_replay *r)
{
	if (!r)
		return;
	free(r->writes);
	free(r->sectors);
	free(r);
}

unsigned vhdx_log_replay_entries(const struct vhdx_log_replay *r)
{
	assert(r);
	return r->entries;
}

uint64_t vhdx_log_replay_last_file_offset(const struct vhdx_log_replay *r)
{
	assert(r);
	return r->last_file_offset;
}

void vhdx_log_replay_overlay(const struct vhdx_log_replay *r, void *buf,
			     size_t len, uint64_t off)
{
	uint8_t *b = buf;
	uint64_t end;
	size_t i;

	assert(r && (buf || len == 0));
	/* a range past UINT64_MAX is a caller bug; clamp rather than wrap */
	if (__builtin_add_overflow(off, (uint64_t)len, &end))
		end = UINT64_MAX;
	for (i = 0; i < r->nwrites; i++) {
		const struct vhdx_log_write *w = &r->writes[i];
		uint64_t lo = w->off > off ? w->off : off;
		uint64_t hi = w->off + w->len < end ? w->off + w->len : end;

		if (lo >= hi)
			continue;
		if (w->data)
			memcpy(b + (lo - off), w->data + (lo - w->off),
			       (size_t)(hi - lo));
		else
			memset(b + (lo - off), 0, (size_t)(hi - lo));
	}
}

/* Write @len zero bytes at @off from @zeros, VHDX_LOG_ZERO_CHUNK at a time. */
static ssize_t vhdx_log_write_zeros(int fd, const uint8_t *zeros, uint64_t len,
				    uint64_t off)
{
	while (len > 0) {
		size_t piece = len < VHDX_LOG_ZERO_CHUNK ? (size_t)len
							 : VHDX_LOG_ZERO_CHUNK;
		ssize_t n = vr_pwrite_full(fd, zeros, piece, off);

		if (n < 0)
			return n;
		off += piece;
		len -= piece;
	}
	return 0;
}

int vhdx_log_replay_apply(const struct vhdx_log_replay *r, int fd,
			  const char *path, struct vr_err *err)
{
	uint8_t *zeros = NULL;
	struct stat st;
	size_t i;
	int rc = 0;

	assert(r && path);
	for (i = 0; i < r->nwrites; i++) {
		const struct vhdx_log_write *w = &r->writes[i];
		ssize_t n;

		if (w->data) {
			n = vr_pwrite_full(fd, w->data, (size_t)w->len, w->off);
		} else {
			if (!zeros)
				zeros = calloc(1, VHDX_LOG_ZERO_CHUNK);
			if (!zeros) {
				rc = vr_err_set(err, -ENOMEM,
						"%s: out of memory", path);
				goto out;
			}
			n = vhdx_log_write_zeros(fd, zeros, w->len, w->off);
		}
		if (n < 0) {
			rc = vr_err_set(
				err, (int)n,
				"%s: log replay: cannot write 0x%" PRIx64
				" bytes at 0x%" PRIx64 ": %s",
				path, w->len, w->off, strerror((int)-n));
			goto out;
		}
	}
	/* 2.3.3: the file must end up at least LastFileOffset bytes long */
	if (fstat(fd, &st) < 0) {
		rc = vr_err_set(err, -errno, "%s: log replay: fstat: %s", path,
				strerror(errno));
		goto out;
	}
	if ((uint64_t)st.st_size < r->last_file_offset &&
	    ftruncate(fd, (off_t)r->last_file_offset) < 0) {
		rc = vr_err_set(
			err, -errno,
			"%s: log replay: cannot extend the file to %" PRIu64
			" bytes: %s",
			path, r->last_file_offset, strerror(errno));
		goto out;
	}
	/* the caller clears LogGuid next; the replayed data must be stable */
	if (fdatasync(fd) < 0)
		rc = vr_err_set(err, -errno, "%s: log replay: fdatasync: %s",
				path, strerror(errno));
out:
	free(zeros);
	return rc;
}

/* ---- writing ---- */

struct vhdx_log_writer {
	const char *path;
	int fd;
	uint64_t log_offset;
	uint32_t log_length;
	uint8_t log_guid[16];
	uint32_t head;	   /* log offset the next entry starts at */
	uint32_t tail;	   /* log offset of the sequence's first entry */
	uint32_t used;	   /* bytes from tail to head */
	uint64_t sequence; /* SequenceNumber of the next entry */
};

int vhdx_log_writer_new(const struct vhdx_log_params *p,
			uint64_t first_sequence, struct vhdx_log_writer **out,
			struct vr_err *err)
{
	struct vhdx_log_writer *w;

	assert(p && p->path && p->log_guid && out);
	if (p->log_length == 0 || p->log_length % VHDX_LOG_ALIGN ||
	    p->log_offset % VHDX_LOG_ALIGN || first_sequence == 0 ||
	    vhdx_log_guid_is_zero(p->log_guid))
		return vr_err_set(err, -EINVAL,
				  "%s: log writer: bad log geometry, GUID or "
				  "sequence",
				  p->path);
	w = calloc(1, sizeof(*w));
	if (!w)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", p->path);
	w->path = p->path;
	w->fd = p->fd;
	w->log_offset = p->log_offset;
	w->log_length = p->log_length;
	memcpy(w->log_guid, p->log_guid, 16);
	w->sequence = first_sequence;
	*out = w;
	return 0;
}

void vhdx_log_writer_free(struct vhdx_log_writer *w)
{
	free(w);
}

/* Bytes of an entry carrying @n sectors. */
static uint64_t vhdx_log_entry_bytes(size_t n)
{
	return (vhdx_log_desc_sectors((uint32_t)n) + n) * VHDX_LOG_SECTOR;
}

size_t vhdx_log_writer_room(const struct vhdx_log_writer *w)
{
	uint32_t left = w->log_length / 2 - w->used;
	size_t n = left / VHDX_LOG_SECTOR;

	/* n sectors need at least one descriptor sector besides */
	while (n > 0 && vhdx_log_entry_bytes(n) > left)
		n--;
	return n;
}

void vhdx_log_writer_restart(struct vhdx_log_writer *w)
{
	w->tail = w->head;
	w->used = 0;
}

/* Header, descriptors and data sectors of one entry into @buf. */
static void vhdx_log_entry_encode(const struct vhdx_log_writer *w,
				  const struct vhdx_log_sector *sectors,
				  size_t n, uint64_t flushed, uint64_t last,
				  uint8_t *buf, size_t len)
{
	size_t desc_bytes =
		(size_t)vhdx_log_desc_sectors((uint32_t)n) * VHDX_LOG_SECTOR;
	size_t i;

	memset(buf, 0, len);
	vr_put_le32(buf + VHDX_LOG_HDR_SIGNATURE, VHDX_LOG_SIG_ENTRY);
	vr_put_le32(buf + VHDX_LOG_HDR_ENTRY_LENGTH, (uint32_t)len);
	vr_put_le32(buf + VHDX_LOG_HDR_TAIL, w->tail);
	vr_put_le64(buf + VHDX_LOG_HDR_SEQUENCE, w->sequence);
	vr_put_le32(buf + VHDX_LOG_HDR_DESC_COUNT, (uint32_t)n);
	memcpy(buf + VHDX_LOG_HDR_LOG_GUID, w->log_guid, 16);
	vr_put_le64(buf + VHDX_LOG_HDR_FLUSHED_FILE_OFFSET, flushed);
	vr_put_le64(buf + VHDX_LOG_HDR_LAST_FILE_OFFSET, last);
	for (i = 0; i < n; i++) {
		uint8_t *d = buf + VHDX_LOG_HDR_SIZE + i * VHDX_LOG_DESC_SIZE;
		uint8_t *sec = buf + desc_bytes + i * VHDX_LOG_SECTOR;
		const uint8_t *data = sectors[i].data;

		vr_put_le32(d + VHDX_LOG_DESC_SIGNATURE, VHDX_LOG_SIG_DESC);
		memcpy(d + VHDX_LOG_DESC_TRAILING,
		       data + VHDX_LOG_SECTOR - VHDX_LOG_TRAILING_LEN,
		       VHDX_LOG_TRAILING_LEN);
		memcpy(d + VHDX_LOG_DESC_LEADING, data, VHDX_LOG_LEADING_LEN);
		vr_put_le64(d + VHDX_LOG_DESC_FILE_OFFSET,
			    sectors[i].file_offset);
		vr_put_le64(d + VHDX_LOG_DESC_SEQUENCE, w->sequence);
		vr_put_le32(sec + VHDX_LOG_DATA_SIGNATURE, VHDX_LOG_SIG_DATA);
		vr_put_le32(sec + VHDX_LOG_DATA_SEQ_HIGH,
			    (uint32_t)(w->sequence >> 32));
		memcpy(sec + VHDX_LOG_DATA_DATA, data + VHDX_LOG_LEADING_LEN,
		       VHDX_LOG_DATA_LEN);
		vr_put_le32(sec + VHDX_LOG_DATA_SEQ_LOW, (uint32_t)w->sequence);
	}
	/* The checksum field is still zero, as the CRC wants it. */
	vr_put_le32(buf + VHDX_LOG_HDR_CHECKSUM, vr_crc32c(0, buf, len));
}

int vhdx_log_write_entry(struct vhdx_log_writer *w,
			 const struct vhdx_log_sector *sectors, size_t n,
			 uint64_t flushed_file_offset,
			 uint64_t last_file_offset, struct vr_err *err)
{
	uint8_t *buf;
	size_t len, done = 0, i;
	int rc = 0;

	assert(w && sectors);
	if (n == 0 || n > vhdx_log_writer_room(w))
		return vr_err_set(err, -EINVAL,
				  "%s: log entry of %zu sectors does not fit "
				  "in what is left of half the %" PRIu32
				  "-byte log",
				  w->path, n, w->log_length);
	for (i = 0; i < n; i++)
		if (sectors[i].file_offset % VHDX_LOG_SECTOR)
			return vr_err_set(err, -EINVAL,
					  "%s: log entry: sector at 0x%" PRIx64
					  " is not 4 KiB aligned",
					  w->path, sectors[i].file_offset);
	len = (size_t)vhdx_log_entry_bytes(n);
	buf = malloc(len);
	if (!buf)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", w->path);
	vhdx_log_entry_encode(w, sectors, n, flushed_file_offset,
			      last_file_offset, buf, len);
	/* The circular log: the part past its end goes to its start. */
	while (done < len) {
		uint32_t at = (uint32_t)((w->head + done) % w->log_length);
		size_t piece = w->log_length - at < len - done
				       ? w->log_length - at
				       : len - done;
		ssize_t wr = vr_pwrite_full(w->fd, buf + done, piece,
					    w->log_offset + at);

		if (wr < 0) {
			rc = vr_err_set(err, (int)wr,
					"%s: log write at log offset 0x%" PRIx32
					": %s",
					w->path, at, strerror((int)-wr));
			goto out;
		}
		done += piece;
	}
	w->head = (uint32_t)((w->head + len) % w->log_length);
	w->used += (uint32_t)len;
	w->sequence++;
out:
	free(buf);
	return rc;
}
