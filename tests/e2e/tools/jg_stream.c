/*
 * jg_stream.c: data-moving load client and echo "pod" for the load tests.
 * Owns nothing of jumpgate.  "client" mode opens N jump sessions (libssh
 * client API, blocking set-up in a few threads), then moves a deterministic
 * pseudo-random stream through each at once (non-blocking, one ssh_event
 * per thread) and checks what comes back.  "echo" mode is a one-thread
 * epoll echo server standing in for the job's port; it hashes what each
 * connection sent so the upload direction is checked on its own.
 *
 * Build: cc -O2 -o jg_stream jg_stream.c -lssh -lcrypto -lpthread
 */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <openssl/evp.h>

#define STREAM_SESSIONS_MAX	100000
#define STREAM_THREADS_MAX	64
#define STREAM_CHUNK		32768	/* generated and written at a time */
#define STREAM_HDR_LEN		64	/* "jg_stream IDX BYTES" line, padded */
#define STREAM_ERR_MAX		200
#define STREAM_ORIG_PORT	40000
#define ECHO_BUF		65536	/* per connection; full = stop reading */
#define ECHO_EVENTS		256

enum stream_state {
	SS_CONNECTING,	/* not yet set up */
	SS_MOVING,	/* sending and receiving */
	SS_DONE,	/* both directions complete, checked */
	SS_FAILED,
};

struct stream_opts {
	const char	*so_addr;
	int		 so_port;
	const char	*so_user;
	const char	*so_key;
	const char	*so_dest;
	int		 so_dest_port;
	const char	*so_cipher;
	const char	*so_report;
	long		 so_count;
	long		 so_threads;
	long		 so_cap_s;
	uint64_t	 so_bytes;
};

struct stream_sess {
	long		 ss_idx;
	enum stream_state ss_state;
	ssh_session	 ss_ssh;
	ssh_channel	 ss_ch;
	struct ssh_channel_callbacks_struct ss_cb;
	uint64_t	 ss_prng;
	uint64_t	 ss_generated;	/* bytes put into ss_pend so far */
	uint64_t	 ss_sent;
	uint64_t	 ss_recv;
	unsigned char	 ss_pend[STREAM_CHUNK];
	size_t		 ss_pend_len;
	size_t		 ss_pend_off;
	bool		 ss_eof_sent;
	bool		 ss_eof_rcvd;
	bool		 ss_closed;
	EVP_MD_CTX	*ss_up;		/* of what we generated (= sent) */
	EVP_MD_CTX	*ss_down;	/* of what came back */
	char		 ss_sha_up[65];
	char		 ss_sha_down[65];
	char		 ss_err[STREAM_ERR_MAX];
};

struct stream_state_all {
	struct stream_opts so;
	struct stream_sess *sessions;
	pthread_barrier_t barrier;
	atomic_long	 connected;
	double		 t_start;
	double		 t_moving;	/* when the barrier opened */
	double		 deadline;
};

static volatile sig_atomic_t echo_stop;

static double
stream_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long
stream_number(const char *s, long min, long max, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "jg_stream: %s: '%s' is not a number in "
		    "%ld..%ld\n", what, s, min, max);
		exit(2);
	}
	return v;
}

static void
stream_usage(void)
{
	fprintf(stderr,
	    "usage: jg_stream client -a addr -p port -l user -i key -d dest "
	    "-P dest_port\n"
	    "                 [-n sessions] [-c threads] [-b bytes] "
	    "[-s cap_s] [-C cipher] [-o report]\n"
	    "       jg_stream echo -a addr -p port -o report [-w ready_file]\n");
	exit(2);
}

static void
stream_hex(EVP_MD_CTX *md, char out[65])
{
	unsigned char d[32];
	unsigned int n = 0, i;

	EVP_DigestFinal_ex(md, d, &n);
	for (i = 0; i < 32 && i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
	out[64] = '\0';
}

/* splitmix64 seeds xorshift64*: cheap, and every session differs. */
static uint64_t
stream_seed(long idx)
{
	uint64_t z = (uint64_t)idx + 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return z != 0 ? z : 1;
}

/* Fills ss_pend with the next piece of the stream (header first). */
static void
stream_generate(struct stream_sess *s, uint64_t total)
{
	uint64_t left = total - s->ss_generated, x, v;
	size_t n = left < STREAM_CHUNK ? (size_t)left : STREAM_CHUNK, i = 0;

	if (s->ss_generated == 0) {
		char hdr[STREAM_HDR_LEN + 1];

		memset(hdr, '.', sizeof(hdr));
		snprintf(hdr, sizeof(hdr), "jg_stream %ld %llu ", s->ss_idx,
		    (unsigned long long)total);
		hdr[strlen(hdr)] = '.';
		hdr[STREAM_HDR_LEN - 1] = '\n';
		i = n < STREAM_HDR_LEN ? n : STREAM_HDR_LEN;
		memcpy(s->ss_pend, hdr, i);
	}
	x = s->ss_prng;
	for (; i < n; i += 8) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		v = x * 0x2545f4914f6cdd1dULL;
		memcpy(s->ss_pend + i, &v, n - i < 8 ? n - i : 8);
	}
	s->ss_prng = x;
	EVP_DigestUpdate(s->ss_up, s->ss_pend, n);
	s->ss_pend_len = n;
	s->ss_pend_off = 0;
	s->ss_generated += n;
}

static void
stream_fail(struct stream_sess *s, const char *what)
{
	if (s->ss_state == SS_FAILED)
		return;
	snprintf(s->ss_err, sizeof(s->ss_err), "%s: %s", what,
	    s->ss_ssh != NULL ? ssh_get_error(s->ss_ssh) : "-");
	s->ss_state = SS_FAILED;
}

static int
stream_on_data(ssh_session ssh, ssh_channel ch, void *data, uint32_t len,
    int is_stderr, void *userdata)
{
	struct stream_sess *s = userdata;

	if (!is_stderr) {
		EVP_DigestUpdate(s->ss_down, data, len);
		s->ss_recv += len;
	}
	return (int)len;
}

static void
stream_on_eof(ssh_session ssh, ssh_channel ch, void *userdata)
{
	((struct stream_sess *)userdata)->ss_eof_rcvd = true;
}

static void
stream_on_close(ssh_session ssh, ssh_channel ch, void *userdata)
{
	((struct stream_sess *)userdata)->ss_closed = true;
}

/* Blocking set-up of one session up to an open channel. */
static bool
stream_connect(struct stream_state_all *st, struct stream_sess *s,
    ssh_key key)
{
	const struct stream_opts *o = &st->so;
	long timeout = 60, verbosity = SSH_LOG_NOLOG;
	int port = o->so_port, no = 0, yes = 1, rc;

	if ((s->ss_ssh = ssh_new()) == NULL) {
		stream_fail(s, "connect");
		return false;
	}
	ssh_options_set(s->ss_ssh, SSH_OPTIONS_PROCESS_CONFIG, &no);
	ssh_options_set(s->ss_ssh, SSH_OPTIONS_LOG_VERBOSITY, &verbosity);
	ssh_options_set(s->ss_ssh, SSH_OPTIONS_HOST, o->so_addr);
	ssh_options_set(s->ss_ssh, SSH_OPTIONS_PORT, &port);
	ssh_options_set(s->ss_ssh, SSH_OPTIONS_USER, o->so_user);
	ssh_options_set(s->ss_ssh, SSH_OPTIONS_TIMEOUT, &timeout);
	ssh_options_set(s->ss_ssh, SSH_OPTIONS_NODELAY, &yes);
	ssh_options_set(s->ss_ssh, SSH_OPTIONS_STRICTHOSTKEYCHECK, &no);
	ssh_options_set(s->ss_ssh, SSH_OPTIONS_KNOWNHOSTS, "/dev/null");
	ssh_options_set(s->ss_ssh, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null");
	ssh_options_set(s->ss_ssh, SSH_OPTIONS_HOSTKEYS, "ssh-ed25519");
	ssh_options_set(s->ss_ssh, SSH_OPTIONS_CIPHERS_C_S, o->so_cipher);
	ssh_options_set(s->ss_ssh, SSH_OPTIONS_CIPHERS_S_C, o->so_cipher);
	if (ssh_connect(s->ss_ssh) != SSH_OK) {
		stream_fail(s, "connect");
		return false;
	}
	rc = ssh_userauth_none(s->ss_ssh, NULL);
	if (rc != SSH_AUTH_SUCCESS)
		rc = ssh_userauth_publickey(s->ss_ssh, NULL, key);
	if (rc != SSH_AUTH_SUCCESS) {
		stream_fail(s, "auth");
		return false;
	}
	if ((s->ss_ch = ssh_channel_new(s->ss_ssh)) == NULL ||
	    ssh_channel_open_forward(s->ss_ch, o->so_dest, o->so_dest_port,
	    "127.0.0.1", STREAM_ORIG_PORT) != SSH_OK) {
		stream_fail(s, "open");
		return false;
	}
	s->ss_cb.userdata = s;
	s->ss_cb.channel_data_function = stream_on_data;
	s->ss_cb.channel_eof_function = stream_on_eof;
	s->ss_cb.channel_close_function = stream_on_close;
	ssh_callbacks_init(&s->ss_cb);
	if (ssh_set_channel_callbacks(s->ss_ch, &s->ss_cb) != SSH_OK) {
		stream_fail(s, "callbacks");
		return false;
	}
	ssh_set_blocking(s->ss_ssh, 0);
	s->ss_state = SS_MOVING;
	return true;
}

/* Writes what the channel window allows; sends EOF after the last byte. */
static void
stream_pump(struct stream_sess *s, uint64_t total)
{
	uint32_t win;
	size_t n;
	int rc;

	while (s->ss_state == SS_MOVING && !s->ss_eof_sent) {
		if (s->ss_pend_off == s->ss_pend_len) {
			if (s->ss_generated == total) {
				if (ssh_channel_send_eof(s->ss_ch) == SSH_ERROR)
					stream_fail(s, "send eof");
				s->ss_eof_sent = true;
				return;
			}
			stream_generate(s, total);
		}
		if ((win = ssh_channel_window_size(s->ss_ch)) == 0)
			return;
		n = s->ss_pend_len - s->ss_pend_off;
		if (n > win)
			n = win;
		rc = ssh_channel_write(s->ss_ch, s->ss_pend + s->ss_pend_off,
		    (uint32_t)n);
		if (rc < 0) {
			stream_fail(s, "write");
			return;
		}
		if (rc == 0)
			return;
		s->ss_pend_off += (size_t)rc;
		s->ss_sent += (uint64_t)rc;
	}
}

/* Decides whether a moving session is finished, well or badly. */
static void
stream_settle(struct stream_sess *s, uint64_t total)
{
	int status;

	if (s->ss_state != SS_MOVING)
		return;
	if (s->ss_recv > total) {
		snprintf(s->ss_err, sizeof(s->ss_err), "received %llu bytes, "
		    "more than the %llu sent", (unsigned long long)s->ss_recv,
		    (unsigned long long)total);
		s->ss_state = SS_FAILED;
		return;
	}
	if (s->ss_eof_rcvd && s->ss_eof_sent) {
		s->ss_state = SS_DONE;
		return;
	}
	status = ssh_get_status(s->ss_ssh);
	if ((status & (SSH_CLOSED | SSH_CLOSED_ERROR)) != 0)
		stream_fail(s, "session closed");
	else if (s->ss_closed || ssh_channel_is_closed(s->ss_ch))
		stream_fail(s, "channel closed before EOF");
}

static void
stream_release(struct stream_sess *s, ssh_event ev)
{
	if (s->ss_ssh == NULL)
		return;
	if (ev != NULL)
		ssh_event_remove_session(ev, s->ss_ssh);
	if (s->ss_ch != NULL) {
		ssh_channel_close(s->ss_ch);
		ssh_channel_free(s->ss_ch);
		s->ss_ch = NULL;
	}
	ssh_disconnect(s->ss_ssh);
	ssh_free(s->ss_ssh);
	s->ss_ssh = NULL;
}

static void *
stream_thread(void *arg)
{
	struct stream_state_all *st = ((void **)arg)[0];
	long t = (long)(intptr_t)((void **)arg)[1];
	const struct stream_opts *o = &st->so;
	struct stream_sess *s;
	ssh_event ev;
	ssh_key key = NULL;
	long i, active = 0;

	if (ssh_pki_import_privkey_file(o->so_key, NULL, NULL, NULL,
	    &key) != SSH_OK) {
		fprintf(stderr, "jg_stream: cannot read key %s\n", o->so_key);
		exit(1);
	}
	ev = ssh_event_new();
	for (i = t; i < o->so_count; i += o->so_threads) {
		s = &st->sessions[i];
		if (stream_now() >= st->deadline) {
			snprintf(s->ss_err, sizeof(s->ss_err),
			    "not started before the time cap");
			s->ss_state = SS_FAILED;
			continue;
		}
		if (!stream_connect(st, s, key)) {
			stream_release(s, NULL);
			continue;
		}
		ssh_event_add_session(ev, s->ss_ssh);
		atomic_fetch_add(&st->connected, 1);
	}
	ssh_key_free(key);
	/* Every session is open before any moves: all N are concurrent. */
	pthread_barrier_wait(&st->barrier);
	for (i = t; i < o->so_count; i += o->so_threads)
		if (st->sessions[i].ss_state == SS_MOVING)
			active++;
	while (active > 0 && stream_now() < st->deadline) {
		for (i = t; i < o->so_count; i += o->so_threads)
			stream_pump(&st->sessions[i], o->so_bytes);
		ssh_event_dopoll(ev, 50);
		for (i = t; i < o->so_count; i += o->so_threads) {
			s = &st->sessions[i];
			if (s->ss_state != SS_MOVING)
				continue;
			stream_settle(s, o->so_bytes);
			if (s->ss_state != SS_MOVING) {
				active--;
				stream_release(s, ev);
			}
		}
	}
	for (i = t; i < o->so_count; i += o->so_threads) {
		s = &st->sessions[i];
		if (s->ss_state == SS_MOVING) {
			snprintf(s->ss_err, sizeof(s->ss_err), "stalled at the "
			    "time cap: sent %llu, received %llu",
			    (unsigned long long)s->ss_sent,
			    (unsigned long long)s->ss_recv);
			s->ss_state = SS_FAILED;
		}
		stream_release(s, ev);
	}
	ssh_event_free(ev);
	return NULL;
}

static int
stream_client(int argc, char **argv)
{
	static struct stream_state_all st;
	struct stream_opts *o = &st.so;
	pthread_t threads[STREAM_THREADS_MAX];
	void *args[STREAM_THREADS_MAX][2];
	struct stream_sess *s;
	FILE *rep = NULL;
	long i, nthreads = 0, done = 0, corrupt = 0, failed = 0;
	uint64_t up = 0, down = 0;
	double t_end, moving_s;
	char first_err[STREAM_ERR_MAX + 32] = "";
	int ch;

	o->so_cipher = "aes128-gcm@openssh.com";
	o->so_count = 100;
	o->so_threads = 4;
	o->so_cap_s = 120;
	o->so_bytes = 4 << 20;
	while ((ch = getopt(argc, argv, "a:p:l:i:d:P:n:c:b:s:C:o:")) != -1) {
		switch (ch) {
		case 'a': o->so_addr = optarg; break;
		case 'p': o->so_port = (int)stream_number(optarg, 1, 65535,
		    "-p"); break;
		case 'l': o->so_user = optarg; break;
		case 'i': o->so_key = optarg; break;
		case 'd': o->so_dest = optarg; break;
		case 'P': o->so_dest_port = (int)stream_number(optarg, 1,
		    65535, "-P"); break;
		case 'n': o->so_count = stream_number(optarg, 1,
		    STREAM_SESSIONS_MAX, "-n"); break;
		case 'c': o->so_threads = stream_number(optarg, 1,
		    STREAM_THREADS_MAX, "-c"); break;
		case 'b': o->so_bytes = (uint64_t)stream_number(optarg,
		    STREAM_HDR_LEN, 1L << 40, "-b"); break;
		case 's': o->so_cap_s = stream_number(optarg, 1, 3600, "-s");
			break;
		case 'C': o->so_cipher = optarg; break;
		case 'o': o->so_report = optarg; break;
		default: stream_usage();
		}
	}
	if (o->so_addr == NULL || o->so_port == 0 || o->so_user == NULL ||
	    o->so_key == NULL || o->so_dest == NULL || o->so_dest_port == 0)
		stream_usage();
	if (o->so_threads > o->so_count)
		o->so_threads = o->so_count;
	if ((st.sessions = calloc((size_t)o->so_count,
	    sizeof(*st.sessions))) == NULL) {
		fprintf(stderr, "jg_stream: out of memory\n");
		return 1;
	}
	for (i = 0; i < o->so_count; i++) {
		s = &st.sessions[i];
		s->ss_idx = i;
		s->ss_prng = stream_seed(i);
		s->ss_up = EVP_MD_CTX_new();
		s->ss_down = EVP_MD_CTX_new();
		if (s->ss_up == NULL || s->ss_down == NULL ||
		    EVP_DigestInit_ex(s->ss_up, EVP_sha256(), NULL) != 1 ||
		    EVP_DigestInit_ex(s->ss_down, EVP_sha256(), NULL) != 1) {
			fprintf(stderr, "jg_stream: cannot set up sha256\n");
			return 1;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	ssh_init();
	pthread_barrier_init(&st.barrier, NULL, (unsigned)o->so_threads + 1);
	st.t_start = stream_now();
	st.deadline = st.t_start + (double)o->so_cap_s;
	for (i = 0; i < o->so_threads; i++) {
		args[i][0] = &st;
		args[i][1] = (void *)(intptr_t)i;
		if (pthread_create(&threads[i], NULL, stream_thread,
		    args[i]) != 0) {
			fprintf(stderr, "jg_stream: cannot start threads\n");
			exit(1);
		}
		nthreads++;
	}
	pthread_barrier_wait(&st.barrier);
	st.t_moving = stream_now();
	printf("# all set up: %ld of %ld sessions open after %.3f s\n",
	    atomic_load(&st.connected), o->so_count,
	    st.t_moving - st.t_start);
	fflush(stdout);
	for (i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	t_end = stream_now();

	if (o->so_report != NULL && (rep = fopen(o->so_report, "w")) == NULL)
		fprintf(stderr, "jg_stream: cannot write %s\n", o->so_report);
	for (i = 0; i < o->so_count; i++) {
		const char *verdict;

		s = &st.sessions[i];
		stream_hex(s->ss_up, s->ss_sha_up);
		stream_hex(s->ss_down, s->ss_sha_down);
		up += s->ss_sent;
		down += s->ss_recv;
		if (s->ss_state == SS_DONE && s->ss_sent == o->so_bytes &&
		    s->ss_recv == o->so_bytes &&
		    strcmp(s->ss_sha_up, s->ss_sha_down) == 0) {
			verdict = "ok";
			done++;
		} else if (s->ss_state == SS_DONE) {
			verdict = "corrupt";
			corrupt++;
		} else {
			verdict = "failed";
			failed++;
			if (first_err[0] == '\0')
				snprintf(first_err, sizeof(first_err), "%ld: %s",
				    i, s->ss_err);
		}
		if (rep != NULL)
			fprintf(rep, "%ld %s %llu %llu %s %s %s\n", i, verdict,
			    (unsigned long long)s->ss_sent,
			    (unsigned long long)s->ss_recv, s->ss_sha_up,
			    s->ss_sha_down, s->ss_err[0] != '\0' ? s->ss_err :
			    "-");
		EVP_MD_CTX_free(s->ss_up);
		EVP_MD_CTX_free(s->ss_down);
	}
	if (rep != NULL)
		fclose(rep);
	moving_s = t_end - st.t_moving;
	printf("sessions=%ld connected=%ld ok=%ld corrupt=%ld failed=%ld "
	    "bytes_up=%llu bytes_down=%llu setup_s=%.3f moving_s=%.3f "
	    "mib_per_s=%.1f first_error=\"%s\"\n", o->so_count,
	    atomic_load(&st.connected), done, corrupt, failed,
	    (unsigned long long)up, (unsigned long long)down,
	    st.t_moving - st.t_start, moving_s,
	    moving_s > 0 ? (double)(up + down) / 1048576.0 / moving_s : 0.0,
	    first_err);
	fflush(stdout);
	free(st.sessions);
	ssh_finalize();
	return done == o->so_count ? 0 : 1;
}

/* ---- echo mode ---- */

struct echo_conn {
	int		 ec_fd;
	unsigned char	 ec_buf[ECHO_BUF];
	size_t		 ec_len;
	size_t		 ec_off;
	unsigned char	 ec_hdr[STREAM_HDR_LEN];
	size_t		 ec_hdr_len;
	uint64_t	 ec_bytes;
	uint32_t	 ec_mask;	/* what epoll waits for now */
	bool		 ec_rd_eof;
	EVP_MD_CTX	*ec_md;
};

static void
echo_on_signal(int sig)
{
	echo_stop = 1;
}

static void
echo_close(struct echo_conn *c, FILE *rep, long *open_n)
{
	char sha[65], idx[32] = "-";
	unsigned int k;

	stream_hex(c->ec_md, sha);
	/* "jg_stream IDX ..." names the client session; else "-". */
	if (c->ec_hdr_len == STREAM_HDR_LEN &&
	    memcmp(c->ec_hdr, "jg_stream ", 10) == 0) {
		for (k = 0; k + 1 < sizeof(idx) && 10 + k < STREAM_HDR_LEN &&
		    c->ec_hdr[10 + k] >= '0' && c->ec_hdr[10 + k] <= '9'; k++)
			idx[k] = (char)c->ec_hdr[10 + k];
		idx[k] = '\0';
		if (k == 0)
			snprintf(idx, sizeof(idx), "-");
	}
	fprintf(rep, "%s %llu %s %s\n", idx, (unsigned long long)c->ec_bytes,
	    sha, c->ec_rd_eof ? "eof" : "cut");
	fflush(rep);
	EVP_MD_CTX_free(c->ec_md);
	close(c->ec_fd);
	free(c);
	(*open_n)--;
}

/* Writes what is buffered; true when the buffer is empty. */
static bool
echo_flush(struct echo_conn *c)
{
	ssize_t n;

	while (c->ec_off < c->ec_len) {
		n = write(c->ec_fd, c->ec_buf + c->ec_off,
		    c->ec_len - c->ec_off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		c->ec_off += (size_t)n;
	}
	c->ec_off = c->ec_len = 0;
	return true;
}

static void
echo_want(struct echo_conn *c, int ep, uint32_t mask)
{
	struct epoll_event e;

	if (c->ec_mask == mask)
		return;
	e.events = mask;
	e.data.ptr = c;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->ec_fd, &e);
	c->ec_mask = mask;
}

/*
 * Returns false when the connection is finished (or broken).  At most 16
 * reads per call, so that one busy connection cannot starve the others
 * (epoll is level-triggered: it comes back).
 */
static bool
echo_serve(struct echo_conn *c, int ep)
{
	ssize_t n;
	size_t h;
	int rounds;

	for (rounds = 0; rounds < 16; rounds++) {
		if (!echo_flush(c)) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return false;
			echo_want(c, ep, EPOLLOUT);
			return true;
		}
		if (c->ec_rd_eof) {
			shutdown(c->ec_fd, SHUT_WR);
			return false;
		}
		n = read(c->ec_fd, c->ec_buf, sizeof(c->ec_buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			echo_want(c, ep, EPOLLIN);
			return true;
		}
		if (n < 0)
			return false;
		if (n == 0) {
			c->ec_rd_eof = true;
			continue;
		}
		if (c->ec_hdr_len < STREAM_HDR_LEN) {
			h = STREAM_HDR_LEN - c->ec_hdr_len;
			if (h > (size_t)n)
				h = (size_t)n;
			memcpy(c->ec_hdr + c->ec_hdr_len, c->ec_buf, h);
			c->ec_hdr_len += h;
		}
		EVP_DigestUpdate(c->ec_md, c->ec_buf, (size_t)n);
		c->ec_bytes += (uint64_t)n;
		c->ec_len = (size_t)n;
		c->ec_off = 0;
	}
	echo_want(c, ep, EPOLLIN);
	return true;
}

static int
stream_echo(int argc, char **argv)
{
	struct epoll_event e, evs[ECHO_EVENTS];
	struct sockaddr_in sin;
	struct echo_conn *c;
	const char *addr = NULL, *report = NULL, *ready = NULL;
	FILE *rep, *rf;
	long port = 0, open_n = 0, accepted = 0;
	int lfd, ep, fd, n, i, ch, one = 1;

	while ((ch = getopt(argc, argv, "a:p:o:w:")) != -1) {
		switch (ch) {
		case 'a': addr = optarg; break;
		case 'p': port = stream_number(optarg, 1, 65535, "-p"); break;
		case 'o': report = optarg; break;
		case 'w': ready = optarg; break;
		default: stream_usage();
		}
	}
	if (addr == NULL || port == 0 || report == NULL)
		stream_usage();
	if ((rep = fopen(report, "w")) == NULL) {
		fprintf(stderr, "jg_stream: cannot write %s\n", report);
		return 1;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1 ||
	    (ntohl(sin.sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr, "jg_stream: %s is not a loopback address\n",
		    addr);
		return 2;
	}
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(lfd, 4096) != 0) {
		fprintf(stderr, "jg_stream: listen on %s port %ld: %s\n", addr,
		    port, strerror(errno));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, echo_on_signal);
	signal(SIGINT, echo_on_signal);
	ep = epoll_create1(0);
	e.events = EPOLLIN;
	e.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &e);
	if (ready != NULL && (rf = fopen(ready, "w")) != NULL) {
		fprintf(rf, "listening %s %ld\n", addr, port);
		fclose(rf);
	}
	while (!echo_stop) {
		n = epoll_wait(ep, evs, ECHO_EVENTS, 200);
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr != NULL) {
				c = evs[i].data.ptr;
				if (!echo_serve(c, ep)) {
					epoll_ctl(ep, EPOLL_CTL_DEL, c->ec_fd,
					    NULL);
					echo_close(c, rep, &open_n);
				}
				continue;
			}
			while ((fd = accept(lfd, NULL, NULL)) >= 0) {
				c = NULL;
				if (fcntl(fd, F_SETFL, O_NONBLOCK) != 0 ||
				    (c = calloc(1, sizeof(*c))) == NULL ||
				    (c->ec_md = EVP_MD_CTX_new()) == NULL ||
				    EVP_DigestInit_ex(c->ec_md, EVP_sha256(),
				    NULL) != 1) {
					if (c != NULL)
						EVP_MD_CTX_free(c->ec_md);
					free(c);
					close(fd);
					continue;
				}
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				    sizeof(one));
				c->ec_fd = fd;
				c->ec_mask = EPOLLIN;
				e.events = EPOLLIN;
				e.data.ptr = c;
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
				open_n++;
				accepted++;
			}
		}
	}
	fprintf(stderr, "jg_stream echo: accepted=%ld open=%ld\n", accepted,
	    open_n);
	fclose(rep);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		stream_usage();
	if (strcmp(argv[1], "client") == 0)
		return stream_client(argc - 1, argv + 1);
	if (strcmp(argv[1], "echo") == 0)
		return stream_echo(argc - 1, argv + 1);
	stream_usage();
	return 2;
}
