/*
 * vtree.h - a guest file system of a recovery point as an in-memory tree
 * for the FUSE view: one walk (guestfs.h) records every entry's metadata,
 * then lookups and listings need no read of the point, and file reads go
 * to the file system by file number. Lookups, listings and reads may come
 * from several threads at once (reads take turns).
 *
 *	vfuse_tree_open(repo, cache, point, &volume, app, saved, &t, &err);
 *	vfuse_tree_lookup(t, "/etc/nginx", &node);
 *	vfuse_tree_read(t, node, buf, len, off, &err);
 *	vfuse_tree_close(t);
 */
#ifndef VR_VFUSE_TREE_H
#define VR_VFUSE_TREE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "policy.h"

struct chunk_cache;
struct vr_err;
struct vfuse_tree;
struct vfuse_node;

/*
 * The file system @v names in point @point of @repo (a partition number,
 * label or UUID), read through @cache (point_disk.h), all of it, or with
 * @app only what the application's globs select and the directories on
 * the way to it. A whole file system comes from the walk saved at @saved
 * (treecache.h) when there is one, else it is walked and the walk saved
 * there (@saved NULL: neither; a damaged saved walk is said on stderr and
 * replaced). Returns 0, -ENOENT (no such volume), -ENOTSUP, or what
 * opening or walking returns.
 */
int vfuse_tree_open(const char *repo, struct chunk_cache *cache,
		    const char *point, const struct policy_volume *v,
		    const struct policy_app *app, const char *saved,
		    struct vfuse_tree **out, struct vr_err *err);

/* Accepts NULL. */
void vfuse_tree_close(struct vfuse_tree *t);

/* About how much memory the tree takes. */
size_t vfuse_tree_bytes(const struct vfuse_tree *t);

/* The node at @path ("/" or "/a/b"), or NULL. */
const struct vfuse_node *vfuse_tree_lookup(const struct vfuse_tree *t,
					   const char *path);

/* stat(2) of @n. */
void vfuse_node_stat(const struct vfuse_node *n, struct stat *st);

/* A symlink's target, or NULL. */
const char *vfuse_node_target(const struct vfuse_node *n);

/*
 * Call @fill for each child of directory @n with its name and stat.
 * Returns 0, or -ENOTDIR.
 */
int vfuse_node_list(const struct vfuse_node *n,
		    int (*fill)(void *ctx, const char *name,
				const struct stat *st),
		    void *ctx);

/* Read up to @len bytes of file @n at @off. The bytes, or -errno. */
int64_t vfuse_tree_read(struct vfuse_tree *t, const struct vfuse_node *n,
			void *buf, size_t len, uint64_t off,
			struct vr_err *err);

#endif /* VR_VFUSE_TREE_H */
