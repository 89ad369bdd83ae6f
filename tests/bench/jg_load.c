/*
 * jg_load.c: load generator for the jump-mode benchmark, on the libssh
 * client API.  Owns nothing of jumpgate: it only dials a jump host (any
 * SSH server), does key exchange, ed25519 publickey authentication and
 * opens one direct-tcpip channel per connection (none with -N, as in
 * ssh -N: an authenticated session only).  "handshake" mode closes
 * each connection at once and reports a rate; "hold" mode keeps them idle
 * until SIGTERM so the caller can measure memory.  Worker threads run
 * blocking libssh sessions; the main thread only starts, waits and reports.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libssh/libssh.h>

#define LOAD_COUNT_MAX		1000000
#define LOAD_THREADS_MAX	256
#define LOAD_ERR_MAX		256
#define LOAD_ORIG_PORT		40000	/* originator port we claim */

enum load_mode {
	LOAD_HANDSHAKE,
	LOAD_HOLD,
};

enum load_stage {
	LOAD_STAGE_CONNECT,	/* TCP + key exchange */
	LOAD_STAGE_AUTH,
	LOAD_STAGE_OPEN,	/* direct-tcpip channel */
	LOAD_STAGE_MAX,
};

static const char *const load_stage_names[LOAD_STAGE_MAX] = {
	[LOAD_STAGE_CONNECT] = "connect",
	[LOAD_STAGE_AUTH] = "auth",
	[LOAD_STAGE_OPEN] = "open",
};

struct load_opts {
	const char	*lo_addr;
	int		 lo_port;
	const char	*lo_user;
	const char	*lo_key;
	const char	*lo_dest;
	int		 lo_dest_port;
	const char	*lo_cipher;
	long		 lo_count;
	long		 lo_threads;
	long		 lo_cap_s;	/* stop starting new work after this */
	long		 lo_hold_s;	/* hold at most this long */
	enum load_mode	 lo_mode;
	bool		 lo_no_channel;	/* -N */
};

struct load_held {
	ssh_session	 lh_ssh;
	ssh_channel	 lh_channel;
};

struct load_state {
	struct load_opts  ls_opts;
	atomic_long	  ls_next;	/* next index to claim */
	atomic_long	  ls_ok;
	atomic_long	  ls_fail[LOAD_STAGE_MAX];
	double		  ls_deadline;	/* monotonic seconds */
	double		 *ls_lat_ms;	/* per index; < 0 = failed/unused */
	struct load_held *ls_held;	/* hold mode, per index */
	pthread_mutex_t	  ls_err_lock;
	char		  ls_first_err[LOAD_ERR_MAX];
};

static double
load_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
load_usage(void)
{
	fprintf(stderr, "usage: jg_load -a addr -p port -l user -i key "
	    "-d dest_host -P dest_port [-m handshake|hold] [-n count]\n"
	    "               [-c threads] [-s cap_s] [-H hold_s] "
	    "[-C cipher] [-N]\n");
	exit(2);
}

static long
load_number(const char *s, long min, long max, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "jg_load: %s: '%s' is not a number in "
		    "%ld..%ld\n", what, s, min, max);
		exit(2);
	}
	return v;
}

static void
load_fail(struct load_state *st, enum load_stage stage, ssh_session ssh)
{
	atomic_fetch_add(&st->ls_fail[stage], 1);
	pthread_mutex_lock(&st->ls_err_lock);
	if (st->ls_first_err[0] == '\0')
		snprintf(st->ls_first_err, sizeof(st->ls_first_err), "%s: %s",
		    load_stage_names[stage], ssh_get_error(ssh));
	pthread_mutex_unlock(&st->ls_err_lock);
}

/*
 * One connection up to an open channel.  Returns true with *ssh and *ch
 * set (caller owns both), or false having counted the failure.
 */
static bool
load_connect(struct load_state *st, ssh_key key, ssh_session *sshp,
    ssh_channel *chp)
{
	const struct load_opts *o = &st->ls_opts;
	ssh_session ssh;
	ssh_channel ch = NULL;
	long timeout = 15, verbosity = SSH_LOG_NOLOG;
	int port = o->lo_port, no = 0, yes = 1, rc;

	if ((ssh = ssh_new()) == NULL) {
		atomic_fetch_add(&st->ls_fail[LOAD_STAGE_CONNECT], 1);
		return false;
	}
	/* No ~/.ssh/config, no known_hosts: loopback test hosts. */
	ssh_options_set(ssh, SSH_OPTIONS_PROCESS_CONFIG, &no);
	ssh_options_set(ssh, SSH_OPTIONS_LOG_VERBOSITY, &verbosity);
	ssh_options_set(ssh, SSH_OPTIONS_HOST, o->lo_addr);
	ssh_options_set(ssh, SSH_OPTIONS_PORT, &port);
	ssh_options_set(ssh, SSH_OPTIONS_USER, o->lo_user);
	ssh_options_set(ssh, SSH_OPTIONS_TIMEOUT, &timeout);
	ssh_options_set(ssh, SSH_OPTIONS_NODELAY, &yes);
	ssh_options_set(ssh, SSH_OPTIONS_STRICTHOSTKEYCHECK, &no);
	ssh_options_set(ssh, SSH_OPTIONS_KNOWNHOSTS, "/dev/null");
	ssh_options_set(ssh, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null");
	/* What OpenSSH 9.2 picks against both servers. */
	ssh_options_set(ssh, SSH_OPTIONS_KEY_EXCHANGE,
	    "curve25519-sha256,curve25519-sha256@libssh.org");
	ssh_options_set(ssh, SSH_OPTIONS_HOSTKEYS, "ssh-ed25519");
	ssh_options_set(ssh, SSH_OPTIONS_CIPHERS_C_S, o->lo_cipher);
	ssh_options_set(ssh, SSH_OPTIONS_CIPHERS_S_C, o->lo_cipher);

	if (ssh_connect(ssh) != SSH_OK) {
		load_fail(st, LOAD_STAGE_CONNECT, ssh);
		goto fail;
	}
	/* "none" first, as OpenSSH does: it names the user early. */
	rc = ssh_userauth_none(ssh, NULL);
	if (rc != SSH_AUTH_SUCCESS)
		rc = ssh_userauth_publickey(ssh, NULL, key);
	if (rc != SSH_AUTH_SUCCESS) {
		load_fail(st, LOAD_STAGE_AUTH, ssh);
		goto fail;
	}
	if (o->lo_no_channel) {
		*sshp = ssh;
		*chp = NULL;
		return true;
	}
	if ((ch = ssh_channel_new(ssh)) == NULL ||
	    ssh_channel_open_forward(ch, o->lo_dest, o->lo_dest_port,
	    "127.0.0.1", LOAD_ORIG_PORT) != SSH_OK) {
		load_fail(st, LOAD_STAGE_OPEN, ssh);
		goto fail;
	}
	*sshp = ssh;
	*chp = ch;
	return true;
fail:
	if (ch != NULL)
		ssh_channel_free(ch);
	ssh_disconnect(ssh);
	ssh_free(ssh);
	return false;
}

static void *
load_thread(void *arg)
{
	struct load_state *st = arg;
	const struct load_opts *o = &st->ls_opts;
	ssh_session ssh;
	ssh_channel ch;
	ssh_key key = NULL;
	double t0;
	long i;

	/* A key of our own: no sharing of signing state across threads. */
	if (ssh_pki_import_privkey_file(o->lo_key, NULL, NULL, NULL,
	    &key) != SSH_OK) {
		fprintf(stderr, "jg_load: cannot read key %s\n", o->lo_key);
		return NULL;
	}
	for (;;) {
		if (load_now() >= st->ls_deadline)
			break;
		i = atomic_fetch_add(&st->ls_next, 1);
		if (i >= o->lo_count)
			break;
		t0 = load_now();
		if (!load_connect(st, key, &ssh, &ch))
			continue;
		atomic_fetch_add(&st->ls_ok, 1);
		if (o->lo_mode == LOAD_HOLD) {
			st->ls_held[i].lh_ssh = ssh;
			st->ls_held[i].lh_channel = ch;
			continue;
		}
		if (ch != NULL) {
			ssh_channel_close(ch);
			ssh_channel_free(ch);
		}
		ssh_disconnect(ssh);
		ssh_free(ssh);
		st->ls_lat_ms[i] = (load_now() - t0) * 1000.0;
	}
	ssh_key_free(key);
	return NULL;
}

static int
load_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Handshake latency percentiles over the successful ones. */
static void
load_percentiles(struct load_state *st, long n, double *p50, double *p99)
{
	long i, k = 0;

	for (i = 0; i < n; i++)
		if (st->ls_lat_ms[i] >= 0)
			st->ls_lat_ms[k++] = st->ls_lat_ms[i];
	*p50 = *p99 = 0;
	if (k == 0)
		return;
	qsort(st->ls_lat_ms, (size_t)k, sizeof(double), load_cmp_double);
	*p50 = st->ls_lat_ms[k / 2];
	*p99 = st->ls_lat_ms[(k * 99) / 100 < k ? (k * 99) / 100 : k - 1];
}

/* Hold mode: wait for SIGTERM/SIGINT (or hold_s), then hang up. */
static void
load_hold_until_told(struct load_state *st, const sigset_t *set)
{
	struct timespec ts;
	long i, n = st->ls_opts.lo_count;

	ts.tv_sec = st->ls_opts.lo_hold_s;
	ts.tv_nsec = 0;
	while (sigtimedwait(set, NULL, &ts) == -1 && errno == EINTR)
		;
	for (i = 0; i < n; i++) {
		if (st->ls_held[i].lh_ssh == NULL)
			continue;
		if (st->ls_held[i].lh_channel != NULL)
			ssh_channel_free(st->ls_held[i].lh_channel);
		ssh_disconnect(st->ls_held[i].lh_ssh);
		ssh_free(st->ls_held[i].lh_ssh);
	}
	printf("released\n");
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	static struct load_state st;
	struct load_opts *o = &st.ls_opts;
	pthread_t threads[LOAD_THREADS_MAX];
	sigset_t set;
	double t0, elapsed, p50 = 0, p99 = 0;
	long i, nthreads = 0, ok, fails = 0;
	int ch;

	o->lo_cipher = "aes128-gcm@openssh.com";
	o->lo_count = 1000;
	o->lo_threads = 8;
	o->lo_cap_s = 30;
	o->lo_hold_s = 120;
	o->lo_mode = LOAD_HANDSHAKE;
	while ((ch = getopt(argc, argv, "a:p:l:i:d:P:m:n:c:s:H:C:N")) != -1) {
		switch (ch) {
		case 'a': o->lo_addr = optarg; break;
		case 'p': o->lo_port = (int)load_number(optarg, 1, 65535,
		    "-p"); break;
		case 'l': o->lo_user = optarg; break;
		case 'i': o->lo_key = optarg; break;
		case 'd': o->lo_dest = optarg; break;
		case 'P': o->lo_dest_port = (int)load_number(optarg, 1, 65535,
		    "-P"); break;
		case 'm':
			if (strcmp(optarg, "handshake") == 0)
				o->lo_mode = LOAD_HANDSHAKE;
			else if (strcmp(optarg, "hold") == 0)
				o->lo_mode = LOAD_HOLD;
			else
				load_usage();
			break;
		case 'n': o->lo_count = load_number(optarg, 1, LOAD_COUNT_MAX,
		    "-n"); break;
		case 'c': o->lo_threads = load_number(optarg, 1,
		    LOAD_THREADS_MAX, "-c"); break;
		case 's': o->lo_cap_s = load_number(optarg, 1, 3600, "-s");
			break;
		case 'H': o->lo_hold_s = load_number(optarg, 1, 3600, "-H");
			break;
		case 'C': o->lo_cipher = optarg; break;
		case 'N': o->lo_no_channel = true; break;
		default: load_usage();
		}
	}
	if (o->lo_addr == NULL || o->lo_port == 0 || o->lo_user == NULL ||
	    o->lo_key == NULL || o->lo_dest == NULL || o->lo_dest_port == 0)
		load_usage();

	st.ls_lat_ms = malloc(sizeof(*st.ls_lat_ms) * (size_t)o->lo_count);
	st.ls_held = calloc((size_t)o->lo_count, sizeof(*st.ls_held));
	if (st.ls_lat_ms == NULL || st.ls_held == NULL) {
		fprintf(stderr, "jg_load: out of memory\n");
		return 1;
	}
	for (i = 0; i < o->lo_count; i++)
		st.ls_lat_ms[i] = -1;
	pthread_mutex_init(&st.ls_err_lock, NULL);
	/* Threads inherit the mask: only sigtimedwait sees these. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	ssh_init();

	t0 = load_now();
	st.ls_deadline = t0 + (double)o->lo_cap_s;
	for (i = 0; i < o->lo_threads; i++) {
		if (pthread_create(&threads[nthreads], NULL, load_thread,
		    &st) != 0)
			break;
		nthreads++;
	}
	for (i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	elapsed = load_now() - t0;

	ok = atomic_load(&st.ls_ok);
	for (i = 0; i < LOAD_STAGE_MAX; i++)
		fails += atomic_load(&st.ls_fail[i]);
	if (o->lo_mode == LOAD_HANDSHAKE)
		load_percentiles(&st, o->lo_count, &p50, &p99);
	printf("mode=%s ok=%ld fail=%ld fail_connect=%ld fail_auth=%ld "
	    "fail_open=%ld not_started=%ld threads=%ld elapsed_s=%.3f "
	    "rate=%.1f p50_ms=%.2f p99_ms=%.2f first_error=\"%s\"\n",
	    o->lo_mode == LOAD_HOLD ? "hold" : "handshake", ok, fails,
	    atomic_load(&st.ls_fail[LOAD_STAGE_CONNECT]),
	    atomic_load(&st.ls_fail[LOAD_STAGE_AUTH]),
	    atomic_load(&st.ls_fail[LOAD_STAGE_OPEN]),
	    o->lo_count - ok - fails, nthreads, elapsed,
	    elapsed > 0 ? (double)ok / elapsed : 0.0, p50, p99,
	    st.ls_first_err);
	fflush(stdout);

	if (o->lo_mode == LOAD_HOLD)
		load_hold_until_told(&st, &set);
	free(st.ls_lat_ms);
	free(st.ls_held);
	ssh_finalize();
	return fails == 0 && ok == o->lo_count ? 0 : 1;
}
