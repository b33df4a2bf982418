/*
 * cli_create.c - "vhdrecover create": a new fixed or dynamic VHDX, or a
 * differencing VHDX over a parent.
 */
#include <config.h>

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "vhdx.h"
#include "vr_err.h"

static void cli_create_usage(FILE *f)
{
	fprintf(f,
		"Usage: vhdrecover create FILE --size S [--type dynamic|fixed] "
		"[--block-size B]\n"
		"                         [--logical-sector 512|4096] "
		"[--physical-sector 512|4096]\n"
		"       vhdrecover create FILE --parent BASE.vhdx "
		"[--block-size B]\n"
		"Make a new VHDX file. A differencing disk takes its size and "
		"sector sizes\nfrom BASE, whose whole chain must open, and "
		"records BASE's DataWriteGuid,\nrelative path and absolute "
		"path in its parent locator. FILE must not exist;\nit appears "
		"complete or not at all.\n\n"
		"  --size S            virtual size (K, M, G, T suffixes)\n"
		"  --type T            dynamic (default) or fixed\n"
		"  --block-size B      payload block size, a power of 2 from 1M "
		"to 256M\n"
		"                      (default 32M; 2M for differencing)\n"
		"  --logical-sector N  512 (default) or 4096\n"
		"  --physical-sector N 4096 (default) or 512\n"
		"  --parent BASE       make a differencing disk over BASE\n"
		"  -h, --help          this help\n");
}

/* A sector or block size option: a size that fits 32 bits. */
static int cli_create_u32(const char *text, uint32_t *out)
{
	uint64_t v;

	if (cli_parse_size(text, &v) < 0 || v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int cli_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "type", required_argument, NULL, 't' },
		{ "block-size", required_argument, NULL, 'b' },
		{ "logical-sector", required_argument, NULL, 'l' },
		{ "physical-sector", required_argument, NULL, 'P' },
		{ "parent", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vhdx_create_opts o = { .type = VHDX_TYPE_DYNAMIC };
	struct vr_err err = { 0 };
	bool have_size = false, have_type = false;
	const char *path;
	int c, rc;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (cli_parse_size(optarg, &o.virtual_size) < 0)
				return cli_usage("create", "bad size '%s'",
						 optarg);
			have_size = true;
			break;
		case 't':
			have_type = true;
			if (cli_parse_vhdx_type("create", optarg, &o.type))
				return CLI_EXIT_USAGE;
			break;
		case 'b':
			if (cli_create_u32(optarg, &o.block_size) < 0)
				return cli_usage("create",
						 "bad block size '%s'", optarg);
			break;
		case 'l':
			if (cli_create_u32(optarg, &o.logical_sector_size) < 0)
				return cli_usage("create",
						 "bad logical sector '%s'",
						 optarg);
			break;
		case 'P':
			if (cli_create_u32(optarg, &o.physical_sector_size) < 0)
				return cli_usage("create",
						 "bad physical sector '%s'",
						 optarg);
			break;
		case 'p':
			o.parent_path = optarg;
			break;
		case 'h':
			cli_create_usage(stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage_option("create", c, argv);
		}
	}
	if (optind + 1 != argc)
		return cli_usage("create", "expected one FILE");
	path = argv[optind];
	if (o.parent_path) {
		if (have_size || have_type)
			return cli_usage("create",
					 "--parent takes size and type from "
					 "the parent; drop --size and --type");
		o.type = VHDX_TYPE_DIFFERENCING;
	} else if (!have_size) {
		return cli_usage("create", "--size or --parent is required");
	}
	rc = vhdx_create(path, &o, &err);
	return rc < 0 ? cli_fail(&err, rc, path) : CLI_EXIT_OK;
}
