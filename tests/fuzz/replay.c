/*
 * replay.c - a harness without libFuzzer: runs LLVMFuzzerTestOneInput()
 * once on each file named, so the inputs of tests/fuzz/crashes/ replay in
 * every build (plain and ASan/UBSan) as regression tests.
 *
 *	replay_guestfs FILE...	exit 0 if every input passed; a broken
 *				promise aborts, as under libFuzzer
 */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The whole of @path, or NULL. */
static uint8_t *replay_slurp(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL, *more;
	size_t cap = 0, got;

	*size = 0;
	if (!f)
		return NULL;
	do {
		if (*size == cap) {
			cap = cap ? 2 * cap : 1 << 20;
			more = realloc(buf, cap);
			if (!more) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = more;
		}
		got = fread(buf + *size, 1, cap - *size, f);
		*size += got;
	} while (got > 0);
	if (ferror(f)) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

int main(int argc, char **argv)
{
	uint8_t *data;
	size_t size;
	int i;

	for (i = 1; i < argc; i++) {
		data = replay_slurp(argv[i], &size);
		if (!data) {
			fprintf(stderr, "replay: %s: cannot read\n", argv[i]);
			return 1;
		}
		LLVMFuzzerTestOneInput(data, size);
		free(data);
		printf("replayed %s (%zu bytes)\n", argv[i], size);
	}
	return 0;
}
