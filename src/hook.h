/*
 * hook.h - running an administrator's command at a point of our work (a
 * quiesce hook around a recovery point, an application's restore hook):
 * "/bin/sh -c COMMAND" with the facts in environment variables, waited for.
 */
#ifndef VR_HOOK_H
#define VR_HOOK_H

struct vr_err;

/*
 * Run @command through /bin/sh with our environment plus @env (NULL-ended
 * "NAME=value" strings; may be NULL), stdin from /dev/null, its stdout and
 * stderr on our stderr (our stdout is for results, such as --json), and
 * wait for it. @what names the hook in messages ("pre
 * hook"). Returns 0 when it exits 0; otherwise -ECANCELED with "@what
 * 'COMMAND' exited with N" (or "was killed by signal N"), or -errno when
 * it could not be started.
 */
int hook_run(const char *what, const char *command, char *const env[],
	     struct vr_err *err);

#endif /* VR_HOOK_H */
