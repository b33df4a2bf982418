/*
 * cli_restore.c - "vhdrecover restore REPO POINT --to OUT": a recovery
 * point as a whole disk (restore.h), or with --policy the files of its
 * applications (scoped.h).
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "catalog.h"
#include "cli.h"
#include "disk.h"
#include "json.h"
#include "manifest.h"
#include "point_disk.h"
#include "policy.h"
#include "repo.h"
#include "restore.h"
#include "scoped.h"
#include "vr_err.h"

static void cli_restore_usage(FILE *f)
{
	fprintf(f,
		"Usage: vhdrecover restore REPO POINT --to OUT [-O raw|vhdx] "
		"[--type dynamic|fixed]\n"
		"       vhdrecover restore REPO POINT --to OUT.vhdx --parent "
		"LOCAL_BASE.vhdx\n"
		"       vhdrecover restore REPO POINT --policy P [--app A]... "
		"[--only-changed-vs-base]\n"
		"                  --to DIR|FILE.tar|FILE.tar.zst|FILE.zip\n"
		"Restore recovery point POINT (an id from 'points', latest, "
		"or DISK:latest)\nas a whole disk: a sparse raw image or a "
		"new VHDX (by OUT's extension, or\n-O). With --parent, OUT "
		"becomes a differencing VHDX over LOCAL_BASE, this\nsite's "
		"copy of the point's base: LOCAL_BASE is first verified "
		"against the\nbase's recorded hashes, then only the chunks "
		"in which the point differs from\nthe base are read from "
		"REPO and written. OUT is replaced atomically.\n"
		"With --policy, only the files of the policy's applications "
		"(or those --app\nnames), in restore order, each into DIR/APP/ "
		"(or APP/ of an archive, by the\nname's extension) with its "
		"pre and post hooks; the guest file systems\n(ext2/3/4, NTFS) "
		"are read in place, nothing is written outside DIR, and\n"
		"re-running gives the same tree. --only-changed-vs-base: only "
		"the files that\ndiffer from the point's preloaded base.\n\n"
		"  -O raw|vhdx       output format (default: from OUT's "
		"extension, .vhdx or raw)\n"
		"  --type T          vhdx: dynamic (default) or fixed\n"
		"  --parent FILE     restore as a differencing VHDX over FILE\n"
		"  --json            print what was read and written as JSON\n"
		"  --progress        always show progress; --no-progress never "
		"(default: on a TTY)\n");
}

static bool cli_restore_ends_with(const char *s, const char *ext)
{
	size_t n = strlen(s), e = strlen(ext);

	return n > e && strcasecmp(s + n - e, ext) == 0;
}

/* What restore --policy was asked. */
struct cli_restore_scope {
	const char *policy_path;
	const char *apps[64];
	size_t napps;
	bool only_changed;
};

/* The point's base as a disk, for --only-changed-vs-base. */
static int cli_restore_base_disk(const struct point_disk_named *pd,
				 struct disk **out, struct vr_err *err)
{
	if (!pd->base)
		return vr_err_set(err, -EINVAL,
				  "point %s has no preloaded base to compare "
				  "with (--only-changed-vs-base)",
				  pd->m->name);
	return point_disk_open(pd->r, NULL, pd->base, NULL, out, err);
}

static void cli_restore_scoped_report(const struct point_disk_named *pd,
				      const char *repo_path, const char *to,
				      const struct scoped_stats *st, bool json)
{
	struct repo_stats rs;
	struct json *j;

	repo_get_stats(pd->r, &rs);
	if (!json) {
		printf("%s: point %s: %u applications restored to %s: %" PRIu64
		       " files, %" PRIu64 " bytes, %" PRIu64
		       " directories, %" PRIu64 " symlinks, %" PRIu64
		       " hard links, %" PRIu64 " skipped, %" PRIu64
		       " unchanged; %" PRIu64
		       " bytes read from the repository\n",
		       repo_path, pd->m->name, st->apps, to, st->files,
		       st->bytes, st->dirs, st->symlinks, st->hardlinks,
		       st->skipped, st->unchanged, rs.bytes_read);
		return;
	}
	j = json_new(stdout);
	json_object_begin(j, NULL);
	json_string(j, "point", pd->m->name);
	json_string(j, "to", to);
	json_uint(j, "apps", st->apps);
	json_uint(j, "files", st->files);
	json_uint(j, "dirs", st->dirs);
	json_uint(j, "symlinks", st->symlinks);
	json_uint(j, "hardlinks", st->hardlinks);
	json_uint(j, "bytes", st->bytes);
	json_uint(j, "skipped", st->skipped);
	json_uint(j, "unchanged", st->unchanged);
	json_uint(j, "chunks_fetched", rs.chunks_read);
	json_uint(j, "bytes_fetched", rs.bytes_read);
	json_object_end(j);
	json_free(j);
}

/* restore --policy: the applications' files into directory or archive
 * @to. */
static int cli_restore_scoped(const char *repo_path, const char *spec,
			      const struct cli_restore_scope *c, const char *to,
			      enum progress_mode mode, bool json)
{
	struct point_disk_named pd = { 0 };
	struct scoped_opts so = { .apps = c->apps,
				  .napps = c->napps,
				  .repo_path = repo_path,
				  .progress = mode };
	struct scoped_stats st = { 0 };
	struct vr_err err = { 0 };
	struct policy *p = NULL;
	struct disk *base = NULL;
	const char *who = repo_path;
	int rc;

	rc = policy_load(c->policy_path, &p, &err);
	if (rc < 0)
		return cli_fail(&err, rc, c->policy_path);
	rc = point_disk_open_named(repo_path, NULL, spec, &pd, &err);
	if (rc == 0 && c->only_changed)
		rc = cli_restore_base_disk(&pd, &base, &err);
	if (rc == 0) {
		so.point = pd.m->name;
		so.base = base;
		who = to;
		rc = scoped_restore(pd.d, p, to, &so, &st, &err);
	}
	if (rc == 0)
		cli_restore_scoped_report(&pd, repo_path, to, &st, json);
	disk_close(base);
	point_disk_close_named(&pd);
	policy_free(p);
	return rc < 0 ? cli_fail(&err, rc, who) : CLI_EXIT_OK;
}

int cli_restore(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "type", required_argument, NULL, 'T' },
		{ "parent", required_argument, NULL, 'p' },
		{ "policy", required_argument, NULL, 'y' },
		{ "app", required_argument, NULL, 'a' },
		{ "only-changed-vs-base", no_argument, NULL, 'C' },
		{ "json", no_argument, NULL, 'j' },
		{ "progress", no_argument, NULL, 'P' },
		{ "no-progress", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct restore_opts o = { .vhdx_type = VHDX_TYPE_DYNAMIC,
				  .mode = PROGRESS_AUTO };
	const char *out = NULL, *format = NULL, *repo_path, *spec;
	struct cli_restore_scope scope = { 0 };
	struct manifest *m = NULL;
	struct restore_stats st;
	struct vr_err err = { 0 };
	struct repo *r = NULL;
	bool json = false;
	int c, rc;

	while ((c = getopt_long(argc, argv, ":O:h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			out = optarg;
			break;
		case 'O':
			if (strcmp(optarg, "raw") && strcmp(optarg, "vhdx"))
				return cli_usage("restore",
						 "output format '%s' is not "
						 "supported (use raw or vhdx)",
						 optarg);
			format = optarg;
			break;
		case 'T':
			if (cli_parse_vhdx_type("restore", optarg,
						&o.vhdx_type))
				return CLI_EXIT_USAGE;
			break;
		case 'p':
			o.parent = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'P':
			o.mode = PROGRESS_ON;
			break;
		case 'N':
			o.mode = PROGRESS_OFF;
			break;
		case 'y':
			scope.policy_path = optarg;
			break;
		case 'a':
			if (scope.napps ==
			    sizeof(scope.apps) / sizeof(scope.apps[0]))
				return cli_usage("restore", "too many --app");
			scope.apps[scope.napps++] = optarg;
			break;
		case 'C':
			scope.only_changed = true;
			break;
		case 'h':
			cli_restore_usage(stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage_option("restore", c, argv);
		}
	}
	if (optind + 2 != argc || !out)
		return cli_usage("restore", "expected REPO POINT --to OUT");
	repo_path = argv[optind];
	spec = argv[optind + 1];
	if ((scope.napps || scope.only_changed) && !scope.policy_path)
		return cli_usage("restore", "--app and --only-changed-vs-base "
					    "go with --policy");
	if (scope.policy_path && (format || o.parent))
		return cli_usage("restore", "--policy restores files into a "
					    "directory or an archive: no -O, "
					    "--type or --parent");
	if (scope.policy_path)
		return cli_restore_scoped(repo_path, spec, &scope, out, o.mode,
					  json);
	o.format = (format ? strcmp(format, "vhdx") == 0
			   : cli_restore_ends_with(out, ".vhdx"))
			   ? RESTORE_VHDX
			   : RESTORE_RAW;
	if (o.parent && o.format != RESTORE_VHDX)
		return cli_usage("restore",
				 "--parent makes a differencing VHDX: OUT must "
				 "be a .vhdx (or -O vhdx)");
	rc = repo_open(repo_path, 0, &r, &err);
	if (rc == 0)
		rc = catalog_load_point(repo_path, spec, &m, &err);
	if (rc == 0)
		rc = restore_disk(r, repo_path, m, out, &o, &st, &err);
	repo_close(r);
	if (rc < 0) {
		manifest_free(m);
		return cli_fail(&err, rc, repo_path);
	}
	if (json) {
		struct json *j = json_new(stdout);

		json_object_begin(j, NULL);
		json_string(j, "point", m->name);
		json_string(j, "to", out);
		json_string(j, "format",
			    o.format == RESTORE_VHDX ? "vhdx" : "raw");
		if (o.parent)
			json_string(j, "parent", o.parent);
		else
			json_null(j, "parent");
		json_uint(j, "size", m->size);
		json_uint(j, "chunks_fetched", st.chunks_fetched);
		json_uint(j, "bytes_fetched", st.bytes_fetched);
		json_uint(j, "base_bytes_verified", st.base_bytes_verified);
		json_object_end(j);
		json_free(j);
	} else {
		printf("%s: point %s restored to %s (%" PRIu64
		       " chunks, %" PRIu64 " bytes read from the repository)\n",
		       repo_path, m->name, out, st.chunks_fetched,
		       st.bytes_fetched);
	}
	manifest_free(m);
	return CLI_EXIT_OK;
}
