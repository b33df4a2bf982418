/*
 * fuzz_cbt_load.c - libFuzzer harness for the change bitmap sidecar parser
 * (src/cbt.c): any byte string as "DISK.cbt", loaded against an identity,
 * walked, marked, saved and loaded again.
 *
 * Per input (deterministic):
 *  1. The bytes are written to DIR/disk.cbt (DIR a temp directory made
 *     once), and cbt_load() judges them against two identities: the one
 *     the input's own header names (so a well-formed input gets past the
 *     identity checks) and a fixed one. Disk sizes above FUZZ_CBT_MAX_SIZE
 *     are skipped: a fresh bitmap of a 64 TiB disk is 128 MiB of memory,
 *     which is right but slow.
 *  2. Whatever loaded is walked with cbt_next_extent() (bounded); every
 *     extent must lie inside the disk, after the previous one, and an
 *     untrusted bitmap must report exactly the whole disk.
 *  3. Two ranges from the input are marked; the bitmap is saved clean and
 *     loaded again with the same identity: the trust must be the same, and
 *     a trusted bitmap must list the same extents (save/load round trip).
 *  4. The CRC-32C gates the whole file and libFuzzer cannot forge it, so
 *     if the input starts with the magic, a copy with its CRC recomputed
 *     goes through 1-3 as well.
 *
 * Build (clang, from the source root, as tests/fuzz/README.md says):
 *   ../configure CC=clang --enable-fuzz --enable-sanitizers \
 *           CFLAGS="-O1 -g -fsanitize=fuzzer-no-link"
 *   make tests/fuzz/fuzz_cbt_load
 *   ./tests/fuzz/fuzz_cbt_load -max_total_time=300 CORPUS_DIR
 */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "cbt.h"
#include "vr_crc.h"
#include "vr_endian.h"
#include "vr_err.h"

#define FUZZ_CBT_MAX_SIZE (1ull << 40)
#define FUZZ_CBT_MAX_EXTENTS 100000u
#define FUZZ_CBT_HEADER 88
#define FUZZ_CBT_CRC 80

static char fuzz_disk[256];

static void fuzz_write_sidecar(const uint8_t *data, size_t size)
{
	char path[300];
	FILE *f;

	snprintf(path, sizeof(path), "%s.cbt", fuzz_disk);
	f = fopen(path, "wb");
	FUZZ_CHECK(f);
	FUZZ_CHECK(fwrite(data, 1, size, f) == size);
	FUZZ_CHECK(fclose(f) == 0);
}

/* Walk the extents; returns how many, checking each. */
static uint64_t fuzz_walk(const struct cbt *c, uint64_t size, uint64_t *sum)
{
	uint64_t off = 0, start, len, n = 0;

	*sum = 0;
	while (n < FUZZ_CBT_MAX_EXTENTS &&
	       cbt_next_extent(c, off, &start, &len)) {
		FUZZ_CHECK(start >= off && len > 0);
		FUZZ_CHECK(start < size && len <= size - start);
		*sum = *sum * 31 + start * 7 + len;
		off = start + len;
		n++;
	}
	if (cbt_trust(c) != CBT_TRUSTED && size > 0) {
		FUZZ_CHECK(cbt_next_extent(c, 0, &start, &len));
		FUZZ_CHECK(start == 0 && len == size);
	}
	return n;
}

static void fuzz_one(const struct cbt_identity *id, const uint8_t *data,
		     size_t size)
{
	struct vr_err err = { 0 };
	struct cbt *c = NULL, *again = NULL;
	uint64_t n1, n2, s1, s2, a = 0, b = 0;
	enum cbt_trust trust;

	if (id->size > FUZZ_CBT_MAX_SIZE)
		return;
	fuzz_write_sidecar(data, size);
	if (cbt_load(fuzz_disk, id, 0, &c, &err) < 0) {
		FUZZ_CHECK(c == NULL);
		return;
	}
	n1 = fuzz_walk(c, id->size, &s1);
	(void)n1;
	if (size >= 16) {
		a = vr_get_le64(data);
		b = vr_get_le64(data + 8);
	}
	cbt_mark(c, a % (id->size + 1), b % (1u << 24));
	cbt_mark(c, b % (id->size + 1), a % 4096);
	trust = cbt_trust(c);
	n1 = fuzz_walk(c, id->size, &s1);
	if (cbt_save(c, id, true, &err) == 0) {
		FUZZ_CHECK(cbt_load(fuzz_disk, id, 0, &again, &err) == 0);
		FUZZ_CHECK(cbt_trust(again) == trust);
		n2 = fuzz_walk(again, id->size, &s2);
		FUZZ_CHECK(n1 == n2 && s1 == s2);
		cbt_free(again);
	}
	cbt_free(c);
}

/* The identity an input's own header names. */
static void fuzz_identity_of(const uint8_t *data, size_t size,
			     struct cbt_identity *id)
{
	memset(id, 0, sizeof(*id));
	if (size < FUZZ_CBT_HEADER)
		return;
	id->size = vr_get_le64(data + 32);
	memcpy(id->disk_id, data + 40, 16);
	memcpy(id->data_write_guid, data + 56, 16);
}

static void fuzz_run(const uint8_t *data, size_t size)
{
	struct cbt_identity own, fixed = { .size = 1u << 20 };

	fuzz_identity_of(data, size, &own);
	fuzz_one(&own, data, size);
	fuzz_one(&fixed, data, size);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char dir[] = "/tmp/fuzz-cbt.XXXXXX";

	(void)argc;
	(void)argv;
	if (!mkdtemp(dir))
		abort();
	snprintf(fuzz_disk, sizeof(fuzz_disk), "%s/disk", dir);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *fixed;

	fuzz_run(data, size);
	if (size < FUZZ_CBT_HEADER || memcmp(data, "vrcbt001", 8) != 0)
		return 0;
	fixed = malloc(size);
	FUZZ_CHECK(fixed);
	memcpy(fixed, data, size);
	vr_put_le32(fixed + FUZZ_CBT_CRC, 0);
	vr_put_le32(fixed + FUZZ_CBT_CRC, vr_crc32c(0, fixed, size));
	if (memcmp(fixed, data, size) != 0)
		fuzz_run(fixed, size);
	free(fixed);
	return 0;
}
