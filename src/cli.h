/*
 * cli.h - the vhdrecover command line: one function per verb, and the
 * helpers every verb uses to report errors the same way (DESIGN.md
 * section 3: exit 0 ok, 1 handled error, 2 bad usage, 3 alert).
 */
#ifndef VR_CLI_H
#define VR_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "progress.h"
#include "repo.h"
#include "retention.h"
#include "vhdx.h"

struct vr_err;
struct json;

enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_ERROR = 1,
	CLI_EXIT_USAGE = 2,
	CLI_EXIT_ALERT = 3,
};

/* Each verb gets argv[0] = verb name and returns an exit code. */
int cli_create(int argc, char **argv);
int cli_info(int argc, char **argv);
int cli_check(int argc, char **argv);
int cli_convert(int argc, char **argv);
int cli_read(int argc, char **argv);
int cli_write(int argc, char **argv);
int cli_merge(int argc, char **argv);
int cli_changes(int argc, char **argv);
int cli_serve(int argc, char **argv);
int cli_repo(int argc, char **argv);
int cli_base(int argc, char **argv);
int cli_replicate(int argc, char **argv);
int cli_protect(int argc, char **argv);
int cli_points(int argc, char **argv);
int cli_restore(int argc, char **argv);
int cli_policy(int argc, char **argv);
int cli_forget(int argc, char **argv);
int cli_plan(int argc, char **argv);
int cli_mount(int argc, char **argv);

/*
 * Print the one-line error for @err ("vhdrecover: FILE: problem") on stderr;
 * if no message was recorded, "vhdrecover: @path: strerror(-@code)".
 * Returns CLI_EXIT_ERROR.
 */
int cli_fail(const struct vr_err *err, int code, const char *path);

/* Add "error": {"message", "errno"} to a JSON document. */
void cli_json_error(struct json *j, const struct vr_err *err, int code,
		    const char *path);

/*
 * Report bad usage of @verb ("vhdrecover VERB: problem" and a hint to
 * --help) on stderr. Returns CLI_EXIT_USAGE.
 */
int cli_usage(const char *verb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Report what getopt_long() rejected for @verb: @c is '?' (unknown option)
 * or ':' (missing argument; option strings start with ':'). Verbs set
 * opterr = 0 so this is the only message. Returns CLI_EXIT_USAGE.
 */
int cli_usage_option(const char *verb, int c, char **argv);

/* @t (seconds since 1970) as RFC 3339 UTC, "2026-11-26T06:15:00Z". */
void cli_format_time(uint64_t t, char out[32]);

/*
 * Parse a byte count or offset: decimal, 0x hex, or with a K, M, G, T suffix
 * (powers of 1024). Returns 0 or -EINVAL (not a number, overflow).
 */
int cli_parse_size(const char *text, uint64_t *out);

/*
 * Parse an interval: "30s", "5m", "2h", "1d" or plain seconds, above 0.
 * Returns 0 or -EINVAL.
 */
int cli_parse_interval(const char *text, uint64_t *out);

/*
 * Convert disk @in (its parent @parent if not NULL) to @out, replaced
 * atomically: a sparse raw image, or with @vhdx_opts (type, block size;
 * size and sectors come from @in) a new VHDX. Prints any error; returns
 * the exit code. Shared by convert and merge -o.
 */
int cli_convert_run(const char *in, const char *parent, const char *out,
		    const struct vhdx_create_opts *vhdx_opts,
		    enum progress_mode mode);

/*
 * Parse --type (dynamic or fixed) and --block-size for @verb. Return
 * CLI_EXIT_OK, or CLI_EXIT_USAGE after reporting the bad value.
 */
int cli_parse_vhdx_type(const char *verb, const char *text,
			enum vhdx_type *type);
int cli_parse_block_size(const char *verb, const char *text, uint32_t *out);

/*
 * The retention options forget, replicate and protect share: put
 * CLI_KEEP_OPTIONS in the getopt_long() table, "case CLI_KEEP_CASES:" in
 * its switch (calling cli_parse_keep()), CLI_KEEP_HELP in the usage.
 */
enum {
	CLI_OPT_KEEP_LAST = 0x1000,
	CLI_OPT_KEEP_HOURLY,
	CLI_OPT_KEEP_DAILY,
	CLI_OPT_KEEP_WEEKLY,
	CLI_OPT_KEEP_MONTHLY,
	CLI_OPT_KEEP_WITHIN,
};
#define CLI_KEEP_CASES CLI_OPT_KEEP_LAST... CLI_OPT_KEEP_WITHIN
/* one option a line reads better than the formatter's layout */
/* clang-format off */
#define CLI_KEEP_OPTIONS                                                     \
	{ "keep-last", required_argument, NULL, CLI_OPT_KEEP_LAST },         \
	{ "keep-hourly", required_argument, NULL, CLI_OPT_KEEP_HOURLY },     \
	{ "keep-daily", required_argument, NULL, CLI_OPT_KEEP_DAILY },       \
	{ "keep-weekly", required_argument, NULL, CLI_OPT_KEEP_WEEKLY },     \
	{ "keep-monthly", required_argument, NULL, CLI_OPT_KEEP_MONTHLY },   \
	{ "keep-within", required_argument, NULL, CLI_OPT_KEEP_WITHIN }
/* clang-format on */
#define CLI_KEEP_HELP                                                          \
	"  --keep-last N       keep the N newest points of each disk\n"        \
	"  --keep-hourly N     ... the newest of each of the last N hours "    \
	"with points\n"                                                        \
	"  --keep-daily N      ... of the last N days; --keep-weekly N, "      \
	"--keep-monthly N\n"                                                   \
	"  --keep-within D     every point less than D (30d, 12h) older than " \
	"the disk's\n"                                                         \
	"                      newest; points made under it expire D after "   \
	"they were made\n"

/*
 * Parse the value of the retention option @c (CLI_OPT_KEEP_*) into @r:
 * counts 1..1000000 (0 keeps nothing: refused), durations with a unit.
 * Returns CLI_EXIT_OK or CLI_EXIT_USAGE after reporting the bad value.
 */
int cli_parse_keep(const char *verb, int c, const char *arg,
		   struct retention_rules *r);

struct policy;

/* The retention rules of policy @p into @r (all zero: none). */
void cli_retention_from_policy(const struct policy *p,
			       struct retention_rules *r);

/* What an alert says: run the administrator's alert command with it. */
struct cli_alert {
	const char *kind;    /* "deferred", "tight", "forecast", "rpo", ... */
	const char *repo;    /* repository path */
	const char *disk;    /* disk name, or NULL */
	const char *message; /* the one line */
	const struct repo_space *space;
	uint64_t needed;	/* bytes the point needs, or 0 */
	double days_until_full; /* < 0: not in sight */
};

/*
 * Run @command (may be NULL: nothing to run) with the alert's facts in
 * VR_ALERT, VR_REPO, VR_DISK_NAME, VR_MESSAGE, VR_USED, VR_QUOTA,
 * VR_LEFT, VR_NEEDED, VR_DAYS_LEFT. A failing command is a warning.
 */
void cli_alert_run(const char *command, const struct cli_alert *a);

#endif /* VR_CLI_H */
