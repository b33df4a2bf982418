/*
 * cli_serve.c - "vhdrecover serve": export a VHDX over NBD by running
 * nbdkit in the foreground with our plugin (src/nbd_plugin.c). SIGTERM
 * (or Ctrl-C) stops it cleanly, the change bitmap saved clean.
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "vr_err.h"

static void cli_serve_usage(FILE *f)
{
	fprintf(f,
		"Usage: vhdrecover serve DISK [--socket PATH | --port N] "
		"[--readonly]\n"
		"                        [--parent FILE] [--granularity G]\n"
		"Export the VHDX DISK (with its parent chain) over NBD until "
		"stopped, through\nnbdkit and the vhdrecover plugin. Every "
		"write marks DISK's change bitmap\n(see 'vhdrecover changes'). "
		"SIGTERM or Ctrl-C stops it cleanly; SIGUSR1\nsaves the "
		"bitmap.\n\n"
		"  --socket PATH      listen on a Unix socket (default: TCP "
		"port 10809 on\n"
		"                     127.0.0.1)\n"
		"  --port N           listen on TCP port N, every address\n"
		"  --readonly         export read-only; nothing is tracked\n"
		"  --parent FILE      use FILE as the parent instead of the "
		"locator\n"
		"  --granularity G    bytes per change bit of a new bitmap "
		"(default 64K)\n"
		"  -h, --help         this help\n");
}

/*
 * The plugin: $VHDRECOVER_NBD_PLUGIN, else the one built with this binary
 * (if its build tree is still there: never a stale installed one), else
 * the installed one.
 */
static const char *cli_serve_plugin(void)
{
	const char *env = getenv("VHDRECOVER_NBD_PLUGIN");

	if (env && *env)
		return env;
	if (access(VR_NBD_PLUGIN_BUILT, R_OK) == 0)
		return VR_NBD_PLUGIN_BUILT;
	return VR_NBD_PLUGIN_INSTALLED;
}

int cli_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "port", required_argument, NULL, 'p' },
		{ "readonly", no_argument, NULL, 'r' },
		{ "parent", required_argument, NULL, 'P' },
		{ "granularity", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *socket = NULL, *port = NULL, *parent = NULL;
	const char *granularity = NULL, *plugin;
	char *args[16], *file_arg = NULL, *parent_arg = NULL, *gran_arg = NULL;
	struct vr_err err = { 0 };
	bool readonly = false;
	unsigned n = 0;
	uint64_t num;
	int c;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			socket = optarg;
			break;
		case 'p':
			if (cli_parse_size(optarg, &num) < 0 || num == 0 ||
			    num > 65535)
				return cli_usage("serve", "bad --port '%s'",
						 optarg);
			port = optarg;
			break;
		case 'r':
			readonly = true;
			break;
		case 'P':
			parent = optarg;
			break;
		case 'g':
			if (cli_parse_size(optarg, &num) < 0)
				return cli_usage("serve",
						 "bad --granularity '%s'",
						 optarg);
			granularity = optarg;
			break;
		case 'h':
			cli_serve_usage(stdout);
			return CLI_EXIT_OK;
		default:
			return cli_usage_option("serve", c, argv);
		}
	}
	if (optind + 1 != argc)
		return cli_usage("serve", "expected DISK");
	if (socket && port)
		return cli_usage("serve", "--socket and --port exclude each "
					  "other");
	plugin = cli_serve_plugin();
	if (access(plugin, R_OK) < 0) {
		vr_err_set(&err, -errno, "%s: nbdkit plugin: %s", plugin,
			   strerror(errno));
		return cli_fail(&err, -ENOENT, plugin);
	}
	if (asprintf(&file_arg, "file=%s", argv[optind]) < 0 ||
	    (parent && asprintf(&parent_arg, "parent=%s", parent) < 0) ||
	    (granularity &&
	     asprintf(&gran_arg, "granularity=%s", granularity) < 0)) {
		vr_err_set(&err, -ENOMEM, "out of memory");
		return cli_fail(&err, -ENOMEM, argv[optind]);
	}
	args[n++] = "nbdkit";
	args[n++] = "--foreground";
	if (socket) {
		args[n++] = "--unix";
		args[n++] = (char *)socket;
	} else if (port) {
		args[n++] = "--port";
		args[n++] = (char *)port;
	} else {
		/* no address given: not the whole network */
		args[n++] = "--ipaddr";
		args[n++] = "127.0.0.1";
		args[n++] = "--port";
		args[n++] = "10809";
	}
	if (readonly)
		args[n++] = "--readonly";
	args[n++] = (char *)plugin;
	args[n++] = file_arg;
	if (parent_arg)
		args[n++] = parent_arg;
	if (gran_arg)
		args[n++] = gran_arg;
	if (readonly)
		args[n++] = "readonly=true";
	args[n] = NULL;
	fflush(stdout);
	execvp("nbdkit", args);
	vr_err_set(&err, -errno, "nbdkit: cannot run: %s", strerror(errno));
	return cli_fail(&err, -errno, "nbdkit");
}
