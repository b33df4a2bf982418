/*
 * treecache.c - saved walks of guest file systems (treecache.h).
 *
 * A record per entry, 96 bytes then the path and the target:
 *	0  u8 kind		1  u8 flags (1 bad name, 2 has a target)
 *	2  u16 path length	4  u16 target length	6  u16 zero
 *	8  u32 mode, uid, gid, nlink, attributes, zero
 *	32 u64 ino		40 u64 size
 *	48 atime, mtime, ctime, btime: i64 seconds, u32 nanoseconds each
 */
#include <config.h>
#include "treecache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "vr_crc.h"
#include "vr_endian.h"
#include "vr_err.h"
#include "vr_io.h"

#define TC_MAGIC "VRTREE1\n"
#define TC_VERSION 1u
#define TC_HEADER 24
#define TC_RECORD 96
#define TC_NAME_MAX 4096u /* a path or a target, as the walkers bound them */
#define TC_FILE_MAX (1ull << 32) /* beyond: not a file we wrote */
#define TC_INFLATE_MAX 256u
#define TC_BAD_NAME 0x1u
#define TC_TARGET 0x2u

struct treecache {
	uint8_t *body;
	size_t len, cap;
	uint32_t count;
};

int treecache_new(struct treecache **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void treecache_free(struct treecache *tc)
{
	if (!tc)
		return;
	free(tc->body);
	free(tc);
}

static void tc_put_time(uint8_t *p, const struct timespec *t)
{
	vr_put_le64(p, (uint64_t)t->tv_sec);
	vr_put_le32(p + 8, (uint32_t)t->tv_nsec);
}

int treecache_add(struct treecache *tc, const struct guestfs_entry *e)
{
	size_t plen = strlen(e->path), tlen = e->target ? strlen(e->target) : 0;
	size_t need = TC_RECORD + plen + tlen;
	uint8_t *p;

	if (plen > TC_NAME_MAX || tlen > TC_NAME_MAX || tc->count == UINT32_MAX)
		return -ENAMETOOLONG;
	if (tc->len + need > tc->cap) {
		size_t cap = tc->cap ? 2 * tc->cap : 1 << 16;

		while (cap < tc->len + need)
			cap *= 2;
		p = realloc(tc->body, cap);
		if (!p)
			return -ENOMEM;
		tc->body = p;
		tc->cap = cap;
	}
	p = tc->body + tc->len;
	memset(p, 0, TC_RECORD);
	p[0] = (uint8_t)e->kind;
	p[1] = (uint8_t)((e->bad_name ? TC_BAD_NAME : 0) |
			 (e->target ? TC_TARGET : 0));
	vr_put_le16(p + 2, (uint16_t)plen);
	vr_put_le16(p + 4, (uint16_t)tlen);
	vr_put_le32(p + 8, e->mode);
	vr_put_le32(p + 12, e->uid);
	vr_put_le32(p + 16, e->gid);
	vr_put_le32(p + 20, e->nlink);
	vr_put_le32(p + 24, e->attributes);
	vr_put_le64(p + 32, e->ino);
	vr_put_le64(p + 40, e->size);
	tc_put_time(p + 48, &e->atime);
	tc_put_time(p + 60, &e->mtime);
	tc_put_time(p + 72, &e->ctime);
	tc_put_time(p + 84, &e->btime);
	memcpy(p + TC_RECORD, e->path, plen);
	if (tlen)
		memcpy(p + TC_RECORD + plen, e->target, tlen);
	tc->len += need;
	tc->count++;
	return 0;
}

/* The file's bytes, for vr_file_replace(). */
struct tc_file {
	const uint8_t *buf;
	size_t len;
};

static int tc_write(int fd, const char *tmp, void *ctx, struct vr_err *err)
{
	const struct tc_file *f = ctx;
	ssize_t w = vr_pwrite_full(fd, f->buf, f->len, 0);

	return w < 0 ? vr_err_set(err, (int)w, "%s: %s", tmp, strerror((int)-w))
		     : 0;
}

int treecache_save(const struct treecache *tc, const char *path,
		   struct vr_err *err)
{
	size_t bound = ZSTD_compressBound(tc->len), z;
	uint8_t *buf = malloc(TC_HEADER + bound + 4);
	struct tc_file f;
	int rc;

	if (!buf)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", path);
	/* level 1: paths share long prefixes; this is fast and small */
	z = ZSTD_compress(buf + TC_HEADER, bound, tc->body, tc->len, 1);
	if (ZSTD_isError(z)) {
		free(buf);
		return vr_err_set(err, -EIO, "%s: zstd: %s", path,
				  ZSTD_getErrorName(z));
	}
	if (tc->len > (TC_HEADER + z + 4) * (uint64_t)TC_INFLATE_MAX) {
		free(buf); /* replay would take it for damage */
		return vr_err_set(err, -EFBIG, "%s: walk compresses too well",
				  path);
	}
	memcpy(buf, TC_MAGIC, 8);
	vr_put_le32(buf + 8, TC_VERSION);
	vr_put_le32(buf + 12, tc->count);
	vr_put_le64(buf + 16, tc->len);
	vr_put_le32(buf + TC_HEADER + z, vr_crc32c(0, buf, TC_HEADER + z));
	f = (struct tc_file){ .buf = buf, .len = TC_HEADER + z + 4 };
	rc = vr_file_replace(path, 0600, 0, tc_write, &f, err);
	free(buf);
	return rc;
}

static void tc_get_time(const uint8_t *p, struct timespec *t)
{
	t->tv_sec = (time_t)vr_get_le64(p);
	t->tv_nsec = (long)vr_get_le32(p + 8);
}

/* Is @path ("/a/b", @len bytes) a path the walkers give? */
static bool tc_path_ok(const char *path, size_t len)
{
	size_t i, start;

	if (len == 0 || path[0] != '/' || memchr(path, '\0', len))
		return false;
	for (start = 1, i = 1; i <= len; i++) {
		if (i < len && path[i] != '/')
			continue;
		/* component path[start..i): not empty, ".", ".." */
		if (i == start || (i - start == 1 && path[start] == '.') ||
		    (i - start == 2 && path[start] == '.' &&
		     path[start + 1] == '.'))
			return false;
		start = i + 1;
	}
	return true;
}

/* Decode the record at @p (@left bytes there) into @e; its length. */
static size_t tc_record(const uint8_t *p, size_t left, char *path, char *target,
			struct guestfs_entry *e)
{
	size_t plen, tlen;
	unsigned flags;

	if (left < TC_RECORD)
		return 0;
	flags = p[1];
	plen = vr_get_le16(p + 2);
	tlen = vr_get_le16(p + 4);
	if (p[0] > GUESTFS_OTHER || (flags & ~(TC_BAD_NAME | TC_TARGET)) ||
	    plen > TC_NAME_MAX || tlen > TC_NAME_MAX ||
	    !(flags & TC_TARGET) != !tlen || left - TC_RECORD < plen + tlen)
		return 0;
	memset(e, 0, sizeof(*e));
	e->kind = (enum guestfs_kind)p[0];
	e->bad_name = flags & TC_BAD_NAME;
	e->mode = vr_get_le32(p + 8);
	e->uid = vr_get_le32(p + 12);
	e->gid = vr_get_le32(p + 16);
	e->nlink = vr_get_le32(p + 20);
	e->attributes = vr_get_le32(p + 24);
	e->ino = vr_get_le64(p + 32);
	e->size = vr_get_le64(p + 40);
	tc_get_time(p + 48, &e->atime);
	tc_get_time(p + 60, &e->mtime);
	tc_get_time(p + 72, &e->ctime);
	tc_get_time(p + 84, &e->btime);
	if (e->atime.tv_nsec >= 1000000000 || e->mtime.tv_nsec >= 1000000000 ||
	    e->ctime.tv_nsec >= 1000000000 || e->btime.tv_nsec >= 1000000000)
		return 0;
	memcpy(path, p + TC_RECORD, plen);
	path[plen] = '\0';
	if (!tc_path_ok(path, plen))
		return 0;
	if (tlen) {
		memcpy(target, p + TC_RECORD + plen, tlen);
		target[tlen] = '\0';
		if (memchr(target, '\0', tlen))
			return 0;
		e->target = target;
	}
	e->path = path;
	return TC_RECORD + plen + tlen;
}

int treecache_replay_buf(const uint8_t *buf, size_t len, const char *name,
			 int (*visit)(void *ctx, const struct guestfs_entry *e),
			 void *ctx, struct vr_err *err)
{
	static __thread char path[TC_NAME_MAX + 1], target[TC_NAME_MAX + 1];
	unsigned long long frame;
	uint64_t body_len;
	uint32_t count, i;
	uint8_t *body;
	size_t off = 0, n;
	int rc = 0;

	if (len < TC_HEADER + 4 || memcmp(buf, TC_MAGIC, 8) != 0 ||
	    vr_get_le32(buf + 8) != TC_VERSION ||
	    vr_crc32c(0, buf, len - 4) != vr_get_le32(buf + len - 4))
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: not a saved walk of this version, or "
				  "damaged",
				  name);
	count = vr_get_le32(buf + 12);
	body_len = vr_get_le64(buf + 16);
	frame = ZSTD_getFrameContentSize(buf + TC_HEADER, len - TC_HEADER - 4);
	/* every record takes TC_RECORD bytes at least; walks compress some
	 * 20 times: a body said to inflate far more is none we wrote */
	if (frame != body_len || body_len > TC_FILE_MAX ||
	    body_len > (uint64_t)len * TC_INFLATE_MAX ||
	    body_len < (uint64_t)count * TC_RECORD)
		return vr_err_set(err, -VR_ECORRUPT, "%s: body length wrong",
				  name);
	body = malloc(body_len ? (size_t)body_len : 1);
	if (!body)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", name);
	n = ZSTD_decompress(body, (size_t)body_len, buf + TC_HEADER,
			    len - TC_HEADER - 4);
	if (ZSTD_isError(n) || n != body_len)
		rc = vr_err_set(err, -VR_ECORRUPT,
				"%s: body does not decompress", name);
	for (i = 0; rc == 0 && i < count; i++) {
		struct guestfs_entry e;
		size_t used = tc_record(body + off, (size_t)body_len - off,
					path, target, &e);

		if (!used) {
			rc = vr_err_set(err, -VR_ECORRUPT,
					"%s: entry %u is damaged", name, i);
			break;
		}
		off += used;
		rc = visit(ctx, &e);
		rc = rc < 0 ? rc : 0;
	}
	if (rc == 0 && off != body_len)
		rc = vr_err_set(err, -VR_ECORRUPT,
				"%s: bytes after the last entry", name);
	free(body);
	return rc;
}

int treecache_replay(const char *path,
		     int (*visit)(void *ctx, const struct guestfs_entry *e),
		     void *ctx, struct vr_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *buf = NULL;
	ssize_t n;
	int rc;

	if (fd < 0)
		return vr_err_set(err, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size > TC_FILE_MAX) {
		close(fd);
		return vr_err_set(err, -VR_ECORRUPT, "%s: not a saved walk",
				  path);
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	n = buf ? vr_pread_full(fd, buf, (size_t)st.st_size, 0) : -ENOMEM;
	if (n >= 0 && n != st.st_size)
		n = -VR_ECORRUPT; /* shrank while read */
	rc = n < 0 ? vr_err_set(err, (int)n, "%s: %s", path,
				n == -VR_ECORRUPT ? "truncated"
						  : strerror((int)-n))
		   : treecache_replay_buf(buf, (size_t)n, path, visit, ctx,
					  err);
	/* used now: the last to go when the directory is trimmed */
	if (rc == 0)
		futimens(fd, NULL);
	close(fd);
	free(buf);
	return rc;
}

/* A saved walk and its use, for trimming. */
struct tc_used {
	char name[NAME_MAX + 1];
	struct timespec mtime;
	uint64_t bytes;
};

static int tc_older(const void *a, const void *b)
{
	const struct tc_used *x = a, *y = b;

	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	return x->mtime.tv_nsec < y->mtime.tv_nsec   ? -1
	       : x->mtime.tv_nsec > y->mtime.tv_nsec ? 1
						     : 0;
}

void treecache_trim(const char *dir, uint64_t bytes)
{
	struct tc_used *files = NULL, *more;
	size_t n = 0, cap = 0, i;
	uint64_t total = 0;
	struct dirent *d;
	struct stat st;
	DIR *dh = opendir(dir);

	if (!dh)
		return;
	while ((d = readdir(dh))) {
		size_t len = strlen(d->d_name);

		if (len < 6 || strcmp(d->d_name + len - 5, ".tree") ||
		    fstatat(dirfd(dh), d->d_name, &st, AT_SYMLINK_NOFOLLOW) <
			    0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			more = reallocarray(files, cap, sizeof(*files));
			if (!more)
				break;
			files = more;
		}
		snprintf(files[n].name, sizeof(files[n].name), "%s", d->d_name);
		files[n].mtime = st.st_mtim;
		files[n].bytes = (uint64_t)st.st_size;
		total += files[n++].bytes;
	}
	if (n)
		qsort(files, n, sizeof(*files), tc_older);
	for (i = 0; i < n && total > bytes; i++)
		if (unlinkat(dirfd(dh), files[i].name, 0) == 0)
			total -= files[i].bytes;
	closedir(dh);
	free(files);
}
