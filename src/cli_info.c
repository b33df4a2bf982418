/*
 * cli_info.c - "vhdrecover info": what a disk is, and for a VHDX or a VHD
 * every file of its parent chain, as text or --json. The VHD fields are the
 * ones vhdiinfo prints (type, sizes, bytes per sector, identifiers, parent
 * name), so the two tools can be compared line for line.
 */
#include <config.h>

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "disk.h"
#include "json.h"
#include "vhd.h"
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
		"its chain. For a VHD: type, virtual and\ncurrent size, "
		"geometry, block size, identifier, creator, parent identifier\n"
		"and names, and the same for every parent in its chain.\n\n"
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

static const char *cli_info_vhd_type_name(enum vhd_type type)
{
	switch (type) {
	case VHD_TYPE_FIXED:
		return "fixed";
	case VHD_TYPE_DYNAMIC:
		return "dynamic";
	case VHD_TYPE_DIFFERENCING:
		return "differencing";
	}
	return "unknown";
}

/* Same labels and column as cli_info_text_one() where the facts agree. */
static void cli_info_vhd_text_one(const struct vhd *h, unsigned depth)
{
	struct vhd_info in;
	char g[37];
	const char *ind = depth ? "  " : "";

	vhd_get_info(h, &in);
	if (depth)
		printf("\nparent %u:\n", depth);
	printf("%sfile:              %s\n", ind, vhd_path(h));
	printf("%sformat:            vhd\n", ind);
	printf("%stype:              %s\n", ind,
	       cli_info_vhd_type_name(in.type));
	printf("%svirtual size:      %" PRIu64 " bytes\n", ind,
	       in.virtual_size);
	printf("%scurrent size:      %" PRIu64 " bytes\n", ind,
	       in.current_size);
	printf("%sgeometry:          %u cylinders, %u heads, %u sectors per track\n",
	       ind, in.cylinders, in.heads, in.sectors);
	if (in.block_size)
		printf("%sblock size:        %" PRIu32 " bytes\n", ind,
		       in.block_size);
	else
		printf("%sblock size:        none (fixed disk)\n", ind);
	printf("%sbytes per sector:  %" PRIu32 " bytes\n", ind,
	       in.bytes_per_sector);
	printf("%sfile size:         %" PRIu64 " bytes\n", ind, in.file_size);
	printf("%screator:           \"%s\" version %" PRIu32 ".%" PRIu32 "\n",
	       ind, in.creator, in.creator_version >> 16,
	       in.creator_version & 0xffff);
	vhd_id_format(in.id, g);
	printf("%sidentifier:        %s\n", ind, g);
	if (!in.has_parent)
		return;
	vhd_id_format(in.parent_id, g);
	printf("%sparent identifier: %s\n", ind, g);
	printf("%sparent name:       %s\n", ind,
	       in.parent_name ? in.parent_name : "(none)");
	printf("%srelative path:     %s\n", ind,
	       in.parent_relative ? in.parent_relative : "(none)");
}

static void cli_info_vhd_json_one(struct json *j, const struct vhd *h)
{
	struct vhd_info in;
	char g[37];

	vhd_get_info(h, &in);
	json_string(j, "file", vhd_path(h));
	json_string(j, "format", "vhd");
	json_string(j, "type", cli_info_vhd_type_name(in.type));
	json_uint(j, "virtual_size", in.virtual_size);
	json_uint(j, "current_size", in.current_size);
	json_object_begin(j, "geometry");
	json_uint(j, "cylinders", in.cylinders);
	json_uint(j, "heads", in.heads);
	json_uint(j, "sectors", in.sectors);
	json_object_end(j);
	json_uint(j, "block_size", in.block_size);
	json_uint(j, "bytes_per_sector", in.bytes_per_sector);
	json_uint(j, "file_size", in.file_size);
	json_string(j, "creator", in.creator);
	snprintf(g, sizeof(g), "%" PRIu32 ".%" PRIu32, in.creator_version >> 16,
		 in.creator_version & 0xffff);
	json_string(j, "creator_version", g);
	vhd_id_format(in.id, g);
	json_string(j, "identifier", g);
	json_bool(j, "has_parent", in.has_parent);
	if (!in.has_parent)
		return;
	vhd_id_format(in.parent_id, g);
	json_string(j, "parent_identifier", g);
	if (in.parent_name)
		json_string(j, "parent_name", in.parent_name);
	else
		json_null(j, "parent_name");
	if (in.parent_relative)
		json_string(j, "relative_path", in.parent_relative);
	else
		json_null(j, "relative_path");
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

/* A raw disk: only what the disk layer knows. */
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

/* Walking and describing the files of one kind of chain. */
struct cli_info_walker {
	const void *(*parent)(const void *file);
	void (*text_one)(const void *file, unsigned depth);
	void (*json_one)(struct json *j, const void *file);
};

/*
 * Describe @first and its parents; if the chain did not open (@chain_rc),
 * @first is the file alone and the reason follows (exit 1).
 */
static int cli_info_print_chain(const char *path,
				const struct cli_info_walker *w,
				const void *first, bool as_json, int chain_rc,
				const struct vr_err *chain_err)
{
	const void *f;
	unsigned depth;

	if (as_json) {
		struct json *j = json_new(stdout);

		json_object_begin(j, NULL);
		for (f = first, depth = 0; f; f = w->parent(f), depth++) {
			if (depth)
				json_object_begin(j, "parent");
			w->json_one(j, f);
		}
		if (chain_rc < 0)
			cli_json_error(j, chain_err, chain_rc, path);
		while (depth-- > 1)
			json_object_end(j);
		json_object_end(j);
		json_free(j);
	} else {
		for (f = first, depth = 0; f; f = w->parent(f), depth++)
			w->text_one(f, depth);
	}
	if (chain_rc < 0) {
		fflush(stdout);
		return cli_fail(chain_err, chain_rc, path);
	}
	return CLI_EXIT_OK;
}

static const void *cli_info_vhd_parent(const void *f)
{
	return vhd_parent(f);
}

static void cli_info_vhd_text(const void *f, unsigned depth)
{
	cli_info_vhd_text_one(f, depth);
}

static void cli_info_vhd_json(struct json *j, const void *f)
{
	cli_info_vhd_json_one(j, f);
}

static const void *cli_info_vhdx_parent(const void *f)
{
	return vhdx_parent(f);
}

static void cli_info_vhdx_text(const void *f, unsigned depth)
{
	cli_info_text_one(f, depth);
}

static void cli_info_vhdx_json(struct json *j, const void *f)
{
	cli_info_json_one(j, f);
}

/* A legacy VHD and its chain, or the file alone and why the chain failed. */
static int cli_info_vhd(const char *path, const char *parent, bool as_json)
{
	static const struct cli_info_walker walker = { cli_info_vhd_parent,
						       cli_info_vhd_text,
						       cli_info_vhd_json };
	struct vr_err err = { 0 }, chain_err = { 0 };
	struct vhd *head = NULL, *chain = NULL;
	int rc, chain_rc;

	chain_rc = vhd_open(path, 0, parent, &chain, &chain_err);
	if (chain_rc < 0) {
		rc = vhd_open(path, VHD_OPEN_NO_PARENT, NULL, &head, &err);
		if (rc < 0)
			return cli_info_fail(path, as_json, &err, rc);
	}
	rc = cli_info_print_chain(path, &walker, chain ? chain : head, as_json,
				  chain_rc, &chain_err);
	vhd_close(chain);
	vhd_close(head);
	return rc;
}

/* A VHDX and its chain, or the file alone and why the chain failed. */
static int cli_info_vhdx(const char *path, const char *parent, bool as_json)
{
	static const struct cli_info_walker walker = { cli_info_vhdx_parent,
						       cli_info_vhdx_text,
						       cli_info_vhdx_json };
	struct vr_err err = { 0 }, chain_err = { 0 };
	struct vhdx *head = NULL, *chain = NULL;
	int rc, chain_rc;

	chain_rc = vhdx_open(path, 0, parent, &chain, NULL, &chain_err);
	if (chain_rc < 0) {
		rc = vhdx_open(path, VHDX_OPEN_NO_PARENT, NULL, &head, NULL,
			       &err);
		if (rc < 0)
			return cli_info_fail(path, as_json, &err, rc);
	}
	rc = cli_info_print_chain(path, &walker, chain ? chain : head, as_json,
				  chain_rc, &chain_err);
	vhdx_close(chain);
	vhdx_close(head);
	return rc;
}

int cli_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "parent", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vr_err err = { 0 };
	const char *parent = NULL, *path;
	bool as_json = false;
	enum disk_format fmt;
	int c, rc;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
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
			return cli_usage_option("info", c, argv);
		}
	}
	if (optind + 1 != argc)
		return cli_usage("info", "expected one DISK");
	path = argv[optind];
	rc = disk_probe(path, &fmt, &err);
	if (rc < 0)
		return cli_info_fail(path, as_json, &err, rc);
	if (fmt == DISK_FORMAT_VHD)
		return cli_info_vhd(path, parent, as_json);
	if (fmt != DISK_FORMAT_VHDX)
		return cli_info_plain(path, as_json);

	return cli_info_vhdx(path, parent, as_json);
}
