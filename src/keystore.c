/*
 * keystore.c: users' public keys from authorized_keys files (read by the
 * calling worker on every lookup, as sshd does) and from HTTPS key
 * services (fetched by the keystore's own thread with a libcurl multi
 * handle, cached per user, stale-while-revalidate).  Parsing is
 * authkeys.c's; deciding whether a key admits a login is the caller's.
 * Threads: keystore_get/expire on any thread; fetches on "keystore".
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "keystore.h"
#include "log.h"
#include "name.h"

/* A key file or response this large holds ~10,000 keys: a mistake. */
#define KS_FILE_MAX		(1024 * 1024)
#define KS_BODY_MAX		(1024 * 1024)
/* Users cached per keystore; the least recently used idle one goes. */
#define KS_CACHE_MAX		10000
#define KS_BUCKETS		1024
/* Logins waiting for one user's first answer. */
#define KS_WAITERS_MAX		4096
/* After a failed fetch, try again this soon (or at the TTL if shorter):
 * a user whose first fetch failed should not wait a whole TTL. */
#define KS_RETRY_AFTER_FAILURE_S 10
/* One warning per file (or per failing user) per this many seconds. */
#define KS_WARN_INTERVAL_S	60
#define KS_FILE_STATES_MAX	1024
/* Parse warnings logged per file change or fetch; the rest are counted. */
#define KS_WARNINGS_LOGGED	5
#define KS_URL_MAX		2048
#define KS_POLL_MS		1000
#define KS_DEFAULT_TIMEOUT_MS	3000

struct ks_source {
	enum config_key_source_type kss_type;
	char		*kss_template;
	uint32_t	 kss_timeout_ms;
	uint32_t	 kss_ttl_s;
};

/* One keystore_get() call waiting for kw_pending fetches. */
struct ks_waiter {
	keystore_ready_fn kw_fn;
	void		*kw_arg;
	size_t		 kw_pending;
};

/*
 * The cached answer of one URL source for one user.  Lives in the hash
 * table; never freed while ke_fetching (the fetch thread points at it).
 * All fields but ke_source and ke_user are under ks_lock.
 */
struct ks_entry {
	struct ks_entry	*ke_next;		/* hash chain */
	struct ks_entry	*ke_qnext;		/* start queue */
	size_t		 ke_source;
	char		 ke_user[NAME_USER_MAX + 1];
	bool		 ke_answered;		/* ke_keys is an answer */
	struct authkeys	*ke_keys;		/* NULL = empty */
	int64_t		 ke_fetched_at;		/* s, keystore clock */
	int64_t		 ke_fresh_until;
	int64_t		 ke_last_used;
	bool		 ke_fetching;		/* queued or running */
	bool		 ke_failing;		/* the last fetch failed */
	int64_t		 ke_failure_logged_at;
	struct ks_waiter **ke_waiters;
	size_t		 ke_nwaiters;
};

/* One running fetch; owned by the keystore thread. */
struct ks_fetch {
	struct ks_fetch	*kf_next;
	struct ks_entry	*kf_entry;
	CURL		*kf_easy;
	struct curl_slist *kf_headers;
	char		 kf_url[KS_URL_MAX];
	char		 kf_display[KS_URL_MAX];	/* no query/userinfo */
	char		*kf_body;
	size_t		 kf_len;
	bool		 kf_too_big;
	struct timespec	 kf_started;
	char		 kf_errbuf[CURL_ERROR_SIZE];
};

/* Rate-limits warnings about one authorized_keys file. */
struct ks_filestate {
	char		*kfs_path;
	int64_t		 kfs_warned_at;		/* unreadable: last warning */
	bool		 kfs_parse_logged;	/* warnings for this version */
	dev_t		 kfs_dev;
	ino_t		 kfs_ino;
	off_t		 kfs_size;
	struct timespec	 kfs_mtime;
};

struct keystore {
	struct ks_source *ks_sources;
	size_t		 ks_nsources;
	bool		 ks_has_url;
	char		*ks_cafile;		/* JUMPGATE_KEYS_CA_FILE */

	pthread_mutex_t	 ks_lock;
	pthread_cond_t	 ks_idle;
	struct ks_entry	*ks_buckets[KS_BUCKETS];
	size_t		 ks_nentries;
	struct ks_entry	*ks_queue;		/* fetches to start */
	struct ks_entry	*ks_qtail;
	size_t		 ks_busy;		/* queued + running */
	bool		 ks_stop;
	atomic_llong	 ks_clock_offset;

	bool		 ks_curl_init;
	CURLM		*ks_multi;
	pthread_t	 ks_thread;
	bool		 ks_thread_started;
	struct ks_fetch	*ks_active;		/* thread only */

	pthread_mutex_t	 ks_warn_lock;
	struct ks_filestate ks_files[KS_FILE_STATES_MAX];
	size_t		 ks_nfiles;
};

static int64_t
keystore_now(struct keystore *ks)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec + atomic_load(&ks->ks_clock_offset);
}

/*
 * Expands "%u" to user and "%%" to "%".  Any other escape is refused at
 * keystore_new(), so here it cannot happen.  false when out is too small.
 */
static bool
keystore_expand(const char *template, const char *user, char *out,
    size_t outlen)
{
	size_t o = 0, n;
	const char *p;

	for (p = template; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 'u') {
			n = strlen(user);
			if (n >= outlen - o)
				return false;
			memcpy(out + o, user, n);
			o += n;
			p++;
			continue;
		}
		if (p[0] == '%' && p[1] == '%')
			p++;
		if (o + 1 >= outlen)
			return false;
		out[o++] = *p;
	}
	out[o] = '\0';
	return true;
}

static bool
keystore_template_valid(const char *template)
{
	const char *p;

	for (p = template; (p = strchr(p, '%')) != NULL; p += 2)
		if (p[1] != 'u' && p[1] != '%')
			return false;
	return true;
}

/*
 * Checks an expanded URL: https, or http to a loopback host only (a
 * test or sidecar helper).  Fills display with scheme://host[:port]/path
 * (no credentials, no query: those may hold tokens and end up in logs),
 * and *loopback.
 */
static bool
keystore_check_url(const char *url, char *display, size_t displaylen,
    bool *loopback, char *err, size_t errlen)
{
	CURLU *u;
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
	bool ok = false;

	if ((u = curl_url()) == NULL) {
		jg_detail(err, errlen, "out of memory");
		return false;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
		jg_detail(err, errlen, "not a valid URL");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
		port = NULL;
	*loopback = strcmp(host, "127.0.0.1") == 0 ||
	    strcasecmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0;
	if (strcasecmp(scheme, "https") != 0 &&
	    !(strcasecmp(scheme, "http") == 0 && *loopback)) {
		jg_detail(err, errlen, "only https URLs are allowed (http "
		    "only to 127.0.0.1, ::1 or localhost)");
		goto out;
	}
	snprintf(display, displaylen, "%s://%s%s%s%s", scheme, host,
	    port != NULL ? ":" : "", port != NULL ? port : "", path);
	ok = true;
 out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(u);
	return ok;
}

/* ---- authorized_keys files (caller's thread) ---- */

static struct ks_filestate *
keystore_filestate(struct keystore *ks, const char *path)
{
	struct ks_filestate *fs;
	size_t i, oldest = 0;

	for (i = 0; i < ks->ks_nfiles; i++)
		if (strcmp(ks->ks_files[i].kfs_path, path) == 0)
			return &ks->ks_files[i];
	if (ks->ks_nfiles < KS_FILE_STATES_MAX)
		fs = &ks->ks_files[ks->ks_nfiles++];
	else {
		/* Full: forget the file warned about longest ago. */
		for (i = 1; i < ks->ks_nfiles; i++)
			if (ks->ks_files[i].kfs_warned_at <
			    ks->ks_files[oldest].kfs_warned_at)
				oldest = i;
		fs = &ks->ks_files[oldest];
		free(fs->kfs_path);
	}
	memset(fs, 0, sizeof(*fs));
	if ((fs->kfs_path = strdup(path)) == NULL) {
		/* Keep the table dense: the last slot fills the hole. */
		*fs = ks->ks_files[--ks->ks_nfiles];
		return NULL;
	}
	fs->kfs_warned_at = INT64_MIN / 2;
	return fs;
}

/* At most one warning per file per KS_WARN_INTERVAL_S. */
static void
keystore_warn_file(struct keystore *ks, const char *path, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static void
keystore_warn_file(struct keystore *ks, const char *path, const char *fmt,
    ...)
{
	struct ks_filestate *fs;
	char msg[512];
	int64_t now = keystore_now(ks);
	bool say = false;
	va_list ap;

	pthread_mutex_lock(&ks->ks_warn_lock);
	if ((fs = keystore_filestate(ks, path)) != NULL &&
	    now - fs->kfs_warned_at >= KS_WARN_INTERVAL_S) {
		fs->kfs_warned_at = now;
		say = true;
	}
	pthread_mutex_unlock(&ks->ks_warn_lock);
	if (!say)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warn("keys: %s: %s; no keys from it", path, msg);
}

static void
keystore_log_warnings(const char *prefix, const struct jg_errlist *w)
{
	size_t i, kept;

	kept = w->el_count < JG_ERRLIST_MAX ? w->el_count : JG_ERRLIST_MAX;
	for (i = 0; i < kept && i < KS_WARNINGS_LOGGED; i++)
		log_warn("keys: %s%s", prefix, w->el_msg[i]);
	if (w->el_count > KS_WARNINGS_LOGGED)
		log_warn("keys: %s%zu more problems not shown", prefix,
		    w->el_count - KS_WARNINGS_LOGGED);
}

/* Parse warnings are logged once per version of the file, not per login. */
static void
keystore_warn_parse(struct keystore *ks, const char *path,
    const struct stat *st, const struct jg_errlist *w)
{
	struct ks_filestate *fs;
	bool say = false;

	pthread_mutex_lock(&ks->ks_warn_lock);
	if ((fs = keystore_filestate(ks, path)) != NULL &&
	    (!fs->kfs_parse_logged || fs->kfs_dev != st->st_dev ||
	    fs->kfs_ino != st->st_ino || fs->kfs_size != st->st_size ||
	    fs->kfs_mtime.tv_sec != st->st_mtim.tv_sec ||
	    fs->kfs_mtime.tv_nsec != st->st_mtim.tv_nsec)) {
		fs->kfs_parse_logged = true;
		fs->kfs_dev = st->st_dev;
		fs->kfs_ino = st->st_ino;
		fs->kfs_size = st->st_size;
		fs->kfs_mtime = st->st_mtim;
		say = true;
	}
	pthread_mutex_unlock(&ks->ks_warn_lock);
	if (say)
		keystore_log_warnings("", w);
}

/*
 * Reads and parses one user's authorized_keys file.  A missing file means
 * no keys; any other problem means no keys and a rate-limited warning.
 * *out is NULL for "no keys".  JG_ERR_NOMEM, and JG_ERR_IO when the file
 * could not be opened for want of resources, are errors.
 */
static enum jg_err
keystore_read_file(struct keystore *ks, const struct ks_source *src,
    const char *user, struct authkeys **out)
{
	struct jg_errlist *warnings = NULL;
	struct stat st;
	char path[PATH_MAX];
	char *buf = NULL, *nbuf;
	size_t got = 0, cap, ncap;
	ssize_t n;
	enum jg_err rc = JG_OK;
	int fd;

	*out = NULL;
	if (!keystore_expand(src->kss_template, user, path, sizeof(path))) {
		keystore_warn_file(ks, src->kss_template, "path for user %s "
		    "is too long", user);
		return JG_OK;
	}
	/* O_NONBLOCK: a FIFO planted in a home directory must not hang a
	 * worker; it is refused below as not a regular file. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) ==
	    -1) {
		/*
		 * Out of descriptors or memory says nothing about the user:
		 * a temporary failure, not "no keys" (which would log a real
		 * user as invalid and count towards a penalty).
		 */
		if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
		    errno == EIO) {
			keystore_warn_file(ks, path, "cannot open: %s",
			    strerror(errno));
			return JG_ERR_IO;
		}
		if (errno != ENOENT && errno != ENOTDIR)
			keystore_warn_file(ks, path, "cannot open: %s",
			    strerror(errno));
		return JG_OK;
	}
	if (fstat(fd, &st) == -1) {
		keystore_warn_file(ks, path, "cannot stat: %s",
		    strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		keystore_warn_file(ks, path, "not a regular file");
		goto out;
	}
	if (st.st_size > KS_FILE_MAX) {
		keystore_warn_file(ks, path, "larger than %d bytes",
		    KS_FILE_MAX);
		goto out;
	}
	/* Sized by fstat, plus a byte to notice a file that grew; grown
	 * (up to one byte past the limit) if it did. */
	cap = (size_t)st.st_size + 1;
	if ((buf = malloc(cap)) == NULL) {
		rc = JG_ERR_NOMEM;
		goto out;
	}
	for (;;) {
		if (got == cap) {
			ncap = cap * 2 < KS_FILE_MAX + 1 ? cap * 2 :
			    KS_FILE_MAX + 1;
			if ((nbuf = realloc(buf, ncap)) == NULL) {
				rc = JG_ERR_NOMEM;
				goto out;
			}
			buf = nbuf;
			cap = ncap;
		}
		n = read(fd, buf + got, cap - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			keystore_warn_file(ks, path, "cannot read: %s",
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > KS_FILE_MAX) {
			keystore_warn_file(ks, path, "larger than %d bytes",
			    KS_FILE_MAX);
			goto out;
		}
	}
	if ((warnings = malloc(sizeof(*warnings))) == NULL) {
		rc = JG_ERR_NOMEM;
		goto out;
	}
	jg_errlist_init(warnings);
	if ((rc = authkeys_parse(buf, got, path, out, warnings)) != JG_OK)
		goto out;
	if (warnings->el_count > 0)
		keystore_warn_parse(ks, path, &st, warnings);
 out:
	free(warnings);
	free(buf);
	close(fd);
	return rc;
}

/* ---- the cache (any thread, under ks_lock) ---- */

static size_t
keystore_bucket(size_t source, const char *user)
{
	uint32_t h = 2166136261u ^ (uint32_t)source;	/* FNV-1a */

	for (; *user != '\0'; user++)
		h = (h ^ (unsigned char)*user) * 16777619u;
	return h % KS_BUCKETS;
}

static struct ks_entry *
keystore_lookup(struct keystore *ks, size_t source, const char *user)
{
	struct ks_entry *e;

	for (e = ks->ks_buckets[keystore_bucket(source, user)]; e != NULL;
	    e = e->ke_next)
		if (e->ke_source == source && strcmp(e->ke_user, user) == 0)
			return e;
	return NULL;
}

static void
keystore_unlink(struct keystore *ks, struct ks_entry *e)
{
	struct ks_entry **pp;

	for (pp = &ks->ks_buckets[keystore_bucket(e->ke_source, e->ke_user)];
	    *pp != NULL; pp = &(*pp)->ke_next) {
		if (*pp == e) {
			*pp = e->ke_next;
			ks->ks_nentries--;
			return;
		}
	}
}

/* Drops e's share of its waiters without calling them (shutdown). */
static void
keystore_entry_free(struct ks_entry *e)
{
	size_t i;

	for (i = 0; i < e->ke_nwaiters; i++)
		if (--e->ke_waiters[i]->kw_pending == 0)
			free(e->ke_waiters[i]);
	free(e->ke_waiters);
	authkeys_unref(e->ke_keys);
	free(e);
}

/* Makes room by dropping the least recently used idle entry. */
static void
keystore_evict(struct keystore *ks)
{
	struct ks_entry *e, *victim = NULL;
	size_t b;

	for (b = 0; b < KS_BUCKETS; b++)
		for (e = ks->ks_buckets[b]; e != NULL; e = e->ke_next)
			if (!e->ke_fetching && (victim == NULL ||
			    e->ke_last_used < victim->ke_last_used))
				victim = e;
	if (victim != NULL) {
		keystore_unlink(ks, victim);
		keystore_entry_free(victim);
	}
}

static struct ks_entry *
keystore_entry_new(struct keystore *ks, size_t source, const char *user)
{
	struct ks_entry *e;
	size_t b;

	if (ks->ks_nentries >= KS_CACHE_MAX)
		keystore_evict(ks);
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	e->ke_source = source;
	memcpy(e->ke_user, user, strlen(user) + 1);
	b = keystore_bucket(source, user);
	e->ke_next = ks->ks_buckets[b];
	ks->ks_buckets[b] = e;
	ks->ks_nentries++;
	return e;
}

static void
keystore_enqueue(struct keystore *ks, struct ks_entry *e)
{
	e->ke_fetching = true;
	e->ke_qnext = NULL;
	if (ks->ks_qtail != NULL)
		ks->ks_qtail->ke_qnext = e;
	else
		ks->ks_queue = e;
	ks->ks_qtail = e;
	ks->ks_busy++;
}

/* ---- the fetch thread ---- */

static size_t
keystore_on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct ks_fetch *f = arg;
	size_t n = size * nmemb;
	char *nb;

	if (n > KS_BODY_MAX - f->kf_len) {
		f->kf_too_big = true;
		return 0;	/* CURLE_WRITE_ERROR ends the transfer */
	}
	if ((nb = realloc(f->kf_body, f->kf_len + n + 1)) == NULL)
		return 0;
	f->kf_body = nb;
	memcpy(f->kf_body + f->kf_len, data, n);
	f->kf_len += n;
	f->kf_body[f->kf_len] = '\0';
	return n;
}

static void
keystore_fetch_free(struct ks_fetch *f)
{
	if (f == NULL)
		return;
	if (f->kf_easy != NULL)
		curl_easy_cleanup(f->kf_easy);
	curl_slist_free_all(f->kf_headers);
	free(f->kf_body);
	free(f);
}

/*
 * A JSON body is an array of authorized_keys lines; joins them into one
 * text.  NULL (with why) if it is anything else.
 */
static char *
keystore_json_to_text(const char *body, size_t len, size_t *outlen,
    char *why, size_t whylen)
{
	cJSON *root, *item;
	char *text;
	size_t total = 0, n;

	if ((root = cJSON_ParseWithLength(body, len)) == NULL ||
	    !cJSON_IsArray(root)) {
		jg_detail(why, whylen, "response is not a JSON array of "
		    "strings");
		cJSON_Delete(root);
		return NULL;
	}
	cJSON_ArrayForEach(item, root) {
		if (!cJSON_IsString(item)) {
			jg_detail(why, whylen, "response is not a JSON array "
			    "of strings");
			cJSON_Delete(root);
			return NULL;
		}
		total += strlen(item->valuestring) + 1;
	}
	/* Each string is shorter than its JSON form, so total stays
	 * within KS_BODY_MAX. */
	if ((text = malloc(total + 1)) == NULL) {
		jg_detail(why, whylen, "out of memory");
		cJSON_Delete(root);
		return NULL;
	}
	*outlen = 0;
	cJSON_ArrayForEach(item, root) {
		n = strlen(item->valuestring);
		memcpy(text + *outlen, item->valuestring, n);
		*outlen += n;
		text[(*outlen)++] = '\n';
	}
	text[*outlen] = '\0';
	cJSON_Delete(root);
	return text;
}

static long
keystore_elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)((now.tv_sec - start->tv_sec) * 1000 +
	    (now.tv_nsec - start->tv_nsec) / 1000000);
}

/*
 * Ends one fetch: turns the response into keys (or a failure), stores the
 * answer, and wakes the waiters whose last fetch this was.  Logging and
 * callbacks happen after the lock is dropped.
 */
static void
keystore_finish(struct keystore *ks, struct ks_fetch *f, CURLcode res)
{
	struct ks_entry *e = f->kf_entry;
	const struct ks_source *src = &ks->ks_sources[e->ke_source];
	struct ks_waiter **ready = NULL;
	struct authkeys *keys = NULL;
	struct jg_errlist *warnings = NULL;
	char why[CURL_ERROR_SIZE + 64], prefix[KS_URL_MAX + 8];
	const char *body;
	char *ctype = NULL, *json = NULL;
	size_t nready = 0, i, len;
	long status = 0, ms = keystore_elapsed_ms(&f->kf_started);
	int64_t now, retry;
	bool ok = false, log_failure = false, recovered = false;
	bool had_answer = false;

	why[0] = '\0';
	curl_easy_getinfo(f->kf_easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(f->kf_easy, CURLINFO_CONTENT_TYPE, &ctype);
	if (f->kf_too_big || res == CURLE_FILESIZE_EXCEEDED)
		jg_detail(why, sizeof(why), "response larger than %d bytes",
		    KS_BODY_MAX);
	else if (res != CURLE_OK)
		jg_detail(why, sizeof(why), "%s", f->kf_errbuf[0] != '\0' ?
		    f->kf_errbuf : curl_easy_strerror(res));
	else if (status != 200)
		jg_detail(why, sizeof(why), "HTTP status %ld", status);
	else {
		body = f->kf_body != NULL ? f->kf_body : "";
		len = f->kf_len;
		if (ctype != NULL && strncasecmp(ctype, "application/json",
		    16) == 0) {
			json = keystore_json_to_text(body, len, &len, why,
			    sizeof(why));
			body = json;
		}
		if (body != NULL && (warnings = malloc(sizeof(*warnings))) ==
		    NULL)
			jg_detail(why, sizeof(why), "out of memory");
		else if (body != NULL) {
			jg_errlist_init(warnings);
			if (authkeys_parse(body, len, f->kf_display, &keys,
			    warnings) != JG_OK)
				jg_detail(why, sizeof(why), "out of memory");
			else
				ok = true;
		}
	}
	free(json);

	pthread_mutex_lock(&ks->ks_lock);
	now = keystore_now(ks);
	had_answer = e->ke_answered;
	if (ok) {
		authkeys_unref(e->ke_keys);
		e->ke_keys = keys;
		keys = NULL;
		e->ke_answered = true;
		e->ke_fetched_at = now;
		e->ke_fresh_until = now + src->kss_ttl_s;
		recovered = e->ke_failing;
		e->ke_failing = false;
	} else {
		/* No previous answer: the user has no keys from here (an
		 * answer all the same, so logins do not wait again). */
		if (!e->ke_answered) {
			e->ke_answered = true;
			e->ke_fetched_at = now;
		}
		retry = src->kss_ttl_s < KS_RETRY_AFTER_FAILURE_S ?
		    src->kss_ttl_s : KS_RETRY_AFTER_FAILURE_S;
		e->ke_fresh_until = now + retry;
		if (!e->ke_failing ||
		    now - e->ke_failure_logged_at >= KS_WARN_INTERVAL_S) {
			e->ke_failure_logged_at = now;
			log_failure = true;
		}
		e->ke_failing = true;
	}
	e->ke_fetching = false;
	if (e->ke_nwaiters > 0 &&
	    (ready = calloc(e->ke_nwaiters, sizeof(*ready))) != NULL) {
		for (i = 0; i < e->ke_nwaiters; i++)
			if (--e->ke_waiters[i]->kw_pending == 0)
				ready[nready++] = e->ke_waiters[i];
	} else {
		/* No memory for the list: nobody can be woken, so at least
		 * do not leak the waiters. */
		for (i = 0; i < e->ke_nwaiters; i++)
			if (--e->ke_waiters[i]->kw_pending == 0)
				free(e->ke_waiters[i]);
	}
	free(e->ke_waiters);
	e->ke_waiters = NULL;
	e->ke_nwaiters = 0;
	pthread_mutex_unlock(&ks->ks_lock);

	if (log_failure)
		log_warn("keys: fetch %s for user %s failed after %ld ms: %s; "
		    "%s", f->kf_display, e->ke_user, ms, why, had_answer ?
		    "keeping the last good answer" : "the user has no keys "
		    "from it for now");
	else if (recovered)
		log_info("keys: fetch %s for user %s works again",
		    f->kf_display, e->ke_user);
	if (ok && warnings->el_count > 0) {
		snprintf(prefix, sizeof(prefix), "user %s: ", e->ke_user);
		keystore_log_warnings(prefix, warnings);
	}
	authkeys_unref(keys);
	free(warnings);
	for (i = 0; i < nready; i++) {
		ready[i]->kw_fn(ready[i]->kw_arg);
		free(ready[i]);
	}
	free(ready);

	/* Idle only once everything above is done. */
	pthread_mutex_lock(&ks->ks_lock);
	if (--ks->ks_busy == 0)
		pthread_cond_broadcast(&ks->ks_idle);
	pthread_mutex_unlock(&ks->ks_lock);
}

/* Creates the transfer for e; on failure finishes it as failed at once. */
static void
keystore_start(struct keystore *ks, struct ks_entry *e)
{
	const struct ks_source *src = &ks->ks_sources[e->ke_source];
	struct ks_fetch *f;
	char err[256];
	bool loopback = false, ok;
	long timeout;

	if ((f = calloc(1, sizeof(*f))) == NULL) {
		/* XXX: without a fetch record the entry cannot be finished
		 * normally; requeue it so the next wakeup retries. */
		pthread_mutex_lock(&ks->ks_lock);
		e->ke_qnext = ks->ks_queue;
		ks->ks_queue = e;
		if (ks->ks_qtail == NULL)
			ks->ks_qtail = e;
		pthread_mutex_unlock(&ks->ks_lock);
		return;
	}
	f->kf_entry = e;
	clock_gettime(CLOCK_MONOTONIC, &f->kf_started);
	ok = keystore_expand(src->kss_template, e->ke_user, f->kf_url,
	    sizeof(f->kf_url));
	if (!ok)
		snprintf(f->kf_display, sizeof(f->kf_display), "%.200s",
		    src->kss_template);
	else if (!keystore_check_url(f->kf_url, f->kf_display,
	    sizeof(f->kf_display), &loopback, err, sizeof(err))) {
		ok = false;
		snprintf(f->kf_display, sizeof(f->kf_display), "%.200s",
		    src->kss_template);
	}
	timeout = src->kss_timeout_ms != 0 ? (long)src->kss_timeout_ms :
	    KS_DEFAULT_TIMEOUT_MS;
	if (ok && ((f->kf_easy = curl_easy_init()) == NULL ||
	    (f->kf_headers = curl_slist_append(NULL, "Accept: "
	    "application/json, text/plain;q=0.9")) == NULL))
		ok = false;
	if (ok && (
	    curl_easy_setopt(f->kf_easy, CURLOPT_URL, f->kf_url) != CURLE_OK ||
	    curl_easy_setopt(f->kf_easy, CURLOPT_PROTOCOLS_STR,
	    loopback ? "http,https" : "https") != CURLE_OK ||
	    curl_easy_setopt(f->kf_easy, CURLOPT_REDIR_PROTOCOLS_STR,
	    "https") != CURLE_OK ||
	    curl_easy_setopt(f->kf_easy, CURLOPT_FOLLOWLOCATION, 1L) !=
	    CURLE_OK ||
	    curl_easy_setopt(f->kf_easy, CURLOPT_MAXREDIRS, 3L) != CURLE_OK ||
	    curl_easy_setopt(f->kf_easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(f->kf_easy, CURLOPT_TIMEOUT_MS, timeout) !=
	    CURLE_OK ||
	    curl_easy_setopt(f->kf_easy, CURLOPT_USERAGENT,
	    "jumpgate/" JG_VERSION) != CURLE_OK ||
	    curl_easy_setopt(f->kf_easy, CURLOPT_HTTPHEADER, f->kf_headers) !=
	    CURLE_OK ||
	    curl_easy_setopt(f->kf_easy, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)KS_BODY_MAX) != CURLE_OK ||
	    curl_easy_setopt(f->kf_easy, CURLOPT_WRITEFUNCTION,
	    keystore_on_body) != CURLE_OK ||
	    curl_easy_setopt(f->kf_easy, CURLOPT_WRITEDATA, f) != CURLE_OK ||
	    curl_easy_setopt(f->kf_easy, CURLOPT_ERRORBUFFER, f->kf_errbuf) !=
	    CURLE_OK ||
	    curl_easy_setopt(f->kf_easy, CURLOPT_PRIVATE, f) != CURLE_OK ||
	    (ks->ks_cafile != NULL && curl_easy_setopt(f->kf_easy,
	    CURLOPT_CAINFO, ks->ks_cafile) != CURLE_OK) ||
	    curl_multi_add_handle(ks->ks_multi, f->kf_easy) != CURLM_OK))
		ok = false;
	if (!ok) {
		/* Report it like any failed fetch: logged, waiters woken. */
		if (f->kf_errbuf[0] == '\0')
			snprintf(f->kf_errbuf, sizeof(f->kf_errbuf), "cannot "
			    "set up the request");
		keystore_finish(ks, f, CURLE_FAILED_INIT);
		keystore_fetch_free(f);
		return;
	}
	f->kf_next = ks->ks_active;
	ks->ks_active = f;
}

static void
keystore_reap(struct keystore *ks)
{
	struct ks_fetch *f, **pp;
	CURLMsg *msg;
	CURLcode res;
	char *priv;
	int left;

	while ((msg = curl_multi_info_read(ks->ks_multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		priv = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		f = (struct ks_fetch *)(void *)priv;
		/* msg is invalid once the handle is removed: copy first. */
		res = msg->data.result;
		curl_multi_remove_handle(ks->ks_multi, f->kf_easy);
		for (pp = &ks->ks_active; *pp != NULL; pp = &(*pp)->kf_next)
			if (*pp == f) {
				*pp = f->kf_next;
				break;
			}
		keystore_finish(ks, f, res);
		keystore_fetch_free(f);
	}
}

static void *
keystore_thread(void *arg)
{
	struct keystore *ks = arg;
	struct ks_entry *q, *next;
	struct ks_fetch *f;
	int running;

	for (;;) {
		pthread_mutex_lock(&ks->ks_lock);
		if (ks->ks_stop) {
			pthread_mutex_unlock(&ks->ks_lock);
			break;
		}
		q = ks->ks_queue;
		ks->ks_queue = ks->ks_qtail = NULL;
		pthread_mutex_unlock(&ks->ks_lock);

		/* Entries are not freed while fetching: safe unlocked. */
		for (; q != NULL; q = next) {
			next = q->ke_qnext;
			keystore_start(ks, q);
		}
		curl_multi_perform(ks->ks_multi, &running);
		keystore_reap(ks);
		/* keystore_get() and keystore_free() interrupt the wait
		 * with curl_multi_wakeup(). */
		curl_multi_poll(ks->ks_multi, NULL, 0, KS_POLL_MS, NULL);
	}

	while ((f = ks->ks_active) != NULL) {
		ks->ks_active = f->kf_next;
		curl_multi_remove_handle(ks->ks_multi, f->kf_easy);
		keystore_fetch_free(f);
	}
	return NULL;
}

/* ---- public ---- */

enum jg_err
keystore_new(const struct config_key_source *sources, size_t nsources,
    struct keystore **out, char *err, size_t errlen)
{
	struct keystore *ks;
	sigset_t all, old;
	char url[KS_URL_MAX], display[KS_URL_MAX], why[256];
	const char *cafile;
	bool loopback;
	size_t i;
	int rc;

	*out = NULL;
	if ((ks = calloc(1, sizeof(*ks))) == NULL)
		goto nomem;
	pthread_mutex_init(&ks->ks_lock, NULL);
	pthread_mutex_init(&ks->ks_warn_lock, NULL);
	pthread_cond_init(&ks->ks_idle, NULL);
	atomic_init(&ks->ks_clock_offset, 0);
	if (nsources > 0 && (ks->ks_sources = calloc(nsources,
	    sizeof(*ks->ks_sources))) == NULL)
		goto nomem;
	for (i = 0; i < nsources; i++) {
		struct ks_source *s = &ks->ks_sources[i];

		if (sources[i].template == NULL ||
		    !keystore_template_valid(sources[i].template)) {
			jg_detail(err, errlen, "key source %zu: template %s: "
			    "only %%u (user) and %%%% may follow a %%", i + 1,
			    sources[i].template != NULL ?
			    sources[i].template : "(none)");
			keystore_free(ks);
			return JG_ERR_CONFIG;
		}
		s->kss_type = sources[i].type;
		s->kss_timeout_ms = sources[i].timeout_ms;
		s->kss_ttl_s = sources[i].cache_ttl_s;
		if ((s->kss_template = strdup(sources[i].template)) == NULL)
			goto nomem;
		ks->ks_nsources = i + 1;
		if (s->kss_type != CONFIG_KEYS_URL)
			continue;
		ks->ks_has_url = true;
		if (!keystore_expand(s->kss_template, "user", url,
		    sizeof(url)) || !keystore_check_url(url, display,
		    sizeof(display), &loopback, why, sizeof(why))) {
			jg_detail(err, errlen, "key source %zu: %s: %s", i + 1,
			    s->kss_template, why);
			keystore_free(ks);
			return JG_ERR_CONFIG;
		}
	}
	if (!ks->ks_has_url) {
		*out = ks;
		return JG_OK;
	}

	if ((cafile = getenv(KEYSTORE_CA_FILE_ENV)) != NULL &&
	    (ks->ks_cafile = strdup(cafile)) == NULL)
		goto nomem;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		jg_detail(err, errlen, "key sources: cannot initialise "
		    "libcurl");
		keystore_free(ks);
		return JG_ERR_HTTP;
	}
	ks->ks_curl_init = true;
	if ((ks->ks_multi = curl_multi_init()) == NULL)
		goto nomem;
	/* The thread inherits a full mask: signals stay with main. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&ks->ks_thread, NULL, keystore_thread, ks);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		jg_detail(err, errlen, "key sources: cannot start the fetch "
		    "thread: %s", strerror(rc));
		keystore_free(ks);
		return JG_ERR_INTERNAL;
	}
	ks->ks_thread_started = true;
	*out = ks;
	return JG_OK;
 nomem:
	jg_detail(err, errlen, "key sources: out of memory");
	keystore_free(ks);
	return JG_ERR_NOMEM;
}

void
keystore_free(struct keystore *ks)
{
	struct ks_entry *e, *next;
	size_t b, i;

	if (ks == NULL)
		return;
	if (ks->ks_thread_started) {
		pthread_mutex_lock(&ks->ks_lock);
		ks->ks_stop = true;
		pthread_mutex_unlock(&ks->ks_lock);
		curl_multi_wakeup(ks->ks_multi);
		pthread_join(ks->ks_thread, NULL);
	}
	for (b = 0; b < KS_BUCKETS; b++)
		for (e = ks->ks_buckets[b]; e != NULL; e = next) {
			next = e->ke_next;
			keystore_entry_free(e);
		}
	if (ks->ks_multi != NULL)
		curl_multi_cleanup(ks->ks_multi);
	if (ks->ks_curl_init)
		curl_global_cleanup();
	for (i = 0; i < ks->ks_nsources; i++)
		free(ks->ks_sources[i].kss_template);
	free(ks->ks_sources);
	for (i = 0; i < ks->ks_nfiles; i++)
		free(ks->ks_files[i].kfs_path);
	free(ks->ks_cafile);
	pthread_cond_destroy(&ks->ks_idle);
	pthread_mutex_destroy(&ks->ks_warn_lock);
	pthread_mutex_destroy(&ks->ks_lock);
	free(ks);
}

/*
 * Looks at every URL source for user under one hold of the lock, so a
 * waiter is attached to all pending fetches before any of them can
 * finish and free it.
 */
static enum jg_err
keystore_get_urls(struct keystore *ks, const char *user,
    struct authkeys **parts, keystore_ready_fn ready, void *arg)
{
	struct ks_waiter *w = NULL, **nw;
	struct ks_entry *e;
	enum jg_err rc = JG_OK;
	bool again = false, wake = false;
	int64_t now;
	size_t i;

	pthread_mutex_lock(&ks->ks_lock);
	now = keystore_now(ks);
	for (i = 0; i < ks->ks_nsources; i++) {
		if (ks->ks_sources[i].kss_type != CONFIG_KEYS_URL)
			continue;
		if ((e = keystore_lookup(ks, i, user)) == NULL &&
		    (e = keystore_entry_new(ks, i, user)) == NULL) {
			rc = JG_ERR_NOMEM;
			break;
		}
		e->ke_last_used = now;
		if (e->ke_answered) {
			parts[i] = authkeys_ref(e->ke_keys);
			/* Stale: answer now, refresh behind the login. */
			if (now >= e->ke_fresh_until && !e->ke_fetching) {
				keystore_enqueue(ks, e);
				wake = true;
			}
			continue;
		}
		again = true;
		if (!e->ke_fetching) {
			keystore_enqueue(ks, e);
			wake = true;
		}
		if (ready == NULL)
			continue;
		if (w == NULL) {
			if ((w = calloc(1, sizeof(*w))) == NULL) {
				rc = JG_ERR_NOMEM;
				break;
			}
			w->kw_fn = ready;
			w->kw_arg = arg;
		}
		/* Past the bound this call is not woken by this fetch; the
		 * answer is still cached for its next try. */
		if (e->ke_nwaiters >= KS_WAITERS_MAX)
			continue;
		nw = reallocarray(e->ke_waiters, e->ke_nwaiters + 1,
		    sizeof(*nw));
		if (nw == NULL) {
			rc = JG_ERR_NOMEM;
			break;
		}
		e->ke_waiters = nw;
		nw[e->ke_nwaiters++] = w;
		w->kw_pending++;
	}
	if (rc == JG_OK && again)
		rc = JG_ERR_AGAIN;
	/* Attached nowhere (limit or error): nobody else will free it. */
	if (w != NULL && w->kw_pending == 0) {
		free(w);
		if (rc == JG_ERR_AGAIN && ready != NULL)
			rc = JG_ERR_LIMIT;
	}
	pthread_mutex_unlock(&ks->ks_lock);
	if (wake)
		curl_multi_wakeup(ks->ks_multi);
	return rc;
}

enum jg_err
keystore_get(struct keystore *ks, const char *user, struct authkeys **out,
    keystore_ready_fn ready, void *arg)
{
	struct authkeys **parts, *acc = NULL, *merged;
	enum jg_err rc = JG_OK;
	size_t i;

	*out = NULL;
	if (user == NULL || !name_user_valid(user))
		return JG_ERR_BAD_NAME;
	if ((parts = calloc(ks->ks_nsources + 1, sizeof(*parts))) == NULL)
		return JG_ERR_NOMEM;
	if (ks->ks_has_url &&
	    (rc = keystore_get_urls(ks, user, parts, ready, arg)) != JG_OK)
		goto out;
	for (i = 0; i < ks->ks_nsources; i++)
		if (ks->ks_sources[i].kss_type == CONFIG_KEYS_AUTHORIZED_KEYS &&
		    (rc = keystore_read_file(ks, &ks->ks_sources[i], user,
		    &parts[i])) != JG_OK)
			goto out;

	/* Combine in configured order; one source needs no copy. */
	for (i = 0; i < ks->ks_nsources; i++) {
		if (parts[i] == NULL)
			continue;
		if (acc == NULL) {
			acc = authkeys_ref(parts[i]);
			continue;
		}
		if ((rc = authkeys_merge(acc, parts[i], &merged)) != JG_OK)
			goto out;
		authkeys_unref(acc);
		acc = merged;
	}
	if (acc == NULL && (rc = authkeys_parse("", 0, "(none)", &acc,
	    NULL)) != JG_OK)
		goto out;
	*out = acc;
	acc = NULL;
 out:
	authkeys_unref(acc);
	for (i = 0; i < ks->ks_nsources; i++)
		authkeys_unref(parts[i]);
	free(parts);
	return rc;
}

void
keystore_expire(struct keystore *ks)
{
	struct ks_entry *e, *next;
	int64_t now;
	size_t b;

	if (ks == NULL || !ks->ks_has_url)
		return;
	pthread_mutex_lock(&ks->ks_lock);
	now = keystore_now(ks);
	for (b = 0; b < KS_BUCKETS; b++) {
		for (e = ks->ks_buckets[b]; e != NULL; e = next) {
			next = e->ke_next;
			if (!e->ke_answered || now - e->ke_fetched_at <
			    (int64_t)ks->ks_sources[e->ke_source].kss_ttl_s)
				continue;
			if (e->ke_fetching) {
				/* Its fetch will store a fresh answer. */
				authkeys_unref(e->ke_keys);
				e->ke_keys = NULL;
				e->ke_answered = false;
				continue;
			}
			keystore_unlink(ks, e);
			keystore_entry_free(e);
		}
	}
	pthread_mutex_unlock(&ks->ks_lock);
}

void
keystore_test_advance_clock(struct keystore *ks, unsigned int seconds)
{
	atomic_fetch_add(&ks->ks_clock_offset, (long long)seconds);
}

bool
keystore_test_wait_idle(struct keystore *ks, unsigned int timeout_ms)
{
	struct timespec deadline;
	bool idle;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&ks->ks_lock);
	while (ks->ks_busy > 0)
		if (pthread_cond_timedwait(&ks->ks_idle, &ks->ks_lock,
		    &deadline) == ETIMEDOUT)
			break;
	idle = ks->ks_busy == 0;
	pthread_mutex_unlock(&ks->ks_lock);
	return idle;
}
