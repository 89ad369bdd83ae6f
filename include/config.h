/*
 * config.h: jumpgate's configuration, loaded from one YAML file.
 * config_load() parses and validates the whole file and either returns a
 * complete struct config or reports every error (file:line:column, what is
 * wrong, what is expected) and returns nothing: a config never half-loads.
 * The result is read-only; a reload loads a new one and swaps it in whole.
 * Main thread only (it reads files); the result may be shared read-only.
 */
#ifndef JG_CONFIG_H
#define JG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "log.h"

#define CONFIG_DEFAULT_PATH	JG_SYSCONFDIR "/jumpgate/jumpgate.yaml"

struct config_listen {
	char		*address;	/* IPv4 or IPv6 literal, or "*" */
	uint16_t	 port;
	bool		 proxy_protocol; /* a PROXY v1/v2 header comes first */
	char		**proxy_trusted; /* from= patterns allowed to send it */
	size_t		 nproxy_trusted;
};

enum config_key_source_type {
	CONFIG_KEYS_AUTHORIZED_KEYS = 0, /* path template with %u */
	CONFIG_KEYS_URL,		/* https URL template with %u */
};

struct config_key_source {
	enum config_key_source_type type;
	char		*template;	/* path or URL, %u = user name */
	uint32_t	 timeout_ms;	/* url: whole-request timeout */
	uint32_t	 cache_ttl_s;	/* url: how long an answer is fresh */
};

enum config_route_source {
	CONFIG_ROUTES_STATIC = 0,
	CONFIG_ROUTES_KUBERNETES,
};

/* Where a pod's endpoint may be recorded; crater-cluster-facts.md. */
enum config_endpoint_kind {
	CONFIG_ENDPOINT_ANNOTATION = 0,	/* nodeport.crater.raids.io/<rule> */
	CONFIG_ENDPOINT_SSH_ENABLED,	/* crater.raids.io/ssh-enabled */
	CONFIG_ENDPOINT_SERVICE,	/* NodePort Service by selector */
	CONFIG_ENDPOINT_MAX
};

/* The keys that say who owns a pod and what its job is called. */
struct config_naming {
	char	*annotation_prefix;	/* "nodeport.crater.raids.io/" */
	char	*ssh_enabled_annotation; /* "crater.raids.io/ssh-enabled" */
	char	*owner_label;		/* "crater.raids.io/task-user" */
	char	*job_label;		/* "volcano.sh/job-name" */
	char	*display_name_annotation; /* "crater.raids.io/task-name" */
	char	*base_url_label;	/* "crater.raids.io/base-url" */
	char	*task_label;		/* "volcano.sh/task-spec" */
	/*
	 * Not a key of its own: upstream.host_key_annotation when the host
	 * key policy is annotation, else NULL, so that route sources keep
	 * that annotation's value with each pod.  Borrowed, never freed.
	 */
	const char *host_key_annotation;
	/* Highest precedence first; each kind at most once. */
	enum config_endpoint_kind precedence[CONFIG_ENDPOINT_MAX];
	size_t	 nprecedence;
};

struct config_kubernetes {
	char	*kubeconfig;		/* path; NULL = in-cluster */
	char	*context;		/* NULL = current-context */
	char	**namespaces;		/* empty list = all namespaces */
	size_t	 nnamespaces;
	char	*label_selector;	/* NULL = none */
	bool	 allow_insecure_tls;	/* permits insecure-skip-tls-verify */
	bool	 resolve_node_addresses; /* watch Nodes for their IPs */
	uint32_t request_timeout_ms;
	uint32_t watch_timeout_s;	/* timeoutSeconds on each watch */
	uint32_t token_reread_s;	/* bound tokens rotate */
	uint32_t backoff_max_ms;	/* reconnect backoff ceiling */
};

struct config_routes {
	enum config_route_source source;
	char	*static_file;		/* source: static */
	struct config_naming naming;
	struct config_kubernetes kubernetes;
	char	**admin_users;		/* may reach any job (logged) */
	size_t	 nadmin_users;
};

enum config_upstream_auth {
	CONFIG_UPSTREAM_AGENT = 0,	/* client's forwarded agent */
	CONFIG_UPSTREAM_KEY,		/* gateway-held key */
	CONFIG_UPSTREAM_PASSWORD,	/* keyboard-interactive passthrough */
	CONFIG_UPSTREAM_AUTH_MAX
};

enum config_host_key_policy {
	CONFIG_HOSTKEY_ACCEPT = 0,	/* accept and log the fingerprint */
	CONFIG_HOSTKEY_ANNOTATION,	/* pin from a pod annotation */
	CONFIG_HOSTKEY_KNOWN_HOSTS,	/* check a known_hosts file */
};

/* Direct mode: how jumpgate logs in to the pod itself. */
struct config_upstream {
	char	*user;			/* template, "%u" = gateway user */
	enum config_upstream_auth auth[CONFIG_UPSTREAM_AUTH_MAX];
	size_t	 nauth;
	char	*user_key_dir;		/* per-user keys, made on first use */
	char	*shared_key;		/* one key for all users, or NULL */
	enum config_host_key_policy host_key_policy;
	char	*host_key_annotation;	/* policy annotation */
	char	*known_hosts;		/* policy known_hosts */
	uint32_t connect_timeout_ms;
	uint32_t auth_timeout_ms;
};

/* Every limit carries its unit in its name. */
struct config_limits {
	uint32_t workers;		/* 0 = one per core */
	uint32_t login_grace_time_s;
	uint32_t max_startups_begin;	/* sshd MaxStartups start:rate:full */
	uint32_t max_startups_rate_pct;
	uint32_t max_startups_full;
	uint32_t max_startups_per_source; /* 0 = no per-source cap */
	uint32_t max_auth_tries;
	uint32_t max_sessions;		/* authenticated, all users */
	uint32_t max_sessions_per_user;
	uint32_t idle_timeout_s;	/* 0 = never */
	uint32_t penalty_failures;	/* failed auths before a penalty */
	uint32_t penalty_duration_s;
	uint32_t connect_timeout_ms;	/* jump mode: dial the pod */
	uint32_t relay_buffer_bytes;	/* per direction, per channel */
	uint32_t drain_timeout_s;	/* SIGTERM: let sessions finish */
};

struct config_logging {
	enum log_level level;
	int	 syslog_facility;	/* LOG_AUTH etc. */
};

/* The optional Prometheus and probe endpoint. */
struct config_metrics {
	char	*listen;		/* "addr:port", or NULL = off */
};

/* What users see of the gateway itself (ssh alice@gateway). */
struct config_gateway {
	char	*host;			/* name for ssh-config, or NULL */
	uint32_t port;			/* 0 = the port the client reached */
	char	*banner_file;		/* sent before authentication */
	char	*motd_file;		/* shown on an interactive login */
};

struct config_host_keys {
	char	**paths;
	size_t	 npaths;
	bool	 generate;		/* make a missing ed25519 key */
};

struct config {
	char	*path;			/* the file this was loaded from */
	struct config_listen *listen;
	size_t	 nlisten;
	struct config_host_keys host_keys;
	struct config_key_source *key_sources; /* tried in this order */
	size_t	 nkey_sources;
	struct config_routes routes;
	struct config_upstream upstream;
	struct config_gateway gateway;
	struct config_metrics metrics;
	struct config_limits limits;
	struct config_logging logging;
};

/*
 * Loads and validates path.  On success returns JG_OK and sets *out (caller
 * frees with config_free).  On failure returns JG_ERR_CONFIG (or JG_ERR_IO
 * when the file cannot be read), sets *out to NULL and appends one message
 * per problem to errs, each starting "path:line:column: ".  Relative paths
 * inside the file are resolved against the file's directory.
 */
enum jg_err config_load(const char *path, struct config **out,
	    struct jg_errlist *errs);

/* Same, from a string already in memory; name is used in messages. */
enum jg_err config_load_string(const char *name, const char *text,
	    size_t len, struct config **out, struct jg_errlist *errs);

/* A config with every default and no listen address, for tests. */
struct config *config_new_default(void);

void	config_free(struct config *cfg);

/*
 * Writes cfg as YAML to fp (a FILE *): every key, defaults included, in the
 * order of the README reference, for `jumpgate -T`.  The output loads back
 * into an equal config.  Main thread.
 */
void	config_dump(const struct config *cfg, void *fp);

/*
 * Writes the README's configuration reference (markdown tables: key, type,
 * default, range/unit, meaning) to fp (a FILE *), from the same table that
 * drives the loader, so the two cannot disagree.
 */
void	config_reference(void *fp);

/*
 * True when every key under section ("routes", "users", "listen",
 * "host_keys", ... or a dotted path like "routes.kubernetes") has the
 * same value in a and b.  A reload uses it to restart only what changed.
 */
bool	config_section_equal(const struct config *a, const struct config *b,
	    const char *section);

/* "annotation", "ssh-enabled", "service" */
const char *config_endpoint_kind_name(enum config_endpoint_kind kind);

#endif /* JG_CONFIG_H */
