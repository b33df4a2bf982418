/*
 * cli_write.c - "vhdrecover write": bytes from a file or standard input
 * into a VHDX at an offset, or a zeroed range, for scripts and tests.
 * Tracked (track.h): the change bitmap records what it wrote.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "track.h"
#include "vhdx.h"
#include "vr_err.h"

#define CLI_WRITE_CHUNK (4u * 1024 * 1024)

static void cli_write_usage(FILE *f)
{
	fprintf(f,
		"Usage: vhdrecover write [--parent FILE] DISK OFFSET [INPUT|-]\n"
		"       vhdrecover write [--parent FILE] --zero LENGTH [--unmap] "
		"DISK OFFSET\n"
		"Write INPUT (standard input if - or absent) into the VHDX DISK "
		"at OFFSET,\nor make LENGTH bytes there read as zeros. OFFSET "
		"and the length must be\nmultiples of the disk's logical sector "
		"size. Numbers take 0x for hex and\nK, M, G, T suffixes. A "
		"parent is never written.\n\n"
		"  --parent FILE   use FILE as the parent instead of the "
		"locator\n"
		"  --zero LENGTH   zero LENGTH bytes instead of writing input\n"
		"  --unmap         with --zero: whole blocks may give back "
		"their space\n"
		"  -h, --help      this help\n");
}

/* Fill @buf from @fd; returns the bytes read (< @len only at EOF). */
static ssize_t cli_write_fill(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Copy @in into @t from @off on. */
static int cli_write_stream(struct track *t, int in, const char *in_name,
			    uint64_t off, struct vr_err *err)
{
	uint32_t lss;
	uint8_t *buf = malloc(CLI_WRITE_CHUNK);
	struct vhdx_info info;
	struct stat st;
	int rc = 0;

	if (!buf)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", in_name);
	vhdx_get_info(track_vhdx(t), &info);
	lss = info.logical_sector_size;
	/* A file's length is known: refuse it whole rather than in part. */
	if (fstat(in, &st) == 0 && S_ISREG(st.st_mode)) {
		uint64_t size = (uint64_t)st.st_size;

		if (size % lss)
			rc = vr_err_set(err, -EINVAL,
					"%s: %" PRIu64 " bytes is not a whole "
					"number of %" PRIu32 "-byte sectors",
					in_name, size, lss);
		else if (off > info.virtual_size ||
			 size > info.virtual_size - off)
			rc = vr_err_set(err, -EINVAL,
					"%s: %" PRIu64 " bytes at 0x%" PRIx64
					" reach past the end of the disk "
					"(%" PRIu64 " bytes)",
					in_name, size, off, info.virtual_size);
	}
	while (rc == 0) {
		ssize_t n = cli_write_fill(in, buf, CLI_WRITE_CHUNK);

		if (n < 0) {
			rc = vr_err_set(err, (int)n, "%s: read: %s", in_name,
					strerror((int)-n));
			break;
		}
		if (n == 0)
			break;
		if ((size_t)n % lss) {
			rc = vr_err_set(err, -EINVAL,
					"%s: input ends %zu bytes into a "
					"%" PRIu32 "-byte sector",
					in_name, (size_t)n % lss, lss);
			break;
		}
		rc = track_write(t, buf, (size_t)n, off, err);
		if (rc < 0)
			break;
		off += (uint64_t)n;
	}
	free(buf);
	return rc;
}

int cli_write(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "parent", required_argument, NULL, 'p' },
		{ "zero", required_argument, NULL, 'z' },
		{ "unmap", no_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vr_err err = { 0 };
	const char *parent = NULL, *path, *in_name = "-";
	uint64_t off, zero_len = 0;
	bool zero = false, unmap = false;
	struct track *t = NULL;
	int c, rc, in = STDIN_FILENO;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			parent = optarg;
			break;
		case 'z':
			if (cli_parse_size(optarg, &zero_len) < 0)
				return cli_usage("write",
						 "bad --zero LENGTH '%s'",
						 optarg);
			zero = true;
			break;
		case 'u':
			unmap = true;
			break;
		case 'h':
			cli_write_usage(stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage_option("write", c, argv);
		}
	}
	if (unmap && !zero)
		return cli_usage("write", "--unmap goes with --zero");
	if (optind + 2 > argc || optind + 3 < argc ||
	    (zero && optind + 2 != argc))
		return cli_usage("write",
				 zero ? "expected DISK OFFSET"
				      : "expected DISK OFFSET [INPUT]");
	path = argv[optind];
	if (cli_parse_size(argv[optind + 1], &off) < 0)
		return cli_usage("write", "bad OFFSET '%s'", argv[optind + 1]);
	if (optind + 3 == argc && strcmp(argv[optind + 2], "-") != 0) {
		in_name = argv[optind + 2];
		in = open(in_name, O_RDONLY | O_CLOEXEC);
		if (in < 0) {
			rc = vr_err_set(&err, -errno, "%s: %s", in_name,
					strerror(errno));
			return cli_fail(&err, rc, in_name);
		}
	}
	rc = track_open(path, parent, 0, 0, &t, &err);
	if (rc == 0 && zero)
		rc = track_zero(t, off, zero_len, unmap ? VHDX_ZERO_UNMAP : 0,
				&err);
	else if (rc == 0)
		rc = cli_write_stream(t, in, in_name, off, &err);
	if (rc == 0)
		rc = track_finish(t, &err);
	track_close(t);
	if (in != STDIN_FILENO)
		close(in);
	return rc < 0 ? cli_fail(&err, rc, path) : CLI_EXIT_OK;
}
