/*
 * vtree.c - a guest file system as an in-memory tree (vtree.h): one walk
 * through scope.h fills a map from paths to nodes, each node linked into
 * its parent's list of children.
 */
#include <config.h>
#include "vtree.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guestfs.h"
#include "point_disk.h"
#include "scope.h"
#include "strmap.h"
#include "treecache.h"
#include "vr_err.h"

struct vfuse_node {
	struct vfuse_node *first, *last, *next; /* children; a sibling */
	struct stat st;
	uint64_t ino;
	const char *target; /* into data, or NULL */
	char data[];	    /* the name, then a symlink's target */
};

struct vfuse_tree {
	struct point_disk_named pd;
	struct scope_volume *vol;
	struct strmap *paths; /* path -> its node (the map owns them) */
	struct vfuse_node *root;
	/* the guest file system is one thread's at a time (libntfs-3g and
	 * libext2fs keep state per open); the tree is never changed */
	pthread_mutex_t read_lock;
	size_t bytes; /* about what the nodes and the map take */
	time_t made;  /* the times of directories made for the way */
	struct vr_err *err;
};

/* A node named @name (@len bytes) with @target (may be NULL). */
static struct vfuse_node *vfuse_node_new(const char *name, size_t len,
					 const char *target)
{
	size_t tlen = target ? strlen(target) + 1 : 0;
	struct vfuse_node *n = calloc(1, sizeof(*n) + len + 1 + tlen);

	if (!n)
		return NULL;
	memcpy(n->data, name, len);
	if (target) {
		memcpy(n->data + len + 1, target, tlen);
		n->target = n->data + len + 1;
	}
	return n;
}

/* Add @n at @path below @parent; 1 added, 0 the path was there (@n
 * freed), -ENOMEM. */
static int vfuse_tree_add(struct vfuse_tree *t, struct vfuse_node *parent,
			  const char *path, struct vfuse_node *n)
{
	int rc = strmap_put(t->paths, path, n);

	if (rc <= 0)
		return rc;
	/* the node, its name and target, the map's copy of the path and
	 * its slots (grown at half full) */
	t->bytes += sizeof(*n) + strlen(n->data) + 1 +
		    (n->target ? strlen(n->target) + 1 : 0) + strlen(path) + 1 +
		    4 * sizeof(void *);
	if (parent->last)
		parent->last->next = n;
	else
		parent->first = n;
	parent->last = n;
	return 1;
}

/*
 * The directory node of @path (@len bytes of it), made with its own
 * parents where the walk did not give them (an application's tree shows
 * the directories on the way to its files).
 */
static struct vfuse_node *vfuse_tree_dir(struct vfuse_tree *t, const char *path,
					 size_t len)
{
	struct vfuse_node *parent, *n;
	const char *slash;
	char key[4096];

	if (len == 0)
		return t->root;
	if (len >= sizeof(key))
		return NULL;
	memcpy(key, path, len);
	key[len] = '\0';
	n = strmap_get(t->paths, key);
	if (n)
		return S_ISDIR(n->st.st_mode) ? n : NULL;
	slash = memrchr(path, '/', len);
	parent = slash ? vfuse_tree_dir(t, path, (size_t)(slash - path)) : NULL;
	if (!parent)
		return NULL;
	n = vfuse_node_new(slash + 1, len - (size_t)(slash - path) - 1, NULL);
	if (!n)
		return NULL;
	n->st.st_mode = S_IFDIR | 0555;
	n->st.st_nlink = 2;
	n->st.st_mtim.tv_sec = n->st.st_ctim.tv_sec = t->made;
	n->st.st_atim.tv_sec = t->made;
	return vfuse_tree_add(t, parent, key, n) == 1 ? n : NULL;
}

static int vfuse_tree_visit(void *ctx, const struct guestfs_entry *e)
{
	struct vfuse_tree *t = ctx;
	const char *slash = strrchr(e->path, '/');
	struct vfuse_node *parent, *n;
	int rc;

	if (e->bad_name || e->kind == GUESTFS_OTHER)
		return e->kind == GUESTFS_DIR ? GUESTFS_SKIP : 0;
	parent = vfuse_tree_dir(t, e->path, (size_t)(slash - e->path));
	if (!parent) /* below a name that is no directory here */
		return e->kind == GUESTFS_DIR ? GUESTFS_SKIP : 0;
	n = vfuse_node_new(slash + 1, strlen(slash + 1), e->target);
	if (!n)
		return vr_err_set(t->err, -ENOMEM, "out of memory");
	n->ino = e->ino;
	n->st.st_mode = e->mode;
	n->st.st_nlink = e->kind == GUESTFS_DIR ? 2 : e->nlink ? e->nlink : 1;
	n->st.st_uid = e->uid;
	n->st.st_gid = e->gid;
	n->st.st_size = (off_t)e->size;
	n->st.st_blocks = (blkcnt_t)((e->size + 511) / 512); /* for du */
	n->st.st_atim = e->atime;
	n->st.st_mtim = e->mtime;
	n->st.st_ctim = e->ctime;
	rc = vfuse_tree_add(t, parent, e->path, n);
	if (rc < 0)
		return vr_err_set(t->err, -ENOMEM, "out of memory");
	/* a name met twice: the first stays, the second is not walked */
	return rc == 0 && e->kind == GUESTFS_DIR ? GUESTFS_SKIP : 0;
}

/* A walk filling a tree, recorded (if @rec) to be saved. */
struct vfuse_fill {
	struct vfuse_tree *t;
	struct treecache *rec;
};

static int vfuse_tree_record(void *ctx, const struct guestfs_entry *e)
{
	struct vfuse_fill *f = ctx;

	if (f->rec && treecache_add(f->rec, e) < 0) {
		treecache_free(f->rec); /* a path too long, or no memory:
					 * walked, not saved */
		f->rec = NULL;
	}
	return vfuse_tree_visit(f->t, e);
}

/* Forget what a failed replay put in @t. Returns 0 or -ENOMEM. */
static int vfuse_tree_empty(struct vfuse_tree *t)
{
	strmap_free(t->paths); /* it owns the nodes */
	t->paths = NULL;
	t->root->first = t->root->last = NULL;
	t->bytes = 0;
	return strmap_new(&t->paths);
}

/*
 * Fill @t with what @app selects (NULL: everything). A whole file system
 * comes from the walk saved at @saved if there is one (a damaged one is
 * said and walked anew); else it is walked and the walk saved there.
 */
static int vfuse_tree_fill(struct vfuse_tree *t, const struct policy_app *app,
			   const char *saved, struct vr_err *err)
{
	static const char *const everything[] = { "/**", NULL };
	static const char *const nothing[] = { NULL };
	struct policy_app all = { .include = everything, .exclude = nothing };
	struct vfuse_fill fill = { .t = t };
	struct vr_err why = { 0 };
	int rc;

	if (app) /* an application's walk reads little: never saved */
		saved = NULL;
	if (saved) {
		rc = treecache_replay(saved, vfuse_tree_visit, t, &why);
		if (rc == 0)
			return 0;
		if (rc != -ENOENT)
			fprintf(stderr, "vhdrecover mount: %s\n", why.msg);
		vr_err_clear(&why);
		if (vfuse_tree_empty(t) < 0)
			return vr_err_set(err, -ENOMEM, "out of memory");
		if (treecache_new(&fill.rec) < 0)
			fill.rec = NULL;
	}
	rc = scope_walk(t->vol, app ? app : &all, vfuse_tree_record, &fill,
			err);
	if (rc == 0 && fill.rec && treecache_save(fill.rec, saved, &why))
		fprintf(stderr, "vhdrecover mount: %s (walk not kept)\n",
			why.msg);
	treecache_free(fill.rec);
	return rc;
}

int vfuse_tree_open(const char *repo, struct chunk_cache *cache,
		    const char *point, const struct policy_volume *v,
		    const struct policy_app *app, const char *saved,
		    struct vfuse_tree **out, struct vr_err *err)
{
	struct vfuse_tree *t = calloc(1, sizeof(*t));
	int rc;

	if (!t)
		return vr_err_set(err, -ENOMEM, "out of memory");
	pthread_mutex_init(&t->read_lock, NULL);
	t->made = time(NULL);
	t->err = err;
	t->root = vfuse_node_new("", 0, NULL);
	rc = !t->root || strmap_new(&t->paths) < 0
		     ? vr_err_set(err, -ENOMEM, "out of memory")
		     : point_disk_open_named(repo, cache, point, &t->pd, err);
	if (rc == 0)
		rc = scope_volume_open(t->pd.d, v, &t->vol, err);
	if (rc == 0) {
		t->root->st.st_mode = S_IFDIR | 0555;
		t->root->st.st_nlink = 2;
		t->root->st.st_mtim.tv_sec = t->made;
		rc = vfuse_tree_fill(t, app, saved, err);
	}
	if (rc < 0) {
		vfuse_tree_close(t);
		return rc;
	}
	t->err = NULL;
	*out = t;
	return 0;
}

void vfuse_tree_close(struct vfuse_tree *t)
{
	if (!t)
		return;
	strmap_free(t->paths);
	free(t->root);
	scope_volume_close(t->vol);
	point_disk_close_named(&t->pd);
	pthread_mutex_destroy(&t->read_lock);
	free(t);
}

size_t vfuse_tree_bytes(const struct vfuse_tree *t)
{
	return t->bytes;
}

const struct vfuse_node *vfuse_tree_lookup(const struct vfuse_tree *t,
					   const char *path)
{
	if (!strcmp(path, "/") || !*path)
		return t->root;
	return strmap_get(t->paths, path);
}

void vfuse_node_stat(const struct vfuse_node *n, struct stat *st)
{
	*st = n->st;
}

const char *vfuse_node_target(const struct vfuse_node *n)
{
	return n->target;
}

int vfuse_node_list(const struct vfuse_node *n,
		    int (*fill)(void *ctx, const char *name,
				const struct stat *st),
		    void *ctx)
{
	const struct vfuse_node *c;

	if (!S_ISDIR(n->st.st_mode))
		return -ENOTDIR;
	for (c = n->first; c; c = c->next)
		if (fill(ctx, c->data, &c->st))
			break;
	return 0;
}

int64_t vfuse_tree_read(struct vfuse_tree *t, const struct vfuse_node *n,
			void *buf, size_t len, uint64_t off, struct vr_err *err)
{
	int64_t got;

	if (!S_ISREG(n->st.st_mode))
		return -EISDIR;
	if (off >= (uint64_t)n->st.st_size)
		return 0;
	pthread_mutex_lock(&t->read_lock);
	got = guestfs_read(scope_volume_fs(t->vol), n->ino, buf, len, off, err);
	pthread_mutex_unlock(&t->read_lock);
	return got;
}
