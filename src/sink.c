/*
 * sink.c - a scoped restore's target of any kind (sink.h): guest paths
 * checked once here for every kind, the calls passed on.
 */
#include <config.h>
#include "sink.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "guestfs.h"
#include "vr_err.h"

struct sink {
	const struct sink_ops *ops;
	void *impl;
	char *name;
	bool archive;
	char *where; /* of the application in progress */
};

static bool sink_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n > k && !strcasecmp(s + n - k, suffix);
}

enum sink_kind sink_kind_of(const char *target)
{
	if (sink_ends_with(target, ".tar"))
		return SINK_TAR;
	if (sink_ends_with(target, ".tar.zst") ||
	    sink_ends_with(target, ".tzst"))
		return SINK_TAR_ZST;
	if (sink_ends_with(target, ".zip"))
		return SINK_ZIP;
	return SINK_DIR;
}

int sink_new(const struct sink_ops *ops, void *impl, const char *name,
	     bool archive, struct sink **out, struct vr_err *err)
{
	struct sink *s = calloc(1, sizeof(*s));

	if (!s || !(s->name = strdup(name))) {
		free(s);
		ops->close(impl, NULL);
		return vr_err_set(err, -ENOMEM, "out of memory");
	}
	s->ops = ops;
	s->impl = impl;
	s->archive = archive;
	*out = s;
	return 0;
}

/* Every component of @path a name we write: not "", "." or "..". */
static bool sink_path_is_writable(const char *path)
{
	const char *c = path;

	if (*c != '/')
		return false;
	while (*c == '/') {
		size_t n = strcspn(++c, "/");

		if (n == 0 || n > 255 || (n == 1 && c[0] == '.') ||
		    (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		c += n;
	}
	return true;
}

int sink_app_begin(struct sink *s, const char *app, struct vr_err *err)
{
	char *where;

	if (asprintf(&where, s->archive ? "%s:%s/" : "%s/%s", s->name, app) < 0)
		return vr_err_set(err, -ENOMEM, "out of memory");
	free(s->where);
	s->where = where;
	return s->ops->app_begin(s->impl, app, where, err);
}

const char *sink_app_where(const struct sink *s)
{
	return s->where ? s->where : s->name;
}

bool sink_entry_is_writable(const struct guestfs_entry *e,
			    const char *hardlink_of)
{
	return !e->bad_name && sink_path_is_writable(e->path) &&
	       (!hardlink_of || sink_path_is_writable(hardlink_of));
}

int64_t sink_put(struct sink *s, struct guestfs *fs,
		 const struct guestfs_entry *e, const char *hardlink_of,
		 struct vr_err *err)
{
	if (!sink_entry_is_writable(e, hardlink_of))
		return vr_err_set(err, -EINVAL, "%s%s: not a path to write",
				  sink_app_where(s), e->path);
	return s->ops->put(s->impl, fs, e, hardlink_of, err);
}

int64_t sink_copy(struct guestfs *fs, const struct guestfs_entry *e,
		  uint8_t *buf, size_t len,
		  int (*write)(void *ctx, const void *buf, size_t n,
			       uint64_t off, struct vr_err *err),
		  void *ctx, struct vr_err *err)
{
	uint64_t off = 0;
	int64_t got;
	int rc;

	while (off < e->size) {
		got = guestfs_read(fs, e->ino, buf, len, off, err);
		if (got < 0)
			return got;
		if (got == 0)
			break; /* the file's size lies: what is there */
		rc = write(ctx, buf, (size_t)got, off, err);
		if (rc < 0)
			return rc;
		off += (uint64_t)got;
	}
	return (int64_t)off;
}

int sink_app_end(struct sink *s, struct vr_err *err)
{
	return s->ops->app_end(s->impl, err);
}

int sink_close(struct sink *s, struct vr_err *err)
{
	int rc;

	if (!s)
		return 0;
	rc = s->ops->close(s->impl, err);
	free(s->where);
	free(s->name);
	free(s);
	return rc;
}
