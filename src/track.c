/*
 * track.c - tracked writes: a VHDX open for writing plus its change bitmap.
 *
 * The order that keeps the bitmap honest: the sidecar is saved "not clean"
 * before the first write can happen; a range is marked before it is
 * written (a write that fails half way is still counted); the sidecar is
 * saved clean only after the VHDX flush that made the writes durable, with
 * the DataWriteGuid the writes left in the header.
 */
#include <config.h>
#include "track.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cbt.h"
#include "vhdx.h"
#include "vr_err.h"

struct track {
	char *path;
	int lock_fd;
	struct vhdx *v;
	struct cbt *cbt;
	bool finished;
};

void track_identity(struct vhdx *v, struct cbt_identity *id)
{
	struct vhdx_info info;

	vhdx_get_info(v, &info);
	memcpy(id->disk_id, info.virtual_disk_id, 16);
	memcpy(id->data_write_guid, info.data_write_guid, 16);
	id->size = info.virtual_size;
}

int track_lock(const char *path, int *out_fd, struct vr_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK), rc;

	if (fd < 0)
		return vr_err_set(err, -errno, "%s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		rc = errno == EWOULDBLOCK
			     ? vr_err_set(err, -EBUSY, "%s: in use by a writer",
					  path)
			     : vr_err_set(err, -errno, "%s: lock: %s", path,
					  strerror(errno));
		close(fd);
		return rc;
	}
	*out_fd = fd;
	return 0;
}

int track_open(const char *path, const char *parent, uint32_t granularity,
	       unsigned flags, struct track **out, struct vr_err *err)
{
	struct cbt_identity id;
	struct track *t = calloc(1, sizeof(*t));
	int rc;

	if (!t || !(t->path = strdup(path))) {
		free(t);
		return vr_err_set(err, -ENOMEM, "%s: out of memory", path);
	}
	t->lock_fd = -1;
	rc = track_lock(path, &t->lock_fd, err);
	if (rc < 0)
		goto fail;
	rc = vhdx_open(path, VHDX_OPEN_RDWR, parent, &t->v, NULL, err);
	if (rc < 0)
		goto fail;
	track_identity(t->v, &id);
	if (!(flags & TRACK_UNTRACKED)) {
		rc = cbt_load(path, &id, granularity, &t->cbt, err);
		if (rc == 0)
			rc = cbt_save(t->cbt, &id, false, err);
		if (rc < 0)
			goto fail;
	}
	*out = t;
	return 0;
fail:
	track_close(t);
	return rc;
}

struct vhdx *track_vhdx(struct track *t)
{
	return t->v;
}

static int track_check_open(const struct track *t, struct vr_err *err)
{
	return t->finished ? vr_err_set(err, -EINVAL,
					"%s: write after the tracked disk "
					"was finished",
					t->path)
			   : 0;
}

/* Before a change of [@off, @off + @len): refuse it, or mark it. */
static int track_change(struct track *t, uint64_t off, uint64_t len,
			struct vr_err *err)
{
	int rc = track_check_open(t, err);

	if (rc == 0 && t->cbt)
		cbt_mark(t->cbt, off, len);
	return rc;
}

int track_write(struct track *t, const void *buf, size_t len, uint64_t off,
		struct vr_err *err)
{
	int rc = track_change(t, off, len, err);

	return rc < 0 ? rc : vhdx_write(t->v, buf, len, off, err);
}

int track_zero(struct track *t, uint64_t off, uint64_t len, unsigned flags,
	       struct vr_err *err)
{
	int rc = track_change(t, off, len, err);

	return rc < 0 ? rc : vhdx_zero(t->v, off, len, flags, err);
}

int track_flush(struct track *t, struct vr_err *err)
{
	return vhdx_flush(t->v, err);
}

/* Flush, then save the bitmap with the disk's identity as it is now. */
static int track_save(struct track *t, bool clean, struct vr_err *err)
{
	struct cbt_identity id;
	int rc = vhdx_flush(t->v, err);

	if (rc < 0 || !t->cbt)
		return rc;
	track_identity(t->v, &id);
	return cbt_save(t->cbt, &id, clean, err);
}

int track_persist(struct track *t, struct vr_err *err)
{
	int rc = track_check_open(t, err);

	return rc < 0 ? rc : track_save(t, false, err);
}

int track_finish(struct track *t, struct vr_err *err)
{
	int rc = track_check_open(t, err);

	if (rc == 0)
		rc = track_save(t, true, err);
	t->finished = true;
	return rc;
}

void track_close(struct track *t)
{
	if (!t)
		return;
	vhdx_close(t->v);
	cbt_free(t->cbt);
	if (t->lock_fd >= 0)
		close(t->lock_fd); /* drops the lock */
	free(t->path);
	free(t);
}
