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
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cbt.h"
#include "vhdx.h"
#include "vr_err.h"
#include "vr_io.h"

/* A freeze in progress (track_freeze()). */
struct track_frozen {
	uint32_t chunk_size;
	uint64_t nchunks;
	uint8_t *map;	    /* TRACK_MAP_* per chunk */
	struct cbt *before; /* the bitmap up to the freeze */
	int cow_fd;	    /* old bytes of chunks written since */
	uint32_t *slot;	    /* per chunk: its slot in cow_fd + 1, 0 none */
	uint32_t nslots;
	uint8_t *buf; /* one chunk */
};

struct track {
	char *path;
	int lock_fd;
	struct vhdx *v;
	struct cbt *cbt;
	bool finished;
	struct track_frozen *frozen; /* NULL: not frozen */
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

static size_t track_chunk_len(const struct track *t, uint64_t i)
{
	uint32_t cs = t->frozen->chunk_size;
	uint64_t off = i * cs, size = vhdx_virtual_size(t->v);

	return size - off < cs ? (size_t)(size - off) : cs;
}

/*
 * Copy-on-write: before [@off, @off + @len) changes under a freeze, save
 * the old bytes of every chunk there that a cycle may read and that is not
 * saved yet.
 */
static int track_preserve(struct track *t, uint64_t off, uint64_t len,
			  struct vr_err *err)
{
	struct track_frozen *f = t->frozen;
	uint64_t i, end;

	if (!f || len == 0)
		return 0;
	end = (off + len - 1) / f->chunk_size;
	for (i = off / f->chunk_size; i <= end && i < f->nchunks; i++) {
		size_t n = track_chunk_len(t, i);
		ssize_t w;
		int rc;

		if (f->slot[i] ||
		    (f->map[i] & ~TRACK_MAP_CHANGED) != VHDX_SOURCE_DATA)
			continue;
		rc = vhdx_read(t->v, f->buf, n, i * f->chunk_size, err);
		if (rc < 0)
			return rc;
		w = vr_pwrite_full(f->cow_fd, f->buf, n,
				   (uint64_t)f->nslots * f->chunk_size);
		if (w < 0)
			return vr_err_set(err, (int)w,
					  "%s: saving a frozen chunk: %s",
					  t->path, strerror((int)-w));
		f->slot[i] = ++f->nslots;
	}
	return 0;
}

/* Before a change of [@off, @off + @len): refuse it, or mark it. */
static int track_change(struct track *t, uint64_t off, uint64_t len,
			struct vr_err *err)
{
	int rc = track_check_open(t, err);

	if (rc == 0)
		rc = track_preserve(t, off, len, err);
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

	track_thaw(t, false, NULL); /* a cycle in flight did not commit */
	if (rc == 0)
		rc = track_save(t, true, err);
	t->finished = true;
	return rc;
}

void track_describe(struct track *t, struct track_freeze_info *info)
{
	struct cbt_identity id;

	memset(info, 0, sizeof(*info));
	track_identity(t->v, &id);
	memcpy(info->disk_id, id.disk_id, 16);
	memcpy(info->data_write_guid, id.data_write_guid, 16);
	info->size = id.size;
	info->generation = t->cbt ? cbt_generation(t->cbt) : 0;
	info->trust = t->cbt ? (int)cbt_trust(t->cbt) : CBT_NO_BASELINE;
}

static void track_frozen_free(struct track_frozen *f)
{
	if (!f)
		return;
	if (f->cow_fd >= 0)
		close(f->cow_fd);
	cbt_free(f->before);
	free(f->map);
	free(f->slot);
	free(f->buf);
	free(f);
}

/* The map: where each chunk comes from, and whether it changed. */
static int track_freeze_map(struct track *t, const struct vhdx *below,
			    struct vr_err *err)
{
	struct track_frozen *f = t->frozen;
	uint64_t i, off = 0, start, len;
	int rc;

	for (i = 0; i < f->nchunks; i++) {
		enum vhdx_source src;

		rc = vhdx_range_source(t->v, below, i * f->chunk_size,
				       track_chunk_len(t, i), &src, err);
		if (rc < 0)
			return rc;
		f->map[i] = (uint8_t)src;
	}
	while (cbt_next_extent(f->before, off, &start, &len)) {
		uint64_t end = (start + len - 1) / f->chunk_size;

		for (i = start / f->chunk_size; i <= end && i < f->nchunks; i++)
			f->map[i] |= TRACK_MAP_CHANGED;
		off = start + len;
	}
	return 0;
}

int track_freeze(struct track *t, uint32_t chunk_size, unsigned below_depth,
		 uint8_t **map, struct track_freeze_info *info,
		 struct vr_err *err)
{
	const struct vhdx *below = NULL;
	uint64_t size = vhdx_virtual_size(t->v);
	struct track_frozen *f;
	char *dir, *slash;
	unsigned d;
	int rc;

	if (t->frozen)
		return vr_err_set(err, -EBUSY,
				  "%s: a cycle has it frozen "
				  "already",
				  t->path);
	if (!t->cbt || chunk_size < 4096 || (chunk_size & (chunk_size - 1)))
		return vr_err_set(err, -EINVAL, "%s: cannot freeze: %s",
				  t->path,
				  t->cbt ? "bad chunk size" : "not tracked");
	if (below_depth) {
		below = t->v;
		for (d = 0; below && d < below_depth; d++)
			below = vhdx_parent(below);
		if (!below)
			return vr_err_set(err, -EINVAL,
					  "%s: no parent %u files up", t->path,
					  below_depth);
	}
	rc = vhdx_flush(t->v, err);
	if (rc < 0)
		return rc;
	f = calloc(1, sizeof(*f));
	if (!f)
		return vr_err_set(err, -ENOMEM, "%s: out of memory", t->path);
	f->cow_fd = -1;
	f->chunk_size = chunk_size;
	f->nchunks = size / chunk_size + (size % chunk_size != 0);
	f->map = calloc((size_t)f->nchunks, 1);
	f->slot = calloc((size_t)f->nchunks, sizeof(*f->slot));
	f->buf = malloc(chunk_size);
	dir = strdup(t->path);
	if (!f->map || !f->slot || !f->buf || !dir) {
		free(dir);
		track_frozen_free(f);
		return vr_err_set(err, -ENOMEM, "%s: out of memory", t->path);
	}
	/* the saved chunks never outlive us: an unlinked file by the disk */
	slash = strrchr(dir, '/');
	if (slash)
		slash[slash == dir] = '\0';
	f->cow_fd =
		open(slash ? dir : ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	free(dir);
	if (f->cow_fd < 0) {
		rc = vr_err_set(err, -errno, "%s: temp file for a freeze: %s",
				t->path, strerror(errno));
		track_frozen_free(f);
		return rc;
	}
	rc = cbt_copy(t->cbt, &f->before, err);
	t->frozen = f;
	if (rc == 0)
		rc = track_freeze_map(t, below, err);
	if (rc == 0)
		rc = cbt_reset(t->cbt, 0, err);
	if (rc < 0) {
		t->frozen = NULL;
		track_frozen_free(f);
		return rc;
	}
	track_describe(t, info);
	info->generation = cbt_generation(f->before);
	info->trust = (int)cbt_trust(f->before);
	*map = malloc((size_t)f->nchunks);
	if (!*map) {
		track_thaw(t, false, NULL);
		return vr_err_set(err, -ENOMEM, "%s: out of memory", t->path);
	}
	memcpy(*map, f->map, (size_t)f->nchunks);
	return 0;
}

int track_freeze_read(struct track *t, void *buf, size_t len, uint64_t off,
		      struct vr_err *err)
{
	struct track_frozen *f = t->frozen;
	uint8_t *p = buf;

	if (!f || off > vhdx_virtual_size(t->v) ||
	    len > vhdx_virtual_size(t->v) - off)
		return vr_err_set(err, -EINVAL,
				  "%s: frozen read of %zu bytes at 0x%" PRIx64
				  " refused (not frozen, or outside the disk)",
				  t->path, len, off);
	while (len > 0) {
		uint64_t i = off / f->chunk_size;
		size_t in = (size_t)(off % f->chunk_size);
		size_t n = f->chunk_size - in;
		ssize_t r;
		int rc;

		if (n > len)
			n = len;
		if (f->slot[i]) {
			r = vr_pread_full(f->cow_fd, p, n,
					  (uint64_t)(f->slot[i] - 1) *
							  f->chunk_size +
						  in);
			if (r != (ssize_t)n)
				return vr_err_set(err, -EIO,
						  "%s: reading a frozen chunk "
						  "back failed",
						  t->path);
		} else {
			rc = vhdx_read(t->v, p, n, off, err);
			if (rc < 0)
				return rc;
		}
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

int track_thaw(struct track *t, bool committed, struct vr_err *err)
{
	struct track_frozen *f = t->frozen;
	int rc = 0;

	if (!f)
		return 0;
	if (committed)
		rc = track_save(t, false, err);
	else
		cbt_undo_reset(t->cbt, f->before);
	t->frozen = NULL;
	track_frozen_free(f);
	return rc;
}

void track_close(struct track *t)
{
	if (!t)
		return;
	track_thaw(t, false, NULL);
	vhdx_close(t->v);
	cbt_free(t->cbt);
	if (t->lock_fd >= 0)
		close(t->lock_fd); /* drops the lock */
	free(t->path);
	free(t);
}
