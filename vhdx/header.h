/*
 * header.h - file type identifier, the two headers and the two region
 * tables: the first 1 MiB of every VHDX file ([MS-VHDX] 2.1, 2.2).
 * Internal to vhdx/.
 */
#ifndef VHDX_HEADER_H
#define VHDX_HEADER_H

#include <stdbool.h>
#include <stdint.h>

struct vhdx;
struct vr_err;

/* Fixed layout of the header section, 2.1 */
#define VHDX_FILE_ID_OFFSET 0
#define VHDX_HEADER1_OFFSET (64 * 1024)
#define VHDX_HEADER2_OFFSET (128 * 1024)
#define VHDX_REGION1_OFFSET (192 * 1024)
#define VHDX_REGION2_OFFSET (256 * 1024)
#define VHDX_HEADER_SECTION_SIZE (1024 * 1024)

/* File type identifier, 2.2.1 */
#define VHDX_FILE_ID_SIGNATURE 0 /* u64 "vhdxfile" */
#define VHDX_FILE_ID_CREATOR 8	 /* 256 UTF-16LE code units */
#define VHDX_FILE_ID_SIZE 520
_Static_assert(VHDX_FILE_ID_CREATOR + 512 == VHDX_FILE_ID_SIZE, "file id");

/* Header, 2.2.2: the checksum covers 4 KiB */
#define VHDX_HDR_SIGNATURE 0	    /* u32 "head" */
#define VHDX_HDR_CHECKSUM 4	    /* u32 CRC-32C */
#define VHDX_HDR_SEQUENCE 8	    /* u64 */
#define VHDX_HDR_FILE_WRITE_GUID 16 /* GUID */
#define VHDX_HDR_DATA_WRITE_GUID 32 /* GUID */
#define VHDX_HDR_LOG_GUID 48	    /* GUID */
#define VHDX_HDR_LOG_VERSION 64	    /* u16, 0 */
#define VHDX_HDR_VERSION 66	    /* u16, 1 */
#define VHDX_HDR_LOG_LENGTH 68	    /* u32, multiple of 1 MiB */
#define VHDX_HDR_LOG_OFFSET 72	    /* u64, multiple of 1 MiB */
#define VHDX_HDR_SIZE 80
#define VHDX_HDR_CSUM_SIZE 4096
_Static_assert(VHDX_HDR_LOG_OFFSET + 8 == VHDX_HDR_SIZE, "header layout");

/* Region table, 2.2.3: the checksum covers 64 KiB */
#define VHDX_RT_SIGNATURE 0   /* u32 "regi" */
#define VHDX_RT_CHECKSUM 4    /* u32 CRC-32C */
#define VHDX_RT_ENTRY_COUNT 8 /* u32, at most 2047 */
#define VHDX_RT_RESERVED 12   /* u32 */
#define VHDX_RT_ENTRIES 16
#define VHDX_RT_SIZE (64 * 1024)
#define VHDX_RT_MAX_ENTRIES 2047
/* Region table entry, 2.2.3.2 */
#define VHDX_RTE_GUID 0		/* GUID */
#define VHDX_RTE_FILE_OFFSET 16 /* u64, multiple of 1 MiB, >= 1 MiB */
#define VHDX_RTE_LENGTH 24	/* u32, multiple of 1 MiB */
#define VHDX_RTE_FLAGS 28	/* u32, bit 0 Required */
#define VHDX_RTE_SIZE 32
_Static_assert(VHDX_RT_ENTRIES + VHDX_RT_MAX_ENTRIES * VHDX_RTE_SIZE <=
		       VHDX_RT_SIZE,
	       "region table layout");

struct vhdx_header {
	uint64_t sequence;
	uint8_t file_write_guid[16];
	uint8_t data_write_guid[16];
	uint8_t log_guid[16];
	uint16_t log_version;
	uint16_t version;
	uint32_t log_length;
	uint64_t log_offset;
};

/* Decode a header from @buf (4 KiB). Does not check anything. */
void vhdx_header_decode(const uint8_t *buf, struct vhdx_header *h);

/* Encode @h into @buf (4 KiB, zeroed first) and set its checksum. */
void vhdx_header_encode(const struct vhdx_header *h, uint8_t *buf);

/* Signature and CRC-32C of the 4 KiB header in @buf. */
bool vhdx_header_csum_verify(const uint8_t *buf);
void vhdx_header_csum_set(uint8_t *buf);

/* The same pair for a 64 KiB region table. */
bool vhdx_region_csum_verify(const uint8_t *buf);
void vhdx_region_csum_set(uint8_t *buf);

/*
 * Read and check the file type identifier, both headers and both region
 * tables of @v (fd, path, file_size, flags set); fill v->creator, v->hdr,
 * v->cur_header and the BAT and metadata region locations. A damaged copy
 * of a header or region table is a warning in v->rep when the other is good.
 * Returns 0, -VR_ECORRUPT, -VR_EBADCRC, -ENOTSUP (unknown required region,
 * unknown version), -EIO.
 */
int vhdx_header_load(struct vhdx *v, struct vr_err *err);

/*
 * Make v->hdr durable: write it with the sequence number + 1 over the
 * non-current header, flush, and repeat for the other copy so both carry
 * the new state ([MS-VHDX] 2.2.2.1). Needs a read-write open.
 * Returns 0, -EIO, -ENOSPC.
 */
int vhdx_header_update(struct vhdx *v, struct vr_err *err);

#endif /* VHDX_HEADER_H */
