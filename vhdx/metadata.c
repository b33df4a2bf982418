/*
 * metadata.c - metadata table and items: file parameters, virtual disk
 * size, page 83 data (the virtual disk id), logical and physical sector
 * size, parent locator. Spec: [MS-VHDX] 2.6.
 *
 * Every item lies inside the metadata region, past the 64 KiB table, and no
 * two items overlap; lengths of fixed-size items must match the spec.
 */
#include <config.h>
#include "metadata.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "guid.h"
#include "internal.h"
#include "vhdx.h"
#include "vr_endian.h"
#include "vr_err.h"
#include "vr_text.h"

#define VHDX_SIG_METADATA 0x617461646174656dull /* "metadata" */
#define VHDX_MTE_MAX_LENGTH (1024 * 1024)

/* One known item: where its decoded value goes is decided by the caller. */
struct vhdx_meta_item {
	const uint8_t *guid;
	const char *name;
	uint32_t length; /* 0: variable */
	bool required;	 /* a file without it is refused */
	const uint8_t *data;
	uint32_t data_len;
	bool found;
};

enum {
	VHDX_ITEM_FILE_PARAMETERS,
	VHDX_ITEM_VIRTUAL_DISK_SIZE,
	VHDX_ITEM_PAGE83,
	VHDX_ITEM_LOGICAL_SECTOR_SIZE,
	VHDX_ITEM_PHYSICAL_SECTOR_SIZE,
	VHDX_ITEM_PARENT_LOCATOR,
	VHDX_ITEM_COUNT
};

/* Free @n entries of @kv and the array. */
static void vhdx_meta_locator_free(struct vhdx_locator_entry *kv, size_t n)
{
	size_t i;

	for (i = 0; kv && i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

void vhdx_meta_free(struct vhdx_meta *m)
{
	vhdx_meta_locator_free(m->locator, m->locator_count);
	m->locator = NULL;
	m->locator_count = 0;
}

const char *vhdx_meta_locator_get(const struct vhdx_meta *m, const char *key)
{
	size_t i;

	for (i = 0; i < m->locator_count; i++)
		if (!strcmp(m->locator[i].key, key))
			return m->locator[i].value;
	return NULL;
}

/* UTF-16LE string of @len bytes at @off inside the locator @pl. */
static int vhdx_meta_locator_string(const struct vhdx *v, const uint8_t *pl,
				    uint32_t pl_len, uint32_t off, uint16_t len,
				    size_t entry, const char *what, char **out,
				    struct vr_err *err)
{
	char *s;

	if (len == 0 || len % 2 || off > pl_len || len > pl_len - off)
		return vr_err_set(
			err, -VR_ECORRUPT,
			"%s: parent locator entry %zu: %s at 0x%" PRIx32
			" length %u outside the locator (%" PRIu32 " bytes)",
			v->path, entry, what, off, len, pl_len);
	s = vr_utf16le_dup(pl + off, len);
	if (!s)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", v->path);
	*out = s;
	return 0;
}

static int vhdx_meta_decode_locator(struct vhdx *v, const uint8_t *pl,
				    uint32_t pl_len, struct vr_err *err)
{
	struct vhdx_meta *m = &v->meta;
	uint16_t count;
	size_t i, j;
	int rc;

	if (pl_len < VHDX_PL_ENTRIES)
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: parent locator: %" PRIu32
				  " bytes is too short",
				  v->path, pl_len);
	memcpy(m->locator_type, pl + VHDX_PL_LOCATOR_TYPE, 16);
	count = vr_get_le16(pl + VHDX_PL_KEY_VALUE_COUNT);
	if ((uint64_t)count * VHDX_PLE_SIZE > pl_len - VHDX_PL_ENTRIES)
		return vr_err_set(
			err, -VR_ECORRUPT,
			"%s: parent locator: %u entries do not fit in %" PRIu32
			" bytes",
			v->path, count, pl_len);
	m->locator = calloc(count ? count : 1, sizeof(*m->locator));
	if (!m->locator)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", v->path);
	for (i = 0; i < count; i++) {
		const uint8_t *e = pl + VHDX_PL_ENTRIES + i * VHDX_PLE_SIZE;
		struct vhdx_locator_entry *le = &m->locator[i];

		m->locator_count = i + 1;
		rc = vhdx_meta_locator_string(
			v, pl, pl_len, vr_get_le32(e + VHDX_PLE_KEY_OFFSET),
			vr_get_le16(e + VHDX_PLE_KEY_LENGTH), i, "key",
			&le->key, err);
		if (rc < 0)
			return rc;
		rc = vhdx_meta_locator_string(
			v, pl, pl_len, vr_get_le32(e + VHDX_PLE_VALUE_OFFSET),
			vr_get_le16(e + VHDX_PLE_VALUE_LENGTH), i, "value",
			&le->value, err);
		if (rc < 0)
			return rc;
		for (j = 0; j < i; j++)
			if (!strcmp(m->locator[j].key, le->key))
				return vr_err_set(
					err, -VR_ECORRUPT,
					"%s: parent locator: key \"%s\" appears twice",
					v->path, le->key);
	}
	return 0;
}

static bool vhdx_meta_is_power_of_2(uint32_t x)
{
	return x && !(x & (x - 1));
}

static int vhdx_meta_decode_items(struct vhdx *v, struct vhdx_meta_item *it,
				  struct vr_err *err)
{
	struct vhdx_meta *m = &v->meta;
	uint32_t flags, lss;
	unsigned i;

	for (i = 0; i < VHDX_ITEM_COUNT; i++)
		if (it[i].required && !it[i].found)
			return vr_err_set(
				err, -VR_ECORRUPT,
				"%s: metadata: required item %s is missing",
				v->path, it[i].name);

	m->block_size = vr_get_le32(it[VHDX_ITEM_FILE_PARAMETERS].data +
				    VHDX_FP_BLOCK_SIZE);
	flags = vr_get_le32(it[VHDX_ITEM_FILE_PARAMETERS].data + VHDX_FP_FLAGS);
	m->leave_blocks_allocated = flags & VHDX_FP_LEAVE_BLOCKS_ALLOCATED;
	m->has_parent = flags & VHDX_FP_HAS_PARENT;
	if (!vhdx_meta_is_power_of_2(m->block_size) ||
	    m->block_size < VHDX_MIN_BLOCK_SIZE ||
	    m->block_size > VHDX_MAX_BLOCK_SIZE)
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: file parameters: block size %" PRIu32
				  " is not a power of 2 from 1 MiB to 256 MiB",
				  v->path, m->block_size);

	lss = vr_get_le32(it[VHDX_ITEM_LOGICAL_SECTOR_SIZE].data);
	m->logical_sector_size = lss;
	m->physical_sector_size =
		vr_get_le32(it[VHDX_ITEM_PHYSICAL_SECTOR_SIZE].data);
	if (lss != 512 && lss != 4096)
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: logical sector size %" PRIu32
				  " (expected 512 or 4096)",
				  v->path, lss);
	if (m->physical_sector_size != 512 && m->physical_sector_size != 4096)
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: physical sector size %" PRIu32
				  " (expected 512 or 4096)",
				  v->path, m->physical_sector_size);

	m->virtual_size = vr_get_le64(it[VHDX_ITEM_VIRTUAL_DISK_SIZE].data);
	if (m->virtual_size == 0 || m->virtual_size % lss ||
	    m->virtual_size > VHDX_MAX_VIRTUAL_SIZE)
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: virtual disk size %" PRIu64
				  " is not a non-zero multiple of %" PRIu32
				  " up to 64 TiB",
				  v->path, m->virtual_size, lss);

	memcpy(m->page83, it[VHDX_ITEM_PAGE83].data, 16);

	if (m->has_parent) {
		if (!it[VHDX_ITEM_PARENT_LOCATOR].found)
			return vr_err_set(
				err, -VR_ECORRUPT,
				"%s: differencing disk without a parent locator",
				v->path);
		return vhdx_meta_decode_locator(
			v, it[VHDX_ITEM_PARENT_LOCATOR].data,
			it[VHDX_ITEM_PARENT_LOCATOR].data_len, err);
	}
	return 0;
}

/* Table entries of the region in @buf (meta_length bytes). */
static int vhdx_meta_parse_table(struct vhdx *v, const uint8_t *buf,
				 struct vhdx_meta_item *it, struct vr_err *err)
{
	uint16_t count;
	unsigned i, j, k;

	if (vr_get_le64(buf + VHDX_MT_SIGNATURE) != VHDX_SIG_METADATA)
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: metadata table at 0x%" PRIx64
				  ": bad signature",
				  v->path, v->meta_offset);
	count = vr_get_le16(buf + VHDX_MT_ENTRY_COUNT);
	if (count > VHDX_MT_MAX_ENTRIES)
		return vr_err_set(
			err, -VR_ECORRUPT,
			"%s: metadata table: %u entries (at most 2047)",
			v->path, count);
	for (i = 0; i < count; i++) {
		const uint8_t *e = buf + VHDX_MT_ENTRIES + i * VHDX_MTE_SIZE;
		uint32_t off = vr_get_le32(e + VHDX_MTE_OFFSET);
		uint32_t len = vr_get_le32(e + VHDX_MTE_LENGTH);
		uint32_t flags = vr_get_le32(e + VHDX_MTE_FLAGS);
		char g[37];

		vhdx_guid_format(e + VHDX_MTE_ITEM_ID, g);
		if (len != 0 &&
		    (off < VHDX_MT_SIZE || len > VHDX_MTE_MAX_LENGTH ||
		     off > v->meta_length || len > v->meta_length - off))
			return vr_err_set(err, -VR_ECORRUPT,
					  "%s: metadata item %s at 0x%" PRIx32
					  " length %" PRIu32
					  " lies outside the metadata region",
					  v->path, g, off, len);
		for (j = 0; j < i && len; j++) {
			const uint8_t *o =
				buf + VHDX_MT_ENTRIES + j * VHDX_MTE_SIZE;
			uint32_t ooff = vr_get_le32(o + VHDX_MTE_OFFSET);
			uint32_t olen = vr_get_le32(o + VHDX_MTE_LENGTH);

			if (!memcmp(o, e, 16) &&
			    ((vr_get_le32(o + VHDX_MTE_FLAGS) ^ flags) &
			     VHDX_MTE_IS_USER) == 0)
				return vr_err_set(
					err, -VR_ECORRUPT,
					"%s: metadata item %s listed twice",
					v->path, g);
			if (olen && off < ooff + olen && ooff < off + len)
				return vr_err_set(
					err, -VR_ECORRUPT,
					"%s: metadata item %s at 0x%" PRIx32
					" overlaps another item",
					v->path, g, off);
		}
		if (flags & VHDX_MTE_IS_USER)
			continue; /* user items are opaque to us */
		for (k = 0; k < VHDX_ITEM_COUNT; k++)
			if (!memcmp(e + VHDX_MTE_ITEM_ID, it[k].guid, 16))
				break;
		if (k == VHDX_ITEM_COUNT) {
			if (flags & VHDX_MTE_IS_REQUIRED)
				return vr_err_set(
					err, -ENOTSUP,
					"%s: unknown required metadata item %s",
					v->path, g);
			continue;
		}
		if (it[k].length ? len != it[k].length : len == 0)
			return vr_err_set(
				err, -VR_ECORRUPT,
				"%s: metadata item %s: length %" PRIu32
				" (expected %" PRIu32 ")",
				v->path, it[k].name, len, it[k].length);
		it[k].data = buf + off;
		it[k].data_len = len;
		it[k].found = true;
	}
	return 0;
}

int vhdx_meta_load(struct vhdx *v, struct vr_err *err)
{
	struct vhdx_meta_item it[VHDX_ITEM_COUNT] = {
		[VHDX_ITEM_FILE_PARAMETERS] = { .guid = vhdx_guid_file_parameters,
						.name = "file parameters",
						.length = 8,
						.required = true },
		[VHDX_ITEM_VIRTUAL_DISK_SIZE] = { .guid = vhdx_guid_virtual_disk_size,
						  .name = "virtual disk size",
						  .length = 8,
						  .required = true },
		[VHDX_ITEM_PAGE83] = { .guid = vhdx_guid_page83,
				       .name = "page 83 data",
				       .length = 16,
				       .required = true },
		[VHDX_ITEM_LOGICAL_SECTOR_SIZE] = { .guid = vhdx_guid_logical_sector_size,
						    .name = "logical sector size",
						    .length = 4,
						    .required = true },
		[VHDX_ITEM_PHYSICAL_SECTOR_SIZE] = { .guid = vhdx_guid_physical_sector_size,
						     .name = "physical sector size",
						     .length = 4,
						     .required = true },
		[VHDX_ITEM_PARENT_LOCATOR] = { .guid = vhdx_guid_parent_locator,
					       .name = "parent locator",
					       .length = 0,
					       .required = false },
	};
	uint8_t *buf;
	int rc;

	/* The region is at most 4 GiB by its u32 length; items end within
	 * 64 KiB + 2047 MiB, but read no more than the table says is used. */
	buf = malloc(v->meta_length);
	if (!buf)
		return vr_err_set(err, -ENOMEM,
				  "%s: metadata region of %" PRIu32
				  " bytes: out of memory",
				  v->path, v->meta_length);
	rc = vhdx_file_pread(v, buf, v->meta_length, v->meta_offset,
			     "metadata region", err);
	if (rc < 0)
		goto out;
	rc = vhdx_meta_parse_table(v, buf, it, err);
	if (rc < 0)
		goto out;
	rc = vhdx_meta_decode_items(v, it, err);
out:
	free(buf);
	return rc;
}

/* ---- writing the parent locator ---- */

int vhdx_meta_locator_encode(const char *path,
			     const struct vhdx_locator_entry *kv, size_t n,
			     size_t max, uint8_t **out, size_t *out_len,
			     struct vr_err *err)
{
	uint8_t *buf;
	size_t at = VHDX_PL_ENTRIES + n * VHDX_PLE_SIZE, i;

	if (n > UINT16_MAX || at > max)
		return vr_err_set(err, -EINVAL,
				  "%s: parent locator: %zu entries do not fit",
				  path, n);
	buf = calloc(1, max);
	if (!buf)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", path);
	memcpy(buf + VHDX_PL_LOCATOR_TYPE, vhdx_guid_locator_vhdx, 16);
	vr_put_le16(buf + VHDX_PL_KEY_VALUE_COUNT, (uint16_t)n);
	for (i = 0; i < n; i++) {
		uint8_t *e = buf + VHDX_PL_ENTRIES + i * VHDX_PLE_SIZE;
		const char *text[2] = { kv[i].key, kv[i].value };
		unsigned k;

		for (k = 0; k < 2; k++) {
			uint8_t *u16;
			size_t len;

			if (vr_utf8_to_utf16le(text[k], &u16, &len) < 0) {
				free(buf);
				return vr_err_set(err, -EINVAL,
						  "%s: parent locator: \"%s\" "
						  "is not UTF-8",
						  path, text[k]);
			}
			if (len == 0 || len > UINT16_MAX || len > max - at) {
				free(u16);
				free(buf);
				return vr_err_set(err, -EINVAL,
						  "%s: parent locator: \"%s\" "
						  "is empty or too long",
						  path, text[k]);
			}
			memcpy(buf + at, u16, len);
			free(u16);
			vr_put_le32(e + (k ? VHDX_PLE_VALUE_OFFSET
					   : VHDX_PLE_KEY_OFFSET),
				    (uint32_t)at);
			vr_put_le16(e + (k ? VHDX_PLE_VALUE_LENGTH
					   : VHDX_PLE_KEY_LENGTH),
				    (uint16_t)len);
			at += len;
		}
	}
	*out = buf;
	*out_len = at;
	return 0;
}

/*
 * Where the re-encoded locator of @len bytes goes: its old place if it
 * fits there, else past the end of every item in the region.
 */
static int vhdx_meta_locator_place(const struct vhdx *v, const uint8_t *table,
				   unsigned index, size_t len, uint32_t *off,
				   struct vr_err *err)
{
	unsigned count = vr_get_le16(table + VHDX_MT_ENTRY_COUNT), i;
	const uint8_t *e = table + VHDX_MT_ENTRIES + index * VHDX_MTE_SIZE;
	uint64_t end = VHDX_MT_SIZE;

	if (len <= vr_get_le32(e + VHDX_MTE_LENGTH)) {
		*off = vr_get_le32(e + VHDX_MTE_OFFSET);
		return 0;
	}
	/* vhdx_meta_load() checked every item lies inside the region */
	for (i = 0; i < count && i < VHDX_MT_MAX_ENTRIES; i++) {
		const uint8_t *x = table + VHDX_MT_ENTRIES + i * VHDX_MTE_SIZE;
		uint64_t x_end = (uint64_t)vr_get_le32(x + VHDX_MTE_OFFSET) +
				 vr_get_le32(x + VHDX_MTE_LENGTH);

		if (x_end > end)
			end = x_end;
	}
	end = (end + 4095) / 4096 * 4096;
	if (end > v->meta_length || len > v->meta_length - end)
		return vr_err_set(err, -ENOSPC,
				  "%s: no room in the metadata region for a "
				  "%zu-byte parent locator",
				  v->path, len);
	*off = (uint32_t)end;
	return 0;
}

/* Index of the parent locator's entry in the metadata table @table. */
static int vhdx_meta_locator_index(const struct vhdx *v, const uint8_t *table,
				   unsigned *index, struct vr_err *err)
{
	unsigned count = vr_get_le16(table + VHDX_MT_ENTRY_COUNT), i;

	for (i = 0; i < count; i++)
		if (!memcmp(table + VHDX_MT_ENTRIES + i * VHDX_MTE_SIZE +
				    VHDX_MTE_ITEM_ID,
			    vhdx_guid_parent_locator, 16)) {
			*index = i;
			return 0;
		}
	return vr_err_set(err, -VR_ECORRUPT,
			  "%s: parent locator missing from the metadata table",
			  v->path);
}

int vhdx_meta_locator_set(struct vhdx *v, const char *key, const char *value,
			  struct vr_err *err)
{
	struct vhdx_meta *m = &v->meta;
	struct vhdx_locator_entry *kv;
	uint8_t *table = NULL, *item = NULL, *e;
	size_t n = m->locator_count, len, i;
	unsigned index = 0;
	uint32_t off = 0;
	int rc = 0;

	assert(m->has_parent);
	/* the new list, every string a copy: m changes only on success */
	kv = calloc(n + 1, sizeof(*kv));
	table = malloc(VHDX_MT_SIZE);
	for (i = 0; kv && i < n; i++) {
		kv[i].key = strdup(m->locator[i].key);
		kv[i].value = strdup(!strcmp(m->locator[i].key, key)
					     ? value
					     : m->locator[i].value);
		if (!kv[i].key || !kv[i].value)
			rc = -ENOMEM;
	}
	if (kv && !vhdx_meta_locator_get(m, key)) {
		kv[n].key = strdup(key);
		kv[n].value = strdup(value);
		n++;
		if (!kv[n - 1].key || !kv[n - 1].value)
			rc = -ENOMEM;
	}
	if (!kv || !table || rc < 0) {
		rc = vr_err_set(err, -ENOMEM, "%s: out of memory", v->path);
		goto out;
	}
	rc = vhdx_meta_locator_encode(v->path, kv, n, v->meta_length, &item,
				      &len, err);
	if (rc == 0)
		rc = vhdx_file_pread(v, table, VHDX_MT_SIZE, v->meta_offset,
				     "metadata table", err);
	if (rc == 0)
		rc = vhdx_meta_locator_index(v, table, &index, err);
	if (rc == 0)
		rc = vhdx_meta_locator_place(v, table, index, len, &off, err);
	if (rc < 0)
		goto out;
	/* the item, then the table entry naming it: one log sequence */
	e = table + VHDX_MT_ENTRIES + index * VHDX_MTE_SIZE;
	vr_put_le32(e + VHDX_MTE_OFFSET, off);
	vr_put_le32(e + VHDX_MTE_LENGTH, (uint32_t)len);
	rc = vhdx_session_meta_put(v, v->meta_offset + off, item, len, err);
	if (rc == 0)
		rc = vhdx_session_meta_put(
			v, v->meta_offset + (uint64_t)(e - table), e,
			VHDX_MTE_SIZE, err);
	if (rc < 0)
		goto out;
	vhdx_meta_locator_free(m->locator, m->locator_count);
	m->locator = kv;
	m->locator_count = n;
	kv = NULL;
out:
	vhdx_meta_locator_free(kv, n);
	free(table);
	free(item);
	return rc;
}
