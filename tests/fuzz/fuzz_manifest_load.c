/*
 * fuzz_manifest_load.c - libFuzzer harness for the manifest parser
 * (src/manifest.c, docs/repo-format.md "Manifests"): any byte string as a
 * base or point manifest.
 *
 * Per input (deterministic):
 *  1. The bytes are written to DIR/m.point (DIR a temp directory made once)
 *     and loaded whole and header-only; both must agree on success, and a
 *     manifest that loads must keep its promises: N = ceil(size / chunk
 *     size), every type in range, "base chunk" only in points, names
 *     NUL-terminated.
 *  2. A manifest that loads is saved again and loaded back: it must be the
 *     same (round trip).
 *  3. The CRC-32C trailer gates everything and libFuzzer cannot forge it,
 *     so a copy with the trailer recomputed goes through 1-2 as well.
 *
 * Build like fuzz_vhdx_open (tests/fuzz/README.md), then:
 *   ./tests/fuzz/fuzz_manifest_load -max_total_time=300 CORPUS_DIR
 * Seeds: manifests of a repository made by the tests (REPO/bases/,
 * REPO/points/).
 */
#include <config.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "manifest.h"
#include "vr_crc.h"
#include "vr_endian.h"
#include "vr_err.h"

/* Inputs naming more chunks than this are skipped: right, but slow. */
#define FUZZ_MF_MAX_CHUNKS (1u << 22)

static char fuzz_dir[256];

static void fuzz_put(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
}

static bool fuzz_same(const struct manifest *a, const struct manifest *b)
{
	return a->kind == b->kind && a->size == b->size &&
	       a->chunk_size == b->chunk_size && a->nchunks == b->nchunks &&
	       a->time == b->time && a->flags == b->flags &&
	       a->cbt_generation == b->cbt_generation &&
	       a->bytes_read == b->bytes_read && a->bytes_new == b->bytes_new &&
	       a->expires == b->expires && !strcmp(a->name, b->name) &&
	       !strcmp(a->base, b->base) && !strcmp(a->disk, b->disk) &&
	       !memcmp(a->disk_id, b->disk_id, 16) &&
	       !memcmp(a->data_write_guid, b->data_write_guid, 16);
}

static void fuzz_run(const uint8_t *data, size_t size)
{
	char path[300], again[300];
	struct vr_err err = { 0 };
	struct manifest *m = NULL, *h = NULL, *back = NULL;
	uint64_t i;
	int rc, rh;

	if (size >= 80 && vr_get_le64(data + 72) > FUZZ_MF_MAX_CHUNKS)
		return;
	snprintf(path, sizeof(path), "%s/m.point", fuzz_dir);
	fuzz_put(path, data, size);
	rc = manifest_load(path, &m, &err);
	vr_err_clear(&err);
	rh = manifest_load_header(path, &h, &err);
	FUZZ_CHECK(rc == 0 ? rh == 0 : rc != -ENOMEM);
	if (rc < 0) {
		manifest_free(h);
		return;
	}
	FUZZ_CHECK(fuzz_same(m, h) && !h->types && !h->hashes);
	FUZZ_CHECK(m->nchunks ==
		   m->size / m->chunk_size + (m->size % m->chunk_size != 0));
	FUZZ_CHECK(memchr(m->name, 0, sizeof(m->name)) &&
		   memchr(m->base, 0, sizeof(m->base)) &&
		   memchr(m->disk, 0, sizeof(m->disk)));
	for (i = 0; i < m->nchunks; i++)
		FUZZ_CHECK(m->types[i] <= MANIFEST_BASE_CHUNK &&
			   (m->types[i] != MANIFEST_BASE_CHUNK ||
			    m->kind == MANIFEST_POINT));
	snprintf(again, sizeof(again), "%s/again.point", fuzz_dir);
	unlink(again);
	FUZZ_CHECK(manifest_save(m, again, &err) == 0);
	FUZZ_CHECK(manifest_load(again, &back, &err) == 0);
	FUZZ_CHECK(fuzz_same(m, back) &&
		   !memcmp(m->types, back->types, (size_t)m->nchunks));
	for (i = 0; i < m->nchunks; i++)
		FUZZ_CHECK(
			m->types[i] != MANIFEST_HASH ||
			!memcmp(m->hashes[i], back->hashes[i], REPO_HASH_SIZE));
	manifest_free(back);
	manifest_free(h);
	manifest_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!fuzz_dir[0]) {
		snprintf(fuzz_dir, sizeof(fuzz_dir), "/tmp/fuzz-mf.XXXXXX");
		if (!mkdtemp(fuzz_dir))
			abort();
	}
	fuzz_run(data, size);
	/* the same with a trailer that matches */
	fuzz_run_crc_fixed(data, size, "VRMANI01", 12, fuzz_run);
	return 0;
}
