/*
 * cli_info.c - "vhdrecover info": what a disk is, and for a VHDX every file
 * of its parent chain, as text or --json.
 */
#include <config.h>

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "disk.h"
#include "json.h"
#include "vhdx.h"
#include "vr_err.h"

static const char *const cli_info_type_names[] = {
	[VHDX_TYPE_FIXED] = "fixed",
	[VHDX_TYPE_DYNAMIC] = "dynamic",
	[VHDX_TYPE_DIFFERENCING] = "differencing",
};

/* Payload states worth listing, in the order people think of them. */
static const unsigned cli_info_states[] = {
	VHDX_BLOCK_FULLY_PRESENT, VHDX_BLOCK_PARTIALLY_PRESENT,
	VHDX_BLOCK_NOT_PRESENT,	  VHDX_BLOCK_ZERO,
	VHDX_BLOCK_UNMAPPED,	  VHDX_BLOCK_UNDEFINED,
};

static void cli_info_usage(FILE *f)
{
	fprintf(f,
		"Usage: vhdrecover info [--json] [--parent FILE] DISK\n"
		"Describe DISK (VHDX, VHD or raw). For a VHDX: type, sizes, "
		"block size,\nsector sizes, GUIDs, header and log state, BAT "
		"summary, parent locator,\nand the same for every parent in "
		"its chain.\n\n"
		"  --json         machine-readable output\n"
		"  --parent FILE  use FILE as the parent of DISK instead of "
		"its locator\n"
		"  -h, --help     this help\n");
}

static void cli_info_text_one(const struct vhdx *v, unsigned depth)
{
	struct vhdx_info in;
	char g[37];
	size_t i;
	unsigned s;
	const char *ind = depth ? "  " : "";

	vhdx_get_info(v, &in);
	if (depth)
		printf("\nparent %u:\n", depth);
	printf("%sfile:              %s\n", ind, vhdx_path(v));
	printf("%sformat:            vhdx\n", ind);
	printf("%stype:              %s\n", ind, cli_info_type_names[in.type]);
	printf("%svirtual size:      %" PRIu64 " bytes\n", ind,
	       in.virtual_size);
	printf("%sblock size:        %" PRIu32 " bytes\n", ind, in.block_size);
	printf("%slogical sector:    %" PRIu32 " bytes\n", ind,
	       in.logical_sector_size);
	printf("%sphysical sector:   %" PRIu32 " bytes\n", ind,
	       in.physical_sector_size);
	printf("%sfile size:         %" PRIu64 " bytes\n", ind, in.file_size);
	printf("%screator:           %s\n", ind, in.creator);
	vhdx_guid_format(in.virtual_disk_id, g);
	printf("%svirtual disk id:   %s\n", ind, g);
	vhdx_guid_format(in.data_write_guid, g);
	printf("%sdata write guid:   %s\n", ind, g);
	vhdx_guid_format(in.file_write_guid, g);
	printf("%sfile write guid:   %s\n", ind, g);
	printf("%sheader:            %u (sequence %" PRIu64 ")\n", ind,
	       in.current_header, in.header_sequence);
	if (in.log_entries_replayed == 0) {
		printf("%slog:               empty\n", ind);
	} else {
		vhdx_guid_format(in.log_guid, g);
		printf("%slog:               %u entries to replay (log guid "
		       "%s)%s\n",
		       ind, in.log_entries_replayed, g,
		       in.log_replayed_in_memory
			       ? "; replayed in memory, file not changed"
			       : "");
	}
	printf("%sblocks:            %" PRIu64 " (chunk ratio %" PRIu32 ")",
	       ind, in.data_blocks, in.chunk_ratio);
	for (s = 0; s < sizeof(cli_info_states) / sizeof(*cli_info_states); s++)
		if (in.blocks_in_state[cli_info_states[s]])
			printf(", %" PRIu64 " %s",
			       in.blocks_in_state[cli_info_states[s]],
			       vhdx_block_state_name(cli_info_states[s]));
	printf("\n");
	if (in.has_parent)
		printf("%ssector bitmaps:    %" PRIu64 " present\n", ind,
		       in.bitmap_blocks_present);
	if (vhdx_locator_count(v)) {
		vhdx_guid_format(vhdx_locator_type(v), g);
		printf("%sparent locator:    type %s\n", ind, g);
		for (i = 0; i < vhdx_locator_count(v); i++) {
			const char *key, *value;

			vhdx_locator_entry(v, i, &key, &value);
			printf("%s  %-20s %s\n", ind, key, value);
		}
	}
}

static void cli_info_json_one(struct json *j, const struct vhdx *v)
{
	struct vhdx_info in;
	char g[37];
	size_t i;
	unsigned s;

	vhdx_get_info(v, &in);
	json_string(j, "file", vhdx_path(v));
	json_string(j, "format", "vhdx");
	json_string(j, "type", cli_info_type_names[in.type]);
	json_uint(j, "virtual_size", in.virtual_size);
	json_uint(j, "block_size", in.block_size);
	json_uint(j, "logical_sector_size", in.logical_sector_size);
	json_uint(j, "physical_sector_size", in.physical_sector_size);
	json_bool(j, "leave_blocks_allocated", in.leave_blocks_allocated);
	json_bool(j, "has_parent", in.has_parent);
	json_uint(j, "file_size", in.file_size);
	json_string(j, "creator", in.creator);
	vhdx_guid_format(in.virtual_disk_id, g);
	json_string(j, "virtual_disk_id", g);
	vhdx_guid_format(in.data_write_guid, g);
	json_string(j, "data_write_guid", g);
	vhdx_guid_format(in.file_write_guid, g);
	json_string(j, "file_write_guid", g);
	json_object_begin(j, "header");
	json_uint(j, "current", in.current_header);
	json_uint(j, "sequence", in.header_sequence);
	json_object_end(j);
	json_object_begin(j, "log");
	vhdx_guid_format(in.log_guid, g);
	json_string(j, "guid", g);
	json_uint(j, "offset", in.log_offset);
	json_uint(j, "length", in.log_length);
	json_uint(j, "entries_to_replay", in.log_entries_replayed);
	json_bool(j, "replayed_in_memory", in.log_replayed_in_memory);
	json_object_end(j);
	json_object_begin(j, "blocks");
	json_uint(j, "payload", in.data_blocks);
	json_uint(j, "chunk_ratio", in.chunk_ratio);
	json_uint(j, "bat_entries", in.bat_entries);
	for (s = 0; s < sizeof(cli_info_states) / sizeof(*cli_info_states);
	     s++) {
		char key[32];
		const char *p;
		char *q;

		/* "fully present" -> "fully_present" */
		for (p = vhdx_block_state_name(cli_info_states[s]), q = key;
		     *p && q < key + sizeof(key) - 1; p++)
			*q++ = *p == ' ' ? '_' : *p;
		*q = '\0';
		json_uint(j, key, in.blocks_in_state[cli_info_states[s]]);
	}
	json_uint(j, "sector_bitmaps_present", in.bitmap_blocks_present);
	json_object_end(j);
	if (vhdx_locator_count(v)) {
		json_object_begin(j, "parent_locator");
		vhdx_guid_format(vhdx_locator_type(v), g);
		json_string(j, "type", g);
		json_object_begin(j, "entries");
		for (i = 0; i < vhdx_locator_count(v); i++) {
			const char *key, *value;

			vhdx_locator_entry(v, i, &key, &value);
			json_string(j, key, value);
		}
		json_object_end(j);
		json_object_end(j);
	}
}

/* Nothing could be described: with --json, still a document with the error. */
static int cli_info_fail(const char *path, bool as_json,
			 const struct vr_err *err, int rc)
{
	if (as_json) {
		struct json *j = json_new(stdout);

		json_object_begin(j, NULL);
		json_string(j, "file", path);
		cli_json_error(j, err, rc, path);
		json_object_end(j);
		json_free(j);
		fflush(stdout);
	}
	return cli_fail(err, rc, path);
}

/* A VHD or raw disk: only what the disk layer knows. */
static int cli_info_plain(const char *path, bool as_json)
{
	struct vr_err err = { 0 };
	struct disk *d;
	int rc = disk_open(path, DISK_FORMAT_AUTO, NULL, &d, NULL, &err);
	struct json *j;

	if (rc < 0)
		return cli_info_fail(path, as_json, &err, rc);
	if (as_json) {
		j = json_new(stdout);
		json_object_begin(j, NULL);
		json_string(j, "file", path);
		json_string(j, "format", disk_format_name(disk_get_format(d)));
		json_uint(j, "virtual_size", disk_size(d));
		json_object_end(j);
		json_free(j);
	} else {
		printf("file:              %s\n", path);
		printf("format:            %s\n",
		       disk_format_name(disk_get_format(d)));
		printf("virtual size:      %" PRIu64 " bytes\n", disk_size(d));
	}
	disk_close(d);
	return CLI_EXIT_OK;
}

int cli_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "parent", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vr_err err = { 0 }, chain_err = { 0 };
	const char *parent = NULL, *path;
	bool as_json = false;
	struct vhdx *head = NULL, *chain = NULL;
	const struct vhdx *v;
	enum disk_format fmt;
	unsigned depth;
	int c, rc, chain_rc = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			as_json = true;
			break;
		case 'p':
			parent = optarg;
			break;
		case 'h':
			cli_info_usage(stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage("info", "unknown option");
		}
	}
	if (optind + 1 != argc)
		return cli_usage("info", "expected one DISK");
	path = argv[optind];
	rc = disk_probe(path, &fmt, &err);
	if (rc < 0)
		return cli_info_fail(path, as_json, &err, rc);
	if (fmt != DISK_FORMAT_VHDX)
		return cli_info_plain(path, as_json);

	/* Describe the chain if it opens, else the file alone and why. */
	chain_rc = vhdx_open(path, 0, parent, &chain, NULL, &chain_err);
	if (chain_rc < 0) {
		rc = vhdx_open(path, VHDX_OPEN_NO_PARENT, NULL, &head, NULL,
			       &err);
		if (rc < 0)
			return cli_info_fail(path, as_json, &err, rc);
	}
	if (as_json) {
		struct json *j = json_new(stdout);

		json_object_begin(j, NULL);
		for (v = chain ? chain : head, depth = 0; v;
		     v = vhdx_parent(v), depth++) {
			if (depth)
				json_object_begin(j, "parent");
			cli_info_json_one(j, v);
		}
		if (chain_rc < 0)
			cli_json_error(j, &chain_err, chain_rc, path);
		while (depth-- > 1)
			json_object_end(j);
		json_object_end(j);
		json_free(j);
	} else {
		for (v = chain ? chain : head, depth = 0; v;
		     v = vhdx_parent(v), depth++)
			cli_info_text_one(v, depth);
	}
	vhdx_close(chain);
	vhdx_close(head);
	if (chain_rc < 0) {
		fflush(stdout);
		return cli_fail(&chain_err, chain_rc, path);
	}
	return CLI_EXIT_OK;
}
