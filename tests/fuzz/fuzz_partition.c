/*
 * fuzz_partition.c - libFuzzer harness for the partition table reader
 * (src/partition.c): any byte string as the start of a disk.
 *
 * Per input (deterministic): the bytes are the first sectors of a disk
 * whose size is taken from the input's first 4 bytes (up to 1 TiB, so
 * tables may point far beyond the bytes given; what lies beyond reads as
 * zeros), read through a disk.h backend. A table that reads must keep its
 * promises: partitions in number order, each non-empty and inside the
 * disk, GPT names NUL-terminated.
 *
 * Build like fuzz_vhdx_open (tests/fuzz/README.md), then:
 *   ./tests/fuzz/fuzz_partition -max_total_time=300 CORPUS_DIR
 * Seeds: the first MiB of disks made by sfdisk (tests/unit/test_partition
 * makes MBR, extended and GPT ones), and the corpus's VHDX files
 * converted to raw.
 */
#include <config.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "disk.h"
#include "fuzz_check.h"
#include "partition.h"
#include "vr_err.h"

struct fuzz_image {
	const uint8_t *data;
	size_t size;
};

static int fuzz_read(void *ctx, void *buf, size_t len, uint64_t off,
		     struct vr_err *err)
{
	const struct fuzz_image *im = ctx;
	size_t have = off < im->size ? im->size - (size_t)off : 0;

	(void)err;
	if (have > len)
		have = len;
	if (have)
		memcpy(buf, im->data + off, have);
	memset((uint8_t *)buf + have, 0, len - have);
	return 0;
}

static int fuzz_extent(void *ctx, uint64_t off, uint64_t len, uint64_t *run,
		       bool *is_zero, struct vr_err *err)
{
	(void)ctx;
	(void)off;
	(void)err;
	*run = len;
	*is_zero = false;
	return 0;
}

/* the disk owns its context: freed at close */
static const struct disk_backend fuzz_ops = { .read = fuzz_read,
					      .extent = fuzz_extent,
					      .close = free };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_image *im = malloc(sizeof(*im));
	enum partition_scheme scheme;
	struct partition *p = NULL;
	struct vr_err err = { 0 };
	struct disk *d = NULL;
	uint64_t disk_bytes;
	size_t n = 0, i;

	if (!im || size < 4) {
		free(im);
		return 0;
	}
	/* a disk of 512-byte sectors, 1 to 2^31 of them */
	disk_bytes = ((uint64_t)(data[0] | data[1] << 8 | data[2] << 16 |
				 (uint32_t)(data[3] & 0x7f) << 24) +
		      1) *
		     512;
	im->data = data + 4;
	im->size = size - 4;
	if (disk_open_backend("fuzz", DISK_FORMAT_RAW, disk_bytes, &fuzz_ops,
			      im, &d, &err) < 0)
		return 0;
	if (partition_table_read(d, &scheme, &p, &n, &err) == 0) {
		FUZZ_CHECK(scheme != PARTITION_NONE || n == 0);
		for (i = 0; i < n; i++) {
			FUZZ_CHECK(p[i].size > 0);
			FUZZ_CHECK(p[i].offset <= disk_bytes &&
				   p[i].size <= disk_bytes - p[i].offset);
			FUZZ_CHECK(i == 0 || p[i].number > p[i - 1].number);
			FUZZ_CHECK(memchr(p[i].name, '\0', sizeof(p[i].name)));
		}
	} else {
		FUZZ_CHECK(err.code < 0 && err.msg[0]);
	}
	free(p);
	disk_close(d);
	return 0;
}
