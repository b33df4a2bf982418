/*
 * cbt.c - the change bitmap and its sidecar file (docs/cbt-format.md).
 *
 * Trust is decided once, at load, from the sidecar and the disk as it is
 * now, and then only ever lowered (cbt_distrust()) until a cycle resets
 * it. The decision is stored in the sidecar, so an untrusted bitmap stays
 * untrusted across clean closes until a full resync resets it.
 */
#include <config.h>
#include "cbt.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vr_crc.h"
#include "vr_endian.h"
#include "vr_err.h"
#include "vr_io.h"

/* Sidecar layout, all little-endian (docs/cbt-format.md) */
#define CBT_MAGIC "vrcbt001"
#define CBT_OFF_MAGIC 0	       /* 8 bytes */
#define CBT_OFF_VERSION 8      /* u32, 1 */
#define CBT_OFF_FLAGS 12       /* u32, bit 0 clean */
#define CBT_OFF_TRUST 16       /* u32, enum cbt_trust */
#define CBT_OFF_GRANULARITY 20 /* u32, power of 2 */
#define CBT_OFF_GENERATION 24  /* u64 */
#define CBT_OFF_SIZE 32	       /* u64, virtual size */
#define CBT_OFF_DISK_ID 40     /* 16 bytes */
#define CBT_OFF_DWG 56	       /* 16 bytes */
#define CBT_OFF_BITMAP_LEN 72  /* u64 */
#define CBT_OFF_CRC 80	       /* u32, CRC-32C of the file, this field 0 */
#define CBT_HEADER_SIZE 88
#define CBT_VERSION 1u
#define CBT_FLAG_CLEAN 0x1u
_Static_assert(CBT_OFF_CRC + 8 == CBT_HEADER_SIZE, "cbt header layout");

struct cbt {
	char *path; /* the sidecar */
	uint64_t size;
	uint32_t granularity;
	uint64_t generation;
	enum cbt_trust trust;
	uint64_t nbits;
	uint8_t *bits;
};

static const char *const cbt_reasons[] = {
	[CBT_TRUSTED] = "trusted",
	[CBT_NO_BASELINE] = "no baseline yet (no cycle has reset it)",
	[CBT_UNCLEAN] = "its writer did not close cleanly",
	[CBT_OTHER_DISK] = "it belongs to another disk",
	[CBT_WRITTEN_ELSEWHERE] = "the disk was written without tracking",
	[CBT_STALE_GENERATION] = "not the generation expected",
	[CBT_DAMAGED] = "the sidecar file is damaged",
};

const char *cbt_trust_reason(enum cbt_trust t)
{
	return (unsigned)t < sizeof(cbt_reasons) / sizeof(cbt_reasons[0])
		       ? cbt_reasons[t]
		       : "unknown";
}

char *cbt_sidecar_path(const char *disk_path)
{
	char *p;

	return asprintf(&p, "%s.cbt", disk_path) < 0 ? NULL : p;
}

static bool cbt_granularity_ok(uint32_t g)
{
	return g >= CBT_MIN_GRANULARITY && g <= CBT_MAX_GRANULARITY &&
	       !(g & (g - 1));
}

/* (Re)size the bitmap for @size bytes at @granularity, all clear. */
static int cbt_shape(struct cbt *c, uint64_t size, uint32_t granularity,
		     struct vr_err *err)
{
	uint64_t nbits = size / granularity + (size % granularity != 0);
	uint8_t *bits = calloc(1, (size_t)(nbits / 8 + 1));

	if (!bits)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", c->path);
	free(c->bits);
	c->bits = bits;
	c->nbits = nbits;
	c->size = size;
	c->granularity = granularity;
	return 0;
}

/*
 * Decode the sidecar bytes @buf (@len) into @c if they are a good sidecar
 * of a disk of @id->size; returns the trust they carry, or CBT_DAMAGED.
 */
static enum cbt_trust cbt_decode(struct cbt *c, const uint8_t *buf, size_t len,
				 const struct cbt_identity *id)
{
	uint8_t copy[CBT_HEADER_SIZE];
	uint32_t crc, g, trust;
	uint64_t size, nbytes;
	bool clean;

	if (len < CBT_HEADER_SIZE || memcmp(buf, CBT_MAGIC, 8) != 0 ||
	    vr_get_le32(buf + CBT_OFF_VERSION) != CBT_VERSION)
		return CBT_DAMAGED;
	/* the CRC counts its own field as zero */
	memcpy(copy, buf, CBT_HEADER_SIZE);
	vr_put_le32(copy + CBT_OFF_CRC, 0);
	crc = vr_crc32c(vr_crc32c(0, copy, CBT_HEADER_SIZE),
			buf + CBT_HEADER_SIZE, len - CBT_HEADER_SIZE);
	g = vr_get_le32(buf + CBT_OFF_GRANULARITY);
	size = vr_get_le64(buf + CBT_OFF_SIZE);
	nbytes = vr_get_le64(buf + CBT_OFF_BITMAP_LEN);
	trust = vr_get_le32(buf + CBT_OFF_TRUST);
	if (crc != vr_get_le32(buf + CBT_OFF_CRC) || !cbt_granularity_ok(g) ||
	    nbytes != len - CBT_HEADER_SIZE ||
	    nbytes != (size / g + (size % g != 0)) / 8 + 1 ||
	    trust > CBT_DAMAGED)
		return CBT_DAMAGED;
	if (size != id->size ||
	    memcmp(buf + CBT_OFF_DISK_ID, id->disk_id, 16) != 0)
		return CBT_OTHER_DISK;
	if (cbt_shape(c, size, g, NULL) < 0)
		return CBT_DAMAGED;
	memcpy(c->bits, buf + CBT_HEADER_SIZE, (size_t)nbytes);
	c->generation = vr_get_le64(buf + CBT_OFF_GENERATION);
	clean = vr_get_le32(buf + CBT_OFF_FLAGS) & CBT_FLAG_CLEAN;
	/* a writer that died had changed the DataWriteGuid itself */
	if (trust != CBT_TRUSTED)
		return (enum cbt_trust)trust;
	if (!clean)
		return CBT_UNCLEAN;
	if (memcmp(buf + CBT_OFF_DWG, id->data_write_guid, 16) != 0)
		return CBT_WRITTEN_ELSEWHERE;
	return CBT_TRUSTED;
}

/* The whole sidecar file into memory; -ENOENT if there is none. */
static int cbt_read_file(const char *path, uint8_t **out, size_t *len,
			 struct vr_err *err)
{
	struct stat st;
	uint8_t *buf;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT)
		return -ENOENT;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int rc = vr_err_set(err, -errno, "%s: %s", path,
				    strerror(errno));

		if (fd >= 0)
			close(fd);
		return rc;
	}
	/* a sidecar of the largest disk at the finest granularity */
	if (st.st_size > CBT_HEADER_SIZE + (64ll << 40) / 4096 / 8 + 1) {
		close(fd);
		*out = NULL;
		*len = 0;
		return 0; /* too big to be ours: judged damaged */
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return vr_err_set(err, -ENOMEM, "%s: out of memory", path);
	}
	n = vr_pread_full(fd, buf, (size_t)st.st_size, 0);
	close(fd);
	if (n < 0) {
		free(buf);
		return vr_err_set(err, (int)n, "%s: %s", path,
				  strerror((int)-n));
	}
	*out = buf;
	*len = (size_t)n;
	return 0;
}

int cbt_load(const char *disk_path, const struct cbt_identity *id,
	     uint32_t granularity, struct cbt **out, struct vr_err *err)
{
	struct cbt *c;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	if (!granularity)
		granularity = CBT_DEFAULT_GRANULARITY;
	if (!cbt_granularity_ok(granularity))
		return vr_err_set(err, -EINVAL,
				  "%s: change tracking granularity %" PRIu32
				  " is not a power of two from 4K to 64M",
				  disk_path, granularity);
	c = calloc(1, sizeof(*c));
	if (!c || !(c->path = cbt_sidecar_path(disk_path))) {
		free(c);
		return vr_err_set(err, -ENOMEM, "%s: out of memory", disk_path);
	}
	rc = cbt_read_file(c->path, &buf, &len, err);
	if (rc == -ENOENT) {
		c->trust = CBT_NO_BASELINE;
		rc = 0;
	} else if (rc == 0) {
		c->trust = cbt_decode(c, buf, len, id);
	}
	free(buf);
	if (rc == 0 && c->trust != CBT_TRUSTED && !c->bits)
		rc = cbt_shape(c, id->size, granularity, err);
	if (rc < 0) {
		cbt_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void cbt_free(struct cbt *c)
{
	if (!c)
		return;
	free(c->bits);
	free(c->path);
	free(c);
}

enum cbt_trust cbt_trust(const struct cbt *c)
{
	return c->trust;
}

void cbt_distrust(struct cbt *c, enum cbt_trust why)
{
	if (c->trust == CBT_TRUSTED)
		c->trust = why;
}

uint64_t cbt_generation(const struct cbt *c)
{
	return c->generation;
}

uint32_t cbt_granularity(const struct cbt *c)
{
	return c->granularity;
}

void cbt_mark(struct cbt *c, uint64_t off, uint64_t len)
{
	uint64_t b, last;

	if (len == 0 || off >= c->size)
		return;
	if (len > c->size - off)
		len = c->size - off;
	last = (off + len - 1) / c->granularity;
	for (b = off / c->granularity; b <= last; b++) {
		/* whole bytes where the run allows */
		if (b % 8 == 0 && last - b >= 7) {
			c->bits[b / 8] = 0xff;
			b += 7;
			continue;
		}
		c->bits[b / 8] |= (uint8_t)(1u << (b % 8));
	}
}

static bool cbt_bit(const struct cbt *c, uint64_t b)
{
	return c->bits[b / 8] >> (b % 8) & 1;
}

bool cbt_next_extent(const struct cbt *c, uint64_t off, uint64_t *start,
		     uint64_t *len)
{
	uint64_t b, e;

	if (off >= c->size)
		return false;
	if (c->trust != CBT_TRUSTED) {
		*start = off;
		*len = c->size - off;
		return true;
	}
	for (b = off / c->granularity; b < c->nbits && !cbt_bit(c, b); b++)
		if (b % 8 == 0 && c->bits[b / 8] == 0)
			b += 7;
	if (b >= c->nbits)
		return false;
	for (e = b; e < c->nbits && cbt_bit(c, e); e++)
		;
	*start = b * c->granularity;
	if (*start < off)
		*start = off;
	*len = (e * c->granularity < c->size ? e * c->granularity : c->size) -
	       *start;
	return true;
}

int cbt_copy(const struct cbt *c, struct cbt **out, struct vr_err *err)
{
	struct cbt *n = calloc(1, sizeof(*n));
	size_t bytes = (size_t)(c->nbits / 8 + 1);

	if (n) {
		*n = *c;
		n->path = strdup(c->path);
		n->bits = malloc(bytes);
	}
	if (!n || !n->path || !n->bits) {
		cbt_free(n);
		return vr_err_set(err, -ENOMEM, "%s: out of memory", c->path);
	}
	memcpy(n->bits, c->bits, bytes);
	*out = n;
	return 0;
}

void cbt_undo_reset(struct cbt *c, const struct cbt *before)
{
	uint64_t i;

	if (before->nbits != c->nbits ||
	    before->granularity != c->granularity) {
		cbt_distrust(c, CBT_DAMAGED); /* cannot happen: be safe */
		return;
	}
	for (i = 0; i < c->nbits / 8 + 1; i++)
		c->bits[i] |= before->bits[i];
	c->generation = before->generation;
	c->trust = before->trust;
}

int cbt_reset(struct cbt *c, uint32_t granularity, struct vr_err *err)
{
	int rc;

	if (granularity && !cbt_granularity_ok(granularity))
		return vr_err_set(err, -EINVAL,
				  "%s: change tracking granularity %" PRIu32
				  " is not a power of two from 4K to 64M",
				  c->path, granularity);
	rc = cbt_shape(c, c->size, granularity ? granularity : c->granularity,
		       err);
	if (rc < 0)
		return rc;
	c->generation++;
	c->trust = CBT_TRUSTED;
	return 0;
}

struct cbt_save_job {
	struct cbt *c;
	const struct cbt_identity *id;
	bool clean;
};

static int cbt_write(int fd, const char *tmp, void *ctx, struct vr_err *err)
{
	const struct cbt_save_job *j = ctx;
	const struct cbt *c = j->c;
	size_t nbytes = (size_t)(c->nbits / 8 + 1);
	uint8_t hdr[CBT_HEADER_SIZE] = { 0 };
	ssize_t n;

	memcpy(hdr + CBT_OFF_MAGIC, CBT_MAGIC, 8);
	vr_put_le32(hdr + CBT_OFF_VERSION, CBT_VERSION);
	vr_put_le32(hdr + CBT_OFF_FLAGS, j->clean ? CBT_FLAG_CLEAN : 0);
	vr_put_le32(hdr + CBT_OFF_TRUST, (uint32_t)c->trust);
	vr_put_le32(hdr + CBT_OFF_GRANULARITY, c->granularity);
	vr_put_le64(hdr + CBT_OFF_GENERATION, c->generation);
	vr_put_le64(hdr + CBT_OFF_SIZE, c->size);
	memcpy(hdr + CBT_OFF_DISK_ID, j->id->disk_id, 16);
	memcpy(hdr + CBT_OFF_DWG, j->id->data_write_guid, 16);
	vr_put_le64(hdr + CBT_OFF_BITMAP_LEN, nbytes);
	vr_put_le32(hdr + CBT_OFF_CRC,
		    vr_crc32c(vr_crc32c(0, hdr, sizeof(hdr)), c->bits, nbytes));
	n = vr_pwrite_full(fd, hdr, sizeof(hdr), 0);
	if (n >= 0)
		n = vr_pwrite_full(fd, c->bits, nbytes, sizeof(hdr));
	if (n < 0)
		return vr_err_set(err, (int)n, "%s: %s", tmp,
				  strerror((int)-n));
	return 0;
}

int cbt_save(struct cbt *c, const struct cbt_identity *id, bool clean,
	     struct vr_err *err)
{
	struct cbt_save_job j = { .c = c, .id = id, .clean = clean };

	return vr_file_replace(c->path, 0644, 0, cbt_write, &j, err);
}
