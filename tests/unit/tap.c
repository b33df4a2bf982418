/*
 * tap.c - CUnit to TAP bridge for the unit tests.
 */
#include <config.h>
#include "tap.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <CUnit/TestRun.h>

static unsigned tap_number;
static unsigned tap_failed;
static char tap_dir[4096]; /* tap_workdir(), once made */

static void tap_on_complete(const CU_pTest test, const CU_pSuite suite,
			    const CU_pFailureRecord failures)
{
	const CU_FailureRecord *f;

	tap_number++;
	if (!failures) {
		printf("ok %u - %s: %s\n", tap_number, suite->pName,
		       test->pName);
		return;
	}
	tap_failed++;
	printf("not ok %u - %s: %s\n", tap_number, suite->pName, test->pName);
	for (f = failures; f; f = f->pNext)
		printf("# %s:%u: %s\n", f->strFileName ? f->strFileName : "?",
		       f->uiLineNumber,
		       f->strCondition ? f->strCondition : "?");
}

static int tap_remove(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int tap_run(void)
{
	unsigned total = CU_get_registry()->uiNumberOfTests;

	printf("1..%u\n", total);
	fflush(stdout);
	CU_set_test_complete_handler(tap_on_complete);
	CU_run_all_tests();
	if (tap_number != total) {
		printf("# %u of %u tests ran (suite setup failed?)\n",
		       tap_number, total);
		tap_failed++;
	}
	CU_cleanup_registry();
	if (tap_dir[0] && nftw(tap_dir, tap_remove, 16, FTW_DEPTH | FTW_PHYS))
		tap_failed++;
	return tap_failed ? 1 : 0;
}

const char *tap_workdir(void)
{
	const char *tmp = getenv("TMPDIR");

	if (!tap_dir[0]) {
		snprintf(tap_dir, sizeof(tap_dir), "%s/vr-unit.XXXXXX",
			 tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(tap_dir)) {
			perror(tap_dir);
			exit(1);
		}
	}
	return tap_dir;
}

const char *tap_srcdir(void)
{
	const char *dir = getenv("TOP_SRCDIR");

	return dir && *dir ? dir : ABS_TOP_SRCDIR;
}
