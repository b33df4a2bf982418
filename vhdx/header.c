/*
 * header.c - the header section: file type identifier, two headers, two
 * region tables. Spec: [MS-VHDX] 2.1 and 2.2.
 *
 * Choosing the current header (2.2.2.1): of the headers whose signature and
 * checksum verify, the one with the higher sequence number wins. Disk2VHD
 * writes both headers with the same sequence number; that is accepted only
 * when the two are byte-identical (then header 1 is taken).
 *
 * The two region tables are copies of each other. Header 1's copy is used
 * when it verifies; otherwise the second, with a warning. (qemu 7.2 refuses
 * a file whose first copy is bad; the spec keeps two so that we need not.)
 */
#include <config.h>
#include "header.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guid.h"
#include "internal.h"
#include "vhdx.h"
#include "vr_crc.h"
#include "vr_endian.h"
#include "vr_err.h"
#include "vr_text.h"
#include "vr_io.h"

#define VHDX_SIG_FILE_ID 0x656c696678646876ull /* "vhdxfile" */
#define VHDX_SIG_HEADER 0x64616568u	       /* "head" */
#define VHDX_SIG_REGION 0x69676572u	       /* "regi" */

void vhdx_header_decode(const uint8_t *buf, struct vhdx_header *h)
{
	h->sequence = vr_get_le64(buf + VHDX_HDR_SEQUENCE);
	memcpy(h->file_write_guid, buf + VHDX_HDR_FILE_WRITE_GUID, 16);
	memcpy(h->data_write_guid, buf + VHDX_HDR_DATA_WRITE_GUID, 16);
	memcpy(h->log_guid, buf + VHDX_HDR_LOG_GUID, 16);
	h->log_version = vr_get_le16(buf + VHDX_HDR_LOG_VERSION);
	h->version = vr_get_le16(buf + VHDX_HDR_VERSION);
	h->log_length = vr_get_le32(buf + VHDX_HDR_LOG_LENGTH);
	h->log_offset = vr_get_le64(buf + VHDX_HDR_LOG_OFFSET);
}

void vhdx_header_encode(const struct vhdx_header *h, uint8_t *buf)
{
	memset(buf, 0, VHDX_HDR_CSUM_SIZE);
	vr_put_le32(buf + VHDX_HDR_SIGNATURE, VHDX_SIG_HEADER);
	vr_put_le64(buf + VHDX_HDR_SEQUENCE, h->sequence);
	memcpy(buf + VHDX_HDR_FILE_WRITE_GUID, h->file_write_guid, 16);
	memcpy(buf + VHDX_HDR_DATA_WRITE_GUID, h->data_write_guid, 16);
	memcpy(buf + VHDX_HDR_LOG_GUID, h->log_guid, 16);
	vr_put_le16(buf + VHDX_HDR_LOG_VERSION, h->log_version);
	vr_put_le16(buf + VHDX_HDR_VERSION, h->version);
	vr_put_le32(buf + VHDX_HDR_LOG_LENGTH, h->log_length);
	vr_put_le64(buf + VHDX_HDR_LOG_OFFSET, h->log_offset);
	vhdx_header_csum_set(buf);
}

/* CRC-32C of @len bytes with the u32 at @csum_at counted as zero. */
static uint32_t vhdx_header_crc(const uint8_t *buf, size_t len, size_t csum_at)
{
	static const uint8_t zero[4];
	uint32_t crc;

	crc = vr_crc32c(0, buf, csum_at);
	crc = vr_crc32c(crc, zero, 4);
	return vr_crc32c(crc, buf + csum_at + 4, len - csum_at - 4);
}

bool vhdx_header_csum_verify(const uint8_t *buf)
{
	return vr_get_le32(buf + VHDX_HDR_SIGNATURE) == VHDX_SIG_HEADER &&
	       vr_get_le32(buf + VHDX_HDR_CHECKSUM) ==
		       vhdx_header_crc(buf, VHDX_HDR_CSUM_SIZE,
				       VHDX_HDR_CHECKSUM);
}

void vhdx_header_csum_set(uint8_t *buf)
{
	vr_put_le32(
		buf + VHDX_HDR_CHECKSUM,
		vhdx_header_crc(buf, VHDX_HDR_CSUM_SIZE, VHDX_HDR_CHECKSUM));
}

bool vhdx_region_csum_verify(const uint8_t *buf)
{
	return vr_get_le32(buf + VHDX_RT_SIGNATURE) == VHDX_SIG_REGION &&
	       vr_get_le32(buf + VHDX_RT_CHECKSUM) ==
		       vhdx_header_crc(buf, VHDX_RT_SIZE, VHDX_RT_CHECKSUM);
}

void vhdx_region_csum_set(uint8_t *buf)
{
	vr_put_le32(buf + VHDX_RT_CHECKSUM,
		    vhdx_header_crc(buf, VHDX_RT_SIZE, VHDX_RT_CHECKSUM));
}

static int vhdx_header_load_file_id(struct vhdx *v, struct vr_err *err)
{
	uint8_t buf[VHDX_FILE_ID_SIZE];
	int rc;

	if (v->file_size < VHDX_HEADER_SECTION_SIZE)
		return vr_err_set(
			err, -VR_ECORRUPT,
			"%s: truncated: header section needs 1 MiB (file is %" PRIu64
			" bytes)",
			v->path, v->file_size);
	rc = vhdx_file_pread(v, buf, sizeof(buf), VHDX_FILE_ID_OFFSET,
			     "file type identifier", err);
	if (rc < 0)
		return rc;
	if (vr_get_le64(buf + VHDX_FILE_ID_SIGNATURE) != VHDX_SIG_FILE_ID)
		return vr_err_set(
			err, -VR_ECORRUPT,
			"%s: bad file type identifier (no \"vhdxfile\" signature at offset 0)",
			v->path);
	/* The creator is informational: a bad one is not worth refusing. */
	if (vr_utf16le_to_utf8(buf + VHDX_FILE_ID_CREATOR, 256, v->creator,
			       sizeof(v->creator)) < 0)
		vhdx_report_add(v->rep, false,
				"%s: file type identifier: creator too long",
				v->path);
	return 0;
}

/* Checks of the current header against the spec and the file. */
static int vhdx_header_check(const struct vhdx *v, const struct vhdx_header *h,
			     struct vr_err *err)
{
	unsigned n = v->cur_header;
	uint64_t end;

	if (h->version != 1)
		return vr_err_set(
			err, -ENOTSUP,
			"%s: header %u: unsupported version %u (expected 1)",
			v->path, n, h->version);
	if (h->log_version != 0)
		return vr_err_set(
			err, -ENOTSUP,
			"%s: header %u: unsupported log version %u (expected 0)",
			v->path, n, h->log_version);
	if (h->log_offset % VHDX_MiB || h->log_length % VHDX_MiB)
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: header %u: log at 0x%" PRIx64
				  " length 0x%" PRIx32
				  ": not a multiple of 1 MiB",
				  v->path, n, h->log_offset, h->log_length);
	if (h->log_length == 0) {
		if (!vhdx_guid_is_zero(h->log_guid))
			return vr_err_set(
				err, -VR_ECORRUPT,
				"%s: header %u: log GUID set but the log has length 0",
				v->path, n);
		return 0;
	}
	if (h->log_offset < VHDX_HEADER_SECTION_SIZE)
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: header %u: log at 0x%" PRIx64
				  " overlaps the header section",
				  v->path, n, h->log_offset);
	if (__builtin_add_overflow(h->log_offset, h->log_length, &end) ||
	    end > v->file_size)
		return vr_err_set(
			err, -VR_ECORRUPT,
			"%s: header %u: log at 0x%" PRIx64 " length 0x%" PRIx32
			" ends past end of file (%" PRIu64 " bytes)",
			v->path, n, h->log_offset, h->log_length, v->file_size);
	return 0;
}

static int vhdx_header_load_headers(struct vhdx *v, struct vr_err *err)
{
	static const uint64_t where[2] = { VHDX_HEADER1_OFFSET,
					   VHDX_HEADER2_OFFSET };
	uint8_t *buf[2] = { NULL, NULL };
	struct vhdx_header h[2];
	bool ok[2];
	bool ignore = v->flags & VHDX_OPEN_IGNORE_CSUM;
	unsigned i, cur;
	int rc = 0;

	for (i = 0; i < 2; i++) {
		buf[i] = malloc(VHDX_HDR_CSUM_SIZE);
		if (!buf[i]) {
			rc = vr_err_set(err, -ENOMEM, "%s: out of memory",
					v->path);
			goto out;
		}
		rc = vhdx_file_pread(v, buf[i], VHDX_HDR_CSUM_SIZE, where[i],
				     "header", err);
		if (rc < 0)
			goto out;
		ok[i] = vhdx_header_csum_verify(buf[i]);
		vhdx_header_decode(buf[i], &h[i]);
	}
	if (!ok[0] && !ok[1]) {
		bool sig0 = vr_get_le32(buf[0]) == VHDX_SIG_HEADER;
		bool sig1 = vr_get_le32(buf[1]) == VHDX_SIG_HEADER;

		if (!ignore || (!sig0 && !sig1)) {
			rc = vr_err_set(
				err, -VR_EBADCRC,
				"%s: both headers are damaged (bad signature or checksum)",
				v->path);
			goto out;
		}
		vhdx_report_add(
			v->rep, true,
			"%s: both headers fail their checksum; using them anyway (recovery mode)",
			v->path);
		ok[0] = sig0;
		ok[1] = sig1;
	}
	for (i = 0; i < 2; i++)
		if (!ok[i])
			vhdx_report_add(v->rep, false,
					"%s: header %u at 0x%" PRIx64
					" is damaged; using header %u",
					v->path, i + 1, where[i], 2 - i);
	if (ok[0] && ok[1]) {
		if (h[0].sequence == h[1].sequence &&
		    memcmp(buf[0], buf[1], VHDX_HDR_CSUM_SIZE) != 0) {
			rc = vr_err_set(
				err, -VR_ECORRUPT,
				"%s: both headers have sequence number %" PRIu64
				" but differ",
				v->path, h[0].sequence);
			goto out;
		}
		cur = h[1].sequence > h[0].sequence ? 1 : 0;
	} else {
		cur = ok[0] ? 0 : 1;
	}
	v->hdr = h[cur];
	v->cur_header = cur + 1;
	rc = vhdx_header_check(v, &v->hdr, err);
out:
	free(buf[0]);
	free(buf[1]);
	return rc;
}

static bool vhdx_ranges_overlap(uint64_t a, uint64_t alen, uint64_t b,
				uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/* Entries of the chosen region table; @buf passed its checksum. */
static int vhdx_header_load_regions(struct vhdx *v, const uint8_t *buf,
				    struct vr_err *err)
{
	uint32_t count = vr_get_le32(buf + VHDX_RT_ENTRY_COUNT);
	bool have_bat = false, have_meta = false;
	uint32_t i, j;

	if (count > VHDX_RT_MAX_ENTRIES)
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: region table: %" PRIu32
				  " entries (at most 2047)",
				  v->path, count);
	for (i = 0; i < count; i++) {
		const uint8_t *e = buf + VHDX_RT_ENTRIES + i * VHDX_RTE_SIZE;
		uint64_t off = vr_get_le64(e + VHDX_RTE_FILE_OFFSET);
		uint32_t len = vr_get_le32(e + VHDX_RTE_LENGTH);
		bool required = vr_get_le32(e + VHDX_RTE_FLAGS) & 1;
		uint64_t end;
		char g[37];

		vhdx_guid_format(e + VHDX_RTE_GUID, g);
		if (off % VHDX_MiB || len % VHDX_MiB || len == 0 ||
		    off < VHDX_HEADER_SECTION_SIZE)
			return vr_err_set(
				err, -VR_ECORRUPT,
				"%s: region %s at 0x%" PRIx64
				" length 0x%" PRIx32
				": not 1 MiB aligned past the header section",
				v->path, g, off, len);
		if (__builtin_add_overflow(off, len, &end) ||
		    end > v->file_size)
			return vr_err_set(err, -VR_ECORRUPT,
					  "%s: region %s at 0x%" PRIx64
					  " length 0x%" PRIx32
					  " ends past end of file (%" PRIu64
					  " bytes)",
					  v->path, g, off, len, v->file_size);
		if (v->hdr.log_length &&
		    vhdx_ranges_overlap(off, len, v->hdr.log_offset,
					v->hdr.log_length))
			return vr_err_set(err, -VR_ECORRUPT,
					  "%s: region %s at 0x%" PRIx64
					  " overlaps the log",
					  v->path, g, off);
		for (j = 0; j < i; j++) {
			const uint8_t *o =
				buf + VHDX_RT_ENTRIES + j * VHDX_RTE_SIZE;

			if (!memcmp(o + VHDX_RTE_GUID, e + VHDX_RTE_GUID, 16))
				return vr_err_set(err, -VR_ECORRUPT,
						  "%s: region %s listed twice",
						  v->path, g);
			if (vhdx_ranges_overlap(
				    off, len,
				    vr_get_le64(o + VHDX_RTE_FILE_OFFSET),
				    vr_get_le32(o + VHDX_RTE_LENGTH)))
				return vr_err_set(err, -VR_ECORRUPT,
						  "%s: region %s at 0x%" PRIx64
						  " overlaps another region",
						  v->path, g, off);
		}
		if (!memcmp(e + VHDX_RTE_GUID, vhdx_guid_bat, 16)) {
			v->bat_offset = off;
			v->bat_length = len;
			have_bat = true;
		} else if (!memcmp(e + VHDX_RTE_GUID, vhdx_guid_metadata, 16)) {
			v->meta_offset = off;
			v->meta_length = len;
			have_meta = true;
		} else if (required) {
			return vr_err_set(err, -ENOTSUP,
					  "%s: unknown required region %s",
					  v->path, g);
		}
	}
	if (!have_bat || !have_meta)
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: region table has no %s region", v->path,
				  have_bat ? "metadata" : "BAT");
	return 0;
}

static int vhdx_header_load_region_tables(struct vhdx *v, struct vr_err *err)
{
	static const uint64_t where[2] = { VHDX_REGION1_OFFSET,
					   VHDX_REGION2_OFFSET };
	uint8_t *buf[2] = { NULL, NULL };
	bool ok[2];
	unsigned i, use;
	int rc = 0;

	for (i = 0; i < 2; i++) {
		buf[i] = malloc(VHDX_RT_SIZE);
		if (!buf[i]) {
			rc = vr_err_set(err, -ENOMEM, "%s: out of memory",
					v->path);
			goto out;
		}
		rc = vhdx_file_pread(v, buf[i], VHDX_RT_SIZE, where[i],
				     "region table", err);
		if (rc < 0)
			goto out;
		ok[i] = vhdx_region_csum_verify(buf[i]);
	}
	if (!ok[0] && !ok[1]) {
		if (!(v->flags & VHDX_OPEN_IGNORE_CSUM) ||
		    vr_get_le32(buf[0]) != VHDX_SIG_REGION) {
			rc = vr_err_set(
				err, -VR_EBADCRC,
				"%s: both region tables are damaged (bad signature or checksum)",
				v->path);
			goto out;
		}
		vhdx_report_add(
			v->rep, true,
			"%s: both region tables fail their checksum; using table 1 anyway (recovery mode)",
			v->path);
		ok[0] = true;
	}
	use = ok[0] ? 0 : 1;
	if (!ok[0] || !ok[1])
		vhdx_report_add(v->rep, false,
				"%s: region table %u at 0x%" PRIx64
				" is damaged; using region table %u",
				v->path, 2 - use, where[1 - use], use + 1);
	else if (memcmp(buf[0], buf[1], VHDX_RT_SIZE) != 0)
		vhdx_report_add(
			v->rep, false,
			"%s: the two region tables differ; using region table 1",
			v->path);
	rc = vhdx_header_load_regions(v, buf[use], err);
out:
	free(buf[0]);
	free(buf[1]);
	return rc;
}

int vhdx_header_load(struct vhdx *v, struct vr_err *err)
{
	int rc;

	rc = vhdx_header_load_file_id(v, err);
	if (rc < 0)
		return rc;
	rc = vhdx_header_load_headers(v, err);
	if (rc < 0)
		return rc;
	return vhdx_header_load_region_tables(v, err);
}

int vhdx_header_update(struct vhdx *v, struct vr_err *err)
{
	uint8_t *buf = malloc(VHDX_HDR_CSUM_SIZE);
	unsigned pass;
	int rc = 0;

	if (!buf)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", v->path);
	for (pass = 0; pass < 2; pass++) {
		unsigned slot = v->cur_header == 1 ? 2 : 1;
		uint64_t where =
			slot == 1 ? VHDX_HEADER1_OFFSET : VHDX_HEADER2_OFFSET;
		ssize_t n;

		v->hdr.sequence++;
		vhdx_header_encode(&v->hdr, buf);
		n = vr_pwrite_full(v->fd, buf, VHDX_HDR_CSUM_SIZE, where);
		if (n < 0) {
			rc = vr_err_set(err, (int)n,
					"%s: header %u: write failed: %s",
					v->path, slot, strerror((int)-n));
			break;
		}
		if (fdatasync(v->fd) < 0) {
			rc = vr_err_set(err, -errno,
					"%s: header %u: flush failed: %s",
					v->path, slot, strerror(errno));
			break;
		}
		v->cur_header = slot;
	}
	free(buf);
	return rc;
}
