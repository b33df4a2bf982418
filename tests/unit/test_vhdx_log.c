/*
 * test_vhdx_log.c - unit tests for vhdx/log.c, the [MS-VHDX] 2.3 log: finding
 * the active sequence, validating entries, replaying into the file and into
 * memory. Synthetic logs come from a small encoder below, written from the
 * spec's tables; the corpus tests check the two dirty images (one made by
 * qemu, one by Windows) against the facts in tests/corpus/README.md.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "log.h"
#include "tap.h"
#include "vr_crc.h"
#include "vr_endian.h"
#include "vr_err.h"

#define T_MiB (1024u * 1024u)
#define T_SECTOR 4096u
#define T_LOG_OFFSET ((uint64_t)T_MiB)
#define T_LOG_LENGTH T_MiB
#define T_FILE_SIZE ((uint64_t)4 * T_MiB)
/* where the synthetic descriptors write; the file holds 0xee there */
#define T_TARGET ((uint64_t)0x200000)
#define T_TARGET_LEN ((uint64_t)0x10000)

static const uint8_t t_guid[16] = { 0x6e, 0x65, 0xe4, 0x74, 0x3b, 0x1d,
				    0x48, 0xf9, 0xbf, 0xa4, 0x02, 0xaa,
				    0x77, 0x6d, 0xb0, 0x3c };
static const uint8_t t_old_guid[16] = { 0xc8, 0x27, 0x55, 0xbc, 0x42, 0x7f,
					0x12, 0x45, 0xb7, 0x2c, 0xda, 0x70,
					0xaa, 0xab, 0xe0, 0x31 };

/* One descriptor for the encoder. */
struct t_desc {
	bool zero;
	uint64_t off;
	uint64_t zero_len;     /* zero descriptors */
	const uint8_t *sector; /* data descriptors: the 4 KiB to write */
};

/* One entry for the encoder. */
struct t_entry {
	uint32_t pos; /* log offset */
	uint64_t seq;
	uint32_t tail;
	const uint8_t *guid; /* NULL: t_guid */
	uint64_t flushed;    /* 0: T_FILE_SIZE */
	uint64_t last;	     /* 0: T_FILE_SIZE */
	const struct t_desc *desc;
	uint32_t ndesc;
};

static uint8_t *t_log_at(uint8_t *log, uint32_t pos, uint64_t off)
{
	return log + ((uint64_t)pos + off) % T_LOG_LENGTH;
}

/* Copy @len bytes of the circular log at @pos into @buf, or back. */
static void t_log_copy(uint8_t *log, uint32_t pos, uint8_t *buf, uint64_t len,
		       bool to_log)
{
	uint64_t i;

	for (i = 0; i < len; i += T_SECTOR) {
		uint8_t *p = t_log_at(log, pos, i);

		if (to_log)
			memcpy(p, buf + i, T_SECTOR);
		else
			memcpy(buf + i, p, T_SECTOR);
	}
}

/* Recompute the CRC-32C of the @len-byte entry at @pos after an edit. */
static void t_fix_crc(uint8_t *log, uint32_t pos, uint64_t len)
{
	uint64_t whole = (len + T_SECTOR - 1) / T_SECTOR * T_SECTOR;
	uint8_t *copy = calloc(1, whole);

	CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
	t_log_copy(log, pos, copy, whole, false);
	vr_put_le32(copy + 4, 0);
	vr_put_le32(t_log_at(log, pos, 4), vr_crc32c(0, copy, len));
	free(copy);
}

/* Encode @e into @log, wrapping at its end. Returns the EntryLength. */
static uint32_t t_put_entry(uint8_t *log, const struct t_entry *e)
{
	uint32_t desc_sectors = (64 + 32 * e->ndesc + T_SECTOR - 1) / T_SECTOR;
	uint32_t ndata = 0, i, len;
	uint8_t *buf, *data;

	for (i = 0; i < e->ndesc; i++)
		if (!e->desc[i].zero)
			ndata++;
	len = (desc_sectors + ndata) * T_SECTOR;
	buf = calloc(1, len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	memcpy(buf, "loge", 4);
	vr_put_le32(buf + 8, len);
	vr_put_le32(buf + 12, e->tail);
	vr_put_le64(buf + 16, e->seq);
	vr_put_le32(buf + 24, e->ndesc);
	memcpy(buf + 32, e->guid ? e->guid : t_guid, 16);
	vr_put_le64(buf + 48, e->flushed ? e->flushed : T_FILE_SIZE);
	vr_put_le64(buf + 56, e->last ? e->last : T_FILE_SIZE);
	data = buf + desc_sectors * T_SECTOR;
	for (i = 0; i < e->ndesc; i++) {
		const struct t_desc *d = &e->desc[i];
		uint8_t *p = buf + 64 + 32 * i;

		vr_put_le64(p + 16, d->off);
		vr_put_le64(p + 24, e->seq);
		if (d->zero) {
			memcpy(p, "zero", 4);
			vr_put_le64(p + 8, d->zero_len);
			continue;
		}
		memcpy(p, "desc", 4);
		memcpy(p + 4, d->sector + 4092, 4);
		memcpy(p + 8, d->sector, 8);
		memcpy(data, "data", 4);
		vr_put_le32(data + 4, (uint32_t)(e->seq >> 32));
		memcpy(data + 8, d->sector + 8, 4084);
		vr_put_le32(data + 4092, (uint32_t)e->seq);
		data += T_SECTOR;
	}
	vr_put_le32(buf + 4, vr_crc32c(0, buf, len));
	t_log_copy(log, e->pos, buf, len, true);
	free(buf);
	return len;
}

/* A recognisable sector; every byte, leading and trailing too, varies. */
static void t_pattern(uint8_t *sector, uint8_t seed)
{
	uint32_t i;

	for (i = 0; i < T_SECTOR; i++)
		sector[i] = (uint8_t)(seed + i * 13 + (i >> 8));
}

static uint8_t *t_new_log(void)
{
	uint8_t *log = calloc(1, T_LOG_LENGTH);

	CU_ASSERT_PTR_NOT_NULL_FATAL(log);
	return log;
}

/* A test file: @size bytes, the log at 1 MiB, 0xee over the target range. */
struct t_file {
	char path[64];
	int fd;
	uint64_t size;
};

static void t_file_open(struct t_file *f, const uint8_t *log, uint64_t size)
{
	uint8_t fill[T_TARGET_LEN];

	snprintf(f->path, sizeof(f->path), "/tmp/test_vhdx_log.XXXXXX");
	f->fd = mkstemp(f->path);
	CU_ASSERT_FATAL(f->fd >= 0);
	/* unlinked at once: nothing is left behind if a test stops early */
	unlink(f->path);
	f->size = size;
	CU_ASSERT_FATAL(ftruncate(f->fd, (off_t)size) == 0);
	memset(fill, 0xee, sizeof(fill));
	if (size >= T_TARGET + T_TARGET_LEN)
		CU_ASSERT_FATAL(pwrite(f->fd, fill, sizeof(fill), T_TARGET) ==
				(ssize_t)sizeof(fill));
	if (log) {
		uint64_t n = size - T_LOG_OFFSET < T_LOG_LENGTH
				     ? size - T_LOG_OFFSET
				     : T_LOG_LENGTH;

		CU_ASSERT_FATAL(pwrite(f->fd, log, n, T_LOG_OFFSET) ==
				(ssize_t)n);
	}
}

static void t_file_close(struct t_file *f)
{
	close(f->fd);
}

/* The log of test file @f, as the header would describe it. */
static struct vhdx_log_params t_params(const struct t_file *f)
{
	struct vhdx_log_params p = {
		.path = f->path,
		.fd = f->fd,
		.file_size = f->size,
		.log_offset = T_LOG_OFFSET,
		.log_length = T_LOG_LENGTH,
		.log_guid = t_guid,
	};

	return p;
}

static int t_load(const struct t_file *f, struct vhdx_log_replay **r,
		  struct vr_err *err)
{
	struct vhdx_log_params p = t_params(f);

	*r = NULL;
	return vhdx_log_load(&p, r, err);
}

static bool t_msg_has(const struct vr_err *err, const char *what)
{
	if (strstr(err->msg, what))
		return true;
	printf("# message \"%s\" lacks \"%s\"\n", err->msg, what);
	return false;
}

static void t_read(const struct t_file *f, void *buf, size_t len, uint64_t off)
{
	CU_ASSERT_FATAL(pread(f->fd, buf, len, (off_t)off) == (ssize_t)len);
}

static bool t_all(const uint8_t *p, size_t len, uint8_t v)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

/* Load @log, expect success with @entries entries, apply, keep @f open. */
static void t_replay_ok(struct t_file *f, const uint8_t *log, uint64_t size,
			unsigned entries)
{
	struct vhdx_log_replay *r;
	struct vr_err err = { 0 };
	int rc;

	t_file_open(f, log, size);
	rc = t_load(f, &r, &err);
	if (rc < 0)
		printf("# %s\n", err.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(vhdx_log_replay_entries(r), entries);
	rc = vhdx_log_replay_apply(r, f->fd, f->path, &err);
	if (rc < 0)
		printf("# %s\n", err.msg);
	CU_ASSERT_EQUAL(rc, 0);
	vhdx_log_replay_free(r);
}

/* Load @log and expect -@code with @what in the message. */
static void t_load_fails(const uint8_t *log, uint64_t size, int code,
			 const char *what)
{
	struct vhdx_log_replay *r;
	struct vr_err err = { 0 };
	struct t_file f;
	int rc;

	t_file_open(&f, log, size);
	rc = t_load(&f, &r, &err);
	CU_ASSERT_EQUAL(rc, code);
	CU_ASSERT_EQUAL(err.code, code);
	CU_ASSERT_PTR_NULL(r);
	CU_ASSERT(t_msg_has(&err, f.path));
	CU_ASSERT(t_msg_has(&err, what));
	vhdx_log_replay_free(r);
	t_file_close(&f);
}

static void test_vhdx_log_replays_single_data_entry(void)
{
	uint8_t sector[T_SECTOR], got[T_SECTOR], around[T_SECTOR];
	struct t_desc d = { .off = T_TARGET + 0x1000, .sector = sector };
	struct t_entry e = {
		.pos = 0, .seq = 1, .tail = 0, .desc = &d, .ndesc = 1
	};
	uint8_t *log = t_new_log();
	struct t_file f;

	t_pattern(sector, 1);
	CU_ASSERT_EQUAL(t_put_entry(log, &e), 2 * T_SECTOR);
	t_replay_ok(&f, log, T_FILE_SIZE, 1);
	t_read(&f, got, sizeof(got), T_TARGET + 0x1000);
	/* leading bytes come from the descriptor, trailing too */
	CU_ASSERT(memcmp(got, sector, 8) == 0);
	CU_ASSERT(memcmp(got + 8, sector + 8, 4084) == 0);
	CU_ASSERT(memcmp(got + 4092, sector + 4092, 4) == 0);
	t_read(&f, around, sizeof(around), T_TARGET);
	CU_ASSERT(t_all(around, sizeof(around), 0xee));
	t_read(&f, around, sizeof(around), T_TARGET + 0x2000);
	CU_ASSERT(t_all(around, sizeof(around), 0xee));
	t_file_close(&f);
	free(log);
}

static void test_vhdx_log_replays_zero_descriptor(void)
{
	struct t_desc d = { .zero = true,
			    .off = T_TARGET + 0x1000,
			    .zero_len = 0x3000 };
	struct t_entry e = {
		.pos = 0x5000, .seq = 9, .tail = 0x5000, .desc = &d, .ndesc = 1
	};
	uint8_t *log = t_new_log();
	uint8_t got[0x5000];
	struct t_file f;

	CU_ASSERT_EQUAL(t_put_entry(log, &e), T_SECTOR);
	t_replay_ok(&f, log, T_FILE_SIZE, 1);
	t_read(&f, got, sizeof(got), T_TARGET);
	CU_ASSERT(t_all(got, 0x1000, 0xee));
	CU_ASSERT(t_all(got + 0x1000, 0x3000, 0));
	CU_ASSERT(t_all(got + 0x4000, 0x1000, 0xee));
	t_file_close(&f);
	free(log);
}

/*
 * Like the Windows image: three entries in a row, the head's Tail at the
 * second. The first is already flushed and must not be replayed.
 */
static void test_vhdx_log_replays_sequence_from_head_tail(void)
{
	uint8_t a[T_SECTOR], b[T_SECTOR], c[T_SECTOR], got[T_SECTOR];
	struct t_desc da = { .off = T_TARGET, .sector = a };
	struct t_desc db = { .off = T_TARGET + 0x1000, .sector = b };
	struct t_desc dc = { .off = T_TARGET + 0x1000, .sector = c };
	struct t_entry e1 = {
		.pos = 0, .seq = 10, .tail = 0, .desc = &da, .ndesc = 1
	};
	struct t_entry e2 = { .pos = 0x2000,
			      .seq = 11,
			      .tail = 0x2000,
			      .desc = &db,
			      .ndesc = 1 };
	struct t_entry e3 = { .pos = 0x4000,
			      .seq = 12,
			      .tail = 0x2000,
			      .desc = &dc,
			      .ndesc = 1 };
	uint8_t *log = t_new_log();
	struct t_file f;

	t_pattern(a, 1);
	t_pattern(b, 2);
	t_pattern(c, 3);
	t_put_entry(log, &e1);
	t_put_entry(log, &e2);
	t_put_entry(log, &e3);
	t_replay_ok(&f, log, T_FILE_SIZE, 2);
	t_read(&f, got, sizeof(got), T_TARGET);
	CU_ASSERT(t_all(got, sizeof(got), 0xee));
	/* e2 and e3 write the same sector; the head's write wins */
	t_read(&f, got, sizeof(got), T_TARGET + 0x1000);
	CU_ASSERT(memcmp(got, c, T_SECTOR) == 0);
	t_file_close(&f);
	free(log);
}

/*
 * Like the qemu image: six stale entries of an earlier log before the one
 * current entry. Their sequence numbers are higher here, so only the LogGuid
 * can tell them apart.
 */
static void test_vhdx_log_ignores_stale_entries_with_other_guid(void)
{
	uint8_t stale[T_SECTOR], cur[T_SECTOR], got[T_SECTOR];
	struct t_desc ds = { .off = T_TARGET, .sector = stale };
	struct t_desc dc = { .off = T_TARGET, .sector = cur };
	struct t_entry e = {
		.seq = 7, .tail = 0xc000, .pos = 0xc000, .desc = &dc, .ndesc = 1
	};
	uint8_t *log = t_new_log();
	struct t_file f;
	uint32_t i;

	t_pattern(stale, 0x40);
	t_pattern(cur, 0x41);
	for (i = 0; i < 6; i++) {
		struct t_entry s = { .pos = i * 0x2000,
				     .seq = 101 + i,
				     .tail = i * 0x2000,
				     .guid = t_old_guid,
				     .desc = &ds,
				     .ndesc = 1 };

		t_put_entry(log, &s);
	}
	t_put_entry(log, &e);
	t_replay_ok(&f, log, T_FILE_SIZE, 1);
	t_read(&f, got, sizeof(got), T_TARGET);
	CU_ASSERT(memcmp(got, cur, T_SECTOR) == 0);
	t_file_close(&f);
	free(log);
}

/* Both orders: neither position in the log nor scan order may matter. */
static void test_vhdx_log_picks_highest_head_sequence(void)
{
	uint8_t newer[T_SECTOR], older[T_SECTOR], got[T_SECTOR];
	struct t_desc dn = { .off = T_TARGET, .sector = newer };
	struct t_desc dold = { .off = T_TARGET, .sector = older };
	uint8_t *log = t_new_log();
	struct t_file f;
	uint32_t layout;

	t_pattern(newer, 0x20);
	t_pattern(older, 0x05);
	for (layout = 0; layout < 2; layout++) {
		uint32_t pn = layout ? 0x8000 : 0, po = layout ? 0 : 0x8000;
		struct t_entry en = { .pos = pn,
				      .seq = 20,
				      .tail = pn,
				      .desc = &dn,
				      .ndesc = 1 };
		struct t_entry eo = { .pos = po,
				      .seq = 5,
				      .tail = po,
				      .desc = &dold,
				      .ndesc = 1 };

		memset(log, 0, T_LOG_LENGTH);
		t_put_entry(log, &en);
		t_put_entry(log, &eo);
		t_replay_ok(&f, log, T_FILE_SIZE, 1);
		t_read(&f, got, sizeof(got), T_TARGET);
		CU_ASSERT(memcmp(got, newer, T_SECTOR) == 0);
		t_file_close(&f);
	}
	free(log);
}

/* The header sector is the last of the log, the data sector the first. */
static void test_vhdx_log_replays_entry_wrapping_end_of_log(void)
{
	uint8_t sector[T_SECTOR], got[T_SECTOR];
	struct t_desc d = { .off = T_TARGET + 0x3000, .sector = sector };
	uint32_t pos = T_LOG_LENGTH - T_SECTOR;
	struct t_entry e = { .pos = pos,
			     .seq = 0x500000007ull,
			     .tail = pos,
			     .desc = &d,
			     .ndesc = 1 };
	uint8_t *log = t_new_log();
	struct t_file f;

	t_pattern(sector, 0x77);
	t_put_entry(log, &e);
	CU_ASSERT(memcmp(log, "data", 4) == 0);
	CU_ASSERT(memcmp(log + pos, "loge", 4) == 0);
	t_replay_ok(&f, log, T_FILE_SIZE, 1);
	t_read(&f, got, sizeof(got), T_TARGET + 0x3000);
	CU_ASSERT(memcmp(got, sector, T_SECTOR) == 0);
	t_file_close(&f);
	free(log);
}

/* A sequence whose second entry starts where the first wrapped to. */
static void test_vhdx_log_follows_sequence_across_end_of_log(void)
{
	uint8_t a[T_SECTOR], b[T_SECTOR], got[T_SECTOR];
	struct t_desc da = { .off = T_TARGET, .sector = a };
	struct t_desc db = { .off = T_TARGET + 0x1000, .sector = b };
	uint32_t pos = T_LOG_LENGTH - 2 * T_SECTOR;
	struct t_entry e1 = {
		.pos = pos, .seq = 30, .tail = pos, .desc = &da, .ndesc = 1
	};
	struct t_entry e2 = {
		.pos = 0, .seq = 31, .tail = pos, .desc = &db, .ndesc = 1
	};
	uint8_t *log = t_new_log();
	struct t_file f;

	t_pattern(a, 0xa0);
	t_pattern(b, 0xb0);
	t_put_entry(log, &e1);
	t_put_entry(log, &e2);
	t_replay_ok(&f, log, T_FILE_SIZE, 2);
	t_read(&f, got, sizeof(got), T_TARGET);
	CU_ASSERT(memcmp(got, a, T_SECTOR) == 0);
	t_read(&f, got, sizeof(got), T_TARGET + 0x1000);
	CU_ASSERT(memcmp(got, b, T_SECTOR) == 0);
	t_file_close(&f);
	free(log);
}

/* 128 descriptors need a second descriptor sector (2.3.1: 126 + 128). */
static void test_vhdx_log_replays_entry_with_two_descriptor_sectors(void)
{
	uint8_t sector[T_SECTOR], got[T_SECTOR];
	struct t_desc d[128];
	struct t_entry e = { .pos = 0x10000,
			     .seq = 3,
			     .tail = 0x10000,
			     .desc = d,
			     .ndesc = 128 };
	uint8_t *log = t_new_log();
	struct t_file f;
	uint32_t i;

	t_pattern(sector, 0x33);
	for (i = 0; i < 127; i++)
		d[i] = (struct t_desc){ .zero = true,
					.off = T_TARGET,
					.zero_len = T_SECTOR };
	d[127] = (struct t_desc){ .off = T_TARGET, .sector = sector };
	CU_ASSERT_EQUAL(t_put_entry(log, &e), 3 * T_SECTOR);
	t_replay_ok(&f, log, T_FILE_SIZE, 1);
	t_read(&f, got, sizeof(got), T_TARGET);
	CU_ASSERT(memcmp(got, sector, T_SECTOR) == 0);
	t_file_close(&f);
	free(log);
}

static void test_vhdx_log_rejects_lone_entry_with_bad_crc(void)
{
	uint8_t sector[T_SECTOR];
	struct t_desc d = { .off = T_TARGET, .sector = sector };
	struct t_entry e = {
		.pos = 0x3000, .seq = 4, .tail = 0x3000, .desc = &d, .ndesc = 1
	};
	uint8_t *log = t_new_log();

	t_pattern(sector, 4);
	t_put_entry(log, &e);
	log[0x4000 + 100] ^= 0x01; /* a byte of the data sector */
	t_load_fails(log, T_FILE_SIZE, -VR_ECORRUPT,
		     "log entry at log offset 0x3000: checksum mismatch");
	t_load_fails(log, T_FILE_SIZE, -VR_ECORRUPT, "no valid log sequence");
	free(log);
}

/* 2.3.3: a torn head is not part of any sequence; the older one is used. */
static void test_vhdx_log_ignores_torn_head_after_valid_sequence(void)
{
	uint8_t a[T_SECTOR], b[T_SECTOR], got[T_SECTOR];
	struct t_desc da = { .off = T_TARGET, .sector = a };
	struct t_desc db = { .off = T_TARGET, .sector = b };
	struct t_entry e1 = {
		.pos = 0, .seq = 1, .tail = 0, .desc = &da, .ndesc = 1
	};
	struct t_entry e2 = {
		.pos = 0x2000, .seq = 2, .tail = 0, .desc = &db, .ndesc = 1
	};
	uint8_t *log = t_new_log();
	struct t_file f;

	t_pattern(a, 0x11);
	t_pattern(b, 0x22);
	t_put_entry(log, &e1);
	t_put_entry(log, &e2);
	log[0x3000 + 2000] ^= 0x80;
	t_replay_ok(&f, log, T_FILE_SIZE, 1);
	t_read(&f, got, sizeof(got), T_TARGET);
	CU_ASSERT(memcmp(got, a, T_SECTOR) == 0);
	t_file_close(&f);
	free(log);
}

/* Build one data entry at 0 with a high sequence half, edit, re-CRC. */
static uint8_t *t_log_one_data_entry(void)
{
	static uint8_t sector[T_SECTOR];
	struct t_desc d = { .off = T_TARGET, .sector = sector };
	struct t_entry e = { .pos = 0,
			     .seq = 0x100000002ull,
			     .tail = 0,
			     .desc = &d,
			     .ndesc = 1 };
	uint8_t *log = t_new_log();

	t_pattern(sector, 0x5e);
	t_put_entry(log, &e);
	return log;
}

static void test_vhdx_log_rejects_bad_data_sector_sequence_high(void)
{
	uint8_t *log = t_log_one_data_entry();

	vr_put_le32(log + T_SECTOR + 4, 2);
	t_fix_crc(log, 0, 2 * T_SECTOR);
	t_load_fails(log, T_FILE_SIZE, -VR_ECORRUPT,
		     "log entry at log offset 0x0: data sector 0: "
		     "SequenceHigh mismatch (expected 0x00000001, found "
		     "0x00000002)");
	free(log);
}

static void test_vhdx_log_rejects_bad_data_sector_sequence_low(void)
{
	uint8_t *log = t_log_one_data_entry();

	vr_put_le32(log + T_SECTOR + 4092, 3);
	t_fix_crc(log, 0, 2 * T_SECTOR);
	t_load_fails(log, T_FILE_SIZE, -VR_ECORRUPT,
		     "data sector 0: SequenceLow mismatch");
	free(log);
}

static void test_vhdx_log_rejects_bad_data_sector_signature(void)
{
	uint8_t *log = t_log_one_data_entry();

	memcpy(log + T_SECTOR, "dat4", 4);
	t_fix_crc(log, 0, 2 * T_SECTOR);
	t_load_fails(log, T_FILE_SIZE, -VR_ECORRUPT,
		     "data sector 0: bad signature");
	free(log);
}

static void test_vhdx_log_rejects_descriptor_sequence_mismatch(void)
{
	uint8_t *log = t_log_one_data_entry();

	vr_put_le64(log + 64 + 24, 0x100000001ull);
	t_fix_crc(log, 0, 2 * T_SECTOR);
	t_load_fails(log, T_FILE_SIZE, -VR_ECORRUPT,
		     "descriptor 0: sequence number mismatch");
	free(log);
}

static void test_vhdx_log_rejects_descriptor_count_past_entry_length(void)
{
	uint8_t *log = t_log_one_data_entry();

	/* 64 + 32 * 1000 bytes of descriptors cannot fit in 8 KiB */
	vr_put_le32(log + 24, 1000);
	t_fix_crc(log, 0, 2 * T_SECTOR);
	t_load_fails(
		log, T_FILE_SIZE, -VR_ECORRUPT,
		"descriptor count 1000 does not fit in entry length 0x2000");
	free(log);
}

static void test_vhdx_log_rejects_entry_length_not_multiple_of_4k(void)
{
	uint8_t *log = t_log_one_data_entry();

	vr_put_le32(log + 8, 0x2200);
	t_fix_crc(log, 0, 0x2200);
	t_load_fails(log, T_FILE_SIZE, -VR_ECORRUPT,
		     "entry length 0x2200 is not a non-zero multiple of 4096");
	free(log);
}

static void test_vhdx_log_rejects_entry_length_not_matching_sectors(void)
{
	uint8_t *log = t_log_one_data_entry();

	/* one data descriptor but a third sector counted in */
	vr_put_le32(log + 8, 3 * T_SECTOR);
	t_fix_crc(log, 0, 3 * T_SECTOR);
	t_load_fails(log, T_FILE_SIZE, -VR_ECORRUPT,
		     "entry length does not match its 1 descriptors "
		     "(expected 0x2000, found 0x3000)");
	free(log);
}

static void test_vhdx_log_rejects_entry_longer_than_log(void)
{
	uint8_t *log = t_log_one_data_entry();

	vr_put_le32(log + 8, T_LOG_LENGTH + T_SECTOR);
	t_fix_crc(log, 0, 2 * T_SECTOR);
	t_load_fails(
		log, T_FILE_SIZE, -VR_ECORRUPT,
		"entry length 0x101000 is larger than the log (0x100000 bytes)");
	free(log);
}

static void test_vhdx_log_rejects_unaligned_tail(void)
{
	uint8_t *log = t_log_one_data_entry();

	vr_put_le32(log + 12, 0x1800);
	t_fix_crc(log, 0, 2 * T_SECTOR);
	t_load_fails(log, T_FILE_SIZE, -VR_ECORRUPT,
		     "tail 0x1800 is not a 4 KiB aligned offset in the log");
	free(log);
}

static void test_vhdx_log_rejects_nonzero_header_reserved(void)
{
	uint8_t *log = t_log_one_data_entry();

	vr_put_le32(log + 28, 1);
	t_fix_crc(log, 0, 2 * T_SECTOR);
	t_load_fails(log, T_FILE_SIZE, -VR_ECORRUPT,
		     "log offset 0x0: reserved field is not zero");
	free(log);
}

static void test_vhdx_log_rejects_bad_descriptor_signature(void)
{
	uint8_t *log = t_log_one_data_entry();

	memcpy(log + 64, "dexc", 4);
	t_fix_crc(log, 0, 2 * T_SECTOR);
	t_load_fails(log, T_FILE_SIZE, -VR_ECORRUPT,
		     "descriptor 0: bad signature 0x63786564");
	free(log);
}

static void test_vhdx_log_rejects_unaligned_descriptor_fields(void)
{
	struct t_desc z = { .zero = true, .off = T_TARGET, .zero_len = 0x800 };
	struct t_entry e = {
		.pos = 0, .seq = 8, .tail = 0, .desc = &z, .ndesc = 1
	};
	uint8_t *log = t_log_one_data_entry();

	vr_put_le64(log + 64 + 16, T_TARGET + 0x100);
	t_fix_crc(log, 0, 2 * T_SECTOR);
	t_load_fails(
		log, T_FILE_SIZE, -VR_ECORRUPT,
		"descriptor 0: file offset 0x200100 is not a multiple of 4096");
	memset(log, 0, T_LOG_LENGTH);
	t_put_entry(log, &e);
	t_load_fails(
		log, T_FILE_SIZE, -VR_ECORRUPT,
		"descriptor 0: zero length 0x800 is not a multiple of 4096");
	free(log);
}

static void test_vhdx_log_rejects_zero_sequence_number(void)
{
	struct t_entry e = { .pos = 0, .seq = 0, .tail = 0 };
	uint8_t *log = t_new_log();

	t_put_entry(log, &e);
	t_load_fails(log, T_FILE_SIZE, -VR_ECORRUPT, "sequence number is 0");
	free(log);
}

static void test_vhdx_log_rejects_tail_outside_sequence(void)
{
	struct t_entry e = { .pos = 0x4000, .seq = 8, .tail = 0x1000 };
	uint8_t *log = t_new_log();

	t_put_entry(log, &e);
	t_load_fails(log, T_FILE_SIZE, -VR_ECORRUPT,
		     "log entry at log offset 0x4000: "
		     "tail 0x1000 is not an entry of its sequence");
	free(log);
}

static void test_vhdx_log_rejects_empty_log_with_guid_set(void)
{
	uint8_t *log = t_new_log();

	t_load_fails(log, T_FILE_SIZE, -VR_ECORRUPT, "no valid log sequence");
	free(log);
}

static void test_vhdx_log_rejects_log_of_only_stale_entries(void)
{
	struct t_entry e = {
		.pos = 0, .seq = 8, .tail = 0, .guid = t_old_guid
	};
	uint8_t *log = t_new_log();

	t_put_entry(log, &e);
	t_load_fails(
		log, T_FILE_SIZE, -VR_ECORRUPT,
		"no valid log sequence (no entry has the current LogGuid)");
	free(log);
}

static void test_vhdx_log_rejects_file_shorter_than_flushed_offset(void)
{
	struct t_entry e = { .pos = 0,
			     .seq = 8,
			     .tail = 0,
			     .flushed = 8 * T_MiB,
			     .last = 8 * T_MiB };
	uint8_t *log = t_new_log();

	t_put_entry(log, &e);
	t_load_fails(log, T_FILE_SIZE, -VR_ECORRUPT,
		     "log entry at log offset 0x0: "
		     "file is shorter than FlushedFileOffset "
		     "(expected at least 8388608 bytes, found 4194304)");
	free(log);
}

static void test_vhdx_log_rejects_descriptor_past_last_file_offset(void)
{
	uint8_t sector[T_SECTOR];
	/* ends 4 KiB past LastFileOffset (6 MiB), itself past end of file */
	struct t_desc d = { .off = 6 * T_MiB, .sector = sector };
	struct t_entry e = { .pos = 0,
			     .seq = 8,
			     .tail = 0,
			     .desc = &d,
			     .ndesc = 1,
			     .last = 6 * T_MiB };
	struct t_desc z = { .zero = true,
			    .off = T_TARGET,
			    .zero_len = 0xfffffffffffff000ull };
	uint8_t *log = t_new_log();

	t_pattern(sector, 8);
	t_put_entry(log, &e);
	t_load_fails(log, T_FILE_SIZE, -VR_ECORRUPT,
		     "descriptor 0 writes 0x1000 bytes at 0x600000, "
		     "past the end of the file after replay (6291456 bytes)");
	/* offset + length overflows a u64 */
	memset(log, 0, T_LOG_LENGTH);
	e.desc = &z;
	t_put_entry(log, &e);
	t_load_fails(log, T_FILE_SIZE, -VR_ECORRUPT,
		     "past the end of the file");
	free(log);
}

/* 2.3.3: descriptors may reach past EOF, up to LastFileOffset. */
static void test_vhdx_log_apply_extends_file_to_last_file_offset(void)
{
	uint8_t sector[T_SECTOR], got[T_SECTOR];
	struct t_desc d = { .off = 5 * T_MiB, .sector = sector };
	struct t_entry e = { .pos = 0,
			     .seq = 8,
			     .tail = 0,
			     .desc = &d,
			     .ndesc = 1,
			     .last = 8 * T_MiB };
	struct vhdx_log_replay *r;
	struct vr_err err = { 0 };
	uint8_t *log = t_new_log();
	struct t_file f;
	struct stat st;

	t_pattern(sector, 0x88);
	t_put_entry(log, &e);
	t_file_open(&f, log, T_FILE_SIZE);
	CU_ASSERT_EQUAL_FATAL(t_load(&f, &r, &err), 0);
	CU_ASSERT_EQUAL(vhdx_log_replay_last_file_offset(r), 8 * T_MiB);
	CU_ASSERT_EQUAL(vhdx_log_replay_apply(r, f.fd, f.path, &err), 0);
	CU_ASSERT_EQUAL(fstat(f.fd, &st), 0);
	CU_ASSERT_EQUAL(st.st_size, 8 * T_MiB);
	t_read(&f, got, sizeof(got), 5 * T_MiB);
	CU_ASSERT(memcmp(got, sector, T_SECTOR) == 0);
	vhdx_log_replay_free(r);
	t_file_close(&f);
	free(log);
}

/* Overlay patches only the caller's buffer, in order, and clips to it. */
static void test_vhdx_log_overlay_leaves_file_untouched(void)
{
	uint8_t a[T_SECTOR], b[T_SECTOR];
	struct t_desc d[3] = {
		{ .off = T_TARGET, .sector = a },
		{ .zero = true, .off = T_TARGET + 0x1000, .zero_len = 0x1000 },
		{ .off = T_TARGET, .sector = b },
	};
	struct t_entry e = {
		.pos = 0, .seq = 8, .tail = 0, .desc = d, .ndesc = 3
	};
	struct vhdx_log_replay *r;
	struct vr_err err = { 0 };
	uint8_t *log = t_new_log();
	uint8_t *before = malloc(T_FILE_SIZE), *after = malloc(T_FILE_SIZE);
	uint8_t buf[0x3000], part[0x800];
	struct t_file f;

	CU_ASSERT_FATAL(before && after);
	t_pattern(a, 0xaa);
	t_pattern(b, 0xbb);
	t_put_entry(log, &e);
	t_file_open(&f, log, T_FILE_SIZE);
	t_read(&f, before, T_FILE_SIZE, 0);
	CU_ASSERT_EQUAL_FATAL(t_load(&f, &r, &err), 0);

	/* [T_TARGET - 0x800, T_TARGET + 0x2800) */
	memset(buf, 0x5a, sizeof(buf));
	vhdx_log_replay_overlay(r, buf, sizeof(buf), T_TARGET - 0x800);
	CU_ASSERT(t_all(buf, 0x800, 0x5a));
	CU_ASSERT(memcmp(buf + 0x800, b, T_SECTOR) == 0);
	CU_ASSERT(t_all(buf + 0x1800, 0x1000, 0));
	CU_ASSERT(t_all(buf + 0x2800, 0x800, 0x5a));

	/* a buffer starting inside a write gets the middle of it */
	memset(part, 0x5a, sizeof(part));
	vhdx_log_replay_overlay(r, part, sizeof(part), T_TARGET + 0x400);
	CU_ASSERT(memcmp(part, b + 0x400, sizeof(part)) == 0);

	/* a range no write touches is left alone */
	memset(part, 0x5a, sizeof(part));
	vhdx_log_replay_overlay(r, part, sizeof(part), 3 * T_MiB);
	CU_ASSERT(t_all(part, sizeof(part), 0x5a));

	t_read(&f, after, T_FILE_SIZE, 0);
	CU_ASSERT(memcmp(before, after, T_FILE_SIZE) == 0);
	vhdx_log_replay_free(r);
	t_file_close(&f);
	free(before);
	free(after);
	free(log);
}

static void test_vhdx_log_rejects_truncated_log_region(void)
{
	uint8_t *log = t_log_one_data_entry();

	t_load_fails(log, T_LOG_OFFSET + T_LOG_LENGTH / 2, -VR_ECORRUPT,
		     "log region truncated (file is 1572864 bytes)");
	free(log);
}

static void test_vhdx_log_refuses_log_larger_than_256_mib(void)
{
	struct vhdx_log_params p = {
		.path = "big.vhdx",
		.fd = -1,
		.file_size = 1024 * (uint64_t)T_MiB,
		.log_offset = T_LOG_OFFSET,
		.log_length = 512 * T_MiB,
		.log_guid = t_guid,
	};
	struct vhdx_log_replay *r = NULL;
	struct vr_err err = { 0 };

	CU_ASSERT_EQUAL(vhdx_log_load(&p, &r, &err), -ENOTSUP);
	CU_ASSERT_PTR_NULL(r);
	CU_ASSERT(t_msg_has(&err, "big.vhdx: log of 536870912 bytes"));
}

/*
 * Corpus: decompress @rel (under tests/corpus) with @tool into an unlinked
 * temp file, and take the log parameters from the current header.
 */
struct t_corpus {
	struct t_file f;
	uint8_t guid[16];
	struct vhdx_log_params p;
};

static void t_corpus_open(struct t_corpus *c, const char *tool, const char *rel)
{
	char cmd[1024];
	uint8_t h1[80], h2[80], *h, *chunk;
	struct stat st;
	FILE *in;
	size_t n;
	off_t off = 0;

	snprintf(cmd, sizeof(cmd), "%s -dc '%s/tests/corpus/%s'", tool,
		 tap_srcdir(), rel);
	snprintf(c->f.path, sizeof(c->f.path), "/tmp/test_vhdx_log.XXXXXX");
	c->f.fd = mkstemp(c->f.path);
	CU_ASSERT_FATAL(c->f.fd >= 0);
	unlink(c->f.path);
	chunk = malloc(T_MiB);
	CU_ASSERT_PTR_NOT_NULL_FATAL(chunk);
	in = popen(cmd, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(in);
	while ((n = fread(chunk, 1, T_MiB, in)) > 0) {
		CU_ASSERT_FATAL(pwrite(c->f.fd, chunk, n, off) == (ssize_t)n);
		off += (off_t)n;
	}
	free(chunk);
	CU_ASSERT_FATAL(pclose(in) == 0);
	CU_ASSERT_FATAL(fstat(c->f.fd, &st) == 0);
	c->f.size = (uint64_t)st.st_size;

	/* [MS-VHDX] 2.2.2: headers at 64 and 128 KiB; higher sequence wins */
	t_read(&c->f, h1, sizeof(h1), 64 * 1024);
	t_read(&c->f, h2, sizeof(h2), 128 * 1024);
	CU_ASSERT_FATAL(memcmp(h1, "head", 4) == 0);
	CU_ASSERT_FATAL(memcmp(h2, "head", 4) == 0);
	h = vr_get_le64(h2 + 8) > vr_get_le64(h1 + 8) ? h2 : h1;
	memcpy(c->guid, h + 48, 16);
	c->p = (struct vhdx_log_params){
		.path = c->f.path,
		.fd = c->f.fd,
		.file_size = c->f.size,
		.log_offset = vr_get_le64(h + 72),
		.log_length = vr_get_le32(h + 68),
		.log_guid = c->guid,
	};
}

/* FULLY_PRESENT (6, [MS-VHDX] 2.5.1.1) entries in a 4 KiB BAT sector. */
static unsigned t_bat_fully_present(const uint8_t *sector)
{
	unsigned i, n = 0;

	for (i = 0; i < T_SECTOR / 8; i++)
		if ((vr_get_le64(sector + 8 * i) & 7) == 6)
			n++;
	return n;
}

/*
 * qemu's dirty image: 7 entries, only the last (seq 7) carries the current
 * LogGuid; its one data descriptor rewrites the BAT sector at 0x200000 and
 * takes FULLY_PRESENT blocks from 17 to 18 (corpus README).
 */
static void test_vhdx_log_corpus_qemu_dirty_log_replays_one_bat_sector(void)
{
	struct vhdx_log_replay *r = NULL;
	struct vr_err err = { 0 };
	struct t_corpus c;
	uint8_t bat[T_SECTOR], wide[3 * T_SECTOR], got[T_SECTOR];
	struct stat st;
	int rc;

	t_corpus_open(&c, "bzip2", "qemu/iotest-dirtylog-10G-4M.vhdx.bz2");
	CU_ASSERT_EQUAL(c.p.log_offset, T_MiB);
	CU_ASSERT_EQUAL(c.p.log_length, T_MiB);
	rc = vhdx_log_load(&c.p, &r, &err);
	if (rc < 0)
		printf("# %s\n", err.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_EQUAL(vhdx_log_replay_entries(r), 1);
	CU_ASSERT_EQUAL(vhdx_log_replay_last_file_offset(r), c.f.size);

	/* exactly the 4 KiB at 0x200000 is written */
	memset(wide, 0x5a, sizeof(wide));
	vhdx_log_replay_overlay(r, wide, sizeof(wide), 0x200000 - T_SECTOR);
	CU_ASSERT(t_all(wide, T_SECTOR, 0x5a));
	CU_ASSERT(!t_all(wide + T_SECTOR, T_SECTOR, 0x5a));
	CU_ASSERT(t_all(wide + 2 * T_SECTOR, T_SECTOR, 0x5a));

	t_read(&c.f, bat, sizeof(bat), 0x200000);
	CU_ASSERT_EQUAL(t_bat_fully_present(bat), 17);
	vhdx_log_replay_overlay(r, bat, sizeof(bat), 0x200000);
	CU_ASSERT_EQUAL(t_bat_fully_present(bat), 18);

	CU_ASSERT_EQUAL(vhdx_log_replay_apply(r, c.f.fd, c.f.path, &err), 0);
	t_read(&c.f, got, sizeof(got), 0x200000);
	CU_ASSERT(memcmp(got, bat, T_SECTOR) == 0);
	CU_ASSERT_EQUAL(fstat(c.f.fd, &st), 0);
	CU_ASSERT_EQUAL((uint64_t)st.st_size, c.f.size);
	vhdx_log_replay_free(r);
	t_file_close(&c.f);
}

/*
 * Windows' dirty image: 3 entries with the current LogGuid; the head's Tail
 * is the second, so 2 are replayed (the first has no descriptors). They
 * rewrite the BAT at 0x300000 so both payload blocks become FULLY_PRESENT;
 * LastFileOffset equals the file size (corpus README).
 */
static void test_vhdx_log_corpus_windows_dirty_log_fills_bat(void)
{
	struct vhdx_log_replay *r = NULL;
	struct vr_err err = { 0 };
	struct t_corpus c;
	uint8_t bat[T_SECTOR], wide[3 * T_SECTOR];
	int rc;

	t_corpus_open(&c, "gzip", "adiskreader/small_ntfs_test.vhdx.gz");
	rc = vhdx_log_load(&c.p, &r, &err);
	if (rc < 0)
		printf("# %s\n", err.msg);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_EQUAL(vhdx_log_replay_entries(r), 2);
	CU_ASSERT_EQUAL(vhdx_log_replay_last_file_offset(r), 0x4400000);
	CU_ASSERT_EQUAL(c.f.size, 0x4400000);

	memset(wide, 0x5a, sizeof(wide));
	vhdx_log_replay_overlay(r, wide, sizeof(wide), 0x300000 - T_SECTOR);
	CU_ASSERT(t_all(wide, T_SECTOR, 0x5a));
	CU_ASSERT(t_all(wide + 2 * T_SECTOR, T_SECTOR, 0x5a));

	t_read(&c.f, bat, sizeof(bat), 0x300000);
	CU_ASSERT_EQUAL(vr_get_le64(bat) & 7, 0);
	CU_ASSERT_EQUAL(vr_get_le64(bat + 8) & 7, 0);
	vhdx_log_replay_overlay(r, bat, sizeof(bat), 0x300000);
	CU_ASSERT_EQUAL(vr_get_le64(bat) & 7, 6);
	CU_ASSERT_EQUAL(vr_get_le64(bat + 8) & 7, 6);
	vhdx_log_replay_free(r);
	t_file_close(&c.f);
}

/* ---- the writer: what it writes, the loader must replay ---- */

static struct vhdx_log_writer *t_writer(const struct t_file *f)
{
	struct vhdx_log_params p = t_params(f);
	struct vhdx_log_writer *w = NULL;
	struct vr_err err = { 0 };

	CU_ASSERT_EQUAL_FATAL(vhdx_log_writer_new(&p, 1, &w, &err), 0);
	return w;
}

/* Write one entry putting pattern @seed at T_TARGET. */
static void t_write_one(struct vhdx_log_writer *w, uint8_t seed)
{
	uint8_t sector[T_SECTOR];
	struct vhdx_log_sector s = { T_TARGET, sector };
	struct vr_err err = { 0 };

	t_pattern(sector, seed);
	CU_ASSERT_EQUAL_FATAL(
		vhdx_log_write_entry(w, &s, 1, T_FILE_SIZE, T_FILE_SIZE, &err),
		0);
}

/*
 * Load the log of @f, check it holds @entries entries, apply it, and compare
 * T_TARGET with pattern @seed.
 */
static void t_expect_replay_of(struct t_file *f, unsigned entries, uint8_t seed)
{
	struct vhdx_log_replay *r = NULL;
	struct vr_err err = { 0 };
	uint8_t want[T_SECTOR], got[T_SECTOR];

	CU_ASSERT_EQUAL_FATAL(t_load(f, &r, &err), 0);
	CU_ASSERT_EQUAL(vhdx_log_replay_entries(r), entries);
	CU_ASSERT_EQUAL_FATAL(vhdx_log_replay_apply(r, f->fd, f->path, &err),
			      0);
	t_pattern(want, seed);
	t_read(f, got, T_SECTOR, T_TARGET);
	CU_ASSERT_EQUAL(memcmp(got, want, T_SECTOR), 0);
	vhdx_log_replay_free(r);
}

static void test_vhdx_log_writer_entry_replays(void)
{
	uint8_t a[T_SECTOR], b[T_SECTOR], got[T_SECTOR];
	struct vhdx_log_sector s[2] = { { T_TARGET + T_SECTOR, a },
					{ T_TARGET, b } };
	struct vhdx_log_replay *r = NULL;
	struct vhdx_log_writer *w;
	struct vr_err err = { 0 };
	struct t_file f;

	t_file_open(&f, NULL, T_FILE_SIZE);
	w = t_writer(&f);
	t_pattern(a, 1);
	t_pattern(b, 2);
	CU_ASSERT_EQUAL_FATAL(vhdx_log_write_entry(w, s, 2, T_FILE_SIZE,
						   T_FILE_SIZE + T_MiB, &err),
			      0);
	CU_ASSERT_EQUAL_FATAL(t_load(&f, &r, &err), 0);
	CU_ASSERT_EQUAL(vhdx_log_replay_entries(r), 1);
	CU_ASSERT_EQUAL(vhdx_log_replay_last_file_offset(r),
			T_FILE_SIZE + T_MiB);
	CU_ASSERT_EQUAL_FATAL(vhdx_log_replay_apply(r, f.fd, f.path, &err), 0);
	t_read(&f, got, T_SECTOR, T_TARGET + T_SECTOR);
	CU_ASSERT_EQUAL(memcmp(got, a, T_SECTOR), 0);
	t_read(&f, got, T_SECTOR, T_TARGET);
	CU_ASSERT_EQUAL(memcmp(got, b, T_SECTOR), 0);
	vhdx_log_replay_free(r);
	vhdx_log_writer_free(w);
	t_file_close(&f);
}

static void test_vhdx_log_writer_newest_entry_wins_after_wrap(void)
{
	struct vhdx_log_writer *w;
	struct t_file f;
	unsigned i;

	unsigned in_sequence = 0;

	t_file_open(&f, NULL, T_FILE_SIZE);
	w = t_writer(&f);
	/*
	 * 8 KiB entries: 300 of them go round a 1 MiB log more than once,
	 * in sequences of 64 (half the log); a checkpoint would apply each
	 * sequence before the restart.
	 */
	for (i = 1; i <= 300; i++) {
		if (vhdx_log_writer_room(w) == 0) {
			CU_ASSERT_EQUAL(in_sequence, 64);
			vhdx_log_writer_restart(w);
			in_sequence = 0;
		}
		t_write_one(w, (uint8_t)i);
		in_sequence++;
	}
	t_expect_replay_of(&f, in_sequence, (uint8_t)300);
	vhdx_log_writer_free(w);
	t_file_close(&f);
}

static void test_vhdx_log_writer_torn_entry_leaves_previous(void)
{
	struct vhdx_log_writer *w;
	struct t_file f;
	uint8_t byte;

	t_file_open(&f, NULL, T_FILE_SIZE);
	w = t_writer(&f);
	t_write_one(w, 1);
	t_write_one(w, 2);
	/* The second entry starts 8 KiB in; tear its data sector. */
	t_read(&f, &byte, 1, T_LOG_OFFSET + 2 * T_SECTOR + T_SECTOR + 100);
	byte ^= 0xff;
	CU_ASSERT_FATAL(pwrite(f.fd, &byte, 1,
			       T_LOG_OFFSET + 2 * T_SECTOR + T_SECTOR + 100) ==
			1);
	t_expect_replay_of(&f, 1, 1);
	vhdx_log_writer_free(w);
	t_file_close(&f);
}

static void test_vhdx_log_writer_sequence_replays_in_order(void)
{
	uint8_t a[T_SECTOR], b[T_SECTOR], got[T_SECTOR];
	struct vhdx_log_sector s[2] = { { T_TARGET, a },
					{ T_TARGET + T_SECTOR, b } };
	struct vhdx_log_writer *w;
	struct vr_err err = { 0 };
	struct t_file f;

	t_file_open(&f, NULL, T_FILE_SIZE);
	w = t_writer(&f);
	/* entry 1 writes both sectors, entry 2 only the first again */
	t_pattern(a, 7);
	t_pattern(b, 8);
	CU_ASSERT_EQUAL_FATAL(
		vhdx_log_write_entry(w, s, 2, T_FILE_SIZE, T_FILE_SIZE, &err),
		0);
	t_write_one(w, 9);
	t_expect_replay_of(&f, 2, 9);
	t_read(&f, got, T_SECTOR, T_TARGET + T_SECTOR);
	CU_ASSERT_EQUAL(memcmp(got, b, T_SECTOR), 0);
	vhdx_log_writer_free(w);
	t_file_close(&f);
}

static void test_vhdx_log_writer_torn_restart_keeps_old_sequence(void)
{
	struct vhdx_log_writer *w;
	struct t_file f;
	unsigned i;
	uint8_t byte;

	t_file_open(&f, NULL, T_FILE_SIZE);
	w = t_writer(&f);
	/* fill a sequence to half the log, then start the next one */
	for (i = 1; vhdx_log_writer_room(w) > 0; i++)
		t_write_one(w, (uint8_t)i);
	vhdx_log_writer_restart(w);
	t_write_one(w, 0xaa);
	/* tear the new sequence's only entry (it starts at 512 KiB) */
	t_read(&f, &byte, 1, T_LOG_OFFSET + 512 * 1024 + T_SECTOR + 7);
	byte ^= 0xff;
	CU_ASSERT_FATAL(pwrite(f.fd, &byte, 1,
			       T_LOG_OFFSET + 512 * 1024 + T_SECTOR + 7) == 1);
	/* the old sequence is whole: 64 entries, the last one wins */
	t_expect_replay_of(&f, i - 1, (uint8_t)(i - 1));
	vhdx_log_writer_free(w);
	t_file_close(&f);
}

static void test_vhdx_log_writer_refuses_bad_entries(void)
{
	static uint8_t sector[T_SECTOR];
	struct vhdx_log_sector *s = calloc(127, sizeof(*s));
	struct vhdx_log_writer *w;
	struct vr_err err = { 0 };
	struct t_file f;
	unsigned i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	t_file_open(&f, NULL, T_FILE_SIZE);
	w = t_writer(&f);
	for (i = 0; i < 127; i++) {
		s[i].file_offset = T_TARGET + (uint64_t)i * T_SECTOR;
		s[i].data = sector;
	}
	/* 127 need 2 descriptor sectors: 516 KiB, more than half */
	CU_ASSERT_EQUAL(vhdx_log_writer_room(w), 126);
	CU_ASSERT_EQUAL(
		vhdx_log_write_entry(w, s, 127, T_FILE_SIZE, T_FILE_SIZE, &err),
		-EINVAL);
	CU_ASSERT(t_msg_has(&err, "half"));
	vr_err_clear(&err);
	/* 126 sectors + 1 descriptor sector = 508 KiB: half a log at most */
	CU_ASSERT_EQUAL(
		vhdx_log_write_entry(w, s, 126, T_FILE_SIZE, T_FILE_SIZE, &err),
		0);
	/* the sequence is full: one more sector needs a restart */
	CU_ASSERT_EQUAL(vhdx_log_writer_room(w), 0);
	CU_ASSERT_EQUAL(
		vhdx_log_write_entry(w, s, 1, T_FILE_SIZE, T_FILE_SIZE, &err),
		-EINVAL);
	vr_err_clear(&err);
	vhdx_log_writer_restart(w);
	CU_ASSERT_EQUAL(vhdx_log_writer_room(w), 126);
	CU_ASSERT_EQUAL(
		vhdx_log_write_entry(w, s, 0, T_FILE_SIZE, T_FILE_SIZE, &err),
		-EINVAL);
	vr_err_clear(&err);
	s[0].file_offset = T_TARGET + 512;
	CU_ASSERT_EQUAL(
		vhdx_log_write_entry(w, s, 1, T_FILE_SIZE, T_FILE_SIZE, &err),
		-EINVAL);
	CU_ASSERT(t_msg_has(&err, "aligned"));
	vhdx_log_writer_free(w);
	t_file_close(&f);
	free(s);
}

int main(void)
{
	static const struct {
		const char *name;
		CU_TestFunc fn;
	} tests[] = {
#define T(fn) { #fn, fn }
		T(test_vhdx_log_replays_single_data_entry),
		T(test_vhdx_log_replays_zero_descriptor),
		T(test_vhdx_log_replays_sequence_from_head_tail),
		T(test_vhdx_log_ignores_stale_entries_with_other_guid),
		T(test_vhdx_log_picks_highest_head_sequence),
		T(test_vhdx_log_replays_entry_wrapping_end_of_log),
		T(test_vhdx_log_follows_sequence_across_end_of_log),
		T(test_vhdx_log_replays_entry_with_two_descriptor_sectors),
		T(test_vhdx_log_rejects_lone_entry_with_bad_crc),
		T(test_vhdx_log_ignores_torn_head_after_valid_sequence),
		T(test_vhdx_log_rejects_bad_data_sector_sequence_high),
		T(test_vhdx_log_rejects_bad_data_sector_sequence_low),
		T(test_vhdx_log_rejects_bad_data_sector_signature),
		T(test_vhdx_log_rejects_descriptor_sequence_mismatch),
		T(test_vhdx_log_rejects_descriptor_count_past_entry_length),
		T(test_vhdx_log_rejects_entry_length_not_multiple_of_4k),
		T(test_vhdx_log_rejects_entry_length_not_matching_sectors),
		T(test_vhdx_log_rejects_entry_longer_than_log),
		T(test_vhdx_log_rejects_unaligned_tail),
		T(test_vhdx_log_rejects_nonzero_header_reserved),
		T(test_vhdx_log_rejects_bad_descriptor_signature),
		T(test_vhdx_log_rejects_unaligned_descriptor_fields),
		T(test_vhdx_log_rejects_zero_sequence_number),
		T(test_vhdx_log_rejects_tail_outside_sequence),
		T(test_vhdx_log_rejects_empty_log_with_guid_set),
		T(test_vhdx_log_rejects_log_of_only_stale_entries),
		T(test_vhdx_log_rejects_file_shorter_than_flushed_offset),
		T(test_vhdx_log_rejects_descriptor_past_last_file_offset),
		T(test_vhdx_log_apply_extends_file_to_last_file_offset),
		T(test_vhdx_log_overlay_leaves_file_untouched),
		T(test_vhdx_log_rejects_truncated_log_region),
		T(test_vhdx_log_refuses_log_larger_than_256_mib),
		T(test_vhdx_log_corpus_qemu_dirty_log_replays_one_bat_sector),
		T(test_vhdx_log_corpus_windows_dirty_log_fills_bat),
		T(test_vhdx_log_writer_entry_replays),
		T(test_vhdx_log_writer_newest_entry_wins_after_wrap),
		T(test_vhdx_log_writer_torn_entry_leaves_previous),
		T(test_vhdx_log_writer_sequence_replays_in_order),
		T(test_vhdx_log_writer_torn_restart_keeps_old_sequence),
		T(test_vhdx_log_writer_refuses_bad_entries),
#undef T
	};
	CU_pSuite suite;
	size_t i;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	suite = CU_add_suite("vhdx_log", NULL, NULL);
	if (!suite)
		return 1;
	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (!CU_add_test(suite, tests[i].name, tests[i].fn))
			return 1;
	return tap_run();
}
