/*
 * sink_archive.c - a scoped restore into a .tar, .tar.zst or .zip
 * (sink.h), written by libarchive to a descriptor the caller makes atomic
 * (temp file, fsync, rename). Entries are APP/PATH with the guest's
 * sizes, modes, owners, times and link targets; symlink targets are
 * stored as the guest has them, for the extracting tool to judge.
 */
#include <config.h>
#include "sink.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "guestfs.h"
#include "vr_err.h"

#define SINK_ARCHIVE_COPY (1024 * 1024)

struct sink_archive {
	struct archive *a;
	struct archive_entry *entry; /* reused for every entry */
	enum sink_kind kind;
	char *name;	   /* of the archive, for messages */
	char *app;	   /* the application in progress */
	const char *where; /* "NAME:APP/" */
	uint8_t *buf;
	bool failed; /* the archive is not whole: do not finish it */
	locale_t utf8;
};

/*
 * Guest names are UTF-8 (ext by custom, NTFS by conversion), while
 * libarchive converts names through the caller's locale, which in a
 * script is often "C": where UTF-8 cannot be said it has no name to
 * write. So libarchive runs in a UTF-8 locale, on this thread only.
 */
static locale_t sink_archive_enter(const struct sink_archive *sa)
{
	return sa->utf8 ? uselocale(sa->utf8) : (locale_t)0;
}

static void sink_archive_leave(locale_t saved)
{
	if (saved)
		uselocale(saved);
}

static const struct sink_ops sink_archive_ops;

/* libarchive's error on @sa's archive as our one line. */
static int sink_archive_fail(struct sink_archive *sa, const char *path,
			     struct vr_err *err)
{
	int code = archive_errno(sa->a);

	sa->failed = true;
	return vr_err_set(err, code > 0 ? -code : -EIO, "%s%s: %s", sa->where,
			  path ? path + 1 : "",
			  archive_error_string(sa->a)
				  ? archive_error_string(sa->a)
				  : "archive write failed");
}

/* sink_copy()'s writer: the next bytes of the entry in progress. */
static int sink_archive_write(void *ctx, const void *buf, size_t n,
			      uint64_t off, struct vr_err *err)
{
	struct sink_archive *sa = ctx;

	(void)off; /* sink_copy() writes in order */
	(void)err; /* the caller names the file */
	if (archive_write_data(sa->a, buf, n) != (la_ssize_t)n) {
		sa->failed = true;
		return -EIO;
	}
	return 0;
}

/* File @e's data, then zeros up to its size if the file system gave
 * less (the header promised e->size bytes). The bytes read. */
static int64_t sink_archive_data(struct sink_archive *sa, struct guestfs *fs,
				 const struct guestfs_entry *e,
				 struct vr_err *err)
{
	int64_t got = sink_copy(fs, e, sa->buf, SINK_ARCHIVE_COPY,
				sink_archive_write, sa, err);
	uint64_t off;

	if (got < 0) { /* the entry is cut short: no archive */
		sa->failed = true;
		return err->code ? got : sink_archive_fail(sa, e->path, err);
	}
	memset(sa->buf, 0, SINK_ARCHIVE_COPY);
	for (off = (uint64_t)got; off < e->size;) {
		size_t n = e->size - off < SINK_ARCHIVE_COPY
				   ? (size_t)(e->size - off)
				   : SINK_ARCHIVE_COPY;

		if (sink_archive_write(sa, sa->buf, n, off, err) < 0)
			return sink_archive_fail(sa, e->path, err);
		off += n;
	}
	return got;
}

static int64_t sink_archive_put_entry(struct sink_archive *sa,
				      struct guestfs *fs,
				      const struct guestfs_entry *e,
				      const char *hardlink_of,
				      struct vr_err *err)
{
	struct archive_entry *ae = sa->entry;
	char *name = NULL, *link = NULL;
	int64_t rc = 0;

	/* zip has no hard links: the file again */
	if (sa->kind == SINK_ZIP)
		hardlink_of = NULL;
	if (asprintf(&name, "%s%s", sa->app, e->path) < 0 ||
	    (hardlink_of && asprintf(&link, "%s%s", sa->app, hardlink_of) < 0))
		rc = vr_err_set(err, -ENOMEM, "out of memory");
	if (rc < 0) {
		free(name);
		return rc;
	}
	archive_entry_clear(ae);
	archive_entry_set_pathname_utf8(ae, name);
	archive_entry_set_uid(ae, e->uid);
	archive_entry_set_gid(ae, e->gid);
	archive_entry_set_atime(ae, e->atime.tv_sec, e->atime.tv_nsec);
	archive_entry_set_mtime(ae, e->mtime.tv_sec, e->mtime.tv_nsec);
	archive_entry_set_ctime(ae, e->ctime.tv_sec, e->ctime.tv_nsec);
	if (e->btime.tv_sec || e->btime.tv_nsec)
		archive_entry_set_birthtime(ae, e->btime.tv_sec,
					    e->btime.tv_nsec);
	archive_entry_set_perm(ae, e->mode & 07777);
	switch (e->kind) {
	case GUESTFS_DIR:
		archive_entry_set_filetype(ae, AE_IFDIR);
		break;
	case GUESTFS_SYMLINK:
		archive_entry_set_filetype(ae, AE_IFLNK);
		archive_entry_set_symlink_utf8(ae, e->target);
		break;
	default:
		archive_entry_set_filetype(ae, AE_IFREG);
		if (link)
			archive_entry_set_hardlink_utf8(ae, link);
		else
			archive_entry_set_size(ae, (la_int64_t)e->size);
		break;
	}
	/* a name this locale cannot say: skipped, not written nameless */
	if (!archive_entry_pathname(ae) ||
	    (e->kind == GUESTFS_SYMLINK && !archive_entry_symlink(ae)) ||
	    (link && !archive_entry_hardlink(ae)))
		rc = -EINVAL;
	else if (archive_write_header(sa->a, ae) < ARCHIVE_WARN)
		rc = sink_archive_fail(sa, e->path, err);
	else if (e->kind == GUESTFS_FILE && !link)
		rc = sink_archive_data(sa, fs, e, err);
	if (rc >= 0 && archive_write_finish_entry(sa->a) < ARCHIVE_WARN)
		rc = sink_archive_fail(sa, e->path, err);
	free(link);
	free(name);
	return rc;
}

static int64_t sink_archive_put(void *impl, struct guestfs *fs,
				const struct guestfs_entry *e,
				const char *hardlink_of, struct vr_err *err)
{
	struct sink_archive *sa = impl;
	locale_t saved = sink_archive_enter(sa);
	int64_t rc = sink_archive_put_entry(sa, fs, e, hardlink_of, err);

	sink_archive_leave(saved);
	return rc;
}

static int sink_archive_app_begin(void *impl, const char *app,
				  const char *where, struct vr_err *err)
{
	struct sink_archive *sa = impl;
	char *copy = strdup(app);

	if (!copy)
		return vr_err_set(err, -ENOMEM, "out of memory");
	free(sa->app);
	sa->app = copy;
	sa->where = where;
	return 0;
}

static int sink_archive_app_end(void *impl, struct vr_err *err)
{
	(void)impl;
	(void)err;
	return 0;
}

static int sink_archive_close(void *impl, struct vr_err *err)
{
	struct sink_archive *sa = impl;
	locale_t saved = sink_archive_enter(sa);
	int rc = 0;

	/* a failed archive is not finished (its end would look whole),
	 * and not kept: the caller must not rename it into place */
	if (sa->failed)
		rc = err && err->code ? err->code
				      : vr_err_set(err, -EIO,
						   "%s: not completed after "
						   "an error",
						   sa->name);
	else if (sa->a && archive_write_close(sa->a) != ARCHIVE_OK)
		rc = sink_archive_fail(sa, NULL, err);
	if (sa->a)
		archive_write_free(sa->a);
	sink_archive_leave(saved);
	if (sa->utf8)
		freelocale(sa->utf8);
	if (sa->entry)
		archive_entry_free(sa->entry);
	free(sa->buf);
	free(sa->app);
	free(sa->name);
	free(sa);
	return rc < 0 ? rc : 0;
}

/* Format and filter of @kind on @a. */
static int sink_archive_format(struct archive *a, enum sink_kind kind)
{
	switch (kind) {
	case SINK_ZIP:
		return archive_write_set_format_zip(a);
	case SINK_TAR_ZST:
		if (archive_write_add_filter_zstd(a) != ARCHIVE_OK)
			return ARCHIVE_FATAL;
		/* fall through */
	default:
		return archive_write_set_format_pax(a);
	}
}

int sink_archive_open(int fd, enum sink_kind kind, const char *name,
		      struct sink **out, struct vr_err *err)
{
	struct sink_archive *sa = calloc(1, sizeof(*sa));

	if (!sa)
		return vr_err_set(err, -ENOMEM, "out of memory");
	sa->kind = kind;
	sa->utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	sa->a = archive_write_new();
	sa->entry = archive_entry_new();
	sa->buf = malloc(SINK_ARCHIVE_COPY);
	sa->name = strdup(name);
	sa->where = sa->name;
	if (!sa->a || !sa->entry || !sa->buf || !sa->name) {
		sa->failed = true;
		sink_archive_close(sa, NULL);
		return vr_err_set(err, -ENOMEM, "out of memory");
	}
	if (sink_archive_format(sa->a, kind) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(sa->a, 1) != ARCHIVE_OK ||
	    archive_write_open_fd(sa->a, fd) != ARCHIVE_OK) {
		int rc = sink_archive_fail(sa, NULL, err);

		sink_archive_close(sa, NULL);
		return rc;
	}
	return sink_new(&sink_archive_ops, sa, name, true, out, err);
}

static const struct sink_ops sink_archive_ops = {
	.app_begin = sink_archive_app_begin,
	.put = sink_archive_put,
	.app_end = sink_archive_app_end,
	.close = sink_archive_close,
};
