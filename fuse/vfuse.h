/*
 * vfuse.h - a repository as a read-only file tree through libfuse3
 * (vhdrecover mount):
 *
 *	points/<id>/disk.raw		each recovery point's whole disk
 *	points/<id>/volumes/<n>-<label>/	its guest file systems
 *	points/<id>/apps/<app>/		with a policy: each application's
 *					files, as the policy selects them
 *	bases/<name>/disk.raw		each preloaded base
 *	latest				-> points/<newest id>
 *
 * A volume's walk is saved in a local directory, so a later mount lists
 * it without fetching its chunks again. Every read fetches only the
 * chunks it covers (point_disk.h), through one
 * cache of a bounded size shared by all files, with readahead for
 * sequential readers. Points a cycle commits while mounted appear within
 * a second; nothing can be written (EROFS). While a file is open (and for
 * a while after), the repository is open for reading: garbage collection
 * waits, so a point forgotten meanwhile still reads whole through files
 * opened before; then it is let go, so a collection can run.
 */
#ifndef VR_VFUSE_H
#define VR_VFUSE_H

#include <stdbool.h>
#include <stddef.h>

struct policy;
struct vr_err;

struct vfuse_opts {
	bool foreground;	     /* else detach once mounted */
	bool allow_other;	     /* -o allow_other: other users may read */
	const struct policy *policy; /* apps/ of each point, or NULL */
	size_t cache_bytes;	     /* chunks kept in memory, shared */
	unsigned release_after;	     /* seconds without an open file after which
					the repository is let go; 0: held */
	const char *saved_walks;     /* an absolute directory for the walks of
					volumes (treecache.h), or NULL */
};

/*
 * Mount @repo_path at @mountpoint and serve it until unmounted
 * (fusermount3 -u, SIGTERM, SIGINT). Returns 0, or a negative errno
 * with @err set (the repository cannot be opened, the mount fails).
 */
int vfuse_mount(const char *repo_path, const char *mountpoint,
		const struct vfuse_opts *o, struct vr_err *err);

#endif /* VR_VFUSE_H */
