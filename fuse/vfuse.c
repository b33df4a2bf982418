/*
 * vfuse.c - the repository's read-only file tree (vfuse.h), libfuse3's
 * high-level API, one thread: the lists of points and bases are re-read
 * when older than a second, each open disk.raw is a point_disk of its own.
 */
#include <config.h>
#include "vfuse.h"

#define FUSE_USE_VERSION 35
#include <errno.h>
#include <fuse.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "catalog.h"
#include "disk.h"
#include "manifest.h"
#include "point_disk.h"
#include "repo.h"
#include "vr_err.h"

/* Lists older than this are read again: new points show within it. */
#define VFUSE_LIST_TTL 1
#define VFUSE_DISK "disk.raw"

struct vfuse_base {
	char name[MANIFEST_NAME_MAX];
	uint64_t size; /* 0: not known yet */
};

struct vfuse {
	char repo[PATH_MAX];
	struct catalog_point *points; /* oldest first */
	size_t npoints;
	struct vfuse_base *bases;
	size_t nbases;
	time_t listed;	/* when the lists were read */
	time_t mounted; /* the directories' times */
};

enum vfuse_kind {
	VFUSE_ROOT,
	VFUSE_LATEST,
	VFUSE_POINTS,
	VFUSE_POINT,
	VFUSE_POINT_DISK,
	VFUSE_BASES,
	VFUSE_BASE,
	VFUSE_BASE_DISK,
};

/* What a path names: its kind and, below points/ or bases/, which. */
struct vfuse_node {
	enum vfuse_kind kind;
	size_t index;
};

/* An open disk.raw. */
struct vfuse_file {
	struct point_disk_named pd;
	uint64_t size;
};

static struct vfuse *vfuse_get(void)
{
	return fuse_get_context()->private_data;
}

/* Read the lists of points and bases again if they are old. */
static int vfuse_refresh(struct vfuse *v)
{
	char(*names)[MANIFEST_NAME_MAX] = NULL;
	struct catalog_point *points = NULL;
	struct vfuse_base *bases;
	struct vr_err err = { 0 };
	time_t now = time(NULL);
	size_t npoints = 0, nnames = 0, i, k;

	if (v->points && now - v->listed < VFUSE_LIST_TTL)
		return 0;
	if (catalog_list_points(v->repo, NULL, &points, &npoints, NULL, &err) <
		    0 ||
	    catalog_list_names(v->repo, CATALOG_BASES, &names, &nnames, &err) <
		    0) {
		free(points);
		return -EIO;
	}
	bases = calloc(nnames ? nnames : 1, sizeof(*bases));
	if (!bases) {
		free(points);
		free(names);
		return -ENOMEM;
	}
	/* a base never changes: keep the sizes already known */
	for (i = 0; i < nnames; i++) {
		snprintf(bases[i].name, sizeof(bases[i].name), "%s", names[i]);
		for (k = 0; k < v->nbases; k++)
			if (!strcmp(v->bases[k].name, names[i]))
				bases[i].size = v->bases[k].size;
	}
	free(names);
	free(v->points);
	free(v->bases);
	v->points = points;
	v->npoints = npoints;
	v->bases = bases;
	v->nbases = nnames;
	v->listed = now;
	return 0;
}

/* The size of base @b, read from its manifest once. */
static int vfuse_base_size(struct vfuse *v, struct vfuse_base *b)
{
	struct vr_err err = { 0 };
	struct manifest *m;

	if (b->size)
		return 0;
	if (catalog_load_base(v->repo, b->name, &m, &err) < 0)
		return -EIO;
	b->size = m->size;
	manifest_free(m);
	return 0;
}

/* Which entry of @n names (of @len bytes, no '/'), in the lists. */
static int vfuse_find(struct vfuse *v, bool point, const char *name, size_t len,
		      size_t *index)
{
	size_t i, n = point ? v->npoints : v->nbases;

	for (i = 0; i < n; i++) {
		const char *have = point ? v->points[i].id : v->bases[i].name;

		if (strlen(have) == len && !strncmp(have, name, len)) {
			*index = i;
			return 0;
		}
	}
	return -ENOENT;
}

/* What @path names. Returns 0 or -ENOENT. */
static int vfuse_lookup(struct vfuse *v, const char *path,
			struct vfuse_node *node)
{
	const char *p = path + 1, *slash;
	bool point;
	int rc;

	rc = vfuse_refresh(v);
	if (rc < 0)
		return rc;
	if (!*p) {
		node->kind = VFUSE_ROOT;
		return 0;
	}
	if (!strcmp(p, "latest")) {
		node->kind = VFUSE_LATEST;
		return v->npoints ? 0 : -ENOENT;
	}
	if (!strncmp(p, "points", 6) && (p[6] == '/' || !p[6]))
		point = true;
	else if (!strncmp(p, "bases", 5) && (p[5] == '/' || !p[5]))
		point = false;
	else
		return -ENOENT;
	p += point ? 6 : 5;
	if (!*p) {
		node->kind = point ? VFUSE_POINTS : VFUSE_BASES;
		return 0;
	}
	p++;
	slash = strchr(p, '/');
	rc = vfuse_find(v, point, p, slash ? (size_t)(slash - p) : strlen(p),
			&node->index);
	if (rc < 0)
		return rc;
	if (!slash) {
		node->kind = point ? VFUSE_POINT : VFUSE_BASE;
		return 0;
	}
	if (strcmp(slash + 1, VFUSE_DISK))
		return -ENOENT;
	node->kind = point ? VFUSE_POINT_DISK : VFUSE_BASE_DISK;
	return 0;
}

static void vfuse_stat_dir(struct stat *st, time_t t)
{
	st->st_mode = S_IFDIR | 0555;
	st->st_nlink = 2;
	st->st_mtim.tv_sec = st->st_ctim.tv_sec = st->st_atim.tv_sec = t;
}

static int vfuse_getattr(const char *path, struct stat *st,
			 struct fuse_file_info *fi)
{
	struct vfuse *v = vfuse_get();
	struct vfuse_node n;
	time_t t;
	int rc;

	(void)fi;
	memset(st, 0, sizeof(*st));
	rc = vfuse_lookup(v, path, &n);
	if (rc < 0)
		return rc;
	switch (n.kind) {
	case VFUSE_POINT:
	case VFUSE_POINT_DISK:
		t = (time_t)v->points[n.index].time;
		if (n.kind == VFUSE_POINT) {
			vfuse_stat_dir(st, t);
			break;
		}
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = (off_t)v->points[n.index].size;
		st->st_mtim.tv_sec = st->st_ctim.tv_sec = t;
		st->st_atim.tv_sec = t;
		break;
	case VFUSE_BASE_DISK:
		rc = vfuse_base_size(v, &v->bases[n.index]);
		if (rc < 0)
			return rc;
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = (off_t)v->bases[n.index].size;
		st->st_mtim.tv_sec = st->st_ctim.tv_sec = v->mounted;
		st->st_atim.tv_sec = v->mounted;
		break;
	case VFUSE_LATEST:
		st->st_mode = S_IFLNK | 0777;
		st->st_nlink = 1;
		st->st_size = (off_t)strlen("points/") +
			      (off_t)strlen(v->points[v->npoints - 1].id);
		st->st_mtim.tv_sec = (time_t)v->points[v->npoints - 1].time;
		break;
	default:
		vfuse_stat_dir(st, v->mounted);
		break;
	}
	return 0;
}

static int vfuse_readlink(const char *path, char *buf, size_t size)
{
	struct vfuse *v = vfuse_get();
	struct vfuse_node n;
	int rc = vfuse_lookup(v, path, &n);

	if (rc < 0)
		return rc;
	if (n.kind != VFUSE_LATEST)
		return -EINVAL;
	snprintf(buf, size, "points/%s", v->points[v->npoints - 1].id);
	return 0;
}

static int vfuse_readdir(const char *path, void *buf, fuse_fill_dir_t fill,
			 off_t off, struct fuse_file_info *fi,
			 enum fuse_readdir_flags flags)
{
	struct vfuse *v = vfuse_get();
	struct vfuse_node n;
	size_t i;
	int rc;

	(void)off;
	(void)fi;
	(void)flags;
	rc = vfuse_lookup(v, path, &n);
	if (rc < 0)
		return rc;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	switch (n.kind) {
	case VFUSE_ROOT:
		fill(buf, "points", NULL, 0, 0);
		fill(buf, "bases", NULL, 0, 0);
		if (v->npoints)
			fill(buf, "latest", NULL, 0, 0);
		return 0;
	case VFUSE_POINTS:
		for (i = 0; i < v->npoints; i++)
			fill(buf, v->points[i].id, NULL, 0, 0);
		return 0;
	case VFUSE_BASES:
		for (i = 0; i < v->nbases; i++)
			fill(buf, v->bases[i].name, NULL, 0, 0);
		return 0;
	case VFUSE_POINT:
	case VFUSE_BASE:
		fill(buf, VFUSE_DISK, NULL, 0, 0);
		return 0;
	default:
		return -ENOTDIR;
	}
}

static int vfuse_open(const char *path, struct fuse_file_info *fi)
{
	struct vfuse *v = vfuse_get();
	struct vr_err err = { 0 };
	struct vfuse_file *f;
	struct vfuse_node n;
	int rc;

	rc = vfuse_lookup(v, path, &n);
	if (rc < 0)
		return rc;
	if (n.kind != VFUSE_POINT_DISK && n.kind != VFUSE_BASE_DISK)
		return -EISDIR;
	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EROFS;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	rc = n.kind == VFUSE_POINT_DISK
		     ? point_disk_open_named(v->repo, v->points[n.index].id,
					     &f->pd, &err)
		     : point_disk_open_base_named(
			       v->repo, v->bases[n.index].name, &f->pd, &err);
	if (rc < 0) {
		fprintf(stderr, "vhdrecover mount: %s\n", err.msg);
		free(f);
		return rc == -ENOENT ? -ENOENT : -EIO;
	}
	f->size = disk_size(f->pd.d);
	fi->fh = (uint64_t)(uintptr_t)f;
	fi->keep_cache = 1; /* a point never changes */
	return 0;
}

static int vfuse_read(const char *path, char *buf, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	struct vfuse_file *f = (struct vfuse_file *)(uintptr_t)fi->fh;
	struct vr_err err = { 0 };

	(void)path;
	if (off < 0)
		return -EINVAL;
	if ((uint64_t)off >= f->size)
		return 0;
	if (size > f->size - (uint64_t)off)
		size = (size_t)(f->size - (uint64_t)off);
	if (size > INT_MAX)
		size = INT_MAX;
	if (disk_read(f->pd.d, buf, size, (uint64_t)off, &err) < 0) {
		/* a missing or damaged chunk: this read fails, not the mount */
		fprintf(stderr, "vhdrecover mount: %s\n", err.msg);
		return -EIO;
	}
	return (int)size;
}

static int vfuse_release(const char *path, struct fuse_file_info *fi)
{
	struct vfuse_file *f = (struct vfuse_file *)(uintptr_t)fi->fh;

	(void)path;
	point_disk_close_named(&f->pd);
	free(f);
	return 0;
}

static const struct fuse_operations vfuse_ops = {
	.getattr = vfuse_getattr,
	.readlink = vfuse_readlink,
	.readdir = vfuse_readdir,
	.open = vfuse_open,
	.read = vfuse_read,
	.release = vfuse_release,
};

/* Why @mountpoint cannot be mounted on, as one line; 0 if it can. */
static int vfuse_mountpoint_check(const char *mountpoint, struct vr_err *err)
{
	struct stat st;

	if (stat(mountpoint, &st) < 0)
		return vr_err_set(err, -errno, "%s: %s", mountpoint,
				  strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return vr_err_set(err, -ENOTDIR,
				  "%s: not a directory to mount on",
				  mountpoint);
	return 0;
}

int vfuse_mount(const char *repo_path, const char *mountpoint,
		const struct vfuse_opts *o, struct vr_err *err)
{
	struct vfuse v = { .mounted = time(NULL) };
	char opts[PATH_MAX + 128];
	char *argv[] = { "vhdrecover", "-o", opts, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	struct fuse *f = NULL;
	struct repo *r;
	int rc, loop;

	rc = vfuse_mountpoint_check(mountpoint, err);
	if (rc < 0)
		return rc;
	/* the daemon leaves the working directory: an absolute path, and a
	 * repository that opens, checked before anything is mounted */
	if (!realpath(repo_path, v.repo))
		return vr_err_set(err, -errno, "%s: %s", repo_path,
				  strerror(errno));
	rc = repo_open(v.repo, 0, &r, err);
	if (rc < 0)
		return rc;
	repo_close(r);
	snprintf(
		opts, sizeof(opts),
		"ro,default_permissions,fsname=vhdrecover,subtype=vhdrecover%s",
		o->allow_other ? ",allow_other" : "");
	f = fuse_new(&args, &vfuse_ops, sizeof(vfuse_ops), &v);
	if (!f)
		rc = vr_err_set(err, -EIO, "%s: cannot start FUSE", mountpoint);
	else if (fuse_mount(f, mountpoint) != 0)
		rc = vr_err_set(err, -EIO,
				"%s: cannot mount (is there /dev/fuse, and "
				"fusermount3?)",
				mountpoint);
	else if (!o->foreground && fuse_daemonize(0) != 0)
		rc = vr_err_set(err, -EIO, "%s: cannot detach", mountpoint);
	else if (fuse_set_signal_handlers(fuse_get_session(f)) != 0)
		rc = vr_err_set(err, -EIO, "%s: cannot catch signals",
				mountpoint);
	if (f && rc == 0) {
		/* one thread: the repository and disks are not shared. A
		 * signal (SIGTERM, SIGINT, SIGHUP) ends the loop with its
		 * number, a clean end too */
		loop = fuse_loop(f);
		fuse_remove_signal_handlers(fuse_get_session(f));
		if (loop < 0)
			rc = vr_err_set(err, loop, "%s: %s", mountpoint,
					strerror(-loop));
	}
	if (f) {
		fuse_unmount(f);
		fuse_destroy(f);
	}
	fuse_opt_free_args(&args);
	free(v.points);
	free(v.bases);
	return rc;
}
