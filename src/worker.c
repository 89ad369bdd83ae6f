/*
 * worker.c: the SSH worker thread: one epoll set, the sessions accepted on
 * it, a deadline sweep and a graveyard.  Owns the epoll fd and eventfd;
 * sessions own their sockets.  Runs on its own thread; worker_new/start/
 * stop/free run on the main thread, worker_wake_for_keys on any thread.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <libssh/libssh.h>

#include "listener.h"
#include "log.h"
#include "relay_jump.h"
#include "server.h"
#include "session.h"
#include "worker.h"

uint64_t
worker_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct worker *
worker_new(struct server *srv, int id, char *err, size_t errlen)
{
	struct worker *w;
	struct epoll_event ev;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		jg_detail(err, errlen, "worker %d: out of memory", id);
		return NULL;
	}
	w->wk_id = id;
	w->wk_server = srv;
	w->wk_wakefd = -1;
	w->wk_epfd = -1;
	TAILQ_INIT(&w->wk_sessions);
	TAILQ_INIT(&w->wk_graveyard);
	TAILQ_INIT(&w->wk_dead_relays);
	TAILQ_INIT(&w->wk_lingering);
	if ((w->wk_epfd = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (w->wk_wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		jg_detail(err, errlen, "worker %d: %s", id, strerror(errno));
		worker_free(w);
		return NULL;
	}
	w->wk_wake_handle.wh_kind = WK_WAKE;
	w->wk_wake_handle.wh_ptr = w;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = &w->wk_wake_handle;
	if (epoll_ctl(w->wk_epfd, EPOLL_CTL_ADD, w->wk_wakefd, &ev) == -1) {
		jg_detail(err, errlen, "worker %d: epoll: %s", id,
		    strerror(errno));
		worker_free(w);
		return NULL;
	}
	return w;
}

int
worker_watch(struct worker *w, int fd, uint32_t events, struct wk_handle *h)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = h;
	return epoll_ctl(w->wk_epfd, EPOLL_CTL_ADD, fd, &ev);
}

int
worker_rewatch(struct worker *w, int fd, uint32_t events, struct wk_handle *h)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = h;
	return epoll_ctl(w->wk_epfd, EPOLL_CTL_MOD, fd, &ev);
}

void
worker_unwatch(struct worker *w, int fd)
{
	/* ENOENT is fine: the fd may never have been added. */
	(void)epoll_ctl(w->wk_epfd, EPOLL_CTL_DEL, fd, NULL);
}

void
worker_drain(struct worker *w)
{
	uint64_t one = 1;

	atomic_store(&w->wk_draining, true);
	(void)!write(w->wk_wakefd, &one, sizeof(one));
}

void
worker_wait_drained(struct worker *w)
{
	struct timespec pause = { 0, 1000 * 1000 };
	int i;

	/* The worker answers within one loop turn (at most a sweep). */
	for (i = 0; i < 5000 && w->wk_started &&
	    !atomic_load(&w->wk_drained); i++)
		nanosleep(&pause, NULL);
}

void
worker_wake_for_keys(struct worker *w)
{
	uint64_t one = 1;

	atomic_store(&w->wk_keys_ready, true);
	/* EAGAIN means the counter is already non-zero: a wake is pending. */
	(void)!write(w->wk_wakefd, &one, sizeof(one));
}

static void
worker_set_listening(struct worker *w, bool on)
{
	struct server *srv = w->wk_server;
	struct listener *ls;
	size_t i;

	if (w->wk_listening == on)
		return;
	for (i = 0; i < srv->srv_nlisteners; i++) {
		ls = &srv->srv_listeners[i];
		if (on) {
			/* EPOLLEXCLUSIVE: one worker wakes per connection. */
			if (worker_watch(w, ls->ls_fd, EPOLLIN | EPOLLEXCLUSIVE,
			    &ls->ls_handle) == -1)
				log_error("worker %d: cannot watch listener "
				    "%s port %u: %s", w->wk_id, ls->ls_addr,
				    ls->ls_port, strerror(errno));
		} else
			worker_unwatch(w, ls->ls_fd);
	}
	w->wk_listening = on;
}

void
worker_pause_accept(struct worker *w)
{
	worker_set_listening(w, false);
	w->wk_accept_resume_ms = worker_now_ms() + 1000;
}

void
worker_linger(struct worker *w, int fd)
{
	struct linger_sock *lg;

	(void)shutdown(fd, SHUT_WR);
	if (w->wk_nlingering >= WORKER_LINGER_MAX ||
	    (lg = calloc(1, sizeof(*lg))) == NULL) {
		close(fd);
		return;
	}
	lg->lg_fd = fd;
	lg->lg_deadline_ms = worker_now_ms() + WORKER_LINGER_MS;
	lg->lg_handle.wh_kind = WK_LINGER;
	lg->lg_handle.wh_ptr = lg;
	if (worker_watch(w, fd, EPOLLIN | EPOLLRDHUP, &lg->lg_handle) == -1) {
		close(fd);
		free(lg);
		return;
	}
	TAILQ_INSERT_TAIL(&w->wk_lingering, lg, lg_entry);
	w->wk_nlingering++;
}

/* Closes the socket; the struct goes at the next bury. */
static void
worker_linger_end(struct worker *w, struct linger_sock *lg)
{
	if (lg->lg_fd == -1)
		return;
	worker_unwatch(w, lg->lg_fd);
	close(lg->lg_fd);
	lg->lg_fd = -1;
}

static void
worker_linger_on_io(struct worker *w, struct linger_sock *lg)
{
	char buf[4096];
	ssize_t n;
	int i;

	for (i = 0; i < 4 && lg->lg_fd != -1; i++) {
		n = read(lg->lg_fd, buf, sizeof(buf));
		if (n > 0)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		worker_linger_end(w, lg);
	}
}

static void
worker_sweep(struct worker *w, uint64_t now)
{
	struct linger_sock *lg;

	struct session *s, *next;

	for (s = TAILQ_FIRST(&w->wk_sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, ses_entry);
		session_check_deadlines(s, now);
	}
	TAILQ_FOREACH(lg, &w->wk_lingering, lg_entry)
		if (now >= lg->lg_deadline_ms)
			worker_linger_end(w, lg);
	if (w->wk_accept_resume_ms != 0 && now >= w->wk_accept_resume_ms &&
	    !atomic_load(&w->wk_stop) && !atomic_load(&w->wk_draining)) {
		w->wk_accept_resume_ms = 0;
		worker_set_listening(w, true);
	}
}

static void
worker_bury(struct worker *w)
{
	struct session *s;
	struct relay *r;
	struct linger_sock *lg, *lgnext;

	for (lg = TAILQ_FIRST(&w->wk_lingering); lg != NULL; lg = lgnext) {
		lgnext = TAILQ_NEXT(lg, lg_entry);
		if (lg->lg_fd == -1) {
			TAILQ_REMOVE(&w->wk_lingering, lg, lg_entry);
			w->wk_nlingering--;
			free(lg);
		}
	}
	while ((r = TAILQ_FIRST(&w->wk_dead_relays)) != NULL) {
		TAILQ_REMOVE(&w->wk_dead_relays, r, rl_entry);
		relay_jump_free(r);
	}
	while ((s = TAILQ_FIRST(&w->wk_graveyard)) != NULL) {
		TAILQ_REMOVE(&w->wk_graveyard, s, ses_entry);
		session_free(s);
	}
}

static void
worker_on_wake(struct worker *w)
{
	struct session *s, *next;
	uint64_t count;

	(void)!read(w->wk_wakefd, &count, sizeof(count));
	if (atomic_exchange(&w->wk_keys_ready, false)) {
		for (s = TAILQ_FIRST(&w->wk_sessions); s != NULL; s = next) {
			next = TAILQ_NEXT(s, ses_entry);
			if (s->ses_state == SESSION_AUTH_WAIT)
				session_resume_if_keys(s);
		}
	}
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event events[WORKER_EVENTS_MAX];
	struct wk_handle *h;
	struct session *s;
	uint64_t now;
	int i, n, timeout;

	/* libssh keeps its log level per thread. */
	ssh_set_log_level(log_get_level() >= LOG_LEVEL_DEBUG ?
	    SSH_LOG_WARN : SSH_LOG_NOLOG);
	worker_set_listening(w, true);
	w->wk_next_sweep_ms = worker_now_ms() + WORKER_SWEEP_MS;

	while (!atomic_load(&w->wk_stop)) {
		now = worker_now_ms();
		timeout = now >= w->wk_next_sweep_ms ? 0 :
		    (int)(w->wk_next_sweep_ms - now);
		n = epoll_wait(w->wk_epfd, events, WORKER_EVENTS_MAX, timeout);
		if (n == -1 && errno != EINTR) {
			log_error("worker %d: epoll_wait: %s", w->wk_id,
			    strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			h = events[i].data.ptr;
			switch (h->wh_kind) {
			case WK_LISTENER:
				listener_accept(h->wh_ptr, w);
				break;
			case WK_SESSION:
				s = h->wh_ptr;
				if (!s->ses_dead)
					session_on_io(s, events[i].events);
				break;
			case WK_TARGET:
				relay_jump_on_io(h->wh_ptr, events[i].events);
				break;
			case WK_WAKE:
				worker_on_wake(w);
				break;
			case WK_LINGER:
				worker_linger_on_io(w, h->wh_ptr);
				break;
			}
		}
		now = worker_now_ms();
		if (now >= w->wk_next_sweep_ms) {
			worker_sweep(w, now);
			w->wk_next_sweep_ms = now + WORKER_SWEEP_MS;
		}
		if (atomic_load(&w->wk_draining) &&
		    !atomic_load(&w->wk_drained)) {
			worker_set_listening(w, false);
			w->wk_accept_resume_ms = 0;
			atomic_store(&w->wk_drained, true);
		}
		worker_bury(w);
	}

	worker_set_listening(w, false);
	while ((s = TAILQ_FIRST(&w->wk_sessions)) != NULL) {
		snprintf(s->ses_disconnect_msg, sizeof(s->ses_disconnect_msg),
		    "jumpgate: the gateway is shutting down; connect again "
		    "to reach another one");
		session_close(s, "gateway shutting down");
	}
	{
		struct linger_sock *lg;

		TAILQ_FOREACH(lg, &w->wk_lingering, lg_entry)
			worker_linger_end(w, lg);
	}
	worker_bury(w);
	return NULL;
}

enum jg_err
worker_start(struct worker *w, char *err, size_t errlen)
{
	sigset_t all, old;
	int rc;

	/* Signals go to the main thread only: workers start with all
	 * blocked. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&w->wk_thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		jg_detail(err, errlen, "worker %d: cannot start thread: %s",
		    w->wk_id, strerror(rc));
		return JG_ERR_LIMIT;
	}
	w->wk_started = true;
	return JG_OK;
}

void
worker_stop(struct worker *w)
{
	uint64_t one = 1;

	if (w == NULL || !w->wk_started)
		return;
	atomic_store(&w->wk_stop, true);
	(void)!write(w->wk_wakefd, &one, sizeof(one));
	pthread_join(w->wk_thread, NULL);
	w->wk_started = false;
}

void
worker_free(struct worker *w)
{
	if (w == NULL)
		return;
	if (w->wk_epfd != -1)
		close(w->wk_epfd);
	if (w->wk_wakefd != -1)
		close(w->wk_wakefd);
	free(w);
}
