/*
 * test_vhdx_read.c - open and read every Windows-made VHDX of the corpus:
 * facts from tests/corpus/README.md, content against qemu's SHA-256, log
 * replay in memory and into the file, truncation at every structure.
 */
#include <config.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "corpus.h"
#include "tap.h"
#include "vhdx.h"
#include "vr_err.h"

struct sample {
	const char *rel;
	enum vhdx_type type;
	uint64_t virtual_size;
	uint32_t block_size;
	uint32_t logical, physical;
	uint64_t fully_present;
	const char *sha256; /* virtual content per qemu, README */
};

static const struct sample samples[] = {
	{ "qemu/iotest-dynamic-1G.vhdx.bz2", VHDX_TYPE_DYNAMIC, 1ull << 30,
	  32u << 20, 512, 4096, 3,
	  "d3d112d8dab7fd360609f7d5a7b769904b7a2a7d7b6b8c535f65a23293c05478" },
	{ "qemu/test-disk2vhd.vhdx.bz2", VHDX_TYPE_DYNAMIC, 256ull << 20,
	  2u << 20, 512, 512, 128,
	  "96d964042be9b58dda1725567abfb0cf9fd8380e2118754afa979c2ad445938a" },
	{ "qemu/iotest-dirtylog-10G-4M.vhdx.bz2", VHDX_TYPE_DYNAMIC,
	  10ull << 30, 1u << 20, 512, 512, 18,
	  "179cefe8b0587f123393eedf2aa7aa8d25798591178e6bc3950a09762f38f96f" },
	{ "dissect/fixed.vhdx.gz", VHDX_TYPE_FIXED, 10ull << 20, 2u << 20, 512,
	  4096, 5,
	  "bc0be4623b15aa84216fb31ba24e3b621ec7f1c72d198c990ac0eced222d9f62" },
	{ "dissect/dynamic.vhdx.gz", VHDX_TYPE_DYNAMIC, 10ull << 20, 32u << 20,
	  512, 4096, 1,
	  "8e2b5e9265d694b42b81819e3bff29770eff4ed0f4f9f311693ff3dbdc93efac" },
	{ "adiskreader/small_ntfs_test.vhdx.gz", VHDX_TYPE_DYNAMIC, 40ull << 20,
	  32u << 20, 512, 4096, 2,
	  "759cc6aaf5af4887c977d8b0638e3f6567dea807a0b1b0cc7310bcaec36ed2fc" },
};

static void test_vhdx_read_corpus_matches_readme_and_qemu(void)
{
	size_t i;

	for (i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		const struct sample *s = &samples[i];
		char *path = corpus_extract(s->rel);
		char before[65], after[65], content[65];
		struct vr_err err = { 0 };
		struct vhdx_info in;
		struct vhdx *v;

		CU_ASSERT_PTR_NOT_NULL_FATAL(path);
		CU_ASSERT_EQUAL_FATAL(corpus_file_sha256(path, before), 0);
		if (vhdx_open(path, 0, NULL, &v, NULL, &err) < 0) {
			printf("# %s: %s\n", s->rel, err.msg);
			CU_FAIL("open failed");
			goto next;
		}
		vhdx_get_info(v, &in);
		CU_ASSERT_EQUAL(in.type, s->type);
		CU_ASSERT_EQUAL(in.virtual_size, s->virtual_size);
		CU_ASSERT_EQUAL(in.block_size, s->block_size);
		CU_ASSERT_EQUAL(in.logical_sector_size, s->logical);
		CU_ASSERT_EQUAL(in.physical_sector_size, s->physical);
		CU_ASSERT_EQUAL(in.blocks_in_state[VHDX_BLOCK_FULLY_PRESENT],
				s->fully_present);
		CU_ASSERT_EQUAL_FATAL(corpus_vhdx_sha256(v, content), 0);
		if (strcmp(content, s->sha256) != 0)
			printf("# %s: content %s, expected %s\n", s->rel,
			       content, s->sha256);
		CU_ASSERT_STRING_EQUAL(content, s->sha256);
		vhdx_close(v);
		/* A read-only open never writes, even with a dirty log. */
		CU_ASSERT_EQUAL(corpus_file_sha256(path, after), 0);
		CU_ASSERT_STRING_EQUAL(before, after);
next:
		unlink(path);
		free(path);
	}
}

static void test_vhdx_read_dirty_log_is_replayed_in_memory(void)
{
	char *path = corpus_extract("adiskreader/small_ntfs_test.vhdx.gz");
	struct vr_err err = { 0 };
	struct vhdx_report rep = { 0 };
	struct vhdx_info in;
	struct vhdx *v;

	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	CU_ASSERT_EQUAL_FATAL(vhdx_open(path, 0, NULL, &v, &rep, &err), 0);
	vhdx_get_info(v, &in);
	/* Before replay both BAT entries are NOT_PRESENT (README). */
	CU_ASSERT_TRUE(in.log_replayed_in_memory);
	CU_ASSERT_TRUE(in.log_entries_replayed > 0);
	CU_ASSERT_EQUAL(in.blocks_in_state[VHDX_BLOCK_FULLY_PRESENT], 2);
	CU_ASSERT_EQUAL(rep.warnings, 1);
	vhdx_report_free(&rep);
	vhdx_close(v);
	unlink(path);
	free(path);
}

static void test_vhdx_read_rdwr_open_replays_log_into_file(void)
{
	char *path = corpus_extract("qemu/iotest-dirtylog-10G-4M.vhdx.bz2");
	struct vr_err err = { 0 };
	struct vhdx_info in;
	struct vhdx *v;
	char content[65];

	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	CU_ASSERT_EQUAL_FATAL(
		vhdx_open(path, VHDX_OPEN_RDWR, NULL, &v, NULL, &err), 0);
	vhdx_close(v);
	/* Reopened read-only, the log is empty and the content is qemu's. */
	CU_ASSERT_EQUAL_FATAL(vhdx_open(path, 0, NULL, &v, NULL, &err), 0);
	vhdx_get_info(v, &in);
	CU_ASSERT_FALSE(in.log_replayed_in_memory);
	CU_ASSERT_EQUAL(in.log_entries_replayed, 0);
	CU_ASSERT_EQUAL(in.blocks_in_state[VHDX_BLOCK_FULLY_PRESENT], 18);
	CU_ASSERT_EQUAL(corpus_vhdx_sha256(v, content), 0);
	CU_ASSERT_STRING_EQUAL(content, "179cefe8b0587f123393eedf2aa7aa8d2579"
					"8591178e6bc3950a09762f38f96f");
	vhdx_close(v);
	unlink(path);
	free(path);
}

static void test_vhdx_read_differencing_locator_and_missing_parent(void)
{
	char *path = corpus_extract("dissect/differencing.avhdx.gz");
	struct vr_err err = { 0 };
	struct vhdx_info in;
	struct vhdx *v;
	const char *key, *value;
	char text[37];
	size_t i;
	bool linkage = false, relative = false;

	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	CU_ASSERT_EQUAL(vhdx_open(path, 0, NULL, &v, NULL, &err), -ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "not found"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "Generation 1_49C4BAF3"));
	vr_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(
		vhdx_open(path, VHDX_OPEN_NO_PARENT, NULL, &v, NULL, &err), 0);
	vhdx_get_info(v, &in);
	CU_ASSERT_EQUAL(in.type, VHDX_TYPE_DIFFERENCING);
	CU_ASSERT_EQUAL(in.virtual_size, 8ull << 30);
	CU_ASSERT_EQUAL(in.blocks_in_state[VHDX_BLOCK_PARTIALLY_PRESENT], 32);
	CU_ASSERT_EQUAL(in.blocks_in_state[VHDX_BLOCK_NOT_PRESENT], 4064);
	CU_ASSERT_EQUAL(in.bitmap_blocks_present, 2);
	vhdx_guid_format(vhdx_locator_type(v), text);
	CU_ASSERT_STRING_EQUAL(text, "b04aefb7-d19e-4a81-b789-25b8e9445913");
	for (i = 0; i < vhdx_locator_count(v); i++) {
		vhdx_locator_entry(v, i, &key, &value);
		if (!strcmp(key, "parent_linkage")) {
			linkage = true;
			CU_ASSERT_STRING_EQUAL(
				value,
				"{ff34003b-11ed-4cf8-a166-b2be05e20b80}");
		}
		if (!strcmp(key, "relative_path"))
			relative = true;
	}
	CU_ASSERT_TRUE(linkage);
	CU_ASSERT_TRUE(relative);
	vhdx_close(v);
	unlink(path);
	free(path);
}

/* Cut a good file inside every structure: each cut is refused, not read. */
static void test_vhdx_read_rejects_every_truncation(void)
{
	static const uint64_t cuts[] = {
		0,
		100,
		64 * 1024 + 100,
		128 * 1024 + 100,
		192 * 1024 + 100,
		256 * 1024 + 100,
		(1 << 20) - 1,
	};
	char *orig = corpus_extract("dissect/fixed.vhdx.gz");
	struct vhdx_info in;
	struct vr_err err = { 0 };
	struct vhdx *v;
	uint64_t extra[3];
	size_t i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(orig);
	CU_ASSERT_EQUAL_FATAL(vhdx_open(orig, 0, NULL, &v, NULL, &err), 0);
	vhdx_get_info(v, &in);
	vhdx_close(v);
	/* past the header section: the last payload block and the tail */
	extra[0] = in.file_size - 1;
	extra[1] = in.file_size - in.block_size / 2;
	extra[2] = in.file_size - in.block_size - 4096;
	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]) + 3; i++) {
		uint64_t cut =
			i < sizeof(cuts) / sizeof(cuts[0])
				? cuts[i]
				: extra[i - sizeof(cuts) / sizeof(cuts[0])];
		char *copy = corpus_copy(orig);

		CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
		CU_ASSERT_EQUAL_FATAL(truncate(copy, (off_t)cut), 0);
		vr_err_clear(&err);
		CU_ASSERT_EQUAL(vhdx_open(copy, 0, NULL, &v, NULL, &err),
				-VR_ECORRUPT);
		CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, copy));
		if (!strstr(err.msg, "truncated") &&
		    !strstr(err.msg, "past end of file"))
			printf("# cut at %llu: %s\n", (unsigned long long)cut,
			       err.msg);
		CU_ASSERT_TRUE(strstr(err.msg, "truncated") ||
			       strstr(err.msg, "past end of file"));
		unlink(copy);
		free(copy);
	}
	unlink(orig);
	free(orig);
}

/*
 * A run that stops at a block the disk cannot classify (here: a parent not
 * opened) is returned without an error; the next call reports it.
 */
static void test_vhdx_read_extent_stops_before_an_unreadable_block(void)
{
	char dir[] = "/tmp/vr-extent.XXXXXX", cmd[4096], child[64];
	struct vr_err err = { 0 };
	struct vhdx *v;
	uint64_t run = 0;
	bool is_zero = true;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd),
		 "cd %s && python3 '%s/tests/tools/mkvhdx.py' base.vhdx "
		 "--size 8M >/dev/null && python3 '%s/tests/tools/mkvhdx.py' "
		 "child.vhdx --parent base.vhdx --write 0:1M:1 >/dev/null",
		 dir, tap_srcdir(), tap_srcdir());
	CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
	snprintf(child, sizeof(child), "%s/child.vhdx", dir);
	CU_ASSERT_EQUAL_FATAL(
		vhdx_open(child, VHDX_OPEN_NO_PARENT, NULL, &v, NULL, &err), 0);
	CU_ASSERT_EQUAL(vhdx_extent(v, 0, 8u << 20, &run, &is_zero, &err), 0);
	CU_ASSERT_EQUAL(run, 1u << 20);
	CU_ASSERT_FALSE(is_zero);
	CU_ASSERT_EQUAL(err.code, 0);
	CU_ASSERT_EQUAL(
		vhdx_extent(v, 1u << 20, 7u << 20, &run, &is_zero, &err),
		-ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "without its parent"));
	vhdx_close(v);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CU_ASSERT_EQUAL(system(cmd), 0);
}

int main(void)
{
	CU_pSuite s;

	CU_initialize_registry();
	s = CU_add_suite("vhdx_read", NULL, NULL);
	CU_add_test(s, "test_vhdx_read_corpus_matches_readme_and_qemu",
		    test_vhdx_read_corpus_matches_readme_and_qemu);
	CU_add_test(s, "test_vhdx_read_dirty_log_is_replayed_in_memory",
		    test_vhdx_read_dirty_log_is_replayed_in_memory);
	CU_add_test(s, "test_vhdx_read_rdwr_open_replays_log_into_file",
		    test_vhdx_read_rdwr_open_replays_log_into_file);
	CU_add_test(s, "test_vhdx_read_differencing_locator_and_missing_parent",
		    test_vhdx_read_differencing_locator_and_missing_parent);
	CU_add_test(s, "test_vhdx_read_rejects_every_truncation",
		    test_vhdx_read_rejects_every_truncation);
	CU_add_test(s, "test_vhdx_read_extent_stops_before_an_unreadable_block",
		    test_vhdx_read_extent_stops_before_an_unreadable_block);
	return tap_run();
}
