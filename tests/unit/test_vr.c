/*
 * test_vr.c - the vr_* base helpers: CRC-32C, byte order, errors, I/O.
 */
#include <config.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "tap.h"
#include "vr_crc.h"
#include "vr_endian.h"
#include "vr_err.h"
#include "vr_io.h"

static void test_vr_crc32c_known_answer(void)
{
	/* The published CRC-32C check value (RFC 3720, iSCSI). */
	CU_ASSERT_EQUAL(vr_crc32c(0, "123456789", 9), 0xE3069283u);
	CU_ASSERT_EQUAL(vr_crc32c(0, "", 0), 0);
}

static void test_vr_crc32c_chains_like_zlib(void)
{
	uint32_t part = vr_crc32c(0, "1234", 4);

	CU_ASSERT_EQUAL(vr_crc32c(part, "56789", 5), 0xE3069283u);
}

static void test_vr_endian_round_trips_and_widens(void)
{
	uint8_t b[8];

	vr_put_le64(b, 0x8877665544332211ull);
	CU_ASSERT_EQUAL(b[0], 0x11);
	CU_ASSERT_EQUAL(b[7], 0x88);
	CU_ASSERT_EQUAL(vr_get_le64(b), 0x8877665544332211ull);
	/* the top byte must not sign-extend */
	CU_ASSERT_EQUAL(vr_get_le32(b + 4), 0x88776655u);
	vr_put_le16(b, 0xfffe);
	CU_ASSERT_EQUAL(vr_get_le16(b), 0xfffe);
}

static void test_vr_err_keeps_first_message(void)
{
	struct vr_err err = { 0 };

	CU_ASSERT_EQUAL(vr_err_set(&err, -EIO, "first %d", 1), -EIO);
	CU_ASSERT_EQUAL(vr_err_set(&err, -EINVAL, "second"), -EINVAL);
	CU_ASSERT_EQUAL(err.code, -EIO);
	CU_ASSERT_STRING_EQUAL(err.msg, "first 1");
	CU_ASSERT_EQUAL(vr_err_set(NULL, -ENOMEM, "x"), -ENOMEM);
	CU_ASSERT_STRING_EQUAL(vr_err_name(-VR_ECORRUPT), "EUCLEAN");
	CU_ASSERT_STRING_EQUAL(vr_err_name(-VR_EBADCRC), "EBADMSG");
	/* names quoted from files cannot break the one line */
	vr_err_clear(&err);
	vr_err_set(&err, -EINVAL, "key '%s'", "a\nb\r\x1b[2Jc\x7f");
	CU_ASSERT_STRING_EQUAL(err.msg, "key 'a?b??[2Jc?'");
}

static char *test_vr_tempfile(const char *content)
{
	char *path = strdup("/tmp/vr-test.XXXXXX");
	int fd = mkstemp(path);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(write(fd, content, strlen(content)),
			(ssize_t)strlen(content));
	close(fd);
	return path;
}

static void test_vr_pread_full_reports_short_read_at_eof(void)
{
	char *path = test_vr_tempfile("hello");
	char buf[16];
	int fd = open(path, O_RDONLY);

	CU_ASSERT_EQUAL(vr_pread_full(fd, buf, sizeof(buf), 0), 5);
	CU_ASSERT_EQUAL(vr_pread_full(fd, buf, 3, 4), 1);
	CU_ASSERT_EQUAL(vr_pread_full(fd, buf, 2, (uint64_t)INT64_MAX),
			-EINVAL);
	close(fd);
	unlink(path);
	free(path);
}

static int test_vr_write_ok(int fd, const char *tmp, void *ctx,
			    struct vr_err *err)
{
	(void)tmp;
	(void)err;
	return vr_pwrite_full(fd, ctx, strlen(ctx), 0) < 0 ? -EIO : 0;
}

static int test_vr_write_fails(int fd, const char *tmp, void *ctx,
			       struct vr_err *err)
{
	(void)tmp;
	(void)fd;
	(void)ctx;
	return vr_err_set(err, -ENOSPC, "disk full (simulated)");
}

static void test_vr_file_replace_is_all_or_nothing(void)
{
	char *path = test_vr_tempfile("old");
	struct vr_err err = { 0 };
	char buf[16] = { 0 }, cmd[256];
	int fd;

	CU_ASSERT_EQUAL(
		vr_file_replace(path, 0644, 0, test_vr_write_fails, NULL, &err),
		-ENOSPC);
	fd = open(path, O_RDONLY);
	CU_ASSERT_EQUAL(read(fd, buf, sizeof(buf)), 3);
	CU_ASSERT_STRING_EQUAL(buf, "old");
	close(fd);
	/* no temp file may be left behind */
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls %s.tmp.* 2>/dev/null)\"",
		 path);
	CU_ASSERT_EQUAL(system(cmd), 0);

	vr_err_clear(&err);
	CU_ASSERT_EQUAL(
		vr_file_replace(path, 0600, 0, test_vr_write_ok, "new!", &err),
		0);
	memset(buf, 0, sizeof(buf));
	fd = open(path, O_RDONLY);
	CU_ASSERT_EQUAL(read(fd, buf, sizeof(buf)), 4);
	CU_ASSERT_STRING_EQUAL(buf, "new!");
	close(fd);
	/* with VR_REPLACE_NOCLOBBER an existing file stays as it is */
	vr_err_clear(&err);
	CU_ASSERT_EQUAL(vr_file_replace(path, 0600, VR_REPLACE_NOCLOBBER,
					test_vr_write_ok, "other", &err),
			-EEXIST);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "already exists"));
	memset(buf, 0, sizeof(buf));
	fd = open(path, O_RDONLY);
	CU_ASSERT_EQUAL(read(fd, buf, sizeof(buf)), 4);
	CU_ASSERT_STRING_EQUAL(buf, "new!");
	close(fd);
	CU_ASSERT_EQUAL(system(cmd), 0);
	unlink(path);
	free(path);
}

int main(void)
{
	CU_pSuite s;

	CU_initialize_registry();
	s = CU_add_suite("vr", NULL, NULL);
	CU_add_test(s, "test_vr_crc32c_known_answer",
		    test_vr_crc32c_known_answer);
	CU_add_test(s, "test_vr_crc32c_chains_like_zlib",
		    test_vr_crc32c_chains_like_zlib);
	CU_add_test(s, "test_vr_endian_round_trips_and_widens",
		    test_vr_endian_round_trips_and_widens);
	CU_add_test(s, "test_vr_err_keeps_first_message",
		    test_vr_err_keeps_first_message);
	CU_add_test(s, "test_vr_pread_full_reports_short_read_at_eof",
		    test_vr_pread_full_reports_short_read_at_eof);
	CU_add_test(s, "test_vr_file_replace_is_all_or_nothing",
		    test_vr_file_replace_is_all_or_nothing);
	return tap_run();
}
