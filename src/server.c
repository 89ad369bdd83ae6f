/*
 * server.c: assembles what the workers share (ssh_bind with host keys,
 * listeners, admission) and starts and stops the workers.  Main thread
 * only; the workers read the result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

static enum jg_err
server_bind_setup(ssh_bind bind, const struct hostkey_set *keys)
{
	char banner[64];
	enum jg_err rc;

	if ((rc = hostkey_apply(keys, bind)) != JG_OK)
		return rc;
	/* The software version other tools see: SSH-2.0-jumpgate_X.Y.Z */
	snprintf(banner, sizeof(banner), "jumpgate_%s", JG_VERSION);
	(void)ssh_bind_options_set(bind, SSH_BIND_OPTIONS_BANNER, banner);
	return JG_OK;
}

const struct config *
server_config(struct server *srv)
{
	return atomic_load(&srv->srv_cfg);
}

struct keystore *
server_keystore(struct server *srv)
{
	return atomic_load(&srv->srv_keys);
}

enum jg_err
server_reload(struct server *srv, const struct config *cfg,
    const struct hostkey_set *keys, struct keystore *keystore, char *err,
    size_t errlen)
{
	ssh_bind bind, old;
	enum jg_err rc;

	if ((bind = ssh_bind_new()) == NULL) {
		jg_detail(err, errlen, "out of memory");
		return JG_ERR_NOMEM;
	}
	if ((rc = server_bind_setup(bind, keys)) != JG_OK) {
		ssh_bind_free(bind);
		jg_detail(err, errlen, "cannot use host keys: %s",
		    jg_strerror(rc));
		return rc;
	}
	/* Accepted sessions copied their keys; the old bind can go. */
	pthread_mutex_lock(&srv->srv_bind_lock);
	old = srv->srv_bind;
	srv->srv_bind = bind;
	pthread_mutex_unlock(&srv->srv_bind_lock);
	ssh_bind_free(old);
	admission_set_limits(srv->srv_admission, &cfg->limits);
	atomic_store(&srv->srv_keys, keystore);
	atomic_store(&srv->srv_cfg, cfg);
	return JG_OK;
}

size_t
server_drain(struct server *srv, uint32_t timeout_s, bool (*stop_early)(void *),
    void *arg)
{
	struct timespec pause = { 0, 100 * 1000 * 1000 };
	uint64_t deadline;
	size_t i, left;

	for (i = 0; i < srv->srv_nworkers; i++)
		worker_drain(srv->srv_workers[i]);
	for (i = 0; i < srv->srv_nworkers; i++)
		worker_wait_drained(srv->srv_workers[i]);
	/* No worker polls them now: close, so the kernel hands new
	 * connections to whoever else listens on the port. */
	for (i = 0; i < srv->srv_nlisteners; i++)
		listener_close(&srv->srv_listeners[i]);
	deadline = worker_now_ms() + (uint64_t)timeout_s * 1000;
	for (;;) {
		left = server_sessions(srv) + relay_direct_count();
		if (left == 0 || worker_now_ms() >= deadline ||
		    (stop_early != NULL && stop_early(arg)))
			return left;
		/* A shutdown wait, not a synchronisation: sessions end when
		 * their users leave. */
		nanosleep(&pause, NULL);
	}
}

enum jg_err
server_start(struct server *srv, const struct config *cfg,
    const struct hostkey_set *keys, struct route_table *routes,
    struct keystore *keystore, const int *inherited_fds, size_t ninherited,
    char *err, size_t errlen)
{
	size_t i, nls = ninherited > 0 ? ninherited : cfg->nlisten;
	enum jg_err rc;

	memset(srv, 0, sizeof(*srv));
	atomic_init(&srv->srv_cfg, cfg);
	atomic_init(&srv->srv_keys, keystore);
	srv->srv_routes = routes;
	pthread_mutex_init(&srv->srv_bind_lock, NULL);

	if ((srv->srv_admission = admission_new(&cfg->limits)) == NULL ||
	    (srv->srv_bind = ssh_bind_new()) == NULL) {
		jg_detail(err, errlen, "out of memory");
		server_stop(srv);
		return JG_ERR_NOMEM;
	}
	if ((rc = server_bind_setup(srv->srv_bind, keys)) != JG_OK) {
		jg_detail(err, errlen, "cannot use host keys: %s",
		    jg_strerror(rc));
		server_stop(srv);
		return rc;
	}

	srv->srv_listeners = calloc(nls, sizeof(*srv->srv_listeners));
	if (srv->srv_listeners == NULL && nls > 0) {
		jg_detail(err, errlen, "out of memory");
		server_stop(srv);
		return JG_ERR_NOMEM;
	}
	for (i = 0; i < nls; i++) {
		if (ninherited > 0)
			rc = listener_adopt(&srv->srv_listeners[i],
			    inherited_fds[i], err, errlen);
		else
			rc = listener_open(&srv->srv_listeners[i],
			    &cfg->listen[i], err, errlen);
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
		n += atomic_load(&srv->srv_workers[i]->wk_nsessions);
	return n;
}
