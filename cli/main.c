// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pss - inspect a process through a Process Snapshotting snapshot.
 *
 *   pss info|threads|handles|vmmap|stacks [options] [-p PID]... [--name NAME] PID...
 *   pss dump [options] PID...	(cmd-dump.c, which parses its own options)
 *
 * The tool is a client of the public API only (<pss/processsnapshot.h>,
 * <pss/pss-linux.h>): whatever it cannot do through them, the API lacks.
 */
#include "pss.h"
#include "json.h"
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#ifndef PSS_VERSION
#define PSS_VERSION "0"
#endif

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: pss COMMAND [OPTIONS] [-p PID]... [--name NAME] PID...\n"
		"\n"
		"Inspect a running process through a snapshot.  Only thread registers stop\n"
		"the target, and only for the moment it takes to read them.\n"
		"\n"
		"Commands:\n"
		"  info      process information (PSS_QUERY_PROCESS_INFORMATION and Linux detail)\n"
		"  threads   threads with state, syscall and CPU times (-r: registers)\n"
		"  handles   file descriptors with type, name and type-specific detail\n"
		"  vmmap     the address space, like pmap -X, with PSS types and protections\n"
		"  dump      write an ELF core like gcore, from a copy-on-write clone\n"
		"            (options: pss dump --help)\n"
		"  watch     dump when CPU or RSS crosses a threshold (pss watch --help)\n"
		"  stacks    symbolized backtraces of every thread, unwound from the snapshot\n"
		"\n"
		"Options:\n"
		"  -p, --pid PID        a process to inspect (may be repeated)\n"
		"  -n, --name NAME      every process whose comm or argv[0] basename is NAME\n"
		"  -j, --json           one JSON document on stdout (an array with several PIDs)\n"
		"  -r, --regs           threads: capture and print registers (stops the target briefly)\n"
		"  -t, --timeout MS     longest wait for a thread to stop (default 2000)\n"
		"      --stop-all       keep every thread in the pause (by default, with 256\n"
		"                       threads or more, idle ones are read just after it)\n"
		"  -v, --verbose        more detail\n"
		"  -h, --help           this text\n"
		"  -V, --version        the version\n"
		"\n"
		"Exit status: 0 ok, 1 partial (some PIDs failed), 2 failure, 64 usage,\n"
		"77 permission denied.\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "regs", no_argument, NULL, 'r' },
		{ "pid", required_argument, NULL, 'p' },
		{ "name", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "stop-all", no_argument, NULL, 0x100 },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int (*cmd)(pid_t, const struct cli_opts *) = NULL;
	struct cli_opts o = { 0 };
	int c, i, rc, fails = 0, perms = 0;
	const char *name, *by_name = NULL;
	size_t n, npids = 0;
	pid_t pid, *pids;

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return EXIT_OK;
	}
	if (argc > 1 && (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version"))) {
		printf("pss %s\n", PSS_VERSION);
		return EXIT_OK;
	}
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	name = argv[1];
	if (!strcmp(name, "dump"))
		return cmd_dump(argc - 1, argv + 1);
	if (!strcmp(name, "watch"))
		return cmd_watch(argc - 1, argv + 1);
	if (!strcmp(name, "info"))
		cmd = cmd_info;
	else if (!strcmp(name, "threads"))
		cmd = cmd_threads;
	else if (!strcmp(name, "handles"))
		cmd = cmd_handles;
	else if (!strcmp(name, "vmmap"))
		cmd = cmd_vmmap;
	else if (!strcmp(name, "stacks"))
		cmd = cmd_stacks;
	if (!cmd) {
		fprintf(stderr, "pss: unknown command '%s' (see pss --help)\n", name);
		return EXIT_USAGE;
	}
	argv++, argc--;
	pids = calloc((size_t)argc + 1, sizeof(*pids));
	if (!pids) {
		fprintf(stderr, "pss: out of memory\n");
		return EXIT_FAILURE_;
	}
	while ((c = getopt_long(argc, argv, "p:n:jrt:vhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (cli_parse_pid(optarg, &pids[npids])) {
				fprintf(stderr, "pss %s: '%s' is not a process id\n", name, optarg);
				rc = EXIT_USAGE;
				goto out;
			}
			npids++;
			break;
		case 'n':
			by_name = optarg;
			break;
		case 'j':
			o.json = true;
			break;
		case 'r':
			o.regs = true;
			break;
		case 't':
			o.timeout_ms = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 0x100:
			o.stop_all = true;
			break;
		case 'v':
			o.verbose = true;
			break;
		case 'h':
			usage(stdout);
			rc = EXIT_OK;
			goto out;
		case 'V':
			printf("pss %s\n", PSS_VERSION);
			rc = EXIT_OK;
			goto out;
		default:
			rc = EXIT_USAGE;
			goto out;
		}
	}
	for (i = optind; i < argc; i++) {
		if (cli_parse_pid(argv[i], &pids[npids])) {
			fprintf(stderr, "pss %s: '%s' is not a process id\n", name, argv[i]);
			rc = EXIT_USAGE;
			goto out;
		}
		npids++;
	}
	if (!npids && !by_name) {
		fprintf(stderr, "pss %s: no PID given (see pss --help)\n", name);
		rc = EXIT_USAGE;
		goto out;
	}
	if (by_name) {
		n = npids;
		if (cli_find_by_name(by_name, &pids, &npids)) {
			rc = EXIT_FAILURE_;
			goto out;
		}
		if (npids == n) {
			fprintf(stderr, "pss %s: no process is named '%s' (comm or argv[0]; see "
				"pgrep -l)\n", name, by_name);
			rc = EXIT_FAILURE_;
			goto out;
		}
	}
	/* One JSON document: an array unless exactly one PID was given by number. */
	if (o.json && (npids > 1 || by_name))
		json_arr_begin();
	for (n = 0; n < npids; n++) {
		pid = pids[n];
		if (!o.json && npids > 1)
			printf("%s== pid %d ==\n", n ? "\n" : "", pid);
		rc = cmd(pid, &o);
		if (rc && o.json && (npids > 1 || by_name) && *cli_last_error()) {
			/* The capture failed before any output: say so in place. */
			json_obj_begin();
			json_kv_int("pid", pid);
			json_kv_str("error", cli_last_error());
			json_kv_int("exit_status", rc);
			json_obj_end();
		}
		fails += rc != EXIT_OK;
		perms += rc == EXIT_PERM;
	}
	if (o.json && (npids > 1 || by_name))
		json_arr_end();
	if (o.json)
		json_done();
	if (!fails)
		rc = EXIT_OK;
	else if ((size_t)fails < npids)
		rc = EXIT_PARTIAL;
	else
		rc = (size_t)perms == npids ? EXIT_PERM : EXIT_FAILURE_;
out:
	free(pids);
	return rc;
}
