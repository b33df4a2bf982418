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
/* Temp names tried before giving up (leftovers of killed restores). */
#define SINK_DIR_TMP_TRIES 1000
/* Deeper trees in the target are not removed: each level holds a
 * descriptor open. */
#define SINK_DIR_MAX_DEPTH 256

/*
 * A directory restored: its owner, mode and times are set once all below
 * it is written (a read-only mode would stop us writing into it, an owner
 * would hand it to a host user meanwhile, writes change its mtime).
 */
struct sink_dir_meta {
	char *path;
	struct guestfs_entry e; /* path and target not kept */
};

struct sink_dir {
	int top;	   /* the target */
	int root;	   /* target/APP */
	const char *where; /* "target/APP", for messages */
	uint8_t *buf;
	unsigned tmp; /* temp names made */
	struct sink_dir_meta *dirs;
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
	struct stat st;

	if (fd >= 0) {
		/* one an earlier restore made read-only, as the guest had
		 * it: ours to write into again (its mode comes back when
		 * the application ends) */
		if (fstat(fd, &st) == 0 && (st.st_mode & S_IRWXU) != S_IRWXU)
			(void)fchmod(fd, (st.st_mode & 07777) | S_IRWXU);
		return fd;
	}
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
 * The directory @name in @dir, opened without following a symlink, not
 * made. Returns its descriptor or -errno.
 */
static int sink_dir_open_sub(int dir, const char *name)
{
	int fd = openat(dir, name,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	return fd >= 0 ? fd : -errno;
}

/*
 * The parent directory of guest @path (checked by sink.c) below the
 * application's root, each component opened without following links
 * and, with @make, made where missing or not a directory; *@leaf gets
 * the last component. Returns a descriptor or -errno.
 */
static int sink_dir_parent(struct sink_dir *sd, const char *path, bool make,
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
		next = make ? sink_dir_subdir(dir, name, S_IRWXU)
			    : sink_dir_open_sub(dir, name);
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

/* sink_copy()'s writer: into the descriptor @ctx points at. */
static int sink_dir_write(void *ctx, const void *buf, size_t n, uint64_t off,
			  struct vr_err *err)
{
	const int *fd = ctx;

	(void)err; /* the caller names the file */
	return vr_pwrite_full(*fd, buf, n, off) < 0 ? -errno : 0;
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
	int fdir = sink_dir_parent(sd, first, false, &leaf), rc = 0;

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
	int64_t rc;
	int fd, tries = 0;

	/* a name a killed restore left (its pid again, in a container)
	 * makes the next one, not a failure */
	do {
		snprintf(tmp, sizeof(tmp), ".vr-restore.%ld.%u", (long)getpid(),
			 sd->tmp++);
		fd = -1;
		rc = 0;
		if (hardlink_of) {
			rc = sink_dir_link(sd, hardlink_of, dir, tmp);
		} else if (e->kind == GUESTFS_SYMLINK) {
			if (symlinkat(e->target, dir, tmp) < 0)
				rc = -errno;
		} else {
			fd = openat(dir, tmp,
				    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
					    O_CLOEXEC,
				    0600);
			if (fd < 0)
				rc = -errno;
		}
	} while (rc == -EEXIST && ++tries < SINK_DIR_TMP_TRIES);
	if (rc == 0 && e->kind == GUESTFS_SYMLINK && !hardlink_of)
		sink_dir_meta_link(dir, tmp, e);
	if (fd >= 0) {
		rc = sink_copy(fs, e, sd->buf, SINK_DIR_COPY, sink_dir_write,
			       &fd, err);
		if (rc >= 0)
			sink_dir_meta_fd(fd, e);
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

/* Remember directory @e, to set its metadata when the application ends. */
static int sink_dir_remember(struct sink_dir *sd, const struct guestfs_entry *e,
			     struct vr_err *err)
{
	struct sink_dir_meta *m;

	if (sd->ndirs == sd->dirs_cap) {
		size_t cap = sd->dirs_cap ? sd->dirs_cap * 2 : 64;

		m = reallocarray(sd->dirs, cap, sizeof(*m));
		if (!m)
			return vr_err_set(err, -ENOMEM, "out of memory");
		sd->dirs = m;
		sd->dirs_cap = cap;
	}
	m = &sd->dirs[sd->ndirs];
	m->path = strdup(e->path);
	if (!m->path)
		return vr_err_set(err, -ENOMEM, "out of memory");
	m->e = *e;
	m->e.path = NULL;
	m->e.target = NULL;
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

	dir = sink_dir_parent(sd, e->path, true, &leaf);
	if (dir < 0)
		return vr_err_set(err, dir, "%s%s: %s", sd->where, e->path,
				  strerror(-dir));
	if (e->kind == GUESTFS_DIR) {
		fd = sink_dir_subdir(dir, leaf, S_IRWXU);
		if (fd < 0) {
			rc = vr_err_set(err, fd, "%s%s: %s", sd->where, e->path,
					strerror(-fd));
		} else {
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

/* Directories' owners, modes and times, deepest first, through
 * descriptors opened without making or following anything. */
static int sink_dir_app_end(void *impl, struct vr_err *err)
{
	struct sink_dir *sd = impl;
	const char *leaf;
	int dir, fd;

	(void)err;
	while (sd->ndirs > 0) {
		struct sink_dir_meta *m = &sd->dirs[--sd->ndirs];

		dir = sink_dir_parent(sd, m->path, false, &leaf);
		fd = dir < 0 ? -1 : sink_dir_open_sub(dir, leaf);
		if (fd >= 0) {
			sink_dir_meta_fd(fd, &m->e);
			close(fd);
		}
		if (dir >= 0)
			close(dir);
		free(m->path);
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
