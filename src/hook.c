/*
 * hook.c - hook_run(): fork, set the environment in the child, exec
 * /bin/sh -c, wait. posix_spawn() would do, but it takes a whole
 * environment, and ours must be kept and extended.
 */
#include <config.h>
#include "hook.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vr_err.h"

int hook_run(const char *what, const char *command, char *const env[],
	     struct vr_err *err)
{
	int status, e;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return vr_err_set(err, -errno, "%s '%s': fork: %s", what,
				  command, strerror(errno));
	if (pid == 0) {
		int fd = open("/dev/null", O_RDONLY);

		if (fd >= 0 && fd != STDIN_FILENO) {
			dup2(fd, STDIN_FILENO);
			close(fd);
		}
		/* our stdout carries only results (--json): a hook's goes
		 * with its stderr */
		dup2(STDERR_FILENO, STDOUT_FILENO);
		for (; env && *env; env++)
			putenv(*env);
		execl("/bin/sh", "sh", "-c", command, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			e = errno;
			return vr_err_set(err, -e, "%s '%s': wait: %s", what,
					  command, strerror(e));
		}
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFSIGNALED(status))
		return vr_err_set(err, -ECANCELED,
				  "%s '%s' was killed by signal %d", what,
				  command, WTERMSIG(status));
	return vr_err_set(err, -ECANCELED, "%s '%s' exited with %d", what,
			  command, WEXITSTATUS(status));
}
