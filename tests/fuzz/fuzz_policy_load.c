/*
 * fuzz_policy_load.c - libFuzzer harness for the DR policy loader
 * (policy/policy.c, docs/policy-format.md): any bytes as a policy file.
 *
 * A policy that loads must keep the model's promises: a usable name;
 * every application with a non-empty include list of usable globs; its
 * dependencies named in the policy and placed before it; no name twice.
 * A policy that does not load must say why in one line that starts with
 * the file's name.
 *
 * Build like fuzz_vhdx_open (tests/fuzz/README.md), then:
 *   ./tests/fuzz/fuzz_policy_load -max_total_time=200 CORPUS_DIR SEEDS
 * Seeds: examples/branch-office.yaml and the policies of test_policy.c.
 */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "glob.h"
#include "policy.h"
#include "vr_err.h"

static char fuzz_path[256];

/* Is @name the name of an application placed before position @before? */
static bool fuzz_placed_before(const struct policy *p, const char *name,
			       size_t before)
{
	size_t i;

	for (i = 0; i < before; i++)
		if (!strcmp(policy_app_at(p, i)->name, name))
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vr_err err = { 0 };
	struct policy *p = NULL;
	const char *const *g;
	size_t i;
	FILE *f;

	if (!fuzz_path[0]) {
		char dir[] = "/tmp/fuzz-policy.XXXXXX";

		if (!mkdtemp(dir))
			abort();
		snprintf(fuzz_path, sizeof(fuzz_path), "%s/p.yaml", dir);
	}
	f = fopen(fuzz_path, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	if (policy_load(fuzz_path, &p, &err) < 0) {
		FUZZ_CHECK(!strncmp(err.msg, fuzz_path, strlen(fuzz_path)));
		FUZZ_CHECK(!strchr(err.msg, '\n'));
		return 0;
	}
	FUZZ_CHECK(policy_name(p) && *policy_name(p));
	for (i = 0; i < policy_app_count(p); i++) {
		const struct policy_app *a = policy_app_at(p, i);

		FUZZ_CHECK(policy_app_find(p, a->name) == a);
		FUZZ_CHECK(a->include[0] != NULL);
		for (g = a->include; *g; g++)
			FUZZ_CHECK(!policy_glob_problem(*g));
		for (g = a->exclude; *g; g++)
			FUZZ_CHECK(!policy_glob_problem(*g));
		for (g = a->depends_on; *g; g++)
			FUZZ_CHECK(fuzz_placed_before(p, *g, i));
		/* matching any path of the input's own bytes terminates */
		policy_glob_match(a->include[0], "/a/b/c.tmp",
				  POLICY_GLOB_CASEFOLD);
	}
	policy_free(p);
	return 0;
}
