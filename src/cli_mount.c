/*
 * cli_mount.c - "vhdrecover mount REPO MOUNTPOINT": the repository as a
 * read-only file tree (fuse/vfuse.h).
 */
#include <config.h>

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "policy.h"
#include "vfuse.h"
#include "vr_err.h"

static void cli_mount_usage(FILE *f)
{
	fprintf(f, "Usage: vhdrecover mount REPO MOUNTPOINT [--policy P] "
		   "[--foreground]\n"
		   "                        [-o allow_other]\n"
		   "Show the repository REPO read-only at MOUNTPOINT (FUSE):\n"
		   "  points/ID/disk.raw    each recovery point's whole disk\n"
		   "  points/ID/volumes/N-LABEL/   its guest file systems "
		   "(NTFS, ext2/3/4)\n"
		   "  points/ID/apps/APP/   with --policy: the files each "
		   "application selects\n"
		   "  bases/NAME/disk.raw   each preloaded base\n"
		   "  latest                a symlink to the newest point\n"
		   "Reads fetch only the chunks they cover; points committed "
		   "while mounted\nappear within a second. Unmount with "
		   "fusermount3 -u MOUNTPOINT or SIGTERM.\n\n"
		   "  --foreground     stay in the foreground (default: detach "
		   "once mounted)\n"
		   "  -o allow_other   let other users read it (needs "
		   "user_allow_other in\n"
		   "                   /etc/fuse.conf when not root)\n");
}

int cli_mount(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "policy", required_argument, NULL, 'y' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vfuse_opts o = { 0 };
	struct vr_err err = { 0 };
	const char *policy_path = NULL;
	struct policy *p = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, ":o:fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o.foreground = true;
			break;
		case 'y':
			policy_path = optarg;
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
