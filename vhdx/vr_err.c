/*
 * vr_err.c - error context: the first message set wins, and it stays one
 * line: messages quote names from files (parent paths, policy keys, guest
 * file names), so control characters in them are shown as '?'.
 */
#include <config.h>
#include "vr_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int vr_err_set(struct vr_err *err, int code, const char *fmt, ...)
{
	va_list ap;
	char *c;

	if (!err || err->code != 0)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	for (c = err->msg; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return code;
}

void vr_err_clear(struct vr_err *err)
{
	if (!err)
		return;
	err->code = 0;
	err->msg[0] = '\0';
}

const char *vr_err_name(int code)
{
	static const struct {
		int code;
		const char *name;
	} names[] = {
		{ EIO, "EIO" },
		{ ENOMEM, "ENOMEM" },
		{ ENOSPC, "ENOSPC" },
		{ EINVAL, "EINVAL" },
		{ ENOTSUP, "ENOTSUP" },
		{ EUCLEAN, "EUCLEAN" },
		{ EBADMSG, "EBADMSG" },
		{ ENOENT, "ENOENT" },
		{ EACCES, "EACCES" },
		{ EEXIST, "EEXIST" },
		{ ELOOP, "ELOOP" },
		{ EROFS, "EROFS" },
		{ EFBIG, "EFBIG" },
		{ ENODATA, "ENODATA" },
		{ EISDIR, "EISDIR" },
		{ EPERM, "EPERM" },
		{ EOVERFLOW, "EOVERFLOW" },
		{ ESTALE, "ESTALE" },
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].code == -code)
			return names[i].name;
	return "EUNKNOWN";
}
