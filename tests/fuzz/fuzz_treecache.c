/*
 * fuzz_treecache.c - libFuzzer harness for the mount's saved walks
 * (fuse/treecache.c): any byte string as a saved walk.
 *
 * Per input: treecache_replay_buf() must fail with -VR_ECORRUPT and a
 * message naming the file, or visit entries that keep guestfs.h's
 * promises (an absolute path of components neither empty nor "." nor
 * "..", NUL-terminated; a valid kind; a target not empty when there is
 * one; nanoseconds below 10^9), and a saved copy of the entries visited
 * must replay to the same entries. If the input starts with the magic,
 * the same runs again on a copy whose CRC-32C trailer is made right
 * (libFuzzer cannot forge one). Any other input of 4 bytes or more is
 * made the body of a file (u32 LE entry count, then the records; header,
 * zstd frame and CRC made right), so every mutation reaches the records'
 * parser.
 */
#include <config.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "fuzz_check.h"
#include "treecache.h"
#include "vr_crc.h"
#include "vr_endian.h"
#include "vr_err.h"

struct fuzz_walk {
	struct treecache *copy; /* what was visited, saved again */
	unsigned n;
};

static void fuzz_check_path(const char *p)
{
	const char *c = p;

	FUZZ_CHECK(p[0] == '/');
	while (*c == '/') {
		const char *end = strchr(c + 1, '/');
		size_t len = end ? (size_t)(end - c - 1) : strlen(c + 1);

		FUZZ_CHECK(len > 0);
		FUZZ_CHECK(!(len == 1 && c[1] == '.'));
		FUZZ_CHECK(!(len == 2 && c[1] == '.' && c[2] == '.'));
		c += len + 1;
	}
	FUZZ_CHECK(*c == '\0');
}

static int fuzz_visit(void *ctx, const struct guestfs_entry *e)
{
	struct fuzz_walk *w = ctx;

	fuzz_check_path(e->path);
	FUZZ_CHECK(e->kind <= GUESTFS_OTHER);
	FUZZ_CHECK(!e->target || e->target[0]);
	FUZZ_CHECK(e->atime.tv_nsec >= 0 && e->atime.tv_nsec < 1000000000);
	FUZZ_CHECK(e->mtime.tv_nsec >= 0 && e->mtime.tv_nsec < 1000000000);
	FUZZ_CHECK(e->ctime.tv_nsec >= 0 && e->ctime.tv_nsec < 1000000000);
	FUZZ_CHECK(e->btime.tv_nsec >= 0 && e->btime.tv_nsec < 1000000000);
	if (w->copy)
		FUZZ_CHECK(treecache_add(w->copy, e) == 0);
	w->n++;
	return 0;
}

static int fuzz_count(void *ctx, const struct guestfs_entry *e)
{
	(void)e;
	((struct fuzz_walk *)ctx)->n++;
	return 0;
}

static void fuzz_run(const uint8_t *data, size_t size)
{
	struct fuzz_walk w = { 0 }, again = { 0 };
	struct vr_err err = { 0 };
	char path[] = "/tmp/fuzz-tc.XXXXXX";
	int rc, fd;

	FUZZ_CHECK(treecache_new(&w.copy) == 0);
	rc = treecache_replay_buf(data, size, "in.tree", fuzz_visit, &w, &err);
	if (rc < 0) {
		FUZZ_CHECK(rc == -VR_ECORRUPT || rc == -ENOMEM);
		FUZZ_CHECK(strstr(err.msg, "in.tree") != NULL);
		treecache_free(w.copy);
		return;
	}
	/* what came out goes back in and out the same */
	fd = mkstemp(path);
	FUZZ_CHECK(fd >= 0);
	close(fd);
	FUZZ_CHECK(treecache_save(w.copy, path, &err) == 0);
	FUZZ_CHECK(treecache_replay(path, fuzz_count, &again, &err) == 0);
	FUZZ_CHECK(again.n == w.n);
	unlink(path);
	treecache_free(w.copy);
}

/* @body (@len bytes, @count entries) in a file whose framing is right. */
static void fuzz_run_body(const uint8_t *body, size_t len, uint32_t count)
{
	size_t bound = ZSTD_compressBound(len), z;
	uint8_t *file = malloc(24 + bound + 4);

	if (!file)
		return;
	z = ZSTD_compress(file + 24, bound, body, len, 1);
	FUZZ_CHECK(!ZSTD_isError(z));
	memcpy(file, "VRTREE1\n", 8);
	vr_put_le32(file + 8, 1);
	vr_put_le32(file + 12, count);
	vr_put_le64(file + 16, len);
	vr_put_le32(file + 24 + z, vr_crc32c(0, file, 24 + z));
	fuzz_run(file, 24 + z + 4);
	free(file);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_run(data, size);
	if (size >= 4 && (size < 8 || memcmp(data, "VRTREE1\n", 8) != 0))
		fuzz_run_body(data + 4, size - 4, vr_get_le32(data));
	fuzz_run_crc_fixed(data, size, "VRTREE1\n", 28, fuzz_run);
	return 0;
}
