/*
 * cli_plan.c - "vhdrecover plan": the storage planner's report (plan.h)
 * for a person or, with --json, in the shape docs/plan-schema.json
 * documents; and running the administrator's alert command.
 */
#include <config.h>

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "hook.h"
#include "json.h"
#include "plan.h"
#include "policy.h"
#include "repo.h"
#include "vr_err.h"

static void cli_plan_usage(FILE *f)
{
	fprintf(f,
		"Usage: vhdrecover plan REPO [--policy P] [options]\n"
		"The storage planner: space used and left (the smaller of the "
		"quota's room\nand the file system's), how fast the "
		"repository grows (a line through its\nsize after each point "
		"of the last week), when it will be full, and per disk\nthe "
		"rate of change, compression and dedup ratios, what its next "
		"point and\nits retention will take, and whether its RPO is "
		"met. The last line is the\nverdict. Exit 0 when all is well, "
		"3 on an alert (a next point that does\nnot fit, full within "
		"the warning days, a missed RPO, retention that cannot\nfit); "
		"then the policy's alert command (or --alert) runs.\n\n"
		"  --policy P       RPO, retention and alert command of the DR "
		"policy P\n"
		"  --rpo D          the recovery point objective (15m, 1h); "
		"wins over P's\n"
		"  --alert CMD      run CMD on an alert (wins over P's)\n"
		"  --disk NAME      only disk NAME\n"
		"  --warn-days N    alert when full in fewer than N days "
		"(default 7)\n"
		"  --json           print the report as JSON "
		"(docs/plan-schema.json)\n");
}

void cli_alert_run(const char *command, const struct cli_alert *a)
{
	char *env[10] = { NULL };
	struct vr_err err = { 0 };
	int n = 0, ok = 1, i;

	if (!command)
		return;
	ok &= asprintf(&env[n++], "VR_ALERT=%s", a->kind) >= 0;
	ok &= asprintf(&env[n++], "VR_REPO=%s", a->repo) >= 0;
	ok &= asprintf(&env[n++], "VR_DISK_NAME=%s", a->disk ? a->disk : "") >=
	      0;
	ok &= asprintf(&env[n++], "VR_MESSAGE=%s", a->message) >= 0;
	ok &= asprintf(&env[n++], "VR_USED=%" PRIu64, a->space->used) >= 0;
	ok &= asprintf(&env[n++], "VR_QUOTA=%" PRIu64, a->space->quota) >= 0;
	ok &= asprintf(&env[n++], "VR_LEFT=%" PRIu64, a->space->left) >= 0;
	ok &= asprintf(&env[n++], "VR_NEEDED=%" PRIu64, a->needed) >= 0;
	if (a->days_until_full >= 0)
		ok &= asprintf(&env[n++], "VR_DAYS_LEFT=%.2f",
			       a->days_until_full) >= 0;
	if (!ok)
		fprintf(stderr, "vhdrecover: warning: alert not run: out of "
				"memory\n");
	else if (hook_run("alert command", command, env, &err) < 0)
		fprintf(stderr, "vhdrecover: warning: %s\n", err.msg);
	for (i = 0; i < n; i++)
		free(env[i]);
}

static void cli_plan_json(const char *repo_path, const struct plan_report *rep,
			  uint64_t rpo)
{
	struct json *j = json_new(stdout);
	const struct plan_disk *d;
	char t[32];
	size_t i;

	json_object_begin(j, NULL);
	json_string(j, "repository", repo_path);
	cli_format_time(rep->now, t);
	json_string(j, "time", t);
	json_string(j, "status", plan_status_name(rep->status));
	json_string(j, "verdict", rep->verdict);
	json_object_begin(j, "space");
	json_uint(j, "used", rep->space.used);
	if (rep->space.quota)
		json_uint(j, "quota", rep->space.quota);
	else
		json_null(j, "quota");
	json_uint(j, "fs_free", rep->space.fs_free);
	json_uint(j, "left", rep->space.left);
	json_object_end(j);
	json_uint(j, "points", rep->points);
	json_uint(j, "damaged_points", rep->damaged);
	json_double(j, "growth_bytes_per_day", rep->growth_per_day);
	if (rep->days_until_full >= 0)
		json_double(j, "days_until_full", rep->days_until_full);
	else
		json_null(j, "days_until_full");
	json_double(j, "warn_days", rep->warn_days);
	json_uint(j, "retention_need_bytes", rep->retention_need);
	json_array_begin(j, "disks");
	for (i = 0; i < rep->ndisks; i++) {
		d = &rep->disks[i];
		json_object_begin(j, NULL);
		json_string(j, "name", d->name);
		json_uint(j, "points", d->points);
		cli_format_time(d->newest, t);
		json_string(j, "newest", t);
		json_uint(j, "age_seconds", d->age);
		if (rpo)
			json_uint(j, "rpo_seconds", rpo);
		else
			json_null(j, "rpo_seconds");
		json_bool(j, "rpo_met", d->rpo_met);
		json_double(j, "interval_seconds", d->interval);
		json_double(j, "change_bytes_per_hour", d->change_per_hour);
		json_double(j, "stored_bytes_per_hour", d->stored_per_hour);
		if (d->compression > 0)
			json_double(j, "compression_ratio", d->compression);
		else
			json_null(j, "compression_ratio");
		if (d->dedup > 0)
			json_double(j, "dedup_ratio", d->dedup);
		else
			json_null(j, "dedup_ratio");
		json_uint(j, "next_point_bytes", d->next_point);
		if (d->retention_window > 0)
			json_double(j, "retention_window_seconds",
				    d->retention_window);
		else
			json_null(j, "retention_window_seconds");
		json_uint(j, "retention_need_bytes", d->retention_need);
		json_object_end(j);
	}
	json_array_end(j);
	json_object_end(j);
	json_free(j);
}

/* @seconds as "45s", "12m", "3.5h", "2.1d". */
static void cli_plan_age(double seconds, char *buf, size_t len)
{
	if (seconds < 120)
		snprintf(buf, len, "%.0fs", seconds);
	else if (seconds < 7200)
		snprintf(buf, len, "%.0fm", seconds / 60);
	else if (seconds < 2 * 86400)
		snprintf(buf, len, "%.1fh", seconds / 3600);
	else
		snprintf(buf, len, "%.1fd", seconds / 86400);
}

/* A ratio as "2.05x", "-" when unknown. */
static void cli_plan_ratio(double x, char *buf, size_t len)
{
	if (x > 0)
		snprintf(buf, len, "%.2fx", x);
	else
		snprintf(buf, len, "-");
}

static void cli_plan_text(const char *repo_path, const struct plan_report *rep)
{
	char a[32], b[32], c[32], age[16];
	const struct plan_disk *d;
	size_t i;

	progress_format_bytes((double)rep->space.used, a, sizeof(a));
	progress_format_bytes((double)rep->space.left, b, sizeof(b));
	progress_format_bytes((double)rep->space.fs_free, c, sizeof(c));
	printf("repository  %s\n", repo_path);
	printf("space       %s used", a);
	if (rep->space.quota) {
		progress_format_bytes((double)rep->space.quota, a, sizeof(a));
		printf(" of a %s quota", a);
	}
	printf(", %s left (file system: %s free)\n", b, c);
	progress_format_bytes(rep->growth_per_day, a, sizeof(a));
	if (rep->days_until_full >= 0)
		printf("growth      %s a day: full in %.1f days\n", a,
		       rep->days_until_full);
	else
		printf("growth      not toward full (%zu points)\n",
		       rep->points);
	if (rep->retention_need) {
		progress_format_bytes((double)rep->retention_need, a,
				      sizeof(a));
		printf("retention   needs about %s at this rate of change\n",
		       a);
	}
	printf("\n%-20s %6s %-20s %7s %4s %10s %10s %8s %6s %10s\n", "DISK",
	       "POINTS", "NEWEST", "AGE", "RPO", "CHANGE/H", "STORED/H",
	       "COMPRESS", "DEDUP", "NEXT");
	for (i = 0; i < rep->ndisks; i++) {
		d = &rep->disks[i];
		cli_format_time(d->newest, c);
		cli_plan_age((double)d->age, age, sizeof(age));
		progress_format_bytes(d->change_per_hour, a, sizeof(a));
		progress_format_bytes(d->stored_per_hour, b, sizeof(b));
		printf("%-20s %6zu %-20s %7s %4s %10s %10s", d->name, d->points,
		       c, age, d->rpo_met ? "met" : "MISS", a, b);
		cli_plan_ratio(d->compression, a, sizeof(a));
		cli_plan_ratio(d->dedup, b, sizeof(b));
		printf(" %8s %6s", a, b);
		progress_format_bytes((double)d->next_point, a, sizeof(a));
		printf(" %10s\n", a);
	}
	printf("\n%s\n", rep->verdict);
}

int cli_plan(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'y' },
		{ "rpo", required_argument, NULL, 'r' },
		{ "alert", required_argument, NULL, 'a' },
		{ "disk", required_argument, NULL, 'd' },
		{ "warn-days", required_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct plan_opts po = { .now = (uint64_t)time(NULL) };
	struct retention_rules rules = { 0 };
	const char *policy_path = NULL, *alert = NULL;
	struct plan_report *rep = NULL;
	struct policy *policy = NULL;
	struct vr_err err = { 0 };
	struct repo *r = NULL;
	bool json = false;
	char *end;
	int c, rc;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'y':
			policy_path = optarg;
			break;
		case 'r':
			if (policy_parse_duration(optarg, &po.rpo) < 0)
				return cli_usage("plan",
						 "bad --rpo '%s': a whole "
						 "number and a unit (s, m, "
						 "h, d, w)",
						 optarg);
			break;
		case 'a':
			alert = optarg;
			break;
		case 'd':
			po.disk = optarg;
			break;
		case 'w':
			po.warn_days = strtod(optarg, &end);
			if (*end || end == optarg || !(po.warn_days > 0) ||
			    po.warn_days > 36500)
				return cli_usage("plan",
						 "bad --warn-days '%s': a "
						 "number of days above 0",
						 optarg);
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			cli_plan_usage(stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage_option("plan", c, argv);
		}
	}
	if (optind + 1 != argc)
		return cli_usage("plan", "expected REPO");
	if (policy_path) {
		rc = policy_load(policy_path, &policy, &err);
		if (rc < 0)
			return cli_fail(&err, rc, policy_path);
		if (!po.rpo)
			po.rpo = policy_rpo(policy);
		if (!alert)
			alert = policy_alert(policy);
		cli_retention_from_policy(policy, &rules);
		po.retention = &rules;
	}
	rc = repo_open(argv[optind], 0, &r, &err);
	if (rc == 0)
		rc = plan_report_make(r, argv[optind], &po, &rep, &err);
	repo_close(r);
	if (rc < 0) {
		policy_free(policy);
		return cli_fail(&err, rc, argv[optind]);
	}
	if (json)
		cli_plan_json(argv[optind], rep, po.rpo);
	else
		cli_plan_text(argv[optind], rep);
	fflush(stdout);
	if (rep->status != PLAN_OK) {
		struct cli_alert a = {
			.kind = rep->alert,
			.repo = argv[optind],
			.disk = po.disk,
			.message = rep->verdict,
			.space = &rep->space,
			.days_until_full = rep->days_until_full,
		};

		cli_alert_run(alert, &a);
	}
	rc = rep->status == PLAN_OK ? CLI_EXIT_OK : CLI_EXIT_ALERT;
	plan_report_free(rep);
	policy_free(policy);
	return rc;
}
