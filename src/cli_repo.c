/*
 * cli_repo.c - "vhdrecover repo init|check": make a repository, and check
 * its chunk store (docs/repo-format.md).
 */
#include <config.h>

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "json.h"
#include "repo.h"
#include "vr_err.h"

static void cli_repo_usage(FILE *f)
{
	fprintf(f,
		"Usage: vhdrecover repo init [--chunk-size N] [--zstd-level L] "
		"REPO\n"
		"       vhdrecover repo check [--read-data] [--json] REPO\n"
		"init makes an empty repository in the new or empty directory "
		"REPO: chunks\nof N bytes (a power of two, 4K..64M; default "
		"64K, the change tracking\ngranularity), compressed with zstd "
		"at level L (1..19, default 3).\n"
		"check verifies every pack index against its pack, and with "
		"--read-data\nevery chunk's content against its SHA-256; it "
		"names each problem on a\nline and exits 1 if chunks are "
		"damaged. Packs left without an index by an\ninterrupted "
		"write are reported; they hold only unreferenced chunks.\n");
}

struct cli_repo_problems {
	struct json *json;
	unsigned count;
};

static void cli_repo_problem(void *ctx, const char *line)
{
	struct cli_repo_problems *p = ctx;

	p->count++;
	if (p->json)
		json_string(p->json, NULL, line);
	else
		printf("%s\n", line);
}

static int cli_repo_check(const char *path, bool read_data, bool json)
{
	struct cli_repo_problems probs = { 0 };
	struct repo_check_report rep = { .problem = cli_repo_problem,
					 .ctx = &probs };
	struct vr_err err = { 0 };
	struct json *j = NULL;
	struct repo *r;
	int rc;

	rc = repo_open(path, 0, &r, &err);
	if (rc < 0)
		return cli_fail(&err, rc, path);
	if (json) {
		j = json_new(stdout);
		json_object_begin(j, NULL);
		json_string(j, "repository", path);
		json_array_begin(j, "problems");
		probs.json = j;
	}
	rc = repo_check(r, read_data, &rep, &err);
	repo_close(r);
	if (j) {
		json_array_end(j);
		json_uint(j, "packs", rep.packs);
		json_uint(j, "chunks", rep.chunks);
		json_uint(j, "stored_bytes", rep.stored_bytes);
		json_uint(j, "bad_chunks", rep.bad_chunks);
		json_uint(j, "unindexed_packs", rep.unindexed_packs);
		json_bool(j, "clean", rc == 0 && rep.bad_chunks == 0);
		if (rc < 0)
			cli_json_error(j, &err, rc, path);
		json_object_end(j);
		json_free(j);
	}
	if (rc < 0)
		return cli_fail(&err, rc, path);
	if (!json)
		printf("%s: %" PRIu64 " packs, %" PRIu64 " chunks, %" PRIu64
		       " bytes stored; %s\n",
		       path, rep.packs, rep.chunks, rep.stored_bytes,
		       rep.bad_chunks ? "DAMAGED" : "clean");
	if (rep.bad_chunks) {
		vr_err_set(&err, -VR_ECORRUPT,
			   "%s: %" PRIu64 " chunks damaged or missing", path,
			   rep.bad_chunks);
		return cli_fail(&err, -VR_ECORRUPT, path);
	}
	return CLI_EXIT_OK;
}

int cli_repo(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "chunk-size", required_argument, NULL, 'c' },
		{ "zstd-level", required_argument, NULL, 'z' },
		{ "read-data", no_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct repo_init_opts o = { 0 };
	struct vr_err err = { 0 };
	bool read_data = false, json = false, init_opt = false;
	const char *sub, *path;
	uint64_t n;
	int c, rc;

	if (argc >= 2 &&
	    (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		cli_repo_usage(stdout);
		return CLI_EXIT_OK;
	}
	if (argc < 2 || (strcmp(argv[1], "init") && strcmp(argv[1], "check")))
		return cli_usage("repo", "expected init or check");
	sub = argv[1];
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (cli_parse_size(optarg, &n) < 0 || n > UINT32_MAX)
				return cli_usage("repo",
						 "bad --chunk-size '%s'",
						 optarg);
			o.chunk_size = (uint32_t)n;
			init_opt = true;
			break;
		case 'z':
			if (cli_parse_size(optarg, &n) < 0 || n < 1 || n > 19)
				return cli_usage(
					"repo", "bad --zstd-level '%s' (1..19)",
					optarg);
			o.zstd_level = (int)n;
			init_opt = true;
			break;
		case 'r':
			read_data = true;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			cli_repo_usage(stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage_option("repo", c, argv);
		}
	}
	if (optind + 1 != argc)
		return cli_usage("repo", "expected REPO");
	path = argv[optind];
	if (!strcmp(sub, "check")) {
		if (init_opt)
			return cli_usage("repo",
					 "--chunk-size and --zstd-level "
					 "go with init");
		return cli_repo_check(path, read_data, json);
	}
	if (read_data || json)
		return cli_usage("repo",
				 "--read-data and --json go with check");
	rc = repo_init(path, &o, &err);
	if (rc < 0)
		return cli_fail(&err, rc, path);
	printf("%s: repository made\n", path);
	return CLI_EXIT_OK;
}
