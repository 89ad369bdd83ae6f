/*
 * listener.h: the listening sockets and the accept path.  Each listener is
 * registered in every worker's epoll with EPOLLEXCLUSIVE, so one worker
 * wakes per connection.  Accept decides admission (penalty box,
 * MaxStartups) before anything is allocated, then hands the socket to a
 * new session on the accepting worker.
 */
#ifndef JG_LISTENER_H
#define JG_LISTENER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"
#include "err.h"
#include "worker.h"

#define LISTENER_ACCEPT_BATCH	64	/* accepts per wake, for fairness */

struct listener {
	int		 ls_fd;
	const struct config_listen *ls_cfg;	/* NULL when inherited */
	char		 ls_addr[64];
	uint16_t	 ls_port;
	struct wk_handle ls_handle;
};

/* Binds and listens (non-blocking, CLOEXEC, SO_REUSEADDR; IPv6 sockets
 * are v6-only so "::" and "0.0.0.0" can both be listed).  Main thread. */
enum jg_err listener_open(struct listener *ls, const struct config_listen *cl,
	    char *err, size_t errlen);
/* Uses fd, an inherited listening socket (systemd socket activation),
 * instead of binding one.  Takes ownership of fd on success. */
enum jg_err listener_adopt(struct listener *ls, int fd, char *err,
	    size_t errlen);
void	listener_close(struct listener *ls);

/* "192.0.2.7" / "2001:db8::1" and the port (port may be NULL). */
void	listener_addr_text(const struct sockaddr_storage *ss, char *addr,
	    size_t len, uint16_t *port);

/* The listener is readable: accept a batch.  Worker thread. */
void	listener_accept(struct listener *ls, struct worker *w);

#endif /* JG_LISTENER_H */
