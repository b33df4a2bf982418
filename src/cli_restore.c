/*
 * cli_restore.c - "vhdrecover restore REPO POINT --to OUT": a recovery
 * point as a whole disk (restore.h).
 */
#include <config.h>

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "catalog.h"
#include "cli.h"
#include "json.h"
#include "manifest.h"
#include "repo.h"
#include "restore.h"
#include "vr_err.h"

static void cli_restore_usage(FILE *f)
{
	fprintf(f,
		"Usage: vhdrecover restore REPO POINT --to OUT [-O raw|vhdx] "
		"[--type dynamic|fixed]\n"
		"       vhdrecover restore REPO POINT --to OUT.vhdx --parent "
		"LOCAL_BASE.vhdx\n"
		"Restore recovery point POINT (an id from 'points', latest, "
		"or DISK:latest)\nas a whole disk: a sparse raw image or a "
		"new VHDX (by OUT's extension, or\n-O). With --parent, OUT "
		"becomes a differencing VHDX over LOCAL_BASE, this\nsite's "
		"copy of the point's base: LOCAL_BASE is first verified "
		"against the\nbase's recorded hashes, then only the chunks "
		"in which the point differs from\nthe base are read from "
		"REPO and written. OUT is replaced atomically.\n\n"
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

int cli_restore(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "type", required_argument, NULL, 'T' },
		{ "parent", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "progress", no_argument, NULL, 'P' },
		{ "no-progress", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct restore_opts o = { .vhdx_type = VHDX_TYPE_DYNAMIC,
				  .mode = PROGRESS_AUTO };
	const char *out = NULL, *format = NULL, *repo_path, *spec;
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
