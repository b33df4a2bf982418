/*
 * partition.c - read the partition table of a disk: MBR with its chain of
 * extended boot records, or GPT (UEFI 2.10 section 5.2 "LBA 0 Format" and
 * 5.3 "GUID Partition Table (GPT) Disk Layout").
 *
 * Nothing from the disk is trusted: every sector number is turned into a
 * byte range with overflow checks and compared with disk_size() before it
 * is read or returned, the EBR chain is walked with a cap and cycle
 * detection, and a GPT copy is used only after both its checksums and all
 * its ranges check out.
 */
#include <config.h>
#include "partition.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disk.h"
#include "vr_crc.h"
#include "vr_endian.h"
#include "vr_err.h"
#include "vr_text.h"

/* MBR and EBR sector: always 512-byte sectors for their LBAs. */
#define PARTITION_MBR_SECTOR 512
#define PARTITION_MBR_TABLE 446 /* four 16-byte entries */
#define PARTITION_MBR_ENTRY_SIZE 16
#define PARTITION_MBR_SIGNATURE 510 /* 0x55 0xAA */
_Static_assert(PARTITION_MBR_TABLE + 4 * PARTITION_MBR_ENTRY_SIZE ==
		       PARTITION_MBR_SIGNATURE,
	       "MBR layout");
/* One MBR entry; the CHS fields (1-3, 5-7) are ignored. */
#define PARTITION_MBRE_STATUS 0 /* 0x00, or 0x80 for the boot partition */
#define PARTITION_MBRE_TYPE 4
#define PARTITION_MBRE_LBA 8	/* u32 */
#define PARTITION_MBRE_COUNT 12 /* u32, sectors */
_Static_assert(PARTITION_MBRE_COUNT + 4 == PARTITION_MBR_ENTRY_SIZE,
	       "MBR entry layout");

#define PARTITION_MBR_TYPE_PROTECTIVE 0xee
#define PARTITION_MAX_LOGICAL 128
#define PARTITION_FIRST_LOGICAL 5

/* GPT header, UEFI 2.10 table 5.21. */
#define PARTITION_GPT_SIGNATURE 0     /* "EFI PART" */
#define PARTITION_GPT_HEADER_SIZE 12  /* u32, 92 .. sector size */
#define PARTITION_GPT_HEADER_CRC 16   /* u32, over header_size bytes */
#define PARTITION_GPT_MY_LBA 24	      /* u64 */
#define PARTITION_GPT_FIRST_USABLE 40 /* u64 */
#define PARTITION_GPT_LAST_USABLE 48  /* u64 */
#define PARTITION_GPT_ENTRY_LBA 72    /* u64 */
#define PARTITION_GPT_ENTRY_COUNT 80  /* u32 */
#define PARTITION_GPT_ENTRY_SIZE 84   /* u32, 128 * 2^n */
#define PARTITION_GPT_ENTRY_CRC 88    /* u32, over count * size bytes */
#define PARTITION_GPT_MIN_HEADER 92
_Static_assert(PARTITION_GPT_ENTRY_CRC + 4 == PARTITION_GPT_MIN_HEADER,
	       "GPT header layout");
/* GPT partition entry, table 5.22. */
#define PARTITION_GPTE_TYPE 0	/* GUID, all zeros: unused */
#define PARTITION_GPTE_GUID 16	/* GUID */
#define PARTITION_GPTE_FIRST 32 /* u64, LBA */
#define PARTITION_GPTE_LAST 40	/* u64, LBA, inclusive */
#define PARTITION_GPTE_NAME 56	/* 36 UTF-16LE units */
#define PARTITION_GPTE_NAME_UNITS 36
#define PARTITION_GPTE_MIN_SIZE 128
_Static_assert(PARTITION_GPTE_NAME + 2 * PARTITION_GPTE_NAME_UNITS ==
		       PARTITION_GPTE_MIN_SIZE,
	       "GPT entry layout");
_Static_assert(3 * PARTITION_GPTE_NAME_UNITS < PARTITION_NAME_MAX,
	       "a GPT name fits in struct partition");

/*
 * The spec allows any entry size of 128 * 2^n and any count; real tables
 * have 128 entries of 128 bytes. These caps bound the entry array at 64 MiB.
 */
#define PARTITION_GPT_MAX_ENTRY_SIZE 4096
#define PARTITION_GPT_MAX_ENTRIES 16384
#define PARTITION_GPT_MAX_SECTOR 4096

struct partition_mbr_entry {
	uint8_t status;
	uint8_t type;
	uint32_t lba;
	uint32_t count;
};

struct partition_gpt_header {
	uint32_t header_size;
	uint32_t header_crc;
	uint64_t my_lba;
	uint64_t first_usable;
	uint64_t last_usable;
	uint64_t entry_lba;
	uint32_t entry_count;
	uint32_t entry_size;
	uint32_t entry_crc;
};

/* The partitions found so far, in number order. */
struct partition_list {
	struct partition *a;
	size_t n;
	size_t cap;
};

const char *partition_scheme_name(enum partition_scheme s)
{
	switch (s) {
	case PARTITION_NONE:
		return "none";
	case PARTITION_MBR:
		return "mbr";
	case PARTITION_GPT:
		return "gpt";
	}
	return "unknown";
}

/* A zeroed new entry at the end of @l, or NULL when out of memory. */
static struct partition *partition_list_add(struct partition_list *l)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 8;
		struct partition *a = reallocarray(l->a, cap, sizeof(*a));

		if (!a)
			return NULL;
		l->a = a;
		l->cap = cap;
	}
	memset(&l->a[l->n], 0, sizeof(l->a[0]));
	return &l->a[l->n++];
}

static void partition_mbr_entry_decode(const uint8_t *sector, unsigned slot,
				       struct partition_mbr_entry *e)
{
	const uint8_t *p =
		sector + PARTITION_MBR_TABLE + slot * PARTITION_MBR_ENTRY_SIZE;

	e->status = p[PARTITION_MBRE_STATUS];
	e->type = p[PARTITION_MBRE_TYPE];
	e->lba = vr_get_le32(p + PARTITION_MBRE_LBA);
	e->count = vr_get_le32(p + PARTITION_MBRE_COUNT);
}

static bool partition_mbr_has_signature(const uint8_t *sector)
{
	return sector[PARTITION_MBR_SIGNATURE] == 0x55 &&
	       sector[PARTITION_MBR_SIGNATURE + 1] == 0xaa;
}

/* Type 0 or no sectors: Linux skips both, and so do we. */
static bool partition_mbr_is_empty(const struct partition_mbr_entry *e)
{
	return e->type == 0 || e->count == 0;
}

static bool partition_mbr_is_extended(uint8_t type)
{
	return type == 0x05 || type == 0x0f || type == 0x85;
}

/*
 * A file system's boot sector also ends in 0x55AA. Like Linux's msdos.c,
 * a status byte other than 0x00 or 0x80 means the 64 bytes are boot code,
 * not entries; and an x86 jump followed by the NTFS, exFAT or FAT name
 * where those boot sectors keep it means a file system on the whole disk.
 */
static bool partition_mbr_is_boot_sector(const uint8_t *sector)
{
	struct partition_mbr_entry e;
	bool jump =
		(sector[0] == 0xeb && sector[2] == 0x90) || sector[0] == 0xe9;
	unsigned slot;

	for (slot = 0; slot < 4; slot++) {
		partition_mbr_entry_decode(sector, slot, &e);
		if (e.status != 0x00 && e.status != 0x80)
			return true;
	}
	if (!jump)
		return false;
	return memcmp(sector + 3, "NTFS    ", 8) == 0 ||
	       memcmp(sector + 3, "EXFAT   ", 8) == 0 ||
	       memcmp(sector + 54, "FAT", 3) == 0 ||
	       memcmp(sector + 82, "FAT32   ", 8) == 0;
}

/*
 * The byte range of @count sectors of @ss bytes from @lba, checked against
 * the disk. Returns 0 or -VR_ECORRUPT naming partition @number of @what.
 */
static int partition_range(struct disk *d, const char *what, unsigned number,
			   uint64_t lba, uint64_t count, unsigned ss,
			   uint64_t *off, uint64_t *len, struct vr_err *err)
{
	uint64_t size = disk_size(d), o, l, end;

	if (__builtin_mul_overflow(lba, ss, &o) ||
	    __builtin_mul_overflow(count, ss, &l) ||
	    __builtin_add_overflow(o, l, &end) || end > size)
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: %s partition %u: sectors %" PRIu64
				  "+%" PRIu64 " end past end of disk (%" PRIu64
				  " bytes)",
				  disk_path(d), what, number, lba, count, size);
	*off = o;
	*len = l;
	return 0;
}

static int partition_mbr_add(struct disk *d, struct partition_list *l,
			     const char *what, unsigned number, uint64_t lba,
			     const struct partition_mbr_entry *e,
			     struct vr_err *err)
{
	struct partition *p;
	uint64_t off = 0, len = 0;
	int rc;

	rc = partition_range(d, what, number, lba, e->count,
			     PARTITION_MBR_SECTOR, &off, &len, err);
	if (rc < 0)
		return rc;
	p = partition_list_add(l);
	if (!p)
		return vr_err_set(err, -ENOMEM, "%s: out of memory",
				  disk_path(d));
	p->number = number;
	p->offset = off;
	p->size = len;
	p->mbr_type = e->type;
	return 0;
}

static bool partition_ebr_is_seen(const uint64_t *seen, unsigned n,
				  uint64_t ebr)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (seen[i] == ebr)
			return true;
	return false;
}

/*
 * Walk the EBR chain of the extended partition in slot @slot (sectors
 * @ext_lba + @ext_count, already checked against the disk). Each EBR holds
 * the logical partition relative to itself in its first entry and the link
 * to the next EBR, relative to the extended partition, in its second; the
 * other two entries are ignored. *@next is the number of the next logical
 * partition. At most PARTITION_MAX_LOGICAL EBRs, each read once.
 */
static int partition_ebr_walk(struct disk *d, unsigned slot, uint64_t ext_lba,
			      uint64_t ext_count, unsigned *next,
			      struct partition_list *l, struct vr_err *err)
{
	const unsigned max = PARTITION_FIRST_LOGICAL + PARTITION_MAX_LOGICAL;
	uint64_t seen[PARTITION_MAX_LOGICAL];
	uint8_t sector[PARTITION_MBR_SECTOR];
	struct partition_mbr_entry logical, link;
	uint64_t ebr = ext_lba, at;
	unsigned nseen = 0;
	int rc;

	for (;;) {
		at = ebr * PARTITION_MBR_SECTOR; /* ebr < 2^33: no wrap */
		if (ebr - ext_lba >= ext_count)
			return vr_err_set(err, -VR_ECORRUPT,
					  "%s: EBR at 0x%" PRIx64
					  ": outside extended partition %u",
					  disk_path(d), at, slot + 1);
		if (partition_ebr_is_seen(seen, nseen, ebr))
			return vr_err_set(
				err, -VR_ECORRUPT,
				"%s: EBR at 0x%" PRIx64
				": chain of extended partition %u loops",
				disk_path(d), at, slot + 1);
		if (nseen == PARTITION_MAX_LOGICAL)
			return vr_err_set(
				err, -VR_ECORRUPT,
				"%s: EBR at 0x%" PRIx64
				": more than %u EBRs in extended partition %u",
				disk_path(d), at, PARTITION_MAX_LOGICAL,
				slot + 1);
		seen[nseen++] = ebr;
		rc = disk_read(d, sector, sizeof(sector), at, err);
		if (rc < 0)
			return rc;
		if (!partition_mbr_has_signature(sector))
			return vr_err_set(err, -VR_ECORRUPT,
					  "%s: EBR at 0x%" PRIx64
					  ": no 0x55AA signature",
					  disk_path(d), at);
		partition_mbr_entry_decode(sector, 0, &logical);
		partition_mbr_entry_decode(sector, 1, &link);
		if (!partition_mbr_is_empty(&logical) && *next >= max)
			return vr_err_set(err, -VR_ECORRUPT,
					  "%s: EBR at 0x%" PRIx64
					  ": more than %u logical partitions",
					  disk_path(d), at,
					  PARTITION_MAX_LOGICAL);
		if (!partition_mbr_is_empty(&logical)) {
			/* u64 + u32: no wrap */
			rc = partition_mbr_add(d, l, "logical", *next,
					       ebr + logical.lba, &logical,
					       err);
			if (rc < 0)
				return rc;
			(*next)++;
		}
		if (partition_mbr_is_empty(&link) ||
		    !partition_mbr_is_extended(link.type))
			return 0;
		ebr = ext_lba + link.lba;
	}
}

/* The primaries in slot order, then the logical partitions from 5. */
static int partition_mbr_read(struct disk *d, const uint8_t *mbr,
			      struct partition_list *l, struct vr_err *err)
{
	struct partition_mbr_entry e;
	unsigned slot, next = PARTITION_FIRST_LOGICAL;
	uint64_t off = 0, len = 0;
	int rc;

	for (slot = 0; slot < 4; slot++) {
		partition_mbr_entry_decode(mbr, slot, &e);
		if (partition_mbr_is_empty(&e) ||
		    partition_mbr_is_extended(e.type))
			continue;
		rc = partition_mbr_add(d, l, "MBR", slot + 1, e.lba, &e, err);
		if (rc < 0)
			return rc;
	}
	for (slot = 0; slot < 4; slot++) {
		partition_mbr_entry_decode(mbr, slot, &e);
		if (partition_mbr_is_empty(&e) ||
		    !partition_mbr_is_extended(e.type))
			continue;
		rc = partition_range(d, "extended", slot + 1, e.lba, e.count,
				     PARTITION_MBR_SECTOR, &off, &len, err);
		if (rc < 0)
			return rc;
		rc = partition_ebr_walk(d, slot, e.lba, e.count, &next, l, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void partition_gpt_header_decode(const uint8_t *buf,
					struct partition_gpt_header *h)
{
	h->header_size = vr_get_le32(buf + PARTITION_GPT_HEADER_SIZE);
	h->header_crc = vr_get_le32(buf + PARTITION_GPT_HEADER_CRC);
	h->my_lba = vr_get_le64(buf + PARTITION_GPT_MY_LBA);
	h->first_usable = vr_get_le64(buf + PARTITION_GPT_FIRST_USABLE);
	h->last_usable = vr_get_le64(buf + PARTITION_GPT_LAST_USABLE);
	h->entry_lba = vr_get_le64(buf + PARTITION_GPT_ENTRY_LBA);
	h->entry_count = vr_get_le32(buf + PARTITION_GPT_ENTRY_COUNT);
	h->entry_size = vr_get_le32(buf + PARTITION_GPT_ENTRY_SIZE);
	h->entry_crc = vr_get_le32(buf + PARTITION_GPT_ENTRY_CRC);
}

/*
 * Check the header in @buf (one sector of @ss bytes, read from @lba; ours,
 * so its checksum field is zeroed in place) against the spec and a disk
 * of @sectors sectors. Problems go to @why without the disk's name.
 */
static int partition_gpt_header_check(uint8_t *buf, unsigned ss, uint64_t lba,
				      uint64_t sectors,
				      struct partition_gpt_header *h,
				      struct vr_err *why)
{
	uint32_t crc;

	partition_gpt_header_decode(buf, h);
	if (h->header_size < PARTITION_GPT_MIN_HEADER || h->header_size > ss)
		return vr_err_set(why, -VR_ECORRUPT,
				  "header size %" PRIu32
				  " out of range (%u to %u)",
				  h->header_size, PARTITION_GPT_MIN_HEADER, ss);
	vr_put_le32(buf + PARTITION_GPT_HEADER_CRC, 0);
	crc = vr_crc32(0, buf, h->header_size);
	if (crc != h->header_crc)
		return vr_err_set(
			why, -VR_ECORRUPT,
			"header checksum mismatch (expected 0x%08" PRIx32
			", found 0x%08" PRIx32 ")",
			crc, h->header_crc);
	if (h->my_lba != lba)
		return vr_err_set(why, -VR_ECORRUPT,
				  "header names LBA %" PRIu64
				  " as its own (expected %" PRIu64 ")",
				  h->my_lba, lba);
	if (h->entry_size < PARTITION_GPTE_MIN_SIZE || h->entry_size % 8 ||
	    h->entry_size > PARTITION_GPT_MAX_ENTRY_SIZE)
		return vr_err_set(why, -VR_ECORRUPT,
				  "entry size %" PRIu32
				  " is not a multiple of 8 from %u to %u",
				  h->entry_size, PARTITION_GPTE_MIN_SIZE,
				  PARTITION_GPT_MAX_ENTRY_SIZE);
	if (h->entry_count > PARTITION_GPT_MAX_ENTRIES)
		return vr_err_set(why, -VR_ECORRUPT,
				  "%" PRIu32 " entries (at most %u)",
				  h->entry_count, PARTITION_GPT_MAX_ENTRIES);
	if (h->first_usable > h->last_usable || h->last_usable >= sectors)
		return vr_err_set(why, -VR_ECORRUPT,
				  "usable LBAs %" PRIu64 "-%" PRIu64
				  " not inside the disk (%" PRIu64 " sectors)",
				  h->first_usable, h->last_usable, sectors);
	return 0;
}

/*
 * Check and decode the entry array @ents of header @h on a disk of @ss-byte
 * sectors into @l.
 */
static int partition_gpt_entries_decode(struct disk *d, const uint8_t *ents,
					const struct partition_gpt_header *h,
					unsigned ss, struct partition_list *l,
					struct vr_err *why)
{
	static const uint8_t unused[16];
	size_t total = (size_t)h->entry_count * h->entry_size;
	uint32_t crc = vr_crc32(0, ents, total), i;

	if (crc != h->entry_crc)
		return vr_err_set(
			why, -VR_ECORRUPT,
			"entry array checksum mismatch (expected 0x%08" PRIx32
			", found 0x%08" PRIx32 ")",
			crc, h->entry_crc);
	for (i = 0; i < h->entry_count; i++) {
		const uint8_t *e = ents + (size_t)i * h->entry_size;
		uint64_t first = vr_get_le64(e + PARTITION_GPTE_FIRST);
		uint64_t last = vr_get_le64(e + PARTITION_GPTE_LAST);
		struct partition *p;

		if (memcmp(e + PARTITION_GPTE_TYPE, unused, 16) == 0)
			continue;
		if (first > last)
			return vr_err_set(why, -VR_ECORRUPT,
					  "entry %" PRIu32
					  ": first LBA %" PRIu64
					  " after last LBA %" PRIu64,
					  i + 1, first, last);
		if (first < h->first_usable || last > h->last_usable)
			return vr_err_set(
				why, -VR_ECORRUPT,
				"entry %" PRIu32 ": LBAs %" PRIu64 "-%" PRIu64
				" outside usable LBAs %" PRIu64 "-%" PRIu64,
				i + 1, first, last, h->first_usable,
				h->last_usable);
		p = partition_list_add(l);
		if (!p)
			return vr_err_set(why, -ENOMEM, "%s: out of memory",
					  disk_path(d));
		p->number = i + 1;
		/*
		 * last <= last_usable < sectors, and sectors * ss <= the disk
		 * size: neither product can wrap.
		 */
		p->offset = first * ss;
		p->size = (last - first + 1) * ss;
		memcpy(p->type_guid, e + PARTITION_GPTE_TYPE, 16);
		memcpy(p->guid, e + PARTITION_GPTE_GUID, 16);
		/* 36 units need at most 108 bytes: cannot be too long */
		vr_utf16le_to_utf8(e + PARTITION_GPTE_NAME,
				   PARTITION_GPTE_NAME_UNITS, p->name,
				   sizeof(p->name));
	}
	return 0;
}

/*
 * Read the GPT copy whose header sits at @lba on a disk of @ss-byte
 * sectors, whose signature the caller has seen in @hdr (a private copy of
 * the sector). Returns 0 with its partitions in @l, -VR_ECORRUPT with the
 * problem in @why (a failed check: without the disk's name), or what
 * disk_read() returns or -ENOMEM, with @why set as usual.
 */
static int partition_gpt_copy_read(struct disk *d, uint8_t *hdr, unsigned ss,
				   uint64_t lba, struct partition_list *l,
				   struct vr_err *why)
{
	uint64_t size = disk_size(d), sectors = size / ss, off, end;
	struct partition_gpt_header h;
	uint8_t *ents;
	size_t total;
	int rc;

	rc = partition_gpt_header_check(hdr, ss, lba, sectors, &h, why);
	if (rc < 0)
		return rc;
	total = (size_t)h.entry_count * h.entry_size; /* <= 64 MiB */
	if (__builtin_mul_overflow(h.entry_lba, ss, &off) ||
	    __builtin_add_overflow(off, total, &end) || end > size)
		return vr_err_set(why, -VR_ECORRUPT,
				  "entry array at LBA %" PRIu64
				  " ends past end of disk (%" PRIu64 " bytes)",
				  h.entry_lba, size);
	ents = malloc(total ? total : 1);
	if (!ents)
		return vr_err_set(why, -ENOMEM, "%s: out of memory",
				  disk_path(d));
	rc = disk_read(d, ents, total, off, why);
	if (rc == 0)
		rc = partition_gpt_entries_decode(d, ents, &h, ss, l, why);
	free(ents);
	return rc;
}

/*
 * Find and read a GPT copy: the primary at LBA 1, or the backup at the last
 * LBA, of 512-byte then 4096-byte sectors (only *@ss if it is not 0), the
 * first where "EFI PART" is. *@ss gets the sector size found and *@at the
 * header's offset, if one is found. Returns as partition_gpt_copy_read().
 */
static int partition_gpt_find(struct disk *d, bool backup, unsigned *ss,
			      uint64_t *at, struct partition_list *l,
			      struct vr_err *why)
{
	static const unsigned sizes[] = { 512, PARTITION_GPT_MAX_SECTOR };
	uint8_t hdr[PARTITION_GPT_MAX_SECTOR];
	uint64_t size = disk_size(d), where[2] = { 0, 0 };
	unsigned i, tried = 0;
	int rc;

	for (i = 0; i < 2; i++) {
		uint64_t sectors = size / sizes[i];
		uint64_t lba = backup ? sectors - 1 : 1;

		/* the MBR, a header and its entries need 3 sectors */
		if ((*ss && *ss != sizes[i]) || sectors < 3)
			continue;
		where[tried++] = lba * sizes[i];
		rc = disk_read(d, hdr, sizes[i], lba * sizes[i], why);
		if (rc < 0)
			return rc;
		if (memcmp(hdr + PARTITION_GPT_SIGNATURE, "EFI PART", 8))
			continue;
		*ss = sizes[i];
		*at = lba * sizes[i];
		return partition_gpt_copy_read(d, hdr, sizes[i], lba, l, why);
	}
	if (tried == 2)
		return vr_err_set(why, -VR_ECORRUPT,
				  "no \"EFI PART\" signature at 0x%" PRIx64
				  " or 0x%" PRIx64,
				  where[0], where[1]);
	if (tried == 1)
		return vr_err_set(why, -VR_ECORRUPT,
				  "no \"EFI PART\" signature at 0x%" PRIx64,
				  where[0]);
	return vr_err_set(why, -VR_ECORRUPT, "disk too small for a GPT");
}

/*
 * The primary GPT, else the backup. A failed check (or a read that found
 * corruption below us) moves on to the backup; any other error stops.
 */
static int partition_gpt_read(struct disk *d, struct partition_list *l,
			      struct vr_err *err)
{
	struct vr_err why1 = { 0 }, why2 = { 0 };
	uint64_t at1 = UINT64_MAX, at2 = UINT64_MAX;
	char where1[32] = "", where2[32] = "";
	unsigned ss = 0;
	int rc;

	rc = partition_gpt_find(d, false, &ss, &at1, l, &why1);
	if (rc == 0)
		return 0;
	if (rc != -VR_ECORRUPT)
		return vr_err_set(err, rc, "%s", why1.msg);
	l->n = 0; /* forget what a primary array that failed added */
	rc = partition_gpt_find(d, true, &ss, &at2, l, &why2);
	if (rc == 0)
		return 0;
	if (rc != -VR_ECORRUPT)
		return vr_err_set(err, rc, "%s", why2.msg);
	if (at1 != UINT64_MAX)
		snprintf(where1, sizeof(where1), " at 0x%" PRIx64, at1);
	if (at2 != UINT64_MAX)
		snprintf(where2, sizeof(where2), " at 0x%" PRIx64, at2);
	return vr_err_set(err, -VR_ECORRUPT,
			  "%s: GPT: primary header%s: %s; backup header%s: %s",
			  disk_path(d), where1, why1.msg, where2, why2.msg);
}

/* Which table sector 0 announces. */
static enum partition_scheme partition_mbr_scheme(const uint8_t *mbr)
{
	struct partition_mbr_entry e;
	unsigned slot;

	if (!partition_mbr_has_signature(mbr) ||
	    partition_mbr_is_boot_sector(mbr))
		return PARTITION_NONE;
	for (slot = 0; slot < 4; slot++) {
		partition_mbr_entry_decode(mbr, slot, &e);
		if (e.type == PARTITION_MBR_TYPE_PROTECTIVE)
			return PARTITION_GPT;
	}
	return PARTITION_MBR;
}

int partition_table_read(struct disk *d, enum partition_scheme *scheme,
			 struct partition **out, size_t *n, struct vr_err *err)
{
	uint8_t mbr[PARTITION_MBR_SECTOR];
	struct partition_list l = { 0 };
	enum partition_scheme s = PARTITION_NONE;
	int rc = 0;

	assert(d && scheme && out && n);
	if (disk_size(d) >= PARTITION_MBR_SECTOR) {
		rc = disk_read(d, mbr, sizeof(mbr), 0, err);
		if (rc < 0)
			return rc;
		s = partition_mbr_scheme(mbr);
	}
	if (s == PARTITION_MBR)
		rc = partition_mbr_read(d, mbr, &l, err);
	else if (s == PARTITION_GPT)
		rc = partition_gpt_read(d, &l, err);
	if (rc < 0) {
		free(l.a);
		return rc;
	}
	*scheme = s;
	*out = l.n ? l.a : NULL;
	if (!l.n)
		free(l.a);
	*n = l.n;
	return 0;
}
