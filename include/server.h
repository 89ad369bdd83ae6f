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
	const struct config *srv_cfg;		/* not owned */
	ssh_bind	 srv_bind;
	pthread_mutex_t	 srv_bind_lock;		/* ssh_bind_accept_fd */
	struct route_table *srv_routes;		/* not owned */
	struct keystore	*srv_keys;		/* not owned */
	struct admission *srv_admission;
	struct listener	*srv_listeners;
	size_t		 srv_nlisteners;
	struct worker	**srv_workers;
	size_t		 srv_nworkers;
	atomic_uint_fast64_t srv_next_session_id;
};

/*
 * Binds the listeners, prepares the ssh_bind with keys, starts the
 * workers.  On failure everything started is stopped again and err says
 * what failed (e.g. "listen 127.0.0.1 port 2222: Address already in
 * use").  Main thread.
 */
enum jg_err server_start(struct server *srv, const struct config *cfg,
	    const struct hostkey_set *keys, struct route_table *routes,
	    struct keystore *keystore, char *err, size_t errlen);

/* Stops the workers (closing their sessions) and frees what start made. */
void	server_stop(struct server *srv);

/* The workers' count of live sessions, for logs. */
size_t	server_sessions(const struct server *srv);

#endif /* JG_SERVER_H */
