/*
 * cli_merge.c - "vhdrecover merge": fold a differencing VHDX into its
 * parent (vhdx_merge(), crash-safe), or with -o flatten the whole chain
 * into a new dynamic VHDX, leaving the chain as it was.
 */
#include <config.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json.h"
#include "progress.h"
#include "vhdx.h"
#include "vr_err.h"

static void cli_merge_usage(FILE *f)
{
	fprintf(f,
		"Usage: vhdrecover merge [--json] [--progress|--no-progress] "
		"CHILD\n"
		"       vhdrecover merge -o OUT [--block-size B] "
		"[--progress|--no-progress] CHILD\n"
		"Fold the differencing VHDX CHILD into its parent and delete "
		"CHILD. A kill at\nany point leaves either the old chain or "
		"the merged parent readable; run\nthe merge again to finish "
		"it. Other children of the parent stop opening,\nas their "
		"parent changed.\n"
		"With -o, write the whole chain of CHILD as a new dynamic VHDX "
		"OUT instead\n(replaced atomically) and leave the chain "
		"alone.\n\n"
		"  -o OUT          flatten the chain into OUT\n"
		"  --block-size B  with -o: payload block size (default 32M)\n"
		"  --json          print what was merged as JSON\n"
		"  --progress      always show progress; --no-progress never "
		"(default: on a TTY)\n"
		"  -h, --help      this help\n");
}

static void cli_merge_progress(void *ctx, uint64_t done, uint64_t total)
{
	(void)total;
	progress_update(ctx, done);
}

int cli_merge(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "block-size", required_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'j' },
		{ "progress", no_argument, NULL, 'P' },
		{ "no-progress", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vhdx_create_opts flat = { .type = VHDX_TYPE_DYNAMIC };
	enum progress_mode mode = PROGRESS_AUTO;
	const char *out = NULL, *child;
	struct vr_err err = { 0 };
	bool json = false, block_given = false;
	struct progress *progress;
	struct vhdx *v = NULL;
	char *parent = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'b':
			if (cli_parse_block_size("merge", optarg,
						 &flat.block_size))
				return CLI_EXIT_USAGE;
			block_given = true;
			break;
		case 'j':
			json = true;
			break;
		case 'P':
			mode = PROGRESS_ON;
			break;
		case 'N':
			mode = PROGRESS_OFF;
			break;
		case 'h':
			cli_merge_usage(stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage_option("merge", c, argv);
		}
	}
	if (optind + 1 != argc)
		return cli_usage("merge", "expected CHILD");
	if (block_given && !out)
		return cli_usage("merge", "--block-size needs -o OUT");
	if (json && out)
		return cli_usage("merge", "--json goes without -o");
	child = argv[optind];
	if (out)
		return cli_convert_run(child, NULL, out, &flat, mode);

	/* name the parent for the report before the child is gone */
	rc = vhdx_open(child, 0, NULL, &v, NULL, &err);
	if (rc == 0 && vhdx_parent(v)) {
		parent = strdup(vhdx_path(vhdx_parent(v)));
		progress = progress_new("merge", vhdx_virtual_size(v), mode);
	} else {
		progress = NULL;
	}
	vhdx_close(v);
	if (rc == 0)
		rc = vhdx_merge(child, cli_merge_progress, progress, &err);
	progress_free(progress);
	if (json) {
		struct json *j = json_new(stdout);

		json_object_begin(j, NULL);
		json_string(j, "child", child);
		if (parent)
			json_string(j, "parent", parent);
		else
			json_null(j, "parent");
		json_bool(j, "merged", rc == 0);
		if (rc < 0)
			cli_json_error(j, &err, rc, child);
		json_object_end(j);
		json_free(j);
	} else if (rc == 0) {
		printf("%s: merged into %s\n", child, parent);
	}
	free(parent);
	return rc < 0 ? cli_fail(&err, rc, child) : CLI_EXIT_OK;
}
