/*
 * main.c - vhdrecover entry point: dispatch to a verb, global --help and
 * --version, and the shared error printers of cli.h.
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "json.h"
#include "vr_err.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} cli_verbs[] = {
	{ "create", cli_create, "make a fixed, dynamic or differencing VHDX" },
	{ "info", cli_info, "describe a disk and its whole parent chain" },
	{ "check", cli_check, "check the structure of a VHDX file" },
	{ "convert", cli_convert, "convert VHDX, VHD or raw to raw or VHDX" },
	{ "read", cli_read, "copy bytes of a disk to standard output" },
	{ "write", cli_write, "write bytes (or zeros) into a VHDX" },
	{ "merge", cli_merge, "fold a differencing VHDX into its parent" },
	{ "serve", cli_serve, "export a VHDX over NBD, tracking changes" },
	{ "changes", cli_changes, "what changed since the last cycle" },
	{ "repo", cli_repo, "make, check, limit, collect a repository" },
	{ "base", cli_base, "preload a base image into a repository" },
	{ "replicate", cli_replicate, "one cycle: store a disk's changes" },
	{ "protect", cli_protect, "replication cycles on a schedule" },
	{ "points", cli_points, "list the recovery points of a repository" },
	{ "restore", cli_restore, "restore a recovery point as a disk" },
	{ "policy", cli_policy, "check a DR policy (policy check)" },
	{ "forget", cli_forget, "apply retention: forget points, free space" },
	{ "plan", cli_plan, "storage planner: space, growth, days left" },
	{ "mount", cli_mount, "browse a repository read-only (FUSE)" },
};

#define CLI_VERB_COUNT (sizeof(cli_verbs) / sizeof(cli_verbs[0]))

void cli_format_time(uint64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) ||
	    !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "%" PRIu64, t);
}

int cli_fail(const struct vr_err *err, int code, const char *path)
{
	if (err && err->code && err->msg[0])
		fprintf(stderr, "vhdrecover: %s\n", err->msg);
	else
		fprintf(stderr, "vhdrecover: %s: %s\n", path,
			strerror(code < 0 ? -code : EIO));
	return CLI_EXIT_ERROR;
}

void cli_json_error(struct json *j, const struct vr_err *err, int code,
		    const char *path)
{
	char msg[VR_ERR_MSG_MAX + 64];

	if (err && err->code && err->msg[0])
		snprintf(msg, sizeof(msg), "%s", err->msg);
	else
		snprintf(msg, sizeof(msg), "%s: %s", path,
			 strerror(code < 0 ? -code : EIO));
	json_object_begin(j, "error");
	json_string(j, "message", msg);
	json_string(j, "errno", vr_err_name(code < 0 ? code : -EIO));
	json_object_end(j);
}

int cli_usage(const char *verb, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vhdrecover %s: ", verb);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'vhdrecover %s --help'.\n", verb);
	return CLI_EXIT_USAGE;
}

int cli_usage_option(const char *verb, int c, char **argv)
{
	const char *opt = optind > 0 ? argv[optind - 1] : "?";

	if (c == ':')
		return cli_usage(verb, "option '%s' needs an argument", opt);
	if (optopt && optopt != '?')
		return cli_usage(verb, "unknown option '-%c'", optopt);
	return cli_usage(verb, "unknown option '%s'", opt);
}

int cli_parse_size(const char *text, uint64_t *out)
{
	char *end;
	uint64_t v, mul = 1;

	if (!text[0] || text[0] == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 0);
	if (errno || end == text)
		return -EINVAL;
	switch (*end) {
	case '\0':
		break;
	case 'K':
	case 'k':
		mul = 1ull << 10;
		break;
	case 'M':
	case 'm':
		mul = 1ull << 20;
		break;
	case 'G':
	case 'g':
		mul = 1ull << 30;
		break;
	case 'T':
	case 't':
		mul = 1ull << 40;
		break;
	default:
		return -EINVAL;
	}
	if (*end && end[1] != '\0')
		return -EINVAL;
	if (__builtin_mul_overflow(v, mul, out))
		return -EINVAL;
	return 0;
}

static void cli_main_help(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: vhdrecover VERB [OPTIONS] ARGS...\n"
		   "Protect and recover VHDX virtual disks.\n\nVerbs:\n");
	for (i = 0; i < CLI_VERB_COUNT; i++)
		fprintf(f, "  %-10s %s\n", cli_verbs[i].name,
			cli_verbs[i].summary);
	fprintf(f, "\nRun 'vhdrecover VERB --help' for a verb's options; "
		   "see vhdrecover(1).\n"
		   "Exit status: 0 ok, 1 error, 2 bad usage, 3 alert.\n");
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		cli_main_help(stderr);
		return CLI_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		cli_main_help(stdout);
		return CLI_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("vhdrecover %s\n", PACKAGE_VERSION);
		return CLI_EXIT_OK;
	}
	opterr = 0; /* verbs report bad options through cli_usage_option() */
	for (i = 0; i < CLI_VERB_COUNT; i++)
		if (!strcmp(argv[1], cli_verbs[i].name))
			return cli_verbs[i].run(argc - 1, argv + 1);
	fprintf(stderr, "vhdrecover: unknown verb '%s'\n", argv[1]);
	cli_main_help(stderr);
	return CLI_EXIT_USAGE;
}

int cli_parse_interval(const char *text, uint64_t *out)
{
	char *end;
	unsigned long long n;
	uint64_t mul = 1;

	errno = 0;
	n = strtoull(text, &end, 10);
	if (errno || end == text || n == 0)
		return -EINVAL;
	if (*end == 's')
		end++;
	else if (*end == 'm')
		mul = 60, end++;
	else if (*end == 'h')
		mul = 3600, end++;
	else if (*end == 'd')
		mul = 86400, end++;
	if (*end || n > UINT64_MAX / mul)
		return -EINVAL;
	*out = n * mul;
	return 0;
}
