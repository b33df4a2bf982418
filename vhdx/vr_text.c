/*
 * vr_text.c - UTF-16LE to UTF-8 for creator strings, parent locator keys
 * and values, and VHD parent names.
 */
#include <config.h>
#include "vr_text.h"

#include <errno.h>
#include <string.h>
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

/* Next code point of UTF-8 at *@p, advancing it; -1 if malformed. */
static int32_t vr_utf8_next(const unsigned char **p)
{
	const unsigned char *s = *p;
	uint32_t cp, min;
	int more, i;

	if (s[0] < 0x80) {
		*p = s + 1;
		return s[0];
	}
	if ((s[0] & 0xe0) == 0xc0) {
		cp = s[0] & 0x1f;
		more = 1;
		min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		cp = s[0] & 0x0f;
		more = 2;
		min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		cp = s[0] & 0x07;
		more = 3;
		min = 0x10000;
	} else {
		return -1;
	}
	for (i = 1; i <= more; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000))
		return -1;
	*p = s + more + 1;
	return (int32_t)cp;
}

int vr_utf8_to_utf16le(const char *src, uint8_t **out, size_t *len)
{
	const unsigned char *p = (const unsigned char *)src;
	/* at most one unit per byte, or two per 4-byte sequence */
	size_t cap = strlen(src) * 2, n = 0;
	uint8_t *buf;

	if (cap / 2 > 32767)
		return -EINVAL;
	buf = malloc(cap ? cap : 1);
	if (!buf)
		return -ENOMEM;
	while (*p) {
		int32_t cp = vr_utf8_next(&p);

		if (cp < 0) {
			free(buf);
			return -EINVAL;
		}
		if (cp >= 0x10000) {
			cp -= 0x10000;
			vr_put_le16(buf + n, (uint16_t)(0xd800 + (cp >> 10)));
			vr_put_le16(buf + n + 2,
				    (uint16_t)(0xdc00 + (cp & 0x3ff)));
			n += 4;
		} else {
			vr_put_le16(buf + n, (uint16_t)cp);
			n += 2;
		}
	}
	*out = buf;
	*len = n;
	return 0;
}
