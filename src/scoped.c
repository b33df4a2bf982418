/*
 * scoped.c - scoped restore (scoped.h): each application's selected
 * entries written under DIR/APP through directory descriptors opened
 * with O_NOFOLLOW, files and symlinks by temp name + rename.
 */
#include <config.h>
#include "scoped.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk.h"
#include "extfs.h"
#include "hook.h"
#include "scope.h"
#include "vr_err.h"
#include "vr_io.h"

#define SCOPED_COPY (1024 * 1024)

struct scoped_app {
	struct extfs *fs;
	int root;	   /* DIR/APP */
	const char *where; /* "DIR/APP", for messages */
	struct scoped_stats *st;
	struct vr_err *err;
	uint8_t *buf;
	unsigned tmp; /* temp names made */
};

/* A name a guest may give that we may write: not "", "." or "..". */
static bool scoped_name_ok(const char *name, size_t len)
{
	return len > 0 && len <= 255 && !(len == 1 && name[0] == '.') &&
	       !(len == 2 && name[0] == '.' && name[1] == '.') &&
	       !memchr(name, '/', len) && !memchr(name, '\0', len);
}

/*
 * The directory @name in @dir, made if missing; what is there and is not
 * a directory (a file, or a symlink anywhere) is replaced: the point says
 * a directory. Returns its descriptor or -errno.
 */
static int scoped_subdir(int dir, const char *name, mode_t mode)
{
	int fd = openat(dir, name,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == ENOTDIR || errno == ELOOP) {
		if (unlinkat(dir, name, 0) < 0)
			return -errno;
	} else if (errno != ENOENT) {
		return -errno;
	}
	if (mkdirat(dir, name, mode | S_IRWXU) < 0 && errno != EEXIST)
		return -errno;
	fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd >= 0 ? fd : -errno;
}

/*
 * The parent directory of guest @path under the app's root, each
 * component made and opened without following links; *@leaf gets the
 * last component. Returns a descriptor, or -EINVAL for a name we do not
 * write, or -errno.
 */
static int scoped_parent(struct scoped_app *a, const char *path,
			 const char **leaf)
{
	const char *p = path, *slash;
	int dir = dup(a->root), next;

	if (dir < 0)
		return -errno;
	while (*p == '/')
		p++;
	while ((slash = strchr(p, '/'))) {
		char name[256];
		size_t len = (size_t)(slash - p);

		if (!scoped_name_ok(p, len)) {
			close(dir);
			return -EINVAL;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		next = scoped_subdir(dir, name, 0755);
		close(dir);
		if (next < 0)
			return next;
		dir = next;
		p = slash + 1;
	}
	if (!scoped_name_ok(p, strlen(p))) {
		close(dir);
		return -EINVAL;
	}
	*leaf = p;
	return dir;
}

/*
 * Owner, mode and times of @e onto the file or directory open as @fd:
 * through the descriptor, never a name, so a name swapped for a symlink
 * meanwhile changes nothing outside. Best effort: a target that cannot
 * hold an owner (not root) keeps ours.
 */
static void scoped_meta_fd(int fd, const struct extfs_entry *e)
{
	struct timespec ts[2] = { { .tv_sec = e->atime },
				  { .tv_sec = e->mtime } };

	if (geteuid() == 0)
		(void)fchown(fd, e->uid, e->gid);
	(void)fchmod(fd, e->mode & 07777);
	(void)futimens(fd, ts);
}

/* The same for the symlink @name of @dir itself (it has no mode). */
static void scoped_meta_link(int dir, const char *name,
			     const struct extfs_entry *e)
{
	struct timespec ts[2] = { { .tv_sec = e->atime },
				  { .tv_sec = e->mtime } };

	if (geteuid() == 0)
		(void)fchownat(dir, name, e->uid, e->gid, AT_SYMLINK_NOFOLLOW);
	(void)utimensat(dir, name, ts, AT_SYMLINK_NOFOLLOW);
}

/* Copy file @e's data into @fd. */
static int scoped_copy(struct scoped_app *a, const struct extfs_entry *e,
		       int fd)
{
	uint64_t off = 0;
	int64_t got;

	while (off < e->size) {
		got = extfs_read(a->fs, e->ino, a->buf, SCOPED_COPY, off,
				 a->err);
		if (got < 0)
			return (int)got;
		if (got == 0)
			break; /* the inode's size lies: what is there */
		if (vr_pwrite_full(fd, a->buf, (size_t)got, off) < 0)
			return vr_err_set(a->err, -errno, "%s%s: %s", a->where,
					  e->path, strerror(errno));
		off += (uint64_t)got;
	}
	a->st->bytes += off;
	return 0;
}

/* A file or symlink at @leaf of @dir: made under a temp name, renamed. */
static int scoped_put(struct scoped_app *a, int dir, const char *leaf,
		      const struct extfs_entry *e)
{
	char tmp[64];
	int fd = -1, rc = 0;

	snprintf(tmp, sizeof(tmp), ".vr-restore.%ld.%u", (long)getpid(),
		 a->tmp++);
	if (e->kind == EXTFS_SYMLINK) {
		if (symlinkat(e->target, dir, tmp) < 0)
			rc = -errno;
		else
			scoped_meta_link(dir, tmp, e);
	} else {
		fd = openat(dir, tmp,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				    O_CLOEXEC,
			    0600);
		rc = fd < 0 ? -errno : scoped_copy(a, e, fd);
		if (rc == 0)
			scoped_meta_fd(fd, e);
		if (fd >= 0)
			close(fd);
	}
	if (rc == 0 && renameat(dir, tmp, dir, leaf) < 0)
		rc = -errno;
	if (rc < 0) {
		unlinkat(dir, tmp, 0);
		if (!a->err->code)
			vr_err_set(a->err, rc, "%s%s: %s", a->where, e->path,
				   strerror(-rc));
	}
	return rc;
}

static int scoped_entry(void *ctx, const struct extfs_entry *e)
{
	struct scoped_app *a = ctx;
	const char *leaf;
	int dir, fd, rc = 0;

	if (e->kind == EXTFS_OTHER) { /* devices, FIFOs: not restored */
		a->st->skipped++;
		return 0;
	}
	dir = scoped_parent(a, e->path, &leaf);
	if (dir == -EINVAL) { /* a name we do not write: skipped */
		a->st->skipped++;
		return 0;
	}
	if (dir < 0)
		return vr_err_set(a->err, dir, "%s%s: %s", a->where, e->path,
				  strerror(-dir));
	if (e->kind == EXTFS_DIR) {
		fd = scoped_subdir(dir, leaf, e->mode & 07777);
		if (fd < 0) {
			rc = vr_err_set(a->err, fd, "%s%s: %s", a->where,
					e->path, strerror(-fd));
		} else {
			scoped_meta_fd(fd, e);
			close(fd);
		}
		a->st->dirs += rc == 0;
	} else {
		rc = scoped_put(a, dir, leaf, e);
		if (rc == 0 && e->kind == EXTFS_FILE)
			a->st->files++;
		else if (rc == 0)
			a->st->symlinks++;
	}
	close(dir);
	return rc;
}

/* Run @app's @what hook (may be NULL) with the restore's facts. */
static int scoped_hook(const struct policy_app *app, const char *what,
		       const char *cmd, const char *target,
		       const struct scoped_opts *o, struct vr_err *err)
{
	char *env[6] = { NULL };
	int rc = -ENOMEM, i;

	if (!cmd)
		return 0;
	if (asprintf(&env[0], "VR_HOOK=%s", what) >= 0 &&
	    asprintf(&env[1], "VR_APP=%s", app->name) >= 0 &&
	    asprintf(&env[2], "VR_TARGET=%s", target) >= 0 &&
	    asprintf(&env[3], "VR_REPO=%s", o->repo_path) >= 0 &&
	    asprintf(&env[4], "VR_POINT=%s", o->point) >= 0)
		rc = hook_run(what, cmd, env, err);
	else
		vr_err_set(err, rc, "out of memory");
	for (i = 0; i < 5; i++)
		free(env[i]);
	return rc;
}

/* One application: its volume, its pre hook, its files, its post hook. */
static int scoped_app(struct disk *d, const struct policy_app *app, int top,
		      const char *dir, const struct scoped_opts *o,
		      struct scoped_stats *st, struct vr_err *err)
{
	struct scoped_app a = { .st = st, .err = err };
	struct scope_volume *vol = NULL;
	char *where = NULL;
	int rc;

	if (asprintf(&where, "%s/%s", dir, app->name) < 0)
		return vr_err_set(err, -ENOMEM, "out of memory");
	a.where = where;
	a.buf = malloc(SCOPED_COPY);
	a.root = scoped_subdir(top, app->name, 0755);
	rc = !a.buf	  ? vr_err_set(err, -ENOMEM, "out of memory")
	     : a.root < 0 ? vr_err_set(err, a.root, "%s: %s", where,
				       strerror(-a.root))
			  : scope_volume_open(d, &app->volume, &vol, err);
	if (rc == 0)
		rc = scoped_hook(app, "pre", app->pre, where, o, err);
	if (rc == 0) {
		a.fs = scope_volume_fs(vol);
		rc = scope_walk(vol, app, scoped_entry, &a, err);
	}
	if (rc == 0)
		rc = scoped_hook(app, "post", app->post, where, o, err);
	st->apps += rc == 0;
	scope_volume_close(vol);
	if (a.root >= 0)
		close(a.root);
	free(a.buf);
	free(where);
	return rc;
}

int scoped_restore(struct disk *d, const struct policy *p, const char *dir,
		   const struct scoped_opts *o, struct scoped_stats *st,
		   struct vr_err *err)
{
	size_t i, k;
	int top, rc = 0;

	memset(st, 0, sizeof(*st));
	for (k = 0; k < o->napps; k++)
		if (!policy_app_find(p, o->apps[k]))
			return vr_err_set(err, -ENOENT,
					  "no application '%s' in the policy",
					  o->apps[k]);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return vr_err_set(err, -errno, "%s: %s", dir, strerror(errno));
	top = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (top < 0)
		return vr_err_set(err, -errno, "%s: %s", dir, strerror(errno));
	/* the policy's restore order, whichever order --app gave */
	for (i = 0; rc == 0 && i < policy_app_count(p); i++) {
		const struct policy_app *app = policy_app_at(p, i);

		for (k = 0; k < o->napps && strcmp(o->apps[k], app->name); k++)
			;
		if (o->napps && k == o->napps)
			continue;
		rc = scoped_app(d, app, top, dir, o, st, err);
	}
	close(top);
	return rc;
}
