/*
 * worker.h: one SSH worker thread: an epoll loop that owns its sessions.
 * Every fd a worker watches (listening sockets, client sockets, pod
 * sockets, its wake eventfd) is registered with a struct wk_handle naming
 * what it belongs to.  A session and everything hanging off it belong to
 * one worker; other threads reach a worker only through worker_wake().
 * Objects closed during one batch of epoll events are freed after the
 * batch (the graveyard), so a later event in the same batch never touches
 * freed memory.
 */
#ifndef JG_WORKER_H
#define JG_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/queue.h>

#include "err.h"

struct server;
struct session;
struct relay;

enum wk_kind {
	WK_LISTENER = 0,	/* wh_ptr: struct listener */
	WK_SESSION,		/* wh_ptr: struct session (client socket) */
	WK_TARGET,		/* wh_ptr: struct relay (pod socket) */
	WK_WAKE,		/* wh_ptr: struct worker (eventfd) */
	WK_LINGER,		/* wh_ptr: struct linger_sock (closing socket) */
};

struct wk_handle {
	enum wk_kind	 wh_kind;
	void		*wh_ptr;
};

TAILQ_HEAD(session_list, session);
TAILQ_HEAD(relay_list, relay);

/*
 * A socket we are done with but keep open for a moment after sending a
 * DISCONNECT: its write side is shut, and whatever the client still sends
 * is read and dropped until it hangs up.  Closing at once would answer
 * the client's next packet with a reset, which can destroy the message
 * before the client reads it.
 */
struct linger_sock {
	TAILQ_ENTRY(linger_sock) lg_entry;
	int		 lg_fd;		/* -1 once closed */
	uint64_t	 lg_deadline_ms;
	struct wk_handle lg_handle;
};
TAILQ_HEAD(linger_list, linger_sock);

#define WORKER_LINGER_MAX	1024	/* sockets lingering per worker */
#define WORKER_LINGER_MS	2000

/*
 * How often the worker checks deadlines.  Timeouts here are seconds
 * (login grace, idle) or a few seconds (connect), so a sweep every
 * 100 ms keeps them within a tenth of a second without a timer heap.
 */
#define WORKER_SWEEP_MS		100
#define WORKER_EVENTS_MAX	256

struct worker {
	int		 wk_id;
	struct server	*wk_server;
	pthread_t	 wk_thread;
	bool		 wk_started;
	int		 wk_epfd;
	int		 wk_wakefd;		/* eventfd */
	struct wk_handle wk_wake_handle;
	atomic_bool	 wk_stop;		/* set by worker_stop() */
	atomic_bool	 wk_keys_ready;		/* a key fetch finished */
	bool		 wk_listening;		/* listeners in our epoll */
	uint64_t	 wk_accept_resume_ms;	/* after EMFILE, or 0 */
	uint64_t	 wk_next_sweep_ms;
	struct session_list wk_sessions;	/* live */
	struct session_list wk_graveyard;	/* closed, freed after batch */
	struct relay_list wk_dead_relays;	/* likewise */
	struct linger_list wk_lingering;
	size_t		 wk_nlingering;
	atomic_size_t	 wk_nsessions;		/* read by the main thread */
	atomic_bool	 wk_draining;		/* stop accepting */
	atomic_bool	 wk_drained;		/* listeners removed */
};

/* Creates the epoll set and eventfd.  NULL with err filled on failure. */
struct worker *worker_new(struct server *srv, int id, char *err,
	    size_t errlen);
/* Starts the thread.  Main thread. */
enum jg_err worker_start(struct worker *w, char *err, size_t errlen);
/* Asks the thread to close its sessions and exit, and joins it.  Main. */
void	worker_stop(struct worker *w);
void	worker_free(struct worker *w);		/* NULL is a no-op */

/* Takes ownership of fd, a socket that has just been sent its last
 * words: shuts its write side and closes it when the peer hangs up or
 * after WORKER_LINGER_MS.  Worker thread. */
void	worker_linger(struct worker *w, int fd);

/* Stops accepting on this worker for a second (after EMFILE/ENFILE) rather
 * than spin on a listener it cannot take from.  Worker thread. */
void	worker_pause_accept(struct worker *w);

/* Asks the worker to stop accepting; worker_wait_drained() returns once
 * it has taken the listeners out of its epoll.  Main thread. */
void	worker_drain(struct worker *w);
void	worker_wait_drained(struct worker *w);

/* Wakes the worker from any thread (e.g. a key fetch finished). */
void	worker_wake_for_keys(struct worker *w);

/* epoll registration helpers.  Worker thread only.  Return 0 or -1. */
int	worker_watch(struct worker *w, int fd, uint32_t events,
	    struct wk_handle *h);
int	worker_rewatch(struct worker *w, int fd, uint32_t events,
	    struct wk_handle *h);
void	worker_unwatch(struct worker *w, int fd);

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t worker_now_ms(void);

#endif /* JG_WORKER_H */
