/*
 * test_partition.c - partition tables: MBR with logical partitions, GPT
 * with names, GPT on 4096-byte sectors, gaps in the numbering, the
 * Windows-made tables of the corpus, all compared with what util-linux's
 * sfdisk and fdisk (the oracles) dump for the same image; then damage made
 * by hand: a bad primary GPT (the backup takes over), both bad, entry
 * array checksums, each header field at and past its limit, partitions
 * past the end, EBR chains that loop, leave their container or never end,
 * truncation at every structure, blank and tiny disks and file systems
 * written on the whole disk. Also the IEEE CRC-32 known answer.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "corpus.h"
#include "disk.h"
#include "partition.h"
#include "tap.h"
#include "vhdx.h"
#include "vr_crc.h"
#include "vr_endian.h"
#include "vr_err.h"

#define T_MIB (1024u * 1024u)
#define T_EURO4 "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
#define T_EURO36                                                               \
	T_EURO4 T_EURO4 T_EURO4 T_EURO4 T_EURO4 T_EURO4 T_EURO4 T_EURO4 T_EURO4
#define T_MAX_PARTS 16

/* One partition line of an sfdisk dump ("sfdisk -d", fdisk's "O"). */
struct t_line {
	unsigned number;
	uint64_t start, size; /* sectors */
	char type[40];
	char uuid[40];
	char name[160];
};

/* What the tool says about an image. */
struct t_table {
	char label[16];
	unsigned ss;
	uint64_t first_lba, last_lba; /* GPT: the usable LBAs */
	size_t n;
	struct t_line p[T_MAX_PARTS];
};

/* Run a shell command made from @fmt; its exit status (0 is success). */
static int t_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int t_sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* @name in the work dir: the same static string for the same name. */
static const char *t_path(const char *name)
{
	static struct {
		char name[32];
		char path[4200];
	} paths[32];
	static unsigned used;
	unsigned i;

	for (i = 0; i < used; i++)
		if (strcmp(paths[i].name, name) == 0)
			return paths[i].path;
	CU_ASSERT_FATAL(used < 32 && strlen(name) < sizeof(paths[0].name));
	snprintf(paths[used].name, sizeof(paths[0].name), "%s", name);
	snprintf(paths[used].path, sizeof(paths[0].path), "%s/%s",
		 tap_workdir(), name);
	return paths[used++].path;
}

/* A new sparse file of @size bytes (zeros). */
static void t_blank(const char *path, uint64_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL_FATAL(ftruncate(fd, (off_t)size), 0);
	CU_ASSERT_EQUAL_FATAL(close(fd), 0);
}

static void t_patch(const char *path, uint64_t off, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL_FATAL(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
	CU_ASSERT_EQUAL_FATAL(close(fd), 0);
}

static void t_peek(const char *path, uint64_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL_FATAL(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	CU_ASSERT_EQUAL_FATAL(close(fd), 0);
}

static uint64_t t_file_size(const char *path)
{
	struct stat st;

	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

static void t_copy(const char *src, const char *dst)
{
	CU_ASSERT_EQUAL_FATAL(t_sh("cp --sparse=always '%s' '%s'", src, dst),
			      0);
}

static void t_flip(const char *path, uint64_t off)
{
	uint8_t b;

	t_peek(path, off, &b, 1);
	b ^= 0x5a;
	t_patch(path, off, &b, 1);
}

/* Read the table of @path. The result array is the caller's. */
static int t_read(const char *path, enum disk_format fmt,
		  enum partition_scheme *scheme, struct partition **parts,
		  size_t *n, struct vr_err *err)
{
	struct disk *d = NULL;
	int rc;

	vr_err_clear(err);
	rc = disk_open(path, fmt, NULL, &d, NULL, err);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	rc = partition_table_read(d, scheme, parts, n, err);
	if (rc < 0)
		printf("# %s\n", err->msg);
	disk_close(d);
	return rc;
}

/* Parse the value at *@s (quoted with \xNN escapes, or up to a comma). */
static void t_value(const char **s, char *out, size_t size)
{
	const char *p = *s;
	size_t n = 0;

	if (*p == '"') {
		for (p++; *p && *p != '"'; p++) {
			int c = (unsigned char)*p;
			unsigned v;

			if (*p == '\\' && p[1] == 'x' &&
			    sscanf(p + 2, "%2x", &v) == 1) {
				c = (int)v;
				p += 3;
			} else if (*p == '\\' && p[1]) {
				c = (unsigned char)*++p;
			}
			if (n + 1 < size)
				out[n++] = (char)c;
		}
		if (*p == '"')
			p++;
	} else {
		for (; *p && *p != ',' && *p != '\n'; p++)
			if (n + 1 < size && *p != ' ')
				out[n++] = *p;
	}
	out[n] = '\0';
	*s = p;
}

/* Parse one "NODE : start=..., size=..., ..." line into @l. */
static bool t_parse_line(const char *line, struct t_line *l)
{
	const char *colon = strstr(line, " : ");
	const char *p;
	char key[16], val[64];

	if (!colon)
		return false;
	memset(l, 0, sizeof(*l));
	p = colon;
	while (p > line && p[-1] >= '0' && p[-1] <= '9')
		p--;
	l->number = (unsigned)strtoul(p, NULL, 10);
	p = colon + 3;
	while (*p && *p != '\n') {
		size_t k = 0;

		while (*p == ' ' || *p == ',')
			p++;
		while (*p && *p != '=' && *p != '\n' && k + 1 < sizeof(key))
			key[k++] = *p++;
		key[k] = '\0';
		if (*p != '=')
			break; /* a flag such as "bootable" ends the line */
		p++;
		while (*p == ' ')
			p++;
		if (strcmp(key, "type") == 0) {
			t_value(&p, l->type, sizeof(l->type));
		} else if (strcmp(key, "uuid") == 0) {
			t_value(&p, l->uuid, sizeof(l->uuid));
		} else if (strcmp(key, "name") == 0) {
			t_value(&p, l->name, sizeof(l->name));
		} else {
			t_value(&p, val, sizeof(val));
			if (strcmp(key, "start") == 0)
				l->start = strtoull(val, NULL, 10);
			else if (strcmp(key, "size") == 0)
				l->size = strtoull(val, NULL, 10);
		}
	}
	return l->number > 0 && l->size > 0;
}

static void t_parse_dump(const char *file, struct t_table *t)
{
	FILE *f = fopen(file, "r");
	char line[1024];

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	memset(t, 0, sizeof(*t));
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "label: %15s", t->label) == 1)
			continue;
		if (sscanf(line, "sector-size: %u", &t->ss) == 1)
			continue;
		if (sscanf(line, "first-lba: %" SCNu64, &t->first_lba) == 1)
			continue;
		if (sscanf(line, "last-lba: %" SCNu64, &t->last_lba) == 1)
			continue;
		if (t->n < T_MAX_PARTS && t_parse_line(line, &t->p[t->n]))
			t->n++;
	}
	fclose(f);
	CU_ASSERT_FATAL(t->ss == 512 || t->ss == 4096);
	CU_ASSERT_FATAL(t->n > 0);
}

/* What sfdisk (512-byte sectors) or fdisk -b 4096 dumps of @img. */
static void t_oracle(const char *img, unsigned ss, struct t_table *t)
{
	const char *dump = t_path("oracle.dump");
	int rc;

	if (ss == 4096)
		rc = t_sh(
			"printf 'O\\n%s\\nq\\n' | fdisk -b 4096 '%s' >/dev/null",
			dump, img);
	else
		rc = t_sh("sfdisk -d '%s' >'%s'", img, dump);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	t_parse_dump(dump, t);
	CU_ASSERT_EQUAL(t->ss, ss);
}

static bool t_is_extended(const struct t_table *t, const struct t_line *l)
{
	unsigned long type = strtoul(l->type, NULL, 16);

	return strcmp(t->label, "dos") == 0 &&
	       (type == 0x05 || type == 0x0f || type == 0x85);
}

/* @parts (@n of @scheme) is exactly what the tool says, in number order. */
static void t_same(const struct t_table *t, enum partition_scheme scheme,
		   const struct partition *parts, size_t n)
{
	static const uint8_t zero[16];
	size_t i, k = 0;
	char text[37];

	CU_ASSERT_EQUAL(scheme, strcmp(t->label, "dos") == 0 ? PARTITION_MBR
							     : PARTITION_GPT);
	for (i = 0; i < t->n; i++) {
		const struct t_line *l = &t->p[i];
		const struct partition *p = &parts[k];

		if (t_is_extended(t, l))
			continue; /* the container is not returned */
		CU_ASSERT_FATAL(k < n);
		k++;
		CU_ASSERT_EQUAL(p->number, l->number);
		CU_ASSERT_EQUAL(p->offset, l->start * t->ss);
		CU_ASSERT_EQUAL(p->size, l->size * t->ss);
		if (scheme == PARTITION_MBR) {
			CU_ASSERT_EQUAL(p->mbr_type,
					strtoul(l->type, NULL, 16));
			CU_ASSERT(memcmp(p->type_guid, zero, 16) == 0);
			CU_ASSERT(memcmp(p->guid, zero, 16) == 0);
			CU_ASSERT_STRING_EQUAL(p->name, "");
			continue;
		}
		CU_ASSERT_EQUAL(p->mbr_type, 0);
		vhdx_guid_format(p->type_guid, text);
		CU_ASSERT(strcasecmp(text, l->type) == 0);
		vhdx_guid_format(p->guid, text);
		CU_ASSERT(strcasecmp(text, l->uuid) == 0);
		CU_ASSERT_STRING_EQUAL(p->name, l->name);
	}
	CU_ASSERT_EQUAL(n, k);
	for (i = 1; i < n; i++)
		CU_ASSERT(parts[i - 1].number < parts[i].number);
}

/* Read @img and compare with the tool's dump @t. */
static void t_check(const char *img, enum disk_format fmt,
		    const struct t_table *t)
{
	enum partition_scheme scheme;
	struct partition *parts = NULL;
	struct vr_err err = { 0 };
	size_t n = 0;

	CU_ASSERT_EQUAL_FATAL(t_read(img, fmt, &scheme, &parts, &n, &err), 0);
	t_same(t, scheme, parts, n);
	free(parts);
}

/*
 * Expect -VR_ECORRUPT from @img, a message naming it and holding every
 * one of the NULL-terminated substrings, and the outputs untouched.
 */
static void t_corrupt(const char *img, ...)
{
	enum partition_scheme scheme = (enum partition_scheme)77;
	struct partition sentinel, *parts = &sentinel;
	struct vr_err err = { 0 };
	size_t n = 999;
	const char *want;
	va_list ap;

	CU_ASSERT_EQUAL(t_read(img, DISK_FORMAT_RAW, &scheme, &parts, &n, &err),
			-VR_ECORRUPT);
	CU_ASSERT_EQUAL(err.code, -VR_ECORRUPT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, img));
	va_start(ap, img);
	while ((want = va_arg(ap, const char *))) {
		if (!strstr(err.msg, want))
			printf("# missing \"%s\" in: %s\n", want, err.msg);
		CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, want));
	}
	va_end(ap);
	CU_ASSERT_EQUAL(scheme, (enum partition_scheme)77);
	CU_ASSERT_PTR_EQUAL(parts, &sentinel);
	CU_ASSERT_EQUAL(n, 999);
}

/* Expect no table in @img. */
static void t_none(const char *img)
{
	enum partition_scheme scheme = PARTITION_GPT;
	struct partition sentinel, *parts = &sentinel;
	struct vr_err err = { 0 };
	size_t n = 999;

	CU_ASSERT_EQUAL(t_read(img, DISK_FORMAT_RAW, &scheme, &parts, &n, &err),
			0);
	CU_ASSERT_EQUAL(scheme, PARTITION_NONE);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_PTR_NULL(parts);
}

/*
 * A 64 MiB disk image @name with the partition table sfdisk makes of
 * @script, made once per run (*@made).
 */
static const char *t_sfdisk_image(const char *name, const char *script,
				  bool *made)
{
	const char *img = t_path(name);

	if (!*made) {
		t_blank(img, 64 * T_MIB);
		CU_ASSERT_EQUAL_FATAL(
			t_sh("printf '%s' | sfdisk -q '%s'", script, img), 0);
		*made = true;
	}
	return img;
}

/* The images the tools make, once per run; tests change only copies. */
static const char *t_mbr_image(void)
{
	static const char *script = "label: dos\n"
				    "start=2048, size=10240, type=83, "
				    "bootable\n"
				    "start=12288, size=8192, type=7\n"
				    "start=20480, type=5\n"
				    "size=4096, type=83\n"
				    "size=8192, type=b\n"
				    "type=82\n";
	static bool made;

	return t_sfdisk_image("mbr.img", script, &made);
}

static const char *t_gpt_image(void)
{
	/*
	 * names: a space, UTF-8 of 2 and 3 bytes (U+00FC, U+20AC), and the
	 * longest a GPT name can be in UTF-8: 36 units of 3 bytes each
	 */
	static const char *script =
		"label: gpt\n"
		"size=10MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, "
		"name=\"root fs\"\n"
		"size=8MiB, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, "
		"name=\"data \xc3\xbc \xe2\x82\xac\"\n"
		"type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name=\"" T_EURO36
		"\"\n";
	static bool made;

	return t_sfdisk_image("gpt.img", script, &made);
}

/*
 * sfdisk takes the sector size of the device (512 for a file) and ignores
 * a script's "sector-size: 4096"; fdisk -b 4096 applies the same script
 * with its "I" command.
 */
static const char *t_gpt4k_image(void)
{
	static const char *script =
		"label: gpt\n"
		"size=10MiB, name=\"alpha one\"\n"
		"size=20MiB, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, "
		"name=b\n"
		"type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, name=swap\n";
	static bool made;
	const char *img = t_path("gpt4k.img");
	const char *file = t_path("gpt4k.script");

	if (!made) {
		FILE *f = fopen(file, "w");

		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		fputs(script, f);
		CU_ASSERT_EQUAL_FATAL(fclose(f), 0);
		t_blank(img, 64 * T_MIB);
		CU_ASSERT_EQUAL_FATAL(
			t_sh("printf 'I\\n%s\\nw\\n' | fdisk -b 4096 '%s' "
			     ">/dev/null",
			     file, img),
			0);
		made = true;
	}
	return img;
}

/* GPT header fields the damage tests change (UEFI table 5.21). */
#define T_GPT_HEADER_SIZE 12
#define T_GPT_HEADER_CRC 16
#define T_GPT_MY_LBA 24
#define T_GPT_FIRST_USABLE 40
#define T_GPT_LAST_USABLE 48
#define T_GPT_ENTRY_LBA 72
#define T_GPT_ENTRY_COUNT 80
#define T_GPT_ENTRY_SIZE 84
#define T_GPT_ENTRY_CRC 88

/* Byte offsets of the primary (0) and backup (1) GPT header of @img. */
static uint64_t t_gpt_header_at(const char *img, unsigned ss, int copy)
{
	return copy ? (t_file_size(img) / ss - 1) * ss : ss;
}

/* Byte offset of the entry array of the GPT header at @hdr. */
static uint64_t t_gpt_entries_at(const char *img, unsigned ss, uint64_t hdr)
{
	uint8_t b[8];

	t_peek(img, hdr + T_GPT_ENTRY_LBA, b, 8);
	return vr_get_le64(b) * ss;
}

/*
 * Make the checksums of the GPT header at @hdr right again: the entry
 * array's if @entries, then the header's.
 */
static void t_gpt_fix(const char *img, unsigned ss, uint64_t hdr, bool entries)
{
	uint8_t h[4096];
	uint32_t size;

	t_peek(img, hdr, h, ss);
	if (entries) {
		size_t total = (size_t)vr_get_le32(h + T_GPT_ENTRY_COUNT) *
			       vr_get_le32(h + T_GPT_ENTRY_SIZE);
		uint8_t *a = malloc(total);

		CU_ASSERT_PTR_NOT_NULL_FATAL(a);
		t_peek(img, t_gpt_entries_at(img, ss, hdr), a, total);
		vr_put_le32(h + T_GPT_ENTRY_CRC, vr_crc32(0, a, total));
		free(a);
	}
	/* a size past the sector is refused before its checksum is read */
	size = vr_get_le32(h + T_GPT_HEADER_SIZE);
	if (size > ss)
		size = ss;
	vr_put_le32(h + T_GPT_HEADER_CRC, 0);
	vr_put_le32(h + T_GPT_HEADER_CRC, vr_crc32(0, h, size));
	t_patch(img, hdr, h, ss);
}

/* Set a little-endian field of @width bytes in both GPT headers. */
static void t_gpt_set_both(const char *img, unsigned ss, unsigned field,
			   unsigned width, uint64_t value)
{
	uint8_t b[8];
	int copy;

	for (copy = 0; copy < 2; copy++) {
		uint64_t hdr = t_gpt_header_at(img, ss, copy);

		if (width == 4)
			vr_put_le32(b, (uint32_t)value);
		else
			vr_put_le64(b, value);
		t_patch(img, hdr + field, b, width);
		t_gpt_fix(img, ss, hdr, false);
	}
}

static void test_vr_crc32_known_answer(void)
{
	static const char check[] = "123456789";

	CU_ASSERT_EQUAL(vr_crc32(0, check, 9), 0xCBF43926u);
	CU_ASSERT_EQUAL(vr_crc32(vr_crc32(0, check, 4), check + 4, 5),
			0xCBF43926u);
	CU_ASSERT_EQUAL(vr_crc32(0, NULL, 0), 0);
	CU_ASSERT_EQUAL(vr_crc32(0x12345678u, check, 0), 0x12345678u);
	/* "The quick brown fox jumps over the lazy dog", zlib's crc32() */
	CU_ASSERT_EQUAL(
		vr_crc32(0, "The quick brown fox jumps over the lazy dog", 43),
		0x414FA339u);
	/* CRC-32C is still itself */
	CU_ASSERT_EQUAL(vr_crc32c(0, check, 9), 0xE3069283u);
}

static void test_partition_names_and_guid_text(void)
{
	/* 0FC63DAF-8483-4772-8E79-3D69D8477DE4, on-disk order */
	static const uint8_t linux_data[16] = { 0xaf, 0x3d, 0xc6, 0x0f,
						0x83, 0x84, 0x72, 0x47,
						0x8e, 0x79, 0x3d, 0x69,
						0xd8, 0x47, 0x7d, 0xe4 };
	/* EBD0A0A2-B9E5-4433-87C0-68B6B72699C7 */
	static const uint8_t basic_data[16] = { 0xa2, 0xa0, 0xd0, 0xeb,
						0xe5, 0xb9, 0x33, 0x44,
						0x87, 0xc0, 0x68, 0xb6,
						0xb7, 0x26, 0x99, 0xc7 };
	char text[37];

	CU_ASSERT_STRING_EQUAL(partition_scheme_name(PARTITION_NONE), "none");
	CU_ASSERT_STRING_EQUAL(partition_scheme_name(PARTITION_MBR), "mbr");
	CU_ASSERT_STRING_EQUAL(partition_scheme_name(PARTITION_GPT), "gpt");
	CU_ASSERT_STRING_EQUAL(partition_scheme_name((enum partition_scheme)9),
			       "unknown");
	vhdx_guid_format(linux_data, text);
	CU_ASSERT_STRING_EQUAL(text, "0fc63daf-8483-4772-8e79-3d69d8477de4");
	vhdx_guid_format(basic_data, text);
	CU_ASSERT_STRING_EQUAL(text, "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7");
}

static void test_partition_mbr_with_logicals_matches_sfdisk(void)
{
	const char *img = t_mbr_image();
	struct t_table t;

	t_oracle(img, 512, &t);
	/* the script asked for 2 primaries, 1 extended, 3 logicals */
	CU_ASSERT_STRING_EQUAL(t.label, "dos");
	CU_ASSERT_EQUAL(t.n, 6);
	CU_ASSERT_EQUAL(t.p[5].number, 7);
	t_check(img, DISK_FORMAT_AUTO, &t);
	t_check(img, DISK_FORMAT_RAW, &t);
	/* boot code that happens to hold "FAT" where a FAT name would be */
	t_copy(img, t_path("fat-code.img"));
	t_patch(t_path("fat-code.img"), 54, "FAT", 3);
	t_check(t_path("fat-code.img"), DISK_FORMAT_RAW, &t);
}

static void test_partition_gpt_with_names_matches_sfdisk(void)
{
	const char *img = t_gpt_image();
	const char *vhdx = t_path("gpt.vhdx");
	struct t_table t;

	t_oracle(img, 512, &t);
	CU_ASSERT_STRING_EQUAL(t.label, "gpt");
	CU_ASSERT_EQUAL(t.n, 3);
	CU_ASSERT_STRING_EQUAL(t.p[1].name, "data \xc3\xbc \xe2\x82\xac");
	CU_ASSERT_EQUAL(strlen(t.p[2].name), 108);
	t_check(img, DISK_FORMAT_AUTO, &t);
	/* the same disk inside a VHDX made by qemu-img */
	CU_ASSERT_EQUAL_FATAL(
		t_sh("qemu-img convert -f raw -O vhdx '%s' '%s'", img, vhdx),
		0);
	t_check(vhdx, DISK_FORMAT_AUTO, &t);
}

static void test_partition_gpt_4k_sectors_matches_fdisk(void)
{
	const char *img = t_gpt4k_image();
	struct t_table t;
	uint8_t b[8];

	t_oracle(img, 4096, &t);
	CU_ASSERT_STRING_EQUAL(t.label, "gpt");
	CU_ASSERT_EQUAL(t.n, 3);
	/* really 4 KiB sectors: the header is at 4096, not 512 */
	t_peek(img, 4096, b, 8);
	CU_ASSERT(memcmp(b, "EFI PART", 8) == 0);
	t_peek(img, 512, b, 8);
	CU_ASSERT(memcmp(b, "EFI PART", 8) != 0);
	t_check(img, DISK_FORMAT_AUTO, &t);
}

/* Unused slots and entries leave gaps in the numbers, as in Linux. */
static void test_partition_numbering_keeps_gaps(void)
{
	const char *mbr = t_path("gap-mbr.img"), *gpt = t_path("gap-gpt.img");
	struct t_table t;

	t_copy(t_mbr_image(), mbr);
	CU_ASSERT_EQUAL_FATAL(t_sh("sfdisk -q --delete '%s' 2", mbr), 0);
	t_oracle(mbr, 512, &t);
	CU_ASSERT_EQUAL(t.p[1].number, 3);
	t_check(mbr, DISK_FORMAT_RAW, &t);

	t_copy(t_gpt_image(), gpt);
	CU_ASSERT_EQUAL_FATAL(t_sh("sfdisk -q --delete '%s' 2", gpt), 0);
	t_oracle(gpt, 512, &t);
	CU_ASSERT_EQUAL(t.n, 2);
	CU_ASSERT_EQUAL(t.p[1].number, 3);
	t_check(gpt, DISK_FORMAT_RAW, &t);
}

/* An empty table is a table: MBR (or GPT) with no partitions. */
static void test_partition_empty_tables(void)
{
	const char *img = t_path("empty.img");
	enum partition_scheme scheme;
	struct partition *parts = NULL;
	struct vr_err err = { 0 };
	size_t n = 9;

	t_blank(img, 8 * T_MIB);
	CU_ASSERT_EQUAL_FATAL(t_sh("echo 'label: dos' | sfdisk -q '%s'", img),
			      0);
	CU_ASSERT_EQUAL(t_read(img, DISK_FORMAT_RAW, &scheme, &parts, &n, &err),
			0);
	CU_ASSERT_EQUAL(scheme, PARTITION_MBR);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_PTR_NULL(parts);
	CU_ASSERT_EQUAL_FATAL(t_sh("echo 'label: gpt' | sfdisk -q '%s'", img),
			      0);
	n = 9;
	CU_ASSERT_EQUAL(t_read(img, DISK_FORMAT_RAW, &scheme, &parts, &n, &err),
			0);
	CU_ASSERT_EQUAL(scheme, PARTITION_GPT);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_PTR_NULL(parts);
}

/*
 * Tables Windows and Disk2vhd wrote (tests/corpus/README.md: MBR, MBR,
 * MBR, GPT), against sfdisk on qemu-img's raw copy of each.
 */
static void test_partition_corpus_matches_sfdisk(void)
{
	static const struct {
		const char *rel;
		const char *label;
		bool dirty; /* replay the log first, with qemu-img */
	} samples[] = {
		{ "dissect/fixed.vhdx.gz", "dos", false },
		{ "dissect/dynamic.vhd.gz", "dos", false },
		{ "qemu/test-disk2vhd.vhdx.bz2", "dos", false },
		{ "adiskreader/small_ntfs_test.vhdx.gz", "gpt", true },
	};
	const char *raw = t_path("corpus.raw");
	size_t i;

	for (i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		char *path = corpus_extract(samples[i].rel);
		struct t_table t;

		CU_ASSERT_PTR_NOT_NULL_FATAL(path);
		if (samples[i].dirty)
			CU_ASSERT_EQUAL_FATAL(
				t_sh("qemu-img check -q -r all '%s'", path), 0);
		CU_ASSERT_EQUAL_FATAL(
			t_sh("qemu-img convert -O raw '%s' '%s'", path, raw),
			0);
		t_oracle(raw, 512, &t);
		CU_ASSERT_STRING_EQUAL(t.label, samples[i].label);
		t_check(path, DISK_FORMAT_AUTO, &t);
		unlink(path);
		free(path);
	}
}

static void test_partition_gpt_bad_primary_uses_backup(void)
{
	const char *img = t_path("bad-primary.img");
	static const uint8_t zero[512];
	struct t_table t, t4k;
	uint8_t last[8];

	t_oracle(t_gpt_image(), 512, &t);
	/* a flipped byte in the disk GUID: header checksum mismatch */
	t_copy(t_gpt_image(), img);
	t_flip(img, 512 + 60);
	t_check(img, DISK_FORMAT_RAW, &t);
	/* a flipped checksum byte */
	t_copy(t_gpt_image(), img);
	t_flip(img, 512 + T_GPT_HEADER_CRC);
	t_check(img, DISK_FORMAT_RAW, &t);
	/* the whole sector gone: no signature at 512 nor at 4096 */
	t_copy(t_gpt_image(), img);
	t_patch(img, 512, zero, sizeof(zero));
	t_check(img, DISK_FORMAT_RAW, &t);
	/* on 4 KiB sectors: the backup is found at the last 4 KiB sector */
	t_oracle(t_gpt4k_image(), 4096, &t4k);
	t_copy(t_gpt4k_image(), img);
	t_patch(img, 4096, zero, sizeof(zero));
	t_check(img, DISK_FORMAT_RAW, &t4k);
	/* a bad primary entry array (its header is fine) */
	t_copy(t_gpt_image(), img);
	t_flip(img, t_gpt_entries_at(img, 512, 512) + 56);
	t_check(img, DISK_FORMAT_RAW, &t);
	/*
	 * a primary whose checksums are right but whose second entry ends
	 * past the usable LBAs: nothing of it survives next to the backup's
	 */
	t_copy(t_gpt_image(), img);
	vr_put_le64(last, t.last_lba + 1);
	t_patch(img, t_gpt_entries_at(img, 512, 512) + 128 + 40, last, 8);
	t_gpt_fix(img, 512, 512, true);
	t_check(img, DISK_FORMAT_RAW, &t);
}

static void test_partition_gpt_both_bad_is_corrupt(void)
{
	const char *img = t_path("both-bad.img");
	uint64_t backup;

	t_copy(t_gpt_image(), img);
	backup = t_gpt_header_at(img, 512, 1);
	t_flip(img, 512 + 60);
	t_flip(img, backup + 60);
	t_corrupt(img, "GPT",
		  "primary header at 0x200: header checksum mismatch",
		  "backup header at 0x3fffe00: header checksum mismatch", NULL);

	/* both entry arrays damaged */
	t_copy(t_gpt_image(), img);
	t_flip(img, t_gpt_entries_at(img, 512, 512) + 56);
	t_flip(img, t_gpt_entries_at(img, 512, backup) + 56);
	t_corrupt(img, "primary header at 0x200: entry array checksum mismatch",
		  "backup header at 0x3fffe00: entry array checksum mismatch",
		  NULL);

	/* a protective MBR and no GPT at all */
	t_blank(img, 8 * T_MIB);
	CU_ASSERT_EQUAL_FATAL(
		t_sh("echo 'type=ee' | sfdisk -q --label dos '%s'", img), 0);
	t_corrupt(
		img,
		"primary header: no \"EFI PART\" signature at 0x200 or 0x1000",
		"backup header: no \"EFI PART\" signature at 0x7ffe00 or 0x7ff000",
		NULL);
}

/*
 * Each header field at its limit (accepted) and past it (refused), in both
 * copies with their checksums made right. Values in terms of the tool's
 * usable LBAs F-L on a disk of S sectors.
 */
static void test_partition_gpt_header_limits(void)
{
	const char *img = t_path("limits.img");
	struct t_table t;
	uint64_t f, l, sectors;
	char want[128];
	size_t i;

	t_oracle(t_gpt_image(), 512, &t);
	f = t.first_lba;
	l = t.last_lba;
	sectors = t_file_size(t_gpt_image()) / 512;
	CU_ASSERT_FATAL(f > 2 && f <= l && l < sectors);
	const struct {
		unsigned field, width;
		uint64_t value;
		const char *problem; /* NULL: still valid */
	} cases[] = {
		{ T_GPT_HEADER_SIZE, 4, 91, "header size 91 out of range" },
		{ T_GPT_HEADER_SIZE, 4, 92, NULL },
		{ T_GPT_HEADER_SIZE, 4, 512, NULL },
		{ T_GPT_HEADER_SIZE, 4, 513, "header size 513 out of range" },
		{ T_GPT_HEADER_SIZE, 4, 0xffffffffu, "out of range" },
		{ T_GPT_MY_LBA, 8, 2, "names LBA 2 as its own" },
		{ T_GPT_ENTRY_SIZE, 4, 120, "entry size 120" },
		{ T_GPT_ENTRY_SIZE, 4, 132, "entry size 132" },
		{ T_GPT_ENTRY_SIZE, 4, 4104, "entry size 4104" },
		{ T_GPT_ENTRY_COUNT, 4, 16385, "16385 entries" },
		{ T_GPT_ENTRY_COUNT, 4, 0xffffffffu, "4294967295 entries" },
		{ T_GPT_FIRST_USABLE, 8, l, NULL }, /* no entry moves */
		{ T_GPT_FIRST_USABLE, 8, l + 1, "not inside the disk" },
		{ T_GPT_LAST_USABLE, 8, sectors - 1, NULL },
		{ T_GPT_LAST_USABLE, 8, sectors, "not inside the disk" },
		{ T_GPT_LAST_USABLE, 8, UINT64_MAX, "not inside the disk" },
		{ T_GPT_ENTRY_LBA, 8, 1ull << 60, "ends past end of disk" },
		{ T_GPT_ENTRY_LBA, 8, sectors - 1, "ends past end of disk" },
	};

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t_copy(t_gpt_image(), img);
		t_gpt_set_both(img, 512, cases[i].field, cases[i].width,
			       cases[i].value);
		if (cases[i].problem) {
			t_corrupt(img, "primary header", "backup header",
				  cases[i].problem, NULL);
			continue;
		}
		if (cases[i].field != T_GPT_FIRST_USABLE) {
			t_check(img, DISK_FORMAT_RAW, &t);
			continue;
		}
		/* first usable = L: every entry now starts before it */
		snprintf(want, sizeof(want),
			 "entry 1: LBAs %" PRIu64 "-%" PRIu64
			 " outside usable LBAs %" PRIu64 "-%" PRIu64,
			 t.p[0].start, t.p[0].start + t.p[0].size - 1, l, l);
		t_corrupt(img, want, NULL);
	}
}

/*
 * Entry 1's LBAs at and past the usable LBAs F-L the tool wrote, in both
 * arrays, with every checksum made right.
 */
static void test_partition_gpt_entry_limits(void)
{
	const char *img = t_path("entries.img");
	struct t_table t;
	uint64_t f, l;
	char want[128];
	size_t i;

	t_oracle(t_gpt_image(), 512, &t);
	f = t.first_lba;
	l = t.last_lba;
	CU_ASSERT_FATAL(f > 2 && f + 10 < l);
	const struct {
		uint64_t first, last;
		bool ok;
	} cases[] = {
		{ f, f - 1, false },
		{ f - 1, f + 10, false },
		{ l - 10, l + 1, false },
		{ l - 10, UINT64_MAX, false },
		{ UINT64_MAX, UINT64_MAX, false },
		{ f, f, true },
		{ l, l, true },
		{ f, l, true },
	};

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum partition_scheme scheme;
		struct partition *parts = NULL;
		struct vr_err err = { 0 };
		uint8_t b[16];
		size_t n;
		int copy;

		t_copy(t_gpt_image(), img);
		vr_put_le64(b, cases[i].first);
		vr_put_le64(b + 8, cases[i].last);
		for (copy = 0; copy < 2; copy++) {
			uint64_t hdr = t_gpt_header_at(img, 512, copy);

			t_patch(img, t_gpt_entries_at(img, 512, hdr) + 32, b,
				16);
			t_gpt_fix(img, 512, hdr, true);
		}
		if (cases[i].first > cases[i].last) {
			snprintf(want, sizeof(want),
				 "entry 1: first LBA %" PRIu64
				 " after last LBA %" PRIu64,
				 cases[i].first, cases[i].last);
			t_corrupt(img, want, NULL);
			continue;
		}
		if (!cases[i].ok) {
			snprintf(want, sizeof(want),
				 "entry 1: LBAs %" PRIu64 "-%" PRIu64
				 " outside usable LBAs %" PRIu64 "-%" PRIu64,
				 cases[i].first, cases[i].last, f, l);
			t_corrupt(img, want, NULL);
			continue;
		}
		CU_ASSERT_EQUAL(
			t_read(img, DISK_FORMAT_RAW, &scheme, &parts, &n, &err),
			0);
		CU_ASSERT_EQUAL_FATAL(n, 3);
		CU_ASSERT_EQUAL(parts[0].offset, cases[i].first * 512);
		CU_ASSERT_EQUAL(parts[0].size,
				(cases[i].last - cases[i].first + 1) * 512);
		free(parts);
	}
}

/*
 * A GPT image cut short anywhere: the tool's last usable LBA says where
 * the primary stops being valid, and the backup is gone with the tail.
 */
static void test_partition_gpt_truncated(void)
{
	const char *img = t_path("short-gpt.img");
	struct t_table t;
	uint64_t full, usable_end;
	uint64_t lengths[16];
	size_t i, k = 0;

	t_oracle(t_gpt_image(), 512, &t);
	full = t_file_size(t_gpt_image());
	usable_end = (t.last_lba + 1) * 512;
	CU_ASSERT_FATAL(t.last_lba > 0 && usable_end < full);
	lengths[k++] = 0;
	lengths[k++] = 511;
	lengths[k++] = 512;
	lengths[k++] = 1024;
	lengths[k++] = 1535; /* 2 sectors: too small for any GPT */
	lengths[k++] = 1536;
	lengths[k++] = 17408; /* header and entry array, nothing more */
	lengths[k++] = full / 2;
	lengths[k++] = usable_end - 1;
	lengths[k++] = usable_end;
	lengths[k++] = full - 512;
	lengths[k++] = full - 1;
	for (i = 0; i < k; i++) {
		t_copy(t_gpt_image(), img);
		CU_ASSERT_EQUAL_FATAL(truncate(img, (off_t)lengths[i]), 0);
		if (lengths[i] < 512)
			t_none(img);
		else if (lengths[i] < usable_end)
			t_corrupt(img, "primary header", "backup header", NULL);
		else
			t_check(img, DISK_FORMAT_RAW, &t);
	}
}

/*
 * An MBR image cut short anywhere: refused exactly when a partition or
 * the extended container the tool lists ends past the new end.
 */
static void test_partition_mbr_truncated(void)
{
	const char *img = t_path("short-mbr.img");
	struct t_table t;
	uint64_t lengths[16], reach = 0;
	size_t i, k = 0;

	t_oracle(t_mbr_image(), 512, &t);
	for (i = 0; i < t.n; i++)
		if ((t.p[i].start + t.p[i].size) * 512 > reach)
			reach = (t.p[i].start + t.p[i].size) * 512;
	lengths[k++] = 100;
	lengths[k++] = 512;
	lengths[k++] = t.p[0].start * 512;
	lengths[k++] = (t.p[0].start + t.p[0].size) * 512 - 1;
	lengths[k++] = t.p[2].start * 512 + 512; /* the first EBR only */
	lengths[k++] = reach - 1;
	lengths[k++] = reach;
	lengths[k++] = t_file_size(t_mbr_image());
	for (i = 0; i < k; i++) {
		t_copy(t_mbr_image(), img);
		CU_ASSERT_EQUAL_FATAL(truncate(img, (off_t)lengths[i]), 0);
		if (lengths[i] < 512)
			t_none(img);
		else if (lengths[i] < reach)
			t_corrupt(img, "end past end of disk", NULL);
		else
			t_check(img, DISK_FORMAT_RAW, &t);
	}
}

static void test_partition_mbr_past_end_is_corrupt(void)
{
	const char *img = t_path("past-end.img");
	uint8_t b[4];
	struct t_table t;

	t_oracle(t_mbr_image(), 512, &t);
	/* primary 2 grows to 2^32 - 1 sectors */
	t_copy(t_mbr_image(), img);
	vr_put_le32(b, 0xffffffffu);
	t_patch(img, 446 + 16 + 12, b, 4);
	t_corrupt(img, "MBR partition 2: ", "end past end of disk", NULL);
	/* the first logical (in the first EBR, at the extended start) */
	t_copy(t_mbr_image(), img);
	t_patch(img, t.p[2].start * 512 + 446 + 12, b, 4);
	t_corrupt(img, "logical partition 5: ", "end past end of disk", NULL);
	/* the largest start and count an entry can hold: no wrap */
	t_copy(t_mbr_image(), img);
	t_patch(img, 446 + 8, b, 4);
	t_patch(img, 446 + 12, b, 4);
	t_corrupt(img, "MBR partition 1: ", "sectors 4294967295+4294967295",
		  NULL);
	/* a valid MBR on a disk of 600 bytes, partition 1 at LBA 1 */
	t_blank(img, 600);
	{
		uint8_t mbr[512] = { 0 };

		mbr[446 + 4] = 0x83;
		vr_put_le32(mbr + 446 + 8, 1);
		vr_put_le32(mbr + 446 + 12, 1);
		mbr[510] = 0x55;
		mbr[511] = 0xaa;
		t_patch(img, 0, mbr, sizeof(mbr));
	}
	t_corrupt(img, "MBR partition 1: ", "(600 bytes)", NULL);
}

/* The first EBR is at the extended start; its link names the second. */
static void test_partition_ebr_chain_damage(void)
{
	const char *img = t_path("ebr.img");
	uint64_t ext, ext_count, ebr2;
	uint8_t b[4];
	struct t_table t;

	t_oracle(t_mbr_image(), 512, &t);
	CU_ASSERT_STRING_EQUAL_FATAL(t.p[2].type, "5");
	ext = t.p[2].start;
	ext_count = t.p[2].size;
	t_peek(t_mbr_image(), ext * 512 + 446 + 16 + 8, b, 4);
	ebr2 = ext + vr_get_le32(b);
	CU_ASSERT_FATAL(ebr2 > ext && ebr2 < ext + ext_count);

	/* EBR 2 links back to EBR 1 */
	t_copy(t_mbr_image(), img);
	vr_put_le32(b, 0);
	t_patch(img, ebr2 * 512 + 446 + 16 + 8, b, 4);
	t_corrupt(img, "chain of extended partition 3 loops", NULL);
	/* EBR 1 links to itself */
	t_copy(t_mbr_image(), img);
	t_patch(img, ext * 512 + 446 + 16 + 8, b, 4);
	t_corrupt(img, "loops", NULL);
	/* EBR 1 links to the first sector past the container */
	t_copy(t_mbr_image(), img);
	vr_put_le32(b, (uint32_t)ext_count);
	t_patch(img, ext * 512 + 446 + 16 + 8, b, 4);
	t_corrupt(img, "outside extended partition 3", NULL);
	/* EBR 2 loses its signature */
	t_copy(t_mbr_image(), img);
	t_patch(img, ebr2 * 512 + 510, "\0\0", 2);
	t_corrupt(img, "no 0x55AA signature", NULL);
}

/*
 * A chain made by hand in an extended partition at LBA 1: EBR k at LBA
 * 1 + 2k holding one sector of data right after itself.
 */
static void t_make_chain(const char *img, unsigned ebrs)
{
	uint8_t s[512];
	unsigned k;

	t_blank(img, 1 * T_MIB);
	memset(s, 0, sizeof(s));
	s[446 + 4] = 0x0f; /* extended, LBA */
	vr_put_le32(s + 446 + 8, 1);
	vr_put_le32(s + 446 + 12, 2047);
	s[510] = 0x55;
	s[511] = 0xaa;
	t_patch(img, 0, s, sizeof(s));
	for (k = 0; k < ebrs; k++) {
		memset(s, 0, 510);
		s[446 + 4] = 0x83;
		vr_put_le32(s + 446 + 8, 1); /* relative to this EBR */
		vr_put_le32(s + 446 + 12, 1);
		if (k + 1 < ebrs) {
			s[446 + 16 + 4] = 0x05;
			/* relative to the extended partition */
			vr_put_le32(s + 446 + 16 + 8, 2 * (k + 1));
			vr_put_le32(s + 446 + 16 + 12, 2);
		}
		t_patch(img, (1 + 2ull * k) * 512, s, sizeof(s));
	}
}

static void test_partition_ebr_chain_is_bounded(void)
{
	const char *img = t_path("chain.img");
	enum partition_scheme scheme;
	struct partition *parts = NULL;
	struct vr_err err = { 0 };
	size_t n = 0, i;

	t_make_chain(img, 128);
	CU_ASSERT_EQUAL(t_read(img, DISK_FORMAT_RAW, &scheme, &parts, &n, &err),
			0);
	CU_ASSERT_EQUAL(scheme, PARTITION_MBR);
	CU_ASSERT_EQUAL_FATAL(n, 128);
	for (i = 0; i < n; i++) {
		CU_ASSERT_EQUAL(parts[i].number, 5 + i);
		CU_ASSERT_EQUAL(parts[i].offset, (2 + 2 * i) * 512);
		CU_ASSERT_EQUAL(parts[i].size, 512);
		CU_ASSERT_EQUAL(parts[i].mbr_type, 0x83);
	}
	free(parts);
	t_make_chain(img, 129);
	t_corrupt(img, "more than 128", NULL);
}

static void test_partition_no_table(void)
{
	const char *img = t_path("none.img");
	uint8_t s[512];

	/* blank */
	t_blank(img, 4 * T_MIB);
	t_none(img);
	/* smaller than one sector, and empty */
	t_blank(img, 511);
	t_none(img);
	t_blank(img, 0);
	t_none(img);
	/* ext4 on the whole disk, by mkfs.ext4 */
	t_blank(img, 16 * T_MIB);
	CU_ASSERT_EQUAL_FATAL(t_sh("mkfs.ext4 -q -F '%s'", img), 0);
	t_none(img);
	/*
	 * FAT and NTFS boot sectors end in 0x55AA too: by the FAT name
	 * even when the would-be status bytes are 0, and by status bytes
	 * that are neither 0x00 nor 0x80 (boot code text)
	 */
	memset(s, 0, sizeof(s));
	s[0] = 0xeb;
	s[1] = 0x58;
	s[2] = 0x90;
	memcpy(s + 3, "mkfs.fat", 8);
	memcpy(s + 82, "FAT32   ", 8);
	s[510] = 0x55;
	s[511] = 0xaa;
	t_blank(img, 4 * T_MIB);
	t_patch(img, 0, s, sizeof(s));
	t_none(img);
	memset(s + 82, 0, 8);
	memcpy(s + 3, "NTFS    ", 8);
	t_patch(img, 0, s, sizeof(s));
	t_none(img);
	memset(s + 3, 0, 8);
	memcpy(s + 0x1b0, "Press any key to reboot", 23);
	t_patch(img, 0, s, sizeof(s));
	t_none(img);
}

int main(void)
{
	CU_pSuite s;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("partition", NULL, NULL);
	CU_add_test(s, "test_vr_crc32_known_answer",
		    test_vr_crc32_known_answer);
	CU_add_test(s, "test_partition_names_and_guid_text",
		    test_partition_names_and_guid_text);
	CU_add_test(s, "test_partition_mbr_with_logicals_matches_sfdisk",
		    test_partition_mbr_with_logicals_matches_sfdisk);
	CU_add_test(s, "test_partition_gpt_with_names_matches_sfdisk",
		    test_partition_gpt_with_names_matches_sfdisk);
	CU_add_test(s, "test_partition_gpt_4k_sectors_matches_fdisk",
		    test_partition_gpt_4k_sectors_matches_fdisk);
	CU_add_test(s, "test_partition_numbering_keeps_gaps",
		    test_partition_numbering_keeps_gaps);
	CU_add_test(s, "test_partition_empty_tables",
		    test_partition_empty_tables);
	CU_add_test(s, "test_partition_corpus_matches_sfdisk",
		    test_partition_corpus_matches_sfdisk);
	CU_add_test(s, "test_partition_gpt_bad_primary_uses_backup",
		    test_partition_gpt_bad_primary_uses_backup);
	CU_add_test(s, "test_partition_gpt_both_bad_is_corrupt",
		    test_partition_gpt_both_bad_is_corrupt);
	CU_add_test(s, "test_partition_gpt_header_limits",
		    test_partition_gpt_header_limits);
	CU_add_test(s, "test_partition_gpt_entry_limits",
		    test_partition_gpt_entry_limits);
	CU_add_test(s, "test_partition_gpt_truncated",
		    test_partition_gpt_truncated);
	CU_add_test(s, "test_partition_mbr_truncated",
		    test_partition_mbr_truncated);
	CU_add_test(s, "test_partition_mbr_past_end_is_corrupt",
		    test_partition_mbr_past_end_is_corrupt);
	CU_add_test(s, "test_partition_ebr_chain_damage",
		    test_partition_ebr_chain_damage);
	CU_add_test(s, "test_partition_ebr_chain_is_bounded",
		    test_partition_ebr_chain_is_bounded);
	CU_add_test(s, "test_partition_no_table", test_partition_no_table);
	return tap_run();
}
