/*
 * tap.h - run the CUnit registry and report in TAP, so automake's TAP driver
 * counts every CUnit test (not just every test program).
 *
 *	int main(void)
 *	{
 *		CU_initialize_registry();
 *		CU_pSuite s = CU_add_suite("vhdx_header", NULL, NULL);
 *		CU_add_test(s, "test_vhdx_header_rejects_bad_crc", fn);
 *		return tap_run();
 *	}
 */
#ifndef TESTS_TAP_H
#define TESTS_TAP_H

/*
 * Run all registered tests, print "1..N" and one "ok"/"not ok" line per test
 * (failed assertions as "#" comments), clean up the registry and remove
 * tap_workdir() if it was made. Returns 0 if all passed, 1 otherwise.
 */
int tap_run(void);

/*
 * Directory of the test corpus (tests/corpus in the source tree), taken
 * from $TOP_SRCDIR or, failing that, from the compile-time source dir.
 * Borrowed, static.
 */
const char *tap_srcdir(void);

/*
 * A scratch directory of this test program (made below $TMPDIR or /tmp on
 * the first call, removed with its content by tap_run()). Borrowed, static.
 */
const char *tap_workdir(void);

#endif /* TESTS_TAP_H */
