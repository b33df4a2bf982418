/*
 * vr_crc.c - CRC-32C through ISA-L's crc32_iscsi(), which takes and returns
 * the raw (not inverted) register; we invert on both sides for the zlib-style
 * chaining callers expect, and feed it in INT_MAX-sized pieces because its
 * length is an int.
 *
 * IEEE CRC-32 through ISA-L's crc32_gzip_refl(), which already inverts on
 * both sides itself (crc32_gzip_refl(0, "123456789", 9) == 0xCBF43926, and
 * chaining its result works like zlib's crc32()), and takes a 64-bit length.
 */
#include <config.h>
#include "vr_crc.h"

#include <limits.h>
#include <isa-l/crc.h>

uint32_t vr_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint32_t reg = ~crc;

	while (len > 0) {
		int piece = len > INT_MAX ? INT_MAX : (int)len;

		reg = crc32_iscsi((unsigned char *)p, piece, reg);
		p += piece;
		len -= (size_t)piece;
	}
	return ~reg;
}

uint32_t vr_crc32(uint32_t crc, const void *buf, size_t len)
{
	if (len == 0)
		return crc;
	return crc32_gzip_refl(crc, (const unsigned char *)buf, len);
}
