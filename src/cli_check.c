/*
 * cli_check.c - "vhdrecover check": structural check of a VHDX file and
 * its parent chain; every problem on its own line, exit 1 on any error.
 */
#include <config.h>

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "disk.h"
#include "json.h"
#include "vhdx.h"
#include "vr_err.h"

static void cli_check_usage(FILE *f)
{
	fprintf(f,
		"Usage: vhdrecover check [--json] [--repair] [--parent FILE] "
		"DISK.vhdx\n"
		"Check the structure of a VHDX file: headers, region tables, "
		"metadata, log,\nBAT, and that its parent chain opens. Reads "
		"only; a pending log is replayed\nin memory and reported, "
		"never written, unless --repair is given.\n\n"
		"  --json         machine-readable output\n"
		"  --repair       first replay a pending log into the file (the "
		"only repair\n"
		"                 that never guesses), then check\n"
		"  --parent FILE  use FILE as the parent instead of the "
		"locator\n"
		"  -h, --help     this help\n");
}

int cli_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "parent", required_argument, NULL, 'p' },
		{ "repair", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vr_err err = { 0 };
	struct vhdx_report rep = { 0 };
	const char *parent = NULL, *path;
	bool as_json = false, repair = false;
	unsigned replayed = 0;
	enum disk_format fmt;
	size_t i;
	int c, rc;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			as_json = true;
			break;
		case 'p':
			parent = optarg;
			break;
		case 'r':
			repair = true;
			break;
		case 'h':
			cli_check_usage(stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage_option("check", c, argv);
		}
	}
	if (optind + 1 != argc)
		return cli_usage("check", "expected one DISK");
	path = argv[optind];
	rc = disk_probe(path, &fmt, &err);
	if (rc == 0 && fmt != DISK_FORMAT_VHDX)
		rc = vr_err_set(
			&err, -ENOTSUP,
			"%s: not a VHDX file (%s); check handles VHDX only",
			path, disk_format_name(fmt));
	if (rc == 0 && repair)
		rc = vhdx_repair(path, &replayed, &err);
	if (rc == 0)
		rc = vhdx_check(path, parent, &rep, &err);
	if (as_json) {
		struct json *j = json_new(stdout);

		json_object_begin(j, NULL);
		json_string(j, "file", path);
		json_bool(j, "clean",
			  rc == 0 && rep.errors == 0 && rep.warnings == 0);
		json_uint(j, "errors", rep.errors);
		json_uint(j, "warnings", rep.warnings);
		if (repair)
			json_uint(j, "log_entries_replayed", replayed);
		json_array_begin(j, "problems");
		for (i = 0; i < rep.count; i++)
			json_string(j, NULL, rep.lines[i]);
		json_array_end(j);
		if (rc < 0)
			cli_json_error(j, &err, rc, path);
		json_object_end(j);
		json_free(j);
	} else if (rc == 0) {
		if (replayed)
			printf("%s: replayed %u log entries into the file\n",
			       path, replayed);
		for (i = 0; i < rep.count; i++)
			printf("%s\n", rep.lines[i]);
		if (rep.errors == 0 && rep.warnings == 0)
			printf("%s: clean\n", path);
		else
			printf("%s: %u errors, %u warnings\n", path, rep.errors,
			       rep.warnings);
	}
	fflush(stdout);
	if (rc < 0) {
		vhdx_report_free(&rep);
		return cli_fail(&err, rc, path);
	}
	if (rep.errors) {
		/* The first error line, without its "error: " tag. */
		for (i = 0; i < rep.count; i++)
			if (!strncmp(rep.lines[i], "error: ", 7))
				break;
		fprintf(stderr, "vhdrecover: %s\n",
			i < rep.count ? rep.lines[i] + 7 : path);
		vhdx_report_free(&rep);
		return CLI_EXIT_ERROR;
	}
	vhdx_report_free(&rep);
	return CLI_EXIT_OK;
}
