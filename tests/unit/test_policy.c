/*
 * test_policy.c - the DR policy: a good policy becomes the model in
 * restore order; every kind of bad policy is refused with one line naming
 * FILE:LINE:COL and the problem; globs match what they should and no more.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "glob.h"
#include "policy.h"
#include "tap.h"
#include "vr_err.h"

static char t_path[4200];

/* Write @text as the policy file and load it. */
static int t_load(const char *text, struct policy **p, struct vr_err *err)
{
	FILE *f = fopen(t_path, "w");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
	vr_err_clear(err);
	*p = NULL;
	return policy_load(t_path, p, err);
}

static void test_policy_good_policy_in_restore_order(void)
{
	static const char text[] =
		"version: 1\n"
		"name: branch-office-dr\n"
		"rpo: 15m\n"
		"retention: { keep_last: 48, keep_daily: 14, keep_within: 2d }\n"
		"quiesce: { pre: \"fsfreeze -f /srv\", post: \"fsfreeze -u "
		"/srv\" }\n"
		"alert: \"mail -s dr root\"\n"
		"applications:\n"
		"  - name: web\n"
		"    volume: 1\n"
		"    include: [\"/var/www/**\", \"/etc/nginx/**\"]\n"
		"    restore: { order: 2, depends_on: [sql] }\n"
		"  - name: files\n"
		"    volume: DATA\n"
		"    include: [\"/share/**\"]\n"
		"  - name: sql\n"
		"    volume: 0123456789abcdef\n"
		"    include: [\"/Program Files/Microsoft SQL Server/**\", "
		"\"/Data/*.mdf\"]\n"
		"    exclude: [\"**/*.tmp\"]\n"
		"    restore: { order: 1, post: hooks/sql-attach.sh }\n";
	struct vr_err err = { 0 };
	const struct policy_app *a;
	struct policy *p;

	CU_ASSERT_EQUAL_FATAL(t_load(text, &p, &err), 0);
	CU_ASSERT_STRING_EQUAL(policy_name(p), "branch-office-dr");
	CU_ASSERT_EQUAL(policy_rpo(p), 900);
	CU_ASSERT_EQUAL(policy_retention(p)->keep_last, 48);
	CU_ASSERT_EQUAL(policy_retention(p)->keep_daily, 14);
	CU_ASSERT_EQUAL(policy_retention(p)->keep_within, 2 * 86400);
	CU_ASSERT_STRING_EQUAL(policy_quiesce_pre(p), "fsfreeze -f /srv");
	CU_ASSERT_STRING_EQUAL(policy_alert(p), "mail -s dr root");
	CU_ASSERT_EQUAL_FATAL(policy_app_count(p), 3);
	/* sql (order 1), web (order 2, after sql), files (unordered) */
	a = policy_app_at(p, 0);
	CU_ASSERT_STRING_EQUAL(a->name, "sql");
	CU_ASSERT_EQUAL(a->volume.kind, POLICY_VOLUME_UUID);
	CU_ASSERT_STRING_EQUAL(a->include[1], "/Data/*.mdf");
	CU_ASSERT_PTR_NULL(a->include[2]);
	CU_ASSERT_STRING_EQUAL(a->exclude[0], "**/*.tmp");
	CU_ASSERT_STRING_EQUAL(a->post, "hooks/sql-attach.sh");
	a = policy_app_at(p, 1);
	CU_ASSERT_STRING_EQUAL(a->name, "web");
	CU_ASSERT_EQUAL(a->volume.kind, POLICY_VOLUME_PARTITION);
	CU_ASSERT_EQUAL(a->volume.partition, 1);
	CU_ASSERT_STRING_EQUAL(a->depends_on[0], "sql");
	a = policy_app_at(p, 2);
	CU_ASSERT_STRING_EQUAL(a->name, "files");
	CU_ASSERT_EQUAL(a->volume.kind, POLICY_VOLUME_LABEL);
	CU_ASSERT_STRING_EQUAL(a->volume.text, "DATA");
	CU_ASSERT_PTR_NULL(a->exclude[0]);
	CU_ASSERT_PTR_NOT_NULL(policy_app_find(p, "web"));
	CU_ASSERT_PTR_NULL(policy_app_find(p, "mail"));
	policy_free(p);
}

/* Dependencies decide the order where orders are not given. */
static void test_policy_dependencies_come_first(void)
{
	static const char text[] =
		"version: 1\nname: d\napplications:\n"
		"  - { name: c, volume: 1, include: [/c], "
		"restore: { depends_on: [b] } }\n"
		"  - { name: b, volume: 1, include: [/b], "
		"restore: { depends_on: [a] } }\n"
		"  - { name: a, volume: 1, include: [/a] }\n";
	struct vr_err err = { 0 };
	struct policy *p;

	CU_ASSERT_EQUAL_FATAL(t_load(text, &p, &err), 0);
	CU_ASSERT_STRING_EQUAL(policy_app_at(p, 0)->name, "a");
	CU_ASSERT_STRING_EQUAL(policy_app_at(p, 1)->name, "b");
	CU_ASSERT_STRING_EQUAL(policy_app_at(p, 2)->name, "c");
	policy_free(p);
}

/* Each bad policy: the line and column, and words of the message. */
static void test_policy_bad_policies_name_line_and_column(void)
{
	static const char app[] = "version: 1\nname: x\napplications:\n";
	static const struct {
		const char *text, *where, *words;
	} bad[] = {
		{ "version: 1\nname: [x\n", ":3:1:", "flow sequence" },
		{ "- just\n- a list\n", ":1:1:", "policy: expected a mapping" },
		{ "", ":1:1:", "empty" },
		{ "name: x\n", ":1:1:", "no version" },
		{ "version: 2\nname: x\n", ":1:10:", "out of range" },
		{ "version: 1\nname: x\nrpo: soon\n",
		  ":3:6:", "expected a duration" },
		{ "version: 1\nname: x\nretention: { keep_lst: 4 }\n", ":3:14:",
		  "unknown key 'keep_lst' (did you mean 'keep_last'?)" },
		{ "version: 1\nname: x\nretention: { keep_last: many }\n",
		  ":3:25:", "expected a whole number" },
		{ "version: 1\nname: x\nretention: { keep_last: 0 }\n",
		  ":3:25:", "0 is out of range (1..1000000)" },
		{ "version: 1\nname: x\nretention: {}\n",
		  ":3:12:", "retention: no rule" },
		{ "version: 1\nname: x\nquiesce: fsfreeze\n",
		  ":3:10:", "quiesce: expected a mapping" },
		{ "version: 1\nname: x\nname: y\n", ":3:1:", "given twice" },
		{ "version: 1\nname: x\nfrobnicate: 1\n",
		  ":3:1:", "unknown key 'frobnicate'" },
		{ "version: 1\nname: ../etc\n", ":2:7:", "is no name" },
		{ "version: 1\nname: x\napplications: { a: 1 }\n",
		  ":3:15:", "applications: expected a list" },
		/* applications */
		{ "  - { name: a, include: [/a] }\n", ":4:5:", "no volume" },
		{ "  - { volume: 1, include: [/a] }\n",
		  ":4:5:", "has no name" },
		{ "  - { name: a, volume: 1 }\n", ":4:5:", "no include" },
		{ "  - { name: a, volume: 1, include: [] }\n",
		  ":4:36:", "the list is empty" },
		{ "  - { name: a, volume: 0, include: [/a] }\n",
		  ":4:24:", "out of range" },
		{ "  - { name: a, volume: 1, include: [\"/a/[bc\"] }\n",
		  ":4:37:", "unclosed [" },
		{ "  - { name: a, volume: 1, include: [a/b] }\n",
		  ":4:37:", "must start with /" },
		{ "  - { name: a, volume: 1, include: [/a/../etc] }\n",
		  ":4:37:", ". or .. component" },
		{ "  - { name: a, volume: 1, include: [/x**y] }\n",
		  ":4:37:", "inside a component" },
		{ "  - { name: a, volume: 1, include: /a }\n",
		  ":4:36:", "include: expected a list" },
		{ "  - { name: a, volume: 1, include: [/a], incldue: [/b] }\n",
		  ":4:42:", "did you mean 'include'?" },
		{ "  - { name: a, volume: 1, include: [/a] }\n"
		  "  - { name: a, volume: 2, include: [/b] }\n",
		  ":5:5:", "application a is given twice" },
		{ "  - { name: a, volume: 1, include: [/a], "
		  "restore: { depends_on: [b] } }\n",
		  ":4:5:", "depends on b, which the policy does not name" },
		{ "  - { name: a, volume: 1, include: [/a], "
		  "restore: { depends_on: [a] } }\n",
		  ":4:5:", "depends on itself" },
		{ "  - { name: a, volume: 1, include: [/a], "
		  "restore: { depends_on: [b] } }\n"
		  "  - { name: b, volume: 1, include: [/b], "
		  "restore: { depends_on: [c] } }\n"
		  "  - { name: c, volume: 1, include: [/c], "
		  "restore: { depends_on: [b] } }\n",
		  ":5:5:", "part of a dependency cycle" },
		{ "  - { name: a, volume: 1, include: [/a], "
		  "restore: { order: 1, depends_on: [b] } }\n"
		  "  - { name: b, volume: 1, include: [/b], "
		  "restore: { order: 2 } }\n",
		  ":4:5:", "which comes later (order 2)" },
		{ "  - { name: a, volume: 1, include: [/a], "
		  "restore: { after: [b] } }\n",
		  ":4:53:", "unknown key 'after'" },
	};
	char text[1024], want[4300];
	struct vr_err err = { 0 };
	struct policy *p;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "%s%s",
			 bad[i].text[0] == ' ' ? app : "", bad[i].text);
		CU_ASSERT_EQUAL(t_load(text, &p, &err), -EINVAL);
		CU_ASSERT_PTR_NULL(p);
		snprintf(want, sizeof(want), "%s%s", t_path, bad[i].where);
		if (strncmp(err.msg, want, strlen(want)) != 0 ||
		    !strstr(err.msg, bad[i].words)) {
			printf("# case %zu: got \"%s\"\n#   want %s ... %s\n",
			       i, err.msg, bad[i].where, bad[i].words);
			CU_FAIL("message");
		}
		CU_ASSERT_PTR_NULL(strchr(err.msg, '\n'));
	}
	CU_ASSERT_EQUAL(policy_load("/nonexistent/p.yaml", &p, &err), -ENOENT);
}

static void test_policy_globs(void)
{
	static const struct {
		const char *pattern, *path;
		bool match;
	} cases[] = {
		{ "/var/www/**", "/var/www", true },
		{ "/var/www/**", "/var/www/index.html", true },
		{ "/var/www/**", "/var/www/a/b/c", true },
		{ "/var/www/**", "/var/wwwx/a", false },
		{ "/Data/*.mdf", "/Data/db.mdf", true },
		{ "/Data/*.mdf", "/Data/sub/db.mdf", false },
		{ "/Data/*.mdf", "/Data/db.ldf", false },
		{ "**/*.tmp", "/a.tmp", true },
		{ "**/*.tmp", "/x/y/z/a.tmp", true },
		{ "**/*.tmp", "/x/y/z/a.tmpx", false },
		{ "/a/**/b", "/a/b", true },
		{ "/a/**/b", "/a/x/y/b", true },
		{ "/a/**/b", "/a/x/y/c", false },
		{ "/a/?.log", "/a/1.log", true },
		{ "/a/[0-9].log", "/a/x.log", false },
		{ "/a", "/a/b", false },
		{ "/a/b", "/a", false },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CU_ASSERT_PTR_NULL(policy_glob_problem(cases[i].pattern));
		if (policy_glob_match(cases[i].pattern, cases[i].path, 0) !=
		    cases[i].match) {
			printf("# %s vs %s\n", cases[i].pattern, cases[i].path);
			CU_FAIL("glob");
		}
	}
	/* NTFS: without case when asked */
	CU_ASSERT(!policy_glob_match("/Data/*.MDF", "/data/x.mdf", 0));
	CU_ASSERT(policy_glob_match("/Data/*.MDF", "/data/x.mdf",
				    POLICY_GLOB_CASEFOLD));
}

/*
 * policy_glob_may_match_below() lets a walk leave directories unread: a
 * "no" where some path below does match would lose files. Every pattern
 * against every directory of a small universe of paths, by brute force;
 * and it does prune.
 */
static void test_policy_glob_pruning(void)
{
	static const char *const names[] = { "a", "b", "x.tmp", "db.mdf",
					     "Data" };
	static const char *const patterns[] = {
		"/a/**",   "/a/*.mdf",	   "/Data/db.mdf", "**/*.tmp",
		"/a/**/b", "/*/b/*.mdf",   "/b",	   "/a/b/**/x.tmp",
		"/**",	   "/a/[ab]/Data", "/?/a",	   "**/Data/**",
	};
	enum { N = 5, DEPTH = 4, PATHS = 5 + 25 + 125 + 625 };
	static char paths[PATHS + 1][64]; /* [0]: the root, "" */
	size_t np = 1, i, j, k, len;
	unsigned pruned = 0;

	/* every path of up to DEPTH names, parents first */
	for (i = 0; i < np; i++) {
		unsigned depth = 0;
		const char *c;

		for (c = paths[i]; *c; c++)
			depth += *c == '/';
		for (k = 0; depth < DEPTH && k < N; k++)
			CU_ASSERT(snprintf(paths[np++], sizeof(paths[0]),
					   "%s/%s", paths[i],
					   names[k]) < (int)sizeof(paths[0]));
	}
	CU_ASSERT_EQUAL(np, PATHS + 1);
	for (j = 0; j < sizeof(patterns) / sizeof(patterns[0]); j++) {
		for (i = 0; i < np; i++) {
			bool below = false, said;

			len = strlen(paths[i]);
			for (k = 1; k < np && !below; k++)
				below = !strncmp(paths[k], paths[i], len) &&
					paths[k][len] == '/' &&
					policy_glob_match(patterns[j], paths[k],
							  0);
			said = policy_glob_may_match_below(patterns[j],
							   paths[i], 0);
			if (below && !said) {
				printf("# %s below '%s': said no\n",
				       patterns[j], paths[i]);
				CU_FAIL("a match below was pruned");
			}
			pruned += !said;
		}
	}
	/* and it does leave directories out */
	CU_ASSERT(pruned > np);
	CU_ASSERT(!policy_glob_may_match_below("/a/*.mdf", "/b", 0));
	CU_ASSERT(!policy_glob_may_match_below("/b", "/b", 0));
	CU_ASSERT(policy_glob_may_match_below("/a/**", "/a", 0));
	CU_ASSERT(policy_glob_may_match_below("/A/*.mdf", "/a",
					      POLICY_GLOB_CASEFOLD));
}

static void test_policy_durations(void)
{
	uint64_t s = 0;

	CU_ASSERT(policy_parse_duration("30s", &s) == 0 && s == 30);
	CU_ASSERT(policy_parse_duration("15m", &s) == 0 && s == 900);
	CU_ASSERT(policy_parse_duration("4h", &s) == 0 && s == 14400);
	CU_ASSERT(policy_parse_duration("7d", &s) == 0 && s == 604800);
	CU_ASSERT(policy_parse_duration("2w", &s) == 0 && s == 1209600);
	CU_ASSERT_EQUAL(policy_parse_duration("0m", &s), -EINVAL);
	CU_ASSERT_EQUAL(policy_parse_duration("15", &s), -EINVAL);
	CU_ASSERT_EQUAL(policy_parse_duration("m", &s), -EINVAL);
	CU_ASSERT_EQUAL(policy_parse_duration("15mm", &s), -EINVAL);
	CU_ASSERT_EQUAL(policy_parse_duration("-5m", &s), -EINVAL);
	CU_ASSERT_EQUAL(policy_parse_duration("99999999999999999999d", &s),
			-EINVAL);
}

int main(void)
{
	CU_pSuite s;

	snprintf(t_path, sizeof(t_path), "%s/p.yaml", tap_workdir());
	CU_initialize_registry();
	s = CU_add_suite("policy", NULL, NULL);
	CU_add_test(s, "test_policy_good_policy_in_restore_order",
		    test_policy_good_policy_in_restore_order);
	CU_add_test(s, "test_policy_dependencies_come_first",
		    test_policy_dependencies_come_first);
	CU_add_test(s, "test_policy_bad_policies_name_line_and_column",
		    test_policy_bad_policies_name_line_and_column);
	CU_add_test(s, "test_policy_globs", test_policy_globs);
	CU_add_test(s, "test_policy_glob_pruning", test_policy_glob_pruning);
	CU_add_test(s, "test_policy_durations", test_policy_durations);
	return tap_run();
}
