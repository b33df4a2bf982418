/*
 * cli_convert.c - "vhdrecover convert IN OUT -O raw": any disk we read
 * (VHDX chain, VHD, raw) to a sparse raw image.
 *
 * The output is written to a temp file next to OUT, fsynced and renamed
 * over OUT, so OUT is either the old file or the complete new one. Runs
 * the disk reports as zero are never read; data runs are scanned in 4 KiB
 * pages and all-zero pages become holes too, like qemu-img's -S 4k.
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
};

static void cli_convert_usage(FILE *f)
{
	fprintf(f,
		"Usage: vhdrecover convert [-O raw] [--parent FILE] "
		"[--progress|--no-progress] IN OUT\n"
		"Convert IN (VHDX with its parent chain, legacy VHD, or raw) "
		"to a sparse raw\nimage OUT. OUT is replaced atomically: a "
		"failed or interrupted convert\nleaves any old OUT as it "
		"was.\n\n"
		"  -O raw         output format (raw; vhdx output comes with "
		"the writer)\n"
		"  --parent FILE  use FILE as the parent of IN instead of its "
		"locator\n"
		"  --progress     always show progress; --no-progress never "
		"(default: on a TTY)\n"
		"  -h, --help     this help\n");
}

static bool cli_convert_page_is_zero(const uint8_t *p)
{
	static const uint8_t zero[CLI_CONVERT_PAGE];

	return memcmp(p, zero, CLI_CONVERT_PAGE) == 0;
}

/* Write the non-zero pages of @buf (@len bytes at disk offset @off). */
static int cli_convert_write_data(int fd, const char *path, const uint8_t *buf,
				  size_t len, uint64_t off, struct vr_err *err)
{
	size_t i = 0;

	while (i < len) {
		size_t start, n;
		ssize_t w;

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
		w = vr_pwrite_full(fd, buf + start, n, off + start);
		if (w < 0)
			return vr_err_set(err, (int)w,
					  "%s: write at 0x%" PRIx64 ": %s",
					  path, off + start, strerror((int)-w));
	}
	return 0;
}

static int cli_convert_write(int fd, const char *tmp, void *ctx,
			     struct vr_err *err)
{
	struct cli_convert_job *job = ctx;
	uint64_t size = disk_size(job->disk), off = 0, flushed = 0;
	int rc;

	(void)tmp;
	if (ftruncate(fd, (off_t)size) < 0)
		return vr_err_set(err, -errno,
				  "%s: cannot size to %" PRIu64 " bytes: %s",
				  job->out_path, size, strerror(errno));
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
			rc = cli_convert_write_data(fd, job->out_path, job->buf,
						    n, off, err);
			if (rc < 0)
				return rc;
			off += n;
			run -= n;
			if (off - flushed >= CLI_CONVERT_WRITEBACK) {
				sync_file_range(fd, (off_t)flushed,
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

int cli_convert(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "parent", required_argument, NULL, 'p' },
		{ "progress", no_argument, NULL, 'P' },
		{ "no-progress", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vr_err err = { 0 };
	struct cli_convert_job job = { 0 };
	enum progress_mode mode = PROGRESS_AUTO;
	const char *parent = NULL, *in;
	int c, rc;

	while ((c = getopt_long(argc, argv, ":O:h", opts, NULL)) != -1) {
		switch (c) {
		case 'O':
			if (strcmp(optarg, "raw") != 0)
				return cli_usage("convert",
						 "output format '%s' is not "
						 "supported (use raw)",
						 optarg);
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
	in = argv[optind];
	job.out_path = argv[optind + 1];
	rc = disk_open(in, DISK_FORMAT_AUTO, parent, &job.disk, NULL, &err);
	if (rc < 0)
		return cli_fail(&err, rc, in);
	job.buf = malloc(CLI_CONVERT_CHUNK);
	job.progress = progress_new("convert", disk_size(job.disk), mode);
	if (!job.buf || !job.progress) {
		rc = vr_err_set(&err, -ENOMEM, "%s: out of memory", in);
		goto out;
	}
	rc = vr_file_replace(job.out_path, 0644, 0, cli_convert_write, &job,
			     &err);
out:
	progress_free(job.progress);
	free(job.buf);
	disk_close(job.disk);
	return rc < 0 ? cli_fail(&err, rc, in) : CLI_EXIT_OK;
}
