/*
 * cli_convert.c - "vhdrecover convert IN OUT [-O raw|vhdx]": any disk we
 * read (VHDX chain, VHD, raw) to a sparse raw image or a new dynamic or
 * fixed VHDX (convert.h does the copy).
 */
#include <config.h>

#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "convert.h"
#include "disk.h"
#include "progress.h"
#include "vhdx.h"
#include "vr_err.h"
#include "vr_io.h"

static void cli_convert_usage(FILE *f)
{
	fprintf(f,
		"Usage: vhdrecover convert [-O raw|vhdx] [--type dynamic|fixed] "
		"[--block-size B]\n"
		"                          [--parent FILE] "
		"[--progress|--no-progress] IN OUT\n"
		"Convert IN (VHDX with its parent chain, legacy VHD, or raw) "
		"to a sparse raw\nimage or a new VHDX OUT. Zero regions are "
		"not written: holes in raw, blocks\nleft unallocated in a "
		"dynamic VHDX. OUT is replaced atomically: a failed or\n"
		"interrupted convert leaves any old OUT as it was.\n\n"
		"  -O raw|vhdx       output format (default raw)\n"
		"  --type T          vhdx: dynamic (default) or fixed\n"
		"  --block-size B    vhdx: payload block size, 1M..256M "
		"(default 32M)\n"
		"  --parent FILE     use FILE as the parent of IN instead of "
		"its locator\n"
		"  --progress        always show progress; --no-progress never "
		"(default: on a TTY)\n"
		"  -h, --help        this help\n");
}

int cli_convert_run(const char *in, const char *parent, const char *out,
		    const struct vhdx_create_opts *vhdx_opts,
		    enum progress_mode mode)
{
	struct vr_err err = { 0 };
	struct disk *d = NULL;
	int rc;

	rc = disk_open(in, DISK_FORMAT_AUTO, parent, &d, NULL, &err);
	if (rc == 0)
		rc = convert_disk(d, out, vhdx_opts, "convert", mode, &err);
	disk_close(d);
	return rc < 0 ? cli_fail(&err, rc, in) : CLI_EXIT_OK;
}

int cli_parse_vhdx_type(const char *verb, const char *text,
			enum vhdx_type *type)
{
	if (strcmp(text, "dynamic") == 0)
		*type = VHDX_TYPE_DYNAMIC;
	else if (strcmp(text, "fixed") == 0)
		*type = VHDX_TYPE_FIXED;
	else
		return cli_usage(verb, "bad --type '%s' (dynamic or fixed)",
				 text);
	return CLI_EXIT_OK;
}

int cli_parse_block_size(const char *verb, const char *text, uint32_t *out)
{
	uint64_t block;

	if (cli_parse_size(text, &block) < 0 || block > UINT32_MAX)
		return cli_usage(verb, "bad --block-size '%s'", text);
	*out = (uint32_t)block;
	return CLI_EXIT_OK;
}

int cli_convert(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "parent", required_argument, NULL, 'p' },
		{ "type", required_argument, NULL, 't' },
		{ "block-size", required_argument, NULL, 'b' },
		{ "progress", no_argument, NULL, 'P' },
		{ "no-progress", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vhdx_create_opts vhdx_opts = { .type = VHDX_TYPE_DYNAMIC };
	enum progress_mode mode = PROGRESS_AUTO;
	const char *parent = NULL, *vhdx_only = NULL;
	bool to_vhdx = false;
	int c;

	while ((c = getopt_long(argc, argv, ":O:h", opts, NULL)) != -1) {
		switch (c) {
		case 'O':
			if (strcmp(optarg, "raw") != 0 &&
			    strcmp(optarg, "vhdx") != 0)
				return cli_usage("convert",
						 "output format '%s' is not "
						 "supported (use raw or vhdx)",
						 optarg);
			to_vhdx = strcmp(optarg, "vhdx") == 0;
			break;
		case 't':
			if (cli_parse_vhdx_type("convert", optarg,
						&vhdx_opts.type))
				return CLI_EXIT_USAGE;
			vhdx_only = "--type";
			break;
		case 'b':
			if (cli_parse_block_size("convert", optarg,
						 &vhdx_opts.block_size))
				return CLI_EXIT_USAGE;
			vhdx_only = "--block-size";
			break;
		case 'p':
			parent = optarg;
			break;
		case 'P':
			mode = PROGRESS_ON;
			break;
		case 'N':
			mode = PROGRESS_OFF;
			break;
		case 'h':
			cli_convert_usage(stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage_option("convert", c, argv);
		}
	}
	if (optind + 2 != argc)
		return cli_usage("convert", "expected IN and OUT");
	if (vhdx_only && !to_vhdx)
		return cli_usage("convert", "%s needs -O vhdx", vhdx_only);
	return cli_convert_run(argv[optind], parent, argv[optind + 1],
			       to_vhdx ? &vhdx_opts : NULL, mode);
}
