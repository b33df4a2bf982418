/*
 * vr_err.h - the project's one error convention: negative errno codes plus
 * one line of context, set where the problem is detected (STYLE.md section 3).
 */
#ifndef VR_ERR_H
#define VR_ERR_H

#include <errno.h>

/* Structure violates the spec or is truncated (as the kernel's file systems).
 */
#define VR_ECORRUPT EUCLEAN
/* A checksum does not match. */
#define VR_EBADCRC EBADMSG

#define VR_ERR_MSG_MAX 256

/*
 * Error context, owned by the caller (usually on its stack). Zero-initialise
 * it; the first vr_err_set() wins so a failing cleanup never hides the cause.
 */
struct vr_err {
	int code;		  /* negative errno, 0 while unset */
	char msg[VR_ERR_MSG_MAX]; /* one line, no final newline */
};

/*
 * Record @code (a negative errno) and a printf-style message in @err unless
 * it already holds one. @err may be NULL. Returns @code so callers can write
 * "return vr_err_set(err, -EIO, ...)".
 */
int vr_err_set(struct vr_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Forget a recorded error, so @err can be reused. */
void vr_err_clear(struct vr_err *err);

/*
 * Symbolic errno name for a negative code ("EUCLEAN"), for --json output.
 * Returns "EUNKNOWN" for codes it does not know.
 */
const char *vr_err_name(int code);

#endif /* VR_ERR_H */
