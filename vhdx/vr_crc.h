/*
 * vr_crc.h - CRC-32C (Castagnoli), the checksum of every VHDX structure, and
 * the IEEE CRC-32 of gzip, zlib and GPT partition tables.
 */
#ifndef VR_CRC_H
#define VR_CRC_H

#include <stddef.h>
#include <stdint.h>

/*
 * Continue a CRC-32C over @len bytes of @buf, zlib style: start with 0 and
 * feed the previous result back in to chain. vr_crc32c(0, "123456789", 9)
 * is 0xE3069283.
 */
uint32_t vr_crc32c(uint32_t crc, const void *buf, size_t len);

/*
 * Continue an IEEE CRC-32 (reflected polynomial 0xEDB88320, as gzip, zlib's
 * crc32() and GPT headers) over @len bytes of @buf, zlib style: start with 0
 * and feed the previous result back in to chain. vr_crc32(0, "123456789", 9)
 * is 0xCBF43926.
 */
uint32_t vr_crc32(uint32_t crc, const void *buf, size_t len);

#endif /* VR_CRC_H */
