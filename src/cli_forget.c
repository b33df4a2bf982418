/*
 * cli_forget.c - "vhdrecover forget": apply retention to a repository's
 * points, or forget points by id, then collect the chunks no point needs
 * (forget.h); and the --keep-* options replicate and protect share.
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "forget.h"
#include "json.h"
#include "policy.h"
#include "progress.h"
#include "repo.h"
#include "vr_err.h"

static void cli_forget_usage(FILE *f)
{
	fprintf(f,
		"Usage: vhdrecover forget REPO [--keep-... | --policy P] "
		"[options]\n"
		"       vhdrecover forget REPO POINT... [--force] [options]\n"
		"Forget the recovery points retention does not keep, then "
		"delete the chunks\nno base or point needs. Each disk's points "
		"are weighed on their own; its\nnewest point and newest "
		"application-consistent point are always kept.\nA point made "
		"under a keep-within rule carries an expiry: a rule that "
		"would\ndrop a point before its expiry is refused (nothing is "
		"forgotten) unless\n--force. Forgetting points by id refuses "
		"unexpired points and a disk's\nnewest point unless --force.\n"
		"\n" CLI_KEEP_HELP
		"  --policy P          the rules of the DR policy P's retention "
		"(flags win)\n"
		"  --disk NAME         only the points of disk NAME\n"
		"  --dry-run           say what would go; change nothing\n"
		"  --force             drop unexpired points the rules (or ids) "
		"name\n"
		"  --json              print the decisions and the collection "
		"as JSON\n");
}

int cli_parse_keep(const char *verb, int c, const char *arg,
		   struct retention_rules *r)
{
	static const char *const names[] = { "keep-last", "keep-hourly",
					     "keep-daily", "keep-weekly",
					     "keep-monthly" };
	uint32_t *counts[] = { &r->keep_last, &r->keep_hourly, &r->keep_daily,
			       &r->keep_weekly, &r->keep_monthly };
	unsigned k = (unsigned)(c - CLI_OPT_KEEP_LAST);
	unsigned long long n;
	char *end;

	if (c == CLI_OPT_KEEP_WITHIN) {
		/* a unit is required: "7" could be minutes, days, months */
		if (policy_parse_duration(arg, &r->keep_within) < 0)
			return cli_usage(verb,
					 "bad --keep-within '%s': a whole "
					 "number and a unit (s, m, h, d, w), "
					 "e.g. 30d",
					 arg);
		return CLI_EXIT_OK;
	}
	errno = 0;
	n = strtoull(arg, &end, 10);
	if (k >= 5 || *arg < '0' || *arg > '9' || *end || errno || n > 1000000)
		return cli_usage(verb,
				 "bad --%s '%s': a whole number 1..1000000",
				 k < 5 ? names[k] : "keep", arg);
	if (n == 0)
		return cli_usage(verb,
				 "--%s 0 keeps nothing; leave the rule out "
				 "instead",
				 names[k]);
	*counts[k] = (uint32_t)n;
	return CLI_EXIT_OK;
}

void cli_retention_from_policy(const struct policy *p,
			       struct retention_rules *r)
{
	const struct policy_retention *pr = policy_retention(p);

	*r = (struct retention_rules){
		.keep_last = pr->keep_last,
		.keep_hourly = pr->keep_hourly,
		.keep_daily = pr->keep_daily,
		.keep_weekly = pr->keep_weekly,
		.keep_monthly = pr->keep_monthly,
		.keep_within = pr->keep_within,
	};
}

/* What forget tells the user of each point. */
struct cli_forget_out {
	struct json *json;
	bool dry_run;
};

static void cli_forget_decision(void *ctx, const struct catalog_point *p,
				unsigned keep)
{
	struct cli_forget_out *o = ctx;
	char t[32], why[160];

	cli_format_time(p->time, t);
	retention_reasons_format(keep, why, sizeof(why));
	if (keep & FORGET_UNEXPIRED)
		snprintf(why, sizeof(why), "unexpired");
	if (keep & FORGET_NOT_NAMED)
		snprintf(why, sizeof(why), "not named");
	if (o->json) {
		json_object_begin(o->json, NULL);
		json_string(o->json, "id", p->id);
		json_string(o->json, "disk", p->disk);
		json_string(o->json, "time", t);
		json_bool(o->json, "keep", keep != 0);
		json_string(o->json, "reasons", why);
		json_object_end(o->json);
	} else if (keep) {
		printf("keep   %s  %s  (%s)\n", p->id, t, why);
	} else {
		printf("%s %s  %s\n", o->dry_run ? "would forget" : "forget",
		       p->id, t);
	}
}

static void cli_forget_summary(const struct cli_forget_out *o,
			       const struct forget_result *res)
{
	const struct repo_gc_stats *g = &res->gc;
	char freed[32];

	progress_format_bytes(
		g->bytes_before > g->bytes_after
			? (double)(g->bytes_before - g->bytes_after)
			: 0,
		freed, sizeof(freed));
	if (o->json) {
		json_uint(o->json, "points", res->points);
		json_uint(o->json, "forgotten", res->forgotten);
		json_bool(o->json, "dry_run", o->dry_run);
		json_bool(o->json, "collected", res->collected);
		json_object_begin(o->json, "gc");
		json_uint(o->json, "packs_deleted", g->packs_deleted);
		json_uint(o->json, "packs_rewritten", g->packs_rewritten);
		json_uint(o->json, "chunks_dropped", g->chunks_dropped);
		json_uint(o->json, "chunks_moved", g->chunks_moved);
		json_uint(o->json, "leftovers", g->leftovers);
		json_uint(o->json, "bytes_before", g->bytes_before);
		json_uint(o->json, "bytes_after", g->bytes_after);
		json_bool(o->json, "out_of_space", g->out_of_space);
		json_object_end(o->json);
		json_string(o->json, "warning", res->warning);
		return;
	}
	printf("%zu of %zu points %s", res->forgotten, res->points,
	       o->dry_run ? "would be forgotten\n" : "forgotten");
	if (res->collected)
		printf("; %" PRIu64 " packs deleted, %" PRIu64
		       " rewritten, %" PRIu64 " chunks dropped, %s freed",
		       g->packs_deleted, g->packs_rewritten, g->chunks_dropped,
		       freed);
	if (!o->dry_run)
		printf("\n");
	if (res->warning[0])
		fprintf(stderr, "vhdrecover: warning: %s\n", res->warning);
}

int cli_forget(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_KEEP_OPTIONS,
		{ "policy", required_argument, NULL, 'y' },
		{ "disk", required_argument, NULL, 'd' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "force", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct retention_rules rules = { 0 };
	struct forget_opts fo = { .now = (uint64_t)time(NULL) };
	struct cli_forget_out out = { 0 };
	struct forget_result res;
	struct vr_err err = { 0 };
	struct policy *policy = NULL;
	const char *policy_path = NULL, *repo_path;
	struct repo *r = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case CLI_KEEP_CASES:
			rc = cli_parse_keep("forget", c, optarg, &rules);
			if (rc != CLI_EXIT_OK)
				return rc;
			break;
		case 'y':
			policy_path = optarg;
			break;
		case 'd':
			fo.disk = optarg;
			break;
		case 'n':
			fo.dry_run = true;
			break;
		case 'f':
			fo.force = true;
			break;
		case 'j':
			out.json = json_new(stdout);
			break;
		case 'h':
			cli_forget_usage(stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage_option("forget", c, argv);
		}
	}
	if (optind >= argc)
		return cli_usage("forget", "expected REPO");
	repo_path = argv[optind];
	fo.ids = (const char *const *)argv + optind + 1;
	fo.nids = (size_t)(argc - optind - 1);
	if (policy_path) {
		rc = policy_load(policy_path, &policy, &err);
		if (rc < 0) {
			json_free(out.json);
			return cli_fail(&err, rc, policy_path);
		}
		if (!retention_rules_any(&rules))
			cli_retention_from_policy(policy, &rules);
		policy_free(policy);
	}
	if (fo.nids && retention_rules_any(&rules))
		rc = cli_usage("forget", "give retention rules or point ids, "
					 "not both");
	else if (!fo.nids && !retention_rules_any(&rules))
		rc = cli_usage("forget",
			       "no retention rule: give --keep-last, "
			       "--keep-hourly, --keep-daily, --keep-weekly, "
			       "--keep-monthly, --keep-within, a --policy with "
			       "retention, or point ids");
	else
		rc = CLI_EXIT_OK;
	if (rc != CLI_EXIT_OK) {
		json_free(out.json);
		return rc;
	}
	fo.rules = fo.nids ? NULL : &rules;
	fo.decision = cli_forget_decision;
	fo.ctx = &out;
	out.dry_run = fo.dry_run;
	if (out.json) {
		json_object_begin(out.json, NULL);
		json_array_begin(out.json, "decisions");
	}
	rc = repo_open(repo_path, REPO_OPEN_WRITE, &r, &err);
	if (rc == 0)
		rc = forget_run(r, repo_path, &fo, &res, &err);
	repo_close(r);
	if (out.json) {
		json_array_end(out.json);
		if (rc == 0)
			cli_forget_summary(&out, &res);
		else
			cli_json_error(out.json, &err, rc, repo_path);
		json_object_end(out.json);
		json_free(out.json);
		if (rc < 0)
			cli_fail(&err, rc, repo_path);
		return rc < 0 ? CLI_EXIT_ERROR : CLI_EXIT_OK;
	}
	if (rc < 0)
		return cli_fail(&err, rc, repo_path);
	cli_forget_summary(&out, &res);
	return CLI_EXIT_OK;
}
