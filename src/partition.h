/*
 * partition.h - the partition table of a disk (MBR with its chain of
 * extended boot records, or GPT), so that guest file systems inside a
 * recovery point can be found and restored one by one (issue #8).
 *
 *	enum partition_scheme scheme;
 *	struct partition *parts;
 *	size_t n, i;
 *
 *	rc = partition_table_read(d, &scheme, &parts, &n, &err);
 *	if (rc < 0)
 *		return rc;
 *	for (i = 0; i < n; i++)
 *		look at parts[i].offset, parts[i].size
 *	free(parts);
 *
 * GUIDs stay 16 raw bytes in on-disk order (fields 1-3 little-endian);
 * vhdx_guid_format() (vhdx.h) prints them for people, in lower case.
 */
#ifndef VR_PARTITION_H
#define VR_PARTITION_H

#include <stddef.h>
#include <stdint.h>

struct disk;
struct vr_err;

enum partition_scheme {
	PARTITION_NONE, /* blank, or a file system on the whole disk */
	PARTITION_MBR,
	PARTITION_GPT,
};

/* A GPT name is 36 UTF-16 units: at most 108 bytes of UTF-8, and a NUL. */
#define PARTITION_NAME_MAX 109

struct partition {
	/*
	 * 1-based, as Linux numbers them: MBR primaries 1-4 (by slot, so
	 * there may be gaps), logical partitions 5, 6, ... in chain order;
	 * GPT: entry index + 1 (unused entries leave gaps).
	 */
	unsigned number;
	uint64_t offset;       /* bytes from the start of the disk */
	uint64_t size;	       /* bytes, > 0 */
	uint8_t mbr_type;      /* MBR system id, e.g. 0x83; 0 for GPT */
	uint8_t type_guid[16]; /* GPT, on-disk order; zeros for MBR */
	uint8_t guid[16];      /* GPT unique partition GUID; zeros for MBR */
	char name[PARTITION_NAME_MAX]; /* GPT name as UTF-8; "" for MBR */
};

/*
 * Read the partition table of @d.
 *
 * MBR (0x55AA at byte 510, 512-byte sectors): the non-empty primary slots
 * and the logical partitions of each extended partition (types 0x05, 0x0F,
 * 0x85), whose container is not returned itself. A first sector with the
 * 0x55AA signature that is a file system's boot sector (a status byte
 * other than 0x00 or 0x80, or an NTFS, exFAT or FAT boot sector) is no
 * table.
 *
 * GPT (a protective MBR, any slot of type 0xEE): the header at LBA 1 with
 * 512-byte, else 4096-byte sectors; if it or its entry array fails a check,
 * the backup header at the last LBA. Entries with a zero type GUID are
 * unused and not returned.
 *
 * On success *@scheme is set, *@out is a new array of *@n partitions in
 * number order (NULL when *@n is 0; the caller frees it with free()). A
 * disk with no table, or smaller than one sector, gives PARTITION_NONE
 * and 0 partitions: a file system written on the whole disk is the
 * caller's business. Nothing is written on failure.
 *
 * Returns 0; -VR_ECORRUPT when a table is there but broken (a partition
 * past the end of the disk, an EBR chain that loops, leaves its extended
 * partition or holds more than 128 logical partitions, both GPT headers
 * or entry arrays failing their checks), with the message naming the disk
 * (disk_path()) and the problem; -ENOMEM; or what disk_read() returns.
 */
int partition_table_read(struct disk *d, enum partition_scheme *scheme,
			 struct partition **out, size_t *n, struct vr_err *err);

/* "none", "mbr", "gpt"; "unknown" for other values. */
const char *partition_scheme_name(enum partition_scheme s);

#endif /* VR_PARTITION_H */
