/*
 * test_vhdx_meta.c - metadata items at and past their limits ([MS-VHDX]
 * 2.6): each case patches one field of an image made by the independent
 * generator (tests/tools/mkvhdx.py) and checks that vhdx_open() accepts
 * the limit and refuses what lies past it, naming the file and the field.
 * The image has no allocated blocks, so any block size fits its file.
 */
#include <config.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "corpus.h"
#include "guid.h"
#include "metadata.h"
#include "tap.h"
#include "vhdx.h"
#include "vr_endian.h"
#include "vr_err.h"
#include "vr_io.h"

/* The generator's layout: region table 1 names the metadata region. */
#define TEST_META_REGION_TABLE (192 * 1024)

static char *test_meta_image;

static int test_meta_suite_init(void)
{
	char cmd[4096];
	int fd;

	test_meta_image = strdup("/tmp/vr-meta.XXXXXX");
	fd = mkstemp(test_meta_image);
	if (fd < 0)
		return -1;
	close(fd);
	snprintf(cmd, sizeof(cmd),
		 "python3 '%s/tests/tools/mkvhdx.py' '%s' --size 8M >/dev/null",
		 tap_srcdir(), test_meta_image);
	return system(cmd) == 0 ? 0 : -1;
}

static int test_meta_suite_clean(void)
{
	unlink(test_meta_image);
	free(test_meta_image);
	return 0;
}

/* File offset of the metadata region, from region table 1. */
static uint64_t test_meta_region(int fd)
{
	uint8_t e[32];
	unsigned i;

	for (i = 0; i < 4; i++) {
		vr_pread_full(fd, e, 32, TEST_META_REGION_TABLE + 16 + 32 * i);
		if (!memcmp(e, vhdx_guid_metadata, 16))
			return vr_get_le64(e + 16);
	}
	return 0;
}

/* File offset of table entry @guid; 0 if absent. */
static uint64_t test_meta_entry(int fd, const uint8_t *guid)
{
	uint64_t region = test_meta_region(fd);
	uint8_t e[32];
	unsigned i;

	for (i = 0; i < 16; i++) {
		uint64_t at = region + VHDX_MT_ENTRIES + VHDX_MTE_SIZE * i;

		vr_pread_full(fd, e, 32, at);
		if (!memcmp(e, guid, 16))
			return at;
	}
	return 0;
}

/* File offset of the data of item @guid. */
static uint64_t test_meta_item(int fd, const uint8_t *guid)
{
	uint8_t e[32];

	vr_pread_full(fd, e, 32, test_meta_entry(fd, guid));
	return test_meta_region(fd) + vr_get_le32(e + VHDX_MTE_OFFSET);
}

enum test_meta_where { TEST_ITEM_DATA, TEST_ENTRY };

/* Write little-endian @value, @width bytes, at @field of an item or entry. */
struct test_meta_patch {
	const uint8_t *guid;
	enum test_meta_where where;
	unsigned field;
	uint64_t value;
	unsigned width;
};

/*
 * Copy the image, apply @n patches (offsets found before any is applied),
 * open the copy. Returns vhdx_open()'s code; @msg gets the message.
 */
static int test_meta_open_patches(const struct test_meta_patch *p, size_t n,
				  char msg[VR_ERR_MSG_MAX])
{
	char *copy = corpus_copy(test_meta_image);
	struct vr_err err = { 0 };
	struct vhdx *v = NULL;
	uint64_t at[2];
	uint8_t b[8];
	size_t i;
	int fd, rc;

	CU_ASSERT_FATAL(n <= 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
	fd = open(copy, O_RDWR);
	CU_ASSERT_FATAL(fd >= 0);
	for (i = 0; i < n; i++) {
		at[i] = p[i].where == TEST_ENTRY
				? test_meta_entry(fd, p[i].guid)
				: test_meta_item(fd, p[i].guid);
		CU_ASSERT_FATAL(at[i] != 0);
	}
	for (i = 0; i < n; i++) {
		vr_put_le64(b, p[i].value);
		CU_ASSERT_EQUAL(
			vr_pwrite_full(fd, b, p[i].width, at[i] + p[i].field),
			(ssize_t)p[i].width);
	}
	close(fd);
	rc = vhdx_open(copy, 0, NULL, &v, NULL, &err);
	vhdx_close(v);
	snprintf(msg, VR_ERR_MSG_MAX, "%s", err.msg);
	if (rc < 0 && !strstr(err.msg, copy))
		CU_FAIL("message does not name the file");
	unlink(copy);
	free(copy);
	return rc;
}

static int test_meta_open_patched(const uint8_t *guid,
				  enum test_meta_where where, unsigned field,
				  uint64_t value, unsigned width,
				  char msg[VR_ERR_MSG_MAX])
{
	struct test_meta_patch p = { guid, where, field, value, width };

	return test_meta_open_patches(&p, 1, msg);
}

static void test_meta_expect(int rc, int want, const char *msg,
			     const char *word)
{
	if (rc != want || (word && !strstr(msg, word)))
		printf("# got %d \"%s\", want %d \"%s\"\n", rc, msg, want,
		       word ? word : "");
	CU_ASSERT_EQUAL(rc, want);
	if (word)
		CU_ASSERT_PTR_NOT_NULL(strstr(msg, word));
}

static void test_vhdx_meta_block_size_limits(void)
{
	static const struct {
		uint32_t size;
		int rc;
	} cases[] = {
		{ 1u << 20, 0 },
		{ 256u << 20, 0 },
		{ 512u << 10, -VR_ECORRUPT },
		{ 3u << 20, -VR_ECORRUPT },
		{ 512u << 20, -VR_ECORRUPT },
		{ 0, -VR_ECORRUPT },
	};
	char msg[VR_ERR_MSG_MAX];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		test_meta_expect(
			test_meta_open_patched(
				vhdx_guid_file_parameters, TEST_ITEM_DATA,
				VHDX_FP_BLOCK_SIZE, cases[i].size, 4, msg),
			cases[i].rc, msg, cases[i].rc ? "block size" : NULL);
}

static void test_vhdx_meta_sector_size_limits(void)
{
	static const uint32_t bad[] = { 0, 1024, 513, 8192 };
	char msg[VR_ERR_MSG_MAX];
	size_t i;

	test_meta_expect(test_meta_open_patched(vhdx_guid_logical_sector_size,
						TEST_ITEM_DATA, 0, 4096, 4,
						msg),
			 0, msg, NULL);
	test_meta_expect(test_meta_open_patched(vhdx_guid_physical_sector_size,
						TEST_ITEM_DATA, 0, 512, 4, msg),
			 0, msg, NULL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		test_meta_expect(test_meta_open_patched(
					 vhdx_guid_logical_sector_size,
					 TEST_ITEM_DATA, 0, bad[i], 4, msg),
				 -VR_ECORRUPT, msg, "logical sector size");
		test_meta_expect(test_meta_open_patched(
					 vhdx_guid_physical_sector_size,
					 TEST_ITEM_DATA, 0, bad[i], 4, msg),
				 -VR_ECORRUPT, msg, "physical sector size");
	}
}

static void test_vhdx_meta_virtual_size_limits(void)
{
	char msg[VR_ERR_MSG_MAX];

	/* one sector past 8 MiB: a ninth, partial block, still in the BAT */
	test_meta_expect(test_meta_open_patched(vhdx_guid_virtual_disk_size,
						TEST_ITEM_DATA, 0,
						(8u << 20) + 512, 8, msg),
			 0, msg, NULL);
	test_meta_expect(test_meta_open_patched(vhdx_guid_virtual_disk_size,
						TEST_ITEM_DATA, 0, 0, 8, msg),
			 -VR_ECORRUPT, msg, "virtual disk size");
	test_meta_expect(test_meta_open_patched(vhdx_guid_virtual_disk_size,
						TEST_ITEM_DATA, 0,
						(8u << 20) + 100, 8, msg),
			 -VR_ECORRUPT, msg, "virtual disk size");
	test_meta_expect(test_meta_open_patched(vhdx_guid_virtual_disk_size,
						TEST_ITEM_DATA, 0,
						(64ull << 40) + 512, 8, msg),
			 -VR_ECORRUPT, msg, "virtual disk size");
	/* 64 TiB is legal, but needs a BAT far larger than this file's */
	test_meta_expect(test_meta_open_patched(vhdx_guid_virtual_disk_size,
						TEST_ITEM_DATA, 0, 64ull << 40,
						8, msg),
			 -VR_ECORRUPT, msg, "BAT region");
	test_meta_expect(test_meta_open_patched(vhdx_guid_virtual_disk_size,
						TEST_ITEM_DATA, 0, UINT64_MAX,
						8, msg),
			 -VR_ECORRUPT, msg, "virtual disk size");
}

static void test_vhdx_meta_item_placement_limits(void)
{
	char msg[VR_ERR_MSG_MAX];

	/* length must be the item's exact size */
	test_meta_expect(test_meta_open_patched(vhdx_guid_file_parameters,
						TEST_ENTRY, VHDX_MTE_LENGTH, 7,
						4, msg),
			 -VR_ECORRUPT, msg, "file parameters");
	/* items live past the 64 KiB table */
	test_meta_expect(test_meta_open_patched(vhdx_guid_page83, TEST_ENTRY,
						VHDX_MTE_OFFSET, 0x8000, 4,
						msg),
			 -VR_ECORRUPT, msg, "outside the metadata region");
	/* and end inside the region (1 MiB here) */
	test_meta_expect(test_meta_open_patched(vhdx_guid_page83, TEST_ENTRY,
						VHDX_MTE_OFFSET, 0xffff8, 4,
						msg),
			 -VR_ECORRUPT, msg, "outside the metadata region");
	test_meta_expect(test_meta_open_patched(vhdx_guid_page83, TEST_ENTRY,
						VHDX_MTE_OFFSET, 0xfffffff8, 4,
						msg),
			 -VR_ECORRUPT, msg, "outside the metadata region");
	/* two items may not share bytes: page 83 onto the disk size */
	test_meta_expect(test_meta_open_patched(vhdx_guid_page83, TEST_ENTRY,
						VHDX_MTE_OFFSET, 0x10008, 4,
						msg),
			 -VR_ECORRUPT, msg, "overlaps");
}

static void test_vhdx_meta_unknown_items(void)
{
	/* Give the page 83 entry an ItemId nobody knows. */
	struct test_meta_patch p[2] = {
		{ vhdx_guid_page83, TEST_ENTRY, VHDX_MTE_ITEM_ID,
		  0x1122334455667788ull, 8 },
		{ vhdx_guid_page83, TEST_ENTRY, VHDX_MTE_FLAGS,
		  VHDX_MTE_IS_REQUIRED, 4 },
	};
	char msg[VR_ERR_MSG_MAX];

	/* Marked required, an unknown item is a feature we lack. */
	test_meta_expect(test_meta_open_patches(p, 2, msg), -ENOTSUP, msg,
			 "unknown required metadata item");
	/* Optional, it is skipped; then page 83 itself is missing. */
	p[1].value = 0;
	test_meta_expect(test_meta_open_patches(p, 2, msg), -VR_ECORRUPT, msg,
			 "required item page 83 data is missing");
}

int main(void)
{
	CU_pSuite s;

	CU_initialize_registry();
	s = CU_add_suite("vhdx_meta", test_meta_suite_init,
			 test_meta_suite_clean);
	CU_add_test(s, "test_vhdx_meta_block_size_limits",
		    test_vhdx_meta_block_size_limits);
	CU_add_test(s, "test_vhdx_meta_sector_size_limits",
		    test_vhdx_meta_sector_size_limits);
	CU_add_test(s, "test_vhdx_meta_virtual_size_limits",
		    test_vhdx_meta_virtual_size_limits);
	CU_add_test(s, "test_vhdx_meta_item_placement_limits",
		    test_vhdx_meta_item_placement_limits);
	CU_add_test(s, "test_vhdx_meta_unknown_items",
		    test_vhdx_meta_unknown_items);
	return tap_run();
}
