/*
 * kube_client.h: how jumpgate reaches the Kubernetes API server: the
 * credentials (the pod's service account, or one context of a kubeconfig)
 * and the libcurl settings every request gets from them.  Secret material
 * (token, client key) stays in struct kube_creds and goes only into
 * request headers and libcurl's TLS setup, never into messages.
 * Reads files: call from the thread that owns the creds (the Kubernetes
 * source's, or the main thread for `jumpgate -t`).  Never logs.
 */
#ifndef JG_KUBE_CLIENT_H
#define JG_KUBE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "config.h"
#include "err.h"

#define KUBE_SA_DIR_DEFAULT	"/var/run/secrets/kubernetes.io/serviceaccount"
/* Tests point the in-cluster loader at a directory of their own. */
#define KUBE_SA_DIR_ENV		"JUMPGATE_SA_DIR"
/* A JWT is a few KiB; a larger token file is a mistake, not a token. */
#define KUBE_TOKEN_MAX		(64u * 1024)
/* A PEM bundle or key, from a file or a -data field. */
#define KUBE_PEM_MAX		(1024u * 1024)
#define KUBE_URL_MAX		4096

/* Bytes held in memory, handed to libcurl as a blob (no temp files). */
struct kube_blob {
	unsigned char	*kb_data;
	size_t		 kb_len;
};

struct kube_creds {
	char	*kc_origin;	/* for messages: "kubeconfig F context C" */
	char	*kc_server;	/* "https://host:port", no trailing '/' */
	char	*kc_ca_file;	/* certificate-authority (or ca.crt) */
	struct kube_blob kc_ca;	/* certificate-authority-data */
	char	*kc_cert_file;	/* client-certificate */
	struct kube_blob kc_cert; /* client-certificate-data */
	char	*kc_key_file;	/* client-key */
	struct kube_blob kc_key; /* client-key-data */
	char	*kc_token;	/* bearer token now in use, or NULL */
	char	*kc_token_file;	/* re-read on a timer; NULL = fixed token */
	bool	 kc_insecure;	/* skip TLS verification (allowed only
				 * with routes.kubernetes.allow_insecure_tls) */
};

/*
 * Loads the credentials kc says: kc->kubeconfig and kc->context, or the
 * in-cluster service account when kubeconfig is NULL.  On error returns
 * JG_ERR_CONFIG / JG_ERR_IO / JG_ERR_PARSE / JG_ERR_DENIED (insecure TLS
 * not allowed) with a sentence in err naming file:line where there is
 * one.  On success *out is the caller's; free with kube_creds_free().
 */
enum jg_err kube_creds_load(const struct config_kubernetes *kc,
	    struct kube_creds **out, char *err, size_t errlen);

/*
 * One context of a kubeconfig (context NULL = current-context).  Relative
 * paths are resolved against the kubeconfig's directory.  Supports
 * server, certificate-authority(-data), insecure-skip-tls-verify (refused
 * unless allow_insecure), token, tokenFile, client-certificate(-data),
 * client-key(-data); exec, auth-provider and basic auth are refused.
 */
enum jg_err kube_creds_from_kubeconfig(const char *path, const char *context,
	    bool allow_insecure, struct kube_creds **out, char *err,
	    size_t errlen);

/*
 * The pod's service account: sa_dir/token and sa_dir/ca.crt (sa_dir NULL
 * = $JUMPGATE_SA_DIR, else KUBE_SA_DIR_DEFAULT), and the server from
 * KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT.
 */
enum jg_err kube_creds_in_cluster(const char *sa_dir,
	    struct kube_creds **out, char *err, size_t errlen);

/*
 * Reads kc_token_file again (bound service account tokens rotate).  On
 * error the token in use is kept and err says why.  *changed tells whether
 * the token differs from before (may be NULL).  No-op without a file.
 */
enum jg_err kube_creds_reread_token(struct kube_creds *c, bool *changed,
	    char *err, size_t errlen);

void	kube_creds_free(struct kube_creds *c);		/* NULL is a no-op */

/*
 * The URL of a collection: /api/v1/namespaces/<ns>/<resource>, or
 * /api/v1/<resource> when ns is NULL, then "?" and query (already
 * escaped; may be NULL).  JG_ERR_LIMIT when it does not fit in len.
 */
enum jg_err kube_url(const struct kube_creds *c, const char *ns,
	    const char *resource, const char *query, char *buf, size_t len);

/*
 * Appends "&key=value" (no '&' when buf is empty) to the query in buf,
 * percent-encoding value.  JG_ERR_LIMIT when it does not fit.
 */
enum jg_err kube_query_add(char *buf, size_t len, const char *key,
	    const char *value);

/*
 * Prepares easy for a GET of url with c: TLS verification and client
 * certificate (files or in-memory blobs), the bearer token, JSON accept,
 * timeouts (timeout_ms 0 = none), TCP keep-alive, no signals, no
 * redirects, and errbuf (CURL_ERROR_SIZE bytes, may be NULL) for
 * libcurl's own wording.  *headers receives the header list: the caller
 * frees it with curl_slist_free_all() after the transfer.
 */
enum jg_err kube_request_init(const struct kube_creds *c, CURL *easy,
	    const char *url, uint32_t connect_timeout_ms, uint32_t timeout_ms,
	    char *errbuf, struct curl_slist **headers, char *err,
	    size_t errlen);

/*
 * A blocking GET of url, body kept up to max_bytes (more is an error).
 * On JG_OK *status is the HTTP status and *body (NUL-terminated, caller
 * frees) its body.  JG_ERR_UNREACHABLE / JG_ERR_TIMEOUT / JG_ERR_HTTP
 * with the reason in err when no response came.  For `jumpgate -t`.
 */
enum jg_err kube_get(const struct kube_creds *c, const char *url,
	    uint32_t timeout_ms, size_t max_bytes, long *status, char **body,
	    size_t *len, char *err, size_t errlen);

/*
 * The sentence of a Kubernetes Status body ("pods is forbidden: User ...
 * cannot list ..."), else the body's first bytes, escaped for a log.
 */
void	kube_status_message(const char *body, size_t len, char *out,
	    size_t outlen);

/* Decodes base64 (whitespace ignored).  JG_ERR_PARSE on a bad
 * character or length; *out (caller frees) on success. */
enum jg_err kube_base64_decode(const char *text, size_t len,
	    struct kube_blob *out);

#endif /* JG_KUBE_CLIENT_H */
