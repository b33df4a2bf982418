/*
 * guid.h - the GUIDs [MS-VHDX] names, kept as 16 raw bytes in on-disk order
 * (fields 1-3 little-endian), compared with memcmp().
 */
#ifndef VHDX_GUID_H
#define VHDX_GUID_H

#include <stdbool.h>
#include <stdint.h>

struct vr_err;

/* Regions, 2.2.3.1 */
extern const uint8_t vhdx_guid_bat[16];
extern const uint8_t vhdx_guid_metadata[16];
/* Metadata items, 2.6.2 */
extern const uint8_t vhdx_guid_file_parameters[16];
extern const uint8_t vhdx_guid_virtual_disk_size[16];
extern const uint8_t vhdx_guid_page83[16];
extern const uint8_t vhdx_guid_logical_sector_size[16];
extern const uint8_t vhdx_guid_physical_sector_size[16];
extern const uint8_t vhdx_guid_parent_locator[16];
/* Parent locator type of a VHDX parent, 2.6.2.6.1 */
extern const uint8_t vhdx_guid_locator_vhdx[16];

bool vhdx_guid_is_zero(const uint8_t guid[16]);

/*
 * Parse "{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}" (braces optional, any case)
 * into on-disk order. Returns 0 or -EINVAL.
 */
int vhdx_guid_parse(const char *text, uint8_t guid[16]);

/*
 * A random (version 4) GUID in on-disk order. Returns 0, or -EIO with @err
 * naming @path when the system has no random bytes.
 */
int vhdx_guid_generate(uint8_t guid[16], const char *path, struct vr_err *err);

#endif /* VHDX_GUID_H */
