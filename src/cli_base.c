/*
 * cli_base.c - "vhdrecover base add": preload a base image into a
 * repository (base.h).
 */
#include <config.h>

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base.h"
#include "cli.h"
#include "json.h"
#include "progress.h"
#include "repo.h"
#include "vr_err.h"

static void cli_base_usage(FILE *f)
{
	fprintf(f,
		"Usage: vhdrecover base add [--json] [--progress|--no-progress] "
		"REPO IMAGE --name NAME\n"
		"Chunk and hash the base image IMAGE (raw, VHD or VHDX with its "
		"chain) into the\nrepository REPO once, as base NAME, so that "
		"recovery points of disks over it\nstore only their delta. "
		"Chunks already in REPO are not stored again; zero\nchunks are "
		"never stored.\n\n"
		"  --name NAME   1..127 of letters, digits, '.', '_', '-'\n"
		"  --json        print the result as JSON\n"
		"  --progress    always show progress; --no-progress never "
		"(default: on a TTY)\n");
}

int cli_base(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "progress", no_argument, NULL, 'P' },
		{ "no-progress", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct progress_late bp = { .label = "base add",
				    .mode = PROGRESS_AUTO };
	struct base_add_stats st;
	struct vr_err err = { 0 };
	const char *name = NULL, *repo_path, *image;
	struct repo *r = NULL;
	bool json = false;
	int c, rc;

	if (argc >= 2 &&
	    (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		cli_base_usage(stdout);
		return CLI_EXIT_OK;
	}
	if (argc < 2 || strcmp(argv[1], "add") != 0)
		return cli_usage("base", "expected add");
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			name = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'P':
			bp.mode = PROGRESS_ON;
			break;
		case 'N':
			bp.mode = PROGRESS_OFF;
			break;
		case 'h':
			cli_base_usage(stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage_option("base", c, argv);
		}
	}
	if (optind + 2 != argc || !name)
		return cli_usage("base", "expected REPO IMAGE --name NAME");
	repo_path = argv[optind];
	image = argv[optind + 1];
	rc = repo_open(repo_path, REPO_OPEN_WRITE, &r, &err);
	if (rc == 0)
		rc = base_add(r, repo_path, image, name, progress_late_update,
			      &bp, &st, &err);
	progress_free(bp.p);
	repo_close(r);
	if (rc < 0)
		return cli_fail(&err, rc, repo_path);
	if (json) {
		struct json *j = json_new(stdout);

		json_object_begin(j, NULL);
		json_string(j, "base", name);
		json_string(j, "image", image);
		json_uint(j, "chunks", st.chunks);
		json_uint(j, "zero_chunks", st.zero_chunks);
		json_uint(j, "new_chunks", st.new_chunks);
		json_uint(j, "bytes_read", st.bytes_read);
		json_object_end(j);
		json_free(j);
	} else {
		printf("%s: base %s: %" PRIu64 " chunks, %" PRIu64
		       " zero, %" PRIu64 " new\n",
		       repo_path, name, st.chunks, st.zero_chunks,
		       st.new_chunks);
	}
	return CLI_EXIT_OK;
}
