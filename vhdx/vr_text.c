/*
 * vr_text.c - UTF-16LE to UTF-8 for creator strings, parent locator keys
 * and values, and VHD parent names.
 */
#include <config.h>
#include "vr_text.h"

#include <errno.h>
#include <stdlib.h>

#include "vr_endian.h"

static size_t vr_utf8_encode(uint32_t cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

int vr_utf16le_to_utf8(const uint8_t *src, size_t units, char *dst,
		       size_t dst_size)
{
	size_t i, len = 0;

	if (dst_size == 0)
		return -EINVAL;
	for (i = 0; i < units; i++) {
		uint32_t cp = vr_get_le16(src + 2 * i);
		char enc[4];
		size_t n, k;

		if (cp == 0)
			break;
		if (cp >= 0xd800 && cp < 0xdc00 && i + 1 < units) {
			uint32_t lo = vr_get_le16(src + 2 * (i + 1));

			if (lo >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				     (lo - 0xdc00);
				i++;
			} else {
				cp = 0xfffd;
			}
		} else if (cp >= 0xd800 && cp < 0xe000) {
			cp = 0xfffd;
		}
		n = vr_utf8_encode(cp, enc);
		if (len + n >= dst_size) {
			dst[len] = '\0';
			return -ENAMETOOLONG;
		}
		for (k = 0; k < n; k++)
			dst[len++] = enc[k];
	}
	dst[len] = '\0';
	return (int)len;
}

char *vr_utf16le_dup(const uint8_t *src, size_t len)
{
	/* 3 UTF-8 bytes per UTF-16 unit always suffice, so this cannot fail. */
	size_t size = len / 2 * 3 + 1;
	char *s = malloc(size);

	if (s)
		vr_utf16le_to_utf8(src, len / 2, s, size);
	return s;
}
