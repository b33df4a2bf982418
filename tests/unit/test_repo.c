/*
 * test_repo.c - the repository's chunk store: put/get round trips across
 * packs and reopens, dedup, the writer lock, a crash before the seal
 * (unindexed pack, chunks unreferenced), damaged chunks and indexes found
 * by get and check, init's refusals, garbage collection (needed chunks
 * kept, readers respected) and the quota.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CUnit/CUnit.h>
#include <openssl/evp.h>

#include "base.h"
#include "manifest.h"
#include "repo.h"
#include "tap.h"
#include "vr_err.h"

static unsigned t_n;

/* A fresh repository path (not yet made). */
static const char *t_repo(void)
{
	static char path[300];

	snprintf(path, sizeof(path), "%s/r%u", tap_workdir(), ++t_n);
	return path;
}

static struct repo *t_open(const char *path, unsigned flags)
{
	struct vr_err err = { 0 };
	struct repo *r = NULL;

	if (repo_open(path, flags, &r, &err) < 0)
		printf("# %s\n", err.msg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	return r;
}

/* Chunk @i: compressible for even @i, random-looking for odd. */
static void t_chunk(uint8_t *buf, size_t len, unsigned i)
{
	size_t k;
	uint32_t x = 2463534242u + i;

	for (k = 0; k < len; k++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[k] = (i % 2) ? (uint8_t)x : (uint8_t)(i + k / 512);
	}
}

static void t_problem(void *ctx, const char *line)
{
	(void)ctx;
	printf("# problem: %s\n", line);
}

static void test_repo_put_get_round_trip_across_reopen(void)
{
	const char *path = t_repo();
	static uint8_t buf[65536], got[65536];
	uint8_t hash[200][REPO_HASH_SIZE];
	struct vr_err err = { 0 };
	struct repo *r;
	bool added;
	size_t len;
	unsigned i;

	CU_ASSERT_EQUAL_FATAL(repo_init(path, NULL, &err), 0);
	r = t_open(path, REPO_OPEN_WRITE);
	CU_ASSERT_EQUAL(repo_chunk_size(r), 65536);
	for (i = 0; i < 200; i++) {
		t_chunk(buf, sizeof(buf) - (i % 3) * 512, i);
		CU_ASSERT_EQUAL(repo_chunk_put(r, buf,
					       sizeof(buf) - (i % 3) * 512,
					       hash[i], &added, &err),
				0);
		CU_ASSERT(added);
	}
	/* the same content again: stored once */
	t_chunk(buf, sizeof(buf), 0);
	CU_ASSERT_EQUAL(
		repo_chunk_put(r, buf, sizeof(buf), hash[0], &added, &err), 0);
	CU_ASSERT(!added);
	/* readable before the seal too */
	CU_ASSERT_EQUAL(repo_chunk_get(r, hash[5], got, &len, &err), 0);
	CU_ASSERT_EQUAL(repo_flush(r, &err), 0);
	repo_close(r);

	r = t_open(path, 0);
	for (i = 0; i < 200; i++) {
		size_t want = sizeof(buf) - (i % 3) * 512;

		t_chunk(buf, want, i);
		CU_ASSERT_EQUAL(repo_chunk_get(r, hash[i], got, &len, &err), 0);
		CU_ASSERT_EQUAL(len, want);
		CU_ASSERT(memcmp(got, buf, want) == 0);
	}
	{
		struct repo_check_report rep = { .problem = t_problem };

		CU_ASSERT_EQUAL(repo_check(r, true, &rep, &err), 0);
		CU_ASSERT_EQUAL(rep.chunks, 200);
		CU_ASSERT_EQUAL(rep.bad_chunks, 0);
		CU_ASSERT_EQUAL(rep.unindexed_packs, 0);
		/* compressible chunks shrink */
		CU_ASSERT(rep.stored_bytes < 200ull * 65536 * 3 / 4);
	}
	repo_close(r);
}

static void test_repo_lock_excludes_a_second_writer(void)
{
	const char *path = t_repo();
	struct vr_err err = { 0 };
	struct repo *a, *b = NULL;

	CU_ASSERT_EQUAL_FATAL(repo_init(path, NULL, &err), 0);
	a = t_open(path, REPO_OPEN_WRITE);
	CU_ASSERT_EQUAL(repo_open(path, REPO_OPEN_WRITE, &b, &err), -EBUSY);
	CU_ASSERT_PTR_NULL(b);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "in use by another writer"));
	/* readers are not excluded */
	b = t_open(path, 0);
	repo_close(b);
	repo_close(a);
	b = t_open(path, REPO_OPEN_WRITE);
	repo_close(b);
}

static void test_repo_unsealed_pack_is_unreferenced(void)
{
	const char *path = t_repo();
	static uint8_t buf[65536], got[65536];
	uint8_t hash[REPO_HASH_SIZE];
	struct repo_check_report rep = { .problem = t_problem };
	struct vr_err err = { 0 };
	struct repo *r;
	bool added;
	size_t len;

	pid_t pid;
	int status;

	CU_ASSERT_EQUAL_FATAL(repo_init(path, NULL, &err), 0);
	t_chunk(buf, sizeof(buf), 7);
	/* closed without a flush: the unsealed pack is removed */
	r = t_open(path, REPO_OPEN_WRITE);
	CU_ASSERT_EQUAL(repo_chunk_put(r, buf, sizeof(buf), hash, &added, &err),
			0);
	repo_close(r);
	r = t_open(path, REPO_OPEN_WRITE);
	CU_ASSERT(!repo_chunk_has(r, hash));
	CU_ASSERT_EQUAL(repo_check(r, true, &rep, &err), 0);
	CU_ASSERT_EQUAL(rep.unindexed_packs, 0);
	repo_close(r);
	/* a writer that dies before the seal leaves its pack unindexed */
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		r = NULL;
		if (repo_open(path, REPO_OPEN_WRITE, &r, &err) == 0 &&
		    repo_chunk_put(r, buf, sizeof(buf), hash, &added, &err) ==
			    0)
			_exit(0);
		_exit(1);
	}
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	memset(&rep, 0, sizeof(rep));
	rep.problem = t_problem;
	r = t_open(path, REPO_OPEN_WRITE);
	CU_ASSERT(!repo_chunk_has(r, hash));
	CU_ASSERT_EQUAL(repo_chunk_get(r, hash, got, &len, &err), -ENOENT);
	CU_ASSERT_EQUAL(repo_check(r, true, &rep, &err), 0);
	CU_ASSERT_EQUAL(rep.unindexed_packs, 1);
	CU_ASSERT_EQUAL(rep.bad_chunks, 0);
	/* a later put stores it again */
	CU_ASSERT_EQUAL(repo_chunk_put(r, buf, sizeof(buf), hash, &added, &err),
			0);
	CU_ASSERT(added);
	CU_ASSERT_EQUAL(repo_flush(r, &err), 0);
	repo_close(r);
}

static void test_repo_damage_is_found(void)
{
	const char *path = t_repo();
	static uint8_t buf[65536], got[65536];
	uint8_t hash[REPO_HASH_SIZE];
	struct repo_check_report rep = { .problem = t_problem };
	struct vr_err err = { 0 };
	struct repo *r;
	char cmd[600];
	size_t len;

	CU_ASSERT_EQUAL_FATAL(repo_init(path, NULL, &err), 0);
	r = t_open(path, REPO_OPEN_WRITE);
	t_chunk(buf, sizeof(buf), 3); /* random-looking: stored as is */
	CU_ASSERT_EQUAL(repo_chunk_put(r, buf, sizeof(buf), hash, NULL, &err),
			0);
	CU_ASSERT_EQUAL(repo_flush(r, &err), 0);
	repo_close(r);
	/* flip a byte in the middle of the chunk's data */
	snprintf(cmd, sizeof(cmd),
		 "f=$(ls %s/packs/*.pack) && printf 'X' | dd of=$f bs=1 "
		 "seek=30000 conv=notrunc status=none",
		 path);
	CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
	r = t_open(path, 0);
	vr_err_clear(&err);
	CU_ASSERT_EQUAL(repo_chunk_get(r, hash, got, &len, &err), -EBADMSG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "does not match its hash"));
	CU_ASSERT_EQUAL(repo_check(r, true, &rep, &err), 0);
	CU_ASSERT_EQUAL(rep.bad_chunks, 1);
	repo_close(r);
	/* a damaged index keeps the repository from opening */
	snprintf(cmd, sizeof(cmd),
		 "f=$(ls %s/packs/*.idx) && printf 'X' | dd of=$f bs=1 seek=20 "
		 "conv=notrunc status=none",
		 path);
	CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
	r = NULL;
	vr_err_clear(&err);
	CU_ASSERT_EQUAL(repo_open(path, 0, &r, &err), -EUCLEAN);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "index damaged"));
}

static void test_repo_init_refusals(void)
{
	const char *path = t_repo();
	struct repo_init_opts bad = { .chunk_size = 3000 };
	struct vr_err err = { 0 };
	struct repo *r = NULL;

	CU_ASSERT_EQUAL(repo_init(path, &bad, &err), -EINVAL);
	vr_err_clear(&err);
	CU_ASSERT_EQUAL(repo_init(path, NULL, &err), 0);
	vr_err_clear(&err);
	CU_ASSERT_EQUAL(repo_init(path, NULL, &err), -EEXIST);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "not empty"));
	vr_err_clear(&err);
	CU_ASSERT(repo_open(tap_workdir(), 0, &r, &err) < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "not a repository"));
	CU_ASSERT(repo_is_zero((uint8_t[8]){ 0 }, 8));
	CU_ASSERT(!repo_is_zero((uint8_t[8]){ 0, 0, 0, 1 }, 8));
}

static void test_manifest_round_trip_and_damage(void)
{
	char path[300], cmd[700];
	struct manifest *m = NULL, *back = NULL;
	struct vr_err err = { 0 };
	uint64_t i;

	snprintf(path, sizeof(path), "%s/m%u.point", tap_workdir(), ++t_n);
	CU_ASSERT_EQUAL_FATAL(
		manifest_new(MANIFEST_POINT, 10 * 65536 + 512, 65536, &m, &err),
		0);
	CU_ASSERT_EQUAL(m->nchunks, 11);
	snprintf(m->name, sizeof(m->name), "p1");
	snprintf(m->base, sizeof(m->base), "golden");
	snprintf(m->disk, sizeof(m->disk), "vm1");
	m->time = 1764130000;
	m->flags = MANIFEST_CONSISTENT;
	m->cbt_generation = 7;
	m->bytes_read = 123456;
	m->bytes_new = 789;
	m->expires = 1764140000;
	for (i = 0; i < m->nchunks; i++) {
		m->types[i] = (uint8_t)(i % 3);
		if (m->types[i] == MANIFEST_HASH)
			memset(m->hashes[i], (int)i + 1, REPO_HASH_SIZE);
	}
	CU_ASSERT_EQUAL_FATAL(manifest_save(m, path, &err), 0);
	/* never replaced */
	CU_ASSERT_EQUAL(manifest_save(m, path, &err), -EEXIST);
	vr_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(manifest_load(path, &back, &err), 0);
	CU_ASSERT_EQUAL(back->kind, MANIFEST_POINT);
	CU_ASSERT_EQUAL(back->size, m->size);
	CU_ASSERT_EQUAL(back->time, m->time);
	CU_ASSERT_STRING_EQUAL(back->name, "p1");
	CU_ASSERT_STRING_EQUAL(back->base, "golden");
	CU_ASSERT_STRING_EQUAL(back->disk, "vm1");
	CU_ASSERT_EQUAL(back->flags, MANIFEST_CONSISTENT);
	CU_ASSERT_EQUAL(back->cbt_generation, 7);
	CU_ASSERT_EQUAL(back->bytes_read, 123456);
	CU_ASSERT_EQUAL(back->bytes_new, 789);
	CU_ASSERT_EQUAL(back->expires, 1764140000);
	CU_ASSERT(memcmp(back->types, m->types, (size_t)m->nchunks) == 0);
	for (i = 0; i < m->nchunks; i++)
		if (m->types[i] == MANIFEST_HASH)
			CU_ASSERT(memcmp(back->hashes[i], m->hashes[i],
					 REPO_HASH_SIZE) == 0);
	manifest_free(back);
	manifest_free(m);
	/* a flipped byte anywhere, or a cut, is refused */
	snprintf(cmd, sizeof(cmd),
		 "printf 'X' | dd of=%s bs=1 seek=100 conv=notrunc "
		 "status=none",
		 path);
	CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
	back = NULL;
	CU_ASSERT_EQUAL(manifest_load(path, &back, &err), -EUCLEAN);
	CU_ASSERT_PTR_NULL(back);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "manifest damaged"));
	CU_ASSERT_EQUAL(truncate(path, 200), 0);
	vr_err_clear(&err);
	CU_ASSERT_EQUAL(manifest_load(path, &back, &err), -EUCLEAN);
}

/* A base, rebuilt from its manifest and chunks, is the image again. */
/* Liveness for repo_gc(): chunks whose first byte of hash is even. */
static bool t_even(void *ctx, const uint8_t hash[REPO_HASH_SIZE])
{
	(void)ctx;
	return hash[0] % 2 == 0;
}

static void test_repo_gc_keeps_every_needed_chunk(void)
{
	const char *path = t_repo();
	static uint8_t buf[65536], got[65536];
	uint8_t hash[300][REPO_HASH_SIZE];
	struct repo_gc_stats st;
	struct repo_space sp;
	struct vr_err err = { 0 };
	struct repo *r, *reader;
	unsigned i, k, live = 0, distinct = 0;
	size_t len;

	CU_ASSERT_EQUAL_FATAL(repo_init(path, NULL, &err), 0);
	r = t_open(path, REPO_OPEN_WRITE);
	/* three packs: 100 chunks each */
	for (i = 0; i < 300; i++) {
		t_chunk(buf, sizeof(buf), i);
		CU_ASSERT_EQUAL(repo_chunk_put(r, buf, sizeof(buf), hash[i],
					       NULL, &err),
				0);
		if (i % 100 == 99)
			CU_ASSERT_EQUAL(repo_flush(r, &err), 0);
		for (k = 0; k < i && memcmp(hash[k], hash[i], 32); k++)
			;
		distinct += k == i; /* t_chunk repeats some contents */
		live += k == i && hash[i][0] % 2 == 0;
	}
	/* a reader in: nothing is collected */
	reader = t_open(path, 0);
	CU_ASSERT_EQUAL(repo_gc(r, t_even, NULL, &st, &err), 0);
	CU_ASSERT_TRUE(st.readers_busy);
	CU_ASSERT_EQUAL(st.chunks_dropped, 0);
	repo_close(reader);

	CU_ASSERT_EQUAL(repo_space_get(r, &sp, &err), 0);
	CU_ASSERT_EQUAL(repo_gc(r, t_even, NULL, &st, &err), 0);
	CU_ASSERT_FALSE(st.readers_busy);
	CU_ASSERT_EQUAL(st.chunks_dropped, distinct - live);
	CU_ASSERT_EQUAL(st.chunks_moved, live);
	CU_ASSERT_EQUAL(st.packs_rewritten, 3);
	CU_ASSERT_EQUAL(st.bytes_before, sp.used);
	CU_ASSERT_TRUE(st.bytes_after < st.bytes_before);
	/* the same open, and a new one, find exactly the needed chunks */
	for (i = 0; i < 300; i++)
		CU_ASSERT_EQUAL(repo_chunk_has(r, hash[i]),
				hash[i][0] % 2 == 0);
	repo_close(r);
	r = t_open(path, 0);
	for (i = 0; i < 300; i++) {
		int rc = repo_chunk_get(r, hash[i], got, &len, &err);

		vr_err_clear(&err);
		if (hash[i][0] % 2)
			CU_ASSERT_EQUAL(rc, -ENOENT);
		if (hash[i][0] % 2)
			continue;
		t_chunk(buf, sizeof(buf), i);
		CU_ASSERT_EQUAL(rc, 0);
		CU_ASSERT_EQUAL(memcmp(got, buf, sizeof(buf)), 0);
	}
	repo_close(r);
}

static void test_repo_quota_refuses_puts_beyond_it(void)
{
	const char *path = t_repo();
	struct repo_init_opts o = { .quota = 1024 * 1024 };
	static uint8_t buf[65536];
	uint8_t hash[REPO_HASH_SIZE];
	struct repo_space sp;
	struct vr_err err = { 0 };
	struct repo *r;
	unsigned i;
	int rc = 0;

	CU_ASSERT_EQUAL_FATAL(repo_init(path, &o, &err), 0);
	r = t_open(path, REPO_OPEN_WRITE);
	for (i = 1; rc == 0 && i < 100; i += 2) { /* incompressible */
		t_chunk(buf, sizeof(buf), i);
		rc = repo_chunk_put(r, buf, sizeof(buf), hash, NULL, &err);
	}
	CU_ASSERT_EQUAL(rc, -ENOSPC);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "quota of 1048576 bytes"));
	/* what was put before fits, sealed */
	CU_ASSERT_EQUAL(repo_flush(r, &err), 0);
	CU_ASSERT_EQUAL(repo_space_get(r, &sp, &err), 0);
	CU_ASSERT_EQUAL(sp.quota, 1024 * 1024);
	CU_ASSERT_TRUE(sp.used <= sp.quota);
	CU_ASSERT_EQUAL(sp.left, sp.quota - sp.used);
	/* a larger quota, kept across opens */
	CU_ASSERT_EQUAL(repo_set_quota(r, 4 * 1024 * 1024, &err), 0);
	repo_close(r);
	r = t_open(path, REPO_OPEN_WRITE);
	vr_err_clear(&err);
	CU_ASSERT_EQUAL(repo_chunk_put(r, buf, sizeof(buf), hash, NULL, &err),
			0);
	CU_ASSERT_EQUAL(repo_space_get(r, &sp, &err), 0);
	CU_ASSERT_EQUAL(sp.quota, 4 * 1024 * 1024);
	repo_close(r);
}

static void test_base_add_rebuilds_the_image(void)
{
	const char *path = t_repo();
	char img[300], mpath[400];
	static uint8_t data[3 << 20], chunk[65536];
	struct base_add_stats st;
	struct manifest *m = NULL;
	struct vr_err err = { 0 };
	struct repo *r;
	uint64_t i;
	FILE *f;

	snprintf(img, sizeof(img), "%s/img%u.raw", tap_workdir(), t_n);
	for (i = 0; i < sizeof(data); i++)
		data[i] = (i / 65536) % 3 == 0 ? 0 : (uint8_t)(i * 7 + i / 999);
	f = fopen(img, "wb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(fwrite(data, 1, sizeof(data) - 512, f),
			sizeof(data) - 512);
	fclose(f);
	CU_ASSERT_EQUAL_FATAL(repo_init(path, NULL, &err), 0);
	r = t_open(path, REPO_OPEN_WRITE);
	CU_ASSERT_EQUAL(
		base_add(r, path, img, "bad/name", NULL, NULL, &st, &err),
		-EINVAL);
	vr_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(
		base_add(r, path, img, "golden", NULL, NULL, &st, &err), 0);
	CU_ASSERT_EQUAL(st.chunks, 48);
	CU_ASSERT_EQUAL(st.zero_chunks, 16);
	CU_ASSERT_EQUAL(st.new_chunks, 32);
	repo_close(r);
	snprintf(mpath, sizeof(mpath), "%s/bases/golden.base", path);
	CU_ASSERT_EQUAL_FATAL(manifest_load(mpath, &m, &err), 0);
	CU_ASSERT_EQUAL(m->size, sizeof(data) - 512);
	r = t_open(path, 0);
	for (i = 0; i < m->nchunks; i++) {
		uint64_t off = i * 65536;
		size_t want = m->size - off < 65536 ? (size_t)(m->size - off)
						    : 65536,
		       len = 0;

		if (m->types[i] == MANIFEST_ZERO) {
			CU_ASSERT(repo_is_zero(data + off, want));
			continue;
		}
		CU_ASSERT_EQUAL(
			repo_chunk_get(r, m->hashes[i], chunk, &len, &err), 0);
		CU_ASSERT_EQUAL(len, want);
		CU_ASSERT(memcmp(chunk, data + off, want) == 0);
	}
	repo_close(r);
	manifest_free(m);
}

int main(void)
{
	CU_pSuite s;

	CU_initialize_registry();
	s = CU_add_suite("repo", NULL, NULL);
	CU_add_test(s, "test_repo_put_get_round_trip_across_reopen",
		    test_repo_put_get_round_trip_across_reopen);
	CU_add_test(s, "test_repo_lock_excludes_a_second_writer",
		    test_repo_lock_excludes_a_second_writer);
	CU_add_test(s, "test_repo_unsealed_pack_is_unreferenced",
		    test_repo_unsealed_pack_is_unreferenced);
	CU_add_test(s, "test_repo_damage_is_found", test_repo_damage_is_found);
	CU_add_test(s, "test_repo_init_refusals", test_repo_init_refusals);
	CU_add_test(s, "test_manifest_round_trip_and_damage",
		    test_manifest_round_trip_and_damage);
	CU_add_test(s, "test_repo_gc_keeps_every_needed_chunk",
		    test_repo_gc_keeps_every_needed_chunk);
	CU_add_test(s, "test_repo_quota_refuses_puts_beyond_it",
		    test_repo_quota_refuses_puts_beyond_it);
	CU_add_test(s, "test_base_add_rebuilds_the_image",
		    test_base_add_rebuilds_the_image);
	return tap_run();
}
