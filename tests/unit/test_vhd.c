/*
 * test_vhd.c - unit tests for src/vhd.c (legacy VHD through libvhdi) and
 * src/disk.c (probing, dispatch, raw images).
 *
 * Known answers come from outside our code: the VHD images in tests/corpus
 * and the SHA-256 of their virtual content that tests/corpus/README.md
 * records from qemu-img. Parent chains are built here from the VHD spec
 * (footer, dynamic header, BAT, parent locators), since the corpus holds no
 * parent: a fixed disk carrying the identifier the corpus child expects
 * proves that chain reads take each sector from the right file.
 *
 * Everything is written below one mkdtemp() directory, removed at exit.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/CUnit.h>
#include <openssl/evp.h>

#include "disk.h"
#include "tap.h"
#include "vhd.h"
#include "vr_err.h"
#include "vr_io.h"

#define MIB (1024u * 1024u)
#define T_SECTOR 512u

/* Corpus facts, tests/corpus/README.md */
#define T_HYPERV_SIZE 136365211648ull	 /* current size ("win ") */
#define T_VIRTUALPC_SIZE 136363130880ull /* CHS 65278/16/255 ("vpc ") */
#define T_D2V_SIZE 263454720ull		 /* current size, CHS at maximum */
#define T_DISSECT_SIZE (10ull * MIB)
#define T_FAT_SIZE (4ull * MIB)

static const uint8_t t_fat_parent_id[16] = { 0x5f, 0xa2, 0x1a, 0x55, 0xf3, 0x94,
					     0xaa, 0x4d, 0x99, 0x58, 0x19, 0x51,
					     0xa6, 0x7d, 0x55, 0x40 };

static char t_root[PATH_MAX];
static unsigned t_dir_seq;

/* ---- files ---- */

static char *t_path(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *s = malloc(n);

	if (s)
		snprintf(s, n, "%s/%s", dir, name);
	return s;
}

/* A new empty directory below t_root; caller frees the name. */
static char *t_dir_new(void)
{
	char name[32];
	char *dir;

	snprintf(name, sizeof(name), "d%u.XXXXXX", t_dir_seq++);
	dir = t_path(t_root, name);
	if (dir && !mkdtemp(dir)) {
		free(dir);
		return NULL;
	}
	return dir;
}

static int t_file_write(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = vr_pwrite_full(fd, buf, len, 0);
	if (close(fd) < 0 && n >= 0)
		return -errno;
	return n < 0 ? (int)n : 0;
}

/* Whole file into a new buffer; *@len gets its size. */
static uint8_t *t_file_read(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && st.st_size > 0) {
		buf = malloc((size_t)st.st_size);
		if (buf && vr_pread_full(fd, buf, (size_t)st.st_size, 0) !=
				   (ssize_t)st.st_size) {
			free(buf);
			buf = NULL;
		}
		*len = (size_t)st.st_size;
	}
	close(fd);
	return buf;
}

static int t_file_copy(const char *from, const char *to)
{
	size_t len = 0;
	uint8_t *buf = t_file_read(from, &len);
	int rc;

	if (!buf)
		return -EIO;
	rc = t_file_write(to, buf, len);
	free(buf);
	return rc;
}

/* Decompress @src into @dst with "gzip -dc" and friends. */
static int t_decompress(const char *src, const char *dst)
{
	const char *tool = NULL;
	size_t n = strlen(src);
	char cmd[PATH_MAX + 32];
	uint8_t *buf;
	uint64_t off = 0;
	size_t got;
	FILE *p;
	int fd, rc = 0;

	if (n > 3 && strcmp(src + n - 3, ".gz") == 0)
		tool = "gzip";
	else if (n > 4 && strcmp(src + n - 4, ".bz2") == 0)
		tool = "bzip2";
	else if (n > 3 && strcmp(src + n - 3, ".xz") == 0)
		tool = "xz";
	if (!tool)
		return -EINVAL;
	snprintf(cmd, sizeof(cmd), "%s -dc '%s'", tool, src);
	buf = malloc(MIB);
	if (!buf)
		return -ENOMEM;
	fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(buf);
		return -errno;
	}
	p = popen(cmd, "r");
	if (!p) {
		rc = -errno;
		goto out;
	}
	while ((got = fread(buf, 1, MIB, p)) > 0) {
		if (vr_pwrite_full(fd, buf, got, off) < 0) {
			rc = -EIO;
			break;
		}
		off += got;
	}
	if (pclose(p) != 0 && rc == 0)
		rc = -EIO;
out:
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	free(buf);
	return rc;
}

/*
 * Decompressed corpus file @rel (e.g. "dissect/fixed.vhd.gz"), made once per
 * run below t_root/corpus. Borrowed; tests must not change it.
 */
static const char *t_corpus(const char *rel)
{
	static struct {
		char *rel;
		char *path;
	} cache[16];
	static unsigned used;
	char src[PATH_MAX], name[PATH_MAX];
	const char *base = strrchr(rel, '/');
	char *dir, *dot, *path;
	unsigned i;

	for (i = 0; i < used; i++)
		if (strcmp(cache[i].rel, rel) == 0)
			return cache[i].path;
	if (used == sizeof(cache) / sizeof(cache[0]))
		return NULL;
	snprintf(name, sizeof(name), "%s", base ? base + 1 : rel);
	dot = strrchr(name, '.'); /* drop .gz/.bz2/.xz */
	if (dot)
		*dot = '\0';
	dir = t_path(t_root, "corpus");
	if (!dir)
		return NULL;
	mkdir(dir, 0700);
	path = t_path(dir, name);
	free(dir);
	if (!path)
		return NULL;
	snprintf(src, sizeof(src), "%s/tests/corpus/%s", tap_srcdir(), rel);
	if (t_decompress(src, path) < 0) {
		free(path);
		return NULL;
	}
	cache[used].rel = strdup(rel);
	cache[used].path = path;
	return cache[used++].path;
}

static int t_rm(const char *path, const struct stat *st, int flag,
		struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* ---- hashing ---- */

static void t_hex(const uint8_t *b, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

/* SHA-256 of the whole virtual disk, as lower-case hex. */
static int t_disk_sha256(struct disk *d, char hex[65])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	struct vr_err err = { 0 };
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t *buf = malloc(MIB);
	uint64_t off, size = disk_size(d);
	int rc = -ENOMEM;

	if (!ctx || !buf)
		goto out;
	rc = -EIO;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		goto out;
	for (off = 0; off < size;) {
		size_t n = size - off < MIB ? (size_t)(size - off) : MIB;

		rc = disk_read(d, buf, n, off, &err);
		if (rc < 0) {
			printf("# %s\n", err.msg);
			goto out;
		}
		if (EVP_DigestUpdate(ctx, buf, n) != 1) {
			rc = -EIO;
			goto out;
		}
		off += n;
	}
	rc = -EIO;
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32)
		goto out;
	t_hex(md, 32, hex);
	rc = 0;
out:
	free(buf);
	EVP_MD_CTX_free(ctx);
	return rc;
}

static bool t_all_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* ---- synthetic VHD files (VHD spec 1.0) ---- */

static void t_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void t_put_be32(uint8_t *p, uint32_t v)
{
	t_put_be16(p, (uint16_t)(v >> 16));
	t_put_be16(p + 2, (uint16_t)v);
}

static void t_put_be64(uint8_t *p, uint64_t v)
{
	t_put_be32(p, (uint32_t)(v >> 32));
	t_put_be32(p + 4, (uint32_t)v);
}

static uint32_t t_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t t_get_be64(const uint8_t *p)
{
	return (uint64_t)t_get_be32(p) << 32 | t_get_be32(p + 4);
}

static void t_csum_set(uint8_t *buf, size_t len, size_t at)
{
	uint32_t sum = 0;
	size_t i;

	t_put_be32(buf + at, 0);
	for (i = 0; i < len; i++)
		sum += buf[i];
	t_put_be32(buf + at, ~sum);
}

struct t_vhd {
	const char *creator; /* 4 characters */
	uint32_t type;	     /* 2 fixed, 4 differencing */
	uint64_t size;	     /* current size */
	uint16_t cylinders;
	uint8_t heads, sectors;
	uint8_t id[16];
	uint8_t seed;		     /* fixed: content pattern */
	uint8_t parent_id[16];	     /* differencing */
	const char *parent_name;     /* ASCII, the header's name field */
	const char *parent_relative; /* ASCII, a "W2ru" locator, or NULL */
	uint8_t bitmap0;	     /* differencing: block 0 holds sectors */
	uint32_t bat0;		     /* ... and BAT entry 0, if not 0 */
};

/* Content of sector @k of a fixed disk made with @seed: never zero. */
static void t_pattern(uint8_t *s, uint64_t k, uint8_t seed)
{
	memset(s, 0xa0 ^ seed, T_SECTOR);
	memcpy(s, "SECT", 4);
	t_put_be64(s + 4, k);
	s[12] = seed;
}

static void t_footer(uint8_t *f, const struct t_vhd *v, uint64_t data_offset)
{
	memset(f, 0, T_SECTOR);
	memcpy(f, "conectix", 8);
	t_put_be32(f + 8, 2);		/* features: reserved bit */
	t_put_be32(f + 12, 0x00010000); /* format version */
	t_put_be64(f + 16, data_offset);
	memcpy(f + 28, v->creator, 4);
	t_put_be32(f + 32, 0x000a0000);
	memcpy(f + 36, "Wi2k", 4);
	t_put_be64(f + 40, v->size);
	t_put_be64(f + 48, v->size);
	t_put_be16(f + 56, v->cylinders);
	f[58] = v->heads;
	f[59] = v->sectors;
	t_put_be32(f + 60, v->type);
	memcpy(f + 68, v->id, 16);
	t_csum_set(f, T_SECTOR, 64);
}

#define T_BLOCK (2u * MIB)
#define T_DYN_OFF 512u
#define T_BAT_OFF 1536u
#define T_LOC_OFF 2048u
#define T_DATA_OFF 2560u

/*
 * Write @v to @path: fixed with its pattern, or differencing. A differencing
 * disk is empty unless v->bitmap0 is set: then block 0 is in the file, the
 * first bitmap byte is v->bitmap0 and every sector of the block, present or
 * not, holds the pattern of v->seed (so a reader that takes an absent sector
 * from the child is caught).
 */
static int t_vhd_write(const char *path, const struct t_vhd *v)
{
	uint64_t k, entries = (v->size + T_BLOCK - 1) / T_BLOCK;
	size_t len, i;
	uint8_t *buf, *dyn;
	int rc;

	if (v->type == 2) {
		len = (size_t)v->size + T_SECTOR;
		buf = calloc(1, len);
		if (!buf)
			return -ENOMEM;
		for (k = 0; k < v->size / T_SECTOR; k++)
			t_pattern(buf + k * T_SECTOR, k, v->seed);
		t_footer(buf + v->size, v, UINT64_MAX);
		rc = t_file_write(path, buf, len);
		free(buf);
		return rc;
	}
	/* footer copy, dynamic header, BAT, locator, [block 0], footer */
	len = T_DATA_OFF + T_SECTOR;
	if (v->bitmap0)
		len += T_SECTOR + T_BLOCK;
	if (entries * 4 > T_LOC_OFF - T_BAT_OFF)
		return -EINVAL;
	buf = calloc(1, len);
	if (!buf)
		return -ENOMEM;
	t_footer(buf, v, T_DYN_OFF);
	memcpy(buf + len - T_SECTOR, buf, T_SECTOR);
	dyn = buf + T_DYN_OFF;
	memcpy(dyn, "cxsparse", 8);
	t_put_be64(dyn + 8, UINT64_MAX);
	t_put_be64(dyn + 16, T_BAT_OFF);
	t_put_be32(dyn + 24, 0x00010000);
	t_put_be32(dyn + 28, (uint32_t)entries);
	t_put_be32(dyn + 32, T_BLOCK);
	memcpy(dyn + 40, v->parent_id, 16);
	for (i = 0; v->parent_name && v->parent_name[i] && i < 256; i++)
		t_put_be16(dyn + 64 + 2 * i, (uint8_t)v->parent_name[i]);
	if (v->parent_relative) {
		size_t n = strlen(v->parent_relative);

		for (i = 0; i < n && i < T_SECTOR / 2; i++)
			buf[T_LOC_OFF + 2 * i] = (uint8_t)v->parent_relative[i];
		memcpy(dyn + 576, "W2ru", 4);
		t_put_be32(dyn + 576 + 4, T_SECTOR);
		t_put_be32(dyn + 576 + 8, (uint32_t)(2 * i));
		t_put_be64(dyn + 576 + 16, T_LOC_OFF);
	}
	t_csum_set(dyn, 1024, 36);
	memset(buf + T_BAT_OFF, 0xff, (size_t)entries * 4);
	if (v->bitmap0) {
		t_put_be32(buf + T_BAT_OFF, T_DATA_OFF / T_SECTOR);
		buf[T_DATA_OFF] = v->bitmap0;
		for (k = 0; k < T_BLOCK / T_SECTOR; k++)
			t_pattern(buf + T_DATA_OFF + T_SECTOR + k * T_SECTOR, k,
				  v->seed);
	}
	if (v->bat0)
		t_put_be32(buf + T_BAT_OFF, v->bat0);
	rc = t_file_write(path, buf, len);
	free(buf);
	return rc;
}

static void t_vhd_fixed(struct t_vhd *v, const char *creator, uint64_t size,
			uint8_t seed)
{
	memset(v, 0, sizeof(*v));
	v->creator = creator;
	v->type = 2;
	v->size = size;
	v->cylinders = 16;
	v->heads = 4;
	v->sectors = 16;
	v->seed = seed;
	memset(v->id, seed, sizeof(v->id));
	v->id[0] = 0x42;
}

static void t_vhd_diff(struct t_vhd *v, uint64_t size, const uint8_t id[16],
		       const uint8_t parent_id[16], const char *parent_name,
		       const char *parent_relative)
{
	memset(v, 0, sizeof(*v));
	v->creator = "win ";
	v->type = 4;
	v->size = size;
	v->cylinders = 16;
	v->heads = 4;
	v->sectors = 16;
	memcpy(v->id, id, 16);
	memcpy(v->parent_id, parent_id, 16);
	v->parent_name = parent_name;
	v->parent_relative = parent_relative;
}

/* Does sector @k of @d hold the pattern of a fixed disk made with @seed? */
static bool t_reads_pattern(struct vhd *h, uint64_t k, uint8_t seed)
{
	uint8_t got[T_SECTOR], want[T_SECTOR];
	struct vr_err err = { 0 };

	if (vhd_read(h, got, T_SECTOR, k * T_SECTOR, &err) < 0) {
		printf("# %s\n", err.msg);
		return false;
	}
	t_pattern(want, k, seed);
	return memcmp(got, want, T_SECTOR) == 0;
}

static bool t_msg_has(const struct vr_err *err, const char *s)
{
	if (strstr(err->msg, s))
		return true;
	printf("# message \"%s\" lacks \"%s\"\n", err->msg, s);
	return false;
}

/* ---- corpus images: size and content ---- */

/* Open @rel both ways, check the size, and return the disk. */
static struct disk *t_corpus_open(const char *rel, uint64_t size)
{
	struct vr_err err = { 0 };
	const char *path = t_corpus(rel);
	struct disk *d = NULL;
	struct vhd *h = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	CU_ASSERT_EQUAL(vhd_open(path, 0, NULL, &h, &err), 0);
	if (h) {
		CU_ASSERT_EQUAL(vhd_size(h), size);
	}
	vhd_close(h);
	CU_ASSERT_EQUAL(disk_open(path, DISK_FORMAT_AUTO, NULL, &d, NULL, &err),
			0);
	if (err.code)
		printf("# %s\n", err.msg);
	if (!d)
		return NULL;
	CU_ASSERT_EQUAL(disk_get_format(d), DISK_FORMAT_VHD);
	CU_ASSERT_EQUAL(disk_size(d), size);
	CU_ASSERT_STRING_EQUAL(disk_path(d), path);
	CU_ASSERT_PTR_NULL(disk_vhdx(d));
	CU_ASSERT_PTR_NOT_NULL_FATAL(disk_vhd(d));
	CU_ASSERT_EQUAL(vhd_size(disk_vhd(d)), size);
	CU_ASSERT_STRING_EQUAL(vhd_path(disk_vhd(d)), path);
	return d;
}

static void t_corpus_sha256(const char *rel, uint64_t size, const char *sha)
{
	struct disk *d = t_corpus_open(rel, size);
	char hex[65] = "";

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_EQUAL(t_disk_sha256(d, hex), 0);
	CU_ASSERT_STRING_EQUAL(hex, sha);
	disk_close(d);
}

/*
 * The two 127 GiB images are empty: hashing them would take minutes, so
 * read 64 spread 1 MiB ranges, the last one ending at the end of the disk.
 */
static void t_corpus_sample_zero(const char *rel, uint64_t size)
{
	struct vr_err err = { 0 };
	struct disk *d = t_corpus_open(rel, size);
	uint8_t *buf = malloc(MIB);
	uint64_t off;
	unsigned i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	for (i = 0; i < 64; i++) {
		off = (size - MIB) / 63 * i / T_SECTOR * T_SECTOR;
		if (i == 63)
			off = size - MIB;
		memset(buf, 0xee, MIB);
		CU_ASSERT_EQUAL(disk_read(d, buf, MIB, off, &err), 0);
		CU_ASSERT(t_all_zero(buf, MIB));
	}
	/* one byte past the end is refused */
	CU_ASSERT_EQUAL(disk_read(d, buf, 1, size, &err), -EINVAL);
	free(buf);
	disk_close(d);
}

static void test_vhd_hyperv_dynamic_uses_current_size(void)
{
	t_corpus_sample_zero("qemu/hyperv2012r2-dynamic.vhd.bz2",
			     T_HYPERV_SIZE);
}

static void test_vhd_virtualpc_dynamic_uses_chs_size(void)
{
	struct vr_err err = { 0 };
	const char *path;
	uint8_t buf[T_SECTOR];
	struct vhd *h = NULL;

	t_corpus_sample_zero("qemu/virtualpc-dynamic.vhd.bz2",
			     T_VIRTUALPC_SIZE);
	/* libvhdi's media size is the larger current size: we stop short */
	path = t_corpus("qemu/virtualpc-dynamic.vhd.bz2");
	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	CU_ASSERT_EQUAL_FATAL(vhd_open(path, 0, NULL, &h, &err), 0);
	CU_ASSERT_EQUAL(
		vhd_read(h, buf, T_SECTOR, T_VIRTUALPC_SIZE - T_SECTOR, &err),
		0);
	CU_ASSERT_EQUAL(vhd_read(h, buf, T_SECTOR, T_VIRTUALPC_SIZE, &err),
			-EINVAL);
	vhd_close(h);
}

static void test_vhd_d2v_max_geometry_uses_current_size(void)
{
	t_corpus_sha256("qemu/d2v-zerofilled.vhd.bz2", T_D2V_SIZE,
			"1ba076be94a8a64541c25aae8d5a5f8b"
			"0da758c3797af597e03acb431ff8d143");
}

static void test_vhd_fixed_content(void)
{
	struct vr_err err = { 0 };
	uint8_t buf[T_SECTOR], ff[T_SECTOR];
	struct disk *d;

	t_corpus_sha256("dissect/fixed.vhd.gz", T_DISSECT_SIZE,
			"459325ab1fcd1d5ec9854cba790ee263"
			"78317cda177ffc1072008a1df88e6463");
	d = t_corpus_open("dissect/fixed.vhd.gz", T_DISSECT_SIZE);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	/* from the dissect test: 512 x 0xff at 0x200000, an MBR at 0 */
	memset(ff, 0xff, sizeof(ff));
	CU_ASSERT_EQUAL(disk_read(d, buf, sizeof(buf), 0x200000, &err), 0);
	CU_ASSERT_EQUAL(memcmp(buf, ff, sizeof(buf)), 0);
	CU_ASSERT_EQUAL(disk_read(d, buf, sizeof(buf), 0, &err), 0);
	CU_ASSERT_EQUAL(buf[510], 0x55);
	CU_ASSERT_EQUAL(buf[511], 0xaa);
	disk_close(d);
}

static void test_vhd_dynamic_content(void)
{
	t_corpus_sha256("dissect/dynamic.vhd.gz", T_DISSECT_SIZE,
			"ecff2ef6615a3cddc6a6885f1c6d9cf1"
			"3a232697e1dc6575f2c2f01f57247784");
}

/* ---- differencing: the corpus child ---- */

/* A fresh directory holding a copy of the corpus child; caller frees. */
static char *t_fat_child(char **dir)
{
	const char *src = t_corpus("dfvfs/fat-differential.vhd.xz");
	char *path;

	*dir = t_dir_new();
	if (!src || !*dir)
		return NULL;
	path = t_path(*dir, "fat-differential.vhd");
	if (path && t_file_copy(src, path) < 0) {
		free(path);
		return NULL;
	}
	return path;
}

static int t_fat_parent_write(const char *path, const uint8_t id[16])
{
	struct t_vhd v;

	t_vhd_fixed(&v, "win ", T_FAT_SIZE, 7);
	memcpy(v.id, id, 16);
	return t_vhd_write(path, &v);
}

static void test_vhd_differencing_without_parent_is_enoent(void)
{
	struct vr_err err = { 0 };
	struct vhd *h = NULL;
	struct disk *d = NULL;
	char *dir = NULL, *child = t_fat_child(&dir);

	CU_ASSERT_PTR_NOT_NULL_FATAL(child);
	CU_ASSERT_EQUAL(vhd_open(child, 0, NULL, &h, &err), -ENOENT);
	CU_ASSERT_PTR_NULL(h);
	CU_ASSERT_EQUAL(err.code, -ENOENT);
	CU_ASSERT(t_msg_has(&err, child));
	CU_ASSERT(t_msg_has(&err, "parent .\\fat-parent.vhd not found"));
	CU_ASSERT(t_msg_has(&err, dir));
	printf("# %s\n", err.msg);
	vr_err_clear(&err);
	CU_ASSERT_EQUAL(
		disk_open(child, DISK_FORMAT_AUTO, NULL, &d, NULL, &err),
		-ENOENT);
	CU_ASSERT_PTR_NULL(d);
	CU_ASSERT(t_msg_has(&err, "fat-differential.vhd"));
	free(child);
	free(dir);
}

/*
 * What the child reads as over a parent made with t_fat_parent_write():
 * decode the child's BAT and sector bitmaps here, independently of libvhdi.
 * Returns the number of sectors that come from the child, or -1.
 */
static long t_fat_expected(const char *child, uint8_t *want)
{
	size_t len = 0, bitmap;
	uint8_t *f = t_file_read(child, &len);
	uint64_t dyn, bat, k;
	uint32_t entries, block;
	long from_child = 0;

	if (!f || len < 2048)
		goto bad;
	dyn = t_get_be64(f + len - 512 + 16);
	if (dyn > len - 1024)
		goto bad;
	bat = t_get_be64(f + dyn + 16);
	entries = t_get_be32(f + dyn + 28);
	block = t_get_be32(f + dyn + 32);
	if (block != T_BLOCK || (uint64_t)entries * T_BLOCK < T_FAT_SIZE ||
	    bat > len || (uint64_t)entries * 4 > len - bat)
		goto bad;
	bitmap = (block / T_SECTOR / 8 + T_SECTOR - 1) / T_SECTOR * T_SECTOR;
	for (k = 0; k < T_FAT_SIZE / T_SECTOR; k++) {
		uint32_t sec =
			t_get_be32(f + bat + 4 * (k / (block / T_SECTOR)));
		uint64_t s = k % (block / T_SECTOR), at;

		t_pattern(want + k * T_SECTOR, k, 7);
		if (sec == UINT32_MAX)
			continue;
		at = (uint64_t)sec * T_SECTOR;
		if (at > len || bitmap + (s + 1) * T_SECTOR > len - at)
			goto bad;
		if (!(f[at + s / 8] & (0x80 >> (s % 8))))
			continue;
		memcpy(want + k * T_SECTOR, f + at + bitmap + s * T_SECTOR,
		       T_SECTOR);
		from_child++;
	}
	free(f);
	return from_child;
bad:
	free(f);
	return -1;
}

static void test_vhd_differencing_reads_by_sector_bitmap(void)
{
	struct vr_err err = { 0 };
	uint8_t *want = malloc(T_FAT_SIZE), *got = malloc(T_FAT_SIZE);
	char *dir = NULL, *child = t_fat_child(&dir), *parent;
	struct disk *d = NULL;
	long from_child;

	CU_ASSERT_PTR_NOT_NULL_FATAL(child);
	CU_ASSERT_PTR_NOT_NULL_FATAL(want);
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	parent = t_path(dir, "fat-parent.vhd");
	CU_ASSERT_EQUAL_FATAL(t_fat_parent_write(parent, t_fat_parent_id), 0);
	from_child = t_fat_expected(child, want);
	/* both files must contribute, or the test proves nothing */
	CU_ASSERT(from_child > 0);
	CU_ASSERT(from_child < (long)(T_FAT_SIZE / T_SECTOR));
	printf("# %ld of %u sectors come from the child\n", from_child,
	       (unsigned)(T_FAT_SIZE / T_SECTOR));
	CU_ASSERT_EQUAL_FATAL(
		disk_open(child, DISK_FORMAT_AUTO, NULL, &d, NULL, &err), 0);
	CU_ASSERT_EQUAL(disk_size(d), T_FAT_SIZE);
	CU_ASSERT_EQUAL(disk_read(d, got, T_FAT_SIZE, 0, &err), 0);
	CU_ASSERT_EQUAL(memcmp(got, want, T_FAT_SIZE), 0);
	/* unaligned reads across the child/parent boundary */
	CU_ASSERT_EQUAL(disk_read(d, got, 3 * T_SECTOR + 7, 12345, &err), 0);
	CU_ASSERT_EQUAL(memcmp(got, want + 12345, 3 * T_SECTOR + 7), 0);
	disk_close(d);
	free(parent);
	free(child);
	free(dir);
	free(want);
	free(got);
}

static void test_vhd_differencing_parent_path_override(void)
{
	struct vr_err err = { 0 };
	uint8_t *want = malloc(T_FAT_SIZE), *got = malloc(T_FAT_SIZE);
	char *dir = NULL, *child = t_fat_child(&dir), *dir2, *parent, *gone;
	char *local;
	struct vhd *h = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(child);
	CU_ASSERT_PTR_NOT_NULL_FATAL(want);
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	dir2 = t_dir_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(dir2);
	parent = t_path(dir2, "renamed-base.vhd");
	gone = t_path(dir2, "missing.vhd");
	local = t_path(dir, "fat-parent.vhd");
	CU_ASSERT_EQUAL_FATAL(t_fat_parent_write(parent, t_fat_parent_id), 0);
	CU_ASSERT(t_fat_expected(child, want) > 0);

	/* the locator finds nothing, the override does */
	CU_ASSERT_EQUAL(vhd_open(child, 0, parent, &h, &err), 0);
	if (h) {
		CU_ASSERT_EQUAL(vhd_read(h, got, T_FAT_SIZE, 0, &err), 0);
		CU_ASSERT_EQUAL(memcmp(got, want, T_FAT_SIZE), 0);
	}
	vhd_close(h);
	h = NULL;

	/* a missing override is reported with what was tried */
	vr_err_clear(&err);
	CU_ASSERT_EQUAL(vhd_open(child, 0, gone, &h, &err), -ENOENT);
	CU_ASSERT(t_msg_has(&err, gone));
	CU_ASSERT(t_msg_has(&err, "not found"));

	/* ... and the locator is still tried after it */
	CU_ASSERT_EQUAL_FATAL(rename(parent, local), 0);
	vr_err_clear(&err);
	CU_ASSERT_EQUAL(vhd_open(child, 0, gone, &h, &err), 0);
	vhd_close(h);
	free(local);
	free(parent);
	free(gone);
	free(dir2);
	free(child);
	free(dir);
	free(want);
	free(got);
}

static void test_vhd_differencing_rejects_wrong_parent(void)
{
	static const uint8_t other[16] = { 1, 2,  3,  4,  5,  6,  7,  8,
					   9, 10, 11, 12, 13, 14, 15, 16 };
	struct vr_err err = { 0 };
	char *dir = NULL, *child = t_fat_child(&dir), *parent;
	struct vhd *h = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(child);
	parent = t_path(dir, "fat-parent.vhd");
	CU_ASSERT_EQUAL_FATAL(t_fat_parent_write(parent, other), 0);
	CU_ASSERT_EQUAL(vhd_open(child, 0, NULL, &h, &err), -ESTALE);
	CU_ASSERT_PTR_NULL(h);
	CU_ASSERT(t_msg_has(&err,
			    "parent identifier mismatch (expected "
			    "5fa21a55-f394-aa4d-9958-1951a67d5540, "
			    "found 01020304-0506-0708-090a-0b0c0d0e0f10)"));
	printf("# %s\n", err.msg);
	free(parent);
	free(child);
	free(dir);
}

static void test_vhd_differencing_detects_loops(void)
{
	static const uint8_t ida[16] = { 0xaa, 1 }, idb[16] = { 0xbb, 2 };
	struct vr_err err = { 0 };
	char *dir = NULL, *child = t_fat_child(&dir), *self, *a, *b;
	struct t_vhd v;
	struct vhd *h = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(child);
	/* a differencing disk that is its own parent by name */
	self = t_path(dir, "fat-parent.vhd");
	CU_ASSERT_EQUAL_FATAL(rename(child, self), 0);
	CU_ASSERT_EQUAL(vhd_open(self, 0, NULL, &h, &err), -ELOOP);
	CU_ASSERT(t_msg_has(&err, "loops"));
	printf("# %s\n", err.msg);
	/* a.vhd -> b.vhd -> a.vhd, identifiers all matching */
	a = t_path(dir, "a.vhd");
	b = t_path(dir, "b.vhd");
	t_vhd_diff(&v, MIB, ida, idb, "C:\\vms\\b.vhd", NULL);
	CU_ASSERT_EQUAL_FATAL(t_vhd_write(a, &v), 0);
	t_vhd_diff(&v, MIB, idb, ida, "C:\\vms\\a.vhd", NULL);
	CU_ASSERT_EQUAL_FATAL(t_vhd_write(b, &v), 0);
	vr_err_clear(&err);
	CU_ASSERT_EQUAL(vhd_open(a, 0, NULL, &h, &err), -ELOOP);
	CU_ASSERT_PTR_NULL(h);
	CU_ASSERT(t_msg_has(&err, a));
	free(a);
	free(b);
	free(self);
	free(child);
	free(dir);
}

/* c0.vhd -> c1.vhd -> ... -> c<n-1>.vhd (fixed, pattern seed 9) */
static char *t_chain_write(unsigned n)
{
	char *dir = t_dir_new(), name[32], pname[64], *path;
	uint8_t id[16] = { 0xc0 }, pid[16] = { 0xc0 };
	struct t_vhd v;
	unsigned i;
	int rc;

	if (!dir)
		return NULL;
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "c%u.vhd", i);
		snprintf(pname, sizeof(pname), "C:\\chain\\c%u.vhd", i + 1);
		id[1] = (uint8_t)i;
		pid[1] = (uint8_t)(i + 1);
		if (i + 1 < n) {
			t_vhd_diff(&v, MIB, id, pid, pname, NULL);
		} else {
			t_vhd_fixed(&v, "win ", MIB, 9);
			memcpy(v.id, id, 16);
		}
		path = t_path(dir, name);
		rc = path ? t_vhd_write(path, &v) : -ENOMEM;
		free(path);
		if (rc < 0) {
			free(dir);
			return NULL;
		}
	}
	return dir;
}

static void test_vhd_chain_depth_is_capped_at_64(void)
{
	struct vr_err err = { 0 };
	char *dir, *top;
	struct vhd *h = NULL;

	dir = t_chain_write(64);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	top = t_path(dir, "c0.vhd");
	CU_ASSERT_EQUAL(vhd_open(top, 0, NULL, &h, &err), 0);
	if (h) {
		CU_ASSERT_EQUAL(vhd_size(h), MIB);
		CU_ASSERT(t_reads_pattern(h, 0, 9));
		CU_ASSERT(t_reads_pattern(h, MIB / T_SECTOR - 1, 9));
	}
	vhd_close(h);
	h = NULL;
	free(top);
	free(dir);

	dir = t_chain_write(65);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	top = t_path(dir, "c0.vhd");
	CU_ASSERT_EQUAL(vhd_open(top, 0, NULL, &h, &err), -ELOOP);
	CU_ASSERT_PTR_NULL(h);
	CU_ASSERT(t_msg_has(&err, "longer than 64"));
	free(top);
	free(dir);
}

static void test_vhd_differencing_finds_parent_by_relative_locator(void)
{
	static const uint8_t id[16] = { 0x77 }, pid[16] = { 0x42, 3, 3, 3 };
	struct vr_err err = { 0 };
	char *dir = t_dir_new(), *kids, *base, *child, *parent;
	struct t_vhd v;
	struct vhd *h = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	kids = t_path(dir, "kids");
	base = t_path(dir, "base");
	CU_ASSERT_EQUAL_FATAL(mkdir(kids, 0700), 0);
	CU_ASSERT_EQUAL_FATAL(mkdir(base, 0700), 0);
	child = t_path(kids, "child.vhd");
	parent = t_path(base, "p.vhd");
	/* the header's name is stale; only the W2ru locator is right */
	t_vhd_diff(&v, MIB, id, pid, "C:\\old\\renamed.vhd", "..\\base\\p.vhd");
	CU_ASSERT_EQUAL_FATAL(t_vhd_write(child, &v), 0);
	t_vhd_fixed(&v, "win ", MIB, 3);
	memcpy(v.id, pid, 16);
	CU_ASSERT_EQUAL_FATAL(t_vhd_write(parent, &v), 0);
	CU_ASSERT_EQUAL(vhd_open(child, 0, NULL, &h, &err), 0);
	if (h) {
		CU_ASSERT(t_reads_pattern(h, 100, 3));
	} else {
		printf("# %s\n", err.msg);
	}
	vhd_close(h);
	free(child);
	free(parent);
	free(kids);
	free(base);
	free(dir);
}

static void test_vhd_chain_reads_each_sector_from_its_owner(void)
{
	static const uint8_t top_id[16] = { 0x71 }, mid_id[16] = { 0x72 },
			     base_id[16] = { 0x73 };
	struct vr_err err = { 0 };
	char *dir = t_dir_new(), *top, *mid, *base;
	uint8_t got[16 * T_SECTOR], want[T_SECTOR];
	struct t_vhd v;
	struct vhd *h = NULL;
	unsigned k;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	top = t_path(dir, "top.vhd");
	mid = t_path(dir, "mid.vhd");
	base = t_path(dir, "base.vhd");
	/* sectors 0 and 7 in top, 1 and 6 in mid, the rest in base */
	t_vhd_diff(&v, MIB, top_id, mid_id, "C:\\x\\mid.vhd", NULL);
	v.bitmap0 = 0x81;
	v.seed = 0x31;
	CU_ASSERT_EQUAL_FATAL(t_vhd_write(top, &v), 0);
	t_vhd_diff(&v, MIB, mid_id, base_id, "C:\\x\\base.vhd", NULL);
	v.bitmap0 = 0x42;
	v.seed = 0x32;
	CU_ASSERT_EQUAL_FATAL(t_vhd_write(mid, &v), 0);
	t_vhd_fixed(&v, "win ", MIB, 9);
	memcpy(v.id, base_id, 16);
	CU_ASSERT_EQUAL_FATAL(t_vhd_write(base, &v), 0);

	CU_ASSERT_EQUAL_FATAL(vhd_open(top, 0, NULL, &h, &err), 0);
	/* one read over all runs, starting and ending mid-sector */
	CU_ASSERT_EQUAL(vhd_read(h, got, sizeof(got), 0, &err), 0);
	for (k = 0; k < 16; k++) {
		uint8_t seed = k == 0 || k == 7	  ? 0x31
			       : k == 1 || k == 6 ? 0x32
						  : 9;

		t_pattern(want, k, seed);
		CU_ASSERT_EQUAL(memcmp(got + k * T_SECTOR, want, T_SECTOR), 0);
	}
	CU_ASSERT_EQUAL(vhd_read(h, got, 5 * T_SECTOR, 300, &err), 0);
	t_pattern(want, 1, 0x32);
	CU_ASSERT_EQUAL(memcmp(got + T_SECTOR - 300, want, T_SECTOR), 0);
	t_pattern(want, 2, 9);
	CU_ASSERT_EQUAL(memcmp(got + 2 * T_SECTOR - 300, want, T_SECTOR), 0);
	vhd_close(h);
	free(top);
	free(mid);
	free(base);
	free(dir);
}

static void test_vhd_differencing_rejects_block_past_eof(void)
{
	static const uint8_t id[16] = { 0x81 }, pid[16] = { 0x82 };
	struct vr_err err = { 0 };
	char *dir = t_dir_new(), *child, *parent;
	uint8_t buf[T_SECTOR];
	struct t_vhd v;
	struct vhd *h = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	child = t_path(dir, "child.vhd");
	parent = t_path(dir, "parent.vhd");
	t_vhd_diff(&v, MIB, id, pid, "parent.vhd", NULL);
	v.bat0 = 0x00100000; /* sector 1 Mi: 512 MiB into a 3 KiB file */
	CU_ASSERT_EQUAL_FATAL(t_vhd_write(child, &v), 0);
	t_vhd_fixed(&v, "win ", MIB, 4);
	memcpy(v.id, pid, 16);
	CU_ASSERT_EQUAL_FATAL(t_vhd_write(parent, &v), 0);
	CU_ASSERT_EQUAL_FATAL(vhd_open(child, 0, NULL, &h, &err), 0);
	CU_ASSERT_EQUAL(vhd_read(h, buf, sizeof(buf), 0, &err), -VR_ECORRUPT);
	CU_ASSERT(t_msg_has(&err, "block 0: bitmap at 0x20000000 ends past "
				  "end of file"));
	vhd_close(h);
	free(child);
	free(parent);
	free(dir);
}

/* ---- size rule and bad input, on synthetic fixed disks ---- */

static void test_vhd_size_rule_follows_creator_and_geometry(void)
{
	static const struct {
		const char *creator;
		uint16_t c;
		uint8_t h, s;
		uint64_t size;
	} cases[] = {
		{ "qemu", 16, 4, 16, 524288 },	 /* CHS, smaller */
		{ "vpc ", 4, 16, 63, 2064384 },	 /* CHS, larger */
		{ "vpc ", 65535, 16, 255, MIB }, /* CHS at maximum */
		{ "win ", 16, 4, 16, MIB },	 /* Hyper-V */
		{ "d2v ", 4, 16, 63, MIB },	 /* Disk2vhd */
		{ "qem2", 16, 4, 16, MIB },	 /* new QEMU */
	};
	struct vr_err err = { 0 };
	char *dir = t_dir_new(), *path;
	uint8_t buf[2 * T_SECTOR], want[T_SECTOR];
	struct t_vhd v;
	unsigned i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	path = t_path(dir, "size.vhd");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vhd *h = NULL;

		t_vhd_fixed(&v, cases[i].creator, MIB, 5);
		v.cylinders = cases[i].c;
		v.heads = cases[i].h;
		v.sectors = cases[i].s;
		CU_ASSERT_EQUAL_FATAL(t_vhd_write(path, &v), 0);
		vr_err_clear(&err);
		CU_ASSERT_EQUAL_FATAL(vhd_open(path, 0, NULL, &h, &err), 0);
		CU_ASSERT_EQUAL(vhd_size(h), cases[i].size);
		/* the last sector reads; the one after is outside */
		CU_ASSERT_EQUAL(vhd_read(h, buf, T_SECTOR,
					 cases[i].size - T_SECTOR, &err),
				0);
		CU_ASSERT_EQUAL(vhd_read(h, buf, 1, cases[i].size, &err),
				-EINVAL);
		if (cases[i].size > MIB) {
			/* past libvhdi's media size the disk reads zeros */
			CU_ASSERT_EQUAL(vhd_read(h, buf, sizeof(buf),
						 MIB - T_SECTOR, &err),
					0);
			t_pattern(want, MIB / T_SECTOR - 1, 5);
			CU_ASSERT_EQUAL(memcmp(buf, want, T_SECTOR), 0);
			CU_ASSERT(t_all_zero(buf + T_SECTOR, T_SECTOR));
		} else {
			CU_ASSERT(t_reads_pattern(
				h, cases[i].size / T_SECTOR - 1, 5));
		}
		vhd_close(h);
	}
	free(path);
	free(dir);
}

static void test_vhd_rejects_bad_input(void)
{
	struct vr_err err = { 0 };
	char *dir = t_dir_new(), *path, *gone;
	uint8_t *buf;
	size_t len = 0;
	struct t_vhd v;
	struct vhd *h = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	path = t_path(dir, "bad.vhd");
	gone = t_path(dir, "gone.vhd");

	CU_ASSERT_EQUAL(vhd_open(gone, 0, NULL, &h, &err), -ENOENT);
	CU_ASSERT(t_msg_has(&err, gone));

	/* a footer byte flipped */
	t_vhd_fixed(&v, "win ", 64 * 1024, 1);
	CU_ASSERT_EQUAL_FATAL(t_vhd_write(path, &v), 0);
	buf = t_file_read(path, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	buf[len - T_SECTOR + 40] ^= 0x01; /* original size */
	CU_ASSERT_EQUAL_FATAL(t_file_write(path, buf, len), 0);
	vr_err_clear(&err);
	CU_ASSERT_EQUAL(vhd_open(path, 0, NULL, &h, &err), -VR_EBADCRC);
	CU_ASSERT(t_msg_has(&err, "checksum mismatch"));

	/* no footer at all */
	memset(buf, 0, len);
	CU_ASSERT_EQUAL_FATAL(t_file_write(path, buf, len), 0);
	vr_err_clear(&err);
	CU_ASSERT_EQUAL(vhd_open(path, 0, NULL, &h, &err), -VR_ECORRUPT);
	CU_ASSERT(t_msg_has(&err, "conectix"));

	/* smaller than a footer */
	CU_ASSERT_EQUAL_FATAL(t_file_write(path, buf, 100), 0);
	vr_err_clear(&err);
	CU_ASSERT_EQUAL(vhd_open(path, 0, NULL, &h, &err), -VR_ECORRUPT);
	CU_ASSERT(t_msg_has(&err, "100 bytes"));

	/* a fixed disk whose data was cut short: footer after 32 KiB */
	free(buf);
	t_vhd_fixed(&v, "win ", 64 * 1024, 1);
	CU_ASSERT_EQUAL_FATAL(t_vhd_write(path, &v), 0);
	buf = t_file_read(path, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	memmove(buf + 32 * 1024, buf + len - T_SECTOR, T_SECTOR);
	CU_ASSERT_EQUAL_FATAL(t_file_write(path, buf, 32 * 1024 + T_SECTOR), 0);
	vr_err_clear(&err);
	CU_ASSERT_EQUAL(vhd_open(path, 0, NULL, &h, &err), -VR_ECORRUPT);
	CU_ASSERT(t_msg_has(&err, "truncated"));
	CU_ASSERT_PTR_NULL(h);

	/* a dynamic disk whose dynamic header lost its cookie: libvhdi's */
	free(buf);
	buf = t_file_read(t_corpus("dissect/dynamic.vhd.gz"), &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	buf[t_get_be64(buf + len - T_SECTOR + 16)] ^= 0x20; /* "Cxsparse" */
	CU_ASSERT_EQUAL_FATAL(t_file_write(path, buf, len), 0);
	vr_err_clear(&err);
	CU_ASSERT_EQUAL(vhd_open(path, 0, NULL, &h, &err), -VR_ECORRUPT);
	CU_ASSERT(t_msg_has(&err, "bad.vhd: open: libvhdi: "));
	printf("# %s\n", err.msg);

	free(buf);
	free(path);
	free(gone);
	free(dir);
}

/* ---- vhd_get_info: the facts vhdiinfo prints ---- */

/*
 * Every corpus VHD as vhdiinfo 20210425 describes it (disk type, media size
 * = our current size, bytes per sector, identifier), plus the footer fields
 * vhdiinfo does not print (geometry, creator; read with xxd) and the
 * virtual size qemu-img info reports. Opened without the parent, so the
 * differencing child is described although its parent is not in the corpus.
 */
static void test_vhd_info_matches_vhdiinfo_on_corpus(void)
{
	static const struct {
		const char *rel;
		enum vhd_type type;
		uint64_t virtual_size, current_size;
		uint16_t c;
		uint8_t h, s;
		uint32_t block_size;
		const char *id, *creator;
		uint32_t creator_version;
	} cases[] = {
		{ "qemu/hyperv2012r2-dynamic.vhd.bz2", VHD_TYPE_DYNAMIC,
		  T_HYPERV_SIZE, T_HYPERV_SIZE, 65278, 16, 255, T_BLOCK,
		  "6d2d5fc8-eeba-de4c-8cee-de3a12db7c98", "win ", 0x00060003 },
		{ "qemu/virtualpc-dynamic.vhd.bz2", VHD_TYPE_DYNAMIC,
		  T_VIRTUALPC_SIZE, T_HYPERV_SIZE, 65278, 16, 255, T_BLOCK,
		  "33ea0013-6191-4d02-b93f-88af84296f85", "vpc ", 0x00010000 },
		{ "qemu/d2v-zerofilled.vhd.bz2", VHD_TYPE_DYNAMIC, T_D2V_SIZE,
		  T_D2V_SIZE, 65535, 16, 255, T_BLOCK,
		  "e7b829fd-e66d-ba49-ac19-6ebdab26cea3", "d2v", 0x00010000 },
		{ "dissect/fixed.vhd.gz", VHD_TYPE_FIXED, T_DISSECT_SIZE,
		  T_DISSECT_SIZE, 301, 4, 17, 0,
		  "b895e418-3894-e744-9a88-9a420be4e5ca", "win ", 0x000a0000 },
		{ "dissect/dynamic.vhd.gz", VHD_TYPE_DYNAMIC, T_DISSECT_SIZE,
		  T_DISSECT_SIZE, 301, 4, 17, T_BLOCK,
		  "4b6a0d04-f946-d74e-836f-d3dc87e1816b", "win ", 0x000a0000 },
		{ "dfvfs/fat-differential.vhd.xz", VHD_TYPE_DIFFERENCING,
		  T_FAT_SIZE, T_FAT_SIZE, 120, 4, 17, T_BLOCK,
		  "f84f1636-cd9e-9041-a69e-dcc2380e416a", "win ", 0x000a0000 },
	};
	struct vr_err err = { 0 };
	struct vhd_info in;
	char id[37];
	unsigned i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *path = t_corpus(cases[i].rel);
		struct stat st;
		struct vhd *h = NULL;

		CU_ASSERT_PTR_NOT_NULL_FATAL(path);
		CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
		CU_ASSERT_EQUAL_FATAL(
			vhd_open(path, VHD_OPEN_NO_PARENT, NULL, &h, &err), 0);
		memset(&in, 0xa5, sizeof(in));
		vhd_get_info(h, &in);
		printf("# %s\n", cases[i].rel);
		CU_ASSERT_EQUAL(in.type, cases[i].type);
		CU_ASSERT_EQUAL(in.virtual_size, cases[i].virtual_size);
		CU_ASSERT_EQUAL(in.virtual_size, vhd_size(h));
		CU_ASSERT_EQUAL(in.current_size, cases[i].current_size);
		CU_ASSERT_EQUAL(in.cylinders, cases[i].c);
		CU_ASSERT_EQUAL(in.heads, cases[i].h);
		CU_ASSERT_EQUAL(in.sectors, cases[i].s);
		CU_ASSERT_EQUAL(in.block_size, cases[i].block_size);
		CU_ASSERT_EQUAL(in.bytes_per_sector, 512);
		CU_ASSERT_EQUAL(in.file_size, (uint64_t)st.st_size);
		vhd_id_format(in.id, id);
		CU_ASSERT_STRING_EQUAL(id, cases[i].id);
		CU_ASSERT_STRING_EQUAL(in.creator, cases[i].creator);
		CU_ASSERT_EQUAL(in.creator_version, cases[i].creator_version);
		CU_ASSERT_EQUAL(in.has_parent,
				cases[i].type == VHD_TYPE_DIFFERENCING);
		if (!in.has_parent) {
			CU_ASSERT_PTR_NULL(in.parent_name);
			CU_ASSERT_PTR_NULL(in.parent_relative);
			CU_ASSERT(t_all_zero(in.parent_id, 16));
		}
		CU_ASSERT_PTR_NULL(vhd_parent(h));
		CU_ASSERT_STRING_EQUAL(vhd_path(h), path);
		vhd_close(h);
	}
}

/* vhdiinfo: "Parent identifier" and "Parent filename" of the corpus child. */
static void test_vhd_info_of_differencing_child_names_its_parent(void)
{
	struct vr_err err = { 0 };
	const char *path = t_corpus("dfvfs/fat-differential.vhd.xz");
	struct vhd_info in;
	struct vhd *h = NULL;
	char id[37];

	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	CU_ASSERT_EQUAL_FATAL(
		vhd_open(path, VHD_OPEN_NO_PARENT, NULL, &h, &err), 0);
	vhd_get_info(h, &in);
	CU_ASSERT(in.has_parent);
	CU_ASSERT_EQUAL(memcmp(in.parent_id, t_fat_parent_id, 16), 0);
	vhd_id_format(in.parent_id, id);
	CU_ASSERT_STRING_EQUAL(id, "5fa21a55-f394-aa4d-9958-1951a67d5540");
	CU_ASSERT_PTR_NOT_NULL_FATAL(in.parent_name);
	CU_ASSERT_STRING_EQUAL(
		in.parent_name,
		"C:\\Projects\\dfvfs\\test_data\\fat-parent.vhd");
	CU_ASSERT_PTR_NOT_NULL_FATAL(in.parent_relative);
	CU_ASSERT_STRING_EQUAL(in.parent_relative, ".\\fat-parent.vhd");
	vhd_close(h);
}

/*
 * VHD_OPEN_NO_PARENT describes a differencing disk whose parent is missing
 * and refuses to read it; a normal open of the same file still fails, and
 * with the parent present opens the chain, which vhd_parent() walks.
 */
static void test_vhd_no_parent_open_describes_but_does_not_read(void)
{
	struct vr_err err = { 0 };
	char *dir = NULL, *child = t_fat_child(&dir), *parent;
	uint8_t buf[T_SECTOR];
	struct vhd_info in;
	const struct vhd *p;
	struct vhd *h = NULL;
	char id[37];

	CU_ASSERT_PTR_NOT_NULL_FATAL(child);
	CU_ASSERT_EQUAL_FATAL(
		vhd_open(child, VHD_OPEN_NO_PARENT, NULL, &h, &err), 0);
	CU_ASSERT_PTR_NULL(vhd_parent(h));
	CU_ASSERT_EQUAL(vhd_size(h), T_FAT_SIZE);
	memset(buf, 0xee, sizeof(buf));
	CU_ASSERT_EQUAL(vhd_read(h, buf, sizeof(buf), 0, &err), -ENOENT);
	CU_ASSERT(t_msg_has(&err, child));
	CU_ASSERT(t_msg_has(&err, "differencing disk opened without its "
				  "parent"));
	printf("# %s\n", err.msg);
	/* ranges are still checked first */
	vr_err_clear(&err);
	CU_ASSERT_EQUAL(vhd_read(h, buf, 1, T_FAT_SIZE, &err), -EINVAL);
	vhd_close(h);
	h = NULL;

	/* unknown flags are the caller's bug */
	vr_err_clear(&err);
	CU_ASSERT_EQUAL(vhd_open(child, 0x80, NULL, &h, &err), -EINVAL);
	CU_ASSERT_PTR_NULL(h);

	/* with the parent there: the chain, and its parent described */
	parent = t_path(dir, "fat-parent.vhd");
	CU_ASSERT_EQUAL_FATAL(t_fat_parent_write(parent, t_fat_parent_id), 0);
	vr_err_clear(&err);
	CU_ASSERT_EQUAL_FATAL(vhd_open(child, 0, NULL, &h, &err), 0);
	p = vhd_parent(h);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_STRING_EQUAL(vhd_path(p), parent);
	CU_ASSERT_PTR_NULL(vhd_parent(p));
	vhd_get_info(p, &in);
	CU_ASSERT_EQUAL(in.type, VHD_TYPE_FIXED);
	CU_ASSERT_EQUAL(in.block_size, 0);
	CU_ASSERT(!in.has_parent);
	vhd_id_format(in.id, id);
	CU_ASSERT_STRING_EQUAL(id, "5fa21a55-f394-aa4d-9958-1951a67d5540");
	CU_ASSERT_EQUAL(vhd_read(h, buf, sizeof(buf), 0, &err), 0);
	vhd_close(h);
	h = NULL;
	/* NO_PARENT ignores a parent that is there */
	CU_ASSERT_EQUAL_FATAL(
		vhd_open(child, VHD_OPEN_NO_PARENT, parent, &h, &err), 0);
	CU_ASSERT_PTR_NULL(vhd_parent(h));
	vhd_close(h);
	free(parent);
	free(child);
	free(dir);
}

/* A differencing disk naming no parent: the names are NULL, not "". */
static void test_vhd_info_without_parent_names(void)
{
	static const uint8_t id[16] = { 0x91 }, pid[16] = { 0x92, 0x93 };
	struct vr_err err = { 0 };
	char *dir = t_dir_new(), *path;
	struct vhd_info in;
	struct t_vhd v;
	struct vhd *h = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	path = t_path(dir, "anon.vhd");
	t_vhd_diff(&v, MIB, id, pid, NULL, NULL);
	CU_ASSERT_EQUAL_FATAL(t_vhd_write(path, &v), 0);
	CU_ASSERT_EQUAL(vhd_open(path, 0, NULL, &h, &err), -ENOENT);
	CU_ASSERT(t_msg_has(&err, "names no usable parent path"));
	CU_ASSERT_EQUAL_FATAL(
		vhd_open(path, VHD_OPEN_NO_PARENT, NULL, &h, &err), 0);
	vhd_get_info(h, &in);
	CU_ASSERT_EQUAL(in.type, VHD_TYPE_DIFFERENCING);
	CU_ASSERT(in.has_parent);
	CU_ASSERT_EQUAL(memcmp(in.parent_id, pid, 16), 0);
	CU_ASSERT_PTR_NULL(in.parent_name);
	CU_ASSERT_PTR_NULL(in.parent_relative);
	CU_ASSERT_EQUAL(in.block_size, T_BLOCK);
	CU_ASSERT_EQUAL(in.cylinders, 16);
	CU_ASSERT_EQUAL(in.heads, 4);
	CU_ASSERT_EQUAL(in.sectors, 16);
	vhd_close(h);
	free(path);
	free(dir);
}

/* The creator comes from the file: NUL ends it, other bytes become '?'. */
static void test_vhd_info_creator_is_printable(void)
{
	static const struct {
		const char *raw, *shown;
	} cases[] = {
		{ "win ", "win " },
		{ "tap\0", "tap" },
		{ "a\tb\xc3", "a?b?" },
		{ "\0vpc", "" },
	};
	struct vr_err err = { 0 };
	char *dir = t_dir_new(), *path;
	struct vhd_info in;
	struct t_vhd v;
	unsigned i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	path = t_path(dir, "creator.vhd");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vhd *h = NULL;

		t_vhd_fixed(&v, cases[i].raw, 64 * 1024, 2);
		CU_ASSERT_EQUAL_FATAL(t_vhd_write(path, &v), 0);
		CU_ASSERT_EQUAL_FATAL(vhd_open(path, 0, NULL, &h, &err), 0);
		vhd_get_info(h, &in);
		CU_ASSERT_STRING_EQUAL(in.creator, cases[i].shown);
		CU_ASSERT_EQUAL(in.creator_version, 0x000a0000);
		vhd_close(h);
	}
	free(path);
	free(dir);
}

/*
 * The block size comes from the dynamic header, which is now read for
 * dynamic disks too: its checksum and block size are checked like a
 * differencing disk's.
 */
static void test_vhd_dynamic_header_is_checked(void)
{
	struct vr_err err = { 0 };
	char *dir = t_dir_new(), *path;
	uint8_t *buf;
	uint64_t dyn;
	size_t len = 0;
	struct vhd *h = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	path = t_path(dir, "dyn.vhd");
	buf = t_file_read(t_corpus("dissect/dynamic.vhd.gz"), &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	dyn = t_get_be64(buf + len - T_SECTOR + 16);
	CU_ASSERT_FATAL(dyn < len - 1024);

	/* a reserved byte flipped: checksum */
	buf[dyn + 1000] ^= 0x01;
	CU_ASSERT_EQUAL_FATAL(t_file_write(path, buf, len), 0);
	CU_ASSERT_EQUAL(vhd_open(path, 0, NULL, &h, &err), -VR_EBADCRC);
	CU_ASSERT(t_msg_has(&err, "dyn.vhd: dynamic header at 0x200: "
				  "checksum mismatch"));
	CU_ASSERT_PTR_NULL(h);
	printf("# %s\n", err.msg);
	buf[dyn + 1000] ^= 0x01;

	/* a block size of 3 MiB, checksum fixed up */
	t_put_be32(buf + dyn + 32, 3 * MIB);
	t_csum_set(buf + dyn, 1024, 36);
	CU_ASSERT_EQUAL_FATAL(t_file_write(path, buf, len), 0);
	vr_err_clear(&err);
	CU_ASSERT_EQUAL(vhd_open(path, 0, NULL, &h, &err), -VR_ECORRUPT);
	CU_ASSERT(t_msg_has(&err, "block size 3145728 is not a power of two"));
	CU_ASSERT_PTR_NULL(h);
	printf("# %s\n", err.msg);
	free(buf);
	free(path);
	free(dir);
}

static void test_vhd_read_outside_disk_is_einval(void)
{
	struct vr_err err = { 0 };
	const char *path = t_corpus("dissect/dynamic.vhd.gz");
	uint8_t buf[T_SECTOR];
	struct vhd *h = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	CU_ASSERT_EQUAL_FATAL(vhd_open(path, 0, NULL, &h, &err), 0);
	CU_ASSERT_EQUAL(vhd_read(h, buf, 0, T_DISSECT_SIZE, &err), 0);
	CU_ASSERT_EQUAL(vhd_read(h, buf, 2, T_DISSECT_SIZE - 1, &err), -EINVAL);
	CU_ASSERT(t_msg_has(&err, path));
	CU_ASSERT(t_msg_has(&err, "0x9fffff"));
	CU_ASSERT_EQUAL(vhd_read(h, buf, 1, UINT64_MAX, &err), -EINVAL);
	vhd_close(h);
}

/* ---- disk: probing ---- */

static void test_disk_probe_finds_vhd(void)
{
	static const char *const rels[] = {
		"qemu/hyperv2012r2-dynamic.vhd.bz2",
		"qemu/virtualpc-dynamic.vhd.bz2",
		"qemu/d2v-zerofilled.vhd.bz2",
		"dissect/fixed.vhd.gz", /* footer only: qemu says raw */
		"dissect/dynamic.vhd.gz",
		"dfvfs/fat-differential.vhd.xz",
	};
	struct vr_err err = { 0 };
	enum disk_format fmt;
	char *dir = t_dir_new(), *path;
	uint8_t *buf;
	struct t_vhd v;
	unsigned i;

	for (i = 0; i < sizeof(rels) / sizeof(rels[0]); i++) {
		const char *p = t_corpus(rels[i]);

		CU_ASSERT_PTR_NOT_NULL_FATAL(p);
		fmt = DISK_FORMAT_AUTO;
		CU_ASSERT_EQUAL(disk_probe(p, &fmt, &err), 0);
		CU_ASSERT_EQUAL(fmt, DISK_FORMAT_VHD);
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	path = t_path(dir, "probe.vhd");
	/* a 511-byte footer (old Virtual PC) */
	t_vhd_fixed(&v, "vpc ", 64 * 1024, 1);
	CU_ASSERT_EQUAL_FATAL(t_vhd_write(path, &v), 0);
	CU_ASSERT_EQUAL_FATAL(truncate(path, 64 * 1024 + 511), 0);
	fmt = DISK_FORMAT_AUTO;
	CU_ASSERT_EQUAL(disk_probe(path, &fmt, &err), 0);
	CU_ASSERT_EQUAL(fmt, DISK_FORMAT_VHD);
	/* only the copy at offset 0 of a dynamic disk */
	buf = calloc(1, 8192);
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	memcpy(buf, "conectix", 8);
	CU_ASSERT_EQUAL_FATAL(t_file_write(path, buf, 8192), 0);
	fmt = DISK_FORMAT_AUTO;
	CU_ASSERT_EQUAL(disk_probe(path, &fmt, &err), 0);
	CU_ASSERT_EQUAL(fmt, DISK_FORMAT_VHD);
	free(buf);
	free(path);
	free(dir);
}

static void test_disk_probe_finds_raw_and_vhdx(void)
{
	static const size_t sizes[] = { 0, 3, 8, 511, 4096 };
	struct vr_err err = { 0 };
	enum disk_format fmt;
	char *dir = t_dir_new(), *path, *gone;
	uint8_t *buf = calloc(1, 65536);
	unsigned i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	path = t_path(dir, "probe.img");
	gone = t_path(dir, "gone.img");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		memset(buf, 0x5a, sizes[i]);
		CU_ASSERT_EQUAL_FATAL(t_file_write(path, buf, sizes[i]), 0);
		fmt = DISK_FORMAT_AUTO;
		CU_ASSERT_EQUAL(disk_probe(path, &fmt, &err), 0);
		CU_ASSERT_EQUAL(fmt, DISK_FORMAT_RAW);
	}
	memset(buf, 0, 65536);
	memcpy(buf, "vhdxfile", 8);
	CU_ASSERT_EQUAL_FATAL(t_file_write(path, buf, 65536), 0);
	fmt = DISK_FORMAT_AUTO;
	CU_ASSERT_EQUAL(disk_probe(path, &fmt, &err), 0);
	CU_ASSERT_EQUAL(fmt, DISK_FORMAT_VHDX);

	CU_ASSERT_EQUAL(disk_probe(gone, &fmt, &err), -ENOENT);
	CU_ASSERT(t_msg_has(&err, gone));
	vr_err_clear(&err);
	CU_ASSERT_EQUAL(disk_probe(dir, &fmt, &err), -EISDIR);

	CU_ASSERT_STRING_EQUAL(disk_format_name(DISK_FORMAT_RAW), "raw");
	CU_ASSERT_STRING_EQUAL(disk_format_name(DISK_FORMAT_VHDX), "vhdx");
	CU_ASSERT_STRING_EQUAL(disk_format_name(DISK_FORMAT_VHD), "vhd");
	free(buf);
	free(path);
	free(gone);
	free(dir);
}

/* ---- disk: raw images ---- */

#define T_RAW_SIZE (8ull * MIB)
#define T_RAW_DATA (3ull * MIB)
#define T_RAW_DATA_LEN (64u * 1024)

/* An 8 MiB sparse file with 64 KiB of 0x5a at 3 MiB; caller frees. */
static char *t_raw_sparse(char **dir)
{
	uint8_t *data = malloc(T_RAW_DATA_LEN);
	char *path = NULL;
	int fd = -1;

	*dir = t_dir_new();
	if (!*dir || !data)
		goto out;
	path = t_path(*dir, "sparse.img");
	if (!path)
		goto out;
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	memset(data, 0x5a, T_RAW_DATA_LEN);
	if (fd < 0 || ftruncate(fd, (off_t)T_RAW_SIZE) < 0 ||
	    vr_pwrite_full(fd, data, T_RAW_DATA_LEN, T_RAW_DATA) < 0) {
		free(path);
		path = NULL;
	}
out:
	if (fd >= 0)
		close(fd);
	free(data);
	return path;
}

static void test_disk_raw_sparse_reads_and_extents(void)
{
	struct vr_err err = { 0 };
	char *dir = NULL, *path = t_raw_sparse(&dir);
	uint8_t *got = malloc(T_RAW_SIZE), *want = calloc(1, T_RAW_SIZE);
	struct disk *d = NULL;
	uint64_t off, run = 0, data_seen = 0;
	bool zero = false, fs_has_holes;
	int fd;

	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	CU_ASSERT_PTR_NOT_NULL_FATAL(want);
	memset(want + T_RAW_DATA, 0x5a, T_RAW_DATA_LEN);
	CU_ASSERT_EQUAL_FATAL(
		disk_open(path, DISK_FORMAT_AUTO, NULL, &d, NULL, &err), 0);
	CU_ASSERT_EQUAL(disk_get_format(d), DISK_FORMAT_RAW);
	CU_ASSERT_EQUAL(disk_size(d), T_RAW_SIZE);
	CU_ASSERT_PTR_NULL(disk_vhdx(d));
	CU_ASSERT_PTR_NULL(disk_vhd(d));
	CU_ASSERT_EQUAL(disk_read(d, got, T_RAW_SIZE, 0, &err), 0);
	CU_ASSERT_EQUAL(memcmp(got, want, T_RAW_SIZE), 0);
	CU_ASSERT_EQUAL(disk_read(d, got, 10, T_RAW_DATA - 5, &err), 0);
	CU_ASSERT_EQUAL(memcmp(got, want + T_RAW_DATA - 5, 10), 0);

	/* walk the extents: they tile the disk, zero runs read as zero */
	for (off = 0; off < T_RAW_SIZE; off += run) {
		run = 0;
		CU_ASSERT_EQUAL_FATAL(disk_extent(d, off, T_RAW_SIZE - off,
						  &run, &zero, &err),
				      0);
		CU_ASSERT_FATAL(run > 0 && run <= T_RAW_SIZE - off);
		if (zero) {
			CU_ASSERT(t_all_zero(want + off, (size_t)run));
		} else if (off <= T_RAW_DATA && off + run > T_RAW_DATA) {
			data_seen = off + run;
		}
	}
	CU_ASSERT_EQUAL(off, T_RAW_SIZE);
	CU_ASSERT(data_seen >= T_RAW_DATA + T_RAW_DATA_LEN);

	/* where the file system reports holes, the first 3 MiB is one */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CU_ASSERT_FATAL(fd >= 0);
	fs_has_holes = lseek(fd, 0, SEEK_DATA) == (off_t)T_RAW_DATA;
	close(fd);
	if (fs_has_holes) {
		CU_ASSERT_EQUAL(
			disk_extent(d, 0, T_RAW_SIZE, &run, &zero, &err), 0);
		CU_ASSERT(zero);
		CU_ASSERT_EQUAL(run, T_RAW_DATA);
		CU_ASSERT_EQUAL(disk_extent(d, T_RAW_DATA,
					    T_RAW_SIZE - T_RAW_DATA, &run,
					    &zero, &err),
				0);
		CU_ASSERT(!zero);
		CU_ASSERT_EQUAL(run, T_RAW_DATA_LEN);
		CU_ASSERT_EQUAL(disk_extent(d, T_RAW_SIZE - 4096, 4096, &run,
					    &zero, &err),
				0);
		CU_ASSERT(zero);
		CU_ASSERT_EQUAL(run, 4096);
	} else {
		printf("# file system reports no holes; hole checks skipped\n");
	}
	/* a run never exceeds what was asked */
	CU_ASSERT_EQUAL(disk_extent(d, 0, 4096, &run, &zero, &err), 0);
	CU_ASSERT_EQUAL(run, 4096);
	CU_ASSERT_EQUAL(disk_extent(d, T_RAW_DATA + 8, 16, &run, &zero, &err),
			0);
	CU_ASSERT(!zero);
	CU_ASSERT_EQUAL(run, 16);
	disk_close(d);
	free(got);
	free(want);
	free(path);
	free(dir);
}

static void test_disk_rejects_ranges_outside_the_disk(void)
{
	struct vr_err err = { 0 };
	char *dir = NULL, *path = t_raw_sparse(&dir);
	uint8_t buf[16];
	struct disk *d = NULL;
	uint64_t run;
	bool zero;

	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	CU_ASSERT_EQUAL_FATAL(
		disk_open(path, DISK_FORMAT_RAW, NULL, &d, NULL, &err), 0);
	CU_ASSERT_EQUAL(disk_read(d, buf, 0, T_RAW_SIZE, &err), 0);
	CU_ASSERT_EQUAL(disk_read(d, buf, 16, T_RAW_SIZE - 8, &err), -EINVAL);
	CU_ASSERT(t_msg_has(&err, path));
	CU_ASSERT(t_msg_has(&err, "16 bytes at 0x7ffff8"));
	CU_ASSERT(t_msg_has(&err, "8388608 bytes"));
	printf("# %s\n", err.msg);
	vr_err_clear(&err);
	CU_ASSERT_EQUAL(disk_read(d, buf, 16, UINT64_MAX - 4, &err), -EINVAL);
	CU_ASSERT_EQUAL(disk_extent(d, T_RAW_SIZE, 1, &run, &zero, &err),
			-EINVAL);
	CU_ASSERT_EQUAL(disk_extent(d, 0, 0, &run, &zero, &err), -EINVAL);
	CU_ASSERT_EQUAL(disk_extent(d, 1, T_RAW_SIZE, &run, &zero, &err),
			-EINVAL);
	disk_close(d);
	free(path);
	free(dir);
}

static void test_disk_raw_short_read_is_eio(void)
{
	struct vr_err err = { 0 };
	char *dir = NULL, *path = t_raw_sparse(&dir);
	uint8_t buf[T_SECTOR];
	struct disk *d = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(path);
	CU_ASSERT_EQUAL_FATAL(
		disk_open(path, DISK_FORMAT_RAW, NULL, &d, NULL, &err), 0);
	/* the file shrinks behind the open disk */
	CU_ASSERT_EQUAL_FATAL(truncate(path, MIB), 0);
	CU_ASSERT_EQUAL(disk_read(d, buf, sizeof(buf), 2 * MIB, &err), -EIO);
	CU_ASSERT(t_msg_has(&err, "short read at 0x200000"));
	disk_close(d);
	/* a raw image has no parent */
	vr_err_clear(&err);
	d = NULL;
	CU_ASSERT_EQUAL(
		disk_open(path, DISK_FORMAT_RAW, "/x.vhd", &d, NULL, &err),
		-EINVAL);
	CU_ASSERT_PTR_NULL(d);
	free(path);
	free(dir);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	CU_pSuite s;
	int rc;

	snprintf(t_root, sizeof(t_root), "%s/test_vhd.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(t_root)) {
		perror(t_root);
		return 1;
	}
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("vhd", NULL, NULL);
	CU_add_test(s, "test_vhd_hyperv_dynamic_uses_current_size",
		    test_vhd_hyperv_dynamic_uses_current_size);
	CU_add_test(s, "test_vhd_virtualpc_dynamic_uses_chs_size",
		    test_vhd_virtualpc_dynamic_uses_chs_size);
	CU_add_test(s, "test_vhd_d2v_max_geometry_uses_current_size",
		    test_vhd_d2v_max_geometry_uses_current_size);
	CU_add_test(s, "test_vhd_fixed_content", test_vhd_fixed_content);
	CU_add_test(s, "test_vhd_dynamic_content", test_vhd_dynamic_content);
	CU_add_test(s, "test_vhd_differencing_without_parent_is_enoent",
		    test_vhd_differencing_without_parent_is_enoent);
	CU_add_test(s, "test_vhd_differencing_reads_by_sector_bitmap",
		    test_vhd_differencing_reads_by_sector_bitmap);
	CU_add_test(s, "test_vhd_differencing_parent_path_override",
		    test_vhd_differencing_parent_path_override);
	CU_add_test(s, "test_vhd_differencing_rejects_wrong_parent",
		    test_vhd_differencing_rejects_wrong_parent);
	CU_add_test(s, "test_vhd_differencing_detects_loops",
		    test_vhd_differencing_detects_loops);
	CU_add_test(s, "test_vhd_chain_depth_is_capped_at_64",
		    test_vhd_chain_depth_is_capped_at_64);
	CU_add_test(s, "test_vhd_differencing_finds_parent_by_relative_locator",
		    test_vhd_differencing_finds_parent_by_relative_locator);
	CU_add_test(s, "test_vhd_chain_reads_each_sector_from_its_owner",
		    test_vhd_chain_reads_each_sector_from_its_owner);
	CU_add_test(s, "test_vhd_differencing_rejects_block_past_eof",
		    test_vhd_differencing_rejects_block_past_eof);
	CU_add_test(s, "test_vhd_size_rule_follows_creator_and_geometry",
		    test_vhd_size_rule_follows_creator_and_geometry);
	CU_add_test(s, "test_vhd_rejects_bad_input",
		    test_vhd_rejects_bad_input);
	CU_add_test(s, "test_vhd_read_outside_disk_is_einval",
		    test_vhd_read_outside_disk_is_einval);
	CU_add_test(s, "test_vhd_info_matches_vhdiinfo_on_corpus",
		    test_vhd_info_matches_vhdiinfo_on_corpus);
	CU_add_test(s, "test_vhd_info_of_differencing_child_names_its_parent",
		    test_vhd_info_of_differencing_child_names_its_parent);
	CU_add_test(s, "test_vhd_no_parent_open_describes_but_does_not_read",
		    test_vhd_no_parent_open_describes_but_does_not_read);
	CU_add_test(s, "test_vhd_info_without_parent_names",
		    test_vhd_info_without_parent_names);
	CU_add_test(s, "test_vhd_info_creator_is_printable",
		    test_vhd_info_creator_is_printable);
	CU_add_test(s, "test_vhd_dynamic_header_is_checked",
		    test_vhd_dynamic_header_is_checked);

	s = CU_add_suite("disk", NULL, NULL);
	CU_add_test(s, "test_disk_probe_finds_vhd", test_disk_probe_finds_vhd);
	CU_add_test(s, "test_disk_probe_finds_raw_and_vhdx",
		    test_disk_probe_finds_raw_and_vhdx);
	CU_add_test(s, "test_disk_raw_sparse_reads_and_extents",
		    test_disk_raw_sparse_reads_and_extents);
	CU_add_test(s, "test_disk_rejects_ranges_outside_the_disk",
		    test_disk_rejects_ranges_outside_the_disk);
	CU_add_test(s, "test_disk_raw_short_read_is_eio",
		    test_disk_raw_short_read_is_eio);

	rc = tap_run();
	nftw(t_root, t_rm, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
