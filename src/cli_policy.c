/*
 * cli_policy.c - "vhdrecover policy check P": load a DR policy and show
 * what it says, in the order a restore would follow (policy.h).
 */
#include <config.h>

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "json.h"
#include "policy.h"
#include "vr_err.h"

static void cli_policy_usage(FILE *f)
{
	fprintf(f, "Usage: vhdrecover policy check [--json] POLICY.yaml\n"
		   "Load the DR policy and check it against the schema "
		   "(docs/policy-format.md):\nunknown keys, types, globs, "
		   "durations, duplicate applications, unknown or\ncircular "
		   "dependencies. Each error is one line, FILE:LINE:COL: "
		   "problem, exit 1.\nA good policy is printed as it will "
		   "be followed: applications in restore\norder.\n");
}

static const char *cli_policy_volume(const struct policy_volume *v, char *buf,
				     size_t len)
{
	if (v->kind == POLICY_VOLUME_PARTITION)
		snprintf(buf, len, "partition %u", v->partition);
	else
		snprintf(buf, len, "%s %s",
			 v->kind == POLICY_VOLUME_UUID ? "uuid" : "label",
			 v->text);
	return buf;
}

static void cli_policy_list(struct json *j, const char *key,
			    const char *const *list)
{
	json_array_begin(j, key);
	for (; *list; list++)
		json_string(j, NULL, *list);
	json_array_end(j);
}

static void cli_policy_json(const struct policy *p)
{
	const struct policy_retention *r = policy_retention(p);
	struct json *j = json_new(stdout);
	char vol[200];
	size_t i;

	json_object_begin(j, NULL);
	json_string(j, "name", policy_name(p));
	json_uint(j, "rpo_seconds", policy_rpo(p));
	json_object_begin(j, "retention");
	json_uint(j, "keep_last", r->keep_last);
	json_uint(j, "keep_hourly", r->keep_hourly);
	json_uint(j, "keep_daily", r->keep_daily);
	json_uint(j, "keep_weekly", r->keep_weekly);
	json_uint(j, "keep_monthly", r->keep_monthly);
	json_uint(j, "keep_within_seconds", r->keep_within);
	json_object_end(j);
	json_object_begin(j, "quiesce");
	policy_quiesce_pre(p) ? json_string(j, "pre", policy_quiesce_pre(p))
			      : json_null(j, "pre");
	policy_quiesce_post(p) ? json_string(j, "post", policy_quiesce_post(p))
			       : json_null(j, "post");
	json_object_end(j);
	policy_alert(p) ? json_string(j, "alert", policy_alert(p))
			: json_null(j, "alert");
	json_array_begin(j, "applications");
	for (i = 0; i < policy_app_count(p); i++) {
		const struct policy_app *a = policy_app_at(p, i);

		json_object_begin(j, NULL);
		json_string(j, "name", a->name);
		json_string(j, "volume",
			    cli_policy_volume(&a->volume, vol, sizeof(vol)));
		cli_policy_list(j, "include", a->include);
		cli_policy_list(j, "exclude", a->exclude);
		cli_policy_list(j, "depends_on", a->depends_on);
		a->pre ? json_string(j, "pre", a->pre) : json_null(j, "pre");
		a->post ? json_string(j, "post", a->post)
			: json_null(j, "post");
		json_object_end(j);
	}
	json_array_end(j);
	json_object_end(j);
	json_free(j);
}

static void cli_policy_text(const char *path, const struct policy *p)
{
	char vol[200];
	size_t i;

	printf("%s: policy %s: %zu applications", path, policy_name(p),
	       policy_app_count(p));
	if (policy_rpo(p))
		printf(", rpo %" PRIu64 " s", policy_rpo(p));
	printf("%s\n", policy_quiesce_pre(p) ? ", quiesce hooks" : "");
	for (i = 0; i < policy_app_count(p); i++) {
		const struct policy_app *a = policy_app_at(p, i);
		const char *const *g;

		printf("  %zu. %s on %s:", i + 1, a->name,
		       cli_policy_volume(&a->volume, vol, sizeof(vol)));
		for (g = a->include; *g; g++)
			printf(" %s", *g);
		for (g = a->exclude; *g; g++)
			printf(" !%s", *g);
		printf("\n");
	}
}

int cli_policy(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vr_err err = { 0 };
	struct policy *p = NULL;
	bool json = false;
	int c, rc;

	if (argc >= 2 &&
	    (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		cli_policy_usage(stdout);
		return CLI_EXIT_OK;
	}
	if (argc < 2 || strcmp(argv[1], "check") != 0)
		return cli_usage("policy", "expected check");
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			cli_policy_usage(stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage_option("policy", c, argv);
		}
	}
	if (optind + 1 != argc)
		return cli_usage("policy", "expected check POLICY");
	rc = policy_load(argv[optind], &p, &err);
	if (rc < 0)
		return cli_fail(&err, rc, argv[optind]);
	if (json)
		cli_policy_json(p);
	else
		cli_policy_text(argv[optind], p);
	policy_free(p);
	return CLI_EXIT_OK;
}
