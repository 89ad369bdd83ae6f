/*
 * test_keystore.c: authorized_keys file sources and HTTPS URL sources
 * (against tests/data/keyserver.py on 127.0.0.1, with a self-signed
 * certificate made by `openssl req` for the group and trusted through
 * JUMPGATE_KEYS_CA_FILE).  Keys are generated with libssh at test time.
 */
/* nftw(3) is an XSI function. */
#define _XOPEN_SOURCE 700

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "keystore.h"
#include "log.h"

#define WAIT_MS		10000	/* generous bound for any one event */

/* The group's certificate, shared by every server started. */
static char group_dir[64];
static char cert_path[128], key_path[128];

struct fixture {
	char		 dir[64];
	char		 keydir[128];
	pid_t		 server;
	int		 port;
	struct config_key_source src[2];
	size_t		 nsrc;
	struct keystore	*ks;
};

/* Ready callbacks and captured warnings. */
static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ev_cond = PTHREAD_COND_INITIALIZER;
static int ready_calls[4];
static char logged[16384];

static void
on_ready(void *arg)
{
	int *slot = arg;

	pthread_mutex_lock(&ev_lock);
	(*slot)++;
	pthread_cond_broadcast(&ev_cond);
	pthread_mutex_unlock(&ev_lock);
}

static void
on_log(enum log_level level, const char *line, void *arg)
{
	size_t n;

	pthread_mutex_lock(&ev_lock);
	n = strlen(logged);
	snprintf(logged + n, sizeof(logged) - n, "%s\n", line);
	pthread_mutex_unlock(&ev_lock);
}

static bool
logged_contains(const char *needle)
{
	bool found;

	pthread_mutex_lock(&ev_lock);
	found = strstr(logged, needle) != NULL;
	pthread_mutex_unlock(&ev_lock);
	return found;
}

static size_t
logged_count(const char *needle)
{
	const char *p;
	size_t n = 0;

	pthread_mutex_lock(&ev_lock);
	for (p = logged; (p = strstr(p, needle)) != NULL; p++)
		n++;
	pthread_mutex_unlock(&ev_lock);
	return n;
}

/* Waits until ready_calls[slot] reaches want, at most WAIT_MS. */
static bool
wait_ready(int slot, int want)
{
	struct timespec deadline;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += WAIT_MS / 1000;
	pthread_mutex_lock(&ev_lock);
	while (ready_calls[slot] < want)
		if (pthread_cond_timedwait(&ev_cond, &ev_lock, &deadline) ==
		    ETIMEDOUT)
			break;
	ok = ready_calls[slot] >= want;
	pthread_mutex_unlock(&ev_lock);
	return ok;
}

static int
ready_count(int slot)
{
	int n;

	pthread_mutex_lock(&ev_lock);
	n = ready_calls[slot];
	pthread_mutex_unlock(&ev_lock);
	return n;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
run(char *const argv[])
{
	pid_t pid;
	int status, devnull;

	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 1);
		dup2(devnull, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) == -1)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int
group_setup(void **state)
{
	char *const req[] = { "openssl", "req", "-x509", "-newkey", "ec",
	    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days",
	    "1", "-subj", "/CN=127.0.0.1", "-addext",
	    "subjectAltName=IP:127.0.0.1", "-keyout", key_path, "-out",
	    cert_path, NULL };

	snprintf(group_dir, sizeof(group_dir), "/tmp/jg-keystore-ca-XXXXXX");
	if (mkdtemp(group_dir) == NULL)
		return -1;
	snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", group_dir);
	snprintf(key_path, sizeof(key_path), "%s/key.pem", group_dir);
	if (run(req) != 0)
		return -1;
	log_set_sink(on_log, NULL);
	return 0;
}

static int
group_teardown(void **state)
{
	log_set_sink(NULL, NULL);
	nftw(group_dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/jg-keystore-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->keydir, sizeof(f->keydir), "%s/served", f->dir);
	if (mkdir(f->keydir, 0700) == -1)
		return -1;
	f->server = -1;
	pthread_mutex_lock(&ev_lock);
	memset(ready_calls, 0, sizeof(ready_calls));
	logged[0] = '\0';
	pthread_mutex_unlock(&ev_lock);
	setenv(KEYSTORE_CA_FILE_ENV, cert_path, 1);
	*state = f;
	return 0;
}

static void
stop_server(struct fixture *f)
{
	if (f->server > 0) {
		kill(f->server, SIGTERM);
		waitpid(f->server, NULL, 0);
		f->server = -1;
	}
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	size_t i;

	keystore_free(f->ks);
	stop_server(f);
	for (i = 0; i < f->nsrc; i++)
		free(f->src[i].template);
	nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* Starts keyserver.py and waits (bounded) for the port it writes. */
static void
start_server(struct fixture *f)
{
	char script[PATH_MAX], portfile[192];
	const char *data = getenv("JG_TEST_DATA");
	struct timespec step = { 0, 10 * 1000 * 1000 };
	FILE *fp;
	int i;

	assert_non_null(data);
	snprintf(script, sizeof(script), "%s/keyserver.py", data);
	snprintf(portfile, sizeof(portfile), "%s/port", f->dir);
	f->server = fork();
	assert_true(f->server >= 0);
	if (f->server == 0) {
		execlp("python3", "python3", script, "--dir", f->keydir,
		    "--port-file", portfile, "--cert", cert_path, "--key",
		    key_path, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < WAIT_MS / 10; i++) {
		if ((fp = fopen(portfile, "r")) != NULL) {
			assert_int_equal(fscanf(fp, "%d", &f->port), 1);
			fclose(fp);
			return;
		}
		assert_int_equal(waitpid(f->server, NULL, WNOHANG), 0);
		nanosleep(&step, NULL);
	}
	fail_msg("keyserver.py did not write its port within %d ms",
	    WAIT_MS);
}

static void
add_source(struct fixture *f, enum config_key_source_type type,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
add_source(struct fixture *f, enum config_key_source_type type,
    const char *fmt, ...)
{
	struct config_key_source *s = &f->src[f->nsrc++];
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	s->type = type;
	assert_non_null(s->template = strdup(buf));
	s->timeout_ms = 3000;
	s->cache_ttl_s = 60;
}

static void
new_keystore(struct fixture *f)
{
	char err[512];

	assert_int_equal(keystore_new(f->src, f->nsrc, &f->ks, err,
	    sizeof(err)), JG_OK);
}

/* A fresh ed25519 key; its authorized_keys line goes into line. */
static ssh_key
make_key(char *line, size_t linelen, const char *options)
{
	ssh_key key = NULL;
	char *b64 = NULL;

	assert_int_equal(ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key),
	    SSH_OK);
	assert_int_equal(ssh_pki_export_pubkey_base64(key, &b64), SSH_OK);
	snprintf(line, linelen, "%s%sssh-ed25519 %s test", options,
	    options[0] != '\0' ? " " : "", b64);
	ssh_string_free_char(b64);
	return key;
}

static void
write_file(const char *path, const char *text)
{
	char tmp[PATH_MAX];
	FILE *fp;

	/* Rename into place, so a concurrent reader sees old or new. */
	snprintf(tmp, sizeof(tmp), "%.4000s.tmp", path);
	assert_non_null(fp = fopen(tmp, "w"));
	fputs(text, fp);
	fclose(fp);
	assert_int_equal(rename(tmp, path), 0);
}

static void
serve(struct fixture *f, const char *user, const char *ext,
    const char *text)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s.%s", f->keydir, user, ext);
	write_file(path, text);
}

static size_t
requests(struct fixture *f)
{
	char path[PATH_MAX], line[512];
	size_t n = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/requests.log", f->keydir);
	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL)
		n++;
	fclose(fp);
	return n;
}

static bool
request_log_contains(struct fixture *f, const char *needle)
{
	char path[PATH_MAX], line[512];
	bool found = false;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/requests.log", f->keydir);
	if ((fp = fopen(path, "r")) == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), fp) != NULL)
		found = strstr(line, needle) != NULL;
	fclose(fp);
	return found;
}

static bool
admits(const struct authkeys *keys, ssh_key key)
{
	const struct authkeys_entry *e;
	char why[256];

	return authkeys_match(keys, key, "127.0.0.1", time(NULL), &e, why,
	    sizeof(why)) == JG_OK;
}

/* Cold fetch: AGAIN, then exactly one ready call, then JG_OK. */
static struct authkeys *
fetch_cold(struct fixture *f, const char *user)
{
	struct authkeys *keys = NULL;

	assert_int_equal(keystore_get(f->ks, user, &keys, on_ready,
	    &ready_calls[0]), JG_ERR_AGAIN);
	assert_null(keys);
	assert_true(wait_ready(0, 1));
	assert_int_equal(keystore_get(f->ks, user, &keys, on_ready,
	    &ready_calls[0]), JG_OK);
	assert_non_null(keys);
	return keys;
}

/* ---- authorized_keys files ---- */

static void
reads_a_users_authorized_keys_from_the_path_template(void **state)
{
	struct fixture *f = *state;
	struct authkeys *keys = NULL;
	char path[PATH_MAX], line[256], text[1024];
	ssh_key k1, k2;

	snprintf(path, sizeof(path), "%s/alice", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	add_source(f, CONFIG_KEYS_AUTHORIZED_KEYS, "%s/%%u/authorized_keys",
	    f->dir);
	new_keystore(f);
	k1 = make_key(line, sizeof(line), "");
	snprintf(text, sizeof(text), "# alice\n%s\n", line);
	snprintf(path, sizeof(path), "%s/alice/authorized_keys", f->dir);
	write_file(path, text);

	assert_int_equal(keystore_get(f->ks, "alice", &keys, NULL, NULL),
	    JG_OK);
	assert_int_equal(keys->ak_count, 1);
	assert_true(admits(keys, k1));
	assert_non_null(strstr(keys->ak_entries[0].ak_origin,
	    "/alice/authorized_keys:2"));
	authkeys_unref(keys);

	/* Read again on every lookup, as sshd does. */
	k2 = make_key(line, sizeof(line), "");
	snprintf(text, sizeof(text), "%s\n", line);
	write_file(path, text);
	assert_int_equal(keystore_get(f->ks, "alice", &keys, NULL, NULL),
	    JG_OK);
	assert_false(admits(keys, k1));
	assert_true(admits(keys, k2));
	authkeys_unref(keys);
	ssh_key_free(k1);
	ssh_key_free(k2);
}

static void
a_missing_file_means_no_keys_and_no_warning(void **state)
{
	struct fixture *f = *state;
	struct authkeys *keys = NULL;

	add_source(f, CONFIG_KEYS_AUTHORIZED_KEYS, "%s/%%u/authorized_keys",
	    f->dir);
	new_keystore(f);
	assert_int_equal(keystore_get(f->ks, "bob", &keys, NULL, NULL),
	    JG_OK);
	assert_int_equal(keys->ak_count, 0);
	authkeys_unref(keys);
	assert_false(logged_contains("keys:"));
}

static void
warns_once_about_a_file_it_cannot_use(void **state)
{
	struct fixture *f = *state;
	struct authkeys *keys = NULL;
	char path[PATH_MAX], want[PATH_MAX + 64];
	FILE *fp;
	int i;

	add_source(f, CONFIG_KEYS_AUTHORIZED_KEYS, "%s/%%u.keys", f->dir);
	new_keystore(f);
	/* A directory where the file should be. */
	snprintf(path, sizeof(path), "%s/carol.keys", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(keystore_get(f->ks, "carol", &keys, NULL,
		    NULL), JG_OK);
		assert_int_equal(keys->ak_count, 0);
		authkeys_unref(keys);
	}
	snprintf(want, sizeof(want), "keys: %s: not a regular file; no keys "
	    "from it", path);
	assert_int_equal(logged_count(want), 1);
	/* After the interval it is said again. */
	keystore_test_advance_clock(f->ks, 61);
	assert_int_equal(keystore_get(f->ks, "carol", &keys, NULL, NULL),
	    JG_OK);
	authkeys_unref(keys);
	assert_int_equal(logged_count(want), 2);

	/* More than 1 MiB is refused whole. */
	snprintf(path, sizeof(path), "%s/dave.keys", f->dir);
	assert_non_null(fp = fopen(path, "w"));
	for (i = 0; i < 1024 * 1024 / 16 + 1; i++)
		fputs("# padding line.\n", fp);
	fclose(fp);
	assert_int_equal(keystore_get(f->ks, "dave", &keys, NULL, NULL),
	    JG_OK);
	assert_int_equal(keys->ak_count, 0);
	authkeys_unref(keys);
	assert_true(logged_contains("dave.keys: larger than 1048576 bytes"));
}

static void
logs_parse_warnings_once_per_version_of_a_file(void **state)
{
	struct fixture *f = *state;
	struct authkeys *keys = NULL;
	char path[PATH_MAX], line[256], text[1024];
	ssh_key k;
	int i;

	add_source(f, CONFIG_KEYS_AUTHORIZED_KEYS, "%s/%%u.keys", f->dir);
	new_keystore(f);
	k = make_key(line, sizeof(line), "");
	snprintf(text, sizeof(text), "%s\nssh-ed25519 !!! broken\n", line);
	snprintf(path, sizeof(path), "%s/erin.keys", f->dir);
	write_file(path, text);
	for (i = 0; i < 3; i++) {
		assert_int_equal(keystore_get(f->ks, "erin", &keys, NULL,
		    NULL), JG_OK);
		assert_true(admits(keys, k));
		authkeys_unref(keys);
	}
	assert_int_equal(logged_count("erin.keys:2: cannot decode the "
	    "ssh-ed25519 key; line skipped"), 1);
	ssh_key_free(k);
}

static void
refuses_bad_templates_and_urls(void **state)
{
	struct fixture *f = *state;
	struct keystore *ks = NULL;
	char err[512];

	add_source(f, CONFIG_KEYS_AUTHORIZED_KEYS, "/home/%%h/keys");
	assert_int_equal(keystore_new(f->src, 1, &ks, err, sizeof(err)),
	    JG_ERR_CONFIG);
	assert_null(ks);
	assert_string_equal(err, "key source 1: template /home/%h/keys: only "
	    "%u (user) and %% may follow a %");

	add_source(f, CONFIG_KEYS_URL, "http://keys.example.com/%%u");
	assert_int_equal(keystore_new(&f->src[1], 1, &ks, err, sizeof(err)),
	    JG_ERR_CONFIG);
	assert_string_equal(err, "key source 1: http://keys.example.com/%u: "
	    "only https URLs are allowed (http only to 127.0.0.1, ::1 or "
	    "localhost)");
}

static void
refuses_an_invalid_user_name(void **state)
{
	struct fixture *f = *state;
	struct authkeys *keys = NULL;

	add_source(f, CONFIG_KEYS_AUTHORIZED_KEYS, "%s/%%u", f->dir);
	new_keystore(f);
	assert_int_equal(keystore_get(f->ks, "../etc", &keys, NULL, NULL),
	    JG_ERR_BAD_NAME);
	assert_int_equal(keystore_get(f->ks, "", &keys, NULL, NULL),
	    JG_ERR_BAD_NAME);
	assert_null(keys);
}

/* ---- URL sources ---- */

static void
fetches_text_keys_in_the_background_then_answers_from_the_cache(void **state)
{
	struct fixture *f = *state;
	struct authkeys *keys;
	char l1[256], l2[256], text[1024];
	ssh_key k1, k2;

	start_server(f);
	k1 = make_key(l1, sizeof(l1), "");
	k2 = make_key(l2, sizeof(l2), "no-pty");
	snprintf(text, sizeof(text), "# keys of alice\n%s\n%s\n", l1, l2);
	serve(f, "alice", "keys", text);
	add_source(f, CONFIG_KEYS_URL, "https://127.0.0.1:%d/keys/%%u",
	    f->port);
	new_keystore(f);

	keys = fetch_cold(f, "alice");
	assert_int_equal(keys->ak_count, 2);
	assert_true(admits(keys, k1));
	assert_true(admits(keys, k2));
	assert_false(keys->ak_entries[1].ak_pty);
	assert_non_null(strstr(keys->ak_entries[0].ak_origin,
	    "/keys/alice:2"));
	authkeys_unref(keys);
	assert_int_equal(requests(f), 1);
	assert_true(request_log_contains(f, "/keys/alice jumpgate/"));

	/* Fresh cache hit: no request, no callback. */
	assert_int_equal(keystore_get(f->ks, "alice", &keys, on_ready,
	    &ready_calls[1]), JG_OK);
	assert_int_equal(keys->ak_count, 2);
	authkeys_unref(keys);
	assert_true(keystore_test_wait_idle(f->ks, WAIT_MS));
	assert_int_equal(requests(f), 1);
	assert_int_equal(ready_count(0), 1);
	assert_int_equal(ready_count(1), 0);
	ssh_key_free(k1);
	ssh_key_free(k2);
}

static void
fetches_a_json_array_of_keys(void **state)
{
	struct fixture *f = *state;
	struct authkeys *keys;
	char l1[256], l2[256], text[1024];
	ssh_key k1, k2;

	start_server(f);
	k1 = make_key(l1, sizeof(l1), "");
	k2 = make_key(l2, sizeof(l2), "restrict");
	snprintf(text, sizeof(text), "[\"%s\", \"%s\"]", l1, l2);
	serve(f, "bob", "json", text);
	add_source(f, CONFIG_KEYS_URL, "https://127.0.0.1:%d/keys/%%u",
	    f->port);
	new_keystore(f);

	keys = fetch_cold(f, "bob");
	assert_int_equal(keys->ak_count, 2);
	assert_true(admits(keys, k1));
	assert_true(keys->ak_entries[0].ak_port_forwarding);
	assert_false(keys->ak_entries[1].ak_port_forwarding);
	authkeys_unref(keys);

	/* Anything but an array of strings is a failed fetch. */
	serve(f, "bob2", "json", "{\"keys\": []}");
	keys = NULL;
	assert_int_equal(keystore_get(f->ks, "bob2", &keys, on_ready,
	    &ready_calls[1]), JG_ERR_AGAIN);
	assert_true(wait_ready(1, 1));
	assert_int_equal(keystore_get(f->ks, "bob2", &keys, NULL, NULL),
	    JG_OK);
	assert_int_equal(keys->ak_count, 0);
	authkeys_unref(keys);
	assert_true(logged_contains("for user bob2 failed"));
	assert_true(logged_contains("response is not a JSON array of "
	    "strings"));
	ssh_key_free(k1);
	ssh_key_free(k2);
}

static void
concurrent_lookups_share_one_fetch_and_each_is_woken_once(void **state)
{
	struct fixture *f = *state;
	struct authkeys *keys = NULL;
	char line[256];
	ssh_key k;

	start_server(f);
	k = make_key(line, sizeof(line), "");
	serve(f, "carol", "keys", line);
	/* The delay keeps the fetch open while the second login asks. */
	add_source(f, CONFIG_KEYS_URL, "https://127.0.0.1:%d/delay/300/%%u",
	    f->port);
	new_keystore(f);

	assert_int_equal(keystore_get(f->ks, "carol", &keys, on_ready,
	    &ready_calls[0]), JG_ERR_AGAIN);
	assert_int_equal(keystore_get(f->ks, "carol", &keys, on_ready,
	    &ready_calls[1]), JG_ERR_AGAIN);
	assert_int_equal(keystore_get(f->ks, "carol", &keys, NULL, NULL),
	    JG_ERR_AGAIN);
	assert_true(wait_ready(0, 1));
	assert_true(wait_ready(1, 1));
	assert_true(keystore_test_wait_idle(f->ks, WAIT_MS));
	assert_int_equal(ready_count(0), 1);
	assert_int_equal(ready_count(1), 1);
	assert_int_equal(requests(f), 1);
	assert_int_equal(keystore_get(f->ks, "carol", &keys, NULL, NULL),
	    JG_OK);
	assert_true(admits(keys, k));
	authkeys_unref(keys);
	ssh_key_free(k);
}

static void
serves_a_stale_answer_while_refreshing_it(void **state)
{
	struct fixture *f = *state;
	struct authkeys *keys;
	char l1[256], l2[256];
	ssh_key k1, k2;

	start_server(f);
	k1 = make_key(l1, sizeof(l1), "");
	k2 = make_key(l2, sizeof(l2), "");
	serve(f, "dave", "keys", l1);
	add_source(f, CONFIG_KEYS_URL, "https://127.0.0.1:%d/keys/%%u",
	    f->port);
	new_keystore(f);
	keys = fetch_cold(f, "dave");
	authkeys_unref(keys);

	serve(f, "dave", "keys", l2);
	keystore_test_advance_clock(f->ks, 61);
	/* Expired: the old answer at once, no waiting for the network. */
	keys = NULL;
	assert_int_equal(keystore_get(f->ks, "dave", &keys, on_ready,
	    &ready_calls[1]), JG_OK);
	assert_true(admits(keys, k1));
	authkeys_unref(keys);
	assert_true(keystore_test_wait_idle(f->ks, WAIT_MS));
	assert_int_equal(requests(f), 2);
	assert_int_equal(keystore_get(f->ks, "dave", &keys, NULL, NULL),
	    JG_OK);
	assert_false(admits(keys, k1));
	assert_true(admits(keys, k2));
	authkeys_unref(keys);
	assert_int_equal(ready_count(1), 0);
	ssh_key_free(k1);
	ssh_key_free(k2);
}

static void
keeps_the_last_good_answer_when_the_server_is_gone(void **state)
{
	struct fixture *f = *state;
	struct authkeys *keys;
	char line[256], want[256];
	ssh_key k;

	start_server(f);
	k = make_key(line, sizeof(line), "");
	serve(f, "erin", "keys", line);
	add_source(f, CONFIG_KEYS_URL, "https://127.0.0.1:%d/keys/%%u",
	    f->port);
	new_keystore(f);
	keys = fetch_cold(f, "erin");
	authkeys_unref(keys);

	stop_server(f);
	keystore_test_advance_clock(f->ks, 61);
	assert_int_equal(keystore_get(f->ks, "erin", &keys, NULL, NULL),
	    JG_OK);
	assert_true(admits(keys, k));
	authkeys_unref(keys);
	assert_true(keystore_test_wait_idle(f->ks, WAIT_MS));
	assert_int_equal(keystore_get(f->ks, "erin", &keys, NULL, NULL),
	    JG_OK);
	assert_true(admits(keys, k));
	authkeys_unref(keys);
	snprintf(want, sizeof(want), "keys: fetch https://127.0.0.1:%d/keys/"
	    "erin for user erin failed after ", f->port);
	assert_true(logged_contains(want));
	assert_true(logged_contains("; keeping the last good answer"));
	ssh_key_free(k);
}

static void
a_timeout_gives_an_empty_answer_and_wakes_the_login(void **state)
{
	struct fixture *f = *state;
	struct authkeys *keys;

	start_server(f);
	serve(f, "frank", "keys", "");
	add_source(f, CONFIG_KEYS_URL, "https://127.0.0.1:%d/delay/5000/%%u",
	    f->port);
	f->src[0].timeout_ms = 300;
	new_keystore(f);
	keys = fetch_cold(f, "frank");
	assert_int_equal(keys->ak_count, 0);
	authkeys_unref(keys);
	assert_true(logged_contains("for user frank failed after "));
	assert_true(logged_contains("Operation timed out"));
	assert_true(logged_contains("the user has no keys from it for now"));
}

static void
counts_http_errors_and_oversized_bodies_as_failures(void **state)
{
	struct fixture *f = *state;
	struct authkeys *keys;

	start_server(f);
	add_source(f, CONFIG_KEYS_URL, "https://127.0.0.1:%d/keys/%%u",
	    f->port);
	add_source(f, CONFIG_KEYS_URL, "https://127.0.0.1:%d/big/%%u",
	    f->port);
	new_keystore(f);
	/* Two sources, one login: woken once, when both have answered. */
	keys = fetch_cold(f, "nobody");
	assert_int_equal(keys->ak_count, 0);
	authkeys_unref(keys);
	assert_int_equal(requests(f), 2);
	assert_true(logged_contains("/keys/nobody for user nobody failed "));
	assert_true(logged_contains("HTTP status 404"));
	assert_true(logged_contains("response larger than 1048576 bytes"));
}

static void
refuses_a_server_certificate_it_does_not_trust(void **state)
{
	struct fixture *f = *state;
	struct authkeys *keys;
	char line[256];
	ssh_key k;

	start_server(f);
	k = make_key(line, sizeof(line), "");
	serve(f, "gina", "keys", line);
	add_source(f, CONFIG_KEYS_URL, "https://127.0.0.1:%d/keys/%%u",
	    f->port);
	unsetenv(KEYSTORE_CA_FILE_ENV);
	new_keystore(f);
	keys = fetch_cold(f, "gina");
	assert_int_equal(keys->ak_count, 0);
	authkeys_unref(keys);
	assert_true(logged_contains("for user gina failed"));
	assert_true(logged_contains("certificate"));
	ssh_key_free(k);
}

static void
combines_file_and_url_sources_in_order(void **state)
{
	struct fixture *f = *state;
	struct authkeys *keys;
	char l1[256], l2[256], path[PATH_MAX];
	ssh_key k1, k2;

	start_server(f);
	k1 = make_key(l1, sizeof(l1), "");
	k2 = make_key(l2, sizeof(l2), "");
	snprintf(path, sizeof(path), "%s/hank.keys", f->dir);
	write_file(path, l1);
	serve(f, "hank", "keys", l2);
	add_source(f, CONFIG_KEYS_AUTHORIZED_KEYS, "%s/%%u.keys", f->dir);
	add_source(f, CONFIG_KEYS_URL, "https://127.0.0.1:%d/keys/%%u",
	    f->port);
	new_keystore(f);
	keys = fetch_cold(f, "hank");
	assert_int_equal(keys->ak_count, 2);
	assert_true(admits(keys, k1));
	assert_true(admits(keys, k2));
	assert_non_null(strstr(keys->ak_entries[0].ak_origin, "hank.keys:1"));
	assert_non_null(strstr(keys->ak_entries[1].ak_origin, "/keys/hank:1"));
	authkeys_unref(keys);
	ssh_key_free(k1);
	ssh_key_free(k2);
}

static void
expire_drops_old_answers_so_the_next_login_fetches(void **state)
{
	struct fixture *f = *state;
	struct authkeys *keys;
	char line[256];
	ssh_key k;

	start_server(f);
	k = make_key(line, sizeof(line), "");
	serve(f, "ivy", "keys", line);
	add_source(f, CONFIG_KEYS_URL, "https://127.0.0.1:%d/keys/%%u",
	    f->port);
	new_keystore(f);
	keys = fetch_cold(f, "ivy");
	authkeys_unref(keys);

	keystore_expire(f->ks);		/* still fresh: kept */
	assert_int_equal(keystore_get(f->ks, "ivy", &keys, NULL, NULL),
	    JG_OK);
	authkeys_unref(keys);
	keystore_test_advance_clock(f->ks, 60);
	keystore_expire(f->ks);
	keys = NULL;
	assert_int_equal(keystore_get(f->ks, "ivy", &keys, on_ready,
	    &ready_calls[1]), JG_ERR_AGAIN);
	assert_true(wait_ready(1, 1));
	assert_int_equal(requests(f), 2);
	ssh_key_free(k);
}

static void
free_stops_the_thread_without_calling_pending_callbacks(void **state)
{
	struct fixture *f = *state;
	struct authkeys *keys = NULL;

	start_server(f);
	serve(f, "jack", "keys", "");
	add_source(f, CONFIG_KEYS_URL, "https://127.0.0.1:%d/delay/5000/%%u",
	    f->port);
	new_keystore(f);
	assert_int_equal(keystore_get(f->ks, "jack", &keys, on_ready,
	    &ready_calls[0]), JG_ERR_AGAIN);
	keystore_free(f->ks);
	f->ks = NULL;
	assert_int_equal(ready_count(0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(reads_a_users_authorized_keys_from_the_path_template),
		T(a_missing_file_means_no_keys_and_no_warning),
		T(warns_once_about_a_file_it_cannot_use),
		T(logs_parse_warnings_once_per_version_of_a_file),
		T(refuses_bad_templates_and_urls),
		T(refuses_an_invalid_user_name),
		T(fetches_text_keys_in_the_background_then_answers_from_the_cache),
		T(fetches_a_json_array_of_keys),
		T(concurrent_lookups_share_one_fetch_and_each_is_woken_once),
		T(serves_a_stale_answer_while_refreshing_it),
		T(keeps_the_last_good_answer_when_the_server_is_gone),
		T(a_timeout_gives_an_empty_answer_and_wakes_the_login),
		T(counts_http_errors_and_oversized_bodies_as_failures),
		T(refuses_a_server_certificate_it_does_not_trust),
		T(combines_file_and_url_sources_in_order),
		T(expire_drops_old_answers_so_the_next_login_fetches),
		T(free_stops_the_thread_without_calling_pending_callbacks),
#undef T
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
