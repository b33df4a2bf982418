/*
 * cli_changes.c - "vhdrecover changes": what changed in a disk since the
 * last replication cycle, from its change bitmap (cbt.h), and whether that
 * can be trusted; --reset is what a cycle calls once it shipped them.
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cbt.h"
#include "cli.h"
#include "json.h"
#include "track.h"
#include "vhdx.h"
#include "vr_err.h"

static void cli_changes_usage(FILE *f)
{
	fprintf(f,
		"Usage: vhdrecover changes [--json] [--expect-generation N] "
		"DISK\n"
		"       vhdrecover changes --reset [--granularity G] DISK\n"
		"List the ranges of the VHDX DISK written since the last "
		"cycle (its change\nbitmap DISK.cbt), and whether the list "
		"can be trusted. An untrusted bitmap\n(no baseline yet, its "
		"writer died, the disk was written or replaced without\n"
		"tracking) lists the whole disk and exits 3. --reset forgets "
		"the changes\nand starts the next generation: what a cycle "
		"does once it shipped them.\n\n"
		"  --json                 one JSON document: trusted, reason, "
		"generation,\n"
		"                         granularity, extents "
		"[{offset, length}]\n"
		"  --expect-generation N  untrusted unless the bitmap is of "
		"generation N\n"
		"  --reset                clear the bitmap, generation + 1, "
		"trusted from now\n"
		"  --granularity G        with --reset: bytes per bit, a power "
		"of 2, 4K..64M\n"
		"  -h, --help             this help\n");
}

struct cli_changes_opts {
	bool json, reset, expect;
	uint64_t generation;
	uint32_t granularity;
};

/* The disk as it is now, read from its headers and metadata. */
static int cli_changes_identity(const char *path, struct cbt_identity *id,
				struct vr_err *err)
{
	struct vhdx *v;
	int rc;

	rc = vhdx_open(path, VHDX_OPEN_NO_PARENT, NULL, &v, NULL, err);
	if (rc < 0)
		return rc;
	track_identity(v, id);
	vhdx_close(v);
	return 0;
}

static void cli_changes_print(const char *path, const struct cbt *c,
			      const struct cli_changes_opts *o)
{
	enum cbt_trust t = cbt_trust(c);
	uint64_t off = 0, start, len;

	if (o->json) {
		struct json *j = json_new(stdout);

		json_object_begin(j, NULL);
		json_string(j, "disk", path);
		json_bool(j, "trusted", t == CBT_TRUSTED);
		json_string(j, "reason", cbt_trust_reason(t));
		json_uint(j, "generation", cbt_generation(c));
		json_uint(j, "granularity", cbt_granularity(c));
		json_array_begin(j, "extents");
		while (cbt_next_extent(c, off, &start, &len)) {
			json_object_begin(j, NULL);
			json_uint(j, "offset", start);
			json_uint(j, "length", len);
			json_object_end(j);
			off = start + len;
		}
		json_array_end(j);
		json_object_end(j);
		json_free(j);
		return;
	}
	printf("%s: %s, generation %" PRIu64 ", granularity %" PRIu32 "\n",
	       path, t == CBT_TRUSTED ? "trusted" : "untrusted: the whole disk",
	       cbt_generation(c), cbt_granularity(c));
	if (t != CBT_TRUSTED)
		printf("reason: %s\n", cbt_trust_reason(t));
	while (cbt_next_extent(c, off, &start, &len)) {
		printf("0x%" PRIx64 " %" PRIu64 "\n", start, len);
		off = start + len;
	}
}

static int cli_changes_run(const char *path, const struct cli_changes_opts *o,
			   struct vr_err *err)
{
	struct cbt_identity id;
	struct cbt *c = NULL;
	int rc, fd;

	/* A writer's bitmap in memory is ahead of the sidecar: wait for it */
	rc = track_lock(path, &fd, err);
	if (rc < 0)
		return rc;
	rc = cli_changes_identity(path, &id, err);
	if (rc == 0)
		rc = cbt_load(path, &id, o->granularity, &c, err);
	if (rc == 0 && o->reset) {
		rc = cbt_reset(c, o->granularity, err);
		if (rc == 0)
			rc = cbt_save(c, &id, true, err);
		if (rc == 0 && o->json) {
			struct json *j = json_new(stdout);

			json_object_begin(j, NULL);
			json_string(j, "disk", path);
			json_bool(j, "reset", true);
			json_uint(j, "generation", cbt_generation(c));
			json_uint(j, "granularity", cbt_granularity(c));
			json_object_end(j);
			json_free(j);
		} else if (rc == 0) {
			printf("%s: changes reset, generation %" PRIu64 "\n",
			       path, cbt_generation(c));
		}
	} else if (rc == 0) {
		if (o->expect && o->generation != cbt_generation(c))
			cbt_distrust(c, CBT_STALE_GENERATION);
		cli_changes_print(path, c, o);
		rc = cbt_trust(c) == CBT_TRUSTED ? 0 : 1;
	}
	cbt_free(c);
	close(fd);
	return rc;
}

int cli_changes(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "reset", no_argument, NULL, 'r' },
		{ "granularity", required_argument, NULL, 'g' },
		{ "expect-generation", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_changes_opts o = { 0 };
	struct vr_err err = { 0 };
	const char *path;
	uint64_t n;
	int c, rc;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o.json = true;
			break;
		case 'r':
			o.reset = true;
			break;
		case 'g':
			if (cli_parse_size(optarg, &n) < 0 || n > UINT32_MAX)
				return cli_usage("changes",
						 "bad --granularity '%s'",
						 optarg);
			o.granularity = (uint32_t)n;
			break;
		case 'e':
			if (cli_parse_size(optarg, &o.generation) < 0)
				return cli_usage("changes",
						 "bad --expect-generation '%s'",
						 optarg);
			o.expect = true;
			break;
		case 'h':
			cli_changes_usage(stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage_option("changes", c, argv);
		}
	}
	if (optind + 1 != argc)
		return cli_usage("changes", "expected DISK");
	if (o.granularity && !o.reset)
		return cli_usage("changes", "--granularity goes with --reset");
	if (o.expect && o.reset)
		return cli_usage("changes",
				 "--expect-generation goes without --reset");
	path = argv[optind];
	rc = cli_changes_run(path, &o, &err);
	if (rc < 0) {
		if (o.json) {
			struct json *j = json_new(stdout);

			json_object_begin(j, NULL);
			cli_json_error(j, &err, rc, path);
			json_object_end(j);
			json_free(j);
		}
		return cli_fail(&err, rc, path);
	}
	return rc ? CLI_EXIT_ALERT : CLI_EXIT_OK;
}
