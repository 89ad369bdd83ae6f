/*
 * kube_client.c: the API server's credentials (kubeconfig through ytree,
 * or the in-cluster service account) and the libcurl setup of a request.
 * It owns the secret bytes and hands them only to libcurl; it does not
 * watch or keep objects (source_kube.c) and never logs.  Called by the
 * Kubernetes source's thread, or the main thread for `jumpgate -t`.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cJSON.h>
#include <curl/curl.h>

#include "kube_client.h"
#include "log.h"
#include "ytree.h"

#define KC_ECHO_MAX		80
#define KC_ECHO_BUF		(KC_ECHO_MAX * 4 + 4)
#define KC_USER_AGENT		"jumpgate/" JG_VERSION
/* Dead peers under a quiet watch are found by TCP keep-alive. */
#define KC_KEEPIDLE_S		30L
#define KC_KEEPINTVL_S		10L

/* A kubeconfig being read: where, for messages. */
struct kc_file {
	const char	*kf_path;
	char		*kf_dir;	/* for relative paths */
	char		*kf_err;
	size_t		 kf_errlen;
};

void
kube_creds_free(struct kube_creds *c)
{
	if (c == NULL)
		return;
	free(c->kc_origin);
	free(c->kc_server);
	free(c->kc_ca_file);
	free(c->kc_ca.kb_data);
	free(c->kc_cert_file);
	free(c->kc_cert.kb_data);
	free(c->kc_key_file);
	if (c->kc_key.kb_data != NULL)
		explicit_bzero(c->kc_key.kb_data, c->kc_key.kb_len);
	free(c->kc_key.kb_data);
	if (c->kc_token != NULL)
		explicit_bzero(c->kc_token, strlen(c->kc_token));
	free(c->kc_token);
	free(c->kc_token_file);
	free(c);
}

/* Reads at most max bytes of path into a NUL-terminated buffer. */
static enum jg_err
kc_read_file(const char *path, size_t max, char **out, size_t *outlen,
    char *err, size_t errlen)
{
	struct stat st;
	char *buf;
	size_t len = 0;
	ssize_t n;
	int fd;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		jg_detail(err, errlen, "%s: cannot read: %s", path,
		    strerror(errno));
		return JG_ERR_IO;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		jg_detail(err, errlen, "%s: cannot read: not a regular file",
		    path);
		close(fd);
		return JG_ERR_IO;
	}
	if ((buf = malloc(max + 1)) == NULL) {
		close(fd);
		jg_detail(err, errlen, "%s: out of memory", path);
		return JG_ERR_NOMEM;
	}
	/* One byte past the cap tells "too big" from "exactly max". */
	while (len <= max) {
		n = read(fd, buf + len, max + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			jg_detail(err, errlen, "%s: cannot read: %s", path,
			    strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		jg_detail(err, errlen, "%s: larger than %zu bytes", path, max);
		goto fail;
	}
	close(fd);
	buf[len] = '\0';
	*out = buf;
	if (outlen != NULL)
		*outlen = len;
	return JG_OK;
 fail:
	explicit_bzero(buf, len);
	free(buf);
	close(fd);
	return JG_ERR_IO;
}

/*
 * A token goes into an HTTP header: only visible ASCII is accepted, so a
 * stray CR/LF in the file cannot inject a header.  Trailing whitespace
 * (the newline editors add) is dropped.
 */
static enum jg_err
kc_token_check(const char *what, char *tok, char *err, size_t errlen)
{
	size_t n, i;

	n = strlen(tok);
	while (n > 0 && (tok[n - 1] == '\n' || tok[n - 1] == '\r' ||
	    tok[n - 1] == ' ' || tok[n - 1] == '\t'))
		tok[--n] = '\0';
	if (n == 0) {
		jg_detail(err, errlen, "%s: the token is empty", what);
		return JG_ERR_PARSE;
	}
	for (i = 0; i < n; i++)
		if (tok[i] <= 0x20 || tok[i] >= 0x7f) {
			jg_detail(err, errlen, "%s: the token has a byte that "
			    "is not visible ASCII at offset %zu", what, i);
			return JG_ERR_PARSE;
		}
	return JG_OK;
}

static enum jg_err
kc_read_token(const char *path, char **out, char *err, size_t errlen)
{
	char *tok;
	size_t len;
	enum jg_err r;

	*out = NULL;
	if ((r = kc_read_file(path, KUBE_TOKEN_MAX, &tok, &len, err,
	    errlen)) != JG_OK)
		return r;
	if (strlen(tok) != len) {
		jg_detail(err, errlen, "%s: the token has a NUL byte", path);
		r = JG_ERR_PARSE;
	} else
		r = kc_token_check(path, tok, err, errlen);
	if (r != JG_OK) {
		explicit_bzero(tok, len);
		free(tok);
		return r;
	}
	*out = tok;
	return JG_OK;
}

enum jg_err
kube_creds_reread_token(struct kube_creds *c, bool *changed, char *err,
    size_t errlen)
{
	char *tok;
	enum jg_err r;

	if (changed != NULL)
		*changed = false;
	if (c->kc_token_file == NULL)
		return JG_OK;
	if ((r = kc_read_token(c->kc_token_file, &tok, err, errlen)) != JG_OK)
		return r;
	if (c->kc_token != NULL && strcmp(c->kc_token, tok) == 0) {
		explicit_bzero(tok, strlen(tok));
		free(tok);
		return JG_OK;
	}
	if (c->kc_token != NULL) {
		explicit_bzero(c->kc_token, strlen(c->kc_token));
		free(c->kc_token);
	}
	c->kc_token = tok;
	if (changed != NULL)
		*changed = true;
	return JG_OK;
}

static int
kc_b64_value(int ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

enum jg_err
kube_base64_decode(const char *text, size_t len, struct kube_blob *out)
{
	unsigned char *buf;
	uint32_t acc = 0;
	size_t i, o = 0, nbits = 0, pad = 0, nchars = 0;
	int v;

	out->kb_data = NULL;
	out->kb_len = 0;
	if ((buf = malloc(len / 4 * 3 + 3)) == NULL)
		return JG_ERR_NOMEM;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)text[i];

		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
			continue;
		if (ch == '=') {
			pad++;
			nchars++;
			continue;
		}
		if (pad > 0 || (v = kc_b64_value(ch)) < 0)
			goto bad;
		nchars++;
		acc = (acc << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits >= 8) {
			nbits -= 8;
			buf[o++] = (unsigned char)(acc >> nbits);
			acc &= (1u << nbits) - 1;
		}
	}
	/* Unpadded input is accepted; padding, when present, must fit. */
	if (pad > 2 || (pad > 0 && nchars % 4 != 0) || nbits >= 6 ||
	    o == 0)
		goto bad;
	out->kb_data = buf;
	out->kb_len = o;
	return JG_OK;
 bad:
	free(buf);
	return JG_ERR_PARSE;
}

static bool
kc_fail(struct kc_file *f, const struct ytree_node *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool
kc_fail(struct kc_file *f, const struct ytree_node *at, const char *fmt, ...)
{
	char msg[JG_ERRLIST_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (at != NULL)
		jg_detail(f->kf_err, f->kf_errlen, "kubeconfig %s:%d:%d: %s",
		    f->kf_path, at->line, at->column, msg);
	else
		jg_detail(f->kf_err, f->kf_errlen, "kubeconfig %s: %s",
		    f->kf_path, msg);
	return false;
}

/* A scalar string value, or NULL when absent/null; false if not one. */
static bool
kc_scalar(struct kc_file *f, const struct ytree_node *map, const char *key,
    const char *where, const char **out)
{
	const struct ytree_node *n;

	*out = NULL;
	n = ytree_get(map, key);
	if (n == NULL || ytree_is_null(n))
		return true;
	if (n->type != YTREE_SCALAR)
		return kc_fail(f, n, "%s.%s: expected a string, got a %s",
		    where, key, ytree_type_name(n->type));
	if (strlen(n->scalar) != n->len)
		return kc_fail(f, n, "%s.%s: contains a NUL byte", where, key);
	*out = n->scalar;
	return true;
}

static bool
kc_bool(struct kc_file *f, const struct ytree_node *map, const char *key,
    const char *where, bool *out)
{
	const struct ytree_node *n;

	*out = false;
	n = ytree_get(map, key);
	if (n == NULL || ytree_is_null(n))
		return true;
	if (n->type == YTREE_SCALAR && (strcmp(n->scalar, "true") == 0 ||
	    strcmp(n->scalar, "false") == 0)) {
		*out = n->scalar[0] == 't';
		return true;
	}
	return kc_fail(f, n, "%s.%s: expected true or false", where, key);
}

/* A path from the file, made absolute against the kubeconfig's dir. */
static bool
kc_path(struct kc_file *f, const struct ytree_node *at, const char *p,
    char **out)
{
	size_t need;

	if (p[0] == '/' || f->kf_dir == NULL)
		*out = strdup(p);
	else {
		need = strlen(f->kf_dir) + strlen(p) + 2;
		if ((*out = malloc(need)) != NULL)
			snprintf(*out, need, "%s/%s", f->kf_dir, p);
	}
	if (*out == NULL)
		return kc_fail(f, at, "out of memory");
	return true;
}

/* A file field that must be readable now, so -t finds it missing. */
static bool
kc_file_field(struct kc_file *f, const struct ytree_node *map,
    const char *key, const char *where, char **out)
{
	const char *v;

	*out = NULL;
	if (!kc_scalar(f, map, key, where, &v))
		return false;
	if (v == NULL || v[0] == '\0')
		return true;
	if (!kc_path(f, ytree_get(map, key), v, out))
		return false;
	if (access(*out, R_OK) == -1)
		return kc_fail(f, ytree_get(map, key), "%s.%s: %s: %s", where,
		    key, *out, strerror(errno));
	return true;
}

static bool
kc_data_field(struct kc_file *f, const struct ytree_node *map,
    const char *key, const char *where, struct kube_blob *out)
{
	const struct ytree_node *n;
	const char *v;
	enum jg_err r;

	if (!kc_scalar(f, map, key, where, &v))
		return false;
	if (v == NULL || v[0] == '\0')
		return true;
	n = ytree_get(map, key);
	if (n->len > KUBE_PEM_MAX * 4 / 3 + 4)
		return kc_fail(f, n, "%s.%s: larger than %u bytes", where, key,
		    KUBE_PEM_MAX);
	if ((r = kube_base64_decode(v, n->len, out)) == JG_ERR_NOMEM)
		return kc_fail(f, n, "out of memory");
	if (r != JG_OK)
		return kc_fail(f, n, "%s.%s: not valid base64", where, key);
	return true;
}

/* The item of a named list (clusters, users, contexts) called name. */
static const struct ytree_node *
kc_named(struct kc_file *f, const struct ytree_node *root, const char *list,
    const char *inner, const char *name, const struct ytree_node *ref)
{
	const struct ytree_node *seq, *item, *n, *body;
	char esc[KC_ECHO_BUF];
	size_t i;

	seq = ytree_get(root, list);
	if (seq != NULL && !ytree_is_null(seq) && seq->type != YTREE_SEQUENCE) {
		kc_fail(f, seq, "%s: expected a sequence, got a %s", list,
		    ytree_type_name(seq->type));
		return NULL;
	}
	for (i = 0; seq != NULL && seq->type == YTREE_SEQUENCE &&
	    i < seq->nitems; i++) {
		item = seq->items[i];
		n = ytree_get(item, "name");
		if (n == NULL || n->type != YTREE_SCALAR ||
		    strcmp(n->scalar, name) != 0)
			continue;
		body = ytree_get(item, inner);
		if (body == NULL || body->type != YTREE_MAPPING) {
			kc_fail(f, body != NULL ? body : item, "%s '%s': %s: "
			    "expected a mapping", list, log_escape(esc,
			    sizeof(esc), name, KC_ECHO_MAX), inner);
			return NULL;
		}
		return body;
	}
	kc_fail(f, ref, "no %.*s named '%s' in %s", (int)strlen(list) - 1,
	    list, log_escape(esc, sizeof(esc), name, KC_ECHO_MAX), list);
	return NULL;
}

/* http:// is only for a test server on this host. */
static bool
kc_loopback_url(const char *url)
{
	static const char *const ok[] = { "http://127.", "http://[::1]",
	    "http://localhost:", "http://localhost/", NULL };
	size_t i;

	for (i = 0; ok[i] != NULL; i++)
		if (strncmp(url, ok[i], strlen(ok[i])) == 0)
			return true;
	return strcmp(url, "http://localhost") == 0;
}

static bool
kc_server(struct kc_file *f, struct kube_creds *c,
    const struct ytree_node *cluster, const char *where)
{
	const struct ytree_node *n;
	char esc[KC_ECHO_BUF];
	const char *v;
	size_t len;

	if (!kc_scalar(f, cluster, "server", where, &v))
		return false;
	n = ytree_get(cluster, "server");
	if (v == NULL || v[0] == '\0')
		return kc_fail(f, n != NULL ? n : cluster, "%s.server is "
		    "missing", where);
	log_escape(esc, sizeof(esc), v, KC_ECHO_MAX);
	if (strncmp(v, "https://", 8) != 0 && !kc_loopback_url(v))
		return kc_fail(f, n, "%s.server: '%s': expected an https:// "
		    "URL (http:// only to a loopback address)", where, esc);
	len = strlen(v);
	while (len > 0 && v[len - 1] == '/')
		len--;
	/* "https://" or "https:///x" names no host: refuse it here, with
	 * file:line, rather than as a curl error later. */
	{
		const char *host = strstr(v, "://");

		if (host == NULL || host + 3 >= v + len || host[3] == '/')
			return kc_fail(f, n, "%s.server: '%s': no host name "
			    "after the scheme", where, esc);
	}
	if (len >= KUBE_URL_MAX / 2)
		return kc_fail(f, n, "%s.server: longer than %d bytes", where,
		    KUBE_URL_MAX / 2);
	if ((c->kc_server = strndup(v, len)) == NULL)
		return kc_fail(f, n, "out of memory");
	return true;
}

static bool
kc_cluster(struct kc_file *f, struct kube_creds *c,
    const struct ytree_node *cluster, const char *name, bool allow_insecure)
{
	char where[KC_ECHO_BUF + 32], esc[KC_ECHO_BUF];
	bool insecure;

	jg_detail(where, sizeof(where), "cluster '%s'", log_escape(esc,
	    sizeof(esc), name, KC_ECHO_MAX));
	if (!kc_server(f, c, cluster, where) ||
	    !kc_bool(f, cluster, "insecure-skip-tls-verify", where,
	    &insecure) ||
	    !kc_file_field(f, cluster, "certificate-authority", where,
	    &c->kc_ca_file) ||
	    !kc_data_field(f, cluster, "certificate-authority-data", where,
	    &c->kc_ca))
		return false;
	if (insecure && !allow_insecure)
		return kc_fail(f, ytree_get(cluster,
		    "insecure-skip-tls-verify"), "%s: insecure-skip-tls-verify"
		    ": true is refused: an unverified API server could send "
		    "users' sessions anywhere; give the cluster's CA, or set "
		    "routes.kubernetes.allow_insecure_tls: true", where);
	c->kc_insecure = insecure;
	return true;
}

static bool
kc_user(struct kc_file *f, struct kube_creds *c,
    const struct ytree_node *user, const char *name)
{
	static const char *const refused[] = { "exec", "auth-provider",
	    "username", "password", NULL };
	char where[KC_ECHO_BUF + 32], esc[KC_ECHO_BUF], err[512];
	const struct ytree_node *n;
	const char *tok;
	size_t i;

	jg_detail(where, sizeof(where), "user '%s'", log_escape(esc,
	    sizeof(esc), name, KC_ECHO_MAX));
	for (i = 0; refused[i] != NULL; i++)
		if ((n = ytree_get(user, refused[i])) != NULL &&
		    !ytree_is_null(n))
			return kc_fail(f, n, "%s: %s is not supported; use "
			    "token, tokenFile or a client certificate (a "
			    "service account token suits a gateway)", where,
			    refused[i]);
	if (!kc_scalar(f, user, "token", where, &tok) ||
	    !kc_file_field(f, user, "tokenFile", where, &c->kc_token_file) ||
	    !kc_file_field(f, user, "client-certificate", where,
	    &c->kc_cert_file) ||
	    !kc_data_field(f, user, "client-certificate-data", where,
	    &c->kc_cert) ||
	    !kc_file_field(f, user, "client-key", where, &c->kc_key_file) ||
	    !kc_data_field(f, user, "client-key-data", where, &c->kc_key))
		return false;
	if (tok != NULL && tok[0] != '\0') {
		if ((c->kc_token = strdup(tok)) == NULL)
			return kc_fail(f, user, "out of memory");
		if (kc_token_check("token", c->kc_token, err, sizeof(err)) !=
		    JG_OK)
			return kc_fail(f, ytree_get(user, "token"), "%s: %s",
			    where, err);
	} else if (c->kc_token_file != NULL &&
	    kc_read_token(c->kc_token_file, &c->kc_token, err, sizeof(err)) !=
	    JG_OK)
		return kc_fail(f, ytree_get(user, "tokenFile"), "%s: tokenFile: "
		    "%s", where, err);
	if ((c->kc_cert_file != NULL || c->kc_cert.kb_data != NULL) !=
	    (c->kc_key_file != NULL || c->kc_key.kb_data != NULL))
		return kc_fail(f, user, "%s: a client certificate needs its "
		    "key and a key its certificate", where);
	return true;
}

static bool
kc_config(struct kc_file *f, struct kube_creds *c,
    const struct ytree_node *root, const char *context, bool allow_insecure)
{
	const struct ytree_node *ctx, *cluster, *user, *cur;
	const char *cname, *uname, *name = context;

	if (root == NULL || root->type != YTREE_MAPPING)
		return kc_fail(f, root, "expected a mapping (a kubeconfig "
		    "with clusters, users and contexts)");
	cur = ytree_get(root, "current-context");
	if (name == NULL) {
		if (!kc_scalar(f, root, "current-context", "kubeconfig",
		    &name))
			return false;
		if (name == NULL || name[0] == '\0')
			return kc_fail(f, cur != NULL ? cur : root, "no "
			    "current-context; set routes.kubernetes.context");
	}
	if ((ctx = kc_named(f, root, "contexts", "context", name,
	    context == NULL ? cur : root)) == NULL)
		return false;
	if (!kc_scalar(f, ctx, "cluster", "context", &cname) ||
	    !kc_scalar(f, ctx, "user", "context", &uname))
		return false;
	if (cname == NULL)
		return kc_fail(f, ctx, "context '%s' names no cluster", name);
	if ((cluster = kc_named(f, root, "clusters", "cluster", cname,
	    ytree_get(ctx, "cluster"))) == NULL ||
	    !kc_cluster(f, c, cluster, cname, allow_insecure))
		return false;
	/* A context without a user is anonymous, which RBAC will refuse;
	 * -t says so through the request it makes. */
	if (uname != NULL && uname[0] != '\0') {
		if ((user = kc_named(f, root, "users", "user", uname,
		    ytree_get(ctx, "user"))) == NULL ||
		    !kc_user(f, c, user, uname))
			return false;
	}
	return true;
}

enum jg_err
kube_creds_from_kubeconfig(const char *path, const char *context,
    bool allow_insecure, struct kube_creds **out, char *err, size_t errlen)
{
	struct kc_file f;
	struct kube_creds *c;
	struct ytree_node *root = NULL;
	char *slash, esc[KC_ECHO_BUF], msg[JG_ERRLIST_MSG_MAX];
	size_t need;
	enum jg_err r;

	*out = NULL;
	memset(&f, 0, sizeof(f));
	f.kf_path = path;
	f.kf_err = err;
	f.kf_errlen = errlen;
	if ((r = ytree_parse_file(path, &root, msg, sizeof(msg))) != JG_OK) {
		jg_detail(err, errlen, "kubeconfig %s", msg);
		return r;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (f.kf_dir = strdup(path)) == NULL) {
		free(c);
		ytree_free(root);
		jg_detail(err, errlen, "kubeconfig %s: out of memory", path);
		return JG_ERR_NOMEM;
	}
	/* Relative paths inside are relative to the file's directory. */
	if ((slash = strrchr(f.kf_dir, '/')) == NULL) {
		free(f.kf_dir);
		f.kf_dir = NULL;
	} else if (slash == f.kf_dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (!kc_config(&f, c, root, context, allow_insecure)) {
		r = strstr(err, "insecure-skip-tls-verify") != NULL ?
		    JG_ERR_DENIED : JG_ERR_CONFIG;
		goto fail;
	}
	log_escape(esc, sizeof(esc), context != NULL ? context :
	    ytree_get(root, "current-context")->scalar, KC_ECHO_MAX);
	need = strlen(path) + strlen(esc) + 32;
	if ((c->kc_origin = malloc(need)) == NULL) {
		r = JG_ERR_NOMEM;
		jg_detail(err, errlen, "kubeconfig %s: out of memory", path);
		goto fail;
	}
	snprintf(c->kc_origin, need, "kubeconfig %s context %s", path, esc);
	free(f.kf_dir);
	ytree_free(root);
	*out = c;
	return JG_OK;
 fail:
	free(f.kf_dir);
	ytree_free(root);
	kube_creds_free(c);
	return r;
}

enum jg_err
kube_creds_in_cluster(const char *sa_dir, struct kube_creds **out, char *err,
    size_t errlen)
{
	struct kube_creds *c;
	struct in6_addr a6;
	const char *host, *port, *p;
	char path[1024], esc[KC_ECHO_BUF], msg[512];
	size_t need;
	enum jg_err r;

	*out = NULL;
	if (sa_dir == NULL && (sa_dir = getenv(KUBE_SA_DIR_ENV)) == NULL)
		sa_dir = KUBE_SA_DIR_DEFAULT;
	host = getenv("KUBERNETES_SERVICE_HOST");
	port = getenv("KUBERNETES_SERVICE_PORT");
	if (host == NULL || host[0] == '\0' || port == NULL ||
	    port[0] == '\0') {
		jg_detail(err, errlen, "in-cluster service account: "
		    "KUBERNETES_SERVICE_HOST or KUBERNETES_SERVICE_PORT is not "
		    "set (not running in a pod?); set "
		    "routes.kubernetes.kubeconfig to use a kubeconfig");
		return JG_ERR_CONFIG;
	}
	for (p = port; *p != '\0'; p++)
		if (*p < '0' || *p > '9' || p - port >= 5) {
			jg_detail(err, errlen, "in-cluster service account: "
			    "KUBERNETES_SERVICE_PORT '%s' is not a port",
			    log_escape(esc, sizeof(esc), port, KC_ECHO_MAX));
			return JG_ERR_CONFIG;
		}
	if (strlen(host) > 253 || strpbrk(host, "/?#@ ") != NULL) {
		jg_detail(err, errlen, "in-cluster service account: "
		    "KUBERNETES_SERVICE_HOST '%s' is not a host", log_escape(esc,
		    sizeof(esc), host, KC_ECHO_MAX));
		return JG_ERR_CONFIG;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto nomem;
	need = strlen(host) + strlen(port) + 16;
	if ((c->kc_server = malloc(need)) == NULL)
		goto nomem;
	snprintf(c->kc_server, need, inet_pton(AF_INET6, host, &a6) == 1 ?
	    "https://[%s]:%s" : "https://%s:%s", host, port);
	if (snprintf(path, sizeof(path), "%s/token", sa_dir) >=
	    (int)sizeof(path)) {
		jg_detail(err, errlen, "in-cluster service account: %s: path "
		    "too long", sa_dir);
		kube_creds_free(c);
		return JG_ERR_CONFIG;
	}
	if ((c->kc_token_file = strdup(path)) == NULL)
		goto nomem;
	if ((r = kc_read_token(path, &c->kc_token, msg, sizeof(msg))) !=
	    JG_OK) {
		jg_detail(err, errlen, "in-cluster service account: %s", msg);
		kube_creds_free(c);
		return r;
	}
	snprintf(path, sizeof(path), "%s/ca.crt", sa_dir);
	if (access(path, R_OK) == -1) {
		jg_detail(err, errlen, "in-cluster service account: %s: %s",
		    path, strerror(errno));
		kube_creds_free(c);
		return JG_ERR_IO;
	}
	if ((c->kc_ca_file = strdup(path)) == NULL ||
	    (c->kc_origin = strdup("in-cluster service account")) == NULL)
		goto nomem;
	*out = c;
	return JG_OK;
 nomem:
	kube_creds_free(c);
	jg_detail(err, errlen, "in-cluster service account: out of memory");
	return JG_ERR_NOMEM;
}

enum jg_err
kube_creds_load(const struct config_kubernetes *kc, struct kube_creds **out,
    char *err, size_t errlen)
{
	if (kc->kubeconfig != NULL)
		return kube_creds_from_kubeconfig(kc->kubeconfig, kc->context,
		    kc->allow_insecure_tls, out, err, errlen);
	return kube_creds_in_cluster(NULL, out, err, errlen);
}

enum jg_err
kube_query_add(char *buf, size_t len, const char *key, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o;
	const unsigned char *p;

	o = strlen(buf);
	if (o >= len)
		return JG_ERR_LIMIT;
	if (snprintf(buf + o, len - o, "%s%s=", o > 0 ? "&" : "", key) >=
	    (int)(len - o)) {
		buf[o] = '\0';
		return JG_ERR_LIMIT;
	}
	o += strlen(buf + o);
	for (p = (const unsigned char *)value; *p != '\0'; p++) {
		if (len - o < 4)
			goto full;
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		    *p == '_' || *p == '~')
			buf[o++] = (char)*p;
		else {
			buf[o++] = '%';
			buf[o++] = hex[*p >> 4];
			buf[o++] = hex[*p & 15];
		}
	}
	buf[o] = '\0';
	return JG_OK;
 full:
	buf[o] = '\0';
	return JG_ERR_LIMIT;
}

enum jg_err
kube_url(const struct kube_creds *c, const char *ns, const char *resource,
    const char *query, char *buf, size_t len)
{
	int n;

	if (ns != NULL)
		n = snprintf(buf, len, "%s/api/v1/namespaces/%s/%s%s%s",
		    c->kc_server, ns, resource, query != NULL ? "?" : "",
		    query != NULL ? query : "");
	else
		n = snprintf(buf, len, "%s/api/v1/%s%s%s", c->kc_server,
		    resource, query != NULL ? "?" : "",
		    query != NULL ? query : "");
	return n < 0 || (size_t)n >= len ? JG_ERR_LIMIT : JG_OK;
}

static bool
kc_setopt_blob(CURL *easy, CURLoption opt, const struct kube_blob *b)
{
	struct curl_blob blob;

	/* COPY: libcurl keeps its own copy, so the creds may change. */
	blob.data = b->kb_data;
	blob.len = b->kb_len;
	blob.flags = CURL_BLOB_COPY;
	return curl_easy_setopt(easy, opt, &blob) == CURLE_OK;
}

/* Only http(s): a redirect or a crafted URL must not reach file:// etc. */
static bool
kc_setopt_protocols(CURL *easy)
{
#if LIBCURL_VERSION_NUM >= 0x075500
	return curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https") ==
	    CURLE_OK;
#else
	return curl_easy_setopt(easy, CURLOPT_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) == CURLE_OK;
#endif
}

enum jg_err
kube_request_init(const struct kube_creds *c, CURL *easy, const char *url,
    uint32_t connect_timeout_ms, uint32_t timeout_ms, char *errbuf,
    struct curl_slist **headers, char *err, size_t errlen)
{
	struct curl_slist *h = NULL, *t;
	char *auth = NULL;
	size_t need;
	bool ok = true;

	*headers = NULL;
	if ((t = curl_slist_append(h, "Accept: application/json")) == NULL)
		goto nomem;
	h = t;
	if (c->kc_token != NULL) {
		need = strlen(c->kc_token) + 32;
		if ((auth = malloc(need)) == NULL)
			goto nomem;
		snprintf(auth, need, "Authorization: Bearer %s", c->kc_token);
		t = curl_slist_append(h, auth);
		explicit_bzero(auth, need);
		free(auth);
		if (t == NULL)
			goto nomem;
		h = t;
	}
	ok = curl_easy_setopt(easy, CURLOPT_URL, url) == CURLE_OK &&
	    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, h) == CURLE_OK &&
	    curl_easy_setopt(easy, CURLOPT_USERAGENT, KC_USER_AGENT) ==
	    CURLE_OK &&
	    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
	    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
	    kc_setopt_protocols(easy) &&
	    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)connect_timeout_ms) == CURLE_OK &&
	    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)timeout_ms) ==
	    CURLE_OK &&
	    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L) == CURLE_OK &&
	    curl_easy_setopt(easy, CURLOPT_TCP_KEEPIDLE, KC_KEEPIDLE_S) ==
	    CURLE_OK &&
	    curl_easy_setopt(easy, CURLOPT_TCP_KEEPINTVL, KC_KEEPINTVL_S) ==
	    CURLE_OK &&
	    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "") == CURLE_OK &&
	    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER,
	    c->kc_insecure ? 0L : 1L) == CURLE_OK &&
	    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST,
	    c->kc_insecure ? 0L : 2L) == CURLE_OK;
	if (ok && errbuf != NULL) {
		errbuf[0] = '\0';
		ok = curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf) ==
		    CURLE_OK;
	}
	if (ok && c->kc_ca.kb_data != NULL)
		ok = kc_setopt_blob(easy, CURLOPT_CAINFO_BLOB, &c->kc_ca);
	else if (ok && c->kc_ca_file != NULL)
		ok = curl_easy_setopt(easy, CURLOPT_CAINFO, c->kc_ca_file) ==
		    CURLE_OK;
	if (ok && c->kc_cert.kb_data != NULL)
		ok = kc_setopt_blob(easy, CURLOPT_SSLCERT_BLOB, &c->kc_cert) &&
		    curl_easy_setopt(easy, CURLOPT_SSLCERTTYPE, "PEM") ==
		    CURLE_OK;
	else if (ok && c->kc_cert_file != NULL)
		ok = curl_easy_setopt(easy, CURLOPT_SSLCERT, c->kc_cert_file) ==
		    CURLE_OK;
	if (ok && c->kc_key.kb_data != NULL)
		ok = kc_setopt_blob(easy, CURLOPT_SSLKEY_BLOB, &c->kc_key) &&
		    curl_easy_setopt(easy, CURLOPT_SSLKEYTYPE, "PEM") ==
		    CURLE_OK;
	else if (ok && c->kc_key_file != NULL)
		ok = curl_easy_setopt(easy, CURLOPT_SSLKEY, c->kc_key_file) ==
		    CURLE_OK;
	if (!ok) {
		curl_slist_free_all(h);
		jg_detail(err, errlen, "%s: libcurl refused an option "
		    "(libcurl 7.77 or later with OpenSSL is required)", url);
		return JG_ERR_HTTP;
	}
	*headers = h;
	return JG_OK;
 nomem:
	curl_slist_free_all(h);
	jg_detail(err, errlen, "out of memory");
	return JG_ERR_NOMEM;
}

struct kc_body {
	char	*kb_buf;
	size_t	 kb_len;
	size_t	 kb_size;
	size_t	 kb_max;
	bool	 kb_over;
};

static size_t
kc_body_write(char *data, size_t size, size_t n, void *arg)
{
	struct kc_body *b = arg;
	size_t len = size * n, want;
	char *nb;

	if (len > b->kb_max - b->kb_len) {
		b->kb_over = true;
		return 0;
	}
	if (len >= b->kb_size - b->kb_len) {
		want = b->kb_size != 0 ? b->kb_size : 4096;
		while (want - b->kb_len <= len)
			want *= 2;
		if ((nb = realloc(b->kb_buf, want)) == NULL)
			return 0;
		b->kb_buf = nb;
		b->kb_size = want;
	}
	memcpy(b->kb_buf + b->kb_len, data, len);
	b->kb_len += len;
	b->kb_buf[b->kb_len] = '\0';
	return len;
}

enum jg_err
kube_get(const struct kube_creds *c, const char *url, uint32_t timeout_ms,
    size_t max_bytes, long *status, char **body, size_t *len, char *err,
    size_t errlen)
{
	struct kc_body b = { NULL, 0, 0, max_bytes, false };
	struct curl_slist *headers = NULL;
	char errbuf[CURL_ERROR_SIZE];
	CURL *easy;
	CURLcode cc;
	enum jg_err r;

	*status = 0;
	*body = NULL;
	*len = 0;
	if ((easy = curl_easy_init()) == NULL) {
		jg_detail(err, errlen, "out of memory");
		return JG_ERR_NOMEM;
	}
	if ((r = kube_request_init(c, easy, url, timeout_ms, timeout_ms,
	    errbuf, &headers, err, errlen)) != JG_OK) {
		curl_easy_cleanup(easy);
		return r;
	}
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, kc_body_write);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &b);
	cc = curl_easy_perform(easy);
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(easy);
	curl_slist_free_all(headers);
	if (cc != CURLE_OK) {
		free(b.kb_buf);
		if (b.kb_over)
			jg_detail(err, errlen, "the response is larger than "
			    "%zu bytes", max_bytes);
		else
			jg_detail(err, errlen, "%s", errbuf[0] != '\0' ?
			    errbuf : curl_easy_strerror(cc));
		return cc == CURLE_OPERATION_TIMEDOUT ? JG_ERR_TIMEOUT :
		    b.kb_over ? JG_ERR_LIMIT : cc == CURLE_COULDNT_CONNECT ||
		    cc == CURLE_COULDNT_RESOLVE_HOST ? JG_ERR_UNREACHABLE :
		    JG_ERR_HTTP;
	}
	if (b.kb_buf == NULL && (b.kb_buf = strdup("")) == NULL) {
		jg_detail(err, errlen, "out of memory");
		return JG_ERR_NOMEM;
	}
	*body = b.kb_buf;
	*len = b.kb_len;
	return JG_OK;
}

void
kube_status_message(const char *body, size_t len, char *out, size_t outlen)
{
	const cJSON *msg;
	cJSON *root;

	out[0] = '\0';
	if (body == NULL || len == 0) {
		jg_detail(out, outlen, "(empty body)");
		return;
	}
	root = cJSON_ParseWithLength(body, len);
	msg = cJSON_GetObjectItemCaseSensitive(root, "message");
	if (cJSON_IsString(msg) && msg->valuestring[0] != '\0')
		log_escape(out, outlen, msg->valuestring, 300);
	else
		log_escape(out, outlen, body, len < 200 ? len : 200);
	cJSON_Delete(root);
}
