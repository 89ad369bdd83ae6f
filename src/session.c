/*
 * session.c: a client connection's life: key exchange, public-key
 * authentication against the key store, the channels the client opens, and
 * the one close path.  Owns the libssh session and event, the user's key
 * set and the session's relays.  Runs on its worker's thread only; libssh
 * callbacks here only decide and mark, session_refresh() acts.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "admission.h"
#include "audit.h"
#include "keystore.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "proxyproto.h"
#include "relay_direct.h"
#include "relay_jump.h"
#include "route.h"
#include "server.h"
#include "session.h"

static const char *const session_state_names[SESSION_STATE_MAX] = {
	[SESSION_KEX] = "KEX",
	[SESSION_AUTH] = "AUTH",
	[SESSION_AUTH_WAIT] = "AUTH_WAIT",
	[SESSION_OPEN] = "OPEN",
	[SESSION_CLOSING] = "CLOSING",
};


/* The only writer of ses_state. */
static void
session_set_state(struct session *s, enum session_state state)
{
	if (s->ses_state == state)
		return;
	log_debug("session %llu: %s -> %s", (unsigned long long)s->ses_id,
	    session_state_names[s->ses_state], session_state_names[state]);
	s->ses_state = state;
}

const char *
session_who(const struct session *s, char *buf, size_t len)
{
	if (s->ses_name.np_user[0] != '\0')
		snprintf(buf, len, "session %llu %s from %s port %u",
		    (unsigned long long)s->ses_id, s->ses_name.np_user,
		    s->ses_addr, s->ses_port);
	else
		snprintf(buf, len, "session %llu from %s port %u",
		    (unsigned long long)s->ses_id, s->ses_addr, s->ses_port);
	return buf;
}

void
session_mark_close(struct session *s, const char *user_msg, const char *fmt,
    ...)
{
	va_list ap;

	if (s->ses_state == SESSION_CLOSING)
		return;
	va_start(ap, fmt);
	vsnprintf(s->ses_reason, sizeof(s->ses_reason), fmt, ap);
	va_end(ap);
	if (user_msg != NULL)
		snprintf(s->ses_disconnect_msg, sizeof(s->ses_disconnect_msg),
		    "%s", user_msg);
	session_set_state(s, SESSION_CLOSING);
}

static const struct config *
session_cfg(const struct session *s)
{
	return server_config(s->ses_worker->wk_server);
}

/* Keystore thread: a fetch ended.  Only wake the worker. */
static void
session_keys_ready(void *arg)
{
	worker_wake_for_keys(arg);
}

static bool
session_is_admin(const struct session *s)
{
	const struct config_routes *r = &session_cfg(s)->routes;
	size_t i;

	for (i = 0; i < r->nadmin_users; i++)
		if (strcmp(r->admin_users[i], s->ses_name.np_user) == 0)
			return true;
	return false;
}

static char *session_read_small_file(const char *path);

/* gateway.banner_file, sent once before authentication like sshd's
 * Banner; the client prints it. */
static void
session_send_banner(struct session *s)
{
	char *text;
	ssh_string str;

	if ((text = session_read_small_file(
	    session_cfg(s)->gateway.banner_file)) == NULL)
		return;
	if ((str = ssh_string_from_char(text)) != NULL) {
		(void)ssh_send_issue_banner(s->ses_ssh, str);
		ssh_string_free(str);
	}
	free(text);
}

/*
 * Records the login on the first request and refuses a change of user
 * name afterwards, as sshd does.  Returns false when the request must be
 * denied without looking at keys (bad or changed login).
 */
static bool
session_auth_begin(struct session *s, const char *login)
{
	char err[256], esc[128];

	if (s->ses_state == SESSION_KEX)
		session_set_state(s, SESSION_AUTH);
	if (s->ses_login[0] == '\0') {
		snprintf(s->ses_login, sizeof(s->ses_login), "%s", login);
		if (strlen(login) > SESSION_LOGIN_MAX ||
		    name_parse_login(login, &s->ses_name, err,
		    sizeof(err)) != JG_OK) {
			memset(&s->ses_name, 0, sizeof(s->ses_name));
			log_info("Invalid user %s from %s port %u",
			    log_escape(esc, sizeof(esc), login, 100),
			    s->ses_addr, s->ses_port);
			s->ses_user_logged = true;
			return false;
		}
		session_send_banner(s);
		return true;
	}
	if (strcmp(login, s->ses_login) != 0) {
		session_mark_close(s, "jumpgate: change of user name not "
		    "allowed", "change of user name not allowed (%s to %s)",
		    log_escape(esc, sizeof(esc), s->ses_login, 60),
		    log_escape(err, sizeof(err), login, 60));
		return false;
	}
	return s->ses_name.np_user[0] != '\0';
}

/* Pauses reading from the client until the user's keys are loaded. */
static void
session_wait_for_keys(struct session *s)
{
	char who[128];

	log_verbose("%s: waiting for the user's keys",
	    session_who(s, who, sizeof(who)));
	session_set_state(s, SESSION_AUTH_WAIT);
}

static void
session_auth_failed(struct session *s, const char *keydesc, const char *why)
{
	const struct config *cfg = session_cfg(s);
	bool invalid = s->ses_name.np_user[0] == '\0' ||
	    (s->ses_keys != NULL && s->ses_keys->ak_count == 0);
	enum log_level level;
	char esc[128], msg[160];

	s->ses_auth_failures++;
	metrics_add(METRIC_AUTH_PUBKEY_FAILED, 1);
	admission_auth_failed(s->ses_worker->wk_server->srv_admission,
	    s->ses_addr);
	/* sshd raises this line to INFO for invalid users and once half the
	 * allowed tries are used; fail2ban's sshd filter reads it. */
	level = (invalid ||
	    s->ses_auth_failures >= cfg->limits.max_auth_tries / 2) ?
	    LOG_LEVEL_INFO : LOG_LEVEL_VERBOSE;
	log_msg(level, "Failed publickey for %s%s from %s port %u ssh2%s%s%s",
	    invalid ? "invalid user " : "",
	    log_escape(esc, sizeof(esc), s->ses_name.np_user[0] != '\0' ?
	    s->ses_name.np_user : s->ses_login, 100),
	    s->ses_addr, s->ses_port, keydesc != NULL ? ": " : "",
	    keydesc != NULL ? keydesc : "", why != NULL ? why : "");
	if (s->ses_auth_failures >= cfg->limits.max_auth_tries) {
		log_info("maximum authentication attempts exceeded for %s%s "
		    "from %s port %u ssh2 [preauth]",
		    invalid ? "invalid user " : "", esc, s->ses_addr,
		    s->ses_port);
		snprintf(msg, sizeof(msg), "Too many authentication failures");
		session_mark_close(s, msg, "too many authentication failures");
	}
}

static void
session_describe_key(ssh_key key, char *buf, size_t len)
{
	unsigned char *hash = NULL;
	size_t hlen = 0;
	char *fp;
	const char *type;

	type = ssh_key_type_to_char(ssh_key_type(key));
	if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash,
	    &hlen) != 0) {
		snprintf(buf, len, "%s", type != NULL ? type : "unknown");
		return;
	}
	fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
	/* OpenSSH prints the type upper-case without "ssh-": ED25519, RSA. */
	if (type != NULL && strncmp(type, "ssh-", 4) == 0)
		type += 4;
	snprintf(buf, len, "%s %s", type != NULL ? type : "unknown",
	    fp != NULL ? fp : "?");
	for (char *p = buf; *p != '\0' && *p != ' '; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	ssh_string_free_char(fp);
	ssh_clean_pubkey_hash(&hash);
}

/* libssh callback: "none" is the probe most clients start with.  It tells
 * us the user early, so their keys can be fetched before the real try. */
static int
session_on_auth_none(ssh_session ssh, const char *login, void *arg)
{
	struct session *s = arg;
	struct authkeys *keys = NULL;
	enum jg_err rc;

	if (!session_auth_begin(s, login) || s->ses_state == SESSION_CLOSING)
		return SSH_AUTH_DENIED;
	rc = keystore_get(server_keystore(s->ses_worker->wk_server),
	    s->ses_name.np_user, &keys, session_keys_ready, s->ses_worker);
	if (rc == JG_ERR_AGAIN)
		session_wait_for_keys(s);
	authkeys_unref(keys);
	return SSH_AUTH_DENIED;
}

static int
session_on_auth_pubkey(ssh_session ssh, const char *login,
    struct ssh_key_struct *pubkey, char signature_state, void *arg)
{
	struct session *s = arg;
	struct server *srv = s->ses_worker->wk_server;
	struct authkeys *keys = NULL;
	const struct authkeys_entry *entry = NULL;
	char keydesc[128], why[256], who[128], umsg[300];
	enum jg_err rc;

	session_describe_key(pubkey, keydesc, sizeof(keydesc));
	if (!session_auth_begin(s, login)) {
		if (s->ses_state != SESSION_CLOSING)
			session_auth_failed(s, keydesc, NULL);
		return SSH_AUTH_DENIED;
	}
	if (s->ses_state == SESSION_CLOSING)
		return SSH_AUTH_DENIED;
	rc = keystore_get(server_keystore(srv), s->ses_name.np_user, &keys,
	    session_keys_ready, s->ses_worker);
	if (rc == JG_ERR_AGAIN) {
		/*
		 * libssh 0.10 must answer now.  Clients that probe with
		 * "none" first (OpenSSH, PuTTY, dropbear) never get here
		 * with a cold cache; others are refused this once and find
		 * the keys loaded on their next try.
		 */
		session_wait_for_keys(s);
		return SSH_AUTH_DENIED;
	}
	if (rc != JG_OK) {
		/* Our fault, not the client's: no "Failed publickey" line for
		 * fail2ban, no penalty; the reason is logged. */
		log_error("%s: key lookup failed: %s; refusing this attempt",
		    session_who(s, who, sizeof(who)), jg_strerror(rc));
		return SSH_AUTH_DENIED;
	}
	authkeys_unref(s->ses_keys);
	s->ses_keys = keys;
	if (keys->ak_count == 0 && !s->ses_user_logged) {
		log_info("Invalid user %s from %s port %u", s->ses_name.np_user,
		    s->ses_addr, s->ses_port);
		s->ses_user_logged = true;
	}
	why[0] = '\0';
	rc = authkeys_match(keys, pubkey, s->ses_addr, time(NULL), &entry,
	    why, sizeof(why));
	if (rc == JG_ERR_DENIED)
		log_info("%s: key %s refused: %s",
		    session_who(s, who, sizeof(who)), keydesc, why);
	if (rc != JG_OK || signature_state == SSH_PUBLICKEY_STATE_WRONG ||
	    signature_state == SSH_PUBLICKEY_STATE_ERROR) {
		session_auth_failed(s, keydesc, NULL);
		return SSH_AUTH_DENIED;
	}
	if (signature_state == SSH_PUBLICKEY_STATE_NONE)
		return SSH_AUTH_SUCCESS;	/* the key would do: PK_OK */

	/* A valid signature by a listed key: the user is who they say. */
	rc = admission_session_begin(srv->srv_admission, s->ses_name.np_user,
	    why, sizeof(why));
	if (rc != JG_OK) {
		snprintf(umsg, sizeof(umsg), "jumpgate: %s", why);
		log_info("refused session for %s from %s port %u: %s",
		    s->ses_name.np_user, s->ses_addr, s->ses_port, why);
		session_mark_close(s, umsg, "%s", why);
		return SSH_AUTH_DENIED;
	}
	s->ses_counted_session = true;
	admission_auth_succeeded(srv->srv_admission, s->ses_addr);
	if (s->ses_counted_startup) {
		admission_startup_done(srv->srv_admission, s->ses_addr);
		s->ses_counted_startup = false;
	}
	s->ses_key = entry;
	snprintf(s->ses_key_desc, sizeof(s->ses_key_desc), "%s", keydesc);
	s->ses_admin = session_is_admin(s);
	log_info("Accepted publickey for %s from %s port %u ssh2: %s",
	    s->ses_name.np_user, s->ses_addr, s->ses_port, keydesc);
	metrics_add(METRIC_AUTH_PUBKEY_ACCEPTED, 1);
	metrics_handshake_ms(worker_now_ms() - s->ses_started_ms);
	session_set_state(s, SESSION_OPEN);
	return SSH_AUTH_SUCCESS;
}

static struct gwchan *
session_gwchan_find(struct session *s, ssh_channel ch)
{
	size_t i;

	for (i = 0; i < SESSION_GWCHAN_MAX; i++)
		if (s->ses_gwchans[i].gc_channel == ch && ch != NULL)
			return &s->ses_gwchans[i];
	return NULL;
}

static int
session_open_gateway_channel(struct session *s, ssh_message msg)
{
	size_t i;

	for (i = 0; i < SESSION_GWCHAN_MAX; i++) {
		if (s->ses_gwchans[i].gc_channel == NULL) {
			s->ses_gwchans[i].gc_channel =
			    ssh_message_channel_request_open_reply_accept(msg);
			return s->ses_gwchans[i].gc_channel == NULL ? 1 : 0;
		}
	}
	return 1;
}

static int
session_on_channel_request(struct session *s, ssh_message msg)
{
	struct gwchan *gc;
	const char *cmd;

	gc = session_gwchan_find(s, ssh_message_channel_request_channel(msg));
	if (gc == NULL)
		return 1;
	switch (ssh_message_subtype(msg)) {
	case SSH_CHANNEL_REQUEST_PTY:
		gc->gc_pty = true;
		break;
	case SSH_CHANNEL_REQUEST_ENV:
	case SSH_CHANNEL_REQUEST_WINDOW_CHANGE:
		break;
	case SSH_CHANNEL_REQUEST_EXEC:
		cmd = ssh_message_channel_request_command(msg);
		free(gc->gc_command);
		gc->gc_command = cmd != NULL ? strndup(cmd, 1024) : NULL;
		gc->gc_ready = true;
		break;
	case SSH_CHANNEL_REQUEST_SHELL:
		gc->gc_ready = true;
		break;
	default:
		return 1;
	}
	ssh_message_channel_request_reply_success(msg);
	return 0;
}

/*
 * Public-key requests come through the message callback rather than
 * libssh's auth_pubkey_function, which always sends a reply: a request
 * that ends the session (the last allowed failure, the session limit)
 * must get no USERAUTH_FAILURE, only the DISCONNECT with the reason, as
 * from sshd.  A client that reads "failure" tries its next key or gives
 * up without ever reading why.
 */
static int
session_on_auth_pubkey_message(struct session *s, ssh_message msg)
{
	ssh_key key;
	int state, rc;

	/* The message API is the only one that lets us withhold a reply;
	 * libssh 0.10 marks its key getters deprecated for that reason. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	key = ssh_message_auth_pubkey(msg);
	state = ssh_message_auth_publickey_state(msg);
#pragma GCC diagnostic pop
	if (key == NULL)
		return 1;
	rc = session_on_auth_pubkey(s->ses_ssh, ssh_message_auth_user(msg),
	    key, (char)state, s);
	if (s->ses_state == SESSION_CLOSING)
		return 0;	/* the DISCONNECT is the answer */
	if (rc == SSH_AUTH_SUCCESS) {
		if (state == SSH_PUBLICKEY_STATE_NONE)
			ssh_message_auth_reply_pk_ok_simple(msg);
		else
			ssh_message_auth_reply_success(msg, 0);
		return 0;
	}
	ssh_message_auth_set_methods(msg, SSH_AUTH_METHOD_PUBLICKEY);
	ssh_message_reply_default(msg);
	return 0;
}

/* libssh callback for everything the server callbacks do not take. */
static int
session_on_message(ssh_session ssh, ssh_message msg, void *arg)
{
	struct session *s = arg;
	const char *svc;
	char who[128];

	if (s->ses_state == SESSION_CLOSING)
		return ssh_message_type(msg) == SSH_REQUEST_AUTH ? 0 : 1;
	switch (ssh_message_type(msg)) {
	case SSH_REQUEST_SERVICE:
		if (s->ses_state == SESSION_KEX)
			session_set_state(s, SESSION_AUTH);
		svc = ssh_message_service_service(msg);
		if (svc != NULL && (strcmp(svc, "ssh-userauth") == 0 ||
		    strcmp(svc, "ssh-connection") == 0)) {
			ssh_message_service_reply_success(msg);
			return 0;
		}
		return 1;
	case SSH_REQUEST_AUTH:
		if (ssh_message_subtype(msg) == SSH_AUTH_METHOD_PUBLICKEY)
			return session_on_auth_pubkey_message(s, msg);
		/* Other methods: password, keyboard-interactive, ... */
		ssh_message_auth_set_methods(msg, SSH_AUTH_METHOD_PUBLICKEY);
		return 1;
	case SSH_REQUEST_CHANNEL_OPEN:
		if (s->ses_state != SESSION_OPEN)
			return 1;
		switch (ssh_message_subtype(msg)) {
		case SSH_CHANNEL_DIRECT_TCPIP:
			s->ses_mode = "jump";
			return relay_jump_open(s, msg);
		case SSH_CHANNEL_SESSION:
			if (s->ses_mode == NULL)
				s->ses_mode = "gateway";
			return session_open_gateway_channel(s, msg);
		case SSH_CHANNEL_X11:
		case SSH_CHANNEL_FORWARDED_TCPIP:
		case SSH_CHANNEL_AUTH_AGENT:
		case SSH_CHANNEL_UNKNOWN:
			log_info("%s: refused channel of type %d",
			    session_who(s, who, sizeof(who)),
			    ssh_message_subtype(msg));
			return 1;
		}
		return 1;
	case SSH_REQUEST_CHANNEL:
		return session_on_channel_request(s, msg);
	case SSH_REQUEST_GLOBAL:
		/* tcpip-forward (ssh -R) has no meaning in jump mode. */
		return 1;
	default:
		return 1;
	}
}

static const struct ssh_server_callbacks_struct session_server_cb = {
	.auth_none_function = session_on_auth_none,
};

static struct session *session_begin_ssh(struct session *s);

/* True when addr may send a PROXY header on cl. */
static bool
session_proxy_trusted(const struct config_listen *cl, const char *addr)
{
	size_t i;

	for (i = 0; i < cl->nproxy_trusted; i++)
		if (authkeys_match_from(cl->proxy_trusted[i], addr))
			return true;
	return false;
}

struct session *
session_start(struct worker *w, int fd, const struct sockaddr_storage *peer,
    socklen_t peerlen, const struct config_listen *cl)
{
	struct server *srv = w->wk_server;
	const struct config *cfg = server_config(srv);
	struct sockaddr_storage local;
	socklen_t locallen = sizeof(local);
	struct session *s;
	bool proxied = cl != NULL && cl->proxy_protocol;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		char addr[SESSION_ADDR_MAX];

		log_error("accept from fd %d: out of memory", fd);
		close(fd);
		if (!proxied) {
			listener_addr_text(peer, addr, sizeof(addr), NULL);
			admission_startup_done(srv->srv_admission, addr);
		}
		return NULL;
	}
	s->ses_id = atomic_fetch_add(&srv->srv_next_session_id, 1) + 1;
	s->ses_worker = w;
	s->ses_fd = fd;
	/* Behind a load balancer, admission waits for the client's real
	 * address in the PROXY header. */
	s->ses_counted_startup = !proxied;
	s->ses_handle.wh_kind = WK_SESSION;
	s->ses_handle.wh_ptr = s;
	TAILQ_INIT(&s->ses_relays);
	s->ses_started_ms = s->ses_last_active_ms = worker_now_ms();
	s->ses_grace_deadline_ms = s->ses_started_ms +
	    (uint64_t)cfg->limits.login_grace_time_s * 1000;
	listener_addr_text(peer, s->ses_addr, sizeof(s->ses_addr),
	    &s->ses_port);
	(void)peerlen;
	if (getsockname(fd, (struct sockaddr *)&local, &locallen) == 0)
		listener_addr_text(&local, s->ses_laddr, sizeof(s->ses_laddr),
		    &s->ses_lport);
	TAILQ_INSERT_TAIL(&w->wk_sessions, s, ses_entry);
	w->wk_nsessions++;
	log_verbose("Connection from %s port %u on %s port %u", s->ses_addr,
	    s->ses_port, s->ses_laddr, s->ses_lport);
	if (proxied) {
		s->ses_proxy = true;	/* the socket is ours until libssh's */
		if (!session_proxy_trusted(cl, s->ses_addr)) {
			log_info("refused connection from %s port %u on %s "
			    "port %u: not in proxy_trusted, so it may not send "
			    "a PROXY header", s->ses_addr, s->ses_port,
			    s->ses_laddr, s->ses_lport);
			session_close(s, "untrusted PROXY sender");
			return NULL;
		}
		s->ses_events = EPOLLIN;
		if (worker_watch(w, fd, EPOLLIN, &s->ses_handle) == -1) {
			session_close(s, "epoll failed");
			return NULL;
		}
		return s;
	}
	return session_begin_ssh(s);
}

/*
 * Reads the PROXY header a byte range at a time, never past its end: the
 * bytes after it are the client's SSH identification, libssh's to read.
 */
static void
session_read_proxy(struct session *s)
{
	struct server *srv = s->ses_worker->wk_server;
	struct proxyproto_result pp;
	char err[256], why[256];
	size_t need;
	ssize_t n;
	enum jg_err rc;

	for (;;) {
		rc = proxyproto_parse(s->ses_proxy_buf, s->ses_proxy_len, &need,
		    &pp, err, sizeof(err));
		if (rc == JG_OK)
			break;
		if (rc != JG_ERR_AGAIN ||
		    s->ses_proxy_len + need > sizeof(s->ses_proxy_buf)) {
			log_info("bad PROXY header from %s port %u: %s",
			    s->ses_addr, s->ses_port, err);
			session_close(s, "bad PROXY header");
			return;
		}
		n = read(s->ses_fd, s->ses_proxy_buf + s->ses_proxy_len, need);
		if (n > 0) {
			s->ses_proxy_len += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR))
			return;
		session_close(s, "client closed");
		return;
	}
	if (!pp.pp_local) {
		log_verbose("PROXY v%d header from %s port %u: client %s "
		    "port %u", pp.pp_version, s->ses_addr, s->ses_port,
		    pp.pp_addr, pp.pp_port);
		snprintf(s->ses_addr, sizeof(s->ses_addr), "%s", pp.pp_addr);
		s->ses_port = pp.pp_port;
	}
	s->ses_proxy = false;
	if (admission_startup_begin(srv->srv_admission, s->ses_addr, why,
	    sizeof(why)) != JG_OK) {
		log_info("drop connection from [%s]:%u (via PROXY) %s",
		    s->ses_addr, s->ses_port, why);
		session_close(s, why);
		return;
	}
	s->ses_counted_startup = true;
	/* session_begin_ssh registers the fd again, for libssh. */
	worker_unwatch(s->ses_worker, s->ses_fd);
	(void)session_begin_ssh(s);
}

/* Hands the socket to libssh and starts key exchange. */
static struct session *
session_begin_ssh(struct session *s)
{
	struct worker *w = s->ses_worker;
	struct server *srv = w->wk_server;
	int fd = s->ses_fd;
	char who[128];
	int rc;

	if ((s->ses_ssh = ssh_new()) == NULL) {
		close(fd);
		s->ses_fd = -1;
		session_close(s, "out of memory");
		return NULL;
	}
	pthread_mutex_lock(&srv->srv_bind_lock);
	rc = ssh_bind_accept_fd(srv->srv_bind, s->ses_ssh, fd);
	pthread_mutex_unlock(&srv->srv_bind_lock);
	if (rc != SSH_OK) {
		log_error("%s: cannot start ssh: %s",
		    session_who(s, who, sizeof(who)),
		    ssh_get_error(srv->srv_bind));
		/* libssh owns the fd only once accept_fd succeeded. */
		if (ssh_get_fd(s->ses_ssh) != fd)
			close(fd);
		s->ses_fd = -1;
		session_close(s, "ssh setup failed");
		return NULL;
	}
	ssh_set_blocking(s->ses_ssh, 0);
	ssh_set_counters(s->ses_ssh, &s->ses_counter, NULL);
	ssh_set_auth_methods(s->ses_ssh, SSH_AUTH_METHOD_PUBLICKEY);
	/* Each session has its own copy: userdata differs. */
	s->ses_server_cb = session_server_cb;
	ssh_callbacks_init(&s->ses_server_cb);
	s->ses_server_cb.userdata = s;
	ssh_set_server_callbacks(s->ses_ssh, &s->ses_server_cb);
	ssh_set_message_callback(s->ses_ssh, session_on_message, s);
	rc = ssh_handle_key_exchange(s->ses_ssh);
	if (rc == SSH_ERROR) {
		log_verbose("%s: key exchange failed: %s",
		    session_who(s, who, sizeof(who)),
		    ssh_get_error(s->ses_ssh));
		session_close(s, "key exchange failed");
		return NULL;
	}
	if ((s->ses_event = ssh_event_new()) == NULL ||
	    ssh_event_add_session(s->ses_event, s->ses_ssh) != SSH_OK) {
		session_close(s, "cannot create ssh event");
		return NULL;
	}
	s->ses_events = EPOLLIN;
	if (worker_watch(w, fd, s->ses_events, &s->ses_handle) == -1) {
		log_error("%s: epoll: %s", session_who(s, who, sizeof(who)),
		    strerror(errno));
		session_close(s, "epoll failed");
		return NULL;
	}
	session_refresh(s);
	return s;
}

/* True while libssh still has our socket open. */
static bool
session_fd_alive(const struct session *s)
{
	return s->ses_fd != -1 && s->ses_ssh != NULL &&
	    ssh_get_fd(s->ses_ssh) == s->ses_fd;
}

/*
 * libssh reads at most SESSION_LIBSSH_READ bytes per poll.  When a poll
 * filled that, more is probably waiting: poll again at once rather than
 * going back through epoll_wait for every 4 KiB of an upload.  Bounded,
 * so one busy session cannot starve the others on this worker.
 */
#define SESSION_LIBSSH_READ	4096
#define SESSION_POLLS_PER_WAKE	16

static void
session_poll_input(struct session *s)
{
	uint64_t before;
	int i;

	for (i = 0; i < SESSION_POLLS_PER_WAKE; i++) {
		before = s->ses_counter.in_bytes;
		(void)ssh_event_dopoll(s->ses_event, 0);
		if (s->ses_state == SESSION_CLOSING ||
		    s->ses_state == SESSION_AUTH_WAIT || !session_fd_alive(s) ||
		    s->ses_counter.in_bytes - before < SESSION_LIBSSH_READ)
			break;
	}
}

void
session_on_io(struct session *s, uint32_t events)
{
	s->ses_last_active_ms = worker_now_ms();
	if (s->ses_proxy) {
		session_read_proxy(s);
		return;
	}
	if (s->ses_state == SESSION_AUTH_WAIT) {
		/*
		 * While the keys load, libssh must not poll at all: a poll
		 * reads and answers the client's public-key request before
		 * its keys are known, and whether our reply to "none" already
		 * left cannot be told from outside libssh.  A reply still
		 * queued goes out with the poll that resumes the session, so
		 * the client waits for the keys either way.  Only an error or
		 * hang-up is passed on, so a dead client is noticed.
		 */
		if (events & (EPOLLERR | EPOLLHUP)) {
			(void)ssh_event_dopoll(s->ses_event, 0);
			session_refresh(s);
		}
		return;
	}
	session_poll_input(s);
	session_refresh(s);
}

/* A file's text for the banner or the motd, at most 4 KiB; NULL when
 * unset or unreadable (logged: a missing motd must not stop a login). */
static char *
session_read_small_file(const char *path)
{
	char *buf;
	size_t n;
	FILE *fp;

	if (path == NULL)
		return NULL;
	if ((fp = fopen(path, "re")) == NULL) {
		log_warn("%s: cannot read: %s", path, strerror(errno));
		return NULL;
	}
	if ((buf = malloc(4096 + 1)) == NULL) {
		fclose(fp);
		return NULL;
	}
	n = fread(buf, 1, 4096, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

/* The login user inside pods: upstream.user with %u replaced. */
static void
session_pod_user(const struct session *s, char *buf, size_t len)
{
	const char *t = session_cfg(s)->upstream.user;
	size_t o = 0;

	for (; *t != '\0' && o + 1 < len; t++) {
		if (t[0] == '%' && t[1] == 'u') {
			o += (size_t)snprintf(buf + o, len - o, "%s",
			    s->ses_name.np_user);
			if (o >= len)
				o = len - 1;
			t++;
		} else
			buf[o++] = *t;
	}
	buf[o] = '\0';
}

/* On a terminal a line ends in CR LF. */
static char *
session_crlf(char *text, size_t *len)
{
	size_t i, o, nl = 0;
	char *out;

	for (i = 0; i < *len; i++)
		nl += text[i] == '\n';
	if (nl == 0 || (out = malloc(*len + nl + 1)) == NULL)
		return text;
	for (i = 0, o = 0; i < *len; i++) {
		if (text[i] == '\n')
			out[o++] = '\r';
		out[o++] = text[i];
	}
	out[o] = '\0';
	free(text);
	*len = o;
	return out;
}

static void
session_gateway_answer(struct session *s, struct gwchan *gc)
{
	const struct config *cfg = session_cfg(s);
	struct server *srv = s->ses_worker->wk_server;
	struct selfservice_request req;
	char pod_user[NAME_USER_MAX * 4 + 1], who[128];
	char *motd = NULL;

	memset(&req, 0, sizeof(req));
	session_pod_user(s, pod_user, sizeof(pod_user));
	req.sq_user = s->ses_name.np_user;
	req.sq_command = gc->gc_command;
	req.sq_gw_host = cfg->gateway.host != NULL ? cfg->gateway.host :
	    s->ses_laddr;
	req.sq_gw_port = cfg->gateway.port != 0 ?
	    (uint16_t)cfg->gateway.port : s->ses_lport;
	req.sq_pod_user = pod_user;
	req.sq_snap = route_table_acquire(srv->srv_routes);
	req.sq_stale_ms = route_table_staleness_ms(srv->srv_routes,
	    worker_now_ms());
	if (gc->gc_command == NULL)
		req.sq_motd = motd = session_read_small_file(
		    cfg->gateway.motd_file);
	req.sq_upstream = &cfg->upstream;
	if (selfservice_answer(&req, &gc->gc_reply) != JG_OK) {
		log_error("%s: cannot build the gateway's answer: out of "
		    "memory", session_who(s, who, sizeof(who)));
		gc->gc_reply.sr_status = 1;
	}
	route_snapshot_release((struct route_snapshot *)req.sq_snap);
	free(motd);
	if (gc->gc_pty && gc->gc_reply.sr_out != NULL)
		gc->gc_reply.sr_out = session_crlf(gc->gc_reply.sr_out,
		    &gc->gc_reply.sr_outlen);
	if (gc->gc_pty && gc->gc_reply.sr_err != NULL)
		gc->gc_reply.sr_err = session_crlf(gc->gc_reply.sr_err,
		    &gc->gc_reply.sr_errlen);
	log_verbose("%s: gateway command '%s' answered, status %d",
	    session_who(s, who, sizeof(who)),
	    gc->gc_command != NULL ? gc->gc_command : "(shell)",
	    gc->gc_reply.sr_status);
	gc->gc_answered = true;
	metrics_add(METRIC_SESSIONS_GATEWAY, 1);
}

/* Sends what the channel window allows; the rest on later rounds. */
static void
session_gateway_send(struct gwchan *gc)
{
	struct selfservice_reply *r = &gc->gc_reply;
	uint32_t win;
	size_t n;
	int w;

	while (gc->gc_out_off < r->sr_outlen &&
	    (win = ssh_channel_window_size(gc->gc_channel)) > 0) {
		n = r->sr_outlen - gc->gc_out_off;
		if (n > win)
			n = win;
		w = ssh_channel_write(gc->gc_channel,
		    r->sr_out + gc->gc_out_off, (uint32_t)n);
		if (w <= 0)
			return;
		gc->gc_out_off += (size_t)w;
	}
	while (gc->gc_out_off >= r->sr_outlen &&
	    gc->gc_err_off < r->sr_errlen &&
	    (win = ssh_channel_window_size(gc->gc_channel)) > 0) {
		n = r->sr_errlen - gc->gc_err_off;
		if (n > win)
			n = win;
		w = ssh_channel_write_stderr(gc->gc_channel,
		    r->sr_err + gc->gc_err_off, (uint32_t)n);
		if (w <= 0)
			return;
		gc->gc_err_off += (size_t)w;
	}
	if (gc->gc_out_off < r->sr_outlen || gc->gc_err_off < r->sr_errlen)
		return;
	(void)ssh_channel_request_send_exit_status(gc->gc_channel,
	    r->sr_status);
	(void)ssh_channel_send_eof(gc->gc_channel);
	(void)ssh_channel_close(gc->gc_channel);
	gc->gc_done = true;
}

static void
session_update_events(struct session *s)
{
	uint32_t want = 0;
	char who[128];

	if (!session_fd_alive(s))
		return;
	/* AUTH_WAIT: nothing; see session_on_io. */
	if (s->ses_state != SESSION_AUTH_WAIT) {
		want |= EPOLLIN;
		if (ssh_get_poll_flags(s->ses_ssh) & SSH_WRITE_PENDING)
			want |= EPOLLOUT;
	}
	if (want == s->ses_events)
		return;
	if (worker_rewatch(s->ses_worker, s->ses_fd, want,
	    &s->ses_handle) == -1) {
		log_error("%s: epoll: %s", session_who(s, who, sizeof(who)),
		    strerror(errno));
		return;
	}
	s->ses_events = want;
}

/*
 * A USER+JOB login goes to direct mode, which runs on a thread of its own:
 * the session leaves this worker (epoll, list, callbacks) and everything
 * it owns moves into the handoff, including its admission claim.
 */
static void
session_handoff_direct(struct session *s)
{
	static struct ssh_server_callbacks_struct none_cb;
	struct worker *w = s->ses_worker;
	struct server *srv = w->wk_server;
	struct direct_handoff h;

	memset(&h, 0, sizeof(h));
	if (session_fd_alive(s))
		worker_unwatch(w, s->ses_fd);
	ssh_event_remove_session(s->ses_event, s->ses_ssh);
	ssh_event_free(s->ses_event);
	s->ses_event = NULL;
	/* Nothing of ours may be called back once the session has moved. */
	ssh_callbacks_init(&none_cb);
	ssh_set_server_callbacks(s->ses_ssh, &none_cb);
	ssh_set_message_callback(s->ses_ssh, NULL, NULL);
	ssh_set_counters(s->ses_ssh, NULL, NULL);

	h.dh_ssh = s->ses_ssh;
	h.dh_fd = s->ses_fd;
	h.dh_session_id = s->ses_id;
	h.dh_started_ms = s->ses_started_ms;
	h.dh_name = s->ses_name;
	snprintf(h.dh_addr, sizeof(h.dh_addr), "%s", s->ses_addr);
	h.dh_port = s->ses_port;
	snprintf(h.dh_laddr, sizeof(h.dh_laddr), "%s", s->ses_laddr);
	h.dh_lport = s->ses_lport;
	h.dh_admin = s->ses_admin;
	h.dh_keys = s->ses_keys;
	h.dh_key = s->ses_key;
	snprintf(h.dh_key_desc, sizeof(h.dh_key_desc), "%s", s->ses_key_desc);
	h.dh_cfg = server_config(srv);
	h.dh_routes = srv->srv_routes;
	h.dh_admission = srv->srv_admission;

	s->ses_ssh = NULL;
	s->ses_fd = -1;
	s->ses_keys = NULL;
	s->ses_key = NULL;
	s->ses_counted_session = false;
	s->ses_dead = true;
	TAILQ_REMOVE(&w->wk_sessions, s, ses_entry);
	w->wk_nsessions--;
	TAILQ_INSERT_TAIL(&w->wk_graveyard, s, ses_entry);
	metrics_add(METRIC_SESSIONS_DIRECT, 1);
	relay_direct_start(&h);
}

void
session_refresh(struct session *s)
{
	struct relay *r, *rnext;
	size_t i;
	int status;

	if (s->ses_dead)
		return;
	if (s->ses_state == SESSION_CLOSING) {
		session_close(s, s->ses_reason);
		return;
	}
	status = ssh_get_status(s->ses_ssh);
	if (!session_fd_alive(s) || (status & (SSH_CLOSED | SSH_CLOSED_ERROR))) {
		session_close(s, "client closed");
		return;
	}
	if (s->ses_state == SESSION_OPEN && s->ses_name.np_job[0] != '\0') {
		session_handoff_direct(s);
		return;
	}
	for (r = TAILQ_FIRST(&s->ses_relays); r != NULL; r = rnext) {
		rnext = TAILQ_NEXT(r, rl_entry);
		relay_jump_after_dispatch(r);
	}
	for (i = 0; i < SESSION_GWCHAN_MAX; i++) {
		struct gwchan *gc = &s->ses_gwchans[i];

		if (gc->gc_channel == NULL || !gc->gc_ready || gc->gc_done)
			continue;
		if (!gc->gc_answered)
			session_gateway_answer(s, gc);
		session_gateway_send(gc);
	}
	/* Writes above may have queued output or hit an error. */
	if (!session_fd_alive(s)) {
		session_close(s, "client closed");
		return;
	}
	session_update_events(s);
}

void
session_resume_if_keys(struct session *s)
{
	struct authkeys *keys = NULL;
	enum jg_err rc;

	rc = keystore_get(server_keystore(s->ses_worker->wk_server),
	    s->ses_name.np_user, &keys, session_keys_ready, s->ses_worker);
	if (rc == JG_ERR_AGAIN)
		return;
	authkeys_unref(keys);
	session_set_state(s, SESSION_AUTH);
	/* Requests may already wait in the socket: read them now. */
	(void)ssh_event_dopoll(s->ses_event, 0);
	session_refresh(s);
}

void
session_check_deadlines(struct session *s, uint64_t now)
{
	const struct config *cfg = session_cfg(s);
	struct relay *r, *rnext;
	bool acted = false;

	if (s->ses_dead)
		return;
	if (s->ses_state != SESSION_OPEN && now >= s->ses_grace_deadline_ms) {
		log_info("Timeout before authentication for %s port %u",
		    s->ses_addr, s->ses_port);
		snprintf(s->ses_disconnect_msg, sizeof(s->ses_disconnect_msg),
		    "jumpgate: login grace time exceeded (%u s)",
		    cfg->limits.login_grace_time_s);
		session_close(s, "login grace time exceeded");
		return;
	}
	if (cfg->limits.idle_timeout_s > 0 &&
	    now - s->ses_last_active_ms >=
	    (uint64_t)cfg->limits.idle_timeout_s * 1000) {
		snprintf(s->ses_disconnect_msg, sizeof(s->ses_disconnect_msg),
		    "jumpgate: idle for %u s", cfg->limits.idle_timeout_s);
		session_close(s, "idle timeout");
		return;
	}
	for (r = TAILQ_FIRST(&s->ses_relays); r != NULL; r = rnext) {
		rnext = TAILQ_NEXT(r, rl_entry);
		acted |= relay_jump_check_deadline(r, now);
	}
	/* Most sweeps find nothing due: an idle session costs no libssh
	 * call here, which matters with ten thousand of them. */
	if (acted && !s->ses_dead)
		session_refresh(s);
}

/*
 * libssh 0.10 writes a packet at once only right after its poll saw the
 * socket writable; otherwise it queues it for the next poll.
 * ssh_disconnect() queues its DISCONNECT and then closes the socket, so
 * the message would be lost.  A few zero-timeout polls first write what
 * is queued and leave the socket marked writable, so the DISCONNECT goes
 * out at once.  Bounded: a client that reads nothing loses the message,
 * not our time.
 */
static void
session_flush_before_disconnect(struct session *s)
{
	int i;

	/*
	 * Write what is queued, then poll once more to see the socket
	 * writable.  No more than that: each poll may also read and answer
	 * the client's next request (a further auth failure would then
	 * reach the client before the reason for closing does).
	 */
	for (i = 0; i < 3 && s->ses_event != NULL && session_fd_alive(s) &&
	    (ssh_get_poll_flags(s->ses_ssh) & SSH_WRITE_PENDING); i++)
		(void)ssh_event_dopoll(s->ses_event, 0);
	if (s->ses_event != NULL && session_fd_alive(s))
		(void)ssh_event_dopoll(s->ses_event, 0);
}

void
session_close(struct session *s, const char *reason)
{
	struct worker *w = s->ses_worker;
	struct server *srv = w->wk_server;
	struct audit_record ar;
	struct relay *r;
	char esc[128];
	size_t i;
	int linger_fd = -1;
	bool alive, fd_ours;

	if (s->ses_dead)
		return;
	s->ses_dead = true;
	/* Before libssh has the socket (PROXY header stage) it is ours to
	 * close; after, libssh closes it in ssh_free(). */
	fd_ours = s->ses_ssh == NULL && s->ses_fd != -1;
	session_set_state(s, SESSION_CLOSING);

	s->ses_quiet_channels = session_fd_alive(s) &&
	    s->ses_disconnect_msg[0] != '\0';
	/* Each close moves the relay to the worker's graveyard. */
	while ((r = TAILQ_FIRST(&s->ses_relays)) != NULL)
		relay_jump_close(r, reason);
	for (i = 0; i < SESSION_GWCHAN_MAX; i++) {
		if (s->ses_gwchans[i].gc_channel != NULL &&
		    !s->ses_quiet_channels)
			ssh_channel_free(s->ses_gwchans[i].gc_channel);
		free(s->ses_gwchans[i].gc_command);
		selfservice_reply_free(&s->ses_gwchans[i].gc_reply);
		memset(&s->ses_gwchans[i], 0, sizeof(s->ses_gwchans[i]));
	}

	if (s->ses_counted_session) {
		/* Release the slot first, so that whoever reads this line
		 * in the log can rely on the slot being free again. */
		admission_session_end(srv->srv_admission, s->ses_name.np_user);
		log_info("Disconnected from user %s %s port %u",
		    s->ses_name.np_user, s->ses_addr, s->ses_port);
		memset(&ar, 0, sizeof(ar));
		ar.ar_session_id = s->ses_id;
		ar.ar_user = s->ses_name.np_user;
		ar.ar_job = s->ses_audit_job;
		ar.ar_pod = s->ses_audit_pod;
		ar.ar_endpoint = s->ses_audit_endpoint;
		ar.ar_mode = s->ses_mode;
		ar.ar_client_addr = s->ses_addr;
		ar.ar_client_port = s->ses_port;
		ar.ar_bytes_up = s->ses_bytes_up;
		ar.ar_bytes_down = s->ses_bytes_down;
		ar.ar_duration_ms = worker_now_ms() - s->ses_started_ms;
		/* A jump whose pod ended first leaves the client nothing to
		 * do but go: the pod's end is the reason worth auditing. */
		ar.ar_reason = strcmp(reason, "client closed") == 0 &&
		    s->ses_pod_end[0] != '\0' ? s->ses_pod_end : reason;
		audit_session_end(&ar);
		s->ses_counted_session = false;
	} else if (strcmp(reason, "client closed") == 0) {
		if (s->ses_login[0] != '\0')
			log_info("Connection closed by %s user %s %s port %u "
			    "[preauth]", s->ses_name.np_user[0] != '\0' &&
			    (s->ses_keys == NULL || s->ses_keys->ak_count > 0) ?
			    "authenticating" : "invalid",
			    log_escape(esc, sizeof(esc), s->ses_login, 100),
			    s->ses_addr, s->ses_port);
		else
			log_info("Connection closed by %s port %u [preauth]",
			    s->ses_addr, s->ses_port);
	} else {
		log_verbose("session %llu from %s port %u closed before "
		    "authentication: %s", (unsigned long long)s->ses_id,
		    s->ses_addr, s->ses_port, reason);
	}
	if (s->ses_counted_startup) {
		admission_startup_done(srv->srv_admission, s->ses_addr);
		s->ses_counted_startup = false;
	}

	/*
	 * Unregister before libssh closes the socket, and only if the fd is
	 * still libssh's: if libssh closed it already, the number may now
	 * belong to another connection.
	 */
	alive = session_fd_alive(s);
	if (alive)
		worker_unwatch(w, s->ses_fd);
	if (alive && s->ses_disconnect_msg[0] != '\0') {
		session_flush_before_disconnect(s);
		alive = session_fd_alive(s);
		/* Our own reference keeps the connection open after libssh
		 * closes its fd, so the client reads the message, not a
		 * reset. */
		if (alive && !atomic_load(&w->wk_stop))
			linger_fd = dup(s->ses_fd);
	}
	if (s->ses_event != NULL) {
		if (s->ses_ssh != NULL)
			ssh_event_remove_session(s->ses_event, s->ses_ssh);
		ssh_event_free(s->ses_event);
		s->ses_event = NULL;
	}
	if (s->ses_ssh != NULL) {
		if (alive) {
			if (s->ses_disconnect_msg[0] != '\0')
				ssh_session_set_disconnect_message(s->ses_ssh,
				    s->ses_disconnect_msg);
			ssh_disconnect(s->ses_ssh);
		}
		ssh_free(s->ses_ssh);
		s->ses_ssh = NULL;
	}
	if (linger_fd != -1)
		worker_linger(w, linger_fd);
	if (fd_ours) {
		worker_unwatch(w, s->ses_fd);
		close(s->ses_fd);
	}
	s->ses_fd = -1;
	authkeys_unref(s->ses_keys);
	s->ses_keys = NULL;
	s->ses_key = NULL;
	TAILQ_REMOVE(&w->wk_sessions, s, ses_entry);
	w->wk_nsessions--;
	TAILQ_INSERT_TAIL(&w->wk_graveyard, s, ses_entry);
}

void
session_free(struct session *s)
{
	if (s == NULL)
		return;
	free(s);
}
