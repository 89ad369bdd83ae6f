/*
 * session.h: one client SSH connection from accept to close: the libssh
 * session, its state machine, authentication, and the channels it opens.
 * Runs only on its worker's thread.  A session ends only in
 * session_close(), which logs the reason once, releases in reverse order
 * and moves the session to the worker's graveyard; libssh callbacks only
 * mark a session (session_mark_close) and the worker closes it after the
 * callback has returned.
 */
#ifndef JG_SESSION_H
#define JG_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <netinet/in.h>

#include <libssh/libssh.h>
#include <libssh/server.h>
#include <libssh/callbacks.h>

#include "authkeys.h"
#include "config.h"
#include "name.h"
#include "proxyproto.h"
#include "selfservice.h"
#include "worker.h"

enum session_state {
	SESSION_KEX = 0,	/* key exchange under way */
	SESSION_AUTH,		/* waiting for the client to authenticate */
	SESSION_AUTH_WAIT,	/* paused: the user's keys are being fetched */
	SESSION_OPEN,		/* authenticated; channels may be opened */
	SESSION_CLOSING,	/* marked; closed once the callback returns */
	SESSION_STATE_MAX
};

#define SESSION_ADDR_MAX	INET6_ADDRSTRLEN
#define SESSION_REASON_MAX	512
#define SESSION_POD_END_MAX	96	/* "pod connection lost: <errno text>" */
#define SESSION_LOGIN_MAX	(NAME_USER_MAX + NAME_JOB_MAX + NAME_POD_MAX + 3)

/* A session channel (shell/exec) answered by the gateway itself. */
struct gwchan {
	ssh_channel	 gc_channel;
	bool		 gc_ready;	/* shell/exec arrived: answer it */
	bool		 gc_answered;	/* gc_reply is built */
	bool		 gc_done;	/* sent whole; channel closed */
	char		*gc_command;	/* exec command, or NULL */
	bool		 gc_pty;
	struct selfservice_reply gc_reply;
	size_t		 gc_out_off;	/* sent so far, within the window */
	size_t		 gc_err_off;
};

#define SESSION_GWCHAN_MAX	4

struct session {
	TAILQ_ENTRY(session) ses_entry;
	uint64_t	 ses_id;
	struct worker	*ses_worker;
	ssh_session	 ses_ssh;
	ssh_event	 ses_event;
	struct ssh_server_callbacks_struct ses_server_cb;
	struct ssh_counter_struct ses_counter;	/* socket bytes, by libssh */
	int		 ses_fd;	/* our copy; libssh owns the socket */
	struct wk_handle ses_handle;
	uint32_t	 ses_events;	/* current epoll interest */
	enum session_state ses_state;
	bool		 ses_dead;	/* closed; awaiting free */
	bool		 ses_proxy;	/* reading the PROXY header */
	uint8_t		 ses_proxy_buf[PROXYPROTO_V2_MAX];
	size_t		 ses_proxy_len;
	bool		 ses_quiet_channels; /* close: leave channels to libssh */

	char		 ses_addr[SESSION_ADDR_MAX];
	uint16_t	 ses_port;
	char		 ses_laddr[SESSION_ADDR_MAX];
	uint16_t	 ses_lport;

	char		 ses_login[SESSION_LOGIN_MAX + 1]; /* as sent */
	struct name_parts ses_name;	/* user, job, pod of the login */
	bool		 ses_user_logged;	/* "Invalid user" said once */
	struct authkeys	*ses_keys;	/* after auth: the user's keys */
	const struct authkeys_entry *ses_key; /* the key that logged in */
	char		 ses_key_desc[128];	/* "ED25519 SHA256:..." */
	bool		 ses_admin;
	uint32_t	 ses_auth_failures;

	bool		 ses_counted_startup;
	bool		 ses_counted_session;
	uint64_t	 ses_started_ms;
	uint64_t	 ses_grace_deadline_ms;
	uint64_t	 ses_last_active_ms;

	/* Why the session is closing; the user sees ses_disconnect_msg. */
	char		 ses_reason[SESSION_REASON_MAX];
	char		 ses_disconnect_msg[SESSION_REASON_MAX];

	struct relay_list ses_relays;
	struct gwchan	 ses_gwchans[SESSION_GWCHAN_MAX];
	/* For the audit line. */
	uint64_t	 ses_bytes_up;
	uint64_t	 ses_bytes_down;
	char		 ses_audit_job[NAME_JOB_MAX + 1];
	char		 ses_audit_pod[2 * 254];
	char		 ses_audit_endpoint[SESSION_ADDR_MAX + 8];
	const char	*ses_mode;	/* "jump", "direct", "gateway" or NULL */
	/* The last jump's pod-side end, when the pod ended it first: the
	 * audit says that rather than "client closed". */
	char		 ses_pod_end[SESSION_POD_END_MAX];
};

/*
 * Takes ownership of fd (an accepted, non-blocking client socket) and
 * starts key exchange, or, when cl says a PROXY header comes first and the
 * peer is trusted to send one, reads that header first (then admission
 * and key exchange follow, with the client address it carries).  The startup slot taken by admission is owned by
 * the session from here on.  On failure the fd is closed, the slot given
 * back, the reason logged, and NULL returned.  Worker thread.
 */
struct session *session_start(struct worker *w, int fd,
	    const struct sockaddr_storage *peer, socklen_t peerlen,
	    const struct config_listen *cl);

/* The client socket is ready (events from epoll).  Worker thread. */
void	session_on_io(struct session *s, uint32_t events);

/* Acts on what the last dispatch decided (closes, relays, replies) and
 * refreshes the epoll interest.  Call after anything that may have run
 * libssh callbacks or queued output.  Worker thread. */
void	session_refresh(struct session *s);

/* A key fetch finished: a paused session may go on.  Worker thread. */
void	session_resume_if_keys(struct session *s);

/* Deadlines: login grace, idle timeout, relays' connect timeouts. */
void	session_check_deadlines(struct session *s, uint64_t now_ms);

/* Marks for close from inside a callback; reason is for the log and, when
 * user_msg is not NULL, the disconnect message the client prints. */
void	session_mark_close(struct session *s, const char *user_msg,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Closes now (not from inside a libssh callback). */
void	session_close(struct session *s, const char *reason);

/* Frees a closed session's memory (graveyard sweep). */
void	session_free(struct session *s);

/* "session 42 alice from 192.0.2.7 port 51234" for log lines. */
const char *session_who(const struct session *s, char *buf, size_t len);

#endif /* JG_SESSION_H */
