/*
 * jg_sink.c: a TCP sink standing in for a pod in the jump benchmark: it
 * accepts connections, discards what they send and holds them until the
 * peer hangs up.  Owns its sockets only.  One thread, one epoll set; it
 * writes "open=N accepted=M" to a status file when the counts change and
 * exits on SIGTERM or after its time limit.
 */
#define _GNU_SOURCE	/* accept4(2) */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#define SINK_EVENTS_MAX		256
#define SINK_STATUS_MS		100
#define SINK_BACKLOG		4096

static volatile sig_atomic_t sink_stop;

static void
sink_on_signal(int sig)
{
	(void)sig;
	sink_stop = 1;
}

static long
sink_number(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "jg_sink: '%s' is not a number in %ld..%ld\n",
		    s, min, max);
		exit(2);
	}
	return v;
}

static double
sink_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Replaces the status file whole, so a reader never sees half a line. */
static void
sink_write_status(const char *path, long open, long accepted)
{
	char tmp[4096];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return;
	if ((f = fopen(tmp, "w")) == NULL)
		return;
	fprintf(f, "open=%ld accepted=%ld\n", open, accepted);
	if (fclose(f) == 0)
		(void)rename(tmp, path);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin;
	struct epoll_event ev, events[SINK_EVENTS_MAX];
	struct sigaction sa;
	const char *status;
	char buf[65536];
	double deadline, next_status = 0;
	long open = 0, accepted = 0, last_open = -1, last_acc = -1;
	int lfd, epfd, fd, i, n, one = 1;
	ssize_t r;

	if (argc != 5) {
		fprintf(stderr, "usage: jg_sink addr port status_file "
		    "max_seconds\n");
		return 2;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)sink_number(argv[2], 1, 65535));
	if (inet_pton(AF_INET, argv[1], &sin.sin_addr) != 1) {
		fprintf(stderr, "jg_sink: '%s' is not an IPv4 address\n",
		    argv[1]);
		return 2;
	}
	status = argv[3];
	deadline = sink_now() + (double)sink_number(argv[4], 1, 86400);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sink_on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd == -1 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, SINK_BACKLOG) == -1) {
		fprintf(stderr, "jg_sink: listen on %s port %s: %s\n", argv[1],
		    argv[2], strerror(errno));
		return 1;
	}
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return 1;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev) == -1)
		return 1;

	while (!sink_stop && sink_now() < deadline) {
		n = epoll_wait(epfd, events, SINK_EVENTS_MAX, SINK_STATUS_MS);
		for (i = 0; i < n; i++) {
			if (events[i].data.fd == lfd) {
				/* A bounded batch: other sockets get a turn. */
				int k;

				for (k = 0; k < 256; k++) {
					fd = accept4(lfd, NULL, NULL,
					    SOCK_NONBLOCK | SOCK_CLOEXEC);
					if (fd == -1)
						break;
					ev.events = EPOLLIN;
					ev.data.fd = fd;
					if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd,
					    &ev) == -1) {
						close(fd);
						continue;
					}
					open++;
					accepted++;
				}
				continue;
			}
			fd = events[i].data.fd;
			r = read(fd, buf, sizeof(buf));
			if (r == 0 || (r < 0 && errno != EAGAIN &&
			    errno != EINTR)) {
				epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
				close(fd);
				open--;
			}
		}
		if (sink_now() >= next_status &&
		    (open != last_open || accepted != last_acc)) {
			sink_write_status(status, open, accepted);
			last_open = open;
			last_acc = accepted;
			next_status = sink_now() + SINK_STATUS_MS / 1000.0;
		}
	}
	sink_write_status(status, open, accepted);
	return 0;
}
