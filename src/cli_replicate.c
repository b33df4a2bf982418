/*
 * cli_replicate.c - "vhdrecover replicate": one replication cycle, and
 * "vhdrecover protect": cycles on a schedule until SIGTERM (cycle.h).
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cycle.h"
#include "forget.h"
#include "json.h"
#include "plan.h"
#include "policy.h"
#include "progress.h"
#include "repo.h"
#include "vr_err.h"

/* What both verbs take. */
struct cli_cycle_args {
	const char *repo_path, *disk_path;
	const char *policy_path; /* hooks, retention, RPO, alert of a policy */
	struct policy *policy;
	struct retention_rules rules; /* from --keep-... or the policy */
	const char *alert;	      /* the alert command, or NULL */
	uint64_t rpo;		      /* the policy's RPO, or 0 */
	struct cycle_opts opts;
	bool json;
	bool protect; /* one JSON object per line */
	enum progress_mode mode;
	uint64_t every; /* protect: seconds between cycle starts */
};

static void cli_replicate_usage(FILE *f, bool protect)
{
	if (protect)
		fprintf(f, "Usage: vhdrecover protect REPO DISK --every "
			   "INTERVAL [options]\n"
			   "Run a replication cycle of DISK into REPO every "
			   "INTERVAL (30s, 5m, 1h)\nuntil SIGTERM or SIGINT, "
			   "which end it after the cycle in progress.\nOne "
			   "line per cycle (a JSON object per line with "
			   "--json). A failed cycle\nis reported and the next "
			   "one runs on time.\n\n");
	else
		fprintf(f, "Usage: vhdrecover replicate REPO DISK [options]\n"
			   "One replication cycle: store what changed on DISK "
			   "(VHDX, VHD or raw) since\nits last recovery point "
			   "in REPO and commit a new point. The first cycle\n"
			   "reads every chunk the disk holds above its "
			   "registered base; later ones\nonly the chunks its "
			   "change bitmap marks (a bitmap that cannot be "
			   "trusted\nis resynced: every chunk hashed, only new "
			   "ones stored; the output says so).\n\n");
	fprintf(f,
		"  --name NAME   the disk's name in REPO (default: DISK's file "
		"name without\n"
		"                its extension)\n"
		"  --policy P    the DR policy P: its quiesce hooks run around "
		"the instant\n"
		"  --pre CMD     quiesce command run before the point's instant "
		"(its failure\n"
		"                cancels the cycle); the point is then "
		"application-consistent\n"
		"  --post CMD    run right after the instant (its failure is a "
		"warning)\n" CLI_KEEP_HELP
		"                (after the cycle, the disk's points retention "
		"drops and that\n"
		"                have expired are forgotten; default: the "
		"policy's retention)\n"
		"  --alert CMD   run CMD when the planner raises an alert (a "
		"deferred or tight\n"
		"                point, full soon, a missed RPO); default: the "
		"policy's alert\n"
		"  --json        print the result as JSON\n"
		"  --progress    always show progress; --no-progress never "
		"(default: on a TTY)\n");
}

static int cli_cycle_parse(int argc, char **argv, bool protect,
			   struct cli_cycle_args *a)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "policy", required_argument, NULL, 'y' },
		{ "pre", required_argument, NULL, 'p' },
		{ "post", required_argument, NULL, 'q' },
		{ "every", required_argument, NULL, 'e' },
		{ "alert", required_argument, NULL, 'a' },
		CLI_KEEP_OPTIONS,
		{ "json", no_argument, NULL, 'j' },
		{ "progress", no_argument, NULL, 'P' },
		{ "no-progress", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *verb = argv[0];
	int c;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			a->opts.disk_name = optarg;
			break;
		case 'y':
			a->policy_path = optarg;
			break;
		case 'p':
			a->opts.pre_hook = optarg;
			break;
		case 'q':
			a->opts.post_hook = optarg;
			break;
		case 'e':
			if (!protect)
				return cli_usage(verb,
						 "--every is for protect");
			if (cli_parse_interval(optarg, &a->every) < 0)
				return cli_usage(verb, "bad --every '%s'",
						 optarg);
			break;
		case 'a':
			a->alert = optarg;
			break;
		case CLI_KEEP_CASES:
			c = cli_parse_keep(verb, c, optarg, &a->rules);
			if (c != CLI_EXIT_OK)
				return c;
			break;
		case 'j':
			a->json = true;
			break;
		case 'P':
			a->mode = PROGRESS_ON;
			break;
		case 'N':
			a->mode = PROGRESS_OFF;
			break;
		case 'h':
			cli_replicate_usage(stdout, protect);
			return -1;
		default:
			return cli_usage_option(verb, c, argv);
		}
	}
	if (optind + 2 != argc)
		return cli_usage(verb, "expected REPO DISK");
	if (protect && !a->every)
		return cli_usage(verb, "expected --every INTERVAL");
	a->repo_path = argv[optind];
	a->disk_path = argv[optind + 1];
	a->protect = protect;
	return CLI_EXIT_OK;
}

/*
 * What a DR policy says (hooks, retention, RPO, alert), unless options
 * say otherwise.
 */
static int cli_cycle_policy(struct cli_cycle_args *a)
{
	struct vr_err err = { 0 };
	int rc;

	if (a->policy_path) {
		rc = policy_load(a->policy_path, &a->policy, &err);
		if (rc < 0)
			return cli_fail(&err, rc, a->policy_path);
		if (!a->opts.pre_hook)
			a->opts.pre_hook = policy_quiesce_pre(a->policy);
		if (!a->opts.post_hook)
			a->opts.post_hook = policy_quiesce_post(a->policy);
		if (!retention_rules_any(&a->rules))
			cli_retention_from_policy(a->policy, &a->rules);
		if (!a->alert)
			a->alert = policy_alert(a->policy);
		a->rpo = policy_rpo(a->policy);
	}
	if (retention_rules_any(&a->rules))
		a->opts.retention = &a->rules;
	return CLI_EXIT_OK;
}

/* What follows a cycle: retention of its disk, the planner's alert. */
struct cli_cycle_after {
	size_t forgotten;
	char warning[FORGET_WARNING_MAX + 64]; /* retention went wrong */
	/* the alert, if any */
	const char *alert; /* kind: "deferred", "tight", "full", ... */
	char message[1024];
	struct repo_space space;
	uint64_t needed;
	double days_until_full;
};

static void cli_cycle_json_plan(struct json *j, const struct cycle_result *res,
				const struct cli_cycle_after *after)
{
	static const char *const verdicts[] = { "fits", "tight", "no_room" };
	char t[32];

	json_object_begin(j, "planner");
	json_string(j, "verdict", verdicts[res->fit.verdict]);
	json_uint(j, "to_read_bytes", res->fit.to_read);
	json_uint(j, "expected_bytes", res->fit.expected);
	json_uint(j, "worst_bytes", res->fit.worst);
	json_uint(j, "left_bytes", res->fit.space.left);
	json_uint(j, "forgotten_to_make_room", res->forgotten);
	json_object_end(j);
	if (after->alert) {
		json_object_begin(j, "alert");
		json_string(j, "kind", after->alert);
		json_string(j, "message", after->message);
		json_object_end(j);
	} else {
		json_null(j, "alert");
	}
	if (res->expires) {
		cli_format_time(res->expires, t);
		json_string(j, "expires", t);
	} else {
		json_null(j, "expires");
	}
}

/* One line (or JSON object) for a cycle that ran, well or not. */
static void cli_cycle_report(const struct cli_cycle_args *a,
			     const struct cycle_result *res,
			     const struct cli_cycle_after *after, int rc,
			     const struct vr_err *err)
{
	unsigned i;

	/* a deferred cycle says so in its one error line */
	for (i = 0; !res->deferred && i < res->nwarnings; i++)
		fprintf(stderr, "vhdrecover: warning: %s\n", res->warnings[i]);
	if (after->warning[0])
		fprintf(stderr, "vhdrecover: warning: %s\n", after->warning);
	if (after->alert && !res->deferred)
		fprintf(stderr, "vhdrecover: alert: %s\n", after->message);
	if (a->json) {
		struct json *j =
			a->protect ? json_new_line(stdout) : json_new(stdout);

		json_object_begin(j, NULL);
		if (rc < 0) {
			/* the disk's name once the cycle knew it */
			json_string(j, "disk",
				    res->disk[0] ? res->disk : a->disk_path);
			json_bool(j, "deferred", res->deferred);
			if (res->deferred)
				cli_cycle_json_plan(j, res, after);
			cli_json_error(j, err, rc, a->disk_path);
		} else {
			json_string(j, "id", res->id);
			json_string(j, "disk", res->disk);
			json_string(j, "base", res->base);
			json_bool(j, "consistent", res->consistent);
			json_bool(j, "full_scan", res->full_scan);
			json_string(j, "scan_reason", res->scan_reason);
			json_uint(j, "chunks_read", res->chunks_read);
			json_uint(j, "bytes_read", res->bytes_read);
			json_uint(j, "chunks_changed", res->chunks_changed);
			json_uint(j, "chunks_new", res->chunks_new);
			json_uint(j, "bytes_new", res->bytes_new);
			json_double(j, "seconds", res->seconds);
			json_bool(j, "deferred", false);
			cli_cycle_json_plan(j, res, after);
			json_uint(j, "forgotten", after->forgotten);
			json_array_begin(j, "warnings");
			for (i = 0; i < res->nwarnings; i++)
				json_string(j, NULL, res->warnings[i]);
			if (after->warning[0])
				json_string(j, NULL, after->warning);
			json_array_end(j);
		}
		json_object_end(j);
		json_free(j);
		fflush(stdout);
		if (rc < 0)
			cli_fail(err, rc, a->disk_path);
		return;
	}
	if (rc < 0) {
		cli_fail(err, rc, a->disk_path);
		return;
	}
	printf("%s: point %s: read %" PRIu64 " bytes, %" PRIu64
	       " chunks changed, %" PRIu64 " new bytes stored, %.2f s%s%s%s",
	       a->disk_path, res->id, res->bytes_read, res->chunks_changed,
	       res->bytes_new, res->seconds,
	       res->consistent ? ", application-consistent" : "",
	       res->full_scan ? ", full scan: " : "",
	       res->full_scan ? res->scan_reason : "");
	if (after->forgotten)
		printf(", %zu expired points forgotten", after->forgotten);
	printf("\n");
	fflush(stdout);
}

/* The alert of a point that fits only if it compresses as recent ones. */
static void cli_cycle_tight(const struct cli_cycle_args *a,
			    const struct cycle_result *res,
			    struct cli_cycle_after *after)
{
	char need[32], worst[32], left[32];

	progress_format_bytes((double)res->fit.expected, need, sizeof(need));
	progress_format_bytes((double)res->fit.worst, worst, sizeof(worst));
	progress_format_bytes((double)res->fit.space.left, left, sizeof(left));
	after->alert = "tight";
	snprintf(after->message, sizeof(after->message),
		 "%s: space is short: a point of %s takes about %s (up to "
		 "%s) of the %s left",
		 a->repo_path, res->disk, need, worst, left);
	after->space = res->fit.space;
	after->needed = res->fit.expected;
	after->days_until_full = -1;
}

/*
 * After a committed point: forget the disk's points retention drops and
 * that have expired, then ask the planner how things look. Problems here
 * are warnings: the point is committed.
 */
static void cli_cycle_after_commit(struct cli_cycle_args *a, struct repo *r,
				   const struct cycle_result *res,
				   struct cli_cycle_after *after)
{
	struct plan_opts po = { .now = (uint64_t)time(NULL),
				.rpo = a->rpo,
				.retention = a->opts.retention };
	struct plan_report *rep = NULL;
	struct vr_err err = { 0 };

	if (a->opts.retention) {
		struct forget_opts fo = { .rules = a->opts.retention,
					  .disk = res->disk,
					  .now = po.now,
					  .keep_unexpired = true };
		struct forget_result fr;

		if (forget_run(r, a->repo_path, &fo, &fr, &err) < 0)
			snprintf(after->warning, sizeof(after->warning),
				 "retention not applied: %s", err.msg);
		else if (fr.warning[0])
			snprintf(after->warning, sizeof(after->warning), "%s",
				 fr.warning);
		after->forgotten = fr.forgotten;
		vr_err_clear(&err);
	}
	if (res->fit.verdict == PLAN_TIGHT) {
		cli_cycle_tight(a, res, after);
		return;
	}
	if (plan_report_make(r, a->repo_path, &po, &rep, &err) < 0)
		return; /* no outlook; the cycle itself went well */
	if (rep->status != PLAN_OK) {
		after->alert = rep->alert;
		snprintf(after->message, sizeof(after->message), "%s: %s",
			 a->repo_path, rep->verdict);
		after->space = rep->space;
		after->days_until_full = rep->days_until_full;
	}
	plan_report_free(rep);
}

/* Open the repository, run one cycle, report it, raise its alert. */
static int cli_cycle_once(struct cli_cycle_args *a)
{
	struct progress_late late = { .label = "replicate", .mode = a->mode };
	struct cli_cycle_after after = { .days_until_full = -1 };
	struct cycle_result res;
	struct vr_err err = { 0 };
	struct repo *r = NULL;
	int rc;

	memset(&res, 0, sizeof(res));
	a->opts.progress = progress_late_update;
	a->opts.ctx = &late;
	rc = repo_open(a->repo_path, REPO_OPEN_WRITE, &r, &err);
	if (rc == 0)
		rc = cycle_run(r, a->repo_path, a->disk_path, &a->opts, &res,
			       &err);
	progress_free(late.p);
	if (rc == 0) {
		cli_cycle_after_commit(a, r, &res, &after);
	} else if (res.deferred) {
		after.alert = "deferred";
		snprintf(after.message, sizeof(after.message), "%s", err.msg);
		after.space = res.fit.space;
		after.needed = res.fit.expected;
	}
	repo_close(r);
	cli_cycle_report(a, &res, &after, rc, &err);
	if (after.alert) {
		struct cli_alert al = { .kind = after.alert,
					.repo = a->repo_path,
					.disk = res.disk,
					.message = after.message,
					.space = &after.space,
					.needed = after.needed,
					.days_until_full =
						after.days_until_full };

		cli_alert_run(a->alert, &al);
	}
	if (rc < 0)
		return res.deferred ? CLI_EXIT_ALERT : CLI_EXIT_ERROR;
	return CLI_EXIT_OK;
}

int cli_replicate(int argc, char **argv)
{
	struct cli_cycle_args a = { .mode = PROGRESS_AUTO };
	int rc = cli_cycle_parse(argc, argv, false, &a);

	if (rc)
		return rc < 0 ? CLI_EXIT_OK : rc;
	rc = cli_cycle_policy(&a);
	if (rc == CLI_EXIT_OK)
		rc = cli_cycle_once(&a);
	policy_free(a.policy);
	return rc;
}

static volatile sig_atomic_t cli_protect_stop;

static void cli_protect_signal(int sig)
{
	(void)sig;
	cli_protect_stop = 1;
}

int cli_protect(int argc, char **argv)
{
	struct cli_cycle_args a = { .mode = PROGRESS_OFF };
	struct sigaction sa = { .sa_handler = cli_protect_signal };
	struct timespec next;
	int rc = cli_cycle_parse(argc, argv, true, &a), failed = 0;

	if (rc)
		return rc < 0 ? CLI_EXIT_OK : rc;
	rc = cli_cycle_policy(&a);
	if (rc != CLI_EXIT_OK)
		return rc;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!cli_protect_stop) {
		struct timespec now;

		failed = cli_cycle_once(&a) != CLI_EXIT_OK;
		next.tv_sec += (time_t)a.every;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (next.tv_sec < now.tv_sec)
			next = now; /* a cycle overran: start the next now */
		/* a signal interrupts the sleep; the loop condition sees it */
		while (!cli_protect_stop &&
		       clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next,
				       NULL) == EINTR)
			;
	}
	policy_free(a.policy);
	return failed ? CLI_EXIT_ERROR : CLI_EXIT_OK;
}
