/*
 * manifest.c - encode, save, load and check manifests of bases and
 * recovery points (docs/repo-format.md, "Manifests").
 */
#include <config.h>
#include "manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "vr_crc.h"
#include "vr_endian.h"
#include "vr_err.h"
#include "vr_io.h"

#define MANIFEST_MAGIC "VRMANI01"
#define MANIFEST_VERSION 1u
#define MF_OFF_VERSION 8
#define MF_OFF_KIND 12
#define MF_OFF_SIZE 16
#define MF_OFF_CHUNK_SIZE 24
#define MF_OFF_TIME 32
#define MF_OFF_DISK_ID 40
#define MF_OFF_DWG 56
#define MF_OFF_NCHUNKS 72
#define MF_OFF_BODY_RAW 80
#define MF_OFF_BODY_STORED 88
#define MF_OFF_NAME 96
#define MF_OFF_BASE (MF_OFF_NAME + MANIFEST_NAME_MAX)
#define MF_OFF_DISK (MF_OFF_BASE + MANIFEST_NAME_MAX)
#define MF_OFF_FLAGS (MF_OFF_DISK + MANIFEST_NAME_MAX)
#define MF_OFF_CBT_GEN (MF_OFF_FLAGS + 8)
#define MF_OFF_BYTES_READ (MF_OFF_CBT_GEN + 8)
#define MF_OFF_BYTES_NEW (MF_OFF_BYTES_READ + 8)
#define MF_OFF_EXPIRES (MF_OFF_BYTES_NEW + 8)
#define MF_OFF_REPO_USED (MF_OFF_EXPIRES + 8)
#define MF_OFF_PLAIN_NEW (MF_OFF_REPO_USED + 8)
/* then reserved zeros up to the header's end */
#define MF_HEADER 576
_Static_assert(MF_OFF_PLAIN_NEW + 8 <= MF_HEADER, "manifest header layout");
/* 64 TiB in 4 KiB chunks */
#define MF_MAX_CHUNKS (1ull << 34)

bool manifest_name_ok(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n < MANIFEST_NAME_MAX && name[0] != '.' &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/*
 * The number of @chunk_size chunks of a disk of @size bytes into *@n;
 * -EINVAL if that shape is impossible, -EFBIG if it has too many chunks
 * (*@n set).
 */
static int manifest_count(uint64_t size, uint32_t chunk_size, uint64_t *n)
{
	if (!size || chunk_size < 4096 || (chunk_size & (chunk_size - 1)))
		return -EINVAL;
	*n = size / chunk_size + (size % chunk_size != 0);
	return *n <= MF_MAX_CHUNKS && *n <= SIZE_MAX / REPO_HASH_SIZE ? 0
								      : -EFBIG;
}

/* A zero manifest; without the per-chunk arrays if @header_only. */
static int manifest_alloc(enum manifest_kind kind, uint64_t size,
			  uint32_t chunk_size, bool header_only,
			  struct manifest **out, struct vr_err *err)
{
	struct manifest *m;
	uint64_t n = 0;
	int rc = manifest_count(size, chunk_size, &n);

	if (rc == -EINVAL)
		return vr_err_set(err, -EINVAL,
				  "manifest: bad size %" PRIu64
				  " or chunk size %" PRIu32,
				  size, chunk_size);
	if (rc < 0)
		return vr_err_set(err, -EINVAL,
				  "manifest: %" PRIu64 " chunks are too many",
				  n);
	m = calloc(1, sizeof(*m));
	if (m && !header_only) {
		m->types = calloc((size_t)n, 1);
		m->hashes = calloc((size_t)n, REPO_HASH_SIZE);
	}
	if (!m || (!header_only && (!m->types || !m->hashes))) {
		manifest_free(m);
		return vr_err_set(err, -ENOMEM, "manifest: out of memory");
	}
	m->kind = kind;
	m->size = size;
	m->chunk_size = chunk_size;
	m->nchunks = n;
	*out = m;
	return 0;
}

int manifest_new(enum manifest_kind kind, uint64_t size, uint32_t chunk_size,
		 struct manifest **out, struct vr_err *err)
{
	return manifest_alloc(kind, size, chunk_size, false, out, err);
}

void manifest_free(struct manifest *m)
{
	if (!m)
		return;
	free(m->types);
	free(m->hashes);
	free(m);
}

/* The body: every chunk's type, then the hashes of the HASH chunks. */
static uint8_t *manifest_body(const struct manifest *m, size_t *len)
{
	uint64_t i, nhash = 0;
	uint8_t *b, *h;

	for (i = 0; i < m->nchunks; i++)
		nhash += m->types[i] == MANIFEST_HASH;
	*len = (size_t)(m->nchunks + nhash * REPO_HASH_SIZE);
	b = malloc(*len ? *len : 1);
	if (!b)
		return NULL;
	memcpy(b, m->types, (size_t)m->nchunks);
	h = b + m->nchunks;
	for (i = 0; i < m->nchunks; i++)
		if (m->types[i] == MANIFEST_HASH) {
			memcpy(h, m->hashes[i], REPO_HASH_SIZE);
			h += REPO_HASH_SIZE;
		}
	return b;
}

struct manifest_job {
	const uint8_t *buf;
	size_t len;
};

static int manifest_write(int fd, const char *tmp, void *ctx,
			  struct vr_err *err)
{
	const struct manifest_job *j = ctx;
	ssize_t w = vr_pwrite_full(fd, j->buf, j->len, 0);

	return w < 0 ? vr_err_set(err, (int)w, "%s: %s", tmp, strerror((int)-w))
		     : 0;
}

uint64_t manifest_size_bound(const struct manifest *m)
{
	uint64_t raw = m->nchunks, i;

	for (i = 0; i < m->nchunks; i++)
		raw += m->types[i] == MANIFEST_HASH ? REPO_HASH_SIZE : 0;
	/* zstd's bound: what an incompressible body can grow to, framed */
	return MF_HEADER + raw + raw / 255 + 1024 + 4;
}

int manifest_save(const struct manifest *m, const char *path,
		  struct vr_err *err)
{
	size_t raw_len, bound, z, len;
	uint8_t *body = manifest_body(m, &raw_len), *buf;
	struct manifest_job j;
	int rc;

	if (!body)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", path);
	bound = ZSTD_compressBound(raw_len);
	buf = calloc(1, MF_HEADER + bound + 4);
	if (!buf) {
		free(body);
		return vr_err_set(err, -ENOMEM, "%s: out of memory", path);
	}
	z = ZSTD_compress(buf + MF_HEADER, bound, body, raw_len, 3);
	free(body);
	if (ZSTD_isError(z)) {
		free(buf);
		return vr_err_set(err, -EIO, "%s: zstd: %s", path,
				  ZSTD_getErrorName(z));
	}
	memcpy(buf, MANIFEST_MAGIC, 8);
	vr_put_le32(buf + MF_OFF_VERSION, MANIFEST_VERSION);
	vr_put_le32(buf + MF_OFF_KIND, (uint32_t)m->kind);
	vr_put_le64(buf + MF_OFF_SIZE, m->size);
	vr_put_le32(buf + MF_OFF_CHUNK_SIZE, m->chunk_size);
	vr_put_le64(buf + MF_OFF_TIME, m->time);
	memcpy(buf + MF_OFF_DISK_ID, m->disk_id, 16);
	memcpy(buf + MF_OFF_DWG, m->data_write_guid, 16);
	vr_put_le64(buf + MF_OFF_NCHUNKS, m->nchunks);
	vr_put_le64(buf + MF_OFF_BODY_RAW, raw_len);
	vr_put_le64(buf + MF_OFF_BODY_STORED, z);
	/* names are NUL-terminated within their fields */
	memcpy(buf + MF_OFF_NAME, m->name, strnlen(m->name, 127));
	memcpy(buf + MF_OFF_BASE, m->base, strnlen(m->base, 127));
	memcpy(buf + MF_OFF_DISK, m->disk, strnlen(m->disk, 127));
	vr_put_le32(buf + MF_OFF_FLAGS, m->flags);
	vr_put_le64(buf + MF_OFF_CBT_GEN, m->cbt_generation);
	vr_put_le64(buf + MF_OFF_BYTES_READ, m->bytes_read);
	vr_put_le64(buf + MF_OFF_BYTES_NEW, m->bytes_new);
	vr_put_le64(buf + MF_OFF_EXPIRES, m->expires);
	vr_put_le64(buf + MF_OFF_REPO_USED, m->repo_used);
	vr_put_le64(buf + MF_OFF_PLAIN_NEW, m->plain_new);
	len = MF_HEADER + z;
	vr_put_le32(buf + len, vr_crc32c(0, buf, len));
	j.buf = buf;
	j.len = len + 4;
	rc = vr_file_replace(path, 0644, VR_REPLACE_NOCLOBBER, manifest_write,
			     &j, err);
	free(buf);
	return rc;
}

/*
 * Decode the checked bytes @buf (@len) into a new manifest, leaving out
 * the chunk list if @header_only.
 */
static int manifest_decode(const char *path, const uint8_t *buf, size_t len,
			   bool header_only, struct manifest **out,
			   struct vr_err *err)
{
	uint64_t size = vr_get_le64(buf + MF_OFF_SIZE);
	uint64_t nchunks = vr_get_le64(buf + MF_OFF_NCHUNKS);
	uint64_t raw = vr_get_le64(buf + MF_OFF_BODY_RAW);
	uint64_t stored = vr_get_le64(buf + MF_OFF_BODY_STORED);
	uint32_t kind = vr_get_le32(buf + MF_OFF_KIND);
	struct manifest *m = NULL;
	uint8_t *body = NULL;
	const uint8_t *h;
	uint64_t i, n, nhash = 0;
	size_t got;
	int rc;

	if (vr_get_le32(buf + MF_OFF_VERSION) > MANIFEST_VERSION)
		return vr_err_set(err, -ENOTSUP,
				  "%s: manifest version %" PRIu32
				  " is newer than this vhdrecover",
				  path, vr_get_le32(buf + MF_OFF_VERSION));
	/*
	 * Everything the header says must agree before anything is sized by
	 * it: the chunk count follows from size and chunk size, and the
	 * body's frame must declare the length the header does.
	 */
	if (manifest_count(size, vr_get_le32(buf + MF_OFF_CHUNK_SIZE), &n) <
		    0 ||
	    n != nchunks || stored != len - MF_HEADER - 4 ||
	    ZSTD_getFrameContentSize(buf + MF_HEADER, (size_t)stored) != raw)
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: manifest header damaged", path);
	rc = manifest_alloc(
		kind == MANIFEST_POINT ? MANIFEST_POINT : MANIFEST_BASE, size,
		vr_get_le32(buf + MF_OFF_CHUNK_SIZE), header_only, &m, NULL);
	if (rc < 0 || (kind != MANIFEST_BASE && kind != MANIFEST_POINT) ||
	    m->nchunks != nchunks || raw < nchunks ||
	    raw > nchunks * (1 + REPO_HASH_SIZE) || buf[MF_OFF_NAME + 127] ||
	    buf[MF_OFF_BASE + 127] || buf[MF_OFF_DISK + 127]) {
		rc = vr_err_set(err, rc == -ENOMEM ? -ENOMEM : -VR_ECORRUPT,
				"%s: manifest header damaged", path);
		goto fail;
	}
	m->time = vr_get_le64(buf + MF_OFF_TIME);
	memcpy(m->disk_id, buf + MF_OFF_DISK_ID, 16);
	memcpy(m->data_write_guid, buf + MF_OFF_DWG, 16);
	memcpy(m->name, buf + MF_OFF_NAME, MANIFEST_NAME_MAX);
	memcpy(m->base, buf + MF_OFF_BASE, MANIFEST_NAME_MAX);
	memcpy(m->disk, buf + MF_OFF_DISK, MANIFEST_NAME_MAX);
	m->flags = vr_get_le32(buf + MF_OFF_FLAGS);
	m->cbt_generation = vr_get_le64(buf + MF_OFF_CBT_GEN);
	m->bytes_read = vr_get_le64(buf + MF_OFF_BYTES_READ);
	m->bytes_new = vr_get_le64(buf + MF_OFF_BYTES_NEW);
	m->expires = vr_get_le64(buf + MF_OFF_EXPIRES);
	m->repo_used = vr_get_le64(buf + MF_OFF_REPO_USED);
	m->plain_new = vr_get_le64(buf + MF_OFF_PLAIN_NEW);
	if (header_only) {
		*out = m;
		return 0;
	}
	body = malloc((size_t)raw ? (size_t)raw : 1);
	if (!body) {
		rc = vr_err_set(err, -ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	got = ZSTD_decompress(body, (size_t)raw, buf + MF_HEADER,
			      (size_t)stored);
	if (ZSTD_isError(got) || got != raw) {
		rc = vr_err_set(err, -VR_ECORRUPT,
				"%s: manifest body does not decompress", path);
		goto fail;
	}
	for (i = 0; i < nchunks; i++) {
		if (body[i] > MANIFEST_BASE_CHUNK ||
		    (body[i] == MANIFEST_BASE_CHUNK &&
		     kind != MANIFEST_POINT)) {
			rc = vr_err_set(err, -VR_ECORRUPT,
					"%s: chunk %" PRIu64 ": bad type %u",
					path, i, body[i]);
			goto fail;
		}
		nhash += body[i] == MANIFEST_HASH;
	}
	if (raw != nchunks + nhash * REPO_HASH_SIZE) {
		rc = vr_err_set(err, -VR_ECORRUPT,
				"%s: manifest body length does not match its "
				"chunks",
				path);
		goto fail;
	}
	memcpy(m->types, body, (size_t)nchunks);
	for (i = 0, h = body + nchunks; i < nchunks; i++)
		if (body[i] == MANIFEST_HASH) {
			memcpy(m->hashes[i], h, REPO_HASH_SIZE);
			h += REPO_HASH_SIZE;
		}
	free(body);
	*out = m;
	return 0;
fail:
	free(body);
	manifest_free(m);
	return rc;
}

static int manifest_read(const char *path, bool header_only,
			 struct manifest **out, struct vr_err *err)
{
	struct stat st;
	uint8_t *buf;
	ssize_t n;
	int rc, fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return vr_err_set(err, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || st.st_size < MF_HEADER + 4 ||
	    st.st_size > (1ll << 40)) {
		close(fd);
		return vr_err_set(err, -VR_ECORRUPT,
				  "%s: manifest truncated or too large", path);
	}
	buf = malloc((size_t)st.st_size);
	if (!buf) {
		close(fd);
		return vr_err_set(err, -ENOMEM, "%s: out of memory", path);
	}
	n = vr_pread_full(fd, buf, (size_t)st.st_size, 0);
	close(fd);
	if (n != st.st_size || memcmp(buf, MANIFEST_MAGIC, 8) != 0 ||
	    vr_crc32c(0, buf, (size_t)n - 4) !=
		    vr_get_le32(buf + (size_t)n - 4))
		rc = vr_err_set(err, -VR_ECORRUPT,
				"%s: manifest damaged (magic, length or "
				"checksum)",
				path);
	else
		rc = manifest_decode(path, buf, (size_t)n, header_only, out,
				     err);
	free(buf);
	return rc;
}

int manifest_load(const char *path, struct manifest **out, struct vr_err *err)
{
	return manifest_read(path, false, out, err);
}

int manifest_load_header(const char *path, struct manifest **out,
			 struct vr_err *err)
{
	return manifest_read(path, true, out, err);
}
