/*
 * cli_repo.c - "vhdrecover repo init|check|quota|gc": make a repository,
 * check it, set its quota, collect its garbage (docs/repo-format.md).
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "cli.h"
#include "forget.h"
#include "json.h"
#include "repo.h"
#include "vr_err.h"

static void cli_repo_usage(FILE *f)
{
	fprintf(f,
		"Usage: vhdrecover repo init [--chunk-size N] [--zstd-level L] "
		"[--quota SIZE] REPO\n"
		"       vhdrecover repo check [--read-data] [--json] REPO\n"
		"       vhdrecover repo quota REPO SIZE|none\n"
		"       vhdrecover repo gc REPO\n"
		"init makes an empty repository in the new or empty directory "
		"REPO: chunks\nof N bytes (a power of two, 4K..64M; default "
		"64K, the change tracking\ngranularity), compressed with zstd "
		"at level L (1..19, default 2).\n"
		"check verifies every pack index against its pack, and with "
		"--read-data\nevery chunk's content against its SHA-256, then "
		"reads every base and point\nand looks up every chunk it "
		"names. Each missing or damaged chunk is a line\nnaming the "
		"points and bases that lose it and at which disk offsets; "
		"each\npoint that cannot be restored whole is named. Exit 1 "
		"if anything is lost.\nPacks left without an index by an "
		"interrupted write are reported; they\nhold only unreferenced "
		"chunks and lose nothing.\n"
		"quota sets the most the repository's files may take (10G, "
		"2T; none: no\nquota): cycles that would not fit are deferred "
		"with an alert (plan).\n"
		"gc deletes the chunks no base or point names (forget does "
		"this after\nforgetting) and what interrupted writes left.\n");
}

static int cli_repo_quota(const char *path, const char *size)
{
	struct vr_err err = { 0 };
	struct repo *r = NULL;
	uint64_t quota = 0;
	int rc;

	if (strcmp(size, "none") &&
	    (cli_parse_size(size, &quota) < 0 || quota == 0))
		return cli_usage("repo", "bad quota '%s': a size (10G) or none",
				 size);
	rc = repo_open(path, REPO_OPEN_WRITE, &r, &err);
	if (rc == 0)
		rc = repo_set_quota(r, quota, &err);
	repo_close(r);
	if (rc < 0)
		return cli_fail(&err, rc, path);
	if (quota)
		printf("%s: quota %" PRIu64 " bytes\n", path, quota);
	else
		printf("%s: no quota\n", path);
	return CLI_EXIT_OK;
}

static int cli_repo_gc(const char *path)
{
	char warning[FORGET_WARNING_MAX];
	struct repo_gc_stats st;
	struct vr_err err = { 0 };
	struct repo *r = NULL;
	bool collected = false;
	int rc;

	rc = repo_open(path, REPO_OPEN_WRITE, &r, &err);
	if (rc == 0)
		rc = forget_collect(r, path, &st, &collected, warning, &err);
	repo_close(r);
	if (rc < 0)
		return cli_fail(&err, rc, path);
	if (!collected) {
		vr_err_set(&err, -EAGAIN, "%s: %s", path, warning);
		return cli_fail(&err, -EAGAIN, path);
	}
	printf("%s: %" PRIu64 " packs deleted, %" PRIu64 " rewritten, %" PRIu64
	       " chunks dropped, %" PRIu64 " leftovers removed; %" PRIu64
	       " bytes before, %" PRIu64 " after\n",
	       path, st.packs_deleted, st.packs_rewritten, st.chunks_dropped,
	       st.leftovers, st.bytes_before, st.bytes_after);
	return CLI_EXIT_OK;
}

struct cli_repo_problems {
	struct json *json;
	char **affected; /* point ids, for --json */
	size_t naffected;
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

static void cli_repo_affected(void *ctx, const char *id)
{
	struct cli_repo_problems *p = ctx;
	char **np = reallocarray(p->affected, p->naffected + 1,
				 sizeof(*p->affected));

	if (np) {
		p->affected = np;
		p->affected[p->naffected] = strdup(id);
		p->naffected += p->affected[p->naffected] != NULL;
	}
}

static int cli_repo_check(const char *path, bool read_data, bool json)
{
	struct cli_repo_problems probs = { 0 };
	struct audit_report rep = { .problem = cli_repo_problem,
				    .affected = cli_repo_affected,
				    .ctx = &probs };
	struct vr_err err = { 0 };
	struct json *j = NULL;
	struct repo *r;
	bool damaged;
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
	rc = audit_repo(r, path, read_data, &rep, &err);
	repo_close(r);
	damaged = rc < 0 || audit_is_damaged(&rep);
	if (j) {
		size_t i;

		json_array_end(j);
		json_array_begin(j, "affected_points");
		for (i = 0; i < probs.naffected; i++)
			json_string(j, NULL, probs.affected[i]);
		json_array_end(j);
		json_uint(j, "packs", rep.store.packs);
		json_uint(j, "chunks", rep.store.chunks);
		json_uint(j, "stored_bytes", rep.store.stored_bytes);
		json_uint(j, "bad_chunks", rep.store.bad_chunks);
		json_uint(j, "missing_chunks", rep.missing_chunks);
		json_uint(j, "unindexed_packs", rep.store.unindexed_packs);
		json_uint(j, "manifests", rep.manifests);
		json_uint(j, "damaged_manifests", rep.damaged_manifests);
		json_bool(j, "clean", !damaged);
		if (rc < 0)
			cli_json_error(j, &err, rc, path);
		json_object_end(j);
		json_free(j);
	}
	while (probs.naffected)
		free(probs.affected[--probs.naffected]);
	free(probs.affected);
	if (rc < 0)
		return cli_fail(&err, rc, path);
	if (!json)
		printf("%s: %" PRIu64 " packs, %" PRIu64 " chunks, %" PRIu64
		       " bytes stored, %" PRIu64 " bases and points; %s\n",
		       path, rep.store.packs, rep.store.chunks,
		       rep.store.stored_bytes, rep.manifests,
		       damaged ? "DAMAGED" : "clean");
	if (damaged) {
		vr_err_set(&err, -VR_ECORRUPT,
			   "%s: %" PRIu64 " chunks damaged, %" PRIu64
			   " missing, %" PRIu64 " manifests damaged; %" PRIu64
			   " points cannot be restored whole",
			   path, rep.store.bad_chunks, rep.missing_chunks,
			   rep.damaged_manifests, rep.affected_points);
		return cli_fail(&err, -VR_ECORRUPT, path);
	}
	return CLI_EXIT_OK;
}

int cli_repo(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "chunk-size", required_argument, NULL, 'c' },
		{ "zstd-level", required_argument, NULL, 'z' },
		{ "quota", required_argument, NULL, 'q' },
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
	if (argc < 2 || (strcmp(argv[1], "init") && strcmp(argv[1], "check") &&
			 strcmp(argv[1], "quota") && strcmp(argv[1], "gc")))
		return cli_usage("repo", "expected init, check, quota or gc");
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
		case 'q':
			if (cli_parse_size(optarg, &o.quota) < 0 || !o.quota)
				return cli_usage("repo", "bad --quota '%s'",
						 optarg);
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
	if (strcmp(sub, "init") && init_opt)
		return cli_usage("repo", "--chunk-size, --zstd-level and "
					 "--quota go with init");
	if (strcmp(sub, "check") && (read_data || json))
		return cli_usage("repo",
				 "--read-data and --json go with check");
	if (!strcmp(sub, "quota")) {
		if (optind + 2 != argc)
			return cli_usage("repo", "expected REPO SIZE|none");
		return cli_repo_quota(argv[optind], argv[optind + 1]);
	}
	if (optind + 1 != argc)
		return cli_usage("repo", "expected REPO");
	path = argv[optind];
	if (!strcmp(sub, "check"))
		return cli_repo_check(path, read_data, json);
	if (!strcmp(sub, "gc"))
		return cli_repo_gc(path);
	rc = repo_init(path, &o, &err);
	if (rc < 0)
		return cli_fail(&err, rc, path);
	printf("%s: repository made\n", path);
	return CLI_EXIT_OK;
}
