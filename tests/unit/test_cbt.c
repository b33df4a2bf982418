/*
 * test_cbt.c - the change bitmap and its sidecar: marking and extents at
 * the edges, the trust rules (no baseline, unclean, another disk, written
 * elsewhere, damaged, stale generation) and a flipped byte or a truncation
 * anywhere in the sidecar.
 */
#include <config.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "cbt.h"
#include "tap.h"
#include "vr_err.h"

static char t_disk[4200];

/* A disk of @size bytes with identity bytes @tag. */
static struct cbt_identity t_id(uint64_t size, uint8_t tag, uint8_t dwg)
{
	struct cbt_identity id;

	memset(id.disk_id, tag, 16);
	memset(id.data_write_guid, dwg, 16);
	id.size = size;
	return id;
}

static struct cbt *t_load(const struct cbt_identity *id, uint32_t g)
{
	struct vr_err err = { 0 };
	struct cbt *c = NULL;

	if (cbt_load(t_disk, id, g, &c, &err) < 0)
		printf("# %s\n", err.msg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	return c;
}

static void t_save(struct cbt *c, const struct cbt_identity *id, bool clean)
{
	struct vr_err err = { 0 };

	CU_ASSERT_EQUAL_FATAL(cbt_save(c, id, clean, &err), 0);
}

/* A trusted, empty bitmap saved clean for @id. */
static void t_baseline(const struct cbt_identity *id, uint32_t g)
{
	struct vr_err err = { 0 };
	struct cbt *c;
	char *side = cbt_sidecar_path(t_disk);

	unlink(side);
	free(side);
	c = t_load(id, g);
	CU_ASSERT_EQUAL(cbt_trust(c), CBT_NO_BASELINE);
	CU_ASSERT_EQUAL(cbt_reset(c, 0, &err), 0);
	t_save(c, id, true);
	cbt_free(c);
}

static void test_cbt_marks_and_extents_at_the_edges(void)
{
	/* 10 granules of 4 KiB, the last one short */
	struct cbt_identity id = t_id(9 * 4096 + 512, 1, 1);
	uint64_t start, len;
	struct cbt *c;

	t_baseline(&id, 4096);
	c = t_load(&id, 0);
	CU_ASSERT_EQUAL(cbt_trust(c), CBT_TRUSTED);
	CU_ASSERT_EQUAL(cbt_granularity(c), 4096);
	CU_ASSERT(!cbt_next_extent(c, 0, &start, &len));
	cbt_mark(c, 4095, 2);		/* granules 0 and 1 */
	cbt_mark(c, 9 * 4096 + 511, 1); /* the short last one */
	cbt_mark(c, 5 * 4096, 0);	/* nothing */
	cbt_mark(c, 20 * 4096, 4096);	/* past the end: nothing */
	CU_ASSERT(cbt_next_extent(c, 0, &start, &len));
	CU_ASSERT_EQUAL(start, 0);
	CU_ASSERT_EQUAL(len, 2 * 4096);
	CU_ASSERT(cbt_next_extent(c, start + len, &start, &len));
	CU_ASSERT_EQUAL(start, 9 * 4096);
	CU_ASSERT_EQUAL(len, 512);
	CU_ASSERT(!cbt_next_extent(c, start + len, &start, &len));
	/* a long run crossing whole bytes of the bitmap */
	cbt_mark(c, 0, 9 * 4096 + 512);
	CU_ASSERT(cbt_next_extent(c, 100, &start, &len));
	CU_ASSERT_EQUAL(start, 100);
	CU_ASSERT_EQUAL(len, 9 * 4096 + 512 - 100);
	cbt_free(c);
}

static void test_cbt_trust_rules(void)
{
	struct cbt_identity id = t_id(1 << 20, 2, 5), other;
	struct vr_err err = { 0 };
	uint64_t start, len;
	struct cbt *c;

	t_baseline(&id, 0);
	/* a writer opens (saves not clean), marks, dies */
	c = t_load(&id, 0);
	t_save(c, &id, false);
	cbt_mark(c, 0, 1);
	cbt_free(c);
	c = t_load(&id, 0);
	CU_ASSERT_EQUAL(cbt_trust(c), CBT_UNCLEAN);
	/* untrusted reports the whole disk */
	CU_ASSERT(cbt_next_extent(c, 0, &start, &len));
	CU_ASSERT_EQUAL(start, 0);
	CU_ASSERT_EQUAL(len, 1 << 20);
	/* and stays untrusted through a clean save, until a reset */
	t_save(c, &id, true);
	cbt_free(c);
	c = t_load(&id, 0);
	CU_ASSERT_EQUAL(cbt_trust(c), CBT_UNCLEAN);
	CU_ASSERT_EQUAL(cbt_reset(c, 0, &err), 0);
	CU_ASSERT_EQUAL(cbt_generation(c), 2);
	t_save(c, &id, true);
	cbt_free(c);

	other = id;
	other.data_write_guid[3] ^= 1;
	c = t_load(&other, 0);
	CU_ASSERT_EQUAL(cbt_trust(c), CBT_WRITTEN_ELSEWHERE);
	cbt_free(c);
	other = id;
	other.disk_id[15] ^= 1;
	c = t_load(&other, 0);
	CU_ASSERT_EQUAL(cbt_trust(c), CBT_OTHER_DISK);
	cbt_free(c);
	other = id;
	other.size += 4096;
	c = t_load(&other, 0);
	CU_ASSERT_EQUAL(cbt_trust(c), CBT_OTHER_DISK);
	cbt_free(c);
	c = t_load(&id, 0);
	CU_ASSERT_EQUAL(cbt_trust(c), CBT_TRUSTED);
	cbt_distrust(c, CBT_STALE_GENERATION);
	CU_ASSERT_EQUAL(cbt_trust(c), CBT_STALE_GENERATION);
	CU_ASSERT_STRING_EQUAL(cbt_trust_reason(CBT_TRUSTED), "trusted");
	cbt_free(c);
}

static void test_cbt_damaged_sidecar_is_never_trusted(void)
{
	struct cbt_identity id = t_id(3 << 20, 3, 3);
	char *side = cbt_sidecar_path(t_disk);
	struct stat st;
	off_t i, size;
	FILE *f;

	CU_ASSERT_PTR_NOT_NULL_FATAL(side);
	t_baseline(&id, 65536);
	CU_ASSERT_EQUAL_FATAL(stat(side, &st), 0);
	size = st.st_size;
	for (i = 0; i < size; i++) {
		struct cbt *c;
		int ch;

		f = fopen(side, "r+b");
		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		fseek(f, i, SEEK_SET);
		ch = fgetc(f);
		fseek(f, i, SEEK_SET);
		fputc(ch ^ 0x40, f);
		fclose(f);
		c = t_load(&id, 0);
		if (cbt_trust(c) == CBT_TRUSTED)
			printf("# flipped byte %jd still trusted\n",
			       (intmax_t)i);
		CU_ASSERT_NOT_EQUAL(cbt_trust(c), CBT_TRUSTED);
		cbt_free(c);
		t_baseline(&id, 65536);
	}
	for (i = 0; i < size; i += 7) {
		struct cbt *c;

		CU_ASSERT_EQUAL_FATAL(truncate(side, i), 0);
		c = t_load(&id, 0);
		CU_ASSERT_EQUAL(cbt_trust(c), CBT_DAMAGED);
		cbt_free(c);
		t_baseline(&id, 65536);
	}
	free(side);
}

static void test_cbt_rejects_bad_granularity(void)
{
	struct cbt_identity id = t_id(1 << 20, 4, 4);
	struct vr_err err = { 0 };
	struct cbt *c = NULL;

	CU_ASSERT_EQUAL(cbt_load(t_disk, &id, 3000, &c, &err), -EINVAL);
	CU_ASSERT_PTR_NULL(c);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "power of two"));
	c = t_load(&id, 0);
	vr_err_clear(&err);
	CU_ASSERT_EQUAL(cbt_reset(c, 128u << 20, &err), -EINVAL);
	CU_ASSERT_EQUAL(cbt_reset(c, 1 << 20, &err), 0);
	CU_ASSERT_EQUAL(cbt_granularity(c), 1 << 20);
	cbt_free(c);
}

int main(void)
{
	CU_pSuite s;

	snprintf(t_disk, sizeof(t_disk), "%s/disk.vhdx", tap_workdir());
	CU_initialize_registry();
	s = CU_add_suite("cbt", NULL, NULL);
	CU_add_test(s, "test_cbt_marks_and_extents_at_the_edges",
		    test_cbt_marks_and_extents_at_the_edges);
	CU_add_test(s, "test_cbt_trust_rules", test_cbt_trust_rules);
	CU_add_test(s, "test_cbt_damaged_sidecar_is_never_trusted",
		    test_cbt_damaged_sidecar_is_never_trusted);
	CU_add_test(s, "test_cbt_rejects_bad_granularity",
		    test_cbt_rejects_bad_granularity);
	return tap_run();
}
