/*
 * main.c: the command line, start-up and the signal loop.  Loads the
 * configuration, host keys, route source and key store, starts the
 * server, then waits for SIGHUP (reload everything) or SIGTERM/SIGINT
 * (drain, then stop), and tells systemd about each step.
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
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>

#include <curl/curl.h>
#include <systemd/sd-daemon.h>
#include <libssh/libssh.h>

#include "config.h"
#include "hostkey.h"
#include "keystore.h"
#include "log.h"
#include "metrics.h"
#include "relay_direct.h"
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

/* What a run owns, and what reloads retire but must keep until exit. */
#define MAIN_RETIRED_MAX	256

struct main_state {
	const struct main_opts *ms_opts;
	struct config	*ms_cfg;		/* in force */
	struct hostkey_set *ms_hostkeys;
	struct keystore	*ms_keystore;
	struct source	*ms_source;
	struct route_table *ms_routes;
	struct server	 ms_srv;
	bool		 ms_server_up;
	/* Workers and direct sessions may still read a retired config or
	 * key store: they are freed only after the server stopped. */
	struct config	*ms_old_cfgs[MAIN_RETIRED_MAX];
	size_t		 ms_nold_cfgs;
	struct keystore	*ms_old_keystores[MAIN_RETIRED_MAX];
	size_t		 ms_nold_keystores;
	struct jg_errlist ms_errs;
	/* The metrics thread reads the source while a reload may swap it. */
	pthread_mutex_t	 ms_source_lock;
	atomic_bool	 ms_draining;
	struct metrics_server *ms_metrics;
};

/* Gauges for /metrics and /readyz; runs on the metrics thread. */
static void
main_gauges(struct metrics_gauges *g, void *arg)
{
	struct main_state *ms = arg;
	struct source_status st;
	struct route_snapshot *snap;
	struct timespec ts;
	uint64_t now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	g->mg_sessions = admission_sessions(ms->ms_srv.srv_admission);
	g->mg_startups = admission_startups(ms->ms_srv.srv_admission);
	g->mg_direct_sessions = relay_direct_count();
	g->mg_source_age_ms = route_table_staleness_ms(ms->ms_routes, now);
	g->mg_source_up = g->mg_source_age_ms == 0;
	snap = route_table_acquire(ms->ms_routes);
	g->mg_routes_pods = route_snapshot_count(snap);
	route_snapshot_release(snap);
	pthread_mutex_lock(&ms->ms_source_lock);
	source_status(ms->ms_source, &st);
	pthread_mutex_unlock(&ms->ms_source_lock);
	g->mg_kube = st.ss_kube;
	g->mg_kube_synced = st.ss_synced;
	g->mg_kube_connected = st.ss_connected;
	g->mg_kube_event_age_ms = st.ss_last_event_ms > 0 &&
	    now > st.ss_last_event_ms ? now - st.ss_last_event_ms : 0;
	g->mg_kube_pods = st.ss_pods;
	g->mg_kube_services = st.ss_services;
	g->mg_kube_relists = st.ss_relists;
	g->mg_kube_errors = st.ss_errors;
	g->mg_ready = st.ss_synced && !atomic_load(&ms->ms_draining);
}

static void
main_notify(const char *state)
{
	/* A no-op outside systemd ($NOTIFY_SOCKET unset). */
	(void)sd_notify(0, state);
}

static void
main_reload_routes_only(struct main_state *ms)
{
	struct route_snapshot *snap;

	if (ms->ms_source == NULL)
		return;
	jg_errlist_init(&ms->ms_errs);
	if (source_reload(ms->ms_source, &ms->ms_errs) != JG_OK) {
		main_log_problems(&ms->ms_errs, LOG_LEVEL_ERROR);
		log_error("Received SIGHUP; route reload failed, keeping the "
		    "routes in force");
		return;
	}
	main_log_problems(&ms->ms_errs, LOG_LEVEL_WARN);
	snap = route_table_acquire(ms->ms_routes);
	log_info("Received SIGHUP; routes reloaded: %zu pods",
	    route_snapshot_count(snap));
	route_snapshot_release(snap);
}

/*
 * SIGHUP: load the configuration again and put it in force whole, or
 * keep the old one whole when anything about the new one is wrong.
 * Sessions carry on either way.
 */
static void
main_reload(struct main_state *ms)
{
	struct config *newcfg = NULL, *old = ms->ms_cfg;
	struct hostkey_set *newkeys = NULL;
	struct keystore *newks = NULL;
	struct source *newsrc = NULL;
	char err[512], mono[64];
	enum jg_err rc;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(mono, sizeof(mono), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000);
	main_notify(mono);
	jg_errlist_init(&ms->ms_errs);
	if (ms->ms_nold_cfgs == MAIN_RETIRED_MAX) {
		log_error("Received SIGHUP; %d reloads since start: restart "
		    "jumpgate to reload again", MAIN_RETIRED_MAX);
		goto out;
	}
	if (config_load(ms->ms_opts->config_path, &newcfg, &ms->ms_errs) !=
	    JG_OK) {
		main_log_problems(&ms->ms_errs, LOG_LEVEL_ERROR);
		log_error("Received SIGHUP; %s has errors: keeping the "
		    "configuration in force", ms->ms_opts->config_path);
		main_reload_routes_only(ms);
		goto out;
	}
	if (hostkey_load_all(&newcfg->host_keys, false, &newkeys,
	    &ms->ms_errs) != JG_OK) {
		main_log_problems(&ms->ms_errs, LOG_LEVEL_ERROR);
		log_error("Received SIGHUP; host keys failed: keeping the "
		    "configuration in force");
		goto fail;
	}
	if (!config_section_equal(old, newcfg, "users") &&
	    keystore_new(newcfg->key_sources, newcfg->nkey_sources, &newks,
	    err, sizeof(err)) != JG_OK) {
		log_error("Received SIGHUP; key store: %s: keeping the "
		    "configuration in force", err);
		goto fail;
	}
	if (!config_section_equal(old, newcfg, "routes")) {
		/*
		 * Stop the old source first: a Kubernetes source publishing
		 * after the new one started would put its routes back.  The
		 * table keeps the last routes meanwhile.
		 */
		pthread_mutex_lock(&ms->ms_source_lock);
		source_stop(ms->ms_source);
		ms->ms_source = NULL;
		pthread_mutex_unlock(&ms->ms_source_lock);
		jg_errlist_init(&ms->ms_errs);
		if (source_start(newcfg, ms->ms_routes, &newsrc,
		    &ms->ms_errs) != JG_OK) {
			main_log_problems(&ms->ms_errs, LOG_LEVEL_ERROR);
			log_error("Received SIGHUP; route source failed: keeping "
			    "the configuration in force");
			jg_errlist_init(&ms->ms_errs);
			pthread_mutex_lock(&ms->ms_source_lock);
			rc = source_start(old, ms->ms_routes, &ms->ms_source,
			    &ms->ms_errs);
			pthread_mutex_unlock(&ms->ms_source_lock);
			if (rc != JG_OK) {
				main_log_problems(&ms->ms_errs, LOG_LEVEL_ERROR);
				log_error("the route source in force could not "
				    "be restarted: routes stay as they were");
			}
			goto fail;
		}
		main_log_problems(&ms->ms_errs, LOG_LEVEL_WARN);
	}
	if (server_reload(&ms->ms_srv, newcfg, newkeys,
	    newks != NULL ? newks : ms->ms_keystore, err, sizeof(err)) !=
	    JG_OK) {
		log_error("Received SIGHUP; %s: keeping the configuration in "
		    "force", err);
		goto fail;
	}

	/* In force from here on. */
	if (newsrc != NULL) {
		pthread_mutex_lock(&ms->ms_source_lock);
		ms->ms_source = newsrc;
		pthread_mutex_unlock(&ms->ms_source_lock);
	} else
		main_reload_routes_only(ms);
	if (newks != NULL) {
		ms->ms_old_keystores[ms->ms_nold_keystores++] =
		    ms->ms_keystore;
		ms->ms_keystore = newks;
	} else
		keystore_expire(ms->ms_keystore);
	hostkey_set_free(ms->ms_hostkeys);	/* the bind holds copies */
	ms->ms_hostkeys = newkeys;
	ms->ms_old_cfgs[ms->ms_nold_cfgs++] = old;
	ms->ms_cfg = newcfg;
	if (!ms->ms_opts->debug)
		log_set_level(newcfg->logging.level);
	if (!config_section_equal(old, newcfg, "listen"))
		log_warn("listen addresses changed: they take effect when "
		    "jumpgate restarts (a restart hands the port over "
		    "without refusing connections)");
	log_info("Received SIGHUP; configuration reloaded from %s",
	    ms->ms_opts->config_path);
	goto out;
fail:
	source_stop(newsrc);
	keystore_free(newks);
	hostkey_set_free(newkeys);
	config_free(newcfg);
out:
	main_notify("READY=1");
}

/* True when a second SIGTERM/SIGINT asks to stop draining at once. */
static bool
main_stop_now(void *arg)
{
	const sigset_t *set = arg;
	struct timespec zero = { 0, 0 };
	int sig;

	sig = sigtimedwait(set, NULL, &zero);
	return sig == SIGTERM || sig == SIGINT;
}

static int
main_run(const struct main_opts *o, struct main_state *ms)
{
	struct config *cfg = ms->ms_cfg;
	struct route_snapshot *snap;
	sigset_t set, stopset;
	struct timespec wd;
	uint64_t wd_usec = 0;
	char err[512];
	size_t i, left;
	int sig, nfds, status = EXIT_PROBLEMS;
	int *fds = NULL;

	log_init("jumpgate", o->log_stderr ? LOG_TARGET_STDERR :
	    LOG_TARGET_SYSLOG, o->debug ? LOG_LEVEL_DEBUG : cfg->logging.level,
	    cfg->logging.syslog_facility);

	jg_errlist_init(&ms->ms_errs);
	if (hostkey_load_all(&cfg->host_keys, false, &ms->ms_hostkeys,
	    &ms->ms_errs) != JG_OK) {
		main_log_problems(&ms->ms_errs, LOG_LEVEL_ERROR);
		return status;
	}
	for (i = 0; i < hostkey_count(ms->ms_hostkeys); i++)
		log_info("host key: %s", hostkey_describe(ms->ms_hostkeys, i));

	if ((ms->ms_routes = route_table_new()) == NULL) {
		log_error("out of memory");
		return status;
	}
	jg_errlist_init(&ms->ms_errs);
	if (source_start(cfg, ms->ms_routes, &ms->ms_source, &ms->ms_errs) !=
	    JG_OK) {
		main_log_problems(&ms->ms_errs, LOG_LEVEL_ERROR);
		return status;
	}
	main_log_problems(&ms->ms_errs, LOG_LEVEL_WARN);
	snap = route_table_acquire(ms->ms_routes);
	log_info("routes: %zu pods loaded", route_snapshot_count(snap));
	route_snapshot_release(snap);
	if (keystore_new(cfg->key_sources, cfg->nkey_sources, &ms->ms_keystore,
	    err, sizeof(err)) != JG_OK) {
		log_error("key store: %s", err);
		return status;
	}
	if (!o->no_detach && main_daemonize() == -1) {
		log_error("cannot detach: %s", strerror(errno));
		return status;
	}

	/* Workers inherit this mask; only this thread takes signals. */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	sigemptyset(&stopset);
	sigaddset(&stopset, SIGTERM);
	sigaddset(&stopset, SIGINT);

	/* systemd socket activation: the sockets outlive our restarts. */
	if ((nfds = sd_listen_fds(1)) > 0) {
		if ((fds = calloc((size_t)nfds, sizeof(*fds))) == NULL)
			return status;
		for (i = 0; i < (size_t)nfds; i++)
			fds[i] = SD_LISTEN_FDS_START + (int)i;
		log_info("using %d listening sockets from systemd instead of "
		    "listen:", nfds);
	}
	if (server_start(&ms->ms_srv, cfg, ms->ms_hostkeys, ms->ms_routes,
	    ms->ms_keystore, fds, nfds > 0 ? (size_t)nfds : 0, err,
	    sizeof(err)) != JG_OK) {
		log_error("cannot start: %s", err);
		free(fds);
		return status;
	}
	free(fds);
	ms->ms_server_up = true;
	if (cfg->metrics.listen != NULL) {
		if (metrics_start(cfg->metrics.listen, main_gauges, ms,
		    &ms->ms_metrics, err, sizeof(err)) != JG_OK) {
			log_error("cannot start: %s", err);
			return status;
		}
		log_info("metrics on http://%s/metrics (and /healthz, /readyz)",
		    cfg->metrics.listen);
	}
	log_info("jumpgate %s ready, %zu workers", JG_VERSION,
	    ms->ms_srv.srv_nworkers);
	main_notify("READY=1\nSTATUS=accepting connections");

	/* The watchdog wants a sign of life twice per period. */
	if (sd_watchdog_enabled(0, &wd_usec) <= 0)
		wd_usec = 0;
	for (;;) {
		if (wd_usec > 0) {
			wd.tv_sec = (time_t)(wd_usec / 2 / 1000000);
			wd.tv_nsec = (long)(wd_usec / 2 % 1000000) * 1000;
			sig = sigtimedwait(&set, NULL, &wd);
			main_notify("WATCHDOG=1");
			if (sig == -1)
				continue;
		} else if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			main_reload(ms);
			continue;
		}
		break;
	}
	cfg = ms->ms_cfg;
	atomic_store(&ms->ms_draining, true);	/* /readyz says no */
	main_notify("STOPPING=1");
	log_info("Received signal %d; draining: no new connections, open "
	    "sessions may finish within %u s", sig,
	    cfg->limits.drain_timeout_s);
	left = server_drain(&ms->ms_srv, cfg->limits.drain_timeout_s,
	    main_stop_now, &stopset);
	if (left > 0)
		log_info("closing %zu sessions still open", left);
	log_info("terminating.");
	return 0;
}

static void
main_state_free(struct main_state *ms)
{
	size_t i;

	metrics_stop(ms->ms_metrics);
	if (ms->ms_server_up)
		server_stop(&ms->ms_srv);
	keystore_free(ms->ms_keystore);
	for (i = 0; i < ms->ms_nold_keystores; i++)
		keystore_free(ms->ms_old_keystores[i]);
	source_stop(ms->ms_source);
	route_table_free(ms->ms_routes);
	hostkey_set_free(ms->ms_hostkeys);
	for (i = 0; i < ms->ms_nold_cfgs; i++)
		config_free(ms->ms_old_cfgs[i]);
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
	if (opts.test_only) {
		status = main_check(cfg);
		config_free(cfg);
	} else {
		struct main_state *ms = calloc(1, sizeof(*ms));

		if (ms == NULL)
			return EXIT_PROBLEMS;
		ms->ms_opts = &opts;
		ms->ms_cfg = cfg;
		pthread_mutex_init(&ms->ms_source_lock, NULL);
		status = main_run(&opts, ms);
		main_state_free(ms);
		config_free(ms->ms_cfg);
		free(ms);
	}
	ssh_finalize();
	curl_global_cleanup();
	return status;
}
