/*
 * server.c: assembles what the workers share (ssh_bind with host keys,
 * listeners, admission) and starts and stops the workers.  Main thread
 * only; the workers read the result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "relay_direct.h"
#include "server.h"
#include "session.h"

static size_t
server_worker_count(const struct config *cfg)
{
	long n;

	if (cfg->limits.workers > 0)
		return cfg->limits.workers;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (size_t)n : 1;
}

enum jg_err
server_start(struct server *srv, const struct config *cfg,
    const struct hostkey_set *keys, struct route_table *routes,
    struct keystore *keystore, char *err, size_t errlen)
{
	size_t i;
	enum jg_err rc;
	char banner[64];

	memset(srv, 0, sizeof(*srv));
	srv->srv_cfg = cfg;
	srv->srv_routes = routes;
	srv->srv_keys = keystore;
	pthread_mutex_init(&srv->srv_bind_lock, NULL);

	if ((srv->srv_admission = admission_new(&cfg->limits)) == NULL ||
	    (srv->srv_bind = ssh_bind_new()) == NULL) {
		jg_detail(err, errlen, "out of memory");
		server_stop(srv);
		return JG_ERR_NOMEM;
	}
	if ((rc = hostkey_apply(keys, srv->srv_bind)) != JG_OK) {
		jg_detail(err, errlen, "cannot use host keys: %s",
		    jg_strerror(rc));
		server_stop(srv);
		return rc;
	}
	/* The software version other tools see: SSH-2.0-jumpgate_X.Y.Z */
	snprintf(banner, sizeof(banner), "jumpgate_%s", JG_VERSION);
	(void)ssh_bind_options_set(srv->srv_bind, SSH_BIND_OPTIONS_BANNER,
	    banner);

	srv->srv_listeners = calloc(cfg->nlisten, sizeof(*srv->srv_listeners));
	if (srv->srv_listeners == NULL && cfg->nlisten > 0) {
		jg_detail(err, errlen, "out of memory");
		server_stop(srv);
		return JG_ERR_NOMEM;
	}
	for (i = 0; i < cfg->nlisten; i++) {
		rc = listener_open(&srv->srv_listeners[i], &cfg->listen[i],
		    err, errlen);
		if (rc != JG_OK) {
			server_stop(srv);
			return rc;
		}
		srv->srv_nlisteners++;
	}

	srv->srv_nworkers = server_worker_count(cfg);
	srv->srv_workers = calloc(srv->srv_nworkers, sizeof(*srv->srv_workers));
	if (srv->srv_workers == NULL) {
		jg_detail(err, errlen, "out of memory");
		srv->srv_nworkers = 0;
		server_stop(srv);
		return JG_ERR_NOMEM;
	}
	for (i = 0; i < srv->srv_nworkers; i++) {
		srv->srv_workers[i] = worker_new(srv, (int)i, err, errlen);
		if (srv->srv_workers[i] == NULL) {
			server_stop(srv);
			return JG_ERR_IO;
		}
	}
	for (i = 0; i < srv->srv_nworkers; i++) {
		if ((rc = worker_start(srv->srv_workers[i], err, errlen)) !=
		    JG_OK) {
			server_stop(srv);
			return rc;
		}
	}
	for (i = 0; i < srv->srv_nlisteners; i++)
		log_info("Server listening on %s port %u.",
		    srv->srv_listeners[i].ls_addr,
		    srv->srv_listeners[i].ls_port);
	return JG_OK;
}

void
server_stop(struct server *srv)
{
	size_t i;

	for (i = 0; i < srv->srv_nworkers; i++)
		worker_stop(srv->srv_workers[i]);
	/* Workers hand sessions to direct mode; stop those after them. */
	relay_direct_stop_all();
	for (i = 0; i < srv->srv_nworkers; i++)
		worker_free(srv->srv_workers[i]);
	free(srv->srv_workers);
	srv->srv_workers = NULL;
	srv->srv_nworkers = 0;
	for (i = 0; i < srv->srv_nlisteners; i++)
		listener_close(&srv->srv_listeners[i]);
	free(srv->srv_listeners);
	srv->srv_listeners = NULL;
	srv->srv_nlisteners = 0;
	if (srv->srv_bind != NULL)
		ssh_bind_free(srv->srv_bind);
	srv->srv_bind = NULL;
	admission_free(srv->srv_admission);
	srv->srv_admission = NULL;
	pthread_mutex_destroy(&srv->srv_bind_lock);
}

size_t
server_sessions(const struct server *srv)
{
	size_t i, n = 0;

	for (i = 0; i < srv->srv_nworkers; i++)
		n += srv->srv_workers[i]->wk_nsessions;
	return n;
}
