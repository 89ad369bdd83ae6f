/*
 * main.c: the command line, start-up and the signal loop.  Loads the
 * configuration, host keys, route source and key store, starts the
 * server, then waits for SIGHUP (reload routes) or SIGTERM/SIGINT (stop).
 * Main thread only.
 *
 * Exit codes: 0 success (and `-t` found no problem); 1 the configuration,
 * host keys or route source have problems, or the server could not start;
 * 2 bad command line.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libssh/libssh.h>

#include "config.h"
#include "hostkey.h"
#include "keystore.h"
#include "log.h"
#include "route.h"
#include "server.h"
#include "source.h"

#define EXIT_PROBLEMS	1
#define EXIT_USAGE	2

struct main_opts {
	const char	*config_path;
	bool		 test_only;	/* -t */
	bool		 debug;		/* -d */
	bool		 no_detach;	/* -D */
	bool		 log_stderr;	/* -e */
};

static void
main_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: jumpgate [-dDet] [-f config_file] [--version] [--help]\n"
	    "  -f FILE   configuration file (default %s)\n"
	    "  -t        check the configuration, host keys and route source,\n"
	    "            print every problem and exit (0: OK, 1: problems)\n"
	    "  -d        debug: stay in the foreground, log debug lines to "
	    "stderr\n"
	    "  -D        do not detach (for systemd and containers)\n"
	    "  -e        log to stderr instead of syslog\n"
	    "  --version print the version and exit\n"
	    "  --help    print this help and exit\n"
	    "exit status: 0 success, 1 configuration or start-up problem, "
	    "2 usage error\n", CONFIG_DEFAULT_PATH);
}

static int
main_parse_args(int argc, char **argv, struct main_opts *o)
{
	static const struct option longopts[] = {
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	o->config_path = CONFIG_DEFAULT_PATH;
	while ((ch = getopt_long(argc, argv, "f:tdDe", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			o->config_path = optarg;
			break;
		case 't':
			o->test_only = true;
			break;
		case 'd':
			o->debug = o->no_detach = o->log_stderr = true;
			break;
		case 'D':
			o->no_detach = true;
			break;
		case 'e':
			o->log_stderr = true;
			break;
		case 'V':
			printf("jumpgate %s (libssh %s)\n", JG_VERSION,
			    ssh_version(0));
			exit(0);
		case 'h':
			main_usage(stdout);
			exit(0);
		default:
			main_usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "jumpgate: unexpected argument '%s'\n",
		    argv[optind]);
		main_usage(stderr);
		return -1;
	}
	return 0;
}

/* jumpgate -t: every problem at once, then OK or not. */
static int
main_check(const struct config *cfg)
{
	struct jg_errlist *errs;
	struct hostkey_set *keys = NULL;
	int status = 0;

	if ((errs = malloc(sizeof(*errs))) == NULL)
		return EXIT_PROBLEMS;
	jg_errlist_init(errs);
	if (hostkey_load_all(&cfg->host_keys, true, &keys, errs) != JG_OK)
		status = EXIT_PROBLEMS;
	hostkey_set_free(keys);
	if (source_check(cfg, errs) != JG_OK)
		status = EXIT_PROBLEMS;
	jg_errlist_print(errs, stderr);
	if (status == 0 && errs->el_count == 0)
		printf("configuration OK\n");
	else
		status = EXIT_PROBLEMS;
	free(errs);
	return status;
}

static int
main_daemonize(void)
{
	int fd;

	switch (fork()) {
	case -1:
		return -1;
	case 0:
		break;
	default:
		_exit(0);
	}
	if (setsid() == -1)
		return -1;
	if (chdir("/") == -1)
		return -1;
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		(void)dup2(fd, STDIN_FILENO);
		(void)dup2(fd, STDOUT_FILENO);
		(void)dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return 0;
}

static void
main_log_problems(const struct jg_errlist *errs, enum log_level level)
{
	size_t i, kept;

	kept = errs->el_count < JG_ERRLIST_MAX ? errs->el_count :
	    JG_ERRLIST_MAX;
	for (i = 0; i < kept; i++)
		log_msg(level, "%s", errs->el_msg[i]);
	if (errs->el_count > kept)
		log_msg(level, "(%zu more problems not shown)",
		    errs->el_count - kept);
}

static int
main_run(const struct main_opts *o, struct config *cfg)
{
	struct jg_errlist *errs;
	struct hostkey_set *hostkeys = NULL;
	struct route_table *routes = NULL;
	struct source *source = NULL;
	struct keystore *keystore = NULL;
	struct server srv;
	sigset_t set;
	char err[512];
	size_t i;
	int sig, status = EXIT_PROBLEMS;
	bool server_up = false;

	if ((errs = malloc(sizeof(*errs))) == NULL)
		return EXIT_PROBLEMS;
	log_init("jumpgate", o->log_stderr ? LOG_TARGET_STDERR :
	    LOG_TARGET_SYSLOG, o->debug ? LOG_LEVEL_DEBUG : cfg->logging.level,
	    cfg->logging.syslog_facility);

	jg_errlist_init(errs);
	if (hostkey_load_all(&cfg->host_keys, false, &hostkeys, errs) !=
	    JG_OK) {
		main_log_problems(errs, LOG_LEVEL_ERROR);
		goto out;
	}
	for (i = 0; i < hostkey_count(hostkeys); i++)
		log_info("host key: %s", hostkey_describe(hostkeys, i));

	if ((routes = route_table_new()) == NULL) {
		log_error("out of memory");
		goto out;
	}
	jg_errlist_init(errs);
	if (source_start(cfg, routes, &source, errs) != JG_OK) {
		main_log_problems(errs, LOG_LEVEL_ERROR);
		goto out;
	}
	main_log_problems(errs, LOG_LEVEL_WARN);
	{
		struct route_snapshot *snap = route_table_acquire(routes);

		log_info("routes: %zu pods loaded", route_snapshot_count(snap));
		route_snapshot_release(snap);
	}
	if (keystore_new(cfg->key_sources, cfg->nkey_sources, &keystore, err,
	    sizeof(err)) != JG_OK) {
		log_error("key store: %s", err);
		goto out;
	}
	if (!o->no_detach && main_daemonize() == -1) {
		log_error("cannot detach: %s", strerror(errno));
		goto out;
	}

	/* Workers inherit this mask; only this thread takes signals. */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (server_start(&srv, cfg, hostkeys, routes, keystore, err,
	    sizeof(err)) != JG_OK) {
		log_error("cannot start: %s", err);
		goto out;
	}
	server_up = true;
	log_info("jumpgate %s ready, %zu workers", JG_VERSION,
	    srv.srv_nworkers);

	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			jg_errlist_init(errs);
			if (source_reload(source, errs) != JG_OK) {
				main_log_problems(errs, LOG_LEVEL_ERROR);
				log_error("Received SIGHUP; route reload "
				    "failed, keeping the routes in force");
			} else {
				struct route_snapshot *snap;

				main_log_problems(errs, LOG_LEVEL_WARN);
				snap = route_table_acquire(routes);
				log_info("Received SIGHUP; routes reloaded: "
				    "%zu pods", route_snapshot_count(snap));
				route_snapshot_release(snap);
			}
			keystore_expire(keystore);
			continue;
		}
		log_info("Received signal %d; terminating.", sig);
		break;
	}
	status = 0;
out:
	if (server_up)
		server_stop(&srv);
	keystore_free(keystore);
	source_stop(source);
	route_table_free(routes);
	hostkey_set_free(hostkeys);
	free(errs);
	return status;
}

int
main(int argc, char **argv)
{
	struct main_opts opts;
	struct config *cfg = NULL;
	struct jg_errlist *errs;
	int status;

	if (main_parse_args(argc, argv, &opts) == -1)
		return EXIT_USAGE;
	/* A write to a closed socket must be an error, not a death. */
	signal(SIGPIPE, SIG_IGN);
	if ((errs = malloc(sizeof(*errs))) == NULL)
		return EXIT_PROBLEMS;
	jg_errlist_init(errs);
	if (config_load(opts.config_path, &cfg, errs) != JG_OK) {
		jg_errlist_print(errs, stderr);
		free(errs);
		return EXIT_PROBLEMS;
	}
	free(errs);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	ssh_init();
	if (opts.test_only)
		status = main_check(cfg);
	else
		status = main_run(&opts, cfg);
	ssh_finalize();
	curl_global_cleanup();
	config_free(cfg);
	return status;
}
