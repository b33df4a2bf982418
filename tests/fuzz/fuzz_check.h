/*
 * fuzz_check.h - what every harness checks its promises with: FUZZ_CHECK
 * names the file, line and condition, then aborts, so libFuzzer keeps the
 * input. Not an assert(): it must stay on whatever NDEBUG says.
 */
#ifndef VR_FUZZ_CHECK_H
#define VR_FUZZ_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vr_crc.h"
#include "vr_endian.h"

static inline void fuzz_fail(const char *file, int line, const char *what)
	__attribute__((noreturn));

static inline void fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: broken promise: %s\n", file, line, what);
	abort();
}

#define FUZZ_CHECK(cond)                                                       \
	do {                                                                   \
		if (!(cond))                                                   \
			fuzz_fail(__FILE__, __LINE__, #cond);                  \
	} while (0)

/*
 * Run @run on a copy of @data whose last 4 bytes are made the CRC-32C of
 * all before them, when @data starts with @magic (8 bytes) and holds at
 * least @min bytes: libFuzzer cannot forge a checksum, and without this
 * a mutated file only ever reaches "checksum does not match".
 */
static inline void fuzz_run_crc_fixed(const uint8_t *data, size_t size,
				      const char *magic, size_t min,
				      void (*run)(const uint8_t *, size_t))
{
	uint8_t *copy;

	if (size < min || size < 12 || memcmp(data, magic, 8) != 0)
		return;
	copy = malloc(size);
	if (!copy)
		return;
	memcpy(copy, data, size);
	vr_put_le32(copy + size - 4, vr_crc32c(0, copy, size - 4));
	run(copy, size);
	free(copy);
}

#endif /* VR_FUZZ_CHECK_H */
