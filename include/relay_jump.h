/*
 * relay_jump.h: jump mode.  A direct-tcpip channel that resolved to a pod
 * rule is relayed to a non-blocking TCP connection to address:nodePort.
 * Flow control both ways: client -> pod through the channel data
 * callback's return value (what the pod socket did not take stays in
 * libssh and holds the SSH window closed); pod -> client by reading the
 * pod socket only while the SSH channel window is open.  Half-close is
 * passed on both ways.  The only buffer of our own is a bounded one
 * (relay_buffer_bytes at most) for bytes taken from libssh that the pod
 * socket did not accept at once; it is allocated only while it holds data.
 *
 * A refused jump to an SSH port is answered in-band: the channel carries
 * an SSH identification line and a plaintext SSH_MSG_DISCONNECT whose
 * text the user's ssh prints ("Received disconnect from UNKNOWN port
 * 65535:2: jumpgate: job 'x' not found for alice ..."), because libssh
 * 0.10 cannot put a description into a channel-open failure.
 * Worker thread only.
 */
#ifndef JG_RELAY_JUMP_H
#define JG_RELAY_JUMP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <libssh/libssh.h>
#include <libssh/callbacks.h>

#include "route.h"
#include "session.h"

enum relay_state {
	RELAY_NEW = 0,		/* channel accepted; not yet acted on */
	RELAY_CONNECTING,	/* non-blocking connect under way */
	RELAY_OPEN,		/* bytes flow */
	RELAY_REFUSING,		/* send the in-band refusal */
	RELAY_REFUSED,		/* refusal sent; wait for the client's EOF */
	RELAY_CLOSED,
	RELAY_STATE_MAX
};

struct relay {
	TAILQ_ENTRY(relay) rl_entry;
	struct session	*rl_session;
	ssh_channel	 rl_channel;
	struct ssh_channel_callbacks_struct rl_cb;
	enum relay_state rl_state;
	int		 rl_fd;		/* pod socket, or -1 */
	struct wk_handle rl_handle;
	uint32_t	 rl_events;	/* current epoll interest */
	uint64_t	 rl_deadline_ms; /* connect deadline */
	uint64_t	 rl_started_ms;

	/* client -> pod */
	uint32_t	 rl_backlog;	/* bytes libssh holds for us */
	uint8_t		*rl_upbuf;	/* taken from libssh, not yet sent */
	size_t		 rl_upbuf_len;
	size_t		 rl_upbuf_off;
	size_t		 rl_upbuf_max;
	bool		 rl_client_eof;
	bool		 rl_pod_shut_wr;
	/* pod -> client */
	uint8_t		*rl_downbuf;	/* read from the pod, not yet taken
					 * by libssh (rekey); one chunk */
	size_t		 rl_downbuf_len;
	size_t		 rl_downbuf_off;
	bool		 rl_pod_eof;
	bool		 rl_channel_closed;	/* the relay must end */
	/* Set when the pod ended the tunnel first (EOF before the client's,
	 * or a socket error): the close reason for logs and the audit. */
	char		 rl_pod_end[SESSION_POD_END_MAX];

	uint64_t	 rl_bytes_up;
	uint64_t	 rl_bytes_down;

	char		 rl_target[NAME_JOB_MAX * 4 + 8]; /* escaped, for logs */
	uint16_t	 rl_target_port;
	char		 rl_job[NAME_JOB_MAX + 1];
	char		 rl_pod[2 * 254];
	char		 rl_address[ROUTE_ADDR_MAX];
	uint16_t	 rl_node_port;
	char		*rl_refusal;	/* in-band message, or NULL */
	uint32_t	 rl_refusal_code; /* SSH_MSG_DISCONNECT reason */
	bool		 rl_ssh_port;	/* target port speaks SSH */
};

/*
 * From the message callback: the client asked for a direct-tcpip channel
 * to host:port.  Resolves it; always answers the open request (accept or
 * refuse) before returning, as libssh 0.10 requires.  Returns 0 when msg
 * was answered.
 */
int	relay_jump_open(struct session *s, ssh_message msg);

/* After each session dispatch: start connects, send refusals, update
 * epoll interest, pump pod -> client when the window reopened. */
void	relay_jump_after_dispatch(struct relay *r);

/* The pod socket is ready.  Worker thread. */
void	relay_jump_on_io(struct relay *r, uint32_t events);

/* Connect and refusal deadlines.  True when it acted (the session must
 * then be refreshed). */
bool	relay_jump_check_deadline(struct relay *r, uint64_t now_ms);

/* Closes the relay (pod socket and channel) and adds its byte counts to
 * the session.  Not from inside a libssh callback. */
void	relay_jump_close(struct relay *r, const char *reason);

void	relay_jump_free(struct relay *r);

/* Builds the in-band refusal (identification line + DISCONNECT packet)
 * into buf; returns its length, or 0 when buf is too small.  Exposed for
 * tests. */
size_t	relay_jump_build_refusal(const char *message, uint32_t reason_code,
	    uint8_t *buf, size_t buflen);

#endif /* JG_RELAY_JUMP_H */
