/*
 * vr_io.c - positional I/O loops and atomic file replacement.
 *
 * Only pread()/pwrite() at explicit offsets: a shared file position would be
 * a race once FUSE reads one descriptor from many threads.
 */
#include <config.h>
#include "vr_io.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vr_err.h"

static int vr_io_range_ok(size_t len, uint64_t off)
{
	return off <= INT64_MAX && len <= INT64_MAX - off;
}

ssize_t vr_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	if (!vr_io_range_ok(len, off) || len > SSIZE_MAX)
		return -EINVAL;
	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done,
				  (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

ssize_t vr_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	if (!vr_io_range_ok(len, off) || len > SSIZE_MAX)
		return -EINVAL;
	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done,
				   (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ENOSPC;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int vr_fsync_dir_of(const char *path, struct vr_err *err)
{
	char *copy = strdup(path);
	const char *dir;
	int fd, rc = 0;

	if (!copy)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", path);
	dir = dirname(copy);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		rc = vr_err_set(err, -errno, "%s: cannot open directory: %s",
				dir, strerror(errno));
		goto out;
	}
	if (fsync(fd) < 0)
		rc = vr_err_set(err, -errno, "%s: fsync of directory: %s", dir,
				strerror(errno));
	close(fd);
out:
	free(copy);
	return rc;
}

/* rename(), or with VR_REPLACE_NOCLOBBER fail with -EEXIST if @to exists. */
static int vr_file_rename(const char *from, const char *to, unsigned flags)
{
	if (!(flags & VR_REPLACE_NOCLOBBER))
		return rename(from, to) < 0 ? -errno : 0;
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* A file system without RENAME_NOREPLACE: link() never clobbers. */
	if (link(from, to) < 0)
		return -errno;
	unlink(from);
	return 0;
}

int vr_file_replace(const char *path, mode_t mode, unsigned flags,
		    vr_file_writer write, void *ctx, struct vr_err *err)
{
	size_t n = strlen(path) + sizeof(".tmp.XXXXXX");
	char *tmp = malloc(n);
	int fd, rc;

	if (!tmp)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", path);
	snprintf(tmp, n, "%s.tmp.XXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0) {
		rc = vr_err_set(err, -errno, "%s: cannot create temp file: %s",
				path, strerror(errno));
		free(tmp);
		return rc;
	}
	if (fchmod(fd, mode) < 0) {
		rc = vr_err_set(err, -errno, "%s: chmod: %s", tmp,
				strerror(errno));
		goto out_close;
	}
	rc = write(fd, tmp, ctx, err);
	if (rc < 0)
		goto out_close;
	if (fsync(fd) < 0) {
		rc = vr_err_set(err, -errno, "%s: fsync: %s", tmp,
				strerror(errno));
		goto out_close;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = vr_err_set(err, -errno, "%s: close: %s", tmp,
				strerror(errno));
		goto out_unlink;
	}
	fd = -1;
	rc = vr_file_rename(tmp, path, flags);
	if (rc == -EEXIST) {
		rc = vr_err_set(err, rc, "%s: already exists", path);
		goto out_unlink;
	}
	if (rc < 0) {
		rc = vr_err_set(err, rc, "%s: rename: %s", path, strerror(-rc));
		goto out_unlink;
	}
	free(tmp);
	return vr_fsync_dir_of(path, err);

out_close:
	close(fd);
out_unlink:
	unlink(tmp);
	free(tmp);
	return rc;
}
