/*
 * replay_io.c - replay a qemu-io command script into a VHDX through the
 * vhdx library, so bench/random-write.sh can give vhdrecover and qemu-io
 * the very same requests.
 *
 * Usage: replay_io DISK < SCRIPT
 *
 * Understands the two commands the bench writes, one per line:
 *	write -P PATTERN OFFSET LENGTH	(LENGTH bytes of the byte PATTERN)
 *	flush
 * then flushes and closes the disk, as qemu-io does on exit.
 */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vhdx.h"
#include "vr_err.h"

#define REPLAY_MAX_WRITE (16u * 1024 * 1024)

int main(int argc, char **argv)
{
	struct vr_err err = { 0 };
	char line[256];
	struct vhdx *v;
	uint8_t *buf = malloc(REPLAY_MAX_WRITE);
	unsigned long lineno = 0;

	if (argc != 2 || !buf) {
		fprintf(stderr, "usage: replay_io DISK < SCRIPT\n");
		return 2;
	}
	if (vhdx_open(argv[1], VHDX_OPEN_RDWR, NULL, &v, NULL, &err) < 0) {
		fprintf(stderr, "replay_io: %s\n", err.msg);
		return 1;
	}
	while (fgets(line, sizeof(line), stdin)) {
		unsigned pattern;
		uint64_t off, len;
		int rc;

		lineno++;
		if (strcmp(line, "flush\n") == 0) {
			rc = vhdx_flush(v, &err);
		} else if (sscanf(line, "write -P %u %" SCNu64 " %" SCNu64,
				  &pattern, &off, &len) == 3 &&
			   len <= REPLAY_MAX_WRITE) {
			memset(buf, (int)pattern, len);
			rc = vhdx_write(v, buf, len, off, &err);
		} else {
			fprintf(stderr, "replay_io: line %lu: not understood\n",
				lineno);
			return 2;
		}
		if (rc < 0) {
			fprintf(stderr, "replay_io: line %lu: %s\n", lineno,
				err.msg);
			return 1;
		}
	}
	if (vhdx_flush(v, &err) < 0) {
		fprintf(stderr, "replay_io: %s\n", err.msg);
		return 1;
	}
	vhdx_close(v);
	free(buf);
	return 0;
}
