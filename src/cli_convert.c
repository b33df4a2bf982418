/*
 * cli_convert.c - "vhdrecover convert IN OUT [-O raw|vhdx]": any disk we
 * read (VHDX chain, VHD, raw) to a sparse raw image or a new dynamic or
 * fixed VHDX.
 *
 * The output is written to a temp file next to OUT, fsynced and renamed
 * over OUT, so OUT is either the old file or the complete new one. Runs
 * the disk reports as zero are never read; data runs are scanned in 4 KiB
 * pages and all-zero pages are not written: holes in a raw image, and in
 * a dynamic VHDX blocks that stay unallocated (or zeros inside allocated
 * ones), like qemu-img's -S 4k.
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
#include "disk.h"
#include "progress.h"
#include "vhdx.h"
#include "vr_err.h"
#include "vr_io.h"

#define CLI_CONVERT_CHUNK (8u * 1024 * 1024)
#define CLI_CONVERT_PAGE 4096u
/* Start writeback this often so the final fsync has little left to do. */
#define CLI_CONVERT_WRITEBACK (64ull * 1024 * 1024)

struct cli_convert_job {
	struct disk *disk;
	const char *out_path;
	struct progress *progress;
	uint8_t *buf;
	bool to_vhdx;
	struct vhdx_create_opts vhdx_opts;
	/* where the data goes: the temp file (raw) or the new VHDX */
	int out_fd;
	struct vhdx *out_vhdx;
};

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

static bool cli_convert_page_is_zero(const uint8_t *p)
{
	static const uint8_t zero[CLI_CONVERT_PAGE];

	return memcmp(p, zero, CLI_CONVERT_PAGE) == 0;
}

/* @len bytes of data at disk offset @off into the output. */
static int cli_convert_put(struct cli_convert_job *job, const uint8_t *buf,
			   size_t len, uint64_t off, struct vr_err *err)
{
	ssize_t w;

	if (job->out_vhdx)
		return vhdx_write(job->out_vhdx, buf, len, off, err);
	w = vr_pwrite_full(job->out_fd, buf, len, off);
	if (w < 0)
		return vr_err_set(err, (int)w, "%s: write at 0x%" PRIx64 ": %s",
				  job->out_path, off, strerror((int)-w));
	return 0;
}

/* Write the non-zero pages of @buf (@len bytes at disk offset @off). */
static int cli_convert_write_data(struct cli_convert_job *job,
				  const uint8_t *buf, size_t len, uint64_t off,
				  struct vr_err *err)
{
	size_t i = 0;
	int rc;

	while (i < len) {
		size_t start, n;

		while (i < len && len - i >= CLI_CONVERT_PAGE &&
		       cli_convert_page_is_zero(buf + i))
			i += CLI_CONVERT_PAGE;
		if (i >= len)
			break;
		start = i;
		while (i < len && (len - i < CLI_CONVERT_PAGE ||
				   !cli_convert_page_is_zero(buf + i)))
			i += len - i < CLI_CONVERT_PAGE ? len - i
							: CLI_CONVERT_PAGE;
		n = i - start;
		rc = cli_convert_put(job, buf + start, n, off + start, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Copy every data run of the input into the output. */
static int cli_convert_copy(struct cli_convert_job *job, struct vr_err *err)
{
	uint64_t size = disk_size(job->disk), off = 0, flushed = 0;
	int rc;

	while (off < size) {
		uint64_t run;
		bool is_zero;

		rc = disk_extent(job->disk, off, size - off, &run, &is_zero,
				 err);
		if (rc < 0)
			return rc;
		while (!is_zero && run > 0) {
			size_t n = run < CLI_CONVERT_CHUNK ? (size_t)run
							   : CLI_CONVERT_CHUNK;

			rc = disk_read(job->disk, job->buf, n, off, err);
			if (rc < 0)
				return rc;
			rc = cli_convert_write_data(job, job->buf, n, off, err);
			if (rc < 0)
				return rc;
			off += n;
			run -= n;
			if (!job->out_vhdx &&
			    off - flushed >= CLI_CONVERT_WRITEBACK) {
				sync_file_range(job->out_fd, (off_t)flushed,
						(off_t)(off - flushed),
						SYNC_FILE_RANGE_WRITE);
				flushed = off;
			}
			progress_update(job->progress, off);
		}
		off += is_zero ? run : 0;
		progress_update(job->progress, off);
	}
	return 0;
}

static int cli_convert_write_raw(int fd, const char *tmp, void *ctx,
				 struct vr_err *err)
{
	struct cli_convert_job *job = ctx;
	uint64_t size = disk_size(job->disk);

	(void)tmp;
	if (ftruncate(fd, (off_t)size) < 0)
		return vr_err_set(err, -errno,
				  "%s: cannot size to %" PRIu64 " bytes: %s",
				  job->out_path, size, strerror(errno));
	job->out_fd = fd;
	return cli_convert_copy(job, err);
}

/* Lay out a new VHDX in the temp file, then write into it. */
static int cli_convert_write_vhdx(int fd, const char *tmp, void *ctx,
				  struct vr_err *err)
{
	struct cli_convert_job *job = ctx;
	int rc;

	rc = vhdx_create_fd(fd, job->out_path, &job->vhdx_opts, err);
	if (rc < 0)
		return rc;
	rc = vhdx_open(tmp, VHDX_OPEN_RDWR, NULL, &job->out_vhdx, NULL, err);
	if (rc < 0)
		return rc;
	rc = cli_convert_copy(job, err);
	if (rc == 0)
		rc = vhdx_flush(job->out_vhdx, err);
	vhdx_close(job->out_vhdx);
	job->out_vhdx = NULL;
	return rc;
}

/* The new VHDX's shape: the input's size, sectors of a VHDX input. */
static int cli_convert_vhdx_plan(struct cli_convert_job *job, const char *in,
				 struct vr_err *err)
{
	struct vhdx_create_opts *o = &job->vhdx_opts;
	struct vhdx *v = disk_vhdx(job->disk);

	o->virtual_size = disk_size(job->disk);
	if (v) {
		struct vhdx_info info;

		vhdx_get_info(v, &info);
		o->logical_sector_size = info.logical_sector_size;
		o->physical_sector_size = info.physical_sector_size;
	}
	if (o->virtual_size == 0 ||
	    o->virtual_size % (o->logical_sector_size ?: 512))
		return vr_err_set(err, -EINVAL,
				  "%s: size %" PRIu64 " is not a whole number "
				  "of %u-byte sectors",
				  in, o->virtual_size,
				  o->logical_sector_size ?: 512);
	return 0;
}

int cli_convert_run(const char *in, const char *parent, const char *out,
		    const struct vhdx_create_opts *vhdx_opts,
		    enum progress_mode mode)
{
	struct vr_err err = { 0 };
	struct cli_convert_job job = { .out_path = out };
	int rc;

	if (vhdx_opts) {
		job.to_vhdx = true;
		job.vhdx_opts = *vhdx_opts;
	}
	rc = disk_open(in, DISK_FORMAT_AUTO, parent, &job.disk, NULL, &err);
	if (rc < 0)
		return cli_fail(&err, rc, in);
	job.buf = malloc(CLI_CONVERT_CHUNK);
	job.progress = progress_new("convert", disk_size(job.disk), mode);
	if (!job.buf || !job.progress) {
		rc = vr_err_set(&err, -ENOMEM, "%s: out of memory", in);
		goto out;
	}
	if (job.to_vhdx) {
		rc = cli_convert_vhdx_plan(&job, in, &err);
		if (rc == 0)
			rc = vr_file_replace(out, 0644, 0,
					     cli_convert_write_vhdx, &job,
					     &err);
	} else {
		rc = vr_file_replace(out, 0644, 0, cli_convert_write_raw, &job,
				     &err);
	}
out:
	progress_free(job.progress);
	free(job.buf);
	disk_close(job.disk);
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
