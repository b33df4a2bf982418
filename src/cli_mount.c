/*
 * cli_mount.c - "vhdrecover mount REPO MOUNTPOINT": the repository as a
 * read-only file tree (fuse/vfuse.h).
 */
#include <config.h>

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "policy.h"
#include "vfuse.h"
#include "vr_err.h"

/* Chunks the mount keeps: 1024 of 64 KiB, the sequential readers'
 * readahead (4 MiB each) many times over. */
#define CLI_MOUNT_CACHE (64u << 20)
#define CLI_MOUNT_CACHE_MIN (1u << 20)

static void cli_mount_usage(FILE *f)
{
	fprintf(f, "Usage: vhdrecover mount REPO MOUNTPOINT [--policy P] "
		   "[--foreground]\n"
		   "                        [--cache-size SIZE] [-o "
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
		   "it is mounted. Unmount with fusermount3 -u MOUNTPOINT or "
		   "SIGTERM.\n\n"
		   "  --foreground       stay in the foreground (default: "
		   "detach once mounted)\n"
		   "  --cache-size SIZE  chunks kept in memory for all files "
		   "(default 64M)\n"
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
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vfuse_opts o = { .cache_bytes = CLI_MOUNT_CACHE };
	struct vr_err err = { 0 };
	const char *policy_path = NULL;
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
