/*
 * fuzz_repo_index.c - libFuzzer harness for the repository's pack index
 * parser and chunk reader (src/repo.c, docs/repo-format.md).
 *
 * Per input: the first 4 bytes (little-endian) give the length L of an
 * index; the next L bytes become packs/00000000000000aa.idx and the rest
 * packs/00000000000000aa.pack of a repository made once in a temp
 * directory. The repository is opened read-only and checked with
 * --read-data, which reads every chunk the index names through the pack.
 * The index's CRC-32C trailer gates everything and cannot be forged by
 * libFuzzer, so a copy with the trailer recomputed is run as well.
 *
 * Build like fuzz_vhdx_open (tests/fuzz/README.md), then:
 *   ./tests/fuzz/fuzz_repo_index -max_total_time=300 CORPUS_DIR
 */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo.h"
#include "vr_crc.h"
#include "vr_endian.h"
#include "vr_err.h"

static char fuzz_repo[256];

static void fuzz_put(const char *name, const uint8_t *data, size_t size)
{
	char path[400];
	FILE *f;

	snprintf(path, sizeof(path), "%s/packs/%s", fuzz_repo, name);
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
}

static void fuzz_count(void *ctx, const char *line)
{
	(void)line;
	(*(unsigned *)ctx)++;
}

static void fuzz_run(const uint8_t *idx, size_t idx_len, const uint8_t *pack,
		     size_t pack_len)
{
	struct vr_err err = { 0 };
	unsigned problems = 0;
	struct repo_check_report rep = { .problem = fuzz_count,
					 .ctx = &problems };
	struct repo *r = NULL;

	fuzz_put("00000000000000aa.idx", idx, idx_len);
	fuzz_put("00000000000000aa.pack", pack, pack_len);
	if (repo_open(fuzz_repo, 0, &r, &err) < 0) {
		if (r)
			abort(); /* out-parameter written on failure */
		return;
	}
	if (repo_check(r, true, &rep, &err) < 0)
		abort();
	if (rep.bad_chunks > rep.chunks || problems < rep.bad_chunks)
		abort();
	repo_close(r);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char dir[] = "/tmp/fuzz-repo.XXXXXX";
	struct vr_err err = { 0 };

	(void)argc;
	(void)argv;
	if (!mkdtemp(dir))
		abort();
	snprintf(fuzz_repo, sizeof(fuzz_repo), "%s/r", dir);
	if (repo_init(fuzz_repo, NULL, &err) < 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len;
	uint8_t *fixed;

	if (size < 4)
		return 0;
	len = vr_get_le32(data);
	if (len > size - 4)
		len = size - 4;
	fuzz_run(data + 4, len, data + 4 + len, size - 4 - len);
	if (len < 8)
		return 0;
	fixed = malloc(len);
	if (!fixed)
		abort();
	memcpy(fixed, data + 4, len);
	vr_put_le32(fixed + len - 4, vr_crc32c(0, fixed, len - 4));
	if (memcmp(fixed, data + 4, len) != 0)
		fuzz_run(fixed, len, data + 4 + len, size - 4 - len);
	free(fixed);
	return 0;
}
