/*
 * sink.h - where a scoped restore (scoped.h) puts the entries it takes out
 * of a guest file system: a directory tree (sink_dir.c) or an archive,
 * .tar, .tar.zst or .zip (sink_archive.c, through libarchive).
 *
 *	sink_dir_open(dir, &s, &err);  or  sink_archive_open(fd, kind, ...)
 *	for each application:
 *		sink_app_begin(s, "db", &err);
 *		sink_put(s, fs, entry, NULL, &err);	each entry, parents
 *first sink_app_end(s, &err); sink_close(s, &err);
 *
 * Guest names are untrusted: only entries sink_entry_is_writable() passes
 * may be put (no empty, "." or ".." component, none longer than 255
 * bytes, no name that held a '/' or a NUL), so every entry lands inside
 * APP/ of the target where the guest had it.
 */
#ifndef VR_SINK_H
#define VR_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct guestfs;
struct guestfs_entry;
struct vr_err;
struct sink;

enum sink_kind {
	SINK_DIR,
	SINK_TAR,     /* POSIX pax: long names, nanosecond times, UTF-8 */
	SINK_TAR_ZST, /* the same, zstd-compressed */
	SINK_ZIP,
};

/* What @target's name asks for: .tar, .tar.zst, .zip, else a directory. */
enum sink_kind sink_kind_of(const char *target);

/*
 * A directory sink: entries go to DIR/APP/PATH through directories
 * opened with O_NOFOLLOW from DIR down, so nothing is written outside
 * DIR whatever symlinks the image or the target hold; files and symlinks
 * under a temp name, renamed over what is there (re-runs converge);
 * owner (as root), mode and times set through descriptors; directory
 * times set when the application ends. @dir is made if missing.
 */
int sink_dir_open(const char *dir, struct sink **out, struct vr_err *err);

/*
 * An archive sink of @kind writing to @fd (borrowed; the caller makes it
 * a temp file and renames it once sink_close() succeeded). @name is the
 * archive's name, for messages. Entries are named APP/PATH.
 */
int sink_archive_open(int fd, enum sink_kind kind, const char *name,
		      struct sink **out, struct vr_err *err);

/*
 * May @e (and the earlier path @hardlink_of, if not NULL) be put? False
 * for a guest path no target can hold where the guest had it: the
 * caller skips it and says so.
 */
bool sink_entry_is_writable(const struct guestfs_entry *e,
			    const char *hardlink_of);

/* Start application @app: its entries go below APP/. */
int sink_app_begin(struct sink *s, const char *app, struct vr_err *err);

/* "DIR/APP" or "FILE.tar:APP/": where the application goes, for hooks
 * and messages. Valid until the next sink_app_begin(). */
const char *sink_app_where(const struct sink *s);

/*
 * Put entry @e of @fs (its data read through guestfs_read()). With
 * @hardlink_of, the path of an entry of this application put before that
 * is the same file, @e becomes another name of it (a copy where the
 * target has no hard links: zip). @e must be writable (above). Returns
 * the file bytes written (0 for others) or a negative errno.
 */
int64_t sink_put(struct sink *s, struct guestfs *fs,
		 const struct guestfs_entry *e, const char *hardlink_of,
		 struct vr_err *err);

/* The application is complete (a directory sink sets directory times). */
int sink_app_end(struct sink *s, struct vr_err *err);

/*
 * Finish and free: an archive is completed and flushed to its fd.
 * Accepts NULL. Returns 0 or a negative errno (the archive is then not
 * whole: do not keep it).
 */
int sink_close(struct sink *s, struct vr_err *err);

/* ---- for the kinds (sink_dir.c, sink_archive.c) ---- */

struct sink_ops {
	int (*app_begin)(void *impl, const char *app, const char *where,
			 struct vr_err *err);
	int64_t (*put)(void *impl, struct guestfs *fs,
		       const struct guestfs_entry *e, const char *hardlink_of,
		       struct vr_err *err);
	int (*app_end)(void *impl, struct vr_err *err);
	int (*close)(void *impl, struct vr_err *err); /* frees impl */
};

/*
 * Copy file @e's data from @fs through @write (@ctx, a buffer @buf of
 * @len bytes to read into). Stops early where the file system gives
 * less than its size says. Returns the bytes copied or a negative errno.
 */
int64_t sink_copy(struct guestfs *fs, const struct guestfs_entry *e,
		  uint8_t *buf, size_t len,
		  int (*write)(void *ctx, const void *buf, size_t n,
			       uint64_t off, struct vr_err *err),
		  void *ctx, struct vr_err *err);

/*
 * A sink over @impl, which it owns from now on (even on failure). @name
 * is the target's name: where() is "NAME/APP", or "NAME:APP/" with
 * @archive. Returns 0 or -ENOMEM.
 */
int sink_new(const struct sink_ops *ops, void *impl, const char *name,
	     bool archive, struct sink **out, struct vr_err *err);

#endif /* VR_SINK_H */
