/*
 * cli_points.c - "vhdrecover points REPO": the recovery points of a
 * repository, oldest first, as a table or JSON (catalog.h).
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "cli.h"
#include "json.h"
#include "repo.h"
#include "vr_err.h"

static void cli_points_usage(FILE *f)
{
	fprintf(f, "Usage: vhdrecover points REPO [--disk NAME] [--json]\n"
		   "List the recovery points in REPO, oldest first: id, time "
		   "(UTC), disk, base,\nbytes new (stored by its cycle), and "
		   "whether it is application-consistent\n(quiesce hooks ran) "
		   "or crash-consistent.\n\n"
		   "  --disk NAME   only the points of disk NAME\n"
		   "  --json        an array of objects: id, time (RFC 3339), "
		   "disk, base (null\n"
		   "                if none), size, bytes_read, bytes_new, "
		   "consistent, full_scan,\n"
		   "                expires (null if none)\n");
}

static void cli_points_json(const struct catalog_point *pts, size_t n)
{
	struct json *j = json_new(stdout);
	char t[32];
	size_t i;

	json_array_begin(j, NULL);
	for (i = 0; i < n; i++) {
		const struct catalog_point *p = &pts[i];

		json_object_begin(j, NULL);
		json_string(j, "id", p->id);
		cli_format_time(p->time, t);
		json_string(j, "time", t);
		json_string(j, "disk", p->disk);
		if (p->base[0])
			json_string(j, "base", p->base);
		else
			json_null(j, "base");
		json_uint(j, "size", p->size);
		json_uint(j, "bytes_read", p->bytes_read);
		json_uint(j, "bytes_new", p->bytes_new);
		json_bool(j, "consistent", p->flags & MANIFEST_CONSISTENT);
		json_bool(j, "full_scan", p->flags & MANIFEST_FULL_SCAN);
		if (p->expires) {
			cli_format_time(p->expires, t);
			json_string(j, "expires", t);
		} else {
			json_null(j, "expires");
		}
		json_object_end(j);
	}
	json_array_end(j);
	json_free(j);
}

static void cli_points_table(const struct catalog_point *pts, size_t n)
{
	char t[32], e[32];
	size_t i;

	printf("%-36s %-20s %-16s %-16s %12s %-11s %s\n", "ID", "TIME", "DISK",
	       "BASE", "BYTES NEW", "CONSISTENCY", "EXPIRES");
	for (i = 0; i < n; i++) {
		cli_format_time(pts[i].time, t);
		if (pts[i].expires)
			cli_format_time(pts[i].expires, e);
		printf("%-36s %-20s %-16s %-16s %12" PRIu64 " %-11s %s\n",
		       pts[i].id, t, pts[i].disk,
		       pts[i].base[0] ? pts[i].base : "-", pts[i].bytes_new,
		       pts[i].flags & MANIFEST_CONSISTENT ? "application"
							  : "crash",
		       pts[i].expires ? e : "-");
	}
}

/* Name each point of REPO/points that the listing could not read. */
static void cli_points_left_out(const char *repo_path,
				const struct catalog_point *pts, size_t n)
{
	char(*ids)[MANIFEST_NAME_MAX];
	struct vr_err err = { 0 };
	size_t nids, i, j;

	if (catalog_list_names(repo_path, CATALOG_POINTS, &ids, &nids, &err) <
	    0)
		return;
	for (i = 0; i < nids; i++) {
		struct manifest *m = NULL;
		char *path;
		int rc;

		for (j = 0; j < n && strcmp(pts[j].id, ids[i]); j++)
			;
		if (j < n)
			continue; /* listed */
		path = catalog_point_path(repo_path, ids[i]);
		rc = path ? manifest_load_header(path, &m, &err) : -ENOMEM;
		manifest_free(m);
		free(path);
		vr_err_clear(&err);
		if (rc < 0) /* not of another disk: unreadable */
			fprintf(stderr,
				"vhdrecover: warning: %s: point %s cannot be "
				"read and is left out (repo check names the "
				"damage)\n",
				repo_path, ids[i]);
	}
	free(ids);
}

int cli_points(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "disk", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct catalog_point *pts = NULL;
	struct vr_err err = { 0 };
	struct repo *r = NULL;
	const char *disk = NULL;
	bool json = false;
	size_t n, damaged = 0;
	int c, rc;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			disk = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			cli_points_usage(stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage_option("points", c, argv);
		}
	}
	if (optind + 1 != argc)
		return cli_usage("points", "expected REPO");
	/* opened only to say clearly when REPO is no repository */
	rc = repo_open(argv[optind], 0, &r, &err);
	repo_close(r);
	if (rc == 0)
		rc = catalog_list_points(argv[optind], disk, &pts, &n, &damaged,
					 &err);
	if (rc < 0)
		return cli_fail(&err, rc, argv[optind]);
	if (damaged)
		cli_points_left_out(argv[optind], pts, n);
	if (json)
		cli_points_json(pts, n);
	else
		cli_points_table(pts, n);
	free(pts);
	return CLI_EXIT_OK;
}
