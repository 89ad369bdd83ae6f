#define _GNU_SOURCE	/* accept4(2) */
/*
 * listener.c: listening sockets and the accept path with admission.
 * Owns the listening fds (opened and closed on the main thread); accepted
 * fds pass straight to session_start().  listener_accept runs on workers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "admission.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "server.h"
#include "session.h"

#define LISTEN_BACKLOG	1024


enum jg_err
listener_open(struct listener *ls, const struct config_listen *cl, char *err,
    size_t errlen)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t sslen;
	int fd, one = 1, family;

	memset(ls, 0, sizeof(*ls));
	ls->ls_fd = -1;
	ls->ls_port = cl->port;
	snprintf(ls->ls_addr, sizeof(ls->ls_addr), "%s", cl->address);
	memset(&ss, 0, sizeof(ss));
	if (strcmp(cl->address, "*") == 0) {
		family = AF_INET6;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_any;
		sin6->sin6_port = htons(cl->port);
		sslen = sizeof(*sin6);
	} else if (inet_pton(AF_INET, cl->address, &sin->sin_addr) == 1) {
		family = AF_INET;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(cl->port);
		sslen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, cl->address, &sin6->sin6_addr) == 1) {
		family = AF_INET6;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(cl->port);
		sslen = sizeof(*sin6);
	} else {
		jg_detail(err, errlen, "listen %s port %u: not an IP address",
		    cl->address, cl->port);
		return JG_ERR_CONFIG;
	}
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		jg_detail(err, errlen, "listen %s port %u: socket: %s",
		    cl->address, cl->port, strerror(errno));
		return JG_ERR_IO;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/*
	 * SO_REUSEPORT lets a new jumpgate bind the port while the old one
	 * drains: the restart hand-over refuses no connection.
	 */
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	/* "*" means both families on one socket; a literal "::" is v6 only
	 * so that it can be listed beside "0.0.0.0". */
	if (family == AF_INET6) {
		int v6only = strcmp(cl->address, "*") != 0;

		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
		    sizeof(v6only));
	}
	if (bind(fd, (struct sockaddr *)&ss, sslen) == -1 ||
	    listen(fd, LISTEN_BACKLOG) == -1) {
		jg_detail(err, errlen, "listen %s port %u: %s", cl->address,
		    cl->port, strerror(errno));
		close(fd);
		return JG_ERR_IO;
	}
	ls->ls_fd = fd;
	ls->ls_cfg = cl;
	ls->ls_handle.wh_kind = WK_LISTENER;
	ls->ls_handle.wh_ptr = ls;
	return JG_OK;
}

enum jg_err
listener_adopt(struct listener *ls, int fd, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	int flags;

	memset(ls, 0, sizeof(*ls));
	ls->ls_fd = -1;
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == -1) {
		jg_detail(err, errlen, "inherited socket %d: %s", fd,
		    strerror(errno));
		return JG_ERR_IO;
	}
	listener_addr_text(&ss, ls->ls_addr, sizeof(ls->ls_addr), &ls->ls_port);
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		jg_detail(err, errlen, "inherited socket %d: %s", fd,
		    strerror(errno));
		return JG_ERR_IO;
	}
	ls->ls_fd = fd;
	ls->ls_handle.wh_kind = WK_LISTENER;
	ls->ls_handle.wh_ptr = ls;
	return JG_OK;
}

void
listener_close(struct listener *ls)
{
	if (ls->ls_fd != -1)
		close(ls->ls_fd);
	ls->ls_fd = -1;
}

void
listener_addr_text(const struct sockaddr_storage *ss, char *addr, size_t len,
    uint16_t *port)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	uint16_t p = 0;

	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &sin->sin_addr, addr, (socklen_t)len);
		p = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &sin6->sin6_addr, addr, (socklen_t)len);
		p = ntohs(sin6->sin6_port);
	} else
		snprintf(addr, len, "UNKNOWN");
	if (port != NULL)
		*port = p;
}

void
listener_accept(struct listener *ls, struct worker *w)
{
	struct server *srv = w->wk_server;
	struct sockaddr_storage ss;
	socklen_t sslen;
	char addr[SESSION_ADDR_MAX], why[256];
	uint16_t port;
	int fd, i, one = 1;
	enum jg_err rc;
	static atomic_uint_fast64_t drops;

	for (i = 0; i < LISTENER_ACCEPT_BATCH; i++) {
		sslen = sizeof(ss);
		fd = accept4(ls->ls_fd, (struct sockaddr *)&ss, &sslen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK ||
			    errno == EINTR || errno == ECONNABORTED)
				return;
			if (errno == EMFILE || errno == ENFILE) {
				log_error("accept on %s port %u: %s; pausing "
				    "accepts on worker %d for 1 s", ls->ls_addr,
				    ls->ls_port, strerror(errno), w->wk_id);
				worker_pause_accept(w);
				return;
			}
			log_error("accept on %s port %u: %s", ls->ls_addr,
			    ls->ls_port, strerror(errno));
			return;
		}
		listener_addr_text(&ss, addr, sizeof(addr), &port);
		metrics_add(METRIC_CONN_ACCEPTED, 1);
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		if (ls->ls_cfg != NULL && ls->ls_cfg->proxy_protocol) {
			/* Admission needs the client's address, which the
			 * PROXY header brings. */
			(void)session_start(w, fd, &ss, sslen, ls->ls_cfg);
			continue;
		}
		rc = admission_startup_begin(srv->srv_admission, addr, why,
		    sizeof(why));
		if (rc != JG_OK) {
			uint64_t n = atomic_fetch_add(&drops, 1) + 1;

			metrics_add(rc == JG_ERR_DENIED ?
			    METRIC_CONN_DROPPED_PENALTY :
			    METRIC_CONN_DROPPED_STARTUPS, 1);
			/* Rate-limited: a flood must not flood the log. */
			if (n <= 10 || n % 100 == 0)
				log_info("drop connection #%llu from [%s]:%u "
				    "on [%s]:%u %s",
				    (unsigned long long)n, addr, port,
				    ls->ls_addr, ls->ls_port, why);
			close(fd);
			continue;
		}
		(void)session_start(w, fd, &ss, sslen, ls->ls_cfg);
	}
}
