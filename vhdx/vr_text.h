/*
 * vr_text.h - UTF-16LE, as VHDX and VHD store names and paths, to UTF-8.
 */
#ifndef VR_TEXT_H
#define VR_TEXT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Convert @units UTF-16LE code units at @src to NUL-terminated UTF-8 in
 * @dst (@dst_size bytes), stopping at the first NUL unit. Unpaired
 * surrogates become U+FFFD. Returns the UTF-8 length, or -ENAMETOOLONG if it
 * does not fit (then @dst holds a truncated, terminated prefix), or -EINVAL
 * if @dst_size is 0.
 */
int vr_utf16le_to_utf8(const uint8_t *src, size_t units, char *dst,
		       size_t dst_size);

/*
 * The same into a new string: @len bytes (an odd last byte is ignored).
 * Returns NULL only when out of memory; caller frees.
 */
char *vr_utf16le_dup(const uint8_t *src, size_t len);

/*
 * Encode NUL-terminated UTF-8 @src as UTF-16LE (no terminator) into a new
 * buffer; *@len gets its length in bytes. Returns 0, -EINVAL (not valid
 * UTF-8, or longer than 32767 code units), -ENOMEM. Caller frees *@out.
 */
int vr_utf8_to_utf16le(const char *src, uint8_t **out, size_t *len);

#endif /* VR_TEXT_H */
