/*
 * nbd_plugin.c - nbdkit plugin "vhdrecover": export a VHDX chain over NBD
 * so a VM, qemu-img or nbdcopy can use it; every write goes through
 * track.h, so the change bitmap sees it.
 *
 *	nbdkit [-r] path/to/nbdkit-vhdrecover-plugin.so file=DISK \
 *		[parent=BASE] [granularity=64K] [readonly=true]
 *	(vhdrecover serve DISK starts exactly this)
 *
 * The disk is opened once, when nbdkit is ready to serve, and shared by all
 * connections: the VHDX engine serves one request at a time, so the thread
 * model is SERIALIZE_ALL_REQUESTS, and a flush on any connection makes
 * every write durable (multi-conn is safe). SIGTERM (nbdkit's clean
 * shutdown) unloads the plugin, which saves the bitmap clean; SIGKILL
 * leaves it marked not clean. SIGUSR1 asks for the bitmap to be saved at
 * the next request.
 *
 * A replication cycle of the served disk talks to us over freeze.h's
 * socket, from a thread of ours: it takes the disk at one instant while
 * the client goes on writing (copy-on-write in track.c). vr_lock orders
 * that thread against the requests nbdkit hands us.
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "freeze.h"
#include "track.h"
#include "vhdx.h"
#include "vr_err.h"

#define THREAD_MODEL NBDKIT_THREAD_MODEL_SERIALIZE_ALL_REQUESTS

static char *vr_file;
static char *vr_parent;
static uint32_t vr_granularity;
static bool vr_readonly;
static bool vr_untracked;      /* tracking=false: only to measure its cost */
static struct track *vr_track; /* read-write */
static struct vhdx *vr_disk;   /* what is read: the track's, or read-only */
static volatile sig_atomic_t vr_persist_wanted;
static pthread_mutex_t vr_lock = PTHREAD_MUTEX_INITIALIZER;
static struct freeze_server *vr_freezer;

static void vr_on_sigusr1(int sig)
{
	(void)sig;
	vr_persist_wanted = 1;
}

static void vr_load(void)
{
	struct sigaction sa = { .sa_handler = vr_on_sigusr1 };

	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
}

/* Report @err to nbdkit and set errno for the client's NBD error. */
static int vr_fail(const struct vr_err *err, int rc)
{
	nbdkit_error("%s", err->msg[0] ? err->msg : strerror(-rc));
	/* NBD knows a few errors; corruption and bad checksums are EIO */
	nbdkit_set_error(rc == -ENOSPC || rc == -EINVAL || rc == -ENOMEM ||
					 rc == -EPERM || rc == -EFBIG
				 ? -rc
				 : EIO);
	return -1;
}

/* Save the bitmap if a cycle asked (SIGUSR1). */
static int vr_persist_if_wanted(void)
{
	struct vr_err err = { 0 };
	int rc;

	if (!vr_persist_wanted || !vr_track)
		return 0;
	vr_persist_wanted = 0;
	rc = track_persist(vr_track, &err);
	return rc < 0 ? vr_fail(&err, rc) : 0;
}

static int vr_config(const char *key, const char *value)
{
	int64_t n;
	int b;

	if (strcmp(key, "file") == 0) {
		free(vr_file);
		vr_file = nbdkit_realpath(value);
		return vr_file ? 0 : -1;
	}
	if (strcmp(key, "parent") == 0) {
		free(vr_parent);
		vr_parent = nbdkit_realpath(value);
		return vr_parent ? 0 : -1;
	}
	if (strcmp(key, "granularity") == 0) {
		n = nbdkit_parse_size(value);
		if (n < 0)
			return -1;
		if (n > UINT32_MAX) {
			nbdkit_error("granularity %s is too large", value);
			return -1;
		}
		vr_granularity = (uint32_t)n;
		return 0;
	}
	if (strcmp(key, "tracking") == 0) {
		b = nbdkit_parse_bool(value);
		if (b < 0)
			return -1;
		vr_untracked = !b;
		return 0;
	}
	if (strcmp(key, "readonly") == 0) {
		b = nbdkit_parse_bool(value);
		if (b < 0)
			return -1;
		vr_readonly = b;
		return 0;
	}
	nbdkit_error("unknown parameter '%s' (file, parent, granularity, "
		     "readonly, tracking)",
		     key);
	return -1;
}

static int vr_config_complete(void)
{
	if (!vr_file) {
		nbdkit_error("file=DISK is required");
		return -1;
	}
	return 0;
}

/* Open the disk before serving, so a bad disk stops nbdkit at once. */
static int vr_get_ready(void)
{
	struct vr_err err = { 0 };
	int rc;

	if (vr_readonly)
		rc = vhdx_open(vr_file, 0, vr_parent, &vr_disk, NULL, &err);
	else
		rc = track_open(vr_file, vr_parent, vr_granularity,
				vr_untracked ? TRACK_UNTRACKED : 0, &vr_track,
				&err);
	if (rc < 0)
		return vr_fail(&err, rc);
	if (vr_track)
		vr_disk = track_vhdx(vr_track);
	return 0;
}

/* After nbdkit forked into the background: threads start only now. */
static int vr_after_fork(void)
{
	struct vr_err err = { 0 };
	int rc;

	if (!vr_track || vr_untracked)
		return 0;
	rc = freeze_server_start(vr_file, vr_track, &vr_lock, &vr_freezer,
				 &err);
	return rc < 0 ? vr_fail(&err, rc) : 0;
}

static void vr_unload(void)
{
	struct vr_err err = { 0 };

	freeze_server_stop(vr_freezer);
	if (vr_track) {
		if (track_finish(vr_track, &err) < 0)
			nbdkit_error("%s", err.msg);
		track_close(vr_track);
	} else {
		vhdx_close(vr_disk);
	}
	free(vr_file);
	free(vr_parent);
}

static void *vr_open(int readonly)
{
	(void)readonly;
	return NBDKIT_HANDLE_NOT_NEEDED;
}

static int64_t vr_get_size(void *handle)
{
	(void)handle;
	return (int64_t)vhdx_virtual_size(vr_disk);
}

static int vr_can_write(void *handle)
{
	(void)handle;
	return vr_track != NULL;
}

static int vr_can_one(void *handle)
{
	(void)handle;
	return 1;
}

static int vr_can_fua(void *handle)
{
	(void)handle;
	return NBDKIT_FUA_NATIVE;
}

static int vr_pread_locked(void *handle, void *buf, uint32_t count,
			   uint64_t offset, uint32_t flags)
{
	struct vr_err err = { 0 };
	int rc;

	(void)handle;
	(void)flags;
	if (vr_persist_if_wanted() < 0)
		return -1;
	rc = vhdx_read(vr_disk, buf, count, offset, &err);
	return rc < 0 ? vr_fail(&err, rc) : 0;
}

/* After a write: flush if the client asked for FUA. */
static int vr_fua(int rc, uint32_t flags, struct vr_err *err)
{
	if (rc == 0 && (flags & NBDKIT_FLAG_FUA))
		rc = track_flush(vr_track, err);
	return rc;
}

static int vr_pwrite_locked(void *handle, const void *buf, uint32_t count,
			    uint64_t offset, uint32_t flags)
{
	struct vr_err err = { 0 };
	int rc;

	(void)handle;
	if (vr_persist_if_wanted() < 0)
		return -1;
	rc = vr_fua(track_write(vr_track, buf, count, offset, &err), flags,
		    &err);
	return rc < 0 ? vr_fail(&err, rc) : 0;
}

static int vr_zero_locked(void *handle, uint32_t count, uint64_t offset,
			  uint32_t flags)
{
	struct vr_err err = { 0 };
	unsigned how = (flags & NBDKIT_FLAG_MAY_TRIM) ? VHDX_ZERO_UNMAP : 0;
	int rc;

	(void)handle;
	if (vr_persist_if_wanted() < 0)
		return -1;
	rc = vr_fua(track_zero(vr_track, offset, count, how, &err), flags,
		    &err);
	return rc < 0 ? vr_fail(&err, rc) : 0;
}

static int vr_flush_locked(void *handle, uint32_t flags)
{
	struct vr_err err = { 0 };
	int rc;

	(void)handle;
	(void)flags;
	if (!vr_track)
		return 0; /* read-only: nothing to flush */
	if (vr_persist_if_wanted() < 0)
		return -1;
	rc = track_flush(vr_track, &err);
	return rc < 0 ? vr_fail(&err, rc) : 0;
}

/* Zero runs the disk knows without reading are holes to the client. */
static int vr_extents_locked(void *handle, uint32_t count, uint64_t offset,
			     uint32_t flags, struct nbdkit_extents *extents)
{
	struct vr_err err = { 0 };
	uint64_t end = offset + count;

	(void)handle;
	while (offset < end) {
		uint64_t run;
		bool is_zero;
		int rc = vhdx_extent(vr_disk, offset, end - offset, &run,
				     &is_zero, &err);

		if (rc < 0)
			return vr_fail(&err, rc);
		if (nbdkit_add_extent(extents, offset, run,
				      is_zero ? NBDKIT_EXTENT_HOLE |
							NBDKIT_EXTENT_ZERO
					      : 0) < 0)
			return -1;
		offset += run;
		if (flags & NBDKIT_FLAG_REQ_ONE)
			break;
	}
	return 0;
}

/*
 * nbdkit's callbacks: each takes vr_lock, which the freeze thread takes
 * too, around the work above.
 */
static int vr_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
		    uint32_t flags)
{
	int rc;

	pthread_mutex_lock(&vr_lock);
	rc = vr_pread_locked(handle, buf, count, offset, flags);
	pthread_mutex_unlock(&vr_lock);
	return rc;
}

static int vr_pwrite(void *handle, const void *buf, uint32_t count,
		     uint64_t offset, uint32_t flags)
{
	int rc;

	pthread_mutex_lock(&vr_lock);
	rc = vr_pwrite_locked(handle, buf, count, offset, flags);
	pthread_mutex_unlock(&vr_lock);
	return rc;
}

static int vr_zero(void *handle, uint32_t count, uint64_t offset,
		   uint32_t flags)
{
	int rc;

	pthread_mutex_lock(&vr_lock);
	rc = vr_zero_locked(handle, count, offset, flags);
	pthread_mutex_unlock(&vr_lock);
	return rc;
}

/* Trimmed ranges read as zeros afterwards (vhdx_zero() with unmap). */
static int vr_trim(void *handle, uint32_t count, uint64_t offset,
		   uint32_t flags)
{
	return vr_zero(handle, count, offset, flags | NBDKIT_FLAG_MAY_TRIM);
}

static int vr_flush(void *handle, uint32_t flags)
{
	int rc;

	pthread_mutex_lock(&vr_lock);
	rc = vr_flush_locked(handle, flags);
	pthread_mutex_unlock(&vr_lock);
	return rc;
}

static int vr_extents(void *handle, uint32_t count, uint64_t offset,
		      uint32_t flags, struct nbdkit_extents *extents)
{
	int rc;

	pthread_mutex_lock(&vr_lock);
	rc = vr_extents_locked(handle, count, offset, flags, extents);
	pthread_mutex_unlock(&vr_lock);
	return rc;
}

static struct nbdkit_plugin plugin = {
	.name = "vhdrecover",
	.longname = "vhdrecover VHDX export with change tracking",
	.version = PACKAGE_VERSION,
	.description = "Export a VHDX disk (and its parent chain); every "
		       "write marks the disk's change bitmap.",
	.config_help = "file=DISK          the VHDX to export (required)\n"
		       "parent=BASE        parent of DISK instead of its "
		       "locator\n"
		       "granularity=SIZE   bytes per change bit of a new "
		       "bitmap (64K)\n"
		       "readonly=true      open DISK read-only, no tracking\n"
		       "tracking=false     write without a change bitmap "
		       "(only to measure\n"
		       "                   what tracking costs: replication "
		       "then resyncs)",
	.magic_config_key = "file",
	.load = vr_load,
	.unload = vr_unload,
	.config = vr_config,
	.config_complete = vr_config_complete,
	.get_ready = vr_get_ready,
	.after_fork = vr_after_fork,
	.open = vr_open,
	.get_size = vr_get_size,
	.can_write = vr_can_write,
	.can_flush = vr_can_one,
	.can_trim = vr_can_write,
	.can_zero = vr_can_write,
	.can_fua = vr_can_fua,
	.can_multi_conn = vr_can_one,
	.can_extents = vr_can_one,
	.pread = vr_pread,
	.pwrite = vr_pwrite,
	.zero = vr_zero,
	.trim = vr_trim,
	.flush = vr_flush,
	.extents = vr_extents,
};

NBDKIT_REGISTER_PLUGIN(plugin)
