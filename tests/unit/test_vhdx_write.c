/*
 * test_vhdx_write.c - the write path: what vhdx_write(), vhdx_zero() and
 * vhdx_flush() do to block states, sector bitmaps, headers and the log,
 * checked by reopening the file (and a copy taken before close, whose log
 * must replay to the same content).
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "tap.h"
#include "vhdx.h"
#include "vr_err.h"

#define MiB (1024u * 1024u)

static const char *t_path(const char *name)
{
	static char buf[4][4200];
	static unsigned n;
	char *p = buf[n++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", tap_workdir(), name);
	unlink(p);
	return p;
}

static void t_create(const char *path, uint64_t size, uint32_t block,
		     uint32_t lss, const char *parent)
{
	struct vhdx_create_opts o = {
		.type = parent ? VHDX_TYPE_DIFFERENCING : VHDX_TYPE_DYNAMIC,
		.virtual_size = parent ? 0 : size,
		.block_size = block,
		.logical_sector_size = parent ? 0 : lss,
		.parent_path = parent,
	};
	struct vr_err err = { 0 };

	if (vhdx_create(path, &o, &err) < 0)
		printf("# %s\n", err.msg);
	CU_ASSERT_EQUAL_FATAL(err.code, 0);
}

static struct vhdx *t_open(const char *path, unsigned flags)
{
	struct vr_err err = { 0 };
	struct vhdx *v = NULL;

	if (vhdx_open(path, flags, NULL, &v, NULL, &err) < 0)
		printf("# %s\n", err.msg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	return v;
}

static void t_fill(uint8_t *buf, size_t len, unsigned seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

static void t_write(struct vhdx *v, size_t len, uint64_t off, unsigned seed)
{
	uint8_t *buf = malloc(len);
	struct vr_err err = { 0 };

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	t_fill(buf, len, seed);
	if (vhdx_write(v, buf, len, off, &err) < 0)
		printf("# %s\n", err.msg);
	CU_ASSERT_EQUAL(err.code, 0);
	free(buf);
}

/* Does @len bytes at @off read as pattern @seed (or zeros if seed 0)? */
static bool t_reads(struct vhdx *v, size_t len, uint64_t off, unsigned seed)
{
	uint8_t *want = calloc(1, len), *got = malloc(len);
	struct vr_err err = { 0 };
	bool same;

	CU_ASSERT_FATAL(want && got);
	if (seed)
		t_fill(want, len, seed);
	CU_ASSERT_EQUAL_FATAL(vhdx_read(v, got, len, off, &err), 0);
	same = memcmp(want, got, len) == 0;
	free(want);
	free(got);
	return same;
}

static void t_copy(const char *from, const char *to)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "cp --sparse=always '%s' '%s'", from, to);
	CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
}

static void test_vhdx_write_refuses_read_only_unaligned_and_outside(void)
{
	const char *p = t_path("ro.vhdx");
	struct vr_err err = { 0 };
	uint8_t buf[4096] = { 0 };
	struct vhdx *v;

	t_create(p, 8 * MiB, MiB, 512, NULL);
	v = t_open(p, 0);
	CU_ASSERT_EQUAL(vhdx_write(v, buf, 512, 0, &err), -EBADF);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "read-only"));
	vhdx_close(v);
	v = t_open(p, VHDX_OPEN_RDWR);
	vr_err_clear(&err);
	CU_ASSERT_EQUAL(vhdx_write(v, buf, 100, 0, &err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "512-byte sector"));
	vr_err_clear(&err);
	CU_ASSERT_EQUAL(vhdx_write(v, buf, 512, 8 * MiB, &err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "outside the disk"));
	vr_err_clear(&err);
	CU_ASSERT_EQUAL(vhdx_zero(v, 8 * MiB - 512, 1024, 0, &err), -EINVAL);
	vhdx_close(v);
}

static void test_vhdx_write_new_guids_and_clean_close(void)
{
	const char *p = t_path("guids.vhdx");
	struct vhdx_info a, b;
	struct vhdx *v;
	struct stat st;

	t_create(p, 8 * MiB, MiB, 512, NULL);
	v = t_open(p, 0);
	vhdx_get_info(v, &a);
	vhdx_close(v);
	v = t_open(p, VHDX_OPEN_RDWR);
	t_write(v, 4096, 3 * MiB + 512, 1);
	vhdx_close(v);
	v = t_open(p, 0);
	vhdx_get_info(v, &b);
	CU_ASSERT(memcmp(a.file_write_guid, b.file_write_guid, 16) != 0);
	CU_ASSERT(memcmp(a.data_write_guid, b.data_write_guid, 16) != 0);
	CU_ASSERT(memcmp(a.virtual_disk_id, b.virtual_disk_id, 16) == 0);
	CU_ASSERT(b.header_sequence > a.header_sequence);
	/* closed cleanly: LogGuid cleared, nothing to replay */
	CU_ASSERT_EQUAL(b.log_entries_replayed, 0);
	CU_ASSERT(!b.log_replayed_in_memory);
	CU_ASSERT_EQUAL(b.blocks_in_state[VHDX_BLOCK_FULLY_PRESENT], 1);
	CU_ASSERT(t_reads(v, 4096, 3 * MiB + 512, 1));
	CU_ASSERT(t_reads(v, 512, 3 * MiB, 0));
	vhdx_close(v);
	/* the new block is 1 MiB aligned at the old end of the file */
	CU_ASSERT_EQUAL(stat(p, &st), 0);
	CU_ASSERT_EQUAL(st.st_size % MiB, 0);
	CU_ASSERT_EQUAL((uint64_t)st.st_size, a.file_size + MiB);
}

static void test_vhdx_write_flushed_copy_replays_its_log(void)
{
	const char *p = t_path("live.vhdx"), *q = t_path("copy.vhdx");
	struct vr_err err = { 0 };
	struct vhdx_info in;
	struct vhdx *v, *c;
	unsigned i;

	t_create(p, 64 * MiB, MiB, 512, NULL);
	v = t_open(p, VHDX_OPEN_RDWR);
	/* 60 blocks: their BAT changes outgrow several log sequences */
	for (i = 0; i < 60; i++) {
		t_write(v, 8192, (uint64_t)i * MiB + 4096, i + 1);
		CU_ASSERT_EQUAL(vhdx_flush(v, &err), 0);
	}
	/* a copy taken now is what a crash would leave */
	t_copy(p, q);
	vhdx_close(v);
	c = t_open(q, 0);
	vhdx_get_info(c, &in);
	CU_ASSERT(in.log_replayed_in_memory);
	CU_ASSERT(in.log_entries_replayed >= 1);
	CU_ASSERT_EQUAL(in.blocks_in_state[VHDX_BLOCK_FULLY_PRESENT], 60);
	for (i = 0; i < 60; i++)
		CU_ASSERT(t_reads(c, 8192, (uint64_t)i * MiB + 4096, i + 1));
	vhdx_close(c);
	/* and a read-write open replays it into the file */
	c = t_open(q, VHDX_OPEN_RDWR);
	vhdx_get_info(c, &in);
	CU_ASSERT(!in.log_replayed_in_memory);
	CU_ASSERT(t_reads(c, 8192, 59ull * MiB + 4096, 60));
	vhdx_close(c);
	c = t_open(q, 0);
	vhdx_get_info(c, &in);
	CU_ASSERT_EQUAL(in.log_entries_replayed, 0);
	vhdx_close(c);
}

static void test_vhdx_write_partial_block_becomes_fully_present(void)
{
	const char *base = t_path("pbase.vhdx"), *child = t_path("pchild.vhdx");
	struct vhdx_info in;
	struct vhdx *v;
	unsigned i;

	t_create(base, 8 * MiB, MiB, 512, NULL);
	v = t_open(base, VHDX_OPEN_RDWR);
	t_write(v, 8 * MiB, 0, 9);
	vhdx_close(v);
	t_create(child, 0, 0, 0, base);
	v = t_open(child, VHDX_OPEN_RDWR);
	/* the first half of block 1 (2 MiB blocks), then the second */
	t_write(v, MiB, 2 * MiB, 1);
	vhdx_get_info(v, &in);
	CU_ASSERT_EQUAL(in.blocks_in_state[VHDX_BLOCK_PARTIALLY_PRESENT], 1);
	CU_ASSERT(t_reads(v, MiB, 2 * MiB, 1));
	/* the rest of the block still comes from the parent */
	{
		uint8_t *want = malloc(8 * MiB), *got = malloc(MiB);
		struct vr_err err = { 0 };

		CU_ASSERT_FATAL(want && got);
		t_fill(want, 8 * MiB, 9);
		CU_ASSERT_EQUAL(vhdx_read(v, got, MiB, 3 * MiB, &err), 0);
		CU_ASSERT(memcmp(got, want + 3 * MiB, MiB) == 0);
		free(want);
		free(got);
	}
	for (i = 0; i < 2048; i++)
		t_write(v, 512, 3 * MiB + i * 512ull, 100 + i);
	vhdx_get_info(v, &in);
	CU_ASSERT_EQUAL(in.blocks_in_state[VHDX_BLOCK_PARTIALLY_PRESENT], 0);
	CU_ASSERT_EQUAL(in.blocks_in_state[VHDX_BLOCK_FULLY_PRESENT], 1);
	CU_ASSERT(t_reads(v, 512, 3 * MiB + 2047 * 512ull, 100 + 2047));
	vhdx_close(v);
}

static void test_vhdx_write_zero_whole_blocks_frees_them(void)
{
	const char *p = t_path("zero.vhdx");
	struct vr_err err = { 0 };
	struct vhdx_info in;
	struct stat before, after;
	struct vhdx *v;

	t_create(p, 16 * MiB, MiB, 512, NULL);
	v = t_open(p, VHDX_OPEN_RDWR);
	t_write(v, 4 * MiB, 4 * MiB, 5);
	CU_ASSERT_EQUAL(vhdx_flush(v, &err), 0);
	vhdx_close(v);
	CU_ASSERT_EQUAL(stat(p, &before), 0);
	v = t_open(p, VHDX_OPEN_RDWR);
	/* blocks 4 and 5 whole; half of block 6 */
	CU_ASSERT_EQUAL(vhdx_zero(v, 4 * MiB, 2 * MiB, 0, &err), 0);
	CU_ASSERT_EQUAL(vhdx_zero(v, 6 * MiB, MiB / 2, VHDX_ZERO_UNMAP, &err),
			0);
	CU_ASSERT_EQUAL(vhdx_zero(v, 7 * MiB, MiB, VHDX_ZERO_UNMAP, &err), 0);
	vhdx_get_info(v, &in);
	CU_ASSERT_EQUAL(in.blocks_in_state[VHDX_BLOCK_ZERO], 2);
	CU_ASSERT_EQUAL(in.blocks_in_state[VHDX_BLOCK_UNMAPPED], 1);
	CU_ASSERT_EQUAL(in.blocks_in_state[VHDX_BLOCK_FULLY_PRESENT], 1);
	CU_ASSERT(t_reads(v, 2 * MiB + MiB / 2, 4 * MiB, 0));
	vhdx_close(v);
	/* freed blocks are punched once the new state is durable */
	CU_ASSERT_EQUAL(stat(p, &after), 0);
	CU_ASSERT(after.st_blocks < before.st_blocks);
	v = t_open(p, 0);
	CU_ASSERT(t_reads(v, 2 * MiB + MiB / 2, 4 * MiB, 0));
	CU_ASSERT(t_reads(v, MiB, 7 * MiB, 0));
	{
		uint8_t *want = malloc(4 * MiB), *got = malloc(MiB / 2);

		CU_ASSERT_FATAL(want && got);
		t_fill(want, 4 * MiB, 5);
		CU_ASSERT_EQUAL(
			vhdx_read(v, got, MiB / 2, 6 * MiB + MiB / 2, &err), 0);
		CU_ASSERT(memcmp(got, want + 2 * MiB + MiB / 2, MiB / 2) == 0);
		free(want);
		free(got);
	}
	vhdx_close(v);
}

static void test_vhdx_write_never_touches_the_parent(void)
{
	const char *base = t_path("nbase.vhdx"), *child = t_path("nchild.vhdx");
	const char *copy = t_path("nbase.copy");
	struct vr_err err = { 0 };
	struct vhdx *v;
	char cmd[800];

	t_create(base, 8 * MiB, MiB, 4096, NULL);
	v = t_open(base, VHDX_OPEN_RDWR);
	t_write(v, 8 * MiB, 0, 3);
	vhdx_close(v);
	t_copy(base, copy);
	t_create(child, 0, 0, 0, base);
	v = t_open(child, VHDX_OPEN_RDWR);
	/* 4096-byte sectors: 512 is not a sector any more */
	CU_ASSERT_EQUAL(vhdx_zero(v, 512, 512, 0, &err), -EINVAL);
	vr_err_clear(&err);
	t_write(v, 4096, 4096, 4);
	CU_ASSERT_EQUAL(vhdx_zero(v, 2 * MiB, 2 * MiB, VHDX_ZERO_UNMAP, &err),
			0);
	CU_ASSERT(t_reads(v, 4096, 4096, 4));
	CU_ASSERT(t_reads(v, 2 * MiB, 2 * MiB, 0));
	vhdx_close(v);
	snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", base, copy);
	CU_ASSERT_EQUAL(system(cmd), 0);
}

int main(void)
{
	CU_pSuite s;

	CU_initialize_registry();
	s = CU_add_suite("vhdx_write", NULL, NULL);
	CU_add_test(s,
		    "test_vhdx_write_refuses_read_only_unaligned_and_outside",
		    test_vhdx_write_refuses_read_only_unaligned_and_outside);
	CU_add_test(s, "test_vhdx_write_new_guids_and_clean_close",
		    test_vhdx_write_new_guids_and_clean_close);
	CU_add_test(s, "test_vhdx_write_flushed_copy_replays_its_log",
		    test_vhdx_write_flushed_copy_replays_its_log);
	CU_add_test(s, "test_vhdx_write_partial_block_becomes_fully_present",
		    test_vhdx_write_partial_block_becomes_fully_present);
	CU_add_test(s, "test_vhdx_write_zero_whole_blocks_frees_them",
		    test_vhdx_write_zero_whole_blocks_frees_them);
	CU_add_test(s, "test_vhdx_write_never_touches_the_parent",
		    test_vhdx_write_never_touches_the_parent);
	return tap_run();
}
