/*
 * vfuse.c - the repository's read-only file tree (vfuse.h), libfuse3's
 * high-level API on several threads. The repository is open for reading
 * while files are (garbage collection waits, so an open file of a point
 * that retention forgets keeps its chunks) and let go when none has been
 * for a while; it is read through one chunk cache with readahead
 * threads, by every disk.raw and guest tree. The lists of points and
 * bases are read again when their directories change (looked at once a
 * second). One lock guards the lists and trees for lookups and listings;
 * reads of disk.raw take none, reads in a guest tree take turns in it.
 */
#include <config.h>
#include "vfuse.h"

#define FUSE_USE_VERSION 35
#include <errno.h>
#include <fuse.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "catalog.h"
#include "chunk_cache.h"
#include "guestfs.h"
#include "disk.h"
#include "manifest.h"
#include "point_disk.h"
#include "partition.h"
#include "policy.h"
#include "repo.h"
#include "strmap.h"
#include "treecache.h"
#include "vr_err.h"
#include "vr_io.h"
#include "vtree.h"

/* How often the directories of points and bases are looked at: new
 * points show within it. */
#define VFUSE_LIST_TTL 1
/* Threads fetching ahead of sequential readers (the cache's). */
#define VFUSE_READAHEAD_THREADS 2
#define VFUSE_DISK "disk.raw"
/*
 * Guest file system trees kept open (LRU; in use ones are never closed),
 * and the memory they may take together: beyond it, the trees not in use
 * go, oldest first (the one just opened stays, whatever its size).
 */
#define VFUSE_TREES 4
#define VFUSE_TREE_BYTES (96u << 20)
/* Saved walks kept (treecache.h): the least lately used go beyond it. */
#define VFUSE_SAVED_WALKS_BYTES (256ull << 20)
/* A manifest is a few MiB for a TiB disk: beyond this it is no manifest. */
#define VFUSE_MANIFEST_MAX (1ull << 30)

struct vfuse_base {
	char name[MANIFEST_NAME_MAX];
	uint64_t size; /* 0: not known yet */
};

/* The file systems of a point, as volumes/ lists them. */
struct vfuse_vols {
	size_t n;
	struct vfuse_vol {
		char name[MANIFEST_NAME_MAX + 16]; /* "2-data" */
		struct policy_volume pv;	   /* how to open it */
		char uuid[64];			   /* pv.text, if by UUID */
	} v[];
};

/* An open guest file system tree: a point's volume or application. */
struct vfuse_slot {
	char key[2 * MANIFEST_NAME_MAX + 32]; /* "ID/v/NAME", "ID/a/APP" */
	struct vfuse_tree *tree;
	unsigned refs; /* open files in it */
	uint64_t used; /* tick of the last use: the oldest goes */
};

struct vfuse {
	char repo[PATH_MAX];
	struct repo *r;		   /* opened for reading, or let go */
	struct chunk_cache *cache; /* over r, shared by all disks */
	size_t cache_bytes;
	/* with no file open this long, r is let go (0: never), so garbage
	 * collection can run; the next lookup opens it again */
	unsigned release_after;
	time_t last_use;
	pthread_t releaser;
	pthread_cond_t stop; /* the releaser's wake-up at the end */
	bool stopping;
	pthread_mutex_t lock;	     /* all below; not for disk.raw reads */
	const struct policy *policy; /* NULL: no apps/ */
	const char *saved_walks;     /* directory of saved walks, or NULL */
	struct strmap *volumes;	     /* point id -> struct vfuse_vols */
	struct vfuse_slot trees[VFUSE_TREES];
	uint64_t tick;
	/* open files: a release the kernel had not sent when the mount ended
	 * never comes, so they are closed here */
	struct vfuse_file *files;
	struct catalog_point *points; /* oldest first */
	size_t npoints;
	struct vfuse_base *bases;
	size_t nbases;
	time_t looked; /* when the directories were looked at */
	struct timespec points_seen, bases_seen; /* their mtimes then */
	time_t mounted;				 /* the directories' times */
};

enum vfuse_kind {
	VFUSE_ROOT,
	VFUSE_LATEST,
	VFUSE_POINTS,
	VFUSE_POINT,
	VFUSE_POINT_DISK,
	VFUSE_POINT_VOLUMES, /* points/ID/volumes */
	VFUSE_POINT_APPS,    /* points/ID/apps */
	VFUSE_GUEST,	     /* below points/ID/volumes/V or apps/A */
	VFUSE_BASES,
	VFUSE_BASE,
	VFUSE_BASE_DISK,
};

/* What a path names: its kind and, below points/ or bases/, which. */
struct vfuse_path {
	enum vfuse_kind kind;
	size_t index;			      /* of the point or base */
	char key[2 * MANIFEST_NAME_MAX + 32]; /* VFUSE_GUEST: the tree's */
	const struct policy_volume *volume;   /* VFUSE_GUEST: its volume */
	const struct policy_app *app;	      /* and app, or NULL */
	const char *rest;		      /* VFUSE_GUEST: "/", "/a/b" */
};

/* An open file: a disk.raw, or a file in a guest tree. */
struct vfuse_file {
	struct point_disk_named pd; /* disk.raw */
	struct stat st;		    /* as at open: kept when its point goes */
	char *path;
	struct vfuse_slot *slot; /* a guest file: its tree, held */
	const struct vfuse_node *node;
	struct vfuse_file *prev, *next; /* in vfuse.files */
};

static struct vfuse *vfuse_get(void)
{
	return fuse_get_context()->private_data;
}

static void vfuse_file_close(struct vfuse *v, struct vfuse_file *f);

/*
 * Hand @f, open at @path, to the kernel as @fi's handle and keep it on
 * v->files. Returns 0, or -ENOMEM with @f closed.
 */
static int vfuse_file_add(struct vfuse *v, struct vfuse_file *f,
			  const char *path, struct fuse_file_info *fi)
{
	f->next = v->files;
	if (v->files)
		v->files->prev = f;
	v->files = f;
	f->path = strdup(path);
	if (!f->path) {
		vfuse_file_close(v, f);
		return -ENOMEM;
	}
	fi->fh = (uint64_t)(uintptr_t)f;
	fi->keep_cache = 1; /* a point never changes */
	return 0;
}

/* The stat of open file @path, or -ENOENT. */
static int vfuse_file_stat(const struct vfuse *v, const char *path,
			   struct stat *st)
{
	const struct vfuse_file *f;

	for (f = v->files; f; f = f->next)
		if (!strcmp(f->path, path)) {
			*st = f->st;
			return 0;
		}
	return -ENOENT;
}

/* Close @f and take it off v->files. */
static void vfuse_file_close(struct vfuse *v, struct vfuse_file *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else
		v->files = f->next;
	if (f->next)
		f->next->prev = f->prev;
	if (f->slot)
		f->slot->refs--;
	point_disk_close_named(&f->pd);
	free(f->path);
	free(f);
}

/*
 * The repository open for reading and its cache made, if they were let
 * go (or the cache not made yet: its threads start after detaching).
 * Marks the mount as used now. Returns 0 or -EIO (said on stderr).
 */
static int vfuse_attach(struct vfuse *v)
{
	struct vr_err err = { 0 };
	int rc = 0;

	v->last_use = time(NULL);
	if (!v->r)
		rc = repo_open(v->repo, 0, &v->r, &err);
	if (rc == 0 && !v->cache)
		rc = chunk_cache_new(v->r, v->cache_bytes,
				     VFUSE_READAHEAD_THREADS, &v->cache, &err);
	if (rc < 0) {
		fprintf(stderr, "vhdrecover mount: %s\n", err.msg);
		return -EIO;
	}
	return 0;
}

/* Let the repository go: trees, cache, the open. No file may be open. */
static void vfuse_detach(struct vfuse *v)
{
	size_t i;

	for (i = 0; i < VFUSE_TREES; i++) {
		vfuse_tree_close(v->trees[i].tree);
		v->trees[i].tree = NULL;
	}
	chunk_cache_free(v->cache);
	repo_close(v->r);
	v->cache = NULL;
	v->r = NULL;
}

/* Let the repository go once no file has been open for release_after. */
static void *vfuse_releaser(void *arg)
{
	struct vfuse *v = arg;
	struct timespec wake;

	pthread_mutex_lock(&v->lock);
	while (!v->stopping) {
		clock_gettime(CLOCK_REALTIME, &wake);
		wake.tv_sec += 1;
		pthread_cond_timedwait(&v->stop, &v->lock, &wake);
		if (v->r && !v->files &&
		    time(NULL) - v->last_use >= (time_t)v->release_after)
			vfuse_detach(v);
	}
	pthread_mutex_unlock(&v->lock);
	return NULL;
}

/*
 * Has directory @name of the repository changed since *@seen (then set
 * to its mtime)? One changed within the last second may change again
 * under the same time stamp: it counts as changed until it is older.
 */
static bool vfuse_dir_changed(const struct vfuse *v, const char *name,
			      struct timespec *seen, time_t now)
{
	char path[PATH_MAX + 16];
	struct stat st;
	bool changed;

	snprintf(path, sizeof(path), "%s/%s", v->repo, name);
	if (stat(path, &st) < 0)
		return true; /* made by the first manifest: list to see */
	changed = st.st_mtim.tv_sec != seen->tv_sec ||
		  st.st_mtim.tv_nsec != seen->tv_nsec ||
		  now <= st.st_mtim.tv_sec + 1;
	*seen = st.st_mtim;
	return changed;
}

/* After a failed refresh: look and list again at the next call. */
static void vfuse_refresh_again(struct vfuse *v)
{
	v->looked = 0;
	v->points_seen = v->bases_seen = (struct timespec){ 0 };
}

/*
 * Read the lists of points and bases again if their directories changed
 * (looked at once a second), and then the repository's new packs.
 */
static int vfuse_refresh(struct vfuse *v)
{
	char(*names)[MANIFEST_NAME_MAX] = NULL;
	struct catalog_point *points = NULL;
	struct vfuse_base *bases;
	struct vr_err err = { 0 };
	time_t now = time(NULL);
	size_t npoints = 0, nnames = 0, i, k;
	bool changed;

	if (v->points && now - v->looked < VFUSE_LIST_TTL)
		return 0;
	changed = vfuse_dir_changed(v, "points", &v->points_seen, now);
	changed |= vfuse_dir_changed(v, "bases", &v->bases_seen, now);
	v->looked = now;
	if (v->points && !changed)
		return 0;
	if (repo_refresh(v->r, &err) < 0 ||
	    catalog_list_points(v->repo, NULL, &points, &npoints, NULL, &err) <
		    0 ||
	    catalog_list_names(v->repo, CATALOG_BASES, &names, &nnames, &err) <
		    0) {
		fprintf(stderr, "vhdrecover mount: %s\n", err.msg);
		vfuse_refresh_again(v);
		free(points);
		return -EIO;
	}
	bases = calloc(nnames ? nnames : 1, sizeof(*bases));
	if (!bases) {
		vfuse_refresh_again(v);
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

/* Is @name (@len bytes, not NUL-terminated) the string @have? */
static bool vfuse_name_is(const char *have, const char *name, size_t len)
{
	return strlen(have) == len && !strncmp(have, name, len);
}

/* The length of @name if path @p ("a/b") starts with that component, or 0. */
static size_t vfuse_component(const char *p, const char *name)
{
	size_t len = strlen(name);

	return !strncmp(p, name, len) && (p[len] == '/' || !p[len]) ? len : 0;
}

/* Which entry of @n names (of @len bytes, no '/'), in the lists. */
static int vfuse_find(struct vfuse *v, bool point, const char *name, size_t len,
		      size_t *index)
{
	size_t i, n = point ? v->npoints : v->nbases;

	for (i = 0; i < n; i++) {
		const char *have = point ? v->points[i].id : v->bases[i].name;

		if (vfuse_name_is(have, name, len)) {
			*index = i;
			return 0;
		}
	}
	return -ENOENT;
}

/*
 * The file systems of point @id: each partition (or the whole disk) whose
 * file system we read, named "N-LABEL" (or "N"), found once per point.
 */
static const struct vfuse_vols *vfuse_volumes(struct vfuse *v, const char *id)
{
	struct vfuse_vols *vols = strmap_get(v->volumes, id);
	struct point_disk_named pd;
	struct partition *parts = NULL, whole;
	enum partition_scheme scheme;
	struct vr_err err = { 0 };
	struct guestfs *fs;
	size_t n = 0, i, k;

	if (vols)
		return vols;
	if (point_disk_open_named(v->repo, v->cache, id, &pd, &err) < 0)
		return NULL;
	if (partition_table_read(pd.d, &scheme, &parts, &n, &err) == 0 &&
	    n == 0) { /* no table: a file system on the whole disk, if any */
		free(parts);
		whole = (struct partition){ .size = disk_size(pd.d) };
		parts = &whole;
		n = 1;
	}
	vols = calloc(1, sizeof(*vols) + n * sizeof(vols->v[0]));
	for (i = 0, k = 0; vols && i < n; i++) {
		struct vfuse_vol *vol = &vols->v[k];
		char *c;

		if (guestfs_open(pd.d, parts[i].offset, parts[i].size, &fs,
				 &err) < 0) {
			vr_err_clear(&err);
			continue;
		}
		snprintf(vol->name, sizeof(vol->name),
			 *guestfs_label(fs) ? "%u-%s" : "%u", parts[i].number,
			 guestfs_label(fs));
		for (c = vol->name; *c; c++) /* a label is no path */
			if (*c == '/')
				*c = '_';
		snprintf(vol->uuid, sizeof(vol->uuid), "%s", guestfs_uuid(fs));
		/* a partition by number; a whole-disk file system by UUID */
		vol->pv.kind = parts[i].number ? POLICY_VOLUME_PARTITION
					       : POLICY_VOLUME_UUID;
		vol->pv.partition = parts[i].number;
		guestfs_close(fs);
		k++;
	}
	if (parts != &whole)
		free(parts);
	point_disk_close_named(&pd);
	if (!vols)
		return NULL;
	vols->n = k;
	for (i = 0; i < k; i++)
		vols->v[i].pv.text = vols->v[i].uuid;
	return strmap_put(v->volumes, id, vols) < 0
		       ? NULL
		       : strmap_get(v->volumes, id);
}

/*
 * Below points/ID/: "volumes", "volumes/V[/PATH]", "apps",
 * "apps/A[/PATH]" (with a policy) into @node.
 */
static int vfuse_lookup_guest(struct vfuse *v, const char *p,
			      struct vfuse_path *node)
{
	const char *id = v->points[node->index].id, *name, *slash;
	const struct vfuse_vols *vols;
	size_t len, i, skip;
	bool apps;

	if ((skip = vfuse_component(p, "volumes")))
		apps = false;
	else if (v->policy && (skip = vfuse_component(p, "apps")))
		apps = true;
	else
		return -ENOENT;
	p += skip;
	if (!*p) {
		node->kind = apps ? VFUSE_POINT_APPS : VFUSE_POINT_VOLUMES;
		return 0;
	}
	name = p + 1;
	slash = strchr(name, '/');
	len = slash ? (size_t)(slash - name) : strlen(name);
	node->kind = VFUSE_GUEST;
	node->rest = slash ? slash : "/";
	node->app = NULL;
	if (apps) {
		char app[MANIFEST_NAME_MAX];

		if (len >= sizeof(app))
			return -ENOENT;
		memcpy(app, name, len);
		app[len] = '\0';
		node->app = policy_app_find(v->policy, app);
		if (!node->app)
			return -ENOENT;
		node->volume = &node->app->volume;
		snprintf(node->key, sizeof(node->key), "%s/a/%s", id,
			 node->app->name);
		return 0;
	}
	vols = vfuse_volumes(v, id);
	for (i = 0; vols && i < vols->n; i++) {
		if (vfuse_name_is(vols->v[i].name, name, len)) {
			node->volume = &vols->v[i].pv;
			snprintf(node->key, sizeof(node->key), "%s/v/%s", id,
				 vols->v[i].name);
			return 0;
		}
	}
	return vols ? -ENOENT : -EIO;
}

/* What @path names. Returns 0 or -ENOENT. */
static int vfuse_lookup(struct vfuse *v, const char *path,
			struct vfuse_path *node)
{
	const char *p = path + 1, *slash;
	size_t skip;
	bool point;
	int rc;

	rc = vfuse_attach(v);
	if (rc == 0)
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
	if ((skip = vfuse_component(p, "points")))
		point = true;
	else if ((skip = vfuse_component(p, "bases")))
		point = false;
	else
		return -ENOENT;
	p += skip;
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
	if (!strcmp(slash + 1, VFUSE_DISK)) {
		node->kind = point ? VFUSE_POINT_DISK : VFUSE_BASE_DISK;
		return 0;
	}
	return point ? vfuse_lookup_guest(v, slash + 1, node) : -ENOENT;
}

/* The whole of file @path, appended to @buf (grown); 0 or -errno. */
static int vfuse_slurp(const char *path, uint8_t **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *more;
	ssize_t n;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_size > (off_t)VFUSE_MANIFEST_MAX) {
		close(fd);
		return -EFBIG;
	}
	more = realloc(*buf, *len + (size_t)st.st_size + 1);
	n = more ? vr_pread_full(fd, more + *len, (size_t)st.st_size, 0)
		 : -ENOMEM;
	close(fd);
	if (more)
		*buf = more;
	if (n < 0)
		return (int)n;
	*len += (size_t)n;
	return 0;
}

/*
 * Where the walk of volume @node is saved: "DIR/HASH.tree", HASH the
 * SHA-256 of the point's manifest, its base's and the volume's name, so
 * it names that content and nothing else (a point never changes; a
 * repository made again can reuse an id, not a manifest).
 */
static int vfuse_saved_walk(const struct vfuse *v,
			    const struct vfuse_path *node, char *out,
			    size_t size)
{
	const struct catalog_point *p = &v->points[node->index];
	uint8_t *buf = NULL, hash[REPO_HASH_SIZE];
	char *path, hex[2 * REPO_HASH_SIZE + 1];
	size_t len = 0;
	int rc;

	if (!v->saved_walks)
		return -ENOENT;
	path = catalog_point_path(v->repo, p->id);
	rc = path ? vfuse_slurp(path, &buf, &len) : -ENOMEM;
	free(path);
	if (rc == 0 && p->base[0]) {
		path = catalog_base_path(v->repo, p->base);
		rc = path ? vfuse_slurp(path, &buf, &len) : -ENOMEM;
		free(path);
	}
	if (rc == 0) {
		/* the tree key names the volume ("id/v/NAME") after them */
		const char *name = strchr(node->key, '/');
		uint8_t *more = realloc(buf, len + strlen(name) + 1);

		rc = more ? 0 : -ENOMEM;
		if (more) {
			buf = more;
			memcpy(buf + len, name, strlen(name));
			len += strlen(name);
		}
	}
	if (rc == 0)
		rc = repo_hash(buf, len, hash);
	free(buf);
	if (rc < 0)
		return rc;
	repo_hash_format(hash, hex);
	return snprintf(out, size, "%s/%s.tree", v->saved_walks, hex) <
			       (int)size
		       ? 0
		       : -ENAMETOOLONG;
}

/* Close unused trees, oldest first, until they fit VFUSE_TREE_BYTES. */
static void vfuse_trees_trim(struct vfuse *v)
{
	struct vfuse_slot *oldest;
	size_t bytes, i;

	for (;;) {
		bytes = 0;
		oldest = NULL;
		for (i = 0; i < VFUSE_TREES; i++) {
			struct vfuse_slot *s = &v->trees[i];

			if (!s->tree)
				continue;
			bytes += vfuse_tree_bytes(s->tree);
			if (!s->refs && s->used != v->tick &&
			    (!oldest || s->used < oldest->used))
				oldest = s;
		}
		if (bytes <= VFUSE_TREE_BYTES || !oldest)
			return;
		vfuse_tree_close(oldest->tree);
		oldest->tree = NULL;
	}
}

/*
 * The open tree @node names, opened (in the slot of the tree used least
 * lately and not in use) if it is not. Returns the slot, or NULL with
 * *@rc set.
 */
static struct vfuse_slot *vfuse_tree_get(struct vfuse *v,
					 const struct vfuse_path *node, int *rc)
{
	struct vfuse_slot *slot = NULL;
	char saved[PATH_MAX];
	struct vr_err err = { 0 };
	size_t i;

	v->tick++;
	for (i = 0; i < VFUSE_TREES; i++) {
		struct vfuse_slot *s = &v->trees[i];

		if (s->tree && !strcmp(s->key, node->key)) {
			s->used = v->tick;
			return s;
		}
		if (!s->refs && (!slot || s->used < slot->used))
			slot = s;
	}
	if (!slot) {
		*rc = -EMFILE; /* every tree has open files */
		return NULL;
	}
	vfuse_tree_close(slot->tree);
	slot->tree = NULL;
	if (node->app || vfuse_saved_walk(v, node, saved, sizeof(saved)) < 0)
		saved[0] = '\0';
	*rc = vfuse_tree_open(v->repo, v->cache, v->points[node->index].id,
			      node->volume, node->app, saved[0] ? saved : NULL,
			      &slot->tree, &err);
	if (*rc < 0) {
		fprintf(stderr, "vhdrecover mount: %s\n", err.msg);
		if (*rc != -ENOENT && *rc != -ENOMEM)
			*rc = -EIO;
		return NULL;
	}
	snprintf(slot->key, sizeof(slot->key), "%s", node->key);
	slot->used = v->tick;
	vfuse_trees_trim(v);
	if (saved[0])
		treecache_trim(v->saved_walks, VFUSE_SAVED_WALKS_BYTES);
	return slot;
}

/* The node of guest path @node in its tree; NULL with *@rc set. */
static const struct vfuse_node *vfuse_guest_node(struct vfuse *v,
						 const struct vfuse_path *node,
						 struct vfuse_slot **slot,
						 int *rc)
{
	const struct vfuse_node *n;

	*slot = vfuse_tree_get(v, node, rc);
	if (!*slot)
		return NULL;
	n = vfuse_tree_lookup((*slot)->tree, node->rest);
	if (!n)
		*rc = -ENOENT;
	return n;
}

static void vfuse_stat_dir(struct stat *st, time_t t)
{
	st->st_mode = S_IFDIR | 0555;
	st->st_nlink = 2;
	st->st_mtim.tv_sec = st->st_ctim.tv_sec = st->st_atim.tv_sec = t;
}

/* A disk.raw of @size bytes made at @t. */
static void vfuse_stat_disk(struct stat *st, uint64_t size, time_t t)
{
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	st->st_size = (off_t)size;
	st->st_blocks = (blkcnt_t)(size / 512);
	st->st_mtim.tv_sec = st->st_ctim.tv_sec = st->st_atim.tv_sec = t;
}

static int vfuse_getattr_locked(const char *path, struct stat *st,
				struct fuse_file_info *fi)
{
	struct vfuse *v = vfuse_get();
	struct vfuse_path n;
	int rc;

	(void)fi;
	memset(st, 0, sizeof(*st));
	rc = vfuse_lookup(v, path, &n);
	if (rc == -ENOENT) /* an open file's point may be gone: it stays */
		return vfuse_file_stat(v, path, st);
	if (rc < 0)
		return rc;
	switch (n.kind) {
	case VFUSE_POINT:
		vfuse_stat_dir(st, (time_t)v->points[n.index].time);
		break;
	case VFUSE_POINT_DISK:
		vfuse_stat_disk(st, v->points[n.index].size,
				(time_t)v->points[n.index].time);
		break;
	case VFUSE_BASE_DISK:
		rc = vfuse_base_size(v, &v->bases[n.index]);
		if (rc < 0)
			return rc;
		vfuse_stat_disk(st, v->bases[n.index].size, v->mounted);
		break;
	case VFUSE_GUEST: {
		struct vfuse_slot *slot;
		const struct vfuse_node *g =
			vfuse_guest_node(v, &n, &slot, &rc);

		if (!g)
			return rc;
		vfuse_node_stat(g, st);
		break;
	}
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

static int vfuse_readlink_locked(const char *path, char *buf, size_t size)
{
	struct vfuse *v = vfuse_get();
	struct vfuse_path n;
	int rc = vfuse_lookup(v, path, &n);

	if (rc < 0)
		return rc;
	if (n.kind == VFUSE_GUEST) {
		struct vfuse_slot *slot;
		const struct vfuse_node *g =
			vfuse_guest_node(v, &n, &slot, &rc);

		if (!g)
			return rc;
		if (!vfuse_node_target(g))
			return -EINVAL;
		snprintf(buf, size, "%s", vfuse_node_target(g));
		return 0;
	}
	if (n.kind != VFUSE_LATEST)
		return -EINVAL;
	snprintf(buf, size, "points/%s", v->points[v->npoints - 1].id);
	return 0;
}

static int vfuse_readdir_volumes(struct vfuse *v, const struct vfuse_path *n,
				 void *buf, fuse_fill_dir_t fill)
{
	const struct vfuse_vols *vols =
		vfuse_volumes(v, v->points[n->index].id);
	size_t i;

	if (!vols)
		return -EIO;
	for (i = 0; i < vols->n; i++)
		fill(buf, vols->v[i].name, NULL, 0, 0);
	return 0;
}

/* fuse_fill_dir_t with its buffer, for vfuse_node_list(). */
struct vfuse_filler {
	void *buf;
	fuse_fill_dir_t fill;
};

static int vfuse_fill_node(void *ctx, const char *name, const struct stat *st)
{
	const struct vfuse_filler *f = ctx;

	return f->fill(f->buf, name, st, 0, 0);
}

static int vfuse_readdir_guest(struct vfuse *v, const struct vfuse_path *n,
			       void *buf, fuse_fill_dir_t fill)
{
	struct vfuse_filler filler = { .buf = buf, .fill = fill };
	struct vfuse_slot *slot;
	const struct vfuse_node *g;
	int rc;

	g = vfuse_guest_node(v, n, &slot, &rc);
	return g ? vfuse_node_list(g, vfuse_fill_node, &filler) : rc;
}

static int vfuse_readdir_locked(const char *path, void *buf,
				fuse_fill_dir_t fill, off_t off,
				struct fuse_file_info *fi,
				enum fuse_readdir_flags flags)
{
	struct vfuse *v = vfuse_get();
	struct vfuse_path n;
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
		fill(buf, VFUSE_DISK, NULL, 0, 0);
		fill(buf, "volumes", NULL, 0, 0);
		if (v->policy)
			fill(buf, "apps", NULL, 0, 0);
		return 0;
	case VFUSE_BASE:
		fill(buf, VFUSE_DISK, NULL, 0, 0);
		return 0;
	case VFUSE_POINT_VOLUMES:
		return vfuse_readdir_volumes(v, &n, buf, fill);
	case VFUSE_POINT_APPS:
		for (i = 0; i < policy_app_count(v->policy); i++)
			fill(buf, policy_app_at(v->policy, i)->name, NULL, 0,
			     0);
		return 0;
	case VFUSE_GUEST:
		return vfuse_readdir_guest(v, &n, buf, fill);
	default:
		return -ENOTDIR;
	}
}

/* A file of a guest tree: the tree is held open while the file is. */
static int vfuse_open_guest(struct vfuse *v, const struct vfuse_path *n,
			    const char *path, struct fuse_file_info *fi)
{
	struct vfuse_slot *slot;
	const struct vfuse_node *g;
	struct vfuse_file *f;
	struct stat st;
	int rc;

	g = vfuse_guest_node(v, n, &slot, &rc);
	if (!g)
		return rc;
	vfuse_node_stat(g, &st);
	if (!S_ISREG(st.st_mode))
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->slot = slot;
	f->node = g;
	f->st = st;
	slot->refs++;
	return vfuse_file_add(v, f, path, fi);
}

static int vfuse_open_locked(const char *path, struct fuse_file_info *fi)
{
	struct vfuse *v = vfuse_get();
	struct vr_err err = { 0 };
	struct vfuse_file *f;
	struct vfuse_path n;
	int rc;

	rc = vfuse_lookup(v, path, &n);
	if (rc < 0)
		return rc;
	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EROFS;
	if (n.kind == VFUSE_GUEST)
		return vfuse_open_guest(v, &n, path, fi);
	if (n.kind != VFUSE_POINT_DISK && n.kind != VFUSE_BASE_DISK)
		return -EISDIR;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	rc = n.kind == VFUSE_POINT_DISK
		     ? point_disk_open_named(v->repo, v->cache,
					     v->points[n.index].id, &f->pd,
					     &err)
		     : point_disk_open_base_named(v->repo, v->cache,
						  v->bases[n.index].name,
						  &f->pd, &err);
	if (rc < 0) {
		fprintf(stderr, "vhdrecover mount: %s\n", err.msg);
		free(f);
		return rc == -ENOENT ? -ENOENT : -EIO;
	}
	vfuse_stat_disk(&f->st, disk_size(f->pd.d),
			n.kind == VFUSE_POINT_DISK
				? (time_t)v->points[n.index].time
				: v->mounted);
	return vfuse_file_add(v, f, path, fi);
}

static int vfuse_read(const char *path, char *buf, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	struct vfuse_file *f = (struct vfuse_file *)(uintptr_t)fi->fh;
	struct vr_err err = { 0 };

	(void)path;
	if (off < 0)
		return -EINVAL;
	if (off >= f->st.st_size)
		return 0;
	if (size > (uint64_t)(f->st.st_size - off))
		size = (size_t)(f->st.st_size - off);
	if (size > INT_MAX)
		size = INT_MAX;
	if (f->slot) {
		int64_t got = vfuse_tree_read(f->slot->tree, f->node, buf, size,
					      (uint64_t)off, &err);

		if (got < 0)
			fprintf(stderr, "vhdrecover mount: %s\n", err.msg);
		return got < 0 ? -EIO : (int)got;
	}
	if (disk_read(f->pd.d, buf, size, (uint64_t)off, &err) < 0) {
		/* a missing or damaged chunk: this read fails, not the mount */
		fprintf(stderr, "vhdrecover mount: %s\n", err.msg);
		return -EIO;
	}
	return (int)size;
}

static int vfuse_release_locked(const char *path, struct fuse_file_info *fi)
{
	struct vfuse_file *f = (struct vfuse_file *)(uintptr_t)fi->fh;

	(void)path;
	vfuse_file_close(vfuse_get(), f);
	vfuse_get()->last_use = time(NULL); /* idle from now on */
	return 0;
}

/*
 * Everything but reads holds v->lock: the lists, the trees' slots, the
 * open files' list. Each operation is the _locked function under it.
 */
#define VFUSE_LOCKED(call)                                                     \
	do {                                                                   \
		struct vfuse *v_ = vfuse_get();                                \
		int rc_;                                                       \
                                                                               \
		pthread_mutex_lock(&v_->lock);                                 \
		rc_ = call;                                                    \
		pthread_mutex_unlock(&v_->lock);                               \
		return rc_;                                                    \
	} while (0)

static int vfuse_getattr(const char *path, struct stat *st,
			 struct fuse_file_info *fi)
{
	VFUSE_LOCKED(vfuse_getattr_locked(path, st, fi));
}

static int vfuse_readlink(const char *path, char *buf, size_t size)
{
	VFUSE_LOCKED(vfuse_readlink_locked(path, buf, size));
}

static int vfuse_readdir(const char *path, void *buf, fuse_fill_dir_t fill,
			 off_t off, struct fuse_file_info *fi,
			 enum fuse_readdir_flags flags)
{
	VFUSE_LOCKED(vfuse_readdir_locked(path, buf, fill, off, fi, flags));
}

static int vfuse_open(const char *path, struct fuse_file_info *fi)
{
	VFUSE_LOCKED(vfuse_open_locked(path, fi));
}

static int vfuse_release(const char *path, struct fuse_file_info *fi)
{
	VFUSE_LOCKED(vfuse_release_locked(path, fi));
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
	struct vfuse v = { .mounted = time(NULL),
			   .policy = o->policy,
			   .saved_walks = o->saved_walks,
			   .cache_bytes = o->cache_bytes,
			   .release_after = o->release_after };
	bool releasing = false;
	char opts[PATH_MAX + 128];
	char *argv[] = { "vhdrecover", "-o", opts, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	/* threads as the kernel's requests need them, a few kept idle */
	struct fuse_loop_config loop_config = { .max_idle_threads = 4 };
	struct fuse *f = NULL;
	int rc, loop;

	rc = vfuse_mountpoint_check(mountpoint, err);
	if (rc < 0)
		return rc;
	/* the daemon leaves the working directory: an absolute path, and a
	 * repository that opens, checked before anything is mounted */
	if (!realpath(repo_path, v.repo))
		return vr_err_set(err, -errno, "%s: %s", repo_path,
				  strerror(errno));
	rc = repo_open(v.repo, 0, &v.r, err);
	if (rc < 0)
		return rc;
	pthread_mutex_init(&v.lock, NULL);
	pthread_cond_init(&v.stop, NULL);
	if (strmap_new(&v.volumes) < 0)
		rc = vr_err_set(err, -ENOMEM, "out of memory");
	snprintf(
		opts, sizeof(opts),
		"ro,default_permissions,fsname=vhdrecover,subtype=vhdrecover%s",
		o->allow_other ? ",allow_other" : "");
	if (rc == 0)
		f = fuse_new(&args, &vfuse_ops, sizeof(vfuse_ops), &v);
	if (rc < 0)
		; /* nothing mounted, nothing to start */
	else if (!f)
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
	/* threads (the cache's, the releaser) after detaching: a fork keeps
	 * none; the cache is made by the first lookup */
	else if (v.release_after) {
		v.last_use = time(NULL);
		releasing = pthread_create(&v.releaser, NULL, vfuse_releaser,
					   &v) == 0;
		if (!releasing)
			fprintf(stderr, "vhdrecover mount: warning: no thread "
					"to let the repository go: it is held "
					"until unmounted\n");
	}
	if (f && rc == 0) {
		/* a signal (SIGTERM, SIGINT, SIGHUP) ends the loop with its
		 * number, a clean end too */
		loop = fuse_loop_mt(f, &loop_config);
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
	if (releasing) {
		pthread_mutex_lock(&v.lock);
		v.stopping = true;
		pthread_cond_signal(&v.stop);
		pthread_mutex_unlock(&v.lock);
		pthread_join(v.releaser, NULL);
	}
	while (v.files)
		vfuse_file_close(&v, v.files);
	vfuse_detach(&v);
	strmap_free(v.volumes);
	pthread_cond_destroy(&v.stop);
	pthread_mutex_destroy(&v.lock);
	free(v.points);
	free(v.bases);
	return rc;
}
