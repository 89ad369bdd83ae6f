/*
 * relay_jump.c: jump mode: a direct-tcpip channel relayed to the pod's
 * NodePort over a non-blocking socket, with flow control both ways.
 * Owns the pod socket, the channel (once accepted) and the bounded upload
 * buffer.  Worker thread only; the libssh channel callbacks only move
 * bytes into the pod socket and set flags.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "authkeys.h"
#include "log.h"
#include "metrics.h"
#include "name.h"
#include "relay_jump.h"
#include "route.h"
#include "server.h"
#include "session.h"

#define RELAY_CHUNK		32768	/* bytes read from the pod per call */
#define RELAY_READS_PER_WAKE	16	/* fairness between relays */
#define RELAY_SSH_PORT		22
#define RELAY_STDIO_FWD_PORT	65535	/* OpenSSH's ssh -W originator */
/*
 * After an in-band refusal the channel stays open until the client's ssh
 * has read the message and hung up: closing at once races the ProxyJump
 * helper, which may then exit before passing the message on.
 */
#define RELAY_REFUSAL_LINGER_MS	10000
/* SSH_MSG_DISCONNECT reason codes (RFC 4253, 11.1). */
#define RELAY_DISCONNECT_HOST_NOT_ALLOWED	1
#define RELAY_DISCONNECT_SERVICE_NOT_AVAILABLE	7

static const char *const relay_state_names[RELAY_STATE_MAX] = {
	[RELAY_NEW] = "NEW",
	[RELAY_CONNECTING] = "CONNECTING",
	[RELAY_OPEN] = "OPEN",
	[RELAY_REFUSING] = "REFUSING",
	[RELAY_REFUSED] = "REFUSED",
	[RELAY_CLOSED] = "CLOSED",
};

static void
relay_set_state(struct relay *r, enum relay_state state)
{
	log_debug("relay %s:%u of session %llu: %s -> %s", r->rl_target,
	    r->rl_target_port, (unsigned long long)r->rl_session->ses_id,
	    relay_state_names[r->rl_state], relay_state_names[state]);
	r->rl_state = state;
}

static void
put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

size_t
relay_jump_build_refusal(const char *message, uint32_t reason_code,
    uint8_t *buf, size_t buflen)
{
	static const char ident[] = "SSH-2.0-jumpgate\r\n";
	size_t mlen = strlen(message), payload, pad, off;

	if (mlen > 1024)
		mlen = 1024;
	/* byte DISCONNECT, uint32 reason, string text, string language */
	payload = 1 + 4 + 4 + mlen + 4;
	/* Before key exchange the block size is 8 and padding at least 4. */
	pad = 8 - ((4 + 1 + payload) % 8);
	if (pad < 4)
		pad += 8;
	if (buflen < sizeof(ident) - 1 + 4 + 1 + payload + pad)
		return 0;
	memcpy(buf, ident, sizeof(ident) - 1);
	off = sizeof(ident) - 1;
	put_u32(buf + off, (uint32_t)(1 + payload + pad));
	off += 4;
	buf[off++] = (uint8_t)pad;
	buf[off++] = 1;			/* SSH_MSG_DISCONNECT */
	put_u32(buf + off, reason_code);
	off += 4;
	put_u32(buf + off, (uint32_t)mlen);
	off += 4;
	memcpy(buf + off, message, mlen);
	off += mlen;
	put_u32(buf + off, 0);		/* language tag */
	off += 4;
	memset(buf + off, 0, pad);
	off += pad;
	return off;
}

/* The pod's socket failed: remembered for the close reason; the relay
 * then ends. */
static void
relay_pod_failed(struct relay *r, int err)
{
	if (r->rl_pod_end[0] == '\0')
		snprintf(r->rl_pod_end, sizeof(r->rl_pod_end),
		    "pod connection lost: %s", strerror(err));
	r->rl_pod_eof = true;
	r->rl_channel_closed = true;
}

/* Why the relay ends: the pod's side when it ended first, else why. */
static const char *
relay_end_reason(const struct relay *r, const char *why)
{
	return r->rl_pod_end[0] != '\0' ? r->rl_pod_end : why;
}

/* Channel callback: client -> pod.  Returns what the pod socket took;
 * libssh keeps the rest and holds the window closed until we drain it. */
static int
relay_on_data(ssh_session ssh, ssh_channel ch, void *data, uint32_t len,
    int is_stderr, void *arg)
{
	struct relay *r = arg;
	ssize_t n;

	if (is_stderr)
		return (int)len;	/* direct-tcpip has no stderr */
	if (r->rl_state != RELAY_OPEN || r->rl_upbuf_off < r->rl_upbuf_len) {
		r->rl_backlog = len;
		return 0;
	}
	n = write(r->rl_fd, data, len);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			relay_pod_failed(r, errno);
		n = 0;
	}
	r->rl_bytes_up += (uint64_t)n;
	r->rl_backlog = len - (uint32_t)n;
	return (int)n;
}

static void
relay_on_eof(ssh_session ssh, ssh_channel ch, void *arg)
{
	struct relay *r = arg;

	r->rl_client_eof = true;
}

static void
relay_on_close(ssh_session ssh, ssh_channel ch, void *arg)
{
	struct relay *r = arg;

	r->rl_channel_closed = true;
}

static void
relay_refuse_inband(struct relay *r, uint32_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
relay_refuse_inband(struct relay *r, uint32_t code, const char *fmt, ...)
{
	char msg[ROUTE_WHY_MAX + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	free(r->rl_refusal);
	r->rl_refusal = strdup(msg);
	r->rl_refusal_code = code;
	relay_set_state(r, RELAY_REFUSING);
}

int
relay_jump_open(struct session *s, ssh_message msg)
{
	struct server *srv = s->ses_worker->wk_server;
	struct route_snapshot *snap;
	struct route_query q;
	struct route_result res;
	struct name_parts np;
	struct relay *r;
	const char *host;
	char why[ROUTE_WHY_MAX], esc[NAME_JOB_MAX * 4 + 1];
	int port;
	enum jg_err rc;

	host = ssh_message_channel_request_open_destination(msg);
	port = ssh_message_channel_request_open_destination_port(msg);
	if (host == NULL || port <= 0 || port > 65535)
		return 1;
	log_escape(esc, sizeof(esc), host, NAME_JOB_MAX);
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return 1;
	r->rl_session = s;
	r->rl_fd = -1;
	r->rl_handle.wh_kind = WK_TARGET;
	r->rl_handle.wh_ptr = r;
	r->rl_started_ms = worker_now_ms();
	r->rl_upbuf_max = server_config(srv)->limits.relay_buffer_bytes;
	r->rl_target_port = (uint16_t)port;
	/*
	 * The refusal can be told in-band only to an SSH client on the far
	 * end: port 22, or OpenSSH's stdio forward (ssh -W, ProxyJump),
	 * which always names originator port 65535 and carries SSH.
	 */
	r->rl_ssh_port = port == RELAY_SSH_PORT ||
	    ssh_message_channel_request_open_originator_port(msg) ==
	    RELAY_STDIO_FWD_PORT;
	snprintf(r->rl_target, sizeof(r->rl_target), "%s", esc);

	rc = name_parse_target(host, &np, why, sizeof(why));
	if (rc == JG_OK && s->ses_key != NULL &&
	    !authkeys_permits_open(s->ses_key, np.np_job, (uint16_t)port)) {
		jg_detail(why, sizeof(why), "the key you logged in with does "
		    "not permit forwarding to %s port %d (authorized_keys "
		    "no-port-forwarding, restrict or permitopen)", esc, port);
		rc = JG_ERR_DENIED;
	}
	if (rc == JG_OK) {
		memset(&q, 0, sizeof(q));
		q.rq_user = s->ses_name.np_user;
		q.rq_admin = s->ses_admin;
		q.rq_job = np.np_job;
		q.rq_pod = np.np_pod[0] != '\0' ? np.np_pod : NULL;
		/* Port 22 asks for the job's ssh rule, whatever its number. */
		q.rq_port = port == RELAY_SSH_PORT ? 0 : (uint16_t)port;
		snap = route_table_acquire(srv->srv_routes);
		rc = route_lookup(snap, &q, &res, why, sizeof(why));
		metrics_route_result(rc);
		if (rc == JG_OK) {
			snprintf(r->rl_job, sizeof(r->rl_job), "%s",
			    res.rs_pod->rp_job);
			snprintf(r->rl_pod, sizeof(r->rl_pod), "%s/%s",
			    res.rs_pod->rp_namespace, res.rs_pod->rp_name);
			snprintf(r->rl_address, sizeof(r->rl_address), "%s",
			    res.rs_rule->rr_address);
			r->rl_node_port = res.rs_rule->rr_node_port;
			if (s->ses_admin &&
			    strcmp(res.rs_pod->rp_owner, q.rq_user) != 0)
				log_info("admin %s reaches job %s of %s",
				    q.rq_user, r->rl_job, res.rs_pod->rp_owner);
		}
		route_snapshot_release(snap);
	}
	if (rc != JG_OK && rc != JG_ERR_DENIED) {
		uint64_t stale = route_table_staleness_ms(srv->srv_routes,
		    worker_now_ms());
		size_t used = strlen(why);

		if (stale > 0 && used < sizeof(why))
			snprintf(why + used, sizeof(why) - used, " (route "
			    "data is %llu s old: the route source cannot be "
			    "reached)", (unsigned long long)(stale / 1000));
	}
	if (rc != JG_OK) {
		log_info("refused jump for %s from %s port %u to %s port %d: "
		    "%s", s->ses_name.np_user, s->ses_addr, s->ses_port, esc,
		    port, why);
		if (!r->rl_ssh_port) {
			free(r);
			return 1;	/* plain open failure */
		}
		relay_refuse_inband(r, RELAY_DISCONNECT_HOST_NOT_ALLOWED,
		    "jumpgate: %s", why);
	}
	r->rl_channel = ssh_message_channel_request_open_reply_accept(msg);
	if (r->rl_channel == NULL) {
		free(r->rl_refusal);
		free(r);
		return 0;
	}
	memset(&r->rl_cb, 0, sizeof(r->rl_cb));
	r->rl_cb.userdata = r;
	r->rl_cb.channel_data_function = relay_on_data;
	r->rl_cb.channel_eof_function = relay_on_eof;
	r->rl_cb.channel_close_function = relay_on_close;
	ssh_callbacks_init(&r->rl_cb);
	ssh_set_channel_callbacks(r->rl_channel, &r->rl_cb);
	TAILQ_INSERT_TAIL(&s->ses_relays, r, rl_entry);
	return 0;
}

static void
relay_fail(struct relay *r, const char *what, int err)
{
	struct session *s = r->rl_session;
	uint64_t ms = worker_now_ms() - r->rl_started_ms;

	log_info("jump for %s from %s port %u to %s: connect to %s %s port "
	    "%u after %llu ms: %s", s->ses_name.np_user, s->ses_addr,
	    s->ses_port, r->rl_target, r->rl_pod, r->rl_address,
	    r->rl_node_port, (unsigned long long)ms,
	    err != 0 ? strerror(err) : what);
	if (r->rl_fd != -1) {
		worker_unwatch(s->ses_worker, r->rl_fd);
		close(r->rl_fd);
		r->rl_fd = -1;
	}
	if (r->rl_ssh_port)
		relay_refuse_inband(r, RELAY_DISCONNECT_SERVICE_NOT_AVAILABLE,
		    "jumpgate: cannot reach job '%s' of %s: pod %s at %s port "
		    "%u: %s", r->rl_job, s->ses_name.np_user, r->rl_pod,
		    r->rl_address, r->rl_node_port,
		    err != 0 ? strerror(err) : what);
	else
		relay_jump_close(r, what);
}

static void
relay_connected(struct relay *r)
{
	struct session *s = r->rl_session;

	relay_set_state(r, RELAY_OPEN);
	metrics_add(METRIC_SESSIONS_JUMP, 1);
	log_info("jump for %s from %s port %u to %s port %u: job %s pod %s "
	    "at %s port %u", s->ses_name.np_user, s->ses_addr, s->ses_port,
	    r->rl_target, r->rl_target_port, r->rl_job, r->rl_pod,
	    r->rl_address, r->rl_node_port);
	if (s->ses_audit_job[0] == '\0') {
		snprintf(s->ses_audit_job, sizeof(s->ses_audit_job), "%s",
		    r->rl_job);
		snprintf(s->ses_audit_pod, sizeof(s->ses_audit_pod), "%s",
		    r->rl_pod);
		snprintf(s->ses_audit_endpoint, sizeof(s->ses_audit_endpoint),
		    "%s:%u", r->rl_address, r->rl_node_port);
	}
}

static void
relay_connect(struct relay *r)
{
	struct session *s = r->rl_session;
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t sslen;
	int fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, r->rl_address, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(r->rl_node_port);
		sslen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, r->rl_address, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(r->rl_node_port);
		sslen = sizeof(*sin6);
	} else {
		relay_fail(r, "address is not an IP literal", 0);
		return;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		relay_fail(r, "socket", errno);
		return;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	r->rl_fd = fd;
	r->rl_deadline_ms = worker_now_ms() +
	    server_config(s->ses_worker->wk_server)->limits.connect_timeout_ms;
	if (connect(fd, (struct sockaddr *)&ss, sslen) == 0) {
		relay_connected(r);
	} else if (errno == EINPROGRESS) {
		relay_set_state(r, RELAY_CONNECTING);
	} else {
		relay_fail(r, "connect", errno);
		return;
	}
	r->rl_events = r->rl_state == RELAY_CONNECTING ? EPOLLOUT : EPOLLIN;
	if (worker_watch(s->ses_worker, fd, r->rl_events, &r->rl_handle) ==
	    -1)
		relay_fail(r, "epoll", errno);
}

static void
relay_send_refusal(struct relay *r)
{
	uint8_t buf[ROUTE_WHY_MAX + 256];
	size_t n;

	n = relay_jump_build_refusal(r->rl_refusal, r->rl_refusal_code, buf,
	    sizeof(buf));
	if (n == 0 || r->rl_channel_closed ||
	    ssh_channel_write(r->rl_channel, buf, (uint32_t)n) != (int)n) {
		relay_jump_close(r, "refused");
		return;
	}
	r->rl_deadline_ms = worker_now_ms() + RELAY_REFUSAL_LINGER_MS;
	relay_set_state(r, RELAY_REFUSED);
}

/*
 * Hands libssh what it did not take last time; false while some is left.
 * During a key re-exchange libssh 0.10 accepts no channel data (a write
 * returns 0): that is backpressure, not an error.
 */
static bool
relay_flush_down(struct relay *r)
{
	int w;

	if (r->rl_downbuf == NULL)
		return true;
	w = ssh_channel_write(r->rl_channel, r->rl_downbuf + r->rl_downbuf_off,
	    (uint32_t)(r->rl_downbuf_len - r->rl_downbuf_off));
	if (w < 0) {
		r->rl_channel_closed = true;
		return false;
	}
	r->rl_downbuf_off += (size_t)w;
	r->rl_bytes_down += (uint64_t)w;
	if (r->rl_downbuf_off < r->rl_downbuf_len)
		return false;
	free(r->rl_downbuf);
	r->rl_downbuf = NULL;
	r->rl_downbuf_len = r->rl_downbuf_off = 0;
	return true;
}

/* Pod -> client, only as far as the SSH window allows. */
static void
relay_pump_down(struct relay *r)
{
	uint8_t buf[RELAY_CHUNK];
	uint32_t win;
	ssize_t n;
	int i, w;

	if (!relay_flush_down(r))
		return;
	for (i = 0; i < RELAY_READS_PER_WAKE && !r->rl_pod_eof; i++) {
		win = ssh_channel_window_size(r->rl_channel);
		if (win == 0)
			return;
		n = read(r->rl_fd, buf, win < sizeof(buf) ? win : sizeof(buf));
		if (n > 0) {
			w = ssh_channel_write(r->rl_channel, buf, (uint32_t)n);
			if (w < 0) {
				r->rl_channel_closed = true;
				return;
			}
			r->rl_bytes_down += (uint64_t)w;
			if (w < n) {
				/* Keep the rest (at most one chunk) and read
				 * no more until libssh takes it. */
				r->rl_downbuf_len = (size_t)(n - w);
				r->rl_downbuf_off = 0;
				if ((r->rl_downbuf = malloc(
				    r->rl_downbuf_len)) == NULL) {
					r->rl_channel_closed = true;
					return;
				}
				memcpy(r->rl_downbuf, buf + w,
				    r->rl_downbuf_len);
				return;
			}
		} else if (n == 0) {
			r->rl_pod_eof = true;
			if (!r->rl_client_eof)
				snprintf(r->rl_pod_end, sizeof(r->rl_pod_end),
				    "pod closed the connection");
			(void)ssh_channel_send_eof(r->rl_channel);
		} else {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				relay_pod_failed(r, errno);
			return;
		}
	}
}

/* Writes what the upload buffer holds; false while the pod cannot take
 * more (or failed). */
static bool
relay_flush_upbuf(struct relay *r)
{
	ssize_t n;

	while (r->rl_upbuf_off < r->rl_upbuf_len) {
		n = write(r->rl_fd, r->rl_upbuf + r->rl_upbuf_off,
		    r->rl_upbuf_len - r->rl_upbuf_off);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				relay_pod_failed(r, errno);
			return false;
		}
		r->rl_upbuf_off += (size_t)n;
		r->rl_bytes_up += (uint64_t)n;
	}
	/* Empty: give the memory back; an idle relay holds no buffer. */
	free(r->rl_upbuf);
	r->rl_upbuf = NULL;
	r->rl_upbuf_len = r->rl_upbuf_off = 0;
	return true;
}

/* Client -> pod: what libssh kept because the pod was not ready. */
static void
relay_pump_up(struct relay *r)
{
	size_t want;
	int n;

	while (relay_flush_upbuf(r) && r->rl_backlog > 0) {
		want = r->rl_backlog < r->rl_upbuf_max ? r->rl_backlog :
		    r->rl_upbuf_max;
		if ((r->rl_upbuf = malloc(want)) == NULL)
			return;
		n = ssh_channel_read_nonblocking(r->rl_channel, r->rl_upbuf,
		    (uint32_t)want, 0);
		if (n <= 0) {
			free(r->rl_upbuf);
			r->rl_upbuf = NULL;
			r->rl_backlog = 0;
			return;
		}
		r->rl_backlog -= (uint32_t)n < r->rl_backlog ?
		    (uint32_t)n : r->rl_backlog;
		r->rl_upbuf_len = (size_t)n;
		r->rl_upbuf_off = 0;
	}
}

static void
relay_update(struct relay *r)
{
	struct session *s = r->rl_session;
	uint32_t want = 0;
	bool upload_idle;

	if (r->rl_state != RELAY_OPEN)
		return;
	upload_idle = r->rl_backlog == 0 && r->rl_upbuf_off >= r->rl_upbuf_len;
	if (r->rl_client_eof && upload_idle && !r->rl_pod_shut_wr) {
		(void)shutdown(r->rl_fd, SHUT_WR);
		r->rl_pod_shut_wr = true;
	}
	if (r->rl_channel_closed) {
		relay_jump_close(r,
		    relay_end_reason(r, "client closed the channel"));
		return;
	}
	if (r->rl_pod_eof && r->rl_pod_shut_wr) {
		relay_jump_close(r, relay_end_reason(r, "both sides closed"));
		return;
	}
	if (!r->rl_pod_eof && r->rl_downbuf == NULL &&
	    ssh_channel_window_size(r->rl_channel) > 0)
		want |= EPOLLIN;
	if (!upload_idle)
		want |= EPOLLOUT;
	if (want != r->rl_events) {
		if (worker_rewatch(s->ses_worker, r->rl_fd, want,
		    &r->rl_handle) == -1) {
			relay_jump_close(r, "epoll failed");
			return;
		}
		r->rl_events = want;
	}
}

void
relay_jump_after_dispatch(struct relay *r)
{
	switch (r->rl_state) {
	case RELAY_NEW:
		relay_connect(r);
		break;
	case RELAY_CONNECTING:
		if (r->rl_channel_closed)
			relay_jump_close(r, "client closed the channel");
		break;
	case RELAY_OPEN:
		/* The window may have reopened, or data arrived while the
		 * pod socket was full. */
		if (r->rl_backlog > 0 && r->rl_upbuf_len == 0)
			relay_pump_up(r);
		if (r->rl_downbuf != NULL)
			relay_pump_down(r);
		relay_update(r);
		break;
	case RELAY_REFUSED:
		if (r->rl_client_eof || r->rl_channel_closed)
			relay_jump_close(r, "refused");
		break;
	case RELAY_REFUSING:
	case RELAY_CLOSED:
	case RELAY_STATE_MAX:
		break;
	}
	if (r->rl_state == RELAY_REFUSING)
		relay_send_refusal(r);
}

void
relay_jump_on_io(struct relay *r, uint32_t events)
{
	struct session *s = r->rl_session;
	socklen_t len = sizeof(int);
	int err = 0;

	if (r->rl_state == RELAY_CLOSED || s->ses_dead)
		return;
	s->ses_last_active_ms = worker_now_ms();
	if (r->rl_state == RELAY_CONNECTING) {
		if (getsockopt(r->rl_fd, SOL_SOCKET, SO_ERROR, &err,
		    &len) == -1)
			err = errno;
		if (err != 0) {
			relay_fail(r, "connect", err);
		} else {
			relay_connected(r);
			relay_pump_up(r);
		}
	} else if (r->rl_state == RELAY_OPEN) {
		if (events & EPOLLOUT)
			relay_pump_up(r);
		if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			relay_pump_down(r);
	}
	relay_update(r);
	if (r->rl_state == RELAY_REFUSING)
		relay_send_refusal(r);
	/* Writes to the channel queue output on the client socket. */
	session_refresh(s);
}

bool
relay_jump_check_deadline(struct relay *r, uint64_t now)
{
	if (r->rl_state == RELAY_CONNECTING && now >= r->rl_deadline_ms) {
		relay_fail(r, "connection timed out", ETIMEDOUT);
		return true;
	}
	if (r->rl_state == RELAY_REFUSED && now >= r->rl_deadline_ms) {
		relay_jump_close(r, "refused");
		return true;
	}
	return false;
}

void
relay_jump_close(struct relay *r, const char *reason)
{
	struct session *s = r->rl_session;
	struct worker *w = s->ses_worker;

	if (r->rl_state == RELAY_CLOSED)
		return;
	if (r->rl_fd != -1) {
		worker_unwatch(w, r->rl_fd);
		close(r->rl_fd);
		r->rl_fd = -1;
	}
	if (r->rl_channel != NULL) {
		/* libssh may keep the channel until the peer's close
		 * arrives: it must not call back into freed memory. */
		ssh_remove_channel_callbacks(r->rl_channel, &r->rl_cb);
		/*
		 * When the session is about to send a DISCONNECT with a
		 * reason, the channel is left to libssh (ssh_disconnect frees
		 * it): closing it first would let the client's ssh -W exit on
		 * the channel close before it reads the reason.
		 */
		if (!s->ses_quiet_channels) {
			if (!s->ses_dead || ssh_is_connected(s->ses_ssh)) {
				if (!r->rl_pod_eof)
					(void)ssh_channel_send_eof(
					    r->rl_channel);
				(void)ssh_channel_close(r->rl_channel);
			}
			ssh_channel_free(r->rl_channel);
		}
		r->rl_channel = NULL;
	}
	free(r->rl_upbuf);
	r->rl_upbuf = NULL;
	free(r->rl_downbuf);
	r->rl_downbuf = NULL;
	s->ses_bytes_up += r->rl_bytes_up;
	s->ses_bytes_down += r->rl_bytes_down;
	metrics_add(METRIC_BYTES_UP, r->rl_bytes_up);
	metrics_add(METRIC_BYTES_DOWN, r->rl_bytes_down);
	if (r->rl_address[0] != '\0') {
		/* Only a tunnel that was open speaks for the session's end. */
		if (r->rl_refusal == NULL)
			snprintf(s->ses_pod_end, sizeof(s->ses_pod_end), "%s",
			    r->rl_pod_end);
		log_verbose("jump for %s to %s closed: %s (up %llu, down %llu "
		    "bytes)", s->ses_name.np_user, r->rl_target, reason,
		    (unsigned long long)r->rl_bytes_up,
		    (unsigned long long)r->rl_bytes_down);
	}
	relay_set_state(r, RELAY_CLOSED);
	TAILQ_REMOVE(&s->ses_relays, r, rl_entry);
	TAILQ_INSERT_TAIL(&w->wk_dead_relays, r, rl_entry);
}

void
relay_jump_free(struct relay *r)
{
	if (r == NULL)
		return;
	free(r->rl_upbuf);
	free(r->rl_downbuf);
	free(r->rl_refusal);
	free(r);
}
