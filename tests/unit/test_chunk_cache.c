/*
 * test_chunk_cache.c - reading a repository from many threads: the
 * shared chunk cache (right bytes under 8 threads and readahead with a
 * cache far smaller than the data, its bound, prefetches that turn into
 * hits, missing and mis-sized chunks) and a reader's refresh, which sees
 * packs sealed after it opened.
 */
#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "chunk_cache.h"
#include "repo.h"
#include "tap.h"
#include "vr_err.h"

#define T_CHUNKS 300u
#define T_CHUNK (64u * 1024)
#define T_THREADS 8
#define T_READS 3000

static uint8_t t_hash[T_CHUNKS][REPO_HASH_SIZE];
static unsigned t_n;

/* Chunk @i's byte @k: each chunk its own, some compressible. */
static uint8_t t_byte(unsigned i, size_t k)
{
	uint32_t x = (uint32_t)(i * 2654435761u) ^ (uint32_t)(k / 8);

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return (i % 3) ? (uint8_t)x : (uint8_t)(i + k / 1024);
}

/* Chunk @i is T_CHUNK bytes but the last, which is shorter. */
static size_t t_len(unsigned i)
{
	return i == T_CHUNKS - 1 ? 1000 : T_CHUNK;
}

/* A repository of T_CHUNKS chunks (t_hash), opened for reading. */
static struct repo *t_repo(char *path, size_t size)
{
	static uint8_t buf[T_CHUNK];
	struct vr_err err = { 0 };
	struct repo *r = NULL;
	unsigned i;
	size_t k;

	snprintf(path, size, "%s/r%u", tap_workdir(), ++t_n);
	CU_ASSERT_EQUAL_FATAL(repo_init(path, NULL, &err), 0);
	CU_ASSERT_EQUAL_FATAL(repo_open(path, REPO_OPEN_WRITE, &r, &err), 0);
	for (i = 0; i < T_CHUNKS; i++) {
		for (k = 0; k < t_len(i); k++)
			buf[k] = t_byte(i, k);
		CU_ASSERT_EQUAL_FATAL(
			repo_chunk_put(r, buf, t_len(i), t_hash[i], NULL, &err),
			0);
	}
	CU_ASSERT_EQUAL_FATAL(repo_flush(r, &err), 0);
	repo_close(r);
	r = NULL;
	if (repo_open(path, 0, &r, &err) < 0)
		printf("# %s\n", err.msg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	return r;
}

struct t_reader {
	struct chunk_cache *c;
	unsigned seed;
	unsigned bad; /* reads that failed or gave wrong bytes */
};

/* Random ranges of random chunks (and wishes for others), checked. */
static void *t_read_many(void *arg)
{
	struct t_reader *t = arg;
	static __thread uint8_t buf[T_CHUNK];
	unsigned n;

	for (n = 0; n < T_READS; n++) {
		struct vr_err err = { 0 };
		unsigned i = (unsigned)rand_r(&t->seed) % T_CHUNKS;
		size_t in = (size_t)rand_r(&t->seed) % t_len(i), len, k;

		len = 1 + (size_t)rand_r(&t->seed) % (t_len(i) - in);
		if (chunk_cache_read(t->c, t_hash[i], t_len(i), buf, in, len,
				     &err) < 0) {
			printf("# %s\n", err.msg);
			t->bad++;
			continue;
		}
		for (k = 0; k < len; k++)
			if (buf[k] != t_byte(i, in + k)) {
				t->bad++;
				break;
			}
		chunk_cache_prefetch(t->c, t_hash[(i + 1 + n % 7) % T_CHUNKS]);
	}
	return NULL;
}

static void test_chunk_cache_threads_read_right_bytes(void)
{
	struct t_reader t[T_THREADS];
	pthread_t th[T_THREADS];
	struct chunk_cache_stats st;
	struct vr_err err = { 0 };
	struct chunk_cache *c;
	char path[300];
	struct repo *r = t_repo(path, sizeof(path));
	unsigned i, bad = 0;

	/* 16 chunks for 300: nearly every read fetches, many wait */
	CU_ASSERT_EQUAL_FATAL(chunk_cache_new(r, 16 * T_CHUNK, 2, &c, &err), 0);
	for (i = 0; i < T_THREADS; i++) {
		t[i] = (struct t_reader){ .c = c, .seed = i + 1 };
		CU_ASSERT_EQUAL_FATAL(
			pthread_create(&th[i], NULL, t_read_many, &t[i]), 0);
	}
	for (i = 0; i < T_THREADS; i++) {
		pthread_join(th[i], NULL);
		bad += t[i].bad;
	}
	CU_ASSERT_EQUAL(bad, 0);
	chunk_cache_get_stats(c, &st);
	printf("# hits %llu fetched %llu prefetched %llu waited %llu\n",
	       (unsigned long long)st.hits, (unsigned long long)st.fetched,
	       (unsigned long long)st.prefetched,
	       (unsigned long long)st.waited);
	CU_ASSERT_EQUAL(st.chunks, 16);
	CU_ASSERT_EQUAL(st.hits + st.fetched + st.waited >= T_THREADS * T_READS,
			1);
	CU_ASSERT(st.fetched > 0);
	chunk_cache_free(c);
	repo_close(r);
}

/* Wait (up to 5 s) until @c has prefetched @n chunks. */
static void t_wait_prefetched(struct chunk_cache *c, uint64_t n)
{
	struct chunk_cache_stats st;
	int i;

	for (i = 0; i < 500; i++) {
		chunk_cache_get_stats(c, &st);
		if (st.prefetched >= n)
			return;
		usleep(10000);
	}
	CU_FAIL("prefetch never happened");
}

static void test_chunk_cache_prefetch_then_hit_and_bound(void)
{
	static uint8_t buf[T_CHUNK];
	struct chunk_cache_stats st;
	struct vr_err err = { 0 };
	struct chunk_cache *c, *none;
	char path[300];
	struct repo *r = t_repo(path, sizeof(path));
	unsigned i;

	/* a size below the floor holds CHUNK_CACHE_MIN_CHUNKS */
	CU_ASSERT_EQUAL_FATAL(chunk_cache_new(r, 1, 1, &c, &err), 0);
	chunk_cache_get_stats(c, &st);
	CU_ASSERT_EQUAL(st.chunks, CHUNK_CACHE_MIN_CHUNKS);
	chunk_cache_prefetch(c, t_hash[5]);
	t_wait_prefetched(c, 1);
	CU_ASSERT_EQUAL(
		chunk_cache_read(c, t_hash[5], T_CHUNK, buf, 10, 100, &err), 0);
	CU_ASSERT_EQUAL(buf[0], t_byte(5, 10));
	chunk_cache_get_stats(c, &st);
	CU_ASSERT_EQUAL(st.hits, 1);
	CU_ASSERT_EQUAL(st.fetched, 0);
	/* a prefetch of what is cached does nothing */
	chunk_cache_prefetch(c, t_hash[5]);
	usleep(100000);
	chunk_cache_get_stats(c, &st);
	CU_ASSERT_EQUAL(st.prefetched, 1);
	/* more chunks than it holds: the oldest went, so chunk 5 is
	 * fetched again */
	for (i = 10; i < 10 + 2 * CHUNK_CACHE_MIN_CHUNKS; i++)
		CU_ASSERT_EQUAL(chunk_cache_read(c, t_hash[i], T_CHUNK, buf, 0,
						 1, &err),
				0);
	CU_ASSERT_EQUAL(
		chunk_cache_read(c, t_hash[5], T_CHUNK, buf, 0, 1, &err), 0);
	chunk_cache_get_stats(c, &st);
	CU_ASSERT_EQUAL(st.fetched, 2 * CHUNK_CACHE_MIN_CHUNKS + 1);
	chunk_cache_free(c);
	/* without readahead threads a wish is dropped */
	CU_ASSERT_EQUAL_FATAL(chunk_cache_new(r, 1 << 20, 0, &none, &err), 0);
	chunk_cache_prefetch(none, t_hash[7]);
	CU_ASSERT_EQUAL(
		chunk_cache_read(none, t_hash[7], T_CHUNK, buf, 0, 1, &err), 0);
	chunk_cache_get_stats(none, &st);
	CU_ASSERT_EQUAL(st.fetched, 1);
	CU_ASSERT_EQUAL(st.prefetched, 0);
	chunk_cache_free(none);
	repo_close(r);
}

static void test_chunk_cache_missing_and_mis_sized(void)
{
	static uint8_t buf[T_CHUNK];
	uint8_t nowhere[REPO_HASH_SIZE] = { 0x42 };
	struct vr_err err = { 0 };
	struct chunk_cache *c;
	char path[300];
	struct repo *r = t_repo(path, sizeof(path));

	CU_ASSERT_EQUAL_FATAL(chunk_cache_new(r, 1 << 20, 1, &c, &err), 0);
	chunk_cache_prefetch(c, nowhere); /* fails quietly */
	CU_ASSERT_EQUAL(chunk_cache_read(c, nowhere, T_CHUNK, buf, 0, 1, &err),
			-ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "4200000000"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "not stored"));
	vr_err_clear(&err);
	/* the last chunk is short: a disk that wants it whole is damaged */
	CU_ASSERT_EQUAL(chunk_cache_read(c, t_hash[T_CHUNKS - 1], T_CHUNK, buf,
					 0, 1, &err),
			-VR_ECORRUPT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "holds 1000 bytes"));
	vr_err_clear(&err);
	CU_ASSERT_EQUAL(chunk_cache_read(c, t_hash[T_CHUNKS - 1], 1000, buf,
					 999, 1, &err),
			0);
	CU_ASSERT_EQUAL(buf[0], t_byte(T_CHUNKS - 1, 999));
	CU_ASSERT_EQUAL(chunk_cache_read(c, t_hash[T_CHUNKS - 1], 1000, buf,
					 999, 2, &err),
			-EINVAL);
	chunk_cache_free(c);
	repo_close(r);
}

static void test_repo_refresh_sees_packs_sealed_later(void)
{
	static uint8_t buf[T_CHUNK], got[T_CHUNK];
	uint8_t hash[REPO_HASH_SIZE];
	struct vr_err err = { 0 };
	struct repo *w = NULL;
	char path[300];
	struct repo *r = t_repo(path, sizeof(path));
	size_t len;

	memset(buf, 0x5a, sizeof(buf));
	CU_ASSERT_EQUAL_FATAL(repo_open(path, REPO_OPEN_WRITE, &w, &err), 0);
	CU_ASSERT_EQUAL(repo_chunk_put(w, buf, sizeof(buf), hash, NULL, &err),
			0);
	CU_ASSERT_EQUAL(repo_flush(w, &err), 0);
	CU_ASSERT_EQUAL(repo_chunk_get(r, hash, got, &len, &err), -ENOENT);
	vr_err_clear(&err);
	CU_ASSERT_EQUAL(repo_refresh(r, &err), 0);
	CU_ASSERT_EQUAL(repo_chunk_get(r, hash, got, &len, &err), 0);
	CU_ASSERT_EQUAL(len, sizeof(buf));
	CU_ASSERT_EQUAL(memcmp(got, buf, len), 0);
	/* the old chunks still read; a second refresh changes nothing */
	CU_ASSERT_EQUAL(repo_refresh(r, &err), 0);
	CU_ASSERT_EQUAL(repo_chunk_get(r, t_hash[3], got, &len, &err), 0);
	CU_ASSERT_EQUAL(got[7], t_byte(3, 7));
	/* a writer's open is no reader's view */
	CU_ASSERT_EQUAL(repo_refresh(w, &err), -EINVAL);
	repo_close(w);
	repo_close(r);
}

int main(void)
{
	CU_pSuite s;

	CU_initialize_registry();
	s = CU_add_suite("chunk_cache", NULL, NULL);
	CU_add_test(s, "test_chunk_cache_threads_read_right_bytes",
		    test_chunk_cache_threads_read_right_bytes);
	CU_add_test(s, "test_chunk_cache_prefetch_then_hit_and_bound",
		    test_chunk_cache_prefetch_then_hit_and_bound);
	CU_add_test(s, "test_chunk_cache_missing_and_mis_sized",
		    test_chunk_cache_missing_and_mis_sized);
	CU_add_test(s, "test_repo_refresh_sees_packs_sealed_later",
		    test_repo_refresh_sees_packs_sealed_later);
	return tap_run();
}
