/*
 * tap.c - CUnit to TAP bridge for the unit tests.
 */
#include <config.h>
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>

#include <CUnit/Basic.h>
#include <CUnit/TestRun.h>

static unsigned tap_number;
static unsigned tap_failed;

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
	return tap_failed ? 1 : 0;
}

const char *tap_srcdir(void)
{
	const char *dir = getenv("TOP_SRCDIR");

	return dir && *dir ? dir : ABS_TOP_SRCDIR;
}
