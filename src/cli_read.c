/*
 * cli_read.c - "vhdrecover read": bytes of a disk to standard output, for
 * scripts and tests.
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "disk.h"
#include "vr_err.h"

#define CLI_READ_CHUNK (1024 * 1024)

/* Standard output may be a pipe, so write() in order, never pwrite(). */
static int cli_read_write_all(const char *buf, size_t n, struct vr_err *err)
{
	size_t k = 0;

	while (k < n) {
		ssize_t m = write(STDOUT_FILENO, buf + k, n - k);

		if (m < 0 && errno == EINTR)
			continue;
		if (m < 0)
			return vr_err_set(err, -errno, "standard output: %s",
					  strerror(errno));
		k += (size_t)m;
	}
	return 0;
}

static void cli_read_usage(FILE *f)
{
	fprintf(f,
		"Usage: vhdrecover read [--parent FILE] DISK OFFSET LENGTH\n"
		"Write LENGTH bytes of DISK (VHDX chain, VHD or raw) starting "
		"at OFFSET to\nstandard output. Numbers take 0x for hex and "
		"K, M, G, T suffixes.\n\n"
		"  --parent FILE  use FILE as the parent instead of the "
		"locator\n"
		"  -h, --help     this help\n");
}

int cli_read(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "parent", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vr_err err = { 0 };
	const char *parent = NULL, *path;
	uint64_t off, len, done = 0;
	struct disk *d;
	char *buf;
	int c, rc;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			parent = optarg;
			break;
		case 'h':
			cli_read_usage(stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage_option("read", c, argv);
		}
	}
	if (optind + 3 != argc)
		return cli_usage("read", "expected DISK OFFSET LENGTH");
	path = argv[optind];
	if (cli_parse_size(argv[optind + 1], &off) < 0)
		return cli_usage("read", "bad OFFSET '%s'", argv[optind + 1]);
	if (cli_parse_size(argv[optind + 2], &len) < 0)
		return cli_usage("read", "bad LENGTH '%s'", argv[optind + 2]);
	rc = disk_open(path, DISK_FORMAT_AUTO, parent, &d, NULL, &err);
	if (rc < 0)
		return cli_fail(&err, rc, path);
	buf = malloc(CLI_READ_CHUNK);
	if (!buf) {
		disk_close(d);
		vr_err_set(&err, -ENOMEM, "%s: out of memory", path);
		return cli_fail(&err, -ENOMEM, path);
	}
	if (off > disk_size(d) || len > disk_size(d) - off) {
		rc = vr_err_set(&err, -EINVAL,
				"%s: range 0x%" PRIx64 "+%" PRIu64
				" is outside the disk (%" PRIu64 " bytes)",
				path, off, len, disk_size(d));
		goto out;
	}
	while (done < len) {
		size_t n = len - done < CLI_READ_CHUNK ? (size_t)(len - done)
						       : CLI_READ_CHUNK;

		rc = disk_read(d, buf, n, off + done, &err);
		if (rc < 0)
			goto out;
		rc = cli_read_write_all(buf, n, &err);
		if (rc < 0)
			goto out;
		done += n;
	}
	rc = 0;
out:
	free(buf);
	disk_close(d);
	return rc < 0 ? cli_fail(&err, rc, path) : CLI_EXIT_OK;
}
