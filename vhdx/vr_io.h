/*
 * vr_io.h - positional I/O that survives short transfers and EINTR, and
 * atomic replacement of whole files (STYLE.md section 7).
 */
#ifndef VR_IO_H
#define VR_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct vr_err;

/*
 * Read up to @len bytes at @off, looping over short reads and EINTR.
 * Returns the bytes read (fewer than @len only at end of file) or -errno;
 * -EINVAL if @off or @off + @len is past INT64_MAX.
 */
ssize_t vr_pread_full(int fd, void *buf, size_t len, uint64_t off);

/*
 * Write all @len bytes at @off, looping over short writes and EINTR.
 * Returns @len or -errno (-ENOSPC when the device is full).
 */
ssize_t vr_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);

/*
 * Callback for vr_file_replace(): write the new content to @fd (an empty temp
 * file whose name is @tmp_path). Returns 0 or a negative errno with @err set.
 */
typedef int (*vr_file_writer)(int fd, const char *tmp_path, void *ctx,
			      struct vr_err *err);

/* vr_file_replace() flags: refuse (-EEXIST) to replace an existing @path. */
#define VR_REPLACE_NOCLOBBER 0x1u

/*
 * Replace @path atomically: @write fills "@path.tmp.XXXXXX" in the same
 * directory, which is fsynced, closed, renamed over @path, and the directory
 * fsynced. On any failure the temp file is removed and @path is untouched.
 * @mode is the new file's permission bits. With VR_REPLACE_NOCLOBBER a @path
 * that exists when the rename comes is left alone and -EEXIST returned.
 * Returns 0 or a negative errno.
 */
int vr_file_replace(const char *path, mode_t mode, unsigned flags,
		    vr_file_writer write, void *ctx, struct vr_err *err);

/* fsync() the directory holding @path, so a rename or create in it lasts. */
int vr_fsync_dir_of(const char *path, struct vr_err *err);

#endif /* VR_IO_H */
