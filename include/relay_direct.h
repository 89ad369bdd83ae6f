/*
 * relay_direct.h: direct mode.  A client that logged in as USER+JOB (or
 * USER+JOB+POD) is handed over here once authenticated: jumpgate logs in
 * to the job's pod itself with the libssh client API and bridges the whole
 * session (shell, pty, exec, sftp, port forwarding both ways, agent
 * forwarding, exit status).  libssh 0.10 wants channel opens and requests
 * answered inside its callbacks while the upstream answer needs a round
 * trip, so each direct session runs on a thread of its own; jump sessions
 * stay on the event loop.
 */
#ifndef JG_RELAY_DIRECT_H
#define JG_RELAY_DIRECT_H

#include <stdbool.h>
#include <stdint.h>

#include <libssh/libssh.h>

#include "admission.h"
#include "authkeys.h"
#include "config.h"
#include "name.h"
#include "route.h"
#include "session.h"

/* Everything a direct session needs, handed over by the worker. */
struct direct_handoff {
	ssh_session	 dh_ssh;	/* authenticated; owned from now on */
	int		 dh_fd;		/* its socket (libssh owns it) */
	uint64_t	 dh_session_id;
	uint64_t	 dh_started_ms;	/* CLOCK_MONOTONIC, for the audit */
	struct name_parts dh_name;	/* user, job, pod of the login */
	char		 dh_addr[SESSION_ADDR_MAX];
	uint16_t	 dh_port;
	char		 dh_laddr[SESSION_ADDR_MAX];
	uint16_t	 dh_lport;
	bool		 dh_admin;
	struct authkeys	*dh_keys;	/* one reference, owned */
	const struct authkeys_entry *dh_key; /* inside dh_keys */
	char		 dh_key_desc[128];
	const struct config *dh_cfg;	/* not owned; outlives the thread */
	struct route_table *dh_routes;	/* not owned */
	struct admission *dh_admission;	/* one session claimed: release it */
};

/*
 * Takes ownership of *h (copied; the caller's struct may go) and runs the
 * session on a new thread.  If the thread cannot start, the session is
 * closed with a message to the client, the admission claim released and
 * the reason logged.  Worker thread; never blocks.
 */
void	relay_direct_start(const struct direct_handoff *h);

/* Ends every direct session (with a message to its client) and joins the
 * threads.  Main thread, at shutdown, before the config is freed. */
void	relay_direct_stop_all(void);

/* Live direct sessions, for logs and metrics.  Any thread. */
size_t	relay_direct_count(void);

#endif /* JG_RELAY_DIRECT_H */
