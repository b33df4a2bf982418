/*
 * sink_dir.c - a scoped restore into a directory tree (sink.h): every
 * directory opened from the one above with O_NOFOLLOW, starting at the
 * target, so no symlink of the image or of the target leads outside;
 * files and symlinks by temp name + rename; metadata through descriptors.
 */
#include <config.h>
#include "sink.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guestfs.h"
#include "vr_err.h"
#include "vr_io.h"

#define SINK_DIR_COPY (1024 * 1024)
/* Deeper trees in the target are not removed: each level holds a
 * descriptor open. */
#define SINK_DIR_MAX_DEPTH 256

/* A directory restored, its times set once all below it is written. */
struct sink_dir_times {
	char *path;
	struct timespec atime, mtime;
};

struct sink_dir {
	int top;	   /* the target */
	int root;	   /* target/APP */
	const char *where; /* "target/APP", for messages */
	uint8_t *buf;
	unsigned tmp; /* temp names made */
	struct sink_dir_times *dirs;
	size_t ndirs, dirs_cap;
};

static const struct sink_ops sink_dir_ops;

/*
 * The directory @name in @dir, made if missing; what is there and is not
 * a directory (a file, or a symlink anywhere) is replaced: the point says
 * a directory. Returns its descriptor or -errno.
 */
static int sink_dir_subdir(int dir, const char *name, mode_t mode)
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
 * The parent directory of guest @path (checked by sink.c) below the
 * application's root, each component made and opened without following
 * links; *@leaf gets the last component. Returns a descriptor or -errno.
 */
static int sink_dir_parent(struct sink_dir *sd, const char *path,
			   const char **leaf)
{
	const char *p = path + 1, *slash;
	int dir = dup(sd->root), next;

	if (dir < 0)
		return -errno;
	while ((slash = strchr(p, '/'))) {
		char name[256];
		size_t len = (size_t)(slash - p);

		memcpy(name, p, len);
		name[len] = '\0';
		next = sink_dir_subdir(dir, name, 0755);
		close(dir);
		if (next < 0)
			return next;
		dir = next;
		p = slash + 1;
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
static void sink_dir_meta_fd(int fd, const struct guestfs_entry *e)
{
	struct timespec ts[2] = { e->atime, e->mtime };

	if (geteuid() == 0)
		(void)fchown(fd, e->uid, e->gid);
	(void)fchmod(fd, e->mode & 07777);
	(void)futimens(fd, ts);
}

/* The same for the symlink @name of @dir itself (it has no mode). */
static void sink_dir_meta_link(int dir, const char *name,
			       const struct guestfs_entry *e)
{
	struct timespec ts[2] = { e->atime, e->mtime };

	if (geteuid() == 0)
		(void)fchownat(dir, name, e->uid, e->gid, AT_SYMLINK_NOFOLLOW);
	(void)utimensat(dir, name, ts, AT_SYMLINK_NOFOLLOW);
}

/* Copy file @e's data into @fd; the bytes copied. */
static int64_t sink_dir_copy(struct sink_dir *sd, struct guestfs *fs,
			     const struct guestfs_entry *e, int fd,
			     struct vr_err *err)
{
	uint64_t off = 0;
	int64_t got;

	while (off < e->size) {
		got = guestfs_read(fs, e->ino, sd->buf, SINK_DIR_COPY, off,
				   err);
		if (got < 0)
			return got;
		if (got == 0)
			break; /* the file's size lies: what is there */
		if (vr_pwrite_full(fd, sd->buf, (size_t)got, off) < 0)
			return vr_err_set(err, -errno, "%s%s: %s", sd->where,
					  e->path, strerror(errno));
		off += (uint64_t)got;
	}
	return (int64_t)off;
}

/*
 * Remove what @name of @dir holds, a directory with all below it: each
 * directory opened with O_NOFOLLOW, symlinks removed, never followed,
 * depth bounded. Returns 0 or -errno.
 */
static int sink_dir_remove(int dir, const char *name, unsigned depth)
{
	struct dirent *de;
	DIR *d;
	int fd, rc = 0;

	if (unlinkat(dir, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	if (depth > SINK_DIR_MAX_DEPTH)
		return -ELOOP;
	fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while (rc == 0 && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rc = sink_dir_remove(fd, de->d_name, depth + 1);
	closedir(d);
	if (rc == 0 && unlinkat(dir, name, AT_REMOVEDIR) < 0)
		rc = -errno;
	return rc;
}

/* Another name for the file at @first (of this application) as @tmp. */
static int sink_dir_link(struct sink_dir *sd, const char *first, int dir,
			 const char *tmp)
{
	const char *leaf;
	int fdir = sink_dir_parent(sd, first, &leaf), rc = 0;

	if (fdir < 0)
		return fdir;
	if (linkat(fdir, leaf, dir, tmp, 0) < 0)
		rc = -errno;
	close(fdir);
	return rc;
}

/*
 * A file or symlink at @leaf of @dir: made under a temp name (a hard
 * link: linked), renamed over what is there. The bytes copied.
 */
static int64_t sink_dir_file(struct sink_dir *sd, int dir, const char *leaf,
			     struct guestfs *fs, const struct guestfs_entry *e,
			     const char *hardlink_of, struct vr_err *err)
{
	char tmp[64];
	int64_t rc = 0;
	int fd = -1;

	snprintf(tmp, sizeof(tmp), ".vr-restore.%ld.%u", (long)getpid(),
		 sd->tmp++);
	if (hardlink_of) {
		rc = sink_dir_link(sd, hardlink_of, dir, tmp);
	} else if (e->kind == GUESTFS_SYMLINK) {
		if (symlinkat(e->target, dir, tmp) < 0)
			rc = -errno;
		else
			sink_dir_meta_link(dir, tmp, e);
	} else {
		fd = openat(dir, tmp,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				    O_CLOEXEC,
			    0600);
		rc = fd < 0 ? -errno : sink_dir_copy(sd, fs, e, fd, err);
		if (rc >= 0)
			sink_dir_meta_fd(fd, e);
		if (fd >= 0)
			close(fd);
	}
	if (rc >= 0 && renameat(dir, tmp, dir, leaf) < 0) {
		rc = -errno;
		/* a directory where the point has a file or symlink (an
		 * older restore's): it goes, as a file there would */
		if ((rc == -EISDIR || rc == -ENOTEMPTY || rc == -EEXIST) &&
		    sink_dir_remove(dir, leaf, 0) == 0)
			rc = renameat(dir, tmp, dir, leaf) < 0 ? -errno : 0;
	}
	/* gone after a rename, unless @leaf already was this very file
	 * (a hard link of a re-run): then rename(2) leaves both names */
	if (unlinkat(dir, tmp, 0) < 0 && errno != ENOENT && rc >= 0)
		rc = -errno;
	if (rc < 0 && !err->code)
		vr_err_set(err, (int)rc, "%s%s: %s", sd->where, e->path,
			   strerror((int)-rc));
	return rc;
}

/* Remember directory @e, to set its times when the application ends. */
static int sink_dir_remember(struct sink_dir *sd, const struct guestfs_entry *e,
			     struct vr_err *err)
{
	struct sink_dir_times *t;

	if (sd->ndirs == sd->dirs_cap) {
		size_t cap = sd->dirs_cap ? sd->dirs_cap * 2 : 64;

		t = realloc(sd->dirs, cap * sizeof(*t));
		if (!t)
			return vr_err_set(err, -ENOMEM, "out of memory");
		sd->dirs = t;
		sd->dirs_cap = cap;
	}
	t = &sd->dirs[sd->ndirs];
	t->path = strdup(e->path);
	if (!t->path)
		return vr_err_set(err, -ENOMEM, "out of memory");
	t->atime = e->atime;
	t->mtime = e->mtime;
	sd->ndirs++;
	return 0;
}

static int64_t sink_dir_put(void *impl, struct guestfs *fs,
			    const struct guestfs_entry *e,
			    const char *hardlink_of, struct vr_err *err)
{
	struct sink_dir *sd = impl;
	const char *leaf;
	int64_t rc = 0;
	int dir, fd;

	dir = sink_dir_parent(sd, e->path, &leaf);
	if (dir < 0)
		return vr_err_set(err, dir, "%s%s: %s", sd->where, e->path,
				  strerror(-dir));
	if (e->kind == GUESTFS_DIR) {
		fd = sink_dir_subdir(dir, leaf, e->mode & 07777);
		if (fd < 0) {
			rc = vr_err_set(err, fd, "%s%s: %s", sd->where, e->path,
					strerror(-fd));
		} else {
			sink_dir_meta_fd(fd, e);
			close(fd);
			rc = sink_dir_remember(sd, e, err);
		}
	} else {
		rc = sink_dir_file(sd, dir, leaf, fs, e, hardlink_of, err);
	}
	close(dir);
	return rc;
}

static int sink_dir_app_begin(void *impl, const char *app, const char *where,
			      struct vr_err *err)
{
	struct sink_dir *sd = impl;

	if (sd->root >= 0)
		close(sd->root);
	sd->where = where;
	sd->root = sink_dir_subdir(sd->top, app, 0755);
	if (sd->root < 0)
		return vr_err_set(err, sd->root, "%s: %s", where,
				  strerror(-sd->root));
	return 0;
}

/* Directory times, deepest first: writing below a directory changes its
 * mtime, so they are set once the application is complete. */
static int sink_dir_app_end(void *impl, struct vr_err *err)
{
	struct sink_dir *sd = impl;
	const char *leaf;
	int dir, fd;

	(void)err;
	while (sd->ndirs > 0) {
		struct sink_dir_times *t = &sd->dirs[--sd->ndirs];
		struct timespec ts[2] = { t->atime, t->mtime };

		dir = sink_dir_parent(sd, t->path, &leaf);
		fd = dir < 0 ? -1
			     : openat(dir, leaf,
				      O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					      O_CLOEXEC);
		if (fd >= 0) {
			(void)futimens(fd, ts);
			close(fd);
		}
		if (dir >= 0)
			close(dir);
		free(t->path);
	}
	return 0;
}

static int sink_dir_close(void *impl, struct vr_err *err)
{
	struct sink_dir *sd = impl;

	sink_dir_app_end(sd, err);
	if (sd->root >= 0)
		close(sd->root);
	if (sd->top >= 0)
		close(sd->top);
	free(sd->dirs);
	free(sd->buf);
	free(sd);
	return 0;
}

int sink_dir_open(const char *dir, struct sink **out, struct vr_err *err)
{
	struct sink_dir *sd = calloc(1, sizeof(*sd));

	if (!sd)
		return vr_err_set(err, -ENOMEM, "out of memory");
	sd->root = -1;
	sd->top = -1;
	sd->buf = malloc(SINK_DIR_COPY);
	if (!sd->buf) {
		sink_dir_close(sd, NULL);
		return vr_err_set(err, -ENOMEM, "out of memory");
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		int rc = -errno;

		sink_dir_close(sd, NULL);
		return vr_err_set(err, rc, "%s: %s", dir, strerror(-rc));
	}
	sd->top = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sd->top < 0) {
		int rc = -errno;

		sink_dir_close(sd, NULL);
		return vr_err_set(err, rc, "%s: %s", dir, strerror(-rc));
	}
	return sink_new(&sink_dir_ops, sd, dir, false, out, err);
}

static const struct sink_ops sink_dir_ops = {
	.app_begin = sink_dir_app_begin,
	.put = sink_dir_put,
	.app_end = sink_dir_app_end,
	.close = sink_dir_close,
};
