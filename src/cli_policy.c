/*
 * cli_policy.c - "vhdrecover policy check P [--repo R --point ID]": load a
 * DR policy and show what it says, in the order a restore would follow
 * (policy.h); with a point, what each application finds in it (scope.h).
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "disk.h"
#include "json.h"
#include "manifest.h"
#include "point_disk.h"
#include "policy.h"
#include "scope.h"
#include "vr_err.h"

static void cli_policy_usage(FILE *f)
{
	fprintf(f, "Usage: vhdrecover policy check [--json] POLICY.yaml\n"
		   "Load the DR policy and check it against the schema "
		   "(docs/policy-format.md):\nunknown keys, types, globs, "
		   "durations, duplicate applications, unknown or\ncircular "
		   "dependencies. Each error is one line, FILE:LINE:COL: "
		   "problem, exit 1.\nA good policy is printed as it will "
		   "be followed: applications in restore\norder.\n"
		   "With --repo REPO --point POINT (an id, latest, "
		   "DISK:latest), each application\nis looked up in that "
		   "recovery point: its volume (partition number, label\n"
		   "or UUID; ext2/3/4 and NTFS file systems) and the files "
		   "its globs select,\ncounted with their bytes, reading "
		   "only the chunks behind the metadata.\nExit 3 if an "
		   "application finds no volume or no file.\n");
}

/* What one application finds in a point. */
struct cli_policy_found {
	uint64_t files, dirs, symlinks, other, bytes;
};

static int cli_policy_count(void *ctx, const struct guestfs_entry *e)
{
	struct cli_policy_found *f = ctx;

	if (e->kind == GUESTFS_FILE) {
		f->files++;
		f->bytes += e->size;
	} else if (e->kind == GUESTFS_DIR) {
		f->dirs++;
	} else if (e->kind == GUESTFS_SYMLINK) {
		f->symlinks++;
	} else {
		f->other++;
	}
	return 0;
}

/*
 * Look each application of @p up in point @spec of @repo_path. Prints
 * (text or into @j) and returns the exit code: 3 if one found nothing.
 */
static int cli_policy_in_point(const struct policy *p, const char *repo_path,
			       const char *spec, struct json *j)
{
	struct point_disk_named pd;
	struct vr_err err = { 0 };
	struct disk *d;
	int rc, missing = 0;
	size_t i;

	rc = point_disk_open_named(repo_path, NULL, spec, &pd, &err);
	if (rc < 0)
		return cli_fail(&err, rc, repo_path);
	d = pd.d;
	if (j) {
		json_string(j, "point", pd.m->name);
		json_array_begin(j, "found");
	} else {
		printf("in point %s:\n", pd.m->name);
	}
	for (i = 0; i < policy_app_count(p); i++) {
		const struct policy_app *a = policy_app_at(p, i);
		struct cli_policy_found f = { 0 };
		struct scope_volume *vol = NULL;
		struct vr_err aerr = { 0 };
		int arc = scope_volume_open(d, &a->volume, &vol, &aerr);

		if (arc == 0)
			arc = scope_walk(vol, a, cli_policy_count, &f, &aerr);
		if (arc < 0 && arc != -ENOENT && arc != -ENOTSUP) {
			rc = arc;
			err = aerr;
			scope_volume_close(vol);
			break;
		}
		missing += arc < 0 || f.files + f.symlinks == 0;
		if (j) {
			json_object_begin(j, NULL);
			json_string(j, "name", a->name);
			arc < 0 ? json_null(j, "volume")
				: json_string(j, "volume",
					      scope_volume_describe(vol));
			json_uint(j, "files", f.files);
			json_uint(j, "dirs", f.dirs);
			json_uint(j, "symlinks", f.symlinks);
			json_uint(j, "bytes", f.bytes);
			arc < 0 ? json_string(j, "problem", aerr.msg)
				: json_null(j, "problem");
			json_object_end(j);
		} else if (arc < 0) {
			printf("  %s: %s\n", a->name, aerr.msg);
		} else {
			printf("  %s on %s: %" PRIu64 " files, %" PRIu64
			       " bytes, %" PRIu64 " directories, %" PRIu64
			       " symlinks%s\n",
			       a->name, scope_volume_describe(vol), f.files,
			       f.bytes, f.dirs, f.symlinks,
			       f.files + f.symlinks ? "" : " (nothing found)");
		}
		scope_volume_close(vol);
	}
	if (j)
		json_array_end(j);
	point_disk_close_named(&pd);
	if (rc < 0)
		return cli_fail(&err, rc, repo_path);
	return missing ? CLI_EXIT_ALERT : CLI_EXIT_OK;
}

static const char *cli_policy_volume(const struct policy_volume *v, char *buf,
				     size_t len)
{
	if (v->kind == POLICY_VOLUME_PARTITION)
		snprintf(buf, len, "partition %u", v->partition);
	else
		snprintf(buf, len, "%s %s",
			 v->kind == POLICY_VOLUME_UUID ? "uuid" : "label",
			 v->text);
	return buf;
}

static void cli_policy_list(struct json *j, const char *key,
			    const char *const *list)
{
	json_array_begin(j, key);
	for (; *list; list++)
		json_string(j, NULL, *list);
	json_array_end(j);
}

/* The policy into the open object of @j. */
static void cli_policy_json(struct json *j, const struct policy *p)
{
	const struct policy_retention *r = policy_retention(p);
	char vol[200];
	size_t i;

	json_string(j, "name", policy_name(p));
	json_uint(j, "rpo_seconds", policy_rpo(p));
	json_object_begin(j, "retention");
	json_uint(j, "keep_last", r->keep_last);
	json_uint(j, "keep_hourly", r->keep_hourly);
	json_uint(j, "keep_daily", r->keep_daily);
	json_uint(j, "keep_weekly", r->keep_weekly);
	json_uint(j, "keep_monthly", r->keep_monthly);
	json_uint(j, "keep_within_seconds", r->keep_within);
	json_object_end(j);
	json_object_begin(j, "quiesce");
	policy_quiesce_pre(p) ? json_string(j, "pre", policy_quiesce_pre(p))
			      : json_null(j, "pre");
	policy_quiesce_post(p) ? json_string(j, "post", policy_quiesce_post(p))
			       : json_null(j, "post");
	json_object_end(j);
	policy_alert(p) ? json_string(j, "alert", policy_alert(p))
			: json_null(j, "alert");
	json_array_begin(j, "applications");
	for (i = 0; i < policy_app_count(p); i++) {
		const struct policy_app *a = policy_app_at(p, i);

		json_object_begin(j, NULL);
		json_string(j, "name", a->name);
		json_string(j, "volume",
			    cli_policy_volume(&a->volume, vol, sizeof(vol)));
		cli_policy_list(j, "include", a->include);
		cli_policy_list(j, "exclude", a->exclude);
		cli_policy_list(j, "depends_on", a->depends_on);
		a->pre ? json_string(j, "pre", a->pre) : json_null(j, "pre");
		a->post ? json_string(j, "post", a->post)
			: json_null(j, "post");
		json_object_end(j);
	}
	json_array_end(j);
}

static void cli_policy_text(const char *path, const struct policy *p)
{
	char vol[200];
	size_t i;

	printf("%s: policy %s: %zu applications", path, policy_name(p),
	       policy_app_count(p));
	if (policy_rpo(p))
		printf(", rpo %" PRIu64 " s", policy_rpo(p));
	printf("%s\n", policy_quiesce_pre(p) ? ", quiesce hooks" : "");
	for (i = 0; i < policy_app_count(p); i++) {
		const struct policy_app *a = policy_app_at(p, i);
		const char *const *g;

		printf("  %zu. %s on %s:", i + 1, a->name,
		       cli_policy_volume(&a->volume, vol, sizeof(vol)));
		for (g = a->include; *g; g++)
			printf(" %s", *g);
		for (g = a->exclude; *g; g++)
			printf(" !%s", *g);
		printf("\n");
	}
}

int cli_policy(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "repo", required_argument, NULL, 'r' },
		{ "point", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *repo_path = NULL, *point = NULL;
	struct vr_err err = { 0 };
	struct policy *p = NULL;
	struct json *j = NULL;
	bool json = false;
	int c, rc;

	if (argc >= 2 &&
	    (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		cli_policy_usage(stdout);
		return CLI_EXIT_OK;
	}
	if (argc < 2 || strcmp(argv[1], "check") != 0)
		return cli_usage("policy", "expected check");
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'r':
			repo_path = optarg;
			break;
		case 'p':
			point = optarg;
			break;
		case 'h':
			cli_policy_usage(stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage_option("policy", c, argv);
		}
	}
	if (optind + 1 != argc)
		return cli_usage("policy", "expected check POLICY");
	if (!repo_path != !point)
		return cli_usage("policy", "--repo and --point go together");
	rc = policy_load(argv[optind], &p, &err);
	if (rc < 0)
		return cli_fail(&err, rc, argv[optind]);
	if (json) {
		j = json_new(stdout);
		json_object_begin(j, NULL);
		cli_policy_json(j, p);
	} else {
		cli_policy_text(argv[optind], p);
	}
	rc = repo_path ? cli_policy_in_point(p, repo_path, point, j)
		       : CLI_EXIT_OK;
	if (j) {
		json_object_end(j);
		json_free(j);
	}
	policy_free(p);
	return rc;
}
