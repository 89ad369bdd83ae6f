/*
 * relay_direct.c: direct mode.  A USER+JOB login handed over by a worker
 * runs here on a thread of its own: jumpgate logs in to the job's pod with
 * the libssh client API and bridges every channel (sessions, port
 * forwarding both ways, agent forwarding) between the client's session and
 * the upstream one.  Owns both sessions, their event, the channel bridges
 * and the admission claim; the thread is the only one that touches them.
 *
 * libssh callbacks only record (queue a request, mark an EOF) or move data
 * up to the other side's window; direct_pump(), after each poll, does
 * everything else.  Channel opens and global requests must be answered
 * inside their callback, so those make their upstream round trip there.
 * A password login to the pod (upstream.auth "password") stops at the
 * pod's prompt, shown on the client's pty; the pump feeds it the user's
 * keys between polls (UP_PROMPT) and then goes on with the login.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>

#include "audit.h"
#include "direct_prompt.h"
#include "direct_upstream.h"
#include "log.h"
#include "metrics.h"
#include "relay_direct.h"
#include "userkey.h"

#define DIRECT_POLL_MS		200	/* longest sleep: stop flag, timers */
#define DIRECT_THREAD_STACK	(512 * 1024)
#define DIRECT_CHANNELS_MAX	64	/* bridges per client connection */
#define DIRECT_FORWARDS_MAX	16	/* ssh -R listeners per connection */
#define DIRECT_ENV_MAX		32	/* env requests kept per session */
#define DIRECT_ENV_LEN_MAX	1024	/* name + value, each request */
#define DIRECT_CMD_MAX		65536	/* exec command, subsystem name */
#define DIRECT_SIGNALS_MAX	8	/* signals queued before the command */
#define DIRECT_COPY_MAX		32768	/* bytes per drain step (stack) */
/* A refused session waits this long for its shell/exec request, so the
 * client has asked for something before it is told why not. */
#define DIRECT_FAIL_WAIT_MS	2000
/* Forwards asked for before any session wait this long for a session
 * that may bring an agent for the upstream login. */
#define DIRECT_DEFER_MS		300
/* After the pod is lost: time for the client to read why. */
#define DIRECT_ENDING_MS	2000
/* Password passthrough: answers the pod may refuse, as sshd's client
 * (NumberOfPasswordPrompts) allows; empty keyboard-interactive rounds
 * answered in a row before the pod is thought to loop. */
#define DIRECT_PW_TRIES		3
#define DIRECT_PW_EMPTY_ROUNDS	8

enum dc_kind {
	DC_SESSION = 0,		/* client's session channel */
	DC_LOCAL,		/* client's direct-tcpip (ssh -L, -D) */
	DC_REMOTE,		/* pod's forwarded-tcpip (ssh -R) */
	DC_AGENT,		/* pod's auth-agent channel (ssh -A) */
	DC_KIND_MAX
};

static const char *const dc_kind_names[DC_KIND_MAX] = {
	[DC_SESSION] = "session",
	[DC_LOCAL] = "direct-tcpip",
	[DC_REMOTE] = "forwarded-tcpip",
	[DC_AGENT] = "auth-agent",
};

enum dc_state {
	DC_WAIT = 0,		/* client side open; session: until its shell/
				 * exec/subsystem, local: until the login */
	DC_UP_OPENING,		/* our open of the upstream side is in flight */
	DC_C_OPENING,		/* our open of the client side is in flight */
	DC_REPLAY,		/* session: queued requests go upstream */
	DC_OPEN,		/* both sides open: relaying */
	DC_FAIL,		/* tell the client why on stderr, then close */
	DC_DEAD,		/* both sides released; swept after the pump */
	DC_STATE_MAX
};

static const char *const dc_state_names[DC_STATE_MAX] = {
	[DC_WAIT] = "WAIT",
	[DC_UP_OPENING] = "UP_OPENING",
	[DC_C_OPENING] = "C_OPENING",
	[DC_REPLAY] = "REPLAY",
	[DC_OPEN] = "OPEN",
	[DC_FAIL] = "FAIL",
	[DC_DEAD] = "DEAD",
};

enum dc_cmd {
	DC_CMD_NONE = 0,
	DC_CMD_SHELL,
	DC_CMD_EXEC,
	DC_CMD_SUBSYSTEM,
};

/* Replay order for a session: pty, env..., agent, command. */
enum dc_step {
	DC_STEP_PTY = 0,
	DC_STEP_ENV,
	DC_STEP_AGENT,
	DC_STEP_CMD,
	DC_STEP_DONE,
};

struct direct;

/* One client channel and its upstream twin. */
struct dchan {
	TAILQ_ENTRY(dchan) dc_entry;
	struct direct	*dc_d;
	unsigned	 dc_id;
	enum dc_kind	 dc_kind;
	enum dc_state	 dc_state;
	uint64_t	 dc_opened_ms;
	ssh_channel	 dc_c;		/* client side, or NULL */
	ssh_channel	 dc_u;		/* upstream side, or NULL */
	bool		 dc_c_up;	/* client side confirmed open */
	bool		 dc_u_up;	/* upstream side confirmed open */
	struct ssh_channel_callbacks_struct dc_ccb;
	struct ssh_channel_callbacks_struct dc_ucb;
	bool		 dc_ccb_set;
	bool		 dc_ucb_set;

	/* Session requests, kept until the upstream channel exists. */
	bool		 dc_pty;
	char		 dc_term[64];
	int		 dc_cols, dc_rows;
	char		*dc_env[DIRECT_ENV_MAX];	/* "NAME\0value" */
	size_t		 dc_nenv;
	bool		 dc_agent;
	bool		 dc_agent_sent;
	enum dc_cmd	 dc_cmd;
	char		*dc_command;
	enum dc_step	 dc_step;
	size_t		 dc_env_i;
	bool		 dc_resize;
	int		 dc_new_cols, dc_new_rows;
	char		 dc_signals[DIRECT_SIGNALS_MAX][16];
	size_t		 dc_nsignals;

	/* Forwarding: where to, and from where. */
	char		 dc_host[256];
	uint16_t	 dc_port;
	char		 dc_orig[64];
	uint16_t	 dc_orig_port;

	/*
	 * Bytes read from one side that the other did not take: during a
	 * key re-exchange libssh 0.10 accepts no channel data.  One per
	 * drain direction (client->pod, pod->client out, pod->client err).
	 */
	struct dcarry {
		char	*ca_buf;
		uint32_t ca_len;
		uint32_t ca_off;
	}		 dc_carry[3];

	/* Flow: bytes left in libssh's channel buffers, EOF and close. */
	bool		 dc_c_pending;
	bool		 dc_u_pending[2];	/* stdout, stderr */
	bool		 dc_c_eof, dc_u_eof;	/* received */
	bool		 dc_c_eof_sent, dc_u_eof_sent;
	bool		 dc_c_closed, dc_u_closed; /* received */
	bool		 dc_exit_status_set;
	int		 dc_exit_status;
	bool		 dc_exit_signal_set;
	char		 dc_exit_signal[32];
	bool		 dc_exit_core;
	char		 dc_exit_errmsg[256];
	bool		 dc_exit_sent;

	/* DC_FAIL: what the client's stderr gets, and the exit status. */
	char		 dc_notice[ROUTE_WHY_MAX + 128];
	int		 dc_fail_status;
	/* A notice to write once the channel runs (x11 refused). */
	char		 dc_aside[NAME_JOB_MAX + NAME_USER_MAX + 128];
};

enum direct_up_state {
	UP_IDLE = 0,		/* not needed yet */
	UP_CONNECTING,		/* login in progress (blocking, this thread) */
	UP_PROMPT,		/* the pod's password prompt is on a session:
				 * waiting for the user's answer */
	UP_READY,		/* logged in, in the event */
	UP_FAILED,		/* could not log in: d_up_why says why */
	UP_LOST,		/* was ready, then the pod went away */
};

struct direct_fwd {
	char		 df_addr[256];
	uint16_t	 df_port;	/* as the client asked */
	uint16_t	 df_bound;	/* as the pod bound it */
	bool		 df_deferred;	/* answered; listen after login */
};

struct direct {
	TAILQ_ENTRY(direct) d_entry;
	struct direct_handoff d_h;
	pthread_t	 d_thread;
	atomic_bool	 d_stop;
	bool		 d_done;

	ssh_session	 d_c;		/* the client's (server side) */
	ssh_event	 d_event;
	struct ssh_server_callbacks_struct d_scb;

	/* Route, looked up at the first channel. */
	bool		 d_routed;
	enum jg_err	 d_route_rc;
	char		 d_why[ROUTE_WHY_MAX];
	char		 d_job[NAME_JOB_MAX + 1];
	char		 d_pod[2 * 254];
	char		 d_addr[ROUTE_ADDR_MAX];
	char		 d_host_key[1024];	/* pinned by annotation, or "" */
	uint16_t	 d_node_port;
	char		 d_endpoint[ROUTE_ADDR_MAX + 8];

	/* Upstream. */
	enum direct_up_state d_up_state;
	ssh_session	 d_u;
	int		 d_u_fd;
	bool		 d_u_fd_given;	/* libssh has used d_u_fd */
	bool		 d_u_in_event;
	bool		 d_global_busy;	/* a global request is in flight */
	struct ssh_callbacks_struct d_ucb;
	char		 d_up_user[DIRECT_USER_MAX];
	char		 d_up_why[ROUTE_WHY_MAX + 256];

	/* The login runs through upstream.auth and may stop at a password
	 * prompt (UP_PROMPT); the pump resumes it from d_auth_i. */
	size_t		 d_auth_i;	/* next entry of upstream.auth */
	bool		 d_auth_agent;	/* agent allowed here and wanted */
	bool		 d_auth_may_ask; /* not inside a client callback */
	bool		 d_auth_ok;
	bool		 d_auth_no_tty;	/* password skipped: no pty to ask on */
	bool		 d_auth_pw_refused; /* DIRECT_PW_TRIES refusals */
	uint64_t	 d_auth_start_ms;
	char		 d_auth_method[160]; /* the one being tried */
	char		 d_auth_tried[256];
	size_t		 d_auth_toff;
	char		 d_auth_publine[512];

	/* UP_PROMPT: the pod's questions are shown on session d_pw_chan. */
	unsigned	 d_pw_chan;	/* its dc_id: the bridge may go */
	bool		 d_pw_kbdint;	/* keyboard-interactive, or password */
	bool		 d_pw_offers_password;
	bool		 d_pw_asked;	/* kbdint: the pod asked something */
	int		 d_pw_try;	/* 1..DIRECT_PW_TRIES */
	int		 d_pw_nprompts;
	int		 d_pw_i;	/* the prompt being answered */
	uint64_t	 d_pw_deadline_ms;
	struct direct_prompt d_pw;	/* a secret: wiped after each answer */
	struct direct_fwd d_fwd[DIRECT_FORWARDS_MAX];
	size_t		 d_nfwd;

	TAILQ_HEAD(, dchan) d_chans;
	size_t		 d_nchans;
	unsigned	 d_next_chan_id;
	uint64_t	 d_bytes_up;
	uint64_t	 d_bytes_down;
	uint64_t	 d_last_active_ms;
	uint64_t	 d_last_request_ms;

	bool		 d_ending;
	uint64_t	 d_end_deadline_ms;
	char		 d_reason[256];
	char		 d_disconnect_msg[ROUTE_WHY_MAX + 256];
};

static pthread_mutex_t direct_lock = PTHREAD_MUTEX_INITIALIZER;
static TAILQ_HEAD(, direct) direct_list = TAILQ_HEAD_INITIALIZER(direct_list);
static bool direct_stopping;
static atomic_size_t direct_live;

static void	dchan_release(struct dchan *dc);
static void	direct_upstream_free(struct direct *d);
static void	direct_set_client_callbacks(struct dchan *dc);
static void	direct_set_upstream_callbacks(struct dchan *dc);

static uint64_t
direct_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *
direct_user(const struct direct *d)
{
	return d->d_h.dh_name.np_user;
}

/* The only writer of dc_state. */
static void
dchan_set_state(struct dchan *dc, enum dc_state state)
{
	if (dc->dc_state == state)
		return;
	log_debug("direct session %llu channel %u (%s): %s -> %s",
	    (unsigned long long)dc->dc_d->d_h.dh_session_id, dc->dc_id,
	    dc_kind_names[dc->dc_kind], dc_state_names[dc->dc_state],
	    dc_state_names[state]);
	dc->dc_state = state;
}

static struct dchan *
dchan_new(struct direct *d, enum dc_kind kind)
{
	struct dchan *dc;

	if (d->d_nchans >= DIRECT_CHANNELS_MAX) {
		log_info("direct session %llu for %s: refused a %s channel: "
		    "%d channels open already",
		    (unsigned long long)d->d_h.dh_session_id, direct_user(d),
		    dc_kind_names[kind], DIRECT_CHANNELS_MAX);
		return NULL;
	}
	if ((dc = calloc(1, sizeof(*dc))) == NULL)
		return NULL;
	dc->dc_d = d;
	dc->dc_id = d->d_next_chan_id++;
	dc->dc_kind = kind;
	dc->dc_state = DC_WAIT;
	dc->dc_opened_ms = direct_now_ms();
	TAILQ_INSERT_TAIL(&d->d_chans, dc, dc_entry);
	d->d_nchans++;
	d->d_last_request_ms = dc->dc_opened_ms;
	return dc;
}

static void
dchan_free(struct dchan *dc)
{
	size_t i;

	for (i = 0; i < dc->dc_nenv; i++)
		free(dc->dc_env[i]);
	free(dc->dc_command);
	for (i = 0; i < 3; i++)
		free(dc->dc_carry[i].ca_buf);
	free(dc);
}

/* Moves the channel to DC_FAIL: the client gets notice on stderr. */
static void
dchan_fail(struct dchan *dc, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
dchan_fail(struct dchan *dc, int status, const char *fmt, ...)
{
	va_list ap;

	if (dc->dc_state == DC_FAIL || dc->dc_state == DC_DEAD)
		return;
	va_start(ap, fmt);
	vsnprintf(dc->dc_notice, sizeof(dc->dc_notice), fmt, ap);
	va_end(ap);
	dc->dc_fail_status = status;
	dchan_set_state(dc, DC_FAIL);
}

/*
 * Writes at most the window of to; returns what was taken (0 when the
 * window is shut), or -1 when to cannot take data any more.
 */
static int
direct_write(ssh_channel to, const void *data, uint32_t len, bool to_stderr)
{
	uint32_t win;
	int rc;

	if (len == 0)
		return 0;
	win = ssh_channel_window_size(to);
	if (win == 0)
		return 0;
	if (len > win)
		len = win;
	rc = to_stderr ? ssh_channel_write_stderr(to, data, len) :
	    ssh_channel_write(to, data, len);
	return rc == SSH_ERROR ? -1 : rc;
}

static bool direct_host_key_pinned(const ssh_key key, const char *fp,
    const char *pin);

/* ---- Route ---- */

static bool
direct_route(struct direct *d)
{
	struct route_snapshot *snap;
	struct route_query q;
	struct route_result res;

	if (d->d_routed)
		return d->d_route_rc == JG_OK;
	d->d_routed = true;
	memset(&q, 0, sizeof(q));
	q.rq_user = direct_user(d);
	q.rq_admin = d->d_h.dh_admin;
	q.rq_job = d->d_h.dh_name.np_job;
	q.rq_pod = d->d_h.dh_name.np_pod[0] != '\0' ?
	    d->d_h.dh_name.np_pod : NULL;
	q.rq_port = 0;		/* the job's ssh rule */
	snap = route_table_acquire(d->d_h.dh_routes);
	d->d_route_rc = route_lookup(snap, &q, &res, d->d_why,
	    sizeof(d->d_why));
	metrics_route_result(d->d_route_rc);
	if (d->d_route_rc == JG_OK) {
		snprintf(d->d_job, sizeof(d->d_job), "%s", res.rs_pod->rp_job);
		snprintf(d->d_pod, sizeof(d->d_pod), "%s/%s",
		    res.rs_pod->rp_namespace, res.rs_pod->rp_name);
		snprintf(d->d_addr, sizeof(d->d_addr), "%s",
		    res.rs_rule->rr_address);
		d->d_node_port = res.rs_rule->rr_node_port;
		snprintf(d->d_endpoint, sizeof(d->d_endpoint), "%s:%u",
		    d->d_addr, d->d_node_port);
		snprintf(d->d_host_key, sizeof(d->d_host_key), "%s",
		    res.rs_pod->rp_host_key != NULL ?
		    res.rs_pod->rp_host_key : "");
		if (d->d_h.dh_admin &&
		    strcmp(res.rs_pod->rp_owner, direct_user(d)) != 0)
			log_info("admin %s reaches job %s of %s",
			    direct_user(d), d->d_job, res.rs_pod->rp_owner);
	} else
		log_info("refused direct session for %s from %s port %u: %s",
		    direct_user(d), d->d_h.dh_addr, d->d_h.dh_port, d->d_why);
	route_snapshot_release(snap);
	return d->d_route_rc == JG_OK;
}

/* ---- Upstream login (blocking, bounded by the configured timeouts) ---- */

static void
direct_set_timeout(ssh_session s, uint32_t ms)
{
	long sec = (long)(ms / 1000), usec = (long)(ms % 1000) * 1000;

	(void)ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &sec);
	(void)ssh_options_set(s, SSH_OPTIONS_TIMEOUT_USEC, &usec);
}

static void
direct_up_fail(struct direct *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
direct_up_fail(struct direct *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->d_up_why, sizeof(d->d_up_why), fmt, ap);
	va_end(ap);
	d->d_up_state = UP_FAILED;
	/* Nothing will use it: the pod's socket goes now, not at the end. */
	direct_upstream_free(d);
}

/*
 * The client's agent answers the pod's challenge: an auth-agent channel
 * to the client, used by libssh's agent code with the client session
 * blocking (bounded by its timeout) so that the channel reads wait.
 * XXX libssh's agent code retries a read that returns 0 for ever, so a
 * client that keeps its connection but never answers holds this thread.
 */
static int
direct_auth_agent(struct direct *d)
{
	ssh_channel ach;
	int rc = SSH_AUTH_ERROR;

	if ((ach = ssh_channel_new(d->d_c)) == NULL)
		return SSH_AUTH_ERROR;
	ssh_set_blocking(d->d_c, 1);
	if (ssh_channel_open_auth_agent(ach) == SSH_OK &&
	    ssh_set_agent_channel(d->d_u, ach) == SSH_OK) {
		rc = ssh_userauth_agent(d->d_u, NULL);
		(void)ssh_set_agent_channel(d->d_u, NULL);
	}
	ssh_set_blocking(d->d_c, 0);
	if (ssh_is_connected(d->d_c) && ssh_channel_is_open(ach))
		(void)ssh_channel_close(ach);
	ssh_channel_free(ach);
	return rc;
}

static ssh_channel direct_on_pod_agent_open(ssh_session s, void *arg);
static int direct_on_upstream_message(ssh_session s, ssh_message msg,
    void *arg);

static void	direct_upstream_auth(struct direct *d);

/* Appends the method just tried to the list the refusal log shows. */
static void
direct_auth_tried(struct direct *d)
{
	size_t room;
	int n;

	if (d->d_auth_method[0] == '\0' ||
	    d->d_auth_toff >= sizeof(d->d_auth_tried) - 1)
		return;
	room = sizeof(d->d_auth_tried) - d->d_auth_toff;
	n = snprintf(d->d_auth_tried + d->d_auth_toff, room, "%s%s",
	    d->d_auth_toff > 0 ? ", " : "", d->d_auth_method);
	if (n > 0)
		d->d_auth_toff += (size_t)n < room ? (size_t)n : room - 1;
}

/* ---- Password passthrough: upstream.auth "password" ---- */

enum direct_pw_rc {
	DIRECT_PW_SKIP = 0,	/* unusable here, or refused: next method */
	DIRECT_PW_ASKING,	/* a prompt is on the session (UP_PROMPT) */
	DIRECT_PW_IN,		/* the pod let us in */
	DIRECT_PW_FAILED,	/* the login is over: UP_FAILED, d_up_why */
};

static enum direct_pw_rc direct_pw_round(struct direct *d);

/* Looked up by id each time: a closed bridge is swept and freed. */
static struct dchan *
direct_pw_chan(struct direct *d)
{
	struct dchan *dc;

	TAILQ_FOREACH(dc, &d->d_chans, dc_entry)
		if (dc->dc_id == d->d_pw_chan && dc->dc_kind == DC_SESSION)
			return dc;
	return NULL;
}

/* Wipes the answer; whether it ended in CR is kept (direct_prompt.h). */
static void
direct_pw_wipe(struct direct *d)
{
	bool after_cr = d->d_pw.dp_after_cr;

	direct_prompt_wipe(&d->d_pw);
	d->d_pw.dp_after_cr = after_cr;
}

/* Text for the prompting session: a few hundred bytes, the window has
 * room for them. */
static void
direct_pw_say(struct direct *d, const char *text)
{
	struct dchan *dc = direct_pw_chan(d);

	if (dc != NULL && dc->dc_c != NULL && !dc->dc_c_closed)
		(void)direct_write(dc->dc_c, text, (uint32_t)strlen(text),
		    false);
}

/* Shows prompt d_pw_i, after its round's name and instruction, as ssh
 * does, and starts the answer and its deadline. */
static void
direct_pw_show(struct direct *d)
{
	char line[1024];
	const char *s;
	char echo = 0;

	if (d->d_pw_kbdint) {
		if (d->d_pw_i == 0) {
			s = ssh_userauth_kbdint_getname(d->d_u);
			if (direct_prompt_sanitize(line, sizeof(line), s,
			    256) > 0) {
				direct_pw_say(d, line);
				direct_pw_say(d, "\r\n");
			}
			s = ssh_userauth_kbdint_getinstruction(d->d_u);
			if (direct_prompt_sanitize(line, sizeof(line), s,
			    512) > 0) {
				direct_pw_say(d, line);
				direct_pw_say(d, "\r\n");
			}
		}
		s = ssh_userauth_kbdint_getprompt(d->d_u,
		    (unsigned)d->d_pw_i, &echo);
		direct_prompt_sanitize(line, sizeof(line), s, 256);
	} else
		snprintf(line, sizeof(line), "%s@%s's password: ",
		    d->d_up_user, d->d_h.dh_name.np_job);
	direct_pw_say(d, line);
	direct_prompt_start(&d->d_pw, echo != 0);
	d->d_pw_deadline_ms = direct_now_ms() +
	    d->d_h.dh_cfg->upstream.auth_timeout_ms;
}

/* The pod broke the login off, or did not answer within the timeout. */
static enum direct_pw_rc
direct_pw_lost(struct direct *d, int arc)
{
	const char *e = ssh_get_error(d->d_u);
	char why[256];

	if (arc == SSH_AUTH_AGAIN)
		snprintf(why, sizeof(why), "no answer after %u ms",
		    d->d_h.dh_cfg->upstream.auth_timeout_ms);
	else
		snprintf(why, sizeof(why), "%s", e != NULL && *e != '\0' ? e :
		    "the pod broke off the login");
	log_info("direct session for %s from %s port %u: %s login to job %s "
	    "pod %s as %s: %s", direct_user(d), d->d_h.dh_addr,
	    d->d_h.dh_port, d->d_auth_method, d->d_job, d->d_pod,
	    d->d_up_user, why);
	direct_pw_wipe(d);
	direct_up_fail(d, "jumpgate: cannot log in to job '%s' as %s: pod %s: "
	    "%s", d->d_job, direct_user(d), d->d_pod, why);
	return DIRECT_PW_FAILED;
}

/* A wrong answer: again, as sshd's client does, up to DIRECT_PW_TRIES. */
static enum direct_pw_rc
direct_pw_refused(struct direct *d)
{
	log_info("direct session for %s from %s port %u: job %s pod %s "
	    "refused the %s for %s (try %d of %d)", direct_user(d),
	    d->d_h.dh_addr, d->d_h.dh_port, d->d_job, d->d_pod,
	    d->d_pw_kbdint ? "keyboard-interactive answer" : "password",
	    d->d_up_user, d->d_pw_try, DIRECT_PW_TRIES);
	if (d->d_pw_try >= DIRECT_PW_TRIES) {
		d->d_auth_pw_refused = true;
		return DIRECT_PW_SKIP;
	}
	direct_pw_say(d, "Permission denied, please try again.\r\n");
	d->d_pw_try++;
	return direct_pw_round(d);
}

static enum direct_pw_rc
direct_pw_partial(struct direct *d)
{
	log_info("direct session for %s from %s port %u: job %s pod %s took "
	    "the %s for %s but wants another method as well", direct_user(d),
	    d->d_h.dh_addr, d->d_h.dh_port, d->d_job, d->d_pod,
	    d->d_auth_method, d->d_up_user);
	return DIRECT_PW_SKIP;
}

/* What the pod said to a keyboard-interactive request or answers. */
static enum direct_pw_rc
direct_pw_kbdint_result(struct direct *d, int arc)
{
	int n, empty = 0;

	for (;;) {
		switch (arc) {
		case SSH_AUTH_INFO:
			n = ssh_userauth_kbdint_getnprompts(d->d_u);
			if (n > 0) {
				d->d_pw_nprompts = n;
				d->d_pw_i = 0;
				d->d_pw_asked = true;
				direct_pw_show(d);
				return DIRECT_PW_ASKING;
			}
			/* OpenSSH's PAM ends with a round of no prompts. */
			if (n < 0 || ++empty > DIRECT_PW_EMPTY_ROUNDS)
				return direct_pw_lost(d, SSH_AUTH_ERROR);
			arc = ssh_userauth_kbdint(d->d_u, NULL, NULL);
			continue;
		case SSH_AUTH_SUCCESS:
			return DIRECT_PW_IN;
		case SSH_AUTH_DENIED:
			if (d->d_pw_asked)
				return direct_pw_refused(d);
			/*
			 * Refused before it asked anything: sshd offers the
			 * method with no way to ask (UsePAM no).
			 */
			log_verbose("direct session for %s: job %s offers "
			    "keyboard-interactive but asks nothing; %s",
			    direct_user(d), d->d_job,
			    d->d_pw_offers_password ? "trying password" :
			    "no password login");
			d->d_pw_kbdint = false;
			if (!d->d_pw_offers_password)
				return DIRECT_PW_SKIP;
			return direct_pw_round(d);
		case SSH_AUTH_PARTIAL:
			return direct_pw_partial(d);
		default:
			return direct_pw_lost(d, arc);
		}
	}
}

/* One try: keyboard-interactive while the pod offers it, else password. */
static enum direct_pw_rc
direct_pw_round(struct direct *d)
{
	if (d->d_pw_kbdint) {
		snprintf(d->d_auth_method, sizeof(d->d_auth_method),
		    "keyboard-interactive");
		return direct_pw_kbdint_result(d,
		    ssh_userauth_kbdint(d->d_u, NULL, NULL));
	}
	snprintf(d->d_auth_method, sizeof(d->d_auth_method), "password");
	d->d_pw_nprompts = 1;
	d->d_pw_i = 0;
	direct_pw_show(d);
	return DIRECT_PW_ASKING;
}

/* Enter: the answer goes to the pod and is wiped.  Blocks up to the
 * auth timeout, as the rest of the login does. */
static enum direct_pw_rc
direct_pw_answer(struct direct *d)
{
	int arc;

	if (d->d_pw_kbdint) {
		arc = ssh_userauth_kbdint_setanswer(d->d_u,
		    (unsigned)d->d_pw_i, d->d_pw.dp_buf);
		direct_pw_wipe(d);
		if (arc < 0)
			return direct_pw_lost(d, SSH_AUTH_ERROR);
		if (++d->d_pw_i < d->d_pw_nprompts) {
			direct_pw_show(d);
			return DIRECT_PW_ASKING;
		}
		return direct_pw_kbdint_result(d,
		    ssh_userauth_kbdint(d->d_u, NULL, NULL));
	}
	arc = ssh_userauth_password(d->d_u, NULL, d->d_pw.dp_buf);
	direct_pw_wipe(d);
	switch (arc) {
	case SSH_AUTH_SUCCESS:
		return DIRECT_PW_IN;
	case SSH_AUTH_DENIED:
		return direct_pw_refused(d);
	case SSH_AUTH_PARTIAL:
		return direct_pw_partial(d);
	default:
		return direct_pw_lost(d, arc);
	}
}

/* The first session waiting for the login: the one that brought it on. */
static struct dchan *
direct_pw_session(struct direct *d)
{
	struct dchan *dc;

	TAILQ_FOREACH(dc, &d->d_chans, dc_entry)
		if (dc->dc_kind == DC_SESSION && dc->dc_state == DC_WAIT &&
		    dc->dc_cmd != DC_CMD_NONE && dc->dc_c != NULL &&
		    !dc->dc_c_closed)
			return dc;
	return NULL;
}

/*
 * upstream.auth reached "password": asks the user on the session's pty,
 * if the pod offers keyboard-interactive or password and there is a pty.
 */
static enum direct_pw_rc
direct_pw_begin(struct direct *d)
{
	struct dchan *dc;
	int methods, arc;

	if (!d->d_auth_may_ask) {
		log_verbose("direct session for %s: upstream auth 'password' "
		    "skipped: the login is for a request that cannot wait "
		    "for a prompt", direct_user(d));
		return DIRECT_PW_SKIP;
	}
	/* The pod lists its methods only with a refusal: "none" gets one. */
	if ((methods = ssh_userauth_list(d->d_u, NULL)) == 0) {
		arc = ssh_userauth_none(d->d_u, NULL);
		if (arc == SSH_AUTH_SUCCESS) {
			snprintf(d->d_auth_method, sizeof(d->d_auth_method),
			    "none");
			return DIRECT_PW_IN;
		}
		if (arc != SSH_AUTH_DENIED && arc != SSH_AUTH_PARTIAL)
			return direct_pw_lost(d, arc);
		methods = ssh_userauth_list(d->d_u, NULL);
	}
	d->d_pw_kbdint = (methods & SSH_AUTH_METHOD_INTERACTIVE) != 0;
	d->d_pw_offers_password = (methods & SSH_AUTH_METHOD_PASSWORD) != 0;
	if (!d->d_pw_kbdint && !d->d_pw_offers_password) {
		log_verbose("direct session for %s: job %s offers neither "
		    "keyboard-interactive nor password", direct_user(d),
		    d->d_job);
		return DIRECT_PW_SKIP;
	}
	if ((dc = direct_pw_session(d)) == NULL) {
		log_verbose("direct session for %s: upstream auth 'password' "
		    "skipped: no session to ask on", direct_user(d));
		return DIRECT_PW_SKIP;
	}
	if (!dc->dc_pty) {
		log_info("direct session for %s from %s port %u: job %s pod "
		    "%s wants a password, but the session has no pty to ask "
		    "on", direct_user(d), d->d_h.dh_addr, d->d_h.dh_port,
		    d->d_job, d->d_pod);
		d->d_auth_no_tty = true;
		return DIRECT_PW_SKIP;
	}
	d->d_pw_chan = dc->dc_id;
	d->d_pw_try = 1;
	d->d_pw_asked = false;
	d->d_pw.dp_after_cr = false;
	return direct_pw_round(d);
}

/* Goes on with the login after a password step ended in the pump. */
static void
direct_pw_resume(struct direct *d, enum direct_pw_rc prc)
{
	switch (prc) {
	case DIRECT_PW_ASKING:
	case DIRECT_PW_FAILED:
		return;
	case DIRECT_PW_IN:
		d->d_auth_ok = true;
		break;
	case DIRECT_PW_SKIP:
		break;
	}
	direct_pw_wipe(d);
	direct_auth_tried(d);
	d->d_up_state = UP_CONNECTING;
	direct_upstream_auth(d);
}

/* The login ends at the prompt: logwhy for the log, userwhy for the
 * user. */
static void
direct_pw_stop(struct direct *d, const char *logwhy, const char *userwhy)
{
	log_info("direct session for %s from %s port %u: login to job %s pod "
	    "%s as %s stopped at the %s prompt: %s", direct_user(d),
	    d->d_h.dh_addr, d->d_h.dh_port, d->d_job, d->d_pod,
	    d->d_up_user, d->d_auth_method, logwhy);
	direct_prompt_wipe(&d->d_pw);
	direct_up_fail(d, "jumpgate: cannot log in to job '%s' as %s: %s",
	    d->d_job, direct_user(d), userwhy);
}

/* UP_PROMPT, after each poll: the user's keys, then the deadline. */
static void
direct_pw_step(struct direct *d, uint64_t now)
{
	char echo[DIRECT_PROMPT_ECHO_MAX], why[64];
	enum direct_prompt_rc rc;
	struct dchan *dc = direct_pw_chan(d);
	unsigned char c;
	size_t elen;
	int n;

	if (dc == NULL || dc->dc_state != DC_WAIT || dc->dc_c == NULL ||
	    dc->dc_c_closed) {
		direct_pw_stop(d, "the session ended", "login cancelled");
		return;
	}
	/* Key by key: what follows Enter stays in libssh's buffer for the
	 * next prompt or for the shell. */
	while ((n = ssh_channel_read_nonblocking(dc->dc_c, &c, 1, 0)) == 1) {
		rc = direct_prompt_key(&d->d_pw, c, echo, &elen);
		explicit_bzero(&c, sizeof(c));
		if (elen > 0)
			(void)direct_write(dc->dc_c, echo, (uint32_t)elen,
			    false);
		if (rc == DIRECT_PROMPT_CANCEL) {
			direct_pw_stop(d, "cancelled by the user",
			    "login cancelled");
			return;
		}
		if (rc == DIRECT_PROMPT_DONE) {
			direct_pw_resume(d, direct_pw_answer(d));
			return;
		}
	}
	if (n < 0 || dc->dc_c_eof) {
		direct_pw_stop(d, "the client's input ended",
		    "login cancelled");
		return;
	}
	if (now >= d->d_pw_deadline_ms) {
		direct_pw_say(d, "\r\n");
		snprintf(why, sizeof(why), "nothing typed within %u s",
		    (d->d_h.dh_cfg->upstream.auth_timeout_ms + 999) / 1000);
		direct_pw_stop(d, why, why);
	}
}

/* "ssh -t -p 2222 alice+job@gateway": the command that can ask. */
static void
direct_pw_hint(const struct direct *d, char *buf, size_t len)
{
	const struct config_gateway *gw = &d->d_h.dh_cfg->gateway;
	const struct name_parts *np = &d->d_h.dh_name;
	const char *host = gw->host != NULL ? gw->host : d->d_h.dh_laddr;
	unsigned port = gw->port != 0 ? gw->port : d->d_h.dh_lport;
	char pstr[16] = "";
	bool v6 = strchr(host, ':') != NULL;

	if (port != 22)
		snprintf(pstr, sizeof(pstr), "-p %u ", port);
	snprintf(buf, len, "ssh -t %s%s+%s%s%s@%s%s%s", pstr, np->np_user,
	    np->np_job, np->np_pod[0] != '\0' ? "+" : "", np->np_pod,
	    v6 ? "[" : "", host, v6 ? "]" : "");
}

/* ---- Upstream login ---- */

/* Logged in: the pod's session joins the event. */
static void
direct_upstream_ready(struct direct *d)
{
	ssh_set_blocking(d->d_u, 0);
	if (ssh_event_add_session(d->d_event, d->d_u) != SSH_OK) {
		direct_up_fail(d, "jumpgate: cannot reach job '%s' of %s: "
		    "internal error (ssh event)", d->d_job, direct_user(d));
		return;
	}
	d->d_u_in_event = true;
	d->d_up_state = UP_READY;
	log_info("direct session for %s from %s port %u: job %s pod %s at %s "
	    "port %u as %s with %s after %llu ms", direct_user(d),
	    d->d_h.dh_addr, d->d_h.dh_port, d->d_job, d->d_pod, d->d_addr,
	    d->d_node_port, d->d_up_user, d->d_auth_method,
	    (unsigned long long)(direct_now_ms() - d->d_auth_start_ms));
}

/* Nothing in upstream.auth got in: the user is told what would. */
static void
direct_upstream_refused(struct direct *d)
{
	const char *user = direct_user(d);
	char hint[NAME_USER_MAX + NAME_JOB_MAX + NAME_POD_MAX + 300];

	log_info("direct session for %s from %s port %u: login to job %s pod "
	    "%s as %s refused (tried: %s)", user, d->d_h.dh_addr,
	    d->d_h.dh_port, d->d_job, d->d_pod, d->d_up_user,
	    d->d_auth_tried[0] != '\0' ? d->d_auth_tried : "nothing");
	if (d->d_auth_pw_refused)
		direct_up_fail(d, "jumpgate: cannot log in to job '%s' as %s: "
		    "Permission denied: the job refused the password %d times",
		    d->d_job, user, DIRECT_PW_TRIES);
	else if (d->d_auth_no_tty) {
		direct_pw_hint(d, hint, sizeof(hint));
		direct_up_fail(d, "jumpgate: job '%s' needs a password: run %s "
		    "to type it", d->d_h.dh_name.np_job, hint);
	} else if (d->d_auth_publine[0] != '\0')
		direct_up_fail(d, "jumpgate: cannot log in to job '%s' as %s: "
		    "use ssh -A, or add this key to ~/.ssh/authorized_keys in "
		    "your job: %s", d->d_job, user, d->d_auth_publine);
	else
		direct_up_fail(d, "jumpgate: cannot log in to job '%s' as %s: "
		    "use ssh -A with a key that the job accepts", d->d_job,
		    user);
}

/*
 * Tries upstream.auth from d_auth_i on.  Ends in UP_READY or UP_FAILED,
 * or stops in UP_PROMPT at a password prompt, from which direct_pw_step()
 * comes back here.
 */
static void
direct_upstream_auth(struct direct *d)
{
	const struct config_upstream *up = &d->d_h.dh_cfg->upstream;
	const char *user = direct_user(d);
	char err[512], fp[DIRECT_FP_MAX];
	enum direct_pw_rc prc;
	ssh_key key;
	int arc;

	while (!d->d_auth_ok && d->d_auth_i < up->nauth) {
		if (!ssh_is_connected(d->d_u))
			break;
		d->d_auth_method[0] = '\0';
		arc = SSH_AUTH_DENIED;
		switch (up->auth[d->d_auth_i++]) {
		case CONFIG_UPSTREAM_AGENT:
			if (!d->d_auth_agent)
				continue;
			snprintf(d->d_auth_method, sizeof(d->d_auth_method),
			    "forwarded agent");
			arc = direct_auth_agent(d);
			break;
		case CONFIG_UPSTREAM_KEY:
			key = NULL;
			/* The same key `ssh USER@gateway pubkey` shows. */
			if (userkey_load(up, user, &key, err, sizeof(err)) !=
			    JG_OK || userkey_public_line(up, user,
			    d->d_auth_publine, sizeof(d->d_auth_publine), err,
			    sizeof(err)) != JG_OK) {
				log_error("direct session for %s: gateway key: "
				    "%s", user, err);
				d->d_auth_publine[0] = '\0';
				ssh_key_free(key);
				continue;
			}
			arc = ssh_userauth_publickey(d->d_u, NULL, key);
			direct_key_describe(key, fp, sizeof(fp));
			ssh_key_free(key);
			snprintf(d->d_auth_method, sizeof(d->d_auth_method),
			    "gateway key %s", fp);
			break;
		case CONFIG_UPSTREAM_PASSWORD:
			prc = direct_pw_begin(d);
			if (prc == DIRECT_PW_ASKING) {
				d->d_up_state = UP_PROMPT;
				return;
			}
			if (prc == DIRECT_PW_FAILED)
				return;
			direct_pw_wipe(d);
			if (prc == DIRECT_PW_IN)
				arc = SSH_AUTH_SUCCESS;
			break;
		case CONFIG_UPSTREAM_AUTH_MAX:
			continue;
		}
		direct_auth_tried(d);
		d->d_auth_ok = arc == SSH_AUTH_SUCCESS;
	}
	if (d->d_auth_ok)
		direct_upstream_ready(d);
	else
		direct_upstream_refused(d);
}

/*
 * Connects and logs in to the pod, trying upstream.auth in order.  in_pump
 * is false inside a client callback: then neither the agent nor a
 * password prompt, which need the client's answers, can be used.  The
 * agent is used only when a session asked for agent forwarding.  Sets
 * d_up_state to UP_READY, UP_PROMPT (the pump goes on) or UP_FAILED (with
 * the user's sentence in d_up_why).
 */
static void
direct_upstream_login(struct direct *d, bool in_pump)
{
	const struct config_upstream *up = &d->d_h.dh_cfg->upstream;
	const char *user = direct_user(d);
	char err[512], fp[DIRECT_FP_MAX];
	ssh_key hostkey = NULL;
	uint64_t start = direct_now_ms();
	enum ssh_known_hosts_e known;
	bool pinned;
	enum jg_err rc;
	struct dchan *dc;
	bool agent_wanted = false, off = false;
	int port;

	d->d_up_state = UP_CONNECTING;
	d->d_auth_start_ms = start;
	d->d_auth_i = 0;
	d->d_auth_ok = d->d_auth_no_tty = d->d_auth_pw_refused = false;
	d->d_auth_method[0] = d->d_auth_tried[0] = '\0';
	d->d_auth_publine[0] = '\0';
	d->d_auth_toff = 0;
	TAILQ_FOREACH(dc, &d->d_chans, dc_entry)
		if (dc->dc_kind == DC_SESSION && dc->dc_agent)
			agent_wanted = true;
	d->d_auth_agent = in_pump && agent_wanted;
	d->d_auth_may_ask = in_pump;
	if (direct_upstream_user(up->user, user, d->d_up_user,
	    sizeof(d->d_up_user), err, sizeof(err)) != JG_OK) {
		log_error("direct session for %s: %s", user, err);
		direct_up_fail(d, "jumpgate: cannot log in to job '%s' as %s: "
		    "the gateway's upstream.user is unusable", d->d_job, user);
		return;
	}
	rc = direct_tcp_connect(d->d_addr, d->d_node_port,
	    up->connect_timeout_ms, &d->d_u_fd, err, sizeof(err));
	if (rc != JG_OK) {
		log_info("direct session for %s from %s port %u: connect to "
		    "%s %s port %u after %llu ms: %s", user, d->d_h.dh_addr,
		    d->d_h.dh_port, d->d_pod, d->d_addr, d->d_node_port,
		    (unsigned long long)(direct_now_ms() - start), err);
		direct_up_fail(d, "jumpgate: cannot reach job '%s' of %s: pod "
		    "%s at %s port %u: %s", d->d_job, user, d->d_pod,
		    d->d_addr, d->d_node_port, err);
		return;
	}
	if ((d->d_u = ssh_new()) == NULL) {
		direct_up_fail(d, "jumpgate: cannot reach job '%s' of %s: out "
		    "of memory", d->d_job, user);
		return;
	}
	port = d->d_node_port;
	(void)ssh_options_set(d->d_u, SSH_OPTIONS_PROCESS_CONFIG, &off);
	(void)ssh_options_set(d->d_u, SSH_OPTIONS_HOST, d->d_addr);
	(void)ssh_options_set(d->d_u, SSH_OPTIONS_PORT, &port);
	(void)ssh_options_set(d->d_u, SSH_OPTIONS_USER, d->d_up_user);
	(void)ssh_options_set(d->d_u, SSH_OPTIONS_FD, &d->d_u_fd);
	/* The gateway's own ~/.ssh must not steer the login. */
	(void)ssh_options_set(d->d_u, SSH_OPTIONS_KNOWNHOSTS,
	    up->host_key_policy == CONFIG_HOSTKEY_KNOWN_HOSTS ?
	    up->known_hosts : "/dev/null");
	(void)ssh_options_set(d->d_u, SSH_OPTIONS_GLOBAL_KNOWNHOSTS,
	    "/dev/null");
	direct_set_timeout(d->d_u, up->auth_timeout_ms);
	ssh_callbacks_init(&d->d_ucb);
	d->d_ucb.userdata = d;
	d->d_ucb.channel_open_request_auth_agent_function =
	    direct_on_pod_agent_open;
	ssh_set_callbacks(d->d_u, &d->d_ucb);
	ssh_set_message_callback(d->d_u, direct_on_upstream_message, d);
	ssh_set_blocking(d->d_u, 1);
	d->d_u_fd_given = true;
	if (ssh_connect(d->d_u) != SSH_OK) {
		log_info("direct session for %s from %s port %u: ssh to %s %s "
		    "port %u after %llu ms: %s", user, d->d_h.dh_addr,
		    d->d_h.dh_port, d->d_pod, d->d_addr, d->d_node_port,
		    (unsigned long long)(direct_now_ms() - start),
		    ssh_get_error(d->d_u));
		direct_up_fail(d, "jumpgate: cannot reach job '%s' of %s: pod "
		    "%s at %s port %u: %s", d->d_job, user, d->d_pod,
		    d->d_addr, d->d_node_port, ssh_get_error(d->d_u));
		return;
	}
	if (ssh_get_server_publickey(d->d_u, &hostkey) != SSH_OK) {
		direct_up_fail(d, "jumpgate: cannot reach job '%s' of %s: the "
		    "pod sent no host key", d->d_job, user);
		return;
	}
	direct_key_describe(hostkey, fp, sizeof(fp));
	pinned = direct_host_key_pinned(hostkey, fp, d->d_host_key);
	ssh_key_free(hostkey);
	switch (up->host_key_policy) {
	case CONFIG_HOSTKEY_KNOWN_HOSTS:
		known = ssh_session_is_known_server(d->d_u);
		if (known != SSH_KNOWN_HOSTS_OK) {
			log_warn("upstream host key for job %s pod %s: %s is "
			    "%s %s", d->d_job, d->d_pod, fp,
			    known == SSH_KNOWN_HOSTS_CHANGED ?
			    "different from the one in" : "not in",
			    up->known_hosts);
			direct_up_fail(d, "jumpgate: cannot log in to job '%s' "
			    "as %s: the pod's host key (%s) is not one the "
			    "gateway knows", d->d_job, user, fp);
			return;
		}
		log_info("upstream host key for job %s pod %s: %s (known)",
		    d->d_job, d->d_pod, fp);
		break;
	case CONFIG_HOSTKEY_ANNOTATION:
		if (!pinned) {
			log_warn("upstream host key for job %s pod %s: %s does "
			    "not match annotation %s (%s)", d->d_job, d->d_pod,
			    fp, up->host_key_annotation,
			    d->d_host_key[0] != '\0' ? "pinned another key" :
			    "the pod has none");
			direct_up_fail(d, "jumpgate: cannot log in to job '%s' "
			    "as %s: the pod's host key (%s) is not the one its "
			    "annotation %s pins%s", d->d_job, user, fp,
			    up->host_key_annotation, d->d_host_key[0] != '\0' ?
			    "" : " (the pod has no such annotation)");
			return;
		}
		log_info("upstream host key for job %s pod %s: %s (pinned by "
		    "annotation)", d->d_job, d->d_pod, fp);
		break;
	case CONFIG_HOSTKEY_ACCEPT:
		log_info("upstream host key for job %s pod %s: %s", d->d_job,
		    d->d_pod, fp);
		break;
	}
	direct_upstream_auth(d);
}

/*
 * True when pin (an annotation's value) names key: either an OpenSSH
 * public key line ("ssh-ed25519 AAAA... [comment]") or a fingerprint
 * ("SHA256:..."), as ssh-keygen -lf prints it.  fp is key's
 * description ("ED25519 SHA256:...").
 */
static bool
direct_host_key_pinned(const ssh_key key, const char *fp, const char *pin)
{
	char type[64], b64[900];
	const char *sha;
	ssh_key pinned = NULL;
	bool same;

	if (pin[0] == '\0')
		return false;
	if (strncmp(pin, "SHA256:", 7) == 0) {
		sha = strstr(fp, "SHA256:");
		return sha != NULL && strcmp(sha, pin) == 0;
	}
	if (sscanf(pin, "%63s %899s", type, b64) != 2 ||
	    ssh_pki_import_pubkey_base64(b64, ssh_key_type_from_name(type),
	    &pinned) != SSH_OK)
		return false;
	same = ssh_key_cmp(key, pinned, SSH_KEY_CMP_PUBLIC) == 0;
	ssh_key_free(pinned);
	return same;
}

/* Releases the upstream session; its channels must be released first. */
static void
direct_upstream_free(struct direct *d)
{
	bool ours;

	if (d->d_u == NULL) {
		if (d->d_u_fd != -1)
			close(d->d_u_fd);
		d->d_u_fd = -1;
		return;
	}
	/*
	 * libssh never closes a socket given by SSH_OPTIONS_FD in
	 * ssh_disconnect(), but it does close it on a read error: then the
	 * number may already belong to someone else.
	 */
	ours = d->d_u_fd != -1 && (!d->d_u_fd_given ||
	    ssh_get_fd(d->d_u) == d->d_u_fd);
	if (d->d_u_in_event)
		ssh_event_remove_session(d->d_event, d->d_u);
	d->d_u_in_event = false;
	ssh_disconnect(d->d_u);
	ssh_free(d->d_u);
	d->d_u = NULL;
	if (ours)
		close(d->d_u_fd);
	d->d_u_fd = -1;
}

/*
 * From a data callback: passes data to `to` as far as its window takes it,
 * but only after what an earlier drain left in carry (order matters).  The
 * rest stays in libssh, marked pending, and holds the sender's window.
 * Returns what was taken, for the callback to return.
 */
static int
dchan_pass(ssh_channel to, const void *data, uint32_t len, bool to_stderr,
    const struct dcarry *carry, bool *pending, uint64_t *counter)
{
	int n;

	if (carry->ca_len > carry->ca_off ||
	    (n = direct_write(to, data, len, to_stderr)) < 0) {
		*pending = true;
		return 0;
	}
	*counter += (uint64_t)n;
	*pending = (uint32_t)n < len;
	return n;
}

/* ---- Callbacks: client side ---- */

static int
direct_on_c_data(ssh_session s, ssh_channel ch, void *data, uint32_t len,
    int is_stderr, void *arg)
{
	struct dchan *dc = arg;
	struct direct *d = dc->dc_d;

	d->d_last_active_ms = direct_now_ms();
	if (is_stderr || dc->dc_u_closed || dc->dc_u_eof_sent)
		return (int)len;	/* nobody to take it */
	if (dc->dc_state != DC_OPEN || dc->dc_u == NULL) {
		dc->dc_c_pending = true;
		return 0;
	}
	return dchan_pass(dc->dc_u, data, len, false, &dc->dc_carry[0],
	    &dc->dc_c_pending, &d->d_bytes_up);
}

static void
direct_on_c_eof(ssh_session s, ssh_channel ch, void *arg)
{
	struct dchan *dc = arg;

	dc->dc_c_eof = true;
}

static void
direct_on_c_close(ssh_session s, ssh_channel ch, void *arg)
{
	struct dchan *dc = arg;

	dc->dc_c_closed = true;
	dc->dc_c_eof = true;
}

static bool
dchan_queue_open(const struct dchan *dc)
{
	/* Requests that shape a session are taken until its command. */
	return dc->dc_cmd == DC_CMD_NONE && (dc->dc_state == DC_WAIT ||
	    dc->dc_state == DC_FAIL);
}

static int
direct_on_pty(ssh_session s, ssh_channel ch, const char *term, int cols,
    int rows, int pxw, int pxh, void *arg)
{
	struct dchan *dc = arg;
	const struct authkeys_entry *key = dc->dc_d->d_h.dh_key;

	if (!dchan_queue_open(dc))
		return -1;
	if (key != NULL && !key->ak_pty) {
		log_verbose("direct session %llu for %s: pty refused by the "
		    "key's authorized_keys options",
		    (unsigned long long)dc->dc_d->d_h.dh_session_id,
		    direct_user(dc->dc_d));
		return -1;
	}
	dc->dc_pty = true;
	snprintf(dc->dc_term, sizeof(dc->dc_term), "%s",
	    term != NULL ? term : "xterm");
	dc->dc_cols = cols;
	dc->dc_rows = rows;
	dc->dc_d->d_last_request_ms = direct_now_ms();
	return 0;
}

static int
direct_on_window_change(ssh_session s, ssh_channel ch, int cols, int rows,
    int pxw, int pxh, void *arg)
{
	struct dchan *dc = arg;

	if (dc->dc_state == DC_WAIT || dc->dc_state == DC_UP_OPENING) {
		/* Not replayed yet: the pty request takes the new size. */
		dc->dc_cols = cols;
		dc->dc_rows = rows;
	} else {
		dc->dc_resize = true;
		dc->dc_new_cols = cols;
		dc->dc_new_rows = rows;
	}
	return 0;
}

static int
direct_on_env(ssh_session s, ssh_channel ch, const char *name,
    const char *value, void *arg)
{
	struct dchan *dc = arg;
	size_t nl, vl;
	char *e;

	if (!dchan_queue_open(dc) || dc->dc_nenv >= DIRECT_ENV_MAX ||
	    name == NULL || value == NULL)
		return -1;
	nl = strnlen(name, DIRECT_ENV_LEN_MAX);
	vl = strnlen(value, DIRECT_ENV_LEN_MAX);
	if (nl + vl + 2 > DIRECT_ENV_LEN_MAX || nl == 0)
		return -1;
	if ((e = malloc(nl + vl + 2)) == NULL)
		return -1;
	memcpy(e, name, nl + 1);
	memcpy(e + nl + 1, value, vl + 1);
	dc->dc_env[dc->dc_nenv++] = e;
	/* Accepted here; the pod's sshd decides (AcceptEnv) later. */
	return 0;
}

static void
direct_on_agent_req(ssh_session s, ssh_channel ch, void *arg)
{
	struct dchan *dc = arg;

	if (dchan_queue_open(dc))
		dc->dc_agent = true;
}

static int
direct_set_command(struct dchan *dc, enum dc_cmd cmd, const char *text)
{
	size_t len;

	if (!dchan_queue_open(dc))
		return -1;
	if (text != NULL) {
		len = strnlen(text, DIRECT_CMD_MAX + 1);
		if (len > DIRECT_CMD_MAX)
			return -1;
		if ((dc->dc_command = strndup(text, len)) == NULL)
			return -1;
	}
	/* For a refused session (DC_FAIL) this is the cue to say why. */
	dc->dc_cmd = cmd;
	dc->dc_d->d_last_request_ms = direct_now_ms();
	return 0;
}

static int
direct_on_shell(ssh_session s, ssh_channel ch, void *arg)
{
	return direct_set_command(arg, DC_CMD_SHELL, NULL);
}

static int
direct_on_exec(ssh_session s, ssh_channel ch, const char *command, void *arg)
{
	return direct_set_command(arg, DC_CMD_EXEC, command);
}

static int
direct_on_subsystem(ssh_session s, ssh_channel ch, const char *name,
    void *arg)
{
	return direct_set_command(arg, DC_CMD_SUBSYSTEM, name);
}

static void
direct_on_signal(ssh_session s, ssh_channel ch, const char *sig, void *arg)
{
	struct dchan *dc = arg;

	if (sig == NULL || dc->dc_nsignals >= DIRECT_SIGNALS_MAX ||
	    strlen(sig) >= sizeof(dc->dc_signals[0]))
		return;
	snprintf(dc->dc_signals[dc->dc_nsignals++], sizeof(dc->dc_signals[0]),
	    "%s", sig);
}

/* libssh callback: the client opens a session channel. */
static ssh_channel
direct_on_session_open(ssh_session s, void *arg)
{
	struct direct *d = arg;
	struct dchan *dc;

	if (d->d_ending || (dc = dchan_new(d, DC_SESSION)) == NULL)
		return NULL;
	if ((dc->dc_c = ssh_channel_new(d->d_c)) == NULL) {
		dchan_set_state(dc, DC_DEAD);
		return NULL;
	}
	dc->dc_c_up = true;
	direct_set_client_callbacks(dc);
	if (!direct_route(d))
		dchan_fail(dc, 1, "jumpgate: %s", d->d_why);
	else if (d->d_up_state == UP_FAILED || d->d_up_state == UP_LOST)
		dchan_fail(dc, 1, "%s", d->d_up_why);
	return dc->dc_c;
}

/* An upstream round trip inside a callback: the reply cannot wait. */
static int
direct_open_forward_now(struct dchan *dc)
{
	struct direct *d = dc->dc_d;
	int blocking = ssh_is_blocking(d->d_u), rc;

	if ((dc->dc_u = ssh_channel_new(d->d_u)) == NULL)
		return SSH_ERROR;
	ssh_set_blocking(d->d_u, 1);
	rc = ssh_channel_open_forward(dc->dc_u, dc->dc_host, dc->dc_port,
	    dc->dc_orig, dc->dc_orig_port);
	ssh_set_blocking(d->d_u, blocking);
	return rc;
}

/* The client asks for direct-tcpip (ssh -L, -D): a place in the pod. */
static int
direct_open_local(struct direct *d, ssh_message msg)
{
	const struct authkeys_entry *key = d->d_h.dh_key;
	const char *host, *orig;
	char esc[256];
	struct dchan *dc;
	int port, oport;

	host = ssh_message_channel_request_open_destination(msg);
	port = ssh_message_channel_request_open_destination_port(msg);
	orig = ssh_message_channel_request_open_originator(msg);
	oport = ssh_message_channel_request_open_originator_port(msg);
	if (host == NULL || port <= 0 || port > 65535 ||
	    strlen(host) >= sizeof(dc->dc_host))
		return 1;
	log_escape(esc, sizeof(esc), host, 100);
	if (key != NULL && !authkeys_permits_open(key, host,
	    (uint16_t)port)) {
		log_info("refused local port forward for %s from %s port %u "
		    "to %s port %d: the key's authorized_keys options do not "
		    "permit it", direct_user(d), d->d_h.dh_addr,
		    d->d_h.dh_port, esc, port);
		return 1;
	}
	if (!direct_route(d) || d->d_ending ||
	    d->d_up_state == UP_FAILED || d->d_up_state == UP_LOST ||
	    d->d_up_state == UP_CONNECTING)
		return 1;
	if ((dc = dchan_new(d, DC_LOCAL)) == NULL)
		return 1;
	snprintf(dc->dc_host, sizeof(dc->dc_host), "%s", host);
	dc->dc_port = (uint16_t)port;
	snprintf(dc->dc_orig, sizeof(dc->dc_orig), "%s",
	    orig != NULL ? orig : "127.0.0.1");
	dc->dc_orig_port = (uint16_t)(oport > 0 && oport <= 65535 ? oport : 0);
	if (d->d_up_state == UP_READY) {
		if (direct_open_forward_now(dc) != SSH_OK) {
			log_verbose("direct session %llu for %s: forward to %s "
			    "port %d in job %s failed: %s",
			    (unsigned long long)d->d_h.dh_session_id,
			    direct_user(d), esc, port, d->d_job,
			    d->d_u != NULL ? ssh_get_error(d->d_u) : "-");
			dchan_release(dc);
			return 1;
		}
		dc->dc_u_up = true;
		direct_set_upstream_callbacks(dc);
		dchan_set_state(dc, DC_OPEN);
	}
	/* Otherwise accepted now, opened upstream after the login. */
	dc->dc_c = ssh_message_channel_request_open_reply_accept(msg);
	if (dc->dc_c == NULL) {
		dchan_release(dc);
		return 0;
	}
	dc->dc_c_up = true;
	direct_set_client_callbacks(dc);
	return 0;
}

static struct direct_fwd *
direct_fwd_find(struct direct *d, const char *addr, uint16_t port)
{
	size_t i;

	for (i = 0; i < d->d_nfwd; i++)
		if (strcmp(d->d_fwd[i].df_addr, addr) == 0 &&
		    (d->d_fwd[i].df_port == port ||
		    d->d_fwd[i].df_bound == port))
			return &d->d_fwd[i];
	return NULL;
}

/* A global request upstream, answered before the callback returns. */
static int
direct_listen_now(struct direct *d, struct direct_fwd *f)
{
	int blocking = ssh_is_blocking(d->d_u), rc, bound = 0;

	d->d_global_busy = true;
	ssh_set_blocking(d->d_u, 1);
	rc = ssh_channel_listen_forward(d->d_u, f->df_addr, f->df_port,
	    &bound);
	ssh_set_blocking(d->d_u, blocking);
	d->d_global_busy = false;
	if (rc == SSH_OK)
		f->df_bound = bound > 0 && bound <= 65535 ? (uint16_t)bound :
		    f->df_port;
	return rc;
}

/* tcpip-forward (ssh -R): the pod listens, connections come back. */
static int
direct_remote_forward(struct direct *d, ssh_message msg)
{
	const struct authkeys_entry *key = d->d_h.dh_key;
	const char *addr = ssh_message_global_request_address(msg);
	int port = ssh_message_global_request_port(msg);
	struct direct_fwd *f;
	char esc[128];

	if (addr == NULL)
		addr = "";
	log_escape(esc, sizeof(esc), addr, 100);
	if (port < 0 || port > 65535 || strlen(addr) >= sizeof(f->df_addr))
		return 1;
	if (key != NULL && !key->ak_port_forwarding) {
		log_info("refused remote port forward for %s from %s port %u "
		    "(%s port %d): the key's authorized_keys options do not "
		    "permit it", direct_user(d), d->d_h.dh_addr,
		    d->d_h.dh_port, esc, port);
		return 1;
	}
	if (!direct_route(d) || d->d_ending || d->d_global_busy ||
	    d->d_nfwd >= DIRECT_FORWARDS_MAX)
		return 1;
	/* A dynamic port needs the pod's answer: log in now, key only. */
	if (d->d_up_state == UP_IDLE && port == 0)
		direct_upstream_login(d, false);
	/* A fixed port waits for a login in progress at a prompt. */
	if (d->d_up_state != UP_READY && d->d_up_state != UP_IDLE &&
	    (d->d_up_state != UP_PROMPT || port == 0))
		return 1;
	f = &d->d_fwd[d->d_nfwd];
	memset(f, 0, sizeof(*f));
	snprintf(f->df_addr, sizeof(f->df_addr), "%s", addr);
	f->df_port = (uint16_t)port;
	if (d->d_up_state != UP_READY) {
		f->df_deferred = true;
		f->df_bound = f->df_port;
	} else if (direct_listen_now(d, f) != SSH_OK) {
		log_info("remote port forward for %s (%s port %d) refused by "
		    "job %s: %s", direct_user(d), esc, port, d->d_job,
		    ssh_get_error(d->d_u));
		return 1;
	}
	d->d_nfwd++;
	d->d_last_request_ms = direct_now_ms();
	log_verbose("direct session %llu for %s: remote forward %s port %d "
	    "-> pod port %u%s", (unsigned long long)d->d_h.dh_session_id,
	    direct_user(d), esc, port, f->df_bound,
	    f->df_deferred ? " (after login)" : "");
	ssh_message_global_request_reply_success(msg, f->df_bound);
	return 0;
}

static int
direct_cancel_forward(struct direct *d, ssh_message msg)
{
	const char *addr = ssh_message_global_request_address(msg);
	int port = ssh_message_global_request_port(msg), blocking;
	struct direct_fwd *f;

	if (addr == NULL)
		addr = "";
	if (port < 0 || port > 65535 ||
	    (f = direct_fwd_find(d, addr, (uint16_t)port)) == NULL)
		return 1;
	if (!f->df_deferred && d->d_up_state == UP_READY &&
	    !d->d_global_busy) {
		d->d_global_busy = true;
		blocking = ssh_is_blocking(d->d_u);
		ssh_set_blocking(d->d_u, 1);
		(void)ssh_channel_cancel_forward(d->d_u, f->df_addr,
		    f->df_bound);
		ssh_set_blocking(d->d_u, blocking);
		d->d_global_busy = false;
	}
	*f = d->d_fwd[--d->d_nfwd];
	ssh_message_global_request_reply_success(msg, 0);
	return 0;
}

static struct dchan *
direct_find_client_channel(struct direct *d, ssh_channel ch)
{
	struct dchan *dc;

	TAILQ_FOREACH(dc, &d->d_chans, dc_entry)
		if (dc->dc_c == ch && ch != NULL)
			return dc;
	return NULL;
}

/* libssh callback for what the server callbacks do not take. */
static int
direct_on_client_message(ssh_session s, ssh_message msg, void *arg)
{
	struct direct *d = arg;
	struct dchan *dc;

	d->d_last_active_ms = direct_now_ms();
	switch (ssh_message_type(msg)) {
	case SSH_REQUEST_CHANNEL_OPEN:
		if (ssh_message_subtype(msg) == SSH_CHANNEL_DIRECT_TCPIP)
			return direct_open_local(d, msg);
		log_info("direct session %llu for %s: refused channel of type "
		    "%d", (unsigned long long)d->d_h.dh_session_id,
		    direct_user(d), ssh_message_subtype(msg));
		return 1;
	case SSH_REQUEST_GLOBAL:
		switch (ssh_message_subtype(msg)) {
		case SSH_GLOBAL_REQUEST_TCPIP_FORWARD:
			return direct_remote_forward(d, msg);
		case SSH_GLOBAL_REQUEST_CANCEL_TCPIP_FORWARD:
			return direct_cancel_forward(d, msg);
		case SSH_GLOBAL_REQUEST_KEEPALIVE:
			ssh_message_global_request_reply_success(msg, 0);
			return 0;
		default:
			return 1;
		}
	case SSH_REQUEST_CHANNEL:
		if (ssh_message_subtype(msg) == SSH_CHANNEL_REQUEST_X11 &&
		    (dc = direct_find_client_channel(d,
		    ssh_message_channel_request_channel(msg))) != NULL)
			snprintf(dc->dc_aside, sizeof(dc->dc_aside),
			    "jumpgate: X11 forwarding is not available in "
			    "direct mode (job '%s' of %s)\r\n",
			    d->d_h.dh_name.np_job, direct_user(d));
		return 1;	/* break, x11 and the unknown: refused */
	default:
		return 1;
	}
}

/* ---- Callbacks: upstream side ---- */

static int
direct_on_u_data(ssh_session s, ssh_channel ch, void *data, uint32_t len,
    int is_stderr, void *arg)
{
	struct dchan *dc = arg;
	struct direct *d = dc->dc_d;
	int e = is_stderr ? 1 : 0;

	d->d_last_active_ms = direct_now_ms();
	if (dc->dc_c_closed || dc->dc_c_eof_sent)
		return (int)len;	/* the client has gone */
	if (dc->dc_c == NULL || !dc->dc_c_up || dc->dc_state == DC_FAIL ||
	    dc->dc_state == DC_C_OPENING) {
		dc->dc_u_pending[e] = true;
		return 0;
	}
	return dchan_pass(dc->dc_c, data, len, is_stderr != 0,
	    &dc->dc_carry[1 + e], &dc->dc_u_pending[e], &d->d_bytes_down);
}

static void
direct_on_u_eof(ssh_session s, ssh_channel ch, void *arg)
{
	struct dchan *dc = arg;

	dc->dc_u_eof = true;
}

static void
direct_on_u_close(ssh_session s, ssh_channel ch, void *arg)
{
	struct dchan *dc = arg;

	dc->dc_u_closed = true;
	dc->dc_u_eof = true;
}

static void
direct_on_u_exit_status(ssh_session s, ssh_channel ch, int status, void *arg)
{
	struct dchan *dc = arg;

	dc->dc_exit_status_set = true;
	dc->dc_exit_status = status;
	log_debug("direct session %llu channel %u: exit status %d from the pod"
	    " (%s)", (unsigned long long)dc->dc_d->d_h.dh_session_id,
	    dc->dc_id, status, dc_state_names[dc->dc_state]);
}

static void
direct_on_u_exit_signal(ssh_session s, ssh_channel ch, const char *sig,
    int core, const char *errmsg, const char *lang, void *arg)
{
	struct dchan *dc = arg;

	if (sig == NULL)
		return;
	dc->dc_exit_signal_set = true;
	snprintf(dc->dc_exit_signal, sizeof(dc->dc_exit_signal), "%s", sig);
	dc->dc_exit_core = core != 0;
	snprintf(dc->dc_exit_errmsg, sizeof(dc->dc_exit_errmsg), "%s",
	    errmsg != NULL ? errmsg : "");
}

/* libssh callback: the pod opens an agent channel (ssh-add -l in it). */
static ssh_channel
direct_on_pod_agent_open(ssh_session s, void *arg)
{
	struct direct *d = arg;
	struct dchan *dc, *sdc;
	bool asked = false;

	TAILQ_FOREACH(sdc, &d->d_chans, dc_entry)
		if (sdc->dc_kind == DC_SESSION && sdc->dc_agent_sent)
			asked = true;
	if (!asked || d->d_ending || (dc = dchan_new(d, DC_AGENT)) == NULL)
		return NULL;
	if ((dc->dc_u = ssh_channel_new(d->d_u)) == NULL) {
		dchan_set_state(dc, DC_DEAD);
		return NULL;
	}
	dc->dc_u_up = true;
	direct_set_upstream_callbacks(dc);
	dchan_set_state(dc, DC_C_OPENING);
	return dc->dc_u;
}

/* libssh callback: forwarded-tcpip from the pod (a connection to -R). */
static int
direct_on_upstream_message(ssh_session s, ssh_message msg, void *arg)
{
	struct direct *d = arg;
	struct dchan *dc;
	const char *host, *orig;
	int port, oport;

	if (ssh_message_type(msg) != SSH_REQUEST_CHANNEL_OPEN ||
	    ssh_message_subtype(msg) != SSH_CHANNEL_FORWARDED_TCPIP ||
	    d->d_ending)
		return 1;
	host = ssh_message_channel_request_open_destination(msg);
	port = ssh_message_channel_request_open_destination_port(msg);
	orig = ssh_message_channel_request_open_originator(msg);
	oport = ssh_message_channel_request_open_originator_port(msg);
	if (host == NULL || port <= 0 || port > 65535 ||
	    direct_fwd_find(d, host, (uint16_t)port) == NULL)
		return 1;
	if ((dc = dchan_new(d, DC_REMOTE)) == NULL)
		return 1;
	snprintf(dc->dc_host, sizeof(dc->dc_host), "%s", host);
	dc->dc_port = (uint16_t)port;
	snprintf(dc->dc_orig, sizeof(dc->dc_orig), "%s",
	    orig != NULL ? orig : "127.0.0.1");
	dc->dc_orig_port = (uint16_t)(oport > 0 && oport <= 65535 ? oport : 0);
	dc->dc_u = ssh_message_channel_request_open_reply_accept(msg);
	if (dc->dc_u == NULL) {
		dchan_set_state(dc, DC_DEAD);
		return 0;
	}
	dc->dc_u_up = true;
	direct_set_upstream_callbacks(dc);
	dchan_set_state(dc, DC_C_OPENING);
	return 0;
}

static void
direct_set_client_callbacks(struct dchan *dc)
{
	const struct authkeys_entry *key = dc->dc_d->d_h.dh_key;

	memset(&dc->dc_ccb, 0, sizeof(dc->dc_ccb));
	dc->dc_ccb.userdata = dc;
	dc->dc_ccb.channel_data_function = direct_on_c_data;
	dc->dc_ccb.channel_eof_function = direct_on_c_eof;
	dc->dc_ccb.channel_close_function = direct_on_c_close;
	if (dc->dc_kind == DC_SESSION) {
		dc->dc_ccb.channel_signal_function = direct_on_signal;
		dc->dc_ccb.channel_pty_request_function = direct_on_pty;
		dc->dc_ccb.channel_shell_request_function = direct_on_shell;
		dc->dc_ccb.channel_pty_window_change_function =
		    direct_on_window_change;
		dc->dc_ccb.channel_exec_request_function = direct_on_exec;
		dc->dc_ccb.channel_env_request_function = direct_on_env;
		dc->dc_ccb.channel_subsystem_request_function =
		    direct_on_subsystem;
		/* Without the callback libssh refuses the request. */
		if (key == NULL || key->ak_agent_forwarding)
			dc->dc_ccb.channel_auth_agent_req_function =
			    direct_on_agent_req;
	}
	ssh_callbacks_init(&dc->dc_ccb);
	ssh_set_channel_callbacks(dc->dc_c, &dc->dc_ccb);
	dc->dc_ccb_set = true;
}

static void
direct_set_upstream_callbacks(struct dchan *dc)
{
	memset(&dc->dc_ucb, 0, sizeof(dc->dc_ucb));
	dc->dc_ucb.userdata = dc;
	dc->dc_ucb.channel_data_function = direct_on_u_data;
	dc->dc_ucb.channel_eof_function = direct_on_u_eof;
	dc->dc_ucb.channel_close_function = direct_on_u_close;
	dc->dc_ucb.channel_exit_status_function = direct_on_u_exit_status;
	dc->dc_ucb.channel_exit_signal_function = direct_on_u_exit_signal;
	ssh_callbacks_init(&dc->dc_ucb);
	ssh_set_channel_callbacks(dc->dc_u, &dc->dc_ucb);
	dc->dc_ucb_set = true;
}

/* ---- The pump: everything that is not a callback ---- */

/* Closes and frees both sides; the bridge is swept after the pump. */
static void
dchan_release(struct dchan *dc)
{
	struct direct *d = dc->dc_d;

	/* Callbacks first: a close may poll, and dc is about to go. */
	if (dc->dc_c != NULL) {
		if (dc->dc_ccb_set)
			ssh_remove_channel_callbacks(dc->dc_c, &dc->dc_ccb);
		if (dc->dc_c_up && ssh_is_connected(d->d_c))
			(void)ssh_channel_close(dc->dc_c);
		ssh_channel_free(dc->dc_c);
		dc->dc_c = NULL;
	}
	if (dc->dc_u != NULL) {
		if (dc->dc_ucb_set)
			ssh_remove_channel_callbacks(dc->dc_u, &dc->dc_ucb);
		if (dc->dc_u_up && d->d_u != NULL && ssh_is_connected(d->d_u))
			(void)ssh_channel_close(dc->dc_u);
		ssh_channel_free(dc->dc_u);
		dc->dc_u = NULL;
	}
	dc->dc_ccb_set = dc->dc_ucb_set = false;
	dchan_set_state(dc, DC_DEAD);
}

/* Moves what libssh kept back once the other side has room. */
static void
dchan_drain(struct dchan *dc, ssh_channel from, ssh_channel to,
    int from_stderr, bool *pending, uint64_t *counter, struct dcarry *carry)
{
	char buf[DIRECT_COPY_MAX];
	uint32_t win, want;
	int n, w;

	/* What `to` refused last time goes first, in order. */
	while (carry->ca_off < carry->ca_len) {
		w = direct_write(to, carry->ca_buf + carry->ca_off,
		    carry->ca_len - carry->ca_off, from_stderr != 0);
		if (w <= 0)
			return;
		carry->ca_off += (uint32_t)w;
		*counter += (uint64_t)w;
	}
	free(carry->ca_buf);
	memset(carry, 0, sizeof(*carry));
	while (*pending) {
		win = ssh_channel_window_size(to);
		if (win == 0)
			return;
		want = win < sizeof(buf) ? win : (uint32_t)sizeof(buf);
		n = ssh_channel_read_nonblocking(from, buf, want, from_stderr);
		if (n <= 0) {
			*pending = false;
			return;
		}
		/* Set before the write: a callback inside it may reset it. */
		*pending = (uint32_t)n == want;
		w = direct_write(to, buf, (uint32_t)n, from_stderr != 0);
		if (w < 0)
			return;
		*counter += (uint64_t)w;
		if (w < n) {
			if ((carry->ca_buf = malloc((size_t)(n - w))) == NULL)
				return;
			memcpy(carry->ca_buf, buf + w, (size_t)(n - w));
			carry->ca_len = (uint32_t)(n - w);
			carry->ca_off = 0;
			*pending = true;	/* come back for the carry */
			return;
		}
	}
}

static void
dchan_send_exit(struct dchan *dc)
{
	if (dc->dc_exit_sent || dc->dc_c == NULL || dc->dc_c_closed)
		return;
	if (dc->dc_exit_signal_set)
		(void)ssh_channel_request_send_exit_signal(dc->dc_c,
		    dc->dc_exit_signal, dc->dc_exit_core ? 1 : 0,
		    dc->dc_exit_errmsg, "");
	else if (dc->dc_exit_status_set)
		(void)ssh_channel_request_send_exit_status(dc->dc_c,
		    dc->dc_exit_status);
	else
		return;
	log_debug("direct session %llu channel %u: exit %s%d sent",
	    (unsigned long long)dc->dc_d->d_h.dh_session_id, dc->dc_id,
	    dc->dc_exit_signal_set ? "signal " : "status ",
	    dc->dc_exit_signal_set ? 0 : dc->dc_exit_status);
	dc->dc_exit_sent = true;
}

static void
dchan_relay(struct dchan *dc)
{
	struct direct *d = dc->dc_d;
	bool u_drained, c_drained;
	size_t i;

	if (dc->dc_aside[0] != '\0' && dc->dc_c != NULL && !dc->dc_c_closed) {
		(void)direct_write(dc->dc_c, dc->dc_aside,
		    (uint32_t)strlen(dc->dc_aside), true);
		dc->dc_aside[0] = '\0';
	}
	if (dc->dc_kind == DC_SESSION && !dc->dc_u_closed) {
		if (dc->dc_resize && dc->dc_pty) {
			(void)ssh_channel_change_pty_size(dc->dc_u,
			    dc->dc_new_cols, dc->dc_new_rows);
		}
		dc->dc_resize = false;
		for (i = 0; i < dc->dc_nsignals; i++)
			(void)ssh_channel_request_send_signal(dc->dc_u,
			    dc->dc_signals[i]);
		dc->dc_nsignals = 0;
	}
	if (!dc->dc_u_closed && !dc->dc_u_eof_sent)
		dchan_drain(dc, dc->dc_c, dc->dc_u, 0, &dc->dc_c_pending,
		    &d->d_bytes_up, &dc->dc_carry[0]);
	if (!dc->dc_c_closed && !dc->dc_c_eof_sent) {
		dchan_drain(dc, dc->dc_u, dc->dc_c, 0, &dc->dc_u_pending[0],
		    &d->d_bytes_down, &dc->dc_carry[1]);
		dchan_drain(dc, dc->dc_u, dc->dc_c, 1, &dc->dc_u_pending[1],
		    &d->d_bytes_down, &dc->dc_carry[2]);
	}
	c_drained = !dc->dc_c_pending;
	u_drained = !dc->dc_u_pending[0] && !dc->dc_u_pending[1];

	if (dc->dc_c_eof && c_drained && !dc->dc_u_eof_sent &&
	    !dc->dc_u_closed) {
		(void)ssh_channel_send_eof(dc->dc_u);
		dc->dc_u_eof_sent = true;
	}
	if (u_drained && !dc->dc_c_closed)
		dchan_send_exit(dc);
	/*
	 * A session's EOF waits for its exit status: OpenSSH's sshd sends
	 * EOF first, and PuTTY closes a channel that has EOF both ways, so
	 * a later exit status would never reach it.
	 */
	if (dc->dc_u_eof && u_drained && !dc->dc_c_eof_sent &&
	    !dc->dc_c_closed && (dc->dc_kind != DC_SESSION ||
	    dc->dc_exit_sent || dc->dc_u_closed)) {
		(void)ssh_channel_send_eof(dc->dc_c);
		dc->dc_c_eof_sent = true;
	}
	if ((dc->dc_u_closed && (u_drained || dc->dc_c_closed)) ||
	    (dc->dc_c_closed && (c_drained || dc->dc_u_closed))) {
		log_debug("direct session %llu channel %u: closed by the %s",
		    (unsigned long long)d->d_h.dh_session_id, dc->dc_id,
		    dc->dc_u_closed ? "pod" : "client");
		dchan_release(dc);
	}
}

/* Replays a session's queued requests upstream, one at a time. */
static void
dchan_replay(struct dchan *dc)
{
	struct direct *d = dc->dc_d;
	const char *name = NULL, *value;
	int rc = SSH_OK;

	for (;;) {
		switch (dc->dc_step) {
		case DC_STEP_PTY:
			if (dc->dc_pty)
				rc = ssh_channel_request_pty_size(dc->dc_u,
				    dc->dc_term, dc->dc_cols, dc->dc_rows);
			break;
		case DC_STEP_ENV:
			if (dc->dc_env_i < dc->dc_nenv) {
				name = dc->dc_env[dc->dc_env_i];
				value = name + strlen(name) + 1;
				rc = ssh_channel_request_env(dc->dc_u, name,
				    value);
			}
			break;
		case DC_STEP_AGENT:
			if (dc->dc_agent) {
				rc = ssh_channel_request_auth_agent(dc->dc_u);
				dc->dc_agent_sent = rc == SSH_OK;
			}
			break;
		case DC_STEP_CMD:
			switch (dc->dc_cmd) {
			case DC_CMD_SHELL:
				rc = ssh_channel_request_shell(dc->dc_u);
				break;
			case DC_CMD_EXEC:
				rc = ssh_channel_request_exec(dc->dc_u,
				    dc->dc_command);
				break;
			case DC_CMD_SUBSYSTEM:
				rc = ssh_channel_request_subsystem(dc->dc_u,
				    dc->dc_command);
				break;
			case DC_CMD_NONE:
				rc = SSH_ERROR;
				break;
			}
			break;
		case DC_STEP_DONE:
			dchan_set_state(dc, DC_OPEN);
			return;
		}
		if (rc == SSH_AGAIN)
			return;
		if (rc != SSH_OK) {
			switch (dc->dc_step) {
			case DC_STEP_PTY:
				log_info("direct session %llu for %s: job %s "
				    "refused a pty: %s",
				    (unsigned long long)d->d_h.dh_session_id,
				    direct_user(d), d->d_job,
				    ssh_get_error(d->d_u));
				break;
			case DC_STEP_ENV:
				log_verbose("direct session %llu for %s: job "
				    "%s did not take env %s",
				    (unsigned long long)d->d_h.dh_session_id,
				    direct_user(d), d->d_job, name);
				break;
			case DC_STEP_AGENT:
				log_info("direct session %llu for %s: job %s "
				    "refused agent forwarding",
				    (unsigned long long)d->d_h.dh_session_id,
				    direct_user(d), d->d_job);
				break;
			case DC_STEP_CMD:
				dchan_fail(dc, 1, "jumpgate: job '%s' of %s "
				    "refused the %s request%s%s",
				    d->d_h.dh_name.np_job, direct_user(d),
				    dc->dc_cmd == DC_CMD_SHELL ? "shell" :
				    dc->dc_cmd == DC_CMD_EXEC ? "exec" :
				    "subsystem",
				    dc->dc_cmd == DC_CMD_SUBSYSTEM ? " " : "",
				    dc->dc_cmd == DC_CMD_SUBSYSTEM ?
				    dc->dc_command : "");
				return;
			case DC_STEP_DONE:
				break;
			}
		}
		rc = SSH_OK;
		if (dc->dc_step == DC_STEP_ENV && ++dc->dc_env_i < dc->dc_nenv)
			continue;
		dc->dc_step++;
	}
}

/* A refused or failed channel: say why on stderr, exit status, close. */
static void
dchan_refuse(struct dchan *dc, uint64_t now)
{
	struct direct *d = dc->dc_d;

	if (dc->dc_kind != DC_SESSION || dc->dc_c == NULL || dc->dc_c_closed) {
		dchan_release(dc);
		return;
	}
	/* Answer the client's shell/exec first, as sshd would. */
	if (dc->dc_cmd == DC_CMD_NONE &&
	    now - dc->dc_opened_ms < DIRECT_FAIL_WAIT_MS)
		return;
	if (dc->dc_notice[0] != '\0') {
		/* A few hundred bytes: the client's window always has room. */
		(void)direct_write(dc->dc_c, dc->dc_notice,
		    (uint32_t)strlen(dc->dc_notice), true);
		(void)direct_write(dc->dc_c, "\r\n", 2, true);
		dc->dc_notice[0] = '\0';
	}
	if (!dc->dc_exit_sent)
		(void)ssh_channel_request_send_exit_status(dc->dc_c,
		    dc->dc_fail_status);
	(void)ssh_channel_send_eof(dc->dc_c);
	log_debug("direct session %llu channel %u refused",
	    (unsigned long long)d->d_h.dh_session_id, dc->dc_id);
	dchan_release(dc);
}

static void
dchan_step(struct dchan *dc, uint64_t now)
{
	struct direct *d = dc->dc_d;
	int rc;

	switch (dc->dc_state) {
	case DC_WAIT:
		if (dc->dc_c_closed) {
			dchan_release(dc);
			break;
		}
		if (d->d_up_state == UP_FAILED || d->d_up_state == UP_LOST) {
			if (dc->dc_kind == DC_SESSION)
				dchan_fail(dc, 1, "%s", d->d_up_why);
			else
				dchan_release(dc);
			break;
		}
		if (d->d_up_state != UP_READY ||
		    (dc->dc_kind == DC_SESSION && dc->dc_cmd == DC_CMD_NONE))
			break;
		if ((dc->dc_u = ssh_channel_new(d->d_u)) == NULL) {
			dchan_fail(dc, 1, "jumpgate: out of memory");
			break;
		}
		direct_set_upstream_callbacks(dc);
		dchan_set_state(dc, DC_UP_OPENING);
		/* FALLTHROUGH */
	case DC_UP_OPENING:
		if (dc->dc_kind == DC_SESSION)
			rc = ssh_channel_open_session(dc->dc_u);
		else
			rc = ssh_channel_open_forward(dc->dc_u, dc->dc_host,
			    dc->dc_port, dc->dc_orig, dc->dc_orig_port);
		if (rc == SSH_AGAIN)
			break;
		if (rc != SSH_OK) {
			log_info("direct session %llu for %s: job %s refused "
			    "a %s channel: %s",
			    (unsigned long long)d->d_h.dh_session_id,
			    direct_user(d), d->d_job,
			    dc_kind_names[dc->dc_kind], ssh_get_error(d->d_u));
			if (dc->dc_kind == DC_SESSION)
				dchan_fail(dc, 1, "jumpgate: job '%s' of %s "
				    "refused a session: %s",
				    d->d_h.dh_name.np_job, direct_user(d),
				    ssh_get_error(d->d_u));
			else
				dchan_release(dc);
			break;
		}
		dc->dc_u_up = true;
		if (dc->dc_kind != DC_SESSION) {
			dchan_set_state(dc, DC_OPEN);
			dchan_relay(dc);
			break;
		}
		dchan_set_state(dc, DC_REPLAY);
		/* FALLTHROUGH */
	case DC_REPLAY:
		dchan_replay(dc);
		if (dc->dc_state == DC_OPEN)
			dchan_relay(dc);
		else if (dc->dc_u_closed)
			dchan_release(dc);
		break;
	case DC_C_OPENING:
		if (dc->dc_u_closed) {
			dchan_release(dc);
			break;
		}
		if (dc->dc_c == NULL) {
			if ((dc->dc_c = ssh_channel_new(d->d_c)) == NULL) {
				dchan_release(dc);
				break;
			}
			direct_set_client_callbacks(dc);
		}
		if (dc->dc_kind == DC_AGENT)
			rc = ssh_channel_open_auth_agent(dc->dc_c);
		else
			rc = ssh_channel_open_reverse_forward(dc->dc_c,
			    dc->dc_host, dc->dc_port, dc->dc_orig,
			    dc->dc_orig_port);
		if (rc == SSH_AGAIN)
			break;
		if (rc != SSH_OK) {
			log_verbose("direct session %llu for %s: the client "
			    "refused a %s channel",
			    (unsigned long long)d->d_h.dh_session_id,
			    direct_user(d), dc_kind_names[dc->dc_kind]);
			dchan_release(dc);
			break;
		}
		dc->dc_c_up = true;
		dchan_set_state(dc, DC_OPEN);
		/* FALLTHROUGH */
	case DC_OPEN:
		dchan_relay(dc);
		break;
	case DC_FAIL:
		dchan_refuse(dc, now);
		break;
	case DC_DEAD:
	case DC_STATE_MAX:
		break;
	}
}

/* True when something is waiting for the login to the pod. */
static bool
direct_wants_upstream(const struct direct *d, uint64_t now)
{
	const struct dchan *dc;
	bool deferred = false;
	size_t i;

	TAILQ_FOREACH(dc, &d->d_chans, dc_entry) {
		if (dc->dc_state != DC_WAIT)
			continue;
		if (dc->dc_kind == DC_SESSION && dc->dc_cmd != DC_CMD_NONE)
			return true;
		if (dc->dc_kind == DC_SESSION)
			return false;	/* its agent request may follow */
		deferred = true;
	}
	for (i = 0; i < d->d_nfwd; i++)
		if (d->d_fwd[i].df_deferred)
			deferred = true;
	return deferred && now - d->d_last_request_ms >= DIRECT_DEFER_MS;
}

static void
direct_listen_deferred(struct direct *d)
{
	struct direct_fwd *f;
	size_t i;

	for (i = 0; i < d->d_nfwd && !d->d_global_busy; i++) {
		f = &d->d_fwd[i];
		if (!f->df_deferred)
			continue;
		f->df_deferred = false;
		if (direct_listen_now(d, f) != SSH_OK)
			log_info("remote port forward for %s (port %u) refused "
			    "by job %s: %s", direct_user(d), f->df_port,
			    d->d_job, ssh_get_error(d->d_u));
	}
}

/* The pod went away under a running session. */
static void
direct_upstream_lost(struct direct *d, uint64_t now)
{
	struct dchan *dc;
	const char *why;

	why = d->d_u != NULL ? ssh_get_error(d->d_u) : "";
	if (why == NULL || *why == '\0')
		why = "connection closed";
	d->d_up_state = UP_LOST;
	snprintf(d->d_up_why, sizeof(d->d_up_why), "jumpgate: lost the "
	    "connection to job '%s' of %s: pod %s at %s port %u: %s",
	    d->d_job, direct_user(d), d->d_pod, d->d_addr, d->d_node_port,
	    why);
	log_info("direct session for %s from %s port %u: lost job %s pod %s "
	    "at %s port %u: %s", direct_user(d), d->d_h.dh_addr,
	    d->d_h.dh_port, d->d_job, d->d_pod, d->d_addr, d->d_node_port,
	    why);
	if (d->d_u_in_event)
		ssh_event_remove_session(d->d_event, d->d_u);
	d->d_u_in_event = false;
	TAILQ_FOREACH(dc, &d->d_chans, dc_entry) {
		if (dc->dc_kind == DC_SESSION && dc->dc_state != DC_DEAD) {
			/* The pod's channel is gone with it. */
			dc->dc_u_pending[0] = dc->dc_u_pending[1] = false;
			dchan_fail(dc, 255, "%s", d->d_up_why);
			dc->dc_cmd = dc->dc_cmd == DC_CMD_NONE ?
			    DC_CMD_SHELL : dc->dc_cmd;
		} else if (dc->dc_state != DC_DEAD)
			dchan_release(dc);
	}
	snprintf(d->d_reason, sizeof(d->d_reason), "pod connection lost: %s",
	    why);
	snprintf(d->d_disconnect_msg, sizeof(d->d_disconnect_msg), "%s",
	    d->d_up_why);
	d->d_ending = true;
	d->d_end_deadline_ms = now + DIRECT_ENDING_MS;
}

static void
direct_sweep(struct direct *d)
{
	struct dchan *dc, *next;

	for (dc = TAILQ_FIRST(&d->d_chans); dc != NULL; dc = next) {
		next = TAILQ_NEXT(dc, dc_entry);
		if (dc->dc_state != DC_DEAD)
			continue;
		TAILQ_REMOVE(&d->d_chans, dc, dc_entry);
		d->d_nchans--;
		dchan_free(dc);
	}
}

static bool
direct_client_alive(const struct direct *d)
{
	return ssh_get_fd(d->d_c) == d->d_h.dh_fd &&
	    !(ssh_get_status(d->d_c) & (SSH_CLOSED | SSH_CLOSED_ERROR));
}

/* One round of work after a poll; marks d_done when the session ends. */
static void
direct_pump(struct direct *d)
{
	const struct config_limits *lim = &d->d_h.dh_cfg->limits;
	struct dchan *dc;
	uint64_t now = direct_now_ms();

	if (!direct_client_alive(d)) {
		snprintf(d->d_reason, sizeof(d->d_reason), "client closed");
		d->d_done = true;
		return;
	}
	if (d->d_up_state == UP_READY && (!ssh_is_connected(d->d_u) ||
	    (ssh_get_status(d->d_u) & (SSH_CLOSED | SSH_CLOSED_ERROR))))
		direct_upstream_lost(d, now);
	if (d->d_up_state == UP_IDLE && direct_wants_upstream(d, now))
		direct_upstream_login(d, true);
	if (d->d_up_state == UP_PROMPT)
		direct_pw_step(d, now);
	if (d->d_up_state == UP_READY)
		direct_listen_deferred(d);
	TAILQ_FOREACH(dc, &d->d_chans, dc_entry)
		if (dc->dc_state != DC_DEAD)
			dchan_step(dc, now);
	direct_sweep(d);

	if (lim->idle_timeout_s > 0 && now - d->d_last_active_ms >=
	    (uint64_t)lim->idle_timeout_s * 1000) {
		snprintf(d->d_reason, sizeof(d->d_reason), "idle timeout");
		snprintf(d->d_disconnect_msg, sizeof(d->d_disconnect_msg),
		    "jumpgate: idle for %u s", lim->idle_timeout_s);
		d->d_done = true;
		return;
	}
	if (d->d_ending && (d->d_nchans == 0 || now >= d->d_end_deadline_ms)) {
		/* Let the client read the last words before the end. */
		(void)ssh_blocking_flush(d->d_c, 1000);
		d->d_done = true;
	}
}

/*
 * After the login sshd sends a small message that wants no answer
 * (hostkeys-00), so Nagle holds its reply to our channel open or request
 * until our delayed ACK: 40 ms on every session.  While such a reply is
 * awaited, acknowledge at once; Linux drops back to delayed ACKs by
 * itself, so this is set again before each wait.
 */
static void
direct_quickack(struct direct *d)
{
	const struct dchan *dc;
	int one = 1;

	if (d->d_up_state != UP_READY || !d->d_u_in_event)
		return;
	TAILQ_FOREACH(dc, &d->d_chans, dc_entry) {
		if (dc->dc_state == DC_UP_OPENING ||
		    dc->dc_state == DC_REPLAY) {
			(void)setsockopt(d->d_u_fd, IPPROTO_TCP, TCP_QUICKACK,
			    &one, sizeof(one));
			return;
		}
	}
}

/* The gateway stops: each session is told why before the disconnect. */
static void
direct_shutdown(struct direct *d)
{
	struct dchan *dc;

	TAILQ_FOREACH(dc, &d->d_chans, dc_entry) {
		if (dc->dc_kind == DC_SESSION && dc->dc_state != DC_DEAD) {
			dc->dc_u_pending[0] = dc->dc_u_pending[1] = false;
			/* One already refused keeps its own notice. */
			dchan_fail(dc, 255, "jumpgate: the gateway is shutting "
			    "down; session to job '%s' of %s closed",
			    d->d_h.dh_name.np_job, direct_user(d));
			if (dc->dc_cmd == DC_CMD_NONE)
				dc->dc_cmd = DC_CMD_SHELL;
		} else if (dc->dc_state != DC_DEAD)
			dchan_release(dc);
	}
	snprintf(d->d_reason, sizeof(d->d_reason), "gateway shutting down");
	snprintf(d->d_disconnect_msg, sizeof(d->d_disconnect_msg),
	    "jumpgate: the gateway is shutting down");
	d->d_ending = true;
	d->d_end_deadline_ms = direct_now_ms() + 500;
}

/* ---- Thread life ---- */

static void
direct_finish(struct direct *d)
{
	struct audit_record ar;
	struct dchan *dc;

	TAILQ_FOREACH(dc, &d->d_chans, dc_entry)
		if (dc->dc_state != DC_DEAD)
			dchan_release(dc);
	direct_sweep(d);
	direct_prompt_wipe(&d->d_pw);
	direct_upstream_free(d);
	if (d->d_event != NULL) {
		ssh_event_remove_session(d->d_event, d->d_c);
		ssh_event_free(d->d_event);
		d->d_event = NULL;
	}
	/* libssh owns the client socket and knows whether it closed it. */
	if (d->d_disconnect_msg[0] != '\0')
		ssh_session_set_disconnect_message(d->d_c, d->d_disconnect_msg);
	ssh_disconnect(d->d_c);
	ssh_free(d->d_c);
	d->d_c = NULL;

	log_info("Disconnected from user %s %s port %u", direct_user(d),
	    d->d_h.dh_addr, d->d_h.dh_port);
	memset(&ar, 0, sizeof(ar));
	ar.ar_session_id = d->d_h.dh_session_id;
	ar.ar_user = direct_user(d);
	ar.ar_job = d->d_job;
	ar.ar_pod = d->d_pod;
	ar.ar_endpoint = d->d_endpoint;
	ar.ar_mode = "direct";
	ar.ar_client_addr = d->d_h.dh_addr;
	ar.ar_client_port = d->d_h.dh_port;
	ar.ar_bytes_up = d->d_bytes_up;
	ar.ar_bytes_down = d->d_bytes_down;
	ar.ar_duration_ms = direct_now_ms() - d->d_h.dh_started_ms;
	ar.ar_reason = d->d_reason[0] != '\0' ? d->d_reason : "closed";
	audit_session_end(&ar);
	metrics_add(METRIC_BYTES_UP, d->d_bytes_up);
	metrics_add(METRIC_BYTES_DOWN, d->d_bytes_down);
	admission_session_end(d->d_h.dh_admission, direct_user(d));
	authkeys_unref(d->d_h.dh_keys);
	d->d_h.dh_keys = NULL;
	d->d_h.dh_key = NULL;
}

static void *
direct_main(void *arg)
{
	struct direct *d = arg;
	bool detach;

	/* libssh keeps its log level per thread. */
	ssh_set_log_level(log_get_level() >= LOG_LEVEL_DEBUG ?
	    SSH_LOG_WARN : SSH_LOG_NOLOG);
	ssh_callbacks_init(&d->d_scb);
	d->d_scb.userdata = d;
	d->d_scb.channel_open_request_session_function =
	    direct_on_session_open;
	ssh_set_server_callbacks(d->d_c, &d->d_scb);
	ssh_set_message_callback(d->d_c, direct_on_client_message, d);
	/* Only blocking calls (the agent login) use it. */
	direct_set_timeout(d->d_c, d->d_h.dh_cfg->upstream.auth_timeout_ms);
	ssh_set_blocking(d->d_c, 0);
	d->d_last_active_ms = d->d_last_request_ms = direct_now_ms();
	if ((d->d_event = ssh_event_new()) == NULL ||
	    ssh_event_add_session(d->d_event, d->d_c) != SSH_OK) {
		log_error("direct session %llu for %s: cannot create an ssh "
		    "event", (unsigned long long)d->d_h.dh_session_id,
		    direct_user(d));
		snprintf(d->d_reason, sizeof(d->d_reason), "internal error");
		d->d_done = true;
	}
	while (!d->d_done) {
		if (atomic_load(&d->d_stop) && !d->d_ending) {
			direct_shutdown(d);
			direct_pump(d);
			continue;
		}
		direct_quickack(d);
		(void)ssh_event_dopoll(d->d_event, DIRECT_POLL_MS);
		direct_pump(d);
	}
	direct_finish(d);

	pthread_mutex_lock(&direct_lock);
	detach = !direct_stopping;
	if (detach) {
		TAILQ_REMOVE(&direct_list, d, d_entry);
		pthread_detach(pthread_self());
	}
	atomic_fetch_sub(&direct_live, 1);
	pthread_mutex_unlock(&direct_lock);
	if (detach)
		free(d);
	return NULL;
}

void
relay_direct_start(const struct direct_handoff *h)
{
	struct direct *d;
	pthread_attr_t attr;
	const char *why = NULL;
	int rc;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		why = "out of memory";
	else {
		d->d_h = *h;
		d->d_c = h->dh_ssh;
		d->d_u_fd = -1;
		TAILQ_INIT(&d->d_chans);
		atomic_init(&d->d_stop, false);
	}
	pthread_mutex_lock(&direct_lock);
	if (why == NULL && direct_stopping)
		why = "the gateway is shutting down";
	if (why == NULL) {
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, DIRECT_THREAD_STACK);
		rc = pthread_create(&d->d_thread, &attr, direct_main, d);
		pthread_attr_destroy(&attr);
		if (rc != 0)
			why = strerror(rc);
		else {
			TAILQ_INSERT_TAIL(&direct_list, d, d_entry);
			atomic_fetch_add(&direct_live, 1);
		}
	}
	pthread_mutex_unlock(&direct_lock);
	if (why == NULL)
		return;

	log_error("refused direct session for %s from %s port %u: cannot "
	    "start its thread: %s", h->dh_name.np_user, h->dh_addr,
	    h->dh_port, why);
	ssh_session_set_disconnect_message(h->dh_ssh, "jumpgate: the gateway "
	    "cannot take more direct sessions now; try again later");
	ssh_disconnect(h->dh_ssh);
	ssh_free(h->dh_ssh);
	authkeys_unref(h->dh_keys);
	admission_session_end(h->dh_admission, h->dh_name.np_user);
	free(d);
}

void
relay_direct_stop_all(void)
{
	struct direct *d;

	pthread_mutex_lock(&direct_lock);
	direct_stopping = true;
	TAILQ_FOREACH(d, &direct_list, d_entry)
		atomic_store(&d->d_stop, true);
	pthread_mutex_unlock(&direct_lock);
	/* Nobody else changes the list while direct_stopping is set. */
	while ((d = TAILQ_FIRST(&direct_list)) != NULL) {
		pthread_join(d->d_thread, NULL);
		TAILQ_REMOVE(&direct_list, d, d_entry);
		free(d);
	}
	pthread_mutex_lock(&direct_lock);
	direct_stopping = false;
	pthread_mutex_unlock(&direct_lock);
}

size_t
relay_direct_count(void)
{
	return atomic_load(&direct_live);
}
