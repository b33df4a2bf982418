/*
 * cli_mount.c - "vhdrecover mount REPO MOUNTPOINT": the repository as a
 * read-only file tree (fuse/vfuse.h).
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "policy.h"
#include "vfuse.h"
#include "vr_err.h"

/* Chunks the mount keeps: 1024 of 64 KiB, the sequential readers'
 * readahead (4 MiB each) many times over. */
#define CLI_MOUNT_CACHE (64u << 20)
#define CLI_MOUNT_CACHE_MIN (1u << 20)
/* An idle mount lets the repository go after a minute (a year at most). */
#define CLI_MOUNT_RELEASE 60u
#define CLI_MOUNT_RELEASE_MAX (366u * 24 * 3600)

/* mkdir -p @path (0700 for what it makes). Returns 0 or -errno. */
static int cli_mount_mkdirs(char *path)
{
	char *slash;

	for (slash = strchr(path + 1, '/'); slash;
	     slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			*slash = '/';
			return -errno;
		}
		*slash = '/';
	}
	return mkdir(path, 0700) < 0 && errno != EEXIST ? -errno : 0;
}

/*
 * The directory of saved walks into @out (absolute, made if missing):
 * @arg, or with @arg NULL the user's cache ($XDG_CACHE_HOME or
 * ~/.cache, then vhdrecover/trees). Returns 1, 0 for none (@arg "none",
 * or no home to keep them in), or -errno with @err set (a DIR given that
 * cannot be made).
 */
static int cli_mount_walks(const char *arg, char out[PATH_MAX],
			   struct vr_err *err)
{
	const char *base = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char path[PATH_MAX];
	int rc;

	if (arg && !strcmp(arg, "none"))
		return 0;
	if (arg)
		snprintf(path, sizeof(path), "%s", arg);
	else if (base && *base == '/')
		snprintf(path, sizeof(path), "%s/vhdrecover/trees", base);
	else if (home && *home == '/')
		snprintf(path, sizeof(path), "%s/.cache/vhdrecover/trees",
			 home);
	else
		return 0;
	rc = cli_mount_mkdirs(path);
	if (rc == 0 && !realpath(path, out))
		rc = -errno;
	if (rc < 0)
		return vr_err_set(err, rc, "%s: %s", path, strerror(-rc));
	return 1;
}

static void cli_mount_usage(FILE *f)
{
	fprintf(f,
		"Usage: vhdrecover mount REPO MOUNTPOINT [--policy P] "
		"[--foreground]\n"
		"                        [--cache-size SIZE] [--tree-cache "
		"DIR|none]\n"
		"                        [--release-after T] [-o "
		"allow_other]\n"
		"Show the repository REPO read-only at MOUNTPOINT (FUSE):\n"
		"  points/ID/disk.raw    each recovery point's whole disk\n"
		"  points/ID/volumes/N-LABEL/   its guest file systems "
		"(NTFS, ext2/3/4)\n"
		"  points/ID/apps/APP/   with --policy: the files each "
		"application selects\n"
		"  bases/NAME/disk.raw   each preloaded base\n"
		"  latest                a symlink to the newest point\n"
		"Reads fetch only the chunks they cover, ahead of "
		"sequential readers;\npoints committed while mounted "
		"appear within a second. Garbage collection\nwaits while "
		"a file is open. Unmount with fusermount3 -u MOUNTPOINT or "
		"SIGTERM.\n\n"
		"  --foreground       stay in the foreground (default: "
		"detach once mounted)\n"
		"  --cache-size SIZE  chunks kept in memory for all files "
		"(default 64M)\n"
		"  --tree-cache DIR   where walks of volumes are kept for "
		"later mounts\n"
		"                     (default ~/.cache/vhdrecover/trees; "
		"none: not kept)\n"
		"  --release-after T  let the repository go after T (30s, 5m) "
		"without an open\n"
		"                     file, so garbage collection can run "
		"(default 1m; 0: hold it)\n"
		"  -o allow_other     let other users read it (needs "
		"user_allow_other in\n"
		"                     /etc/fuse.conf when not root)\n");
}

int cli_mount(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "policy", required_argument, NULL, 'y' },
		{ "cache-size", required_argument, NULL, 'c' },
		{ "tree-cache", required_argument, NULL, 't' },
		{ "release-after", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vfuse_opts o = { .cache_bytes = CLI_MOUNT_CACHE,
				.release_after = CLI_MOUNT_RELEASE };
	struct vr_err err = { 0 };
	const char *policy_path = NULL, *walks_arg = NULL;
	char walks[PATH_MAX];
	struct policy *p = NULL;
	uint64_t size;
	int c, rc;

	while ((c = getopt_long(argc, argv, ":o:fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o.foreground = true;
			break;
		case 'y':
			policy_path = optarg;
			break;
		case 't':
			walks_arg = optarg;
			break;
		case 'r':
			size = 0;
			if ((strcmp(optarg, "0") &&
			     cli_parse_interval(optarg, &size) < 0) ||
			    size > CLI_MOUNT_RELEASE_MAX)
				return cli_usage("mount",
						 "--release-after '%s': not an "
						 "interval (30s, 5m, 0)",
						 optarg);
			o.release_after = (unsigned)size;
			break;
		case 'c':
			if (cli_parse_size(optarg, &size) < 0 ||
			    size < CLI_MOUNT_CACHE_MIN || size > SIZE_MAX / 2)
				return cli_usage(
					"mount",
					"--cache-size '%s': not a size "
					"of 1M or more",
					optarg);
			o.cache_bytes = (size_t)size;
			break;
		case 'o':
			if (strcmp(optarg, "allow_other"))
				return cli_usage("mount",
						 "mount option '%s' is not "
						 "supported (allow_other is)",
						 optarg);
			o.allow_other = true;
			break;
		case 'h':
			cli_mount_usage(stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage_option("mount", c, argv);
		}
	}
	if (optind + 2 != argc)
		return cli_usage("mount", "expected REPO MOUNTPOINT");
	rc = cli_mount_walks(walks_arg, walks, &err);
	if (rc < 0 && walks_arg)
		return cli_fail(&err, rc, walks_arg);
	if (rc < 0) /* the default place: mounting goes on without it */
		fprintf(stderr, "vhdrecover: warning: %s (walks not kept)\n",
			err.msg);
	vr_err_clear(&err);
	o.saved_walks = rc > 0 ? walks : NULL;
	if (policy_path) {
		rc = policy_load(policy_path, &p, &err);
		if (rc < 0)
			return cli_fail(&err, rc, policy_path);
		o.policy = p;
	}
	rc = vfuse_mount(argv[optind], argv[optind + 1], &o, &err);
	policy_free(p);
	return rc < 0 ? cli_fail(&err, rc, argv[optind]) : CLI_EXIT_OK;
}
