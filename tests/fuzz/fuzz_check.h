/*
 * fuzz_check.h - what every harness checks its promises with: FUZZ_CHECK
 * names the file, line and condition, then aborts, so libFuzzer keeps the
 * input. Not an assert(): it must stay on whatever NDEBUG says.
 */
#ifndef VR_FUZZ_CHECK_H
#define VR_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

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

#endif /* VR_FUZZ_CHECK_H */
