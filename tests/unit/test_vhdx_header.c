/*
 * test_vhdx_header.c - header and region table encode/decode/checksum,
 * GUID text forms, UTF-16 conversion.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "guid.h"
#include "header.h"
#include "tap.h"
#include "vhdx.h"
#include "vr_endian.h"
#include "vr_text.h"

static void test_vhdx_header_round_trips(void)
{
	struct vhdx_header h = { .sequence = 7,
				 .version = 1,
				 .log_length = 1 << 20,
				 .log_offset = 1 << 20 },
			   d;
	uint8_t *buf = malloc(VHDX_HDR_CSUM_SIZE);

	memset(h.data_write_guid, 0xab, 16);
	h.log_guid[3] = 1;
	vhdx_header_encode(&h, buf);
	CU_ASSERT_TRUE(vhdx_header_csum_verify(buf));
	CU_ASSERT_EQUAL(memcmp(buf, "head", 4), 0);
	vhdx_header_decode(buf, &d);
	CU_ASSERT_EQUAL(d.sequence, 7);
	CU_ASSERT_EQUAL(d.version, 1);
	CU_ASSERT_EQUAL(d.log_length, 1 << 20);
	CU_ASSERT_EQUAL(d.log_offset, 1 << 20);
	CU_ASSERT_EQUAL(memcmp(d.data_write_guid, h.data_write_guid, 16), 0);
	CU_ASSERT_EQUAL(memcmp(d.log_guid, h.log_guid, 16), 0);
	free(buf);
}

static void test_vhdx_header_rejects_any_flipped_byte(void)
{
	struct vhdx_header h = { .sequence = 1, .version = 1 };
	uint8_t *buf = malloc(VHDX_HDR_CSUM_SIZE);
	/* every field, the checksum itself, and the reserved tail */
	static const size_t at[] = { 0,	 4,  8,	 16, 32, 48,
				     64, 66, 68, 72, 80, 4095 };
	size_t i;

	vhdx_header_encode(&h, buf);
	for (i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		buf[at[i]] ^= 0x01;
		CU_ASSERT_FALSE(vhdx_header_csum_verify(buf));
		buf[at[i]] ^= 0x01;
	}
	CU_ASSERT_TRUE(vhdx_header_csum_verify(buf));
	free(buf);
}

static void test_vhdx_region_csum_covers_64k(void)
{
	uint8_t *buf = calloc(1, VHDX_RT_SIZE);

	memcpy(buf, "regi", 4);
	vhdx_region_csum_set(buf);
	CU_ASSERT_TRUE(vhdx_region_csum_verify(buf));
	buf[VHDX_RT_SIZE - 1] ^= 0x80;
	CU_ASSERT_FALSE(vhdx_region_csum_verify(buf));
	buf[VHDX_RT_SIZE - 1] ^= 0x80;
	memcpy(buf, "regx", 4);
	vhdx_region_csum_set(buf);
	CU_ASSERT_FALSE(vhdx_region_csum_verify(buf)); /* bad signature */
	free(buf);
}

static void test_vhdx_guid_text_round_trips(void)
{
	char text[37];
	uint8_t g[16];

	/* The BAT region GUID as the spec prints it. */
	vhdx_guid_format(vhdx_guid_bat, text);
	CU_ASSERT_STRING_EQUAL(text, "2dc27766-f623-4200-9d64-115e9bfd4a08");
	CU_ASSERT_EQUAL(
		vhdx_guid_parse("{2DC27766-F623-4200-9D64-115E9BFD4A08}", g),
		0);
	CU_ASSERT_EQUAL(memcmp(g, vhdx_guid_bat, 16), 0);
	CU_ASSERT_EQUAL(
		vhdx_guid_parse("2dc27766-f623-4200-9d64-115e9bfd4a08", g), 0);
	CU_ASSERT_EQUAL(memcmp(g, vhdx_guid_bat, 16), 0);
	CU_ASSERT_NOT_EQUAL(vhdx_guid_parse("{2DC27766-F623-4200-9D64}", g), 0);
	CU_ASSERT_NOT_EQUAL(
		vhdx_guid_parse("{2DC27766+F623-4200-9D64-115E9BFD4A08}", g),
		0);
	CU_ASSERT_NOT_EQUAL(
		vhdx_guid_parse("{2DC2776G-F623-4200-9D64-115E9BFD4A08}", g),
		0);
}

static void test_vhdx_utf16_converts_and_bounds(void)
{
	/* "a", U+00E9, U+20AC, U+1F600 (surrogate pair), NUL, "z" */
	static const uint8_t s[] = { 'a',  0,	 0xe9, 0, 0xac, 0x20, 0x3d,
				     0xd8, 0x00, 0xde, 0, 0,	'z',  0 };
	char out[32];

	CU_ASSERT_EQUAL(vr_utf16le_to_utf8(s, 7, out, sizeof(out)), 10);
	CU_ASSERT_STRING_EQUAL(out, "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	CU_ASSERT_EQUAL(vr_utf16le_to_utf8(s, 7, out, 4), -ENAMETOOLONG);
	CU_ASSERT_EQUAL(strlen(out), 3);
	/* a lone high surrogate becomes U+FFFD */
	CU_ASSERT_EQUAL(vr_utf16le_to_utf8(s + 6, 1, out, sizeof(out)), 3);
	CU_ASSERT_STRING_EQUAL(out, "\xef\xbf\xbd");
}

int main(void)
{
	CU_pSuite s;

	CU_initialize_registry();
	s = CU_add_suite("vhdx_header", NULL, NULL);
	CU_add_test(s, "test_vhdx_header_round_trips",
		    test_vhdx_header_round_trips);
	CU_add_test(s, "test_vhdx_header_rejects_any_flipped_byte",
		    test_vhdx_header_rejects_any_flipped_byte);
	CU_add_test(s, "test_vhdx_region_csum_covers_64k",
		    test_vhdx_region_csum_covers_64k);
	CU_add_test(s, "test_vhdx_guid_text_round_trips",
		    test_vhdx_guid_text_round_trips);
	CU_add_test(s, "test_vhdx_utf16_converts_and_bounds",
		    test_vhdx_utf16_converts_and_bounds);
	return tap_run();
}
