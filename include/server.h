/*
 * server.h: what the workers share: the configuration in force, the
 * ssh_bind with the host keys, the listening sockets, the route table,
 * the key store and the admission counters.  The main thread builds it,
 * starts the workers and stops them; workers only read it (the route
 * table, key store and admission have their own locking).
 */
#ifndef JG_SERVER_H
#define JG_SERVER_H

#include <stdatomic.h>
#include <stddef.h>
#include <pthread.h>

#include <libssh/libssh.h>
#include <libssh/server.h>

#include "admission.h"
#include "config.h"
#include "err.h"
#include "hostkey.h"
#include "keystore.h"
#include "listener.h"
#include "route.h"
#include "worker.h"

struct server {
	/*
	 * The configuration and key store in force.  A reload swaps them;
	 * the main thread keeps every retired one until exit, so a pointer
	 * read once stays valid for the caller's whole use.
	 */
	_Atomic(const struct config *) srv_cfg;	/* not owned */
	_Atomic(struct keystore *) srv_keys;	/* not owned */
	ssh_bind	 srv_bind;		/* guarded by srv_bind_lock */
	pthread_mutex_t	 srv_bind_lock;		/* ssh_bind_accept_fd */
	struct route_table *srv_routes;		/* not owned */
	struct admission *srv_admission;
	struct listener	*srv_listeners;
	size_t		 srv_nlisteners;
	struct worker	**srv_workers;
	size_t		 srv_nworkers;
	atomic_uint_fast64_t srv_next_session_id;
};

/*
 * Binds the listeners (or, with ninherited > 0, uses the listening
 * sockets systemd passed instead of cfg->listen), prepares the ssh_bind
 * with keys, starts the
 * workers.  On failure everything started is stopped again and err says
 * what failed (e.g. "listen 127.0.0.1 port 2222: Address already in
 * use").  Main thread.
 */
enum jg_err server_start(struct server *srv, const struct config *cfg,
	    const struct hostkey_set *keys, struct route_table *routes,
	    struct keystore *keystore, const int *inherited_fds,
	    size_t ninherited, char *err, size_t errlen);

/* The configuration and key store in force.  Any thread. */
const struct config *server_config(struct server *srv);
struct keystore *server_keystore(struct server *srv);

/*
 * Puts a reloaded configuration in force: new host keys for new
 * connections, new limits, the new key store (may be the same one).
 * Sessions carry on.  Listen addresses are not changed (the caller warns).
 * The caller keeps cfg and keystore alive until after server_stop().
 * On failure nothing changed and err says why.  Main thread.
 */
enum jg_err server_reload(struct server *srv, const struct config *cfg,
	    const struct hostkey_set *keys, struct keystore *keystore,
	    char *err, size_t errlen);

/*
 * Stops accepting (the listening sockets are closed, so another process
 * sharing the port with SO_REUSEPORT takes the new connections) and waits
 * until no session is left or timeout_s passed, or stop_early() returns
 * true.  Returns the sessions still open.  Main thread.
 */
size_t	server_drain(struct server *srv, uint32_t timeout_s,
	    bool (*stop_early)(void *), void *arg);

/* Stops the workers (closing their sessions) and frees what start made. */
void	server_stop(struct server *srv);

/* The workers' count of live sessions, for logs. */
size_t	server_sessions(const struct server *srv);

#endif /* JG_SERVER_H */
