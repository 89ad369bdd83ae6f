/*
 * config.c: reads jumpgate.yaml (through ytree) into a struct config.  One
 * table, cfg_rows, names every key with its type, default, bounds, unit and
 * what it protects against; it drives parsing, validation, defaults,
 * config_dump (which the unit tests and the config fuzzer load back) and
 * the README reference.  Owns the struct config it returns; it opens no
 * sockets and reads no keys (listener.c, hostkey.c do).  Main thread.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "name.h"
#include "ytree.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

#define CFG_PATH_MAX		256	/* "listen[12].address" and longer */
#define CFG_QUOTE_MAX		64	/* bytes of a bad value quoted */
#define CFG_EXPECT_MAX		256
#define CFG_KEY_MAX		64	/* longer: no suggestion */
#define CFG_SUGGEST_DISTANCE	2	/* "lisen" -> "listen" */
#define CFG_LIST_MAX		1024	/* items in one sequence */

/* Used when users.key_sources is not given: what sshd reads. */
#define CFG_KEYSRC_DEFAULT_PATH	"/home/%u/.ssh/authorized_keys"

enum cfg_type {
	CFG_SECTION,		/* a mapping of further keys */
	CFG_UINT,		/* uint32_t in min..max */
	CFG_PORT,		/* uint16_t in min..max */
	CFG_BOOL,		/* bool */
	CFG_STRING,		/* char *; NULL only with CFG_F_NULL */
	CFG_ENUM,		/* an int-sized enum, names in .names */
	CFG_STRLIST,		/* char ** at off, count at off_n */
	CFG_ENUMLIST,		/* enum[max] at off, count at off_n */
	CFG_STARTUPS,		/* sshd MaxStartups "start:rate:full" */
	CFG_LISTEN,		/* sequence of cfg_listen_rows */
	CFG_KEYSOURCES,		/* sequence of cfg_keysrc_rows */
};

#define CFG_F_NULL	0x0001	/* null or "" allowed: NULL */
#define CFG_F_PATH	0x0002	/* relative to the config's dir */
#define CFG_F_USER	0x0004	/* template: must contain %u */
#define CFG_F_NONEMPTY	0x0008	/* sequence: at least one item */
#define CFG_F_LABEL	0x0010	/* Kubernetes label/annotation */
#define CFG_F_PREFIX	0x0020	/* annotation prefix, ends in / */
#define CFG_F_DNS	0x0040	/* RFC 1123 label (namespace) */
#define CFG_F_ADDR	0x0080	/* an IP literal or "*" */
#define CFG_F_URL	0x0100	/* https://, or http:// to loopback */
#define CFG_F_LOGIN	0x0200	/* user name as name.h has it */

struct cfg_enum {
	const char	*name;
	int		 value;
};

struct cfg_row {
	const char	*path;		/* relative to the table's struct */
	enum cfg_type	 type;
	unsigned	 flags;
	size_t		 off;		/* value in the table's struct */
	size_t		 off_n;		/* lists: the size_t count */
	const char	*def;		/* default as YAML text, NULL =
					 * null; lists joined by ", " */
	uint32_t	 min;		/* numbers: bounds */
	uint32_t	 max;		/* lists: most items */
	const char	*unit;		/* "ms", "s", "bytes" or NULL */
	const struct cfg_enum *names;	/* CFG_ENUM and CFG_ENUMLIST */
	const char	*why;		/* meaning; what it protects */
};

/*
 * Enums are written through an int *: make sure each is an int in size
 * (gcc and clang give such small enums the size of int).
 */
_Static_assert(sizeof(enum config_route_source) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_endpoint_kind) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_upstream_auth) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_host_key_policy) == sizeof(int),
    "enum size");
_Static_assert(sizeof(enum config_key_source_type) == sizeof(int),
    "enum size");
_Static_assert(sizeof(enum log_level) == sizeof(int), "enum size");

static const struct cfg_enum cfg_route_sources[] = {
	{ "static", CONFIG_ROUTES_STATIC },
	{ "kubernetes", CONFIG_ROUTES_KUBERNETES },
	{ NULL, 0 }
};

static const struct cfg_enum cfg_endpoint_kinds[] = {
	{ "service", CONFIG_ENDPOINT_SERVICE },
	{ "annotation", CONFIG_ENDPOINT_ANNOTATION },
	{ "ssh-enabled", CONFIG_ENDPOINT_SSH_ENABLED },
	{ NULL, 0 }
};

static const struct cfg_enum cfg_upstream_auths[] = {
	{ "agent", CONFIG_UPSTREAM_AGENT },
	{ "key", CONFIG_UPSTREAM_KEY },
	{ "password", CONFIG_UPSTREAM_PASSWORD },
	{ NULL, 0 }
};

static const struct cfg_enum cfg_host_key_policies[] = {
	{ "accept", CONFIG_HOSTKEY_ACCEPT },
	{ "annotation", CONFIG_HOSTKEY_ANNOTATION },
	{ "known_hosts", CONFIG_HOSTKEY_KNOWN_HOSTS },
	{ NULL, 0 }
};

static const struct cfg_enum cfg_key_source_types[] = {
	{ "authorized_keys", CONFIG_KEYS_AUTHORIZED_KEYS },
	{ "url", CONFIG_KEYS_URL },
	{ NULL, 0 }
};

static const struct cfg_enum cfg_log_levels[] = {
	{ "error", LOG_LEVEL_ERROR },
	{ "warn", LOG_LEVEL_WARN },
	{ "info", LOG_LEVEL_INFO },
	{ "verbose", LOG_LEVEL_VERBOSE },
	{ "debug", LOG_LEVEL_DEBUG },
	{ NULL, 0 }
};

static const struct cfg_enum cfg_facilities[] = {
	{ "auth", LOG_AUTH },
	{ "authpriv", LOG_AUTHPRIV },
	{ "daemon", LOG_DAEMON },
	{ "local0", LOG_LOCAL0 },
	{ "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 },
	{ "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 },
	{ "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 },
	{ "local7", LOG_LOCAL7 },
	{ NULL, 0 }
};

#define CO(m)		offsetof(struct config, m)

/*
 * Every key of jumpgate.yaml.  A section row comes before its keys; the
 * order here is the order of config_dump and of the README tables.
 */
static const struct cfg_row cfg_rows[] = {
	{ .path = "listen", .type = CFG_LISTEN, .off = CO(listen),
	  .off_n = CO(nlisten), .max = CFG_LIST_MAX,
	  .def = "[{address: 127.0.0.1, port: 2222}]",
	  .why = "Addresses and ports to accept SSH connections on. The "
	  "default listens on loopback only, so that a fresh install exposes "
	  "nothing until an address is chosen." },

	{ .path = "host_keys", .type = CFG_SECTION,
	  .why = "The gateway's own SSH host keys." },
	{ .path = "host_keys.paths", .type = CFG_STRLIST,
	  .flags = CFG_F_PATH | CFG_F_NONEMPTY, .off = CO(host_keys.paths),
	  .off_n = CO(host_keys.npaths), .max = 16,
	  .def = JG_SYSCONFDIR "/jumpgate/ssh_host_ed25519_key",
	  .why = "Private host key files, offered in this order. Files "
	  "readable by group or others are refused." },
	{ .path = "host_keys.generate", .type = CFG_BOOL,
	  .off = CO(host_keys.generate), .def = "true",
	  .why = "Create a missing ed25519 key at the first path on start, "
	  "as sshd-keygen does, instead of refusing to start." },

	{ .path = "users", .type = CFG_SECTION,
	  .why = "Where users' public keys come from." },
	{ .path = "users.key_sources", .type = CFG_KEYSOURCES,
	  .flags = CFG_F_NONEMPTY, .off = CO(key_sources),
	  .off_n = CO(nkey_sources), .max = 16,
	  .def = "[{type: authorized_keys, path: " CFG_KEYSRC_DEFAULT_PATH
	  "}]",
	  .why = "Key sources, tried in order; the keys of all of them are "
	  "accepted." },

	{ .path = "routes", .type = CFG_SECTION,
	  .why = "How a login name becomes a pod endpoint." },
	{ .path = "routes.source", .type = CFG_ENUM,
	  .off = CO(routes.source), .def = "static",
	  .names = cfg_route_sources,
	  .why = "static reads routes from static_file; kubernetes watches "
	  "pods and services in the cluster." },
	{ .path = "routes.static_file", .type = CFG_STRING,
	  .flags = CFG_F_PATH | CFG_F_NULL, .off = CO(routes.static_file),
	  .def = JG_SYSCONFDIR "/jumpgate/routes.yaml",
	  .why = "The routes file; required when source is static." },
	{ .path = "routes.admin_users", .type = CFG_STRLIST,
	  .flags = CFG_F_LOGIN, .off = CO(routes.admin_users),
	  .off_n = CO(routes.nadmin_users), .max = CFG_LIST_MAX, .def = "",
	  .why = "Users who may reach any user's job (every such jump is "
	  "logged)." },
	{ .path = "routes.naming", .type = CFG_SECTION,
	  .why = "The labels and annotations that describe a job's pods; "
	  "the defaults match the Crater platform." },
	{ .path = "routes.naming.annotation_prefix", .type = CFG_STRING,
	  .flags = CFG_F_PREFIX, .off = CO(routes.naming.annotation_prefix),
	  .def = "nodeport.crater.raids.io/",
	  .why = "Pod annotations `<prefix><rule>` hold a NodePort rule "
	  "as JSON." },
	{ .path = "routes.naming.ssh_enabled_annotation", .type = CFG_STRING,
	  .flags = CFG_F_LABEL,
	  .off = CO(routes.naming.ssh_enabled_annotation),
	  .def = "crater.raids.io/ssh-enabled",
	  .why = "Pod annotation holding `<ip>:<nodePort>` of sshd." },
	{ .path = "routes.naming.owner_label", .type = CFG_STRING,
	  .flags = CFG_F_LABEL, .off = CO(routes.naming.owner_label),
	  .def = "crater.raids.io/task-user",
	  .why = "Pod label naming the user who owns the job; only the owner "
	  "(or an admin user) may reach it." },
	{ .path = "routes.naming.job_label", .type = CFG_STRING,
	  .flags = CFG_F_LABEL, .off = CO(routes.naming.job_label),
	  .def = "volcano.sh/job-name",
	  .why = "Pod label with the job's unique internal name." },
	{ .path = "routes.naming.display_name_annotation", .type = CFG_STRING,
	  .flags = CFG_F_LABEL,
	  .off = CO(routes.naming.display_name_annotation),
	  .def = "crater.raids.io/task-name",
	  .why = "Pod annotation with the job's display name (not unique)." },
	{ .path = "routes.naming.base_url_label", .type = CFG_STRING,
	  .flags = CFG_F_LABEL, .off = CO(routes.naming.base_url_label),
	  .def = "crater.raids.io/base-url",
	  .why = "Pod label with the job's base-url name." },
	{ .path = "routes.naming.task_label", .type = CFG_STRING,
	  .flags = CFG_F_LABEL, .off = CO(routes.naming.task_label),
	  .def = "volcano.sh/task-spec",
	  .why = "Pod label with the task name (master, worker, default0)." },
	{ .path = "routes.naming.endpoint_precedence", .type = CFG_ENUMLIST,
	  .flags = CFG_F_NONEMPTY, .off = CO(routes.naming.precedence),
	  .off_n = CO(routes.naming.nprecedence), .max = CONFIG_ENDPOINT_MAX,
	  .def = "service, annotation, ssh-enabled",
	  .names = cfg_endpoint_kinds,
	  .why = "Where to look for a pod's SSH endpoint, first match wins; "
	  "kinds left out are never used." },
	{ .path = "routes.kubernetes", .type = CFG_SECTION,
	  .why = "The cluster connection, used when source is kubernetes." },
	{ .path = "routes.kubernetes.kubeconfig", .type = CFG_STRING,
	  .flags = CFG_F_PATH | CFG_F_NULL,
	  .off = CO(routes.kubernetes.kubeconfig), .def = NULL,
	  .why = "kubeconfig file; null uses the pod's service account." },
	{ .path = "routes.kubernetes.context", .type = CFG_STRING,
	  .flags = CFG_F_NULL, .off = CO(routes.kubernetes.context),
	  .def = NULL,
	  .why = "kubeconfig context; null uses current-context." },
	{ .path = "routes.kubernetes.namespaces", .type = CFG_STRLIST,
	  .flags = CFG_F_DNS, .off = CO(routes.kubernetes.namespaces),
	  .off_n = CO(routes.kubernetes.nnamespaces), .max = 256,
	  .def = "crater-workspace",
	  .why = "Namespaces to watch; [] watches all (needs cluster-wide "
	  "list/watch rights)." },
	{ .path = "routes.kubernetes.label_selector", .type = CFG_STRING,
	  .flags = CFG_F_NULL, .off = CO(routes.kubernetes.label_selector),
	  .def = NULL,
	  .why = "Only pods matching this selector are routes; null means "
	  "all pods." },
	{ .path = "routes.kubernetes.allow_insecure_tls", .type = CFG_BOOL,
	  .off = CO(routes.kubernetes.allow_insecure_tls), .def = "false",
	  .why = "Honour insecure-skip-tls-verify in the kubeconfig; "
	  "otherwise such a kubeconfig is refused (protects against a "
	  "spoofed API server)." },
	{ .path = "routes.kubernetes.resolve_node_addresses", .type = CFG_BOOL,
	  .off = CO(routes.kubernetes.resolve_node_addresses), .def = "false",
	  .why = "Watch Nodes to prefer a node's ExternalIP over the pod's "
	  "hostIP (needs list/watch on nodes)." },
	{ .path = "routes.kubernetes.request_timeout_ms", .type = CFG_UINT,
	  .off = CO(routes.kubernetes.request_timeout_ms), .def = "10000",
	  .min = 100, .max = 120000, .unit = "ms",
	  .why = "Deadline for one API request (protects against a hung API "
	  "server)." },
	{ .path = "routes.kubernetes.watch_timeout_s", .type = CFG_UINT,
	  .off = CO(routes.kubernetes.watch_timeout_s), .def = "300",
	  .min = 10, .max = 3600, .unit = "s",
	  .why = "timeoutSeconds of each watch; a watch is renewed after "
	  "this (protects against silently dead watches)." },
	{ .path = "routes.kubernetes.token_reread_s", .type = CFG_UINT,
	  .off = CO(routes.kubernetes.token_reread_s), .def = "60",
	  .min = 1, .max = 3600, .unit = "s",
	  .why = "How often the service account token is read again "
	  "(bound tokens rotate)." },
	{ .path = "routes.kubernetes.backoff_max_ms", .type = CFG_UINT,
	  .off = CO(routes.kubernetes.backoff_max_ms), .def = "30000",
	  .min = 100, .max = 600000, .unit = "ms",
	  .why = "Ceiling of the reconnect backoff (protects the API "
	  "server from a reconnect storm)." },

	{ .path = "upstream", .type = CFG_SECTION,
	  .why = "Direct mode: how the gateway itself logs in to the pod." },
	{ .path = "upstream.user", .type = CFG_STRING,
	  .off = CO(upstream.user), .def = "%u",
	  .why = "User name on the pod; %u is the gateway user." },
	{ .path = "upstream.auth", .type = CFG_ENUMLIST,
	  .flags = CFG_F_NONEMPTY, .off = CO(upstream.auth),
	  .off_n = CO(upstream.nauth), .max = CONFIG_UPSTREAM_AUTH_MAX,
	  .def = "agent, key", .names = cfg_upstream_auths,
	  .why = "Methods tried in order: the client's forwarded agent, a "
	  "gateway-held key, keyboard-interactive passthrough." },
	{ .path = "upstream.user_key_dir", .type = CFG_STRING,
	  .flags = CFG_F_PATH | CFG_F_NULL, .off = CO(upstream.user_key_dir),
	  .def = "/var/lib/jumpgate/user-keys",
	  .why = "Per-user gateway keys, made on first use; the user adds "
	  "the public half to the pod's authorized_keys." },
	{ .path = "upstream.shared_key", .type = CFG_STRING,
	  .flags = CFG_F_PATH | CFG_F_NULL, .off = CO(upstream.shared_key),
	  .def = NULL,
	  .why = "One private key used for every user, or null." },
	{ .path = "upstream.host_key_policy", .type = CFG_ENUM,
	  .off = CO(upstream.host_key_policy), .def = "accept",
	  .names = cfg_host_key_policies,
	  .why = "How the pod's host key is checked: accept (and log its "
	  "fingerprint), pin from a pod annotation, or a known_hosts file." },
	{ .path = "upstream.host_key_annotation", .type = CFG_STRING,
	  .flags = CFG_F_LABEL | CFG_F_NULL,
	  .off = CO(upstream.host_key_annotation),
	  .def = "jumpgate.crater.raids.io/host-key",
	  .why = "Pod annotation with the pinned host key (policy "
	  "annotation)." },
	{ .path = "upstream.known_hosts", .type = CFG_STRING,
	  .flags = CFG_F_PATH | CFG_F_NULL, .off = CO(upstream.known_hosts),
	  .def = NULL,
	  .why = "known_hosts file; required when the policy is "
	  "known_hosts." },
	{ .path = "upstream.connect_timeout_ms", .type = CFG_UINT,
	  .off = CO(upstream.connect_timeout_ms), .def = "5000",
	  .min = 100, .max = 60000, .unit = "ms",
	  .why = "Deadline to connect to the pod's sshd (protects sessions "
	  "from a black-holed node)." },
	{ .path = "upstream.auth_timeout_ms", .type = CFG_UINT,
	  .off = CO(upstream.auth_timeout_ms), .def = "10000",
	  .min = 100, .max = 120000, .unit = "ms",
	  .why = "Deadline for key exchange and login on the pod." },

	{ .path = "limits", .type = CFG_SECTION,
	  .why = "Resource limits and timeouts; each names its unit." },
	{ .path = "limits.workers", .type = CFG_UINT,
	  .off = CO(limits.workers), .def = "0", .min = 0, .max = 256,
	  .why = "Worker threads; 0 = one per CPU core." },
	{ .path = "limits.login_grace_time_s", .type = CFG_UINT,
	  .off = CO(limits.login_grace_time_s), .def = "30",
	  .min = 1, .max = 3600, .unit = "s",
	  .why = "Time allowed to authenticate (protects against "
	  "connections that hold a slot and never log in)." },
	{ .path = "limits.max_startups", .type = CFG_STARTUPS,
	  .def = "10:30:100",
	  .why = "sshd's MaxStartups start:rate:full for unauthenticated "
	  "connections: past start, drop rate% of new ones, rising to all "
	  "at full (protects against connection floods)." },
	{ .path = "limits.max_startups_per_source", .type = CFG_UINT,
	  .off = CO(limits.max_startups_per_source), .def = "0",
	  .min = 0, .max = 100000,
	  .why = "Unauthenticated connections one address may hold, like "
	  "sshd's PerSourceMaxStartups; 0 = no cap. Keep it below "
	  "max_startups' start so one flooding address cannot push everyone "
	  "into random early drop." },
	{ .path = "limits.max_auth_tries", .type = CFG_UINT,
	  .off = CO(limits.max_auth_tries), .def = "6", .min = 1, .max = 100,
	  .why = "Authentication attempts per connection (protects against "
	  "key and password guessing)." },
	{ .path = "limits.max_sessions", .type = CFG_UINT,
	  .off = CO(limits.max_sessions), .def = "10000",
	  .min = 1, .max = 1000000,
	  .why = "Authenticated connections, all users together (protects "
	  "memory and file descriptors)." },
	{ .path = "limits.max_sessions_per_user", .type = CFG_UINT,
	  .off = CO(limits.max_sessions_per_user), .def = "100",
	  .min = 1, .max = 100000,
	  .why = "Authenticated connections per user, at most max_sessions "
	  "(protects others from one user's runaway scripts)." },
	{ .path = "limits.idle_timeout_s", .type = CFG_UINT,
	  .off = CO(limits.idle_timeout_s), .def = "0",
	  .min = 0, .max = 604800, .unit = "s",
	  .why = "Close a session with no traffic either way for this long; "
	  "0 = never." },
	{ .path = "limits.penalty_failures", .type = CFG_UINT,
	  .off = CO(limits.penalty_failures), .def = "10",
	  .min = 1, .max = 1000,
	  .why = "Failed authentications from one source address before it "
	  "is penalised (protects against brute force)." },
	{ .path = "limits.penalty_duration_s", .type = CFG_UINT,
	  .off = CO(limits.penalty_duration_s), .def = "60",
	  .min = 0, .max = 86400, .unit = "s",
	  .why = "How long a penalised source is refused; 0 disables "
	  "penalties." },
	{ .path = "limits.connect_timeout_ms", .type = CFG_UINT,
	  .off = CO(limits.connect_timeout_ms), .def = "5000",
	  .min = 100, .max = 60000, .unit = "ms",
	  .why = "Jump mode: deadline to connect to the pod's port." },
	{ .path = "limits.drain_timeout_s", .type = CFG_UINT,
	  .off = CO(limits.drain_timeout_s), .def = "30",
	  .min = 0, .max = 86400, .unit = "s",
	  .why = "On SIGTERM, stop accepting and let sessions finish for up "
	  "to this long before closing them with a message; 0 = close at "
	  "once." },
	{ .path = "limits.relay_buffer_bytes", .type = CFG_UINT,
	  .off = CO(limits.relay_buffer_bytes), .def = "262144",
	  .min = 4096, .max = 16777216, .unit = "bytes",
	  .why = "Buffer per direction per channel; a full buffer stops "
	  "reading the other side (bounds memory per session)." },

	{ .path = "gateway", .type = CFG_SECTION,
	  .why = "What users see of the gateway itself: `ssh USER@gateway` "
	  "lists their jobs and prints ready ssh_config entries." },
	{ .path = "gateway.host", .type = CFG_STRING, .flags = CFG_F_NULL,
	  .off = CO(gateway.host), .def = NULL,
	  .why = "Host name users reach the gateway by, written into "
	  "ssh-config output; null = the address the connection arrived "
	  "on (SSH carries no host name)." },
	{ .path = "gateway.port", .type = CFG_UINT, .off = CO(gateway.port),
	  .def = "0", .min = 0, .max = 65535,
	  .why = "Port written into ssh-config output; 0 = the port the "
	  "connection arrived on (set it behind a load balancer that maps "
	  "ports)." },
	{ .path = "gateway.banner_file", .type = CFG_STRING,
	  .flags = CFG_F_PATH | CFG_F_NULL, .off = CO(gateway.banner_file),
	  .def = NULL,
	  .why = "Text sent to clients before authentication, like sshd's "
	  "Banner (at most 4 KiB); null = none." },
	{ .path = "gateway.motd_file", .type = CFG_STRING,
	  .flags = CFG_F_PATH | CFG_F_NULL, .off = CO(gateway.motd_file),
	  .def = NULL,
	  .why = "Message of the day shown above the job table of an "
	  "interactive `ssh USER@gateway` (at most 4 KiB); null = none." },

	{ .path = "metrics", .type = CFG_SECTION,
	  .why = "Prometheus metrics and health probes over HTTP." },
	{ .path = "metrics.listen", .type = CFG_STRING, .flags = CFG_F_NULL,
	  .off = CO(metrics.listen), .def = NULL,
	  .why = "address:port ([v6]:port) serving /metrics, /healthz and "
	  "/readyz; null = off. Keep it off the users' network: it is not "
	  "authenticated." },

	{ .path = "logging", .type = CFG_SECTION, .why = "The log." },
	{ .path = "logging.level", .type = CFG_ENUM,
	  .off = CO(logging.level), .def = "info", .names = cfg_log_levels,
	  .why = "Least severe level logged." },
	{ .path = "logging.syslog_facility", .type = CFG_ENUM,
	  .off = CO(logging.syslog_facility), .def = "auth",
	  .names = cfg_facilities,
	  .why = "syslog facility when not in the foreground; auth is where "
	  "sshd logs, so fail2ban finds the lines." },
};

#define LO(m)		offsetof(struct config_listen, m)

static const struct cfg_row cfg_listen_rows[] = {
	{ .path = "address", .type = CFG_STRING, .flags = CFG_F_ADDR,
	  .off = LO(address), .def = "127.0.0.1",
	  .why = "IPv4 or IPv6 literal; \"*\" = every address." },
	{ .path = "port", .type = CFG_PORT, .off = LO(port), .def = "2222",
	  .min = 1, .max = 65535, .why = "TCP port." },
	{ .path = "proxy_protocol", .type = CFG_BOOL,
	  .off = LO(proxy_protocol), .def = "false",
	  .why = "Connections start with a PROXY protocol v1 or v2 header "
	  "from a load balancer; its client address is used for logs, "
	  "penalties and from= options." },
	{ .path = "proxy_trusted", .type = CFG_STRLIST,
	  .off = LO(proxy_trusted), .off_n = LO(nproxy_trusted), .max = 64,
	  .def = "",
	  .why = "Who may send the header: OpenSSH address patterns "
	  "(10.0.0.0/8, 192.168.1.*); required with proxy_protocol. Others "
	  "are refused (anyone could claim any address)." },
};

#define KO(m)		offsetof(struct config_key_source, m)

/* path and url share one field: the cross checks allow only one. */
static const struct cfg_row cfg_keysrc_rows[] = {
	{ .path = "type", .type = CFG_ENUM, .off = KO(type),
	  .def = "authorized_keys", .names = cfg_key_source_types,
	  .why = "authorized_keys reads a file per user on every login, as "
	  "sshd does; url fetches keys over HTTPS." },
	{ .path = "path", .type = CFG_STRING,
	  .flags = CFG_F_PATH | CFG_F_USER | CFG_F_NULL, .off = KO(template),
	  .def = NULL,
	  .why = "type authorized_keys: file template, %u = user name; "
	  "required." },
	{ .path = "url", .type = CFG_STRING,
	  .flags = CFG_F_URL | CFG_F_USER | CFG_F_NULL, .off = KO(template),
	  .def = NULL,
	  .why = "type url: https:// URL template, %u = user name; http:// "
	  "only to a loopback host; required." },
	{ .path = "timeout_ms", .type = CFG_UINT, .off = KO(timeout_ms),
	  .def = "3000", .min = 100, .max = 60000, .unit = "ms",
	  .why = "type url: deadline of one fetch (protects logins from a "
	  "slow key service)." },
	{ .path = "cache_ttl_s", .type = CFG_UINT, .off = KO(cache_ttl_s),
	  .def = "300", .min = 0, .max = 86400, .unit = "s",
	  .why = "type url: how long an answer is used before it is fetched "
	  "again; a failed fetch keeps the last good answer." },
};

/* One loading run. */
struct cfg_ctx {
	const char	*cc_name;	/* the file as the user named it */
	const char	*cc_dir;	/* base of relative paths, or "" */
	struct jg_errlist *cc_errs;
	size_t		 cc_nerr;
	bool		 cc_nomem;
	const struct ytree_node *cc_seen[nitems(cfg_rows)];
	const struct ytree_node *cc_root;
};

static void	cfg_free_fields(const struct cfg_row *rows, size_t nrows,
		    void *base);

static void *
cfg_at(void *base, size_t off)
{
	return (char *)base + off;
}

static const void *
cfg_cat(const void *base, size_t off)
{
	return (const char *)base + off;
}

/*
 * A value from the file, safe and short enough to quote in a message:
 * like log_escape(), but NUL bytes are shown rather than ending it.
 */
static const char *
cfg_quote(char *buf, size_t buflen, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0, n = len < CFG_QUOTE_MAX ? len : CFG_QUOTE_MAX;
	unsigned char ch;

	for (i = 0; i < n && o + 5 < buflen; i++) {
		ch = (unsigned char)s[i];
		if (ch >= 0x20 && ch < 0x7f && ch != '\\') {
			buf[o++] = (char)ch;
			continue;
		}
		buf[o++] = '\\';
		buf[o++] = 'x';
		buf[o++] = hex[ch >> 4];
		buf[o++] = hex[ch & 0xf];
	}
	if (len > n && o + 4 < buflen) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

static void
cfg_err(struct cfg_ctx *c, const struct ytree_node *at, const char *key,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Adds "name:line:column: key: message" to the list. */
static void
cfg_err(struct cfg_ctx *c, const struct ytree_node *at, const char *key,
    const char *fmt, ...)
{
	char msg[JG_ERRLIST_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->cc_nerr++;
	if (c->cc_errs == NULL)
		return;
	if (at != NULL)
		jg_errlist_add(c->cc_errs, "%s:%d:%d: %s%s%s", c->cc_name,
		    at->line, at->column, key != NULL && *key != '\0' ? key :
		    "", key != NULL && *key != '\0' ? ": " : "", msg);
	else
		jg_errlist_add(c->cc_errs, "%s: %s%s%s", c->cc_name,
		    key != NULL && *key != '\0' ? key : "",
		    key != NULL && *key != '\0' ? ": " : "", msg);
}

/* dst = a.b (or whichever is not empty). */
static void
cfg_join(char *dst, size_t len, const char *a, const char *b)
{
	snprintf(dst, len, "%s%s%s", a, *a != '\0' && *b != '\0' ? "." : "",
	    b);
}

static const char *
cfg_unit_word(const char *unit)
{
	if (unit == NULL)
		return NULL;
	if (strcmp(unit, "ms") == 0)
		return "milliseconds";
	if (strcmp(unit, "s") == 0)
		return "seconds";
	return unit;
}

static void
cfg_names(char *buf, size_t len, const struct cfg_enum *names)
{
	size_t i;

	buf[0] = '\0';
	for (i = 0; names[i].name != NULL; i++) {
		if (i > 0)
			strncat(buf, ", ", len - strlen(buf) - 1);
		strncat(buf, names[i].name, len - strlen(buf) - 1);
	}
}

static const char *
cfg_name_of(const struct cfg_enum *names, int value)
{
	size_t i;

	for (i = 0; names[i].name != NULL; i++)
		if (names[i].value == value)
			return names[i].name;
	return "?";
}

/* What row accepts, as words after "expected"; always fills buf. */
static const char *
cfg_expect(const struct cfg_row *r, char *buf, size_t len)
{
	char names[CFG_EXPECT_MAX];
	const char *what;

	switch (r->type) {
	case CFG_SECTION:
		snprintf(buf, len, "a mapping");
		return buf;
	case CFG_UINT:
	case CFG_PORT:
		if (r->unit != NULL)
			snprintf(buf, len, "an integer %u..%u, in %s",
			    (unsigned)r->min, (unsigned)r->max,
			    cfg_unit_word(r->unit));
		else
			snprintf(buf, len, "an integer %u..%u",
			    (unsigned)r->min, (unsigned)r->max);
		return buf;
	case CFG_BOOL:
		snprintf(buf, len, "true or false");
		return buf;
	case CFG_STRING:
		if (r->flags & CFG_F_URL)
			what = "an https:// URL containing %u; http:// only "
			    "to a loopback host";
		else if ((r->flags & CFG_F_PATH) && (r->flags & CFG_F_USER))
			what = "a path containing %u";
		else if (r->flags & CFG_F_PATH)
			what = "a path";
		else if (r->flags & CFG_F_ADDR)
			what = "an IPv4 or IPv6 address, or \"*\"";
		else if (r->flags & CFG_F_PREFIX)
			what = "an annotation prefix ending in '/'";
		else if (r->flags & CFG_F_LABEL)
			what = "a label or annotation key";
		else
			what = "a string";
		/* Templates are nullable only until their type is known. */
		snprintf(buf, len, "%s%s", what,
		    (r->flags & CFG_F_NULL) && !(r->flags & CFG_F_USER) ?
		    " or null" : "");
		return buf;
	case CFG_ENUM:
		cfg_names(names, sizeof(names), r->names);
		snprintf(buf, len, "one of: %s", names);
		return buf;
	case CFG_STRLIST:
		if (r->flags & CFG_F_PATH)
			what = "paths";
		else if (r->flags & CFG_F_DNS)
			what = "namespace names";
		else if (r->flags & CFG_F_LOGIN)
			what = "user names";
		else
			what = "strings";
		snprintf(buf, len, "a sequence of %s%s", what,
		    r->flags & CFG_F_NONEMPTY ? ", at least one" : "");
		return buf;
	case CFG_ENUMLIST:
		cfg_names(names, sizeof(names), r->names);
		snprintf(buf, len, "a sequence of %s, each at most once%s",
		    names, r->flags & CFG_F_NONEMPTY ? ", at least one" : "");
		return buf;
	case CFG_STARTUPS:
		snprintf(buf, len, "\"start:rate:full\" with 1 <= start <= "
		    "full <= 1000000 and rate 1..100, or a bare \"N\"");
		return buf;
	case CFG_LISTEN:
		snprintf(buf, len, "a sequence of {address, port} mappings, "
		    "at least one");
		return buf;
	case CFG_KEYSOURCES:
		snprintf(buf, len, "a sequence of key source mappings, at "
		    "least one");
		return buf;
	}
	snprintf(buf, len, "?");
	return buf;
}

static const char *
cfg_got(const struct ytree_node *n)
{
	if (ytree_is_null(n))
		return "null";
	switch (n->type) {
	case YTREE_SCALAR:	return "a scalar";
	case YTREE_SEQUENCE:	return "a sequence";
	case YTREE_MAPPING:	return "a mapping";
	}
	return "?";
}

static void
cfg_type_error(struct cfg_ctx *c, const struct cfg_row *r,
    const struct ytree_node *n, const char *key)
{
	char expect[CFG_EXPECT_MAX];

	cfg_err(c, n, key, "expected %s, got %s",
	    cfg_expect(r, expect, sizeof(expect)), cfg_got(n));
}

/*
 * Decimal digits only: YAML 1.1 would read 0x10, 010 and 1:30 as numbers
 * too, and a config that means something surprising is worse than one that
 * is refused.  Returns 0, or 1 not a number, 2 too large, 3 negative.
 */
static int
cfg_parse_u32(const char *s, size_t len, uint32_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	bool neg = false;

	if (len > 0 && s[0] == '-') {
		neg = true;
		i = 1;
	}
	if (i == len)
		return 1;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 1;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > UINT32_MAX)
			return neg ? 3 : 2;
	}
	if (neg)
		return v == 0 ? 1 : 3;
	*out = (uint32_t)v;
	return 0;
}

static bool
cfg_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (strcmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return false;
}

/* Plain-text http would hand an attacker everyone's keys: https only,
 * except to a helper on this host. */
static int
cfg_check_url(const char *s, char *why, size_t whylen)
{
	char host[256];
	const char *p, *end, *at;
	size_t n;

	if (strncmp(s, "https://", 8) == 0)
		p = s + 8;
	else if (strncmp(s, "http://", 7) == 0)
		p = s + 7;
	else {
		snprintf(why, whylen, "is not an https:// URL");
		return -1;
	}
	end = p + strcspn(p, "/?#");
	if ((at = memchr(p, '@', (size_t)(end - p))) != NULL)
		p = at + 1;
	if (*p == '[') {
		p++;
		n = strcspn(p, "]");
	} else
		n = strcspn(p, ":/?#");
	if (n == 0 || n >= sizeof(host)) {
		snprintf(why, whylen, "has no host name");
		return -1;
	}
	memcpy(host, p, n);
	host[n] = '\0';
	if (strncmp(s, "http://", 7) == 0 && !cfg_is_loopback(host)) {
		snprintf(why, whylen, "uses http:// to a host that is not "
		    "loopback");
		return -1;
	}
	return 0;
}

static bool
cfg_is_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9');
}

/* RFC 1123 label: what a namespace name may be. */
static bool
cfg_dns_label(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > 63)
		return false;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return s[0] != '-' && s[len - 1] != '-';
}

/* DNS subdomain: the prefix part of a label or annotation key. */
static bool
cfg_dns_subdomain(const char *s, size_t len)
{
	size_t i, start = 0;

	if (len == 0 || len > 253)
		return false;
	for (i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			if (!cfg_dns_label(s + start, i - start))
				return false;
			start = i + 1;
		}
	}
	return true;
}

/* Kubernetes qualified name: [prefix/]name, name 1..63 [A-Za-z0-9._-]. */
static bool
cfg_label_key(const char *s)
{
	const char *slash = strrchr(s, '/'), *name = s;
	size_t i, len;

	if (slash != NULL) {
		if (!cfg_dns_subdomain(s, (size_t)(slash - s)))
			return false;
		name = slash + 1;
	}
	len = strlen(name);
	if (len == 0 || len > 63)
		return false;
	for (i = 0; i < len; i++)
		if (!cfg_is_alnum(name[i]) && name[i] != '-' &&
		    name[i] != '_' && name[i] != '.')
			return false;
	return cfg_is_alnum(name[0]) && cfg_is_alnum(name[len - 1]);
}

/* Admin user names follow the login grammar: name.c owns it. */
static bool
cfg_login(const char *s)
{
	return name_user_valid(s);
}

/*
 * Checks s (NUL-free, len bytes) for a string row and sets *out to a copy,
 * resolved when it is a relative path.  Returns 0, -1 with the problem in
 * why, or -2 when memory ran out.
 */
static int
cfg_string(struct cfg_ctx *c, const struct cfg_row *r, const char *s,
    size_t len, char **out, char *why, size_t whylen)
{
	char q[CFG_QUOTE_MAX * 4 + 8];
	size_t n;

	*out = NULL;
	cfg_quote(q, sizeof(q), s, len);
	if (memchr(s, '\0', len) != NULL) {
		snprintf(why, whylen, "'%s' contains a NUL byte", q);
		return -1;
	}
	if (len == 0) {
		if (r->flags & CFG_F_NULL)
			return 0;
		snprintf(why, whylen, "must not be empty");
		return -1;
	}
	if ((r->flags & CFG_F_ADDR) && strcmp(s, "*") != 0) {
		struct in6_addr a;

		if (inet_pton(AF_INET, s, &a) != 1 &&
		    inet_pton(AF_INET6, s, &a) != 1) {
			snprintf(why, whylen, "'%s' is not an IP address", q);
			return -1;
		}
	}
	if ((r->flags & CFG_F_USER) && strstr(s, "%u") == NULL) {
		snprintf(why, whylen, "'%s' has no %%u", q);
		return -1;
	}
	if ((r->flags & CFG_F_URL) && cfg_check_url(s, why, whylen) == -1) {
		n = strlen(why);
		snprintf(why + n, whylen - n, ": '%s'", q);
		return -1;
	}
	if ((r->flags & CFG_F_PREFIX) && (s[len - 1] != '/' ||
	    !cfg_dns_subdomain(s, len - 1))) {
		snprintf(why, whylen, "'%s' is not a DNS name followed by "
		    "'/'", q);
		return -1;
	}
	if ((r->flags & CFG_F_LABEL) && !cfg_label_key(s)) {
		snprintf(why, whylen, "'%s' is not a valid Kubernetes key", q);
		return -1;
	}
	if ((r->flags & CFG_F_DNS) && !cfg_dns_label(s, len)) {
		snprintf(why, whylen, "'%s' is not a valid namespace name", q);
		return -1;
	}
	if ((r->flags & CFG_F_LOGIN) && !cfg_login(s)) {
		snprintf(why, whylen, "'%s' is not a valid user name", q);
		return -1;
	}
	if ((r->flags & CFG_F_PATH) && s[0] == '~') {
		snprintf(why, whylen, "'%s': ~ is not expanded", q);
		return -1;
	}
	if ((r->flags & CFG_F_PATH) && s[0] != '/' && c->cc_dir[0] != '\0') {
		n = strlen(c->cc_dir) + 1 + len + 1;
		if (n > PATH_MAX) {
			snprintf(why, whylen, "'%s' is too long once resolved",
			    q);
			return -1;
		}
		if ((*out = malloc(n)) == NULL)
			return -2;
		snprintf(*out, n, "%s%s%s", c->cc_dir,
		    c->cc_dir[strlen(c->cc_dir) - 1] == '/' ? "" : "/", s);
		return 0;
	}
	if ((*out = strdup(s)) == NULL)
		return -2;
	return 0;
}

static int
cfg_enum_value(const struct cfg_enum *names, const char *s, size_t len,
    int *out)
{
	size_t i;

	for (i = 0; names[i].name != NULL; i++)
		if (strlen(names[i].name) == len &&
		    memcmp(names[i].name, s, len) == 0) {
			*out = names[i].value;
			return 0;
		}
	return -1;
}

static int
cfg_startups(const char *s, size_t len, uint32_t v[3])
{
	const char *p = s, *colon = NULL;
	size_t i, n;
	int parts = 0;

	for (i = 0; i < 3; i++) {
		colon = memchr(p, ':', len - (size_t)(p - s));
		n = colon != NULL ? (size_t)(colon - p) : len - (size_t)(p - s);
		if (cfg_parse_u32(p, n, &v[i]) != 0)
			return -1;
		parts++;
		if (colon == NULL)
			break;
		p = colon + 1;
	}
	if (colon != NULL && i == 3)
		return -1;
	if (parts == 1) {
		/* A bare N is sshd's "drop everything past N". */
		v[2] = v[0];
		v[1] = 100;
	} else if (parts != 3)
		return -1;
	if (v[0] < 1 || v[0] > v[2] || v[1] < 1 || v[1] > 100 ||
	    v[2] > 1000000)
		return -1;
	return 0;
}

/*
 * Parses one scalar for row r into base.  Returns 0, -1 with "problem
 * (expected ...)" in why, or -2 on memory exhaustion.
 */
static int
cfg_scalar(struct cfg_ctx *c, const struct cfg_row *r, const char *s,
    size_t len, void *base, char *why, size_t whylen)
{
	char expect[CFG_EXPECT_MAX], q[CFG_QUOTE_MAX * 4 + 8], prob[256];
	uint32_t v, su[3];
	char *str;
	int e, rc;

	cfg_expect(r, expect, sizeof(expect));
	cfg_quote(q, sizeof(q), s, len);
	switch (r->type) {
	case CFG_UINT:
	case CFG_PORT:
		e = cfg_parse_u32(s, len, &v);
		if (e == 1) {
			snprintf(why, whylen, "'%s' is not an integer "
			    "(expected %s)", q, expect);
			return -1;
		}
		if (e != 0 || v < r->min || v > r->max) {
			snprintf(why, whylen, "%s is out of range (expected "
			    "%s)", q, expect);
			return -1;
		}
		if (r->type == CFG_PORT)
			*(uint16_t *)cfg_at(base, r->off) = (uint16_t)v;
		else
			*(uint32_t *)cfg_at(base, r->off) = v;
		return 0;
	case CFG_BOOL:
		if ((len == 4 && (memcmp(s, "true", 4) == 0 ||
		    memcmp(s, "True", 4) == 0 || memcmp(s, "TRUE", 4) == 0)))
			*(bool *)cfg_at(base, r->off) = true;
		else if ((len == 5 && (memcmp(s, "false", 5) == 0 ||
		    memcmp(s, "False", 5) == 0 || memcmp(s, "FALSE", 5) == 0)))
			*(bool *)cfg_at(base, r->off) = false;
		else {
			snprintf(why, whylen, "'%s' is not allowed (expected "
			    "true or false)", q);
			return -1;
		}
		return 0;
	case CFG_ENUM:
		if (cfg_enum_value(r->names, s, len,
		    (int *)cfg_at(base, r->off)) == -1) {
			snprintf(why, whylen, "'%s' is not allowed (expected "
			    "%s)", q, expect);
			return -1;
		}
		return 0;
	case CFG_STRING:
		rc = cfg_string(c, r, s, len, &str, prob, sizeof(prob));
		if (rc == -1)
			snprintf(why, whylen, "%s (expected %s)", prob, expect);
		if (rc != 0)
			return rc;
		free(*(char **)cfg_at(base, r->off));
		*(char **)cfg_at(base, r->off) = str;
		return 0;
	case CFG_STARTUPS:
		if (cfg_startups(s, len, su) == -1) {
			snprintf(why, whylen, "'%s' is not valid (expected "
			    "%s)", q, expect);
			return -1;
		}
		((struct config *)base)->limits.max_startups_begin = su[0];
		((struct config *)base)->limits.max_startups_rate_pct = su[1];
		((struct config *)base)->limits.max_startups_full = su[2];
		return 0;
	case CFG_SECTION:
	case CFG_STRLIST:
	case CFG_ENUMLIST:
	case CFG_LISTEN:
	case CFG_KEYSOURCES:
		break;
	}
	snprintf(why, whylen, "internal error: not a scalar key");
	return -1;
}

static void
cfg_strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; v != NULL && i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * Sets a list row from n items.  item(i, &s, &len, &at) yields each; the
 * new list replaces the old only when every item is good.
 */
struct cfg_items {
	const struct ytree_node *ci_seq;	/* from the file, or NULL */
	const char	*ci_def;		/* "a, b, c" default */
};

static size_t
cfg_items_count(const struct cfg_items *it)
{
	const char *p;
	size_t n = 1;

	if (it->ci_seq != NULL)
		return it->ci_seq->nitems;
	if (it->ci_def[0] == '\0')
		return 0;
	for (p = it->ci_def; (p = strstr(p, ", ")) != NULL; p += 2)
		n++;
	return n;
}

/* Item i as text; returns its node, or NULL for defaults and errors. */
static const struct ytree_node *
cfg_items_get(const struct cfg_items *it, size_t i, const char **s,
    size_t *len)
{
	const char *p = it->ci_def, *e;
	const struct ytree_node *n;

	if (it->ci_seq != NULL) {
		n = it->ci_seq->items[i];
		*s = n->scalar;
		*len = n->len;
		return n;
	}
	for (; i > 0; i--)
		p = strstr(p, ", ") + 2;
	e = strstr(p, ", ");
	*s = p;
	*len = e != NULL ? (size_t)(e - p) : strlen(p);
	return NULL;
}

static void
cfg_list(struct cfg_ctx *c, const struct cfg_row *r, const char *key,
    const struct cfg_items *it, void *base)
{
	char ikey[CFG_PATH_MAX], prob[256];
	char expect[CFG_EXPECT_MAX], q[CFG_QUOTE_MAX * 4 + 8];
	char **strv = NULL;
	int vals[CONFIG_UPSTREAM_AUTH_MAX + CONFIG_ENDPOINT_MAX];
	const struct ytree_node *at;
	const char *s;
	size_t n, i, j, len, start = c->cc_nerr;
	int rc, v;

	n = cfg_items_count(it);
	cfg_expect(r, expect, sizeof(expect));
	if (n == 0 && (r->flags & CFG_F_NONEMPTY)) {
		cfg_err(c, it->ci_seq, key, "must not be empty (expected %s)",
		    expect);
		return;
	}
	if (n > r->max) {
		cfg_err(c, it->ci_seq, key, "has %zu items, more than the "
		    "%u allowed", n, (unsigned)r->max);
		return;
	}
	if (r->type == CFG_STRLIST && n > 0 &&
	    (strv = calloc(n, sizeof(*strv))) == NULL) {
		c->cc_nomem = true;
		return;
	}
	for (i = 0; i < n; i++) {
		snprintf(ikey, sizeof(ikey), "%s[%zu]", key, i);
		at = cfg_items_get(it, i, &s, &len);
		if (at != NULL && (at->type != YTREE_SCALAR ||
		    ytree_is_null(at))) {
			cfg_err(c, at, ikey, "expected a %s, got %s",
			    r->type == CFG_ENUMLIST ? "name" :
			    r->flags & CFG_F_PATH ? "path" : "string",
			    cfg_got(at));
			continue;
		}
		cfg_quote(q, sizeof(q), s, len);
		if (r->type == CFG_ENUMLIST) {
			if (cfg_enum_value(r->names, s, len, &v) == -1) {
				cfg_err(c, at, ikey, "'%s' is not allowed "
				    "(expected %s)", q, expect);
				continue;
			}
			for (j = 0; j < i; j++)
				if (vals[j] == v)
					break;
			if (j < i) {
				cfg_err(c, at, ikey, "'%s' is listed twice "
				    "(expected %s)", q, expect);
				continue;
			}
			vals[i] = v;
			continue;
		}
		rc = cfg_string(c, r, s, len, &strv[i], prob, sizeof(prob));
		if (rc == -2) {
			c->cc_nomem = true;
			break;
		}
		if (rc == -1 || strv[i] == NULL)
			cfg_err(c, at, ikey, "%s (expected %s)",
			    rc == -1 ? prob : "must not be empty", expect);
	}
	if (c->cc_nerr != start || c->cc_nomem) {
		cfg_strv_free(strv, n);
		return;
	}
	if (r->type == CFG_ENUMLIST) {
		for (i = 0; i < n; i++)
			((int *)cfg_at(base, r->off))[i] = vals[i];
	} else {
		cfg_strv_free(*(char ***)cfg_at(base, r->off),
		    *(size_t *)cfg_at(base, r->off_n));
		*(char ***)cfg_at(base, r->off) = strv;
	}
	*(size_t *)cfg_at(base, r->off_n) = n;
}

/* Sets every key of rows to its default. */
static enum jg_err
cfg_defaults(const struct cfg_row *rows, size_t nrows, void *base)
{
	struct cfg_ctx c;
	struct cfg_items it;
	char why[JG_ERRLIST_MSG_MAX];
	size_t i;
	int rc;

	memset(&c, 0, sizeof(c));
	c.cc_name = "(defaults)";
	c.cc_dir = "";
	for (i = 0; i < nrows; i++) {
		const struct cfg_row *r = &rows[i];

		switch (r->type) {
		case CFG_SECTION:
		case CFG_LISTEN:
		case CFG_KEYSOURCES:
			/* Sequences of mappings: see cfg_defaults_lists(). */
			continue;
		case CFG_STRLIST:
		case CFG_ENUMLIST:
			it.ci_seq = NULL;
			it.ci_def = r->def;
			cfg_list(&c, r, r->path, &it, base);
			if (c.cc_nomem)
				return JG_ERR_NOMEM;
			if (c.cc_nerr != 0)
				return JG_ERR_INTERNAL;
			continue;
		case CFG_STRING:
			if (r->def == NULL) {
				free(*(char **)cfg_at(base, r->off));
				*(char **)cfg_at(base, r->off) = NULL;
				continue;
			}
			break;
		case CFG_UINT:
		case CFG_PORT:
		case CFG_BOOL:
		case CFG_ENUM:
		case CFG_STARTUPS:
			break;
		}
		rc = cfg_scalar(&c, r, r->def, strlen(r->def), base, why,
		    sizeof(why));
		if (rc == -2)
			return JG_ERR_NOMEM;
		if (rc != 0)
			return JG_ERR_INTERNAL;
	}
	return JG_OK;
}

/* The default listen address and key source: one item each. */
static enum jg_err
cfg_defaults_lists(struct config *cfg, bool listen)
{
	enum jg_err rv;

	if (listen) {
		if ((cfg->listen = calloc(1, sizeof(*cfg->listen))) == NULL)
			return JG_ERR_NOMEM;
		cfg->nlisten = 1;
		rv = cfg_defaults(cfg_listen_rows, nitems(cfg_listen_rows),
		    &cfg->listen[0]);
		if (rv != JG_OK)
			return rv;
	}
	if ((cfg->key_sources = calloc(1, sizeof(*cfg->key_sources))) == NULL)
		return JG_ERR_NOMEM;
	cfg->nkey_sources = 1;
	rv = cfg_defaults(cfg_keysrc_rows, nitems(cfg_keysrc_rows),
	    &cfg->key_sources[0]);
	if (rv != JG_OK)
		return rv;
	if ((cfg->key_sources[0].template = strdup(CFG_KEYSRC_DEFAULT_PATH)) ==
	    NULL)
		return JG_ERR_NOMEM;
	return JG_OK;
}

/* Levenshtein distance, or SIZE_MAX for keys too long to bother. */
static size_t
cfg_distance(const char *a, const char *b)
{
	size_t row[CFG_KEY_MAX + 1];
	size_t la = strlen(a), lb = strlen(b), i, j, diag, up, best;

	if (la > CFG_KEY_MAX || lb > CFG_KEY_MAX)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		diag = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			up = row[j];
			best = diag + (a[i - 1] == b[j - 1] ? 0 : 1);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* The last component of a row path, and whether its parent is rel. */
static const char *
cfg_child_of(const struct cfg_row *r, const char *rel)
{
	size_t n = strlen(rel);

	if (n == 0)
		return strchr(r->path, '.') == NULL ? r->path : NULL;
	if (strncmp(r->path, rel, n) != 0 || r->path[n] != '.' ||
	    strchr(r->path + n + 1, '.') != NULL)
		return NULL;
	return r->path + n + 1;
}

static void
cfg_unknown_key(struct cfg_ctx *c, const struct cfg_row *rows, size_t nrows,
    bool main, const char *rel, const char *where,
    const struct ytree_node *key)
{
	char q[CFG_QUOTE_MAX * 4 + 8], valid[JG_ERRLIST_MSG_MAX];
	const char *best = NULL, *leaf, *home = NULL;
	size_t i, d, bestd = SIZE_MAX;

	cfg_quote(q, sizeof(q), key->scalar, key->len);
	valid[0] = '\0';
	for (i = 0; i < nrows; i++) {
		if ((leaf = cfg_child_of(&rows[i], rel)) == NULL)
			continue;
		if (valid[0] != '\0')
			strncat(valid, ", ", sizeof(valid) - strlen(valid) - 1);
		strncat(valid, leaf, sizeof(valid) - strlen(valid) - 1);
		d = cfg_distance(key->scalar, leaf);
		if (d <= CFG_SUGGEST_DISTANCE && d < bestd) {
			best = leaf;
			bestd = d;
		}
	}
	if (best != NULL) {
		cfg_err(c, key, where, "unknown key '%s' (did you mean "
		    "'%s'?)", q, best);
		return;
	}
	/* A right key in the wrong section: say where it belongs. */
	for (i = 0; main && i < nrows && home == NULL; i++) {
		leaf = strrchr(rows[i].path, '.');
		if (leaf != NULL && strcmp(leaf + 1, key->scalar) == 0)
			home = rows[i].path;
	}
	if (home != NULL)
		cfg_err(c, key, where, "unknown key '%s' (did you mean '%s'? "
		    "it belongs in another section)", q, home);
	else
		cfg_err(c, key, where, "unknown key '%s' (expected one of: "
		    "%s)", q, valid);
}

static void	cfg_value(struct cfg_ctx *c, const struct cfg_row *r,
		    const char *key, const struct ytree_node *n, void *base);

/*
 * Walks mapping map whose keys are the rows under rel; disp prefixes the
 * key paths in messages ("listen[0]").  seen[i] gets row i's value node.
 */
static void
cfg_walk(struct cfg_ctx *c, const struct cfg_row *rows, size_t nrows,
    const char *disp, const char *rel, const struct ytree_node *map,
    void *base, const struct ytree_node **seen)
{
	char where[CFG_PATH_MAX], kpath[CFG_PATH_MAX], key[CFG_PATH_MAX];
	const struct ytree_node *k, *v;
	size_t i, j;

	cfg_join(where, sizeof(where), disp, rel);
	if (ytree_is_null(map))
		return;		/* "limits:" with nothing under it */
	if (map->type != YTREE_MAPPING) {
		cfg_err(c, map, where, "expected a mapping, got %s",
		    cfg_got(map));
		return;
	}
	for (i = 0; i < map->npairs; i++) {
		k = map->pairs[i].key;
		v = map->pairs[i].value;
		/* A dotted key must not reach a nested row directly. */
		j = nrows;
		if (strlen(k->scalar) == k->len &&
		    strpbrk(k->scalar, ".[") == NULL) {
			cfg_join(kpath, sizeof(kpath), rel, k->scalar);
			for (j = 0; j < nrows; j++)
				if (strcmp(rows[j].path, kpath) == 0)
					break;
		}
		if (j == nrows) {
			cfg_unknown_key(c, rows, nrows, rows == cfg_rows, rel,
			    where, k);
			continue;
		}
		seen[j] = v;
		cfg_join(key, sizeof(key), disp, rows[j].path);
		if (rows[j].type == CFG_SECTION)
			cfg_walk(c, rows, nrows, disp, rows[j].path, v, base,
			    seen);
		else
			cfg_value(c, &rows[j], key, v, base);
	}
}

/* Frees an array of n items of size bytes described by rows (listen
 * addresses, key sources), and the array. */
static void
cfg_items_free(const struct cfg_row *rows, size_t nrows, void *items,
    size_t size, size_t n)
{
	size_t j;

	for (j = 0; j < n; j++)
		cfg_free_fields(rows, nrows, (char *)items + j * size);
	free(items);
}

static void
cfg_listen(struct cfg_ctx *c, const struct cfg_row *r, const char *key,
    const struct ytree_node *n, struct config *cfg)
{
	const struct ytree_node *seen[nitems(cfg_listen_rows)];
	struct config_listen *l;
	char ikey[CFG_PATH_MAX];
	size_t i, j, start = c->cc_nerr;

	if ((l = calloc(n->nitems, sizeof(*l))) == NULL) {
		c->cc_nomem = true;
		return;
	}
	for (i = 0; i < n->nitems; i++) {
		snprintf(ikey, sizeof(ikey), "%s[%zu]", key, i);
		memset(seen, 0, sizeof(seen));
		if (cfg_defaults(cfg_listen_rows, nitems(cfg_listen_rows),
		    &l[i]) != JG_OK) {
			c->cc_nomem = true;
			break;
		}
		if (n->items[i]->type != YTREE_MAPPING) {
			cfg_err(c, n->items[i], ikey, "expected a mapping "
			    "with address and port, got %s",
			    cfg_got(n->items[i]));
			continue;
		}
		cfg_walk(c, cfg_listen_rows, nitems(cfg_listen_rows), ikey, "",
		    n->items[i], &l[i], seen);
		if (l[i].proxy_protocol && l[i].nproxy_trusted == 0)
			cfg_err(c, n->items[i], ikey, "proxy_protocol needs "
			    "proxy_trusted: the load balancers' addresses "
			    "(expected a list of address patterns)");
		for (j = 0; j < i && c->cc_nerr == start; j++)
			if (l[j].port == l[i].port &&
			    strcmp(l[j].address, l[i].address) == 0)
				cfg_err(c, n->items[i], ikey, "%s port %u is "
				    "already listed as %s[%zu]", l[i].address,
				    l[i].port, key, j);
	}
	if (c->cc_nerr != start || c->cc_nomem) {
		cfg_items_free(cfg_listen_rows, nitems(cfg_listen_rows), l,
		    sizeof(*l), n->nitems);
		return;
	}
	cfg_items_free(cfg_listen_rows, nitems(cfg_listen_rows), cfg->listen,
	    sizeof(*l), cfg->nlisten);
	cfg->listen = l;
	cfg->nlisten = n->nitems;
}

/* Which keys make sense depends on the type; say which one is wrong. */
static void
cfg_keysrc_check(struct cfg_ctx *c, const char *ikey,
    const struct ytree_node *item, const struct config_key_source *ks,
    const struct ytree_node **seen)
{
	enum { T, PATH, URL, TIMEOUT, TTL };
	char key[CFG_PATH_MAX];
	bool url = ks->type == CONFIG_KEYS_URL;
	int i;

	for (i = PATH; i <= TTL; i++) {
		if (seen[i] == NULL || (url ? i != PATH : i == PATH))
			continue;
		cfg_join(key, sizeof(key), ikey, cfg_keysrc_rows[i].path);
		cfg_err(c, seen[i], key, "only valid with type %s (this "
		    "source has type %s)", url ? "authorized_keys" : "url",
		    cfg_name_of(cfg_key_source_types, ks->type));
	}
	i = url ? URL : PATH;
	if (seen[i] == NULL || ytree_is_null(seen[i])) {
		cfg_join(key, sizeof(key), ikey, cfg_keysrc_rows[i].path);
		cfg_err(c, seen[i] != NULL ? seen[i] : item, seen[i] != NULL ?
		    key : ikey, "%s%s is required with type %s",
		    seen[i] != NULL ? "" : "key ", cfg_keysrc_rows[i].path,
		    cfg_name_of(cfg_key_source_types, ks->type));
	}
}

static void
cfg_keysources(struct cfg_ctx *c, const struct cfg_row *r, const char *key,
    const struct ytree_node *n, struct config *cfg)
{
	const struct ytree_node *seen[nitems(cfg_keysrc_rows)];
	struct config_key_source *ks;
	char ikey[CFG_PATH_MAX];
	size_t i, start = c->cc_nerr, before;

	if ((ks = calloc(n->nitems, sizeof(*ks))) == NULL) {
		c->cc_nomem = true;
		return;
	}
	for (i = 0; i < n->nitems; i++) {
		snprintf(ikey, sizeof(ikey), "%s[%zu]", key, i);
		memset(seen, 0, sizeof(seen));
		if (cfg_defaults(cfg_keysrc_rows, nitems(cfg_keysrc_rows),
		    &ks[i]) != JG_OK) {
			c->cc_nomem = true;
			break;
		}
		if (n->items[i]->type != YTREE_MAPPING) {
			cfg_err(c, n->items[i], ikey, "expected a mapping "
			    "with a type, got %s", cfg_got(n->items[i]));
			continue;
		}
		before = c->cc_nerr;
		cfg_walk(c, cfg_keysrc_rows, nitems(cfg_keysrc_rows), ikey, "",
		    n->items[i], &ks[i], seen);
		if (c->cc_nerr == before)
			cfg_keysrc_check(c, ikey, n->items[i], &ks[i], seen);
	}
	if (c->cc_nerr != start || c->cc_nomem) {
		cfg_items_free(cfg_keysrc_rows, nitems(cfg_keysrc_rows), ks,
		    sizeof(*ks), n->nitems);
		return;
	}
	cfg_items_free(cfg_keysrc_rows, nitems(cfg_keysrc_rows),
	    cfg->key_sources, sizeof(*ks), cfg->nkey_sources);
	cfg->key_sources = ks;
	cfg->nkey_sources = n->nitems;
}

/* Sets one key from its value node n; key is its path for messages. */
static void
cfg_value(struct cfg_ctx *c, const struct cfg_row *r, const char *key,
    const struct ytree_node *n, void *base)
{
	char why[JG_ERRLIST_MSG_MAX];
	struct cfg_items it;
	int rc;

	switch (r->type) {
	case CFG_SECTION:
		return;
	case CFG_STRLIST:
	case CFG_ENUMLIST:
	case CFG_LISTEN:
	case CFG_KEYSOURCES:
		if (ytree_is_null(n) && !(r->flags & CFG_F_NONEMPTY) &&
		    r->type != CFG_LISTEN) {
			/* "admin_users:" with nothing: the empty list. */
			it.ci_seq = NULL;
			it.ci_def = "";
			cfg_list(c, r, key, &it, base);
			return;
		}
		if (n->type != YTREE_SEQUENCE) {
			cfg_type_error(c, r, n, key);
			return;
		}
		if (r->type == CFG_LISTEN || r->type == CFG_KEYSOURCES) {
			if (n->nitems == 0) {
				cfg_err(c, n, key, "must not be empty "
				    "(expected %s)", r->type == CFG_LISTEN ?
				    "at least one listen address" :
				    "at least one key source");
				return;
			}
			if (n->nitems > r->max) {
				cfg_err(c, n, key, "has %zu items, more than "
				    "the %u allowed", n->nitems,
				    (unsigned)r->max);
				return;
			}
			if (r->type == CFG_LISTEN)
				cfg_listen(c, r, key, n, base);
			else
				cfg_keysources(c, r, key, n, base);
			return;
		}
		it.ci_seq = n;
		it.ci_def = NULL;
		cfg_list(c, r, key, &it, base);
		return;
	case CFG_STRING:
		if (ytree_is_null(n) && (r->flags & CFG_F_NULL)) {
			free(*(char **)cfg_at(base, r->off));
			*(char **)cfg_at(base, r->off) = NULL;
			return;
		}
		break;
	case CFG_UINT:
	case CFG_PORT:
	case CFG_BOOL:
	case CFG_ENUM:
	case CFG_STARTUPS:
		break;
	}
	if (n->type != YTREE_SCALAR || ytree_is_null(n)) {
		cfg_type_error(c, r, n, key);
		return;
	}
	rc = cfg_scalar(c, r, n->scalar, n->len, base, why, sizeof(why));
	if (rc == -2)
		c->cc_nomem = true;
	else if (rc == -1)
		cfg_err(c, n, key, "%s", why);
}

static const struct ytree_node *
cfg_seen(const struct cfg_ctx *c, const char *path)
{
	size_t i;

	for (i = 0; i < nitems(cfg_rows); i++)
		if (strcmp(cfg_rows[i].path, path) == 0)
			return c->cc_seen[i];
	return NULL;
}

/* The first of a, b, d that was written in the file. */
static const struct ytree_node *
cfg_where(const struct cfg_ctx *c, const char *a, const char *b,
    const char *d)
{
	const struct ytree_node *n;

	if ((n = cfg_seen(c, a)) != NULL)
		return n;
	if (b != NULL && (n = cfg_seen(c, b)) != NULL)
		return n;
	if (d != NULL && (n = cfg_seen(c, d)) != NULL)
		return n;
	return c->cc_root;
}

/* Rules that tie keys together, checked once every key is read. */
static void
cfg_check(struct cfg_ctx *c, const struct config *cfg)
{
	size_t i;
	bool key = false;

	if (cfg->routes.source == CONFIG_ROUTES_STATIC &&
	    cfg->routes.static_file == NULL)
		cfg_err(c, cfg_where(c, "routes.static_file", "routes.source",
		    "routes"), "routes.static_file", "is required when "
		    "routes.source is static (expected a path)");
	if (cfg->upstream.host_key_policy == CONFIG_HOSTKEY_KNOWN_HOSTS &&
	    cfg->upstream.known_hosts == NULL)
		cfg_err(c, cfg_where(c, "upstream.known_hosts",
		    "upstream.host_key_policy", "upstream"),
		    "upstream.known_hosts", "is required when "
		    "upstream.host_key_policy is known_hosts (expected a "
		    "path)");
	if (cfg->upstream.host_key_policy == CONFIG_HOSTKEY_ANNOTATION &&
	    cfg->upstream.host_key_annotation == NULL)
		cfg_err(c, cfg_where(c, "upstream.host_key_annotation",
		    "upstream.host_key_policy", "upstream"),
		    "upstream.host_key_annotation", "is required when "
		    "upstream.host_key_policy is annotation (expected an "
		    "annotation key)");
	for (i = 0; i < cfg->upstream.nauth; i++)
		if (cfg->upstream.auth[i] == CONFIG_UPSTREAM_KEY)
			key = true;
	if (key && cfg->upstream.user_key_dir == NULL &&
	    cfg->upstream.shared_key == NULL)
		cfg_err(c, cfg_where(c, "upstream.auth", "upstream", NULL),
		    "upstream.auth", "'key' needs upstream.user_key_dir or "
		    "upstream.shared_key (expected a path in one of them)");
	if (cfg->limits.max_sessions_per_user > cfg->limits.max_sessions)
		cfg_err(c, cfg_where(c, "limits.max_sessions_per_user",
		    "limits.max_sessions", "limits"),
		    "limits.max_sessions_per_user", "%u is more than "
		    "limits.max_sessions %u (expected at most max_sessions)",
		    (unsigned)cfg->limits.max_sessions_per_user,
		    (unsigned)cfg->limits.max_sessions);
}

static void
cfg_free_fields(const struct cfg_row *rows, size_t nrows, void *base)
{
	size_t i, j;

	for (i = 0; i < nrows; i++) {
		const struct cfg_row *r = &rows[i];

		switch (r->type) {
		case CFG_STRING:
			/* Rows may share a field (path/url): free it once. */
			for (j = 0; j < i; j++)
				if (rows[j].type == CFG_STRING &&
				    rows[j].off == r->off)
					break;
			if (j == i) {
				free(*(char **)cfg_at(base, r->off));
				*(char **)cfg_at(base, r->off) = NULL;
			}
			break;
		case CFG_STRLIST:
			cfg_strv_free(*(char ***)cfg_at(base, r->off),
			    *(size_t *)cfg_at(base, r->off_n));
			*(char ***)cfg_at(base, r->off) = NULL;
			*(size_t *)cfg_at(base, r->off_n) = 0;
			break;
		case CFG_SECTION:
		case CFG_UINT:
		case CFG_PORT:
		case CFG_BOOL:
		case CFG_ENUM:
		case CFG_ENUMLIST:
		case CFG_STARTUPS:
		case CFG_LISTEN:
		case CFG_KEYSOURCES:
			break;
		}
	}
}

void
config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	cfg_items_free(cfg_listen_rows, nitems(cfg_listen_rows), cfg->listen,
	    sizeof(*cfg->listen), cfg->nlisten);
	cfg_items_free(cfg_keysrc_rows, nitems(cfg_keysrc_rows),
	    cfg->key_sources, sizeof(*cfg->key_sources), cfg->nkey_sources);
	cfg_free_fields(cfg_rows, nitems(cfg_rows), cfg);
	free(cfg->path);
	free(cfg);
}

static struct config *
cfg_new(bool listen)
{
	struct config *cfg;

	if ((cfg = calloc(1, sizeof(*cfg))) == NULL)
		return NULL;
	if (cfg_defaults(cfg_rows, nitems(cfg_rows), cfg) != JG_OK ||
	    cfg_defaults_lists(cfg, listen) != JG_OK) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

struct config *
config_new_default(void)
{
	return cfg_new(false);
}

/* Loads an already parsed tree; dir is where relative paths go. */
static enum jg_err
cfg_load_tree(const char *name, const char *dir,
    const struct ytree_node *root, struct config **out,
    struct jg_errlist *errs)
{
	struct cfg_ctx *c;
	struct config *cfg;
	enum jg_err rv = JG_OK;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return JG_ERR_NOMEM;
	c->cc_name = name;
	c->cc_dir = dir;
	c->cc_errs = errs;
	c->cc_root = root;
	if ((cfg = cfg_new(true)) == NULL ||
	    (cfg->path = strdup(name)) == NULL) {
		config_free(cfg);
		free(c);
		return JG_ERR_NOMEM;
	}
	if (root != NULL && root->type != YTREE_MAPPING &&
	    !ytree_is_null(root))
		cfg_err(c, root, NULL, "expected a mapping at the top level, "
		    "got %s", cfg_got(root));
	else if (root != NULL)
		cfg_walk(c, cfg_rows, nitems(cfg_rows), "", "", root, cfg,
		    c->cc_seen);
	/* Even after other errors: one run should show every mistake. */
	if (!c->cc_nomem)
		cfg_check(c, cfg);
	if (c->cc_nomem)
		rv = JG_ERR_NOMEM;
	else if (c->cc_nerr != 0)
		rv = JG_ERR_CONFIG;
	if (rv != JG_OK)
		config_free(cfg);
	else {
		cfg->routes.naming.host_key_annotation =
		    cfg->upstream.host_key_policy == CONFIG_HOSTKEY_ANNOTATION ?
		    cfg->upstream.host_key_annotation : NULL;
		*out = cfg;
	}
	free(c);
	return rv;
}

/* The directory part of name, or "" when it has none. */
static char *
cfg_dirname(const char *name, bool absolute)
{
	char cwd[PATH_MAX], *dir;
	const char *slash = strrchr(name, '/');
	size_t n = slash == NULL ? 0 : (size_t)(slash - name);
	size_t len;

	if (slash == name)
		return strdup("/");
	if (!absolute || name[0] == '/') {
		if ((dir = malloc(n + 1)) == NULL)
			return NULL;
		memcpy(dir, name, n);
		dir[n] = '\0';
		return dir;
	}
	/* The daemon may chdir("/") later: pin relative paths now. */
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return strdup("");
	len = strlen(cwd) + 1 + n + 1;
	if ((dir = malloc(len)) == NULL)
		return NULL;
	if (n == 0)
		snprintf(dir, len, "%s", cwd);
	else
		snprintf(dir, len, "%s/%.*s", cwd, (int)n, name);
	return dir;
}

static enum jg_err
cfg_load(const char *name, const char *text, size_t len, bool from_file,
    struct config **out, struct jg_errlist *errs)
{
	struct ytree_node *root = NULL;
	char err[JG_ERRLIST_MSG_MAX], *dir;
	enum jg_err rv;

	*out = NULL;
	err[0] = '\0';
	if (from_file)
		rv = ytree_parse_file(name, &root, err, sizeof(err));
	else
		rv = ytree_parse(name, text, len, &root, err, sizeof(err));
	if (rv != JG_OK) {
		if (errs != NULL)
			jg_errlist_add(errs, "%s", err);
		if (rv == JG_ERR_NOMEM || rv == JG_ERR_IO)
			return rv;
		return JG_ERR_CONFIG;
	}
	if ((dir = cfg_dirname(name, from_file)) == NULL) {
		ytree_free(root);
		return JG_ERR_NOMEM;
	}
	rv = cfg_load_tree(name, dir, root, out, errs);
	free(dir);
	ytree_free(root);
	return rv;
}

enum jg_err
config_load(const char *path, struct config **out, struct jg_errlist *errs)
{
	return cfg_load(path, NULL, 0, true, out, errs);
}

enum jg_err
config_load_string(const char *name, const char *text, size_t len,
    struct config **out, struct jg_errlist *errs)
{
	return cfg_load(name, text, len, false, out, errs);
}

const char *
config_endpoint_kind_name(enum config_endpoint_kind kind)
{
	switch (kind) {
	case CONFIG_ENDPOINT_ANNOTATION:	return "annotation";
	case CONFIG_ENDPOINT_SSH_ENABLED:	return "ssh-enabled";
	case CONFIG_ENDPOINT_SERVICE:		return "service";
	case CONFIG_ENDPOINT_MAX:		break;
	}
	return "unknown";
}

/* A string as a YAML double-quoted scalar. */
static void
cfg_dump_str(FILE *fp, const char *s)
{
	const unsigned char *p;

	if (s == NULL) {
		fputs("null", fp);
		return;
	}
	fputc('"', fp);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(fp, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(fp, "\\x%02x", *p);
		else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			/*
			 * C1 controls (U+0080-U+009F, e.g. NEL) are line
			 * breaks or worse to a YAML reader: escape them, or
			 * the dump would not load back the same.
			 */
			fprintf(fp, "\\x%02x", p[1]);
			p++;
		} else
			fputc(*p, fp);
	}
	fputc('"', fp);
}

static void
cfg_dump_value(FILE *fp, const struct cfg_row *r, const void *base)
{
	const struct config *cfg = base;
	size_t i, n;

	switch (r->type) {
	case CFG_SECTION:
	case CFG_LISTEN:
	case CFG_KEYSOURCES:
		break;
	case CFG_UINT:
		fprintf(fp, "%u", *(const uint32_t *)cfg_cat(base, r->off));
		break;
	case CFG_PORT:
		fprintf(fp, "%u",
		    (unsigned)*(const uint16_t *)cfg_cat(base, r->off));
		break;
	case CFG_BOOL:
		fputs(*(const bool *)cfg_cat(base, r->off) ? "true" : "false",
		    fp);
		break;
	case CFG_STRING:
		cfg_dump_str(fp, *(char *const *)cfg_cat(base, r->off));
		break;
	case CFG_ENUM:
		fputs(cfg_name_of(r->names,
		    *(const int *)cfg_cat(base, r->off)), fp);
		break;
	case CFG_STRLIST:
	case CFG_ENUMLIST:
		n = *(const size_t *)cfg_cat(base, r->off_n);
		fputc('[', fp);
		for (i = 0; i < n; i++) {
			if (i > 0)
				fputs(", ", fp);
			if (r->type == CFG_ENUMLIST)
				fputs(cfg_name_of(r->names,
				    ((const int *)cfg_cat(base, r->off))[i]),
				    fp);
			else
				cfg_dump_str(fp, (*(char *const *const *)
				    cfg_cat(base, r->off))[i]);
		}
		fputc(']', fp);
		break;
	case CFG_STARTUPS:
		fprintf(fp, "\"%u:%u:%u\"", cfg->limits.max_startups_begin,
		    cfg->limits.max_startups_rate_pct,
		    cfg->limits.max_startups_full);
		break;
	}
}

void
config_dump(const struct config *cfg, void *out)
{
	FILE *fp = out;
	const struct cfg_row *r;
	const struct config_key_source *ks;
	const char *leaf;
	size_t i, j, depth;

	for (i = 0; i < nitems(cfg_rows); i++) {
		r = &cfg_rows[i];
		depth = 0;
		for (leaf = r->path; strchr(leaf, '.') != NULL; depth++)
			leaf = strchr(leaf, '.') + 1;
		fprintf(fp, "%*s%s:", (int)depth * 2, "", leaf);
		if (r->type == CFG_LISTEN) {
			fputs(cfg->nlisten == 0 ? " []\n" : "\n", fp);
			for (j = 0; j < cfg->nlisten; j++) {
				fprintf(fp, "%*s- {address: ",
				    (int)depth * 2 + 2, "");
				cfg_dump_str(fp, cfg->listen[j].address);
				fprintf(fp, ", port: %u}\n",
				    (unsigned)cfg->listen[j].port);
			}
			continue;
		}
		if (r->type == CFG_KEYSOURCES) {
			fputc('\n', fp);
			for (j = 0; j < cfg->nkey_sources; j++) {
				ks = &cfg->key_sources[j];
				fprintf(fp, "%*s- {type: %s, %s: ",
				    (int)depth * 2 + 2, "",
				    cfg_name_of(cfg_key_source_types,
				    ks->type), ks->type == CONFIG_KEYS_URL ?
				    "url" : "path");
				cfg_dump_str(fp, ks->template);
				if (ks->type == CONFIG_KEYS_URL)
					fprintf(fp, ", timeout_ms: %u, "
					    "cache_ttl_s: %u",
					    ks->timeout_ms, ks->cache_ttl_s);
				fputs("}\n", fp);
			}
			continue;
		}
		if (r->type != CFG_SECTION) {
			fputc(' ', fp);
			cfg_dump_value(fp, r, cfg);
		}
		fputc('\n', fp);
	}
}

static const char *
cfg_type_word(const struct cfg_row *r)
{
	switch (r->type) {
	case CFG_SECTION:	return "mapping";
	case CFG_UINT:		return "integer";
	case CFG_PORT:		return "port";
	case CFG_BOOL:		return "boolean";
	case CFG_STRING:
		if (r->flags & CFG_F_URL)
			return "URL template";
		if (r->flags & CFG_F_USER)
			return "path template";
		if (r->flags & CFG_F_PATH)
			return "path";
		return "string";
	case CFG_ENUM:		return "enum";
	case CFG_STRLIST:
		return r->flags & CFG_F_PATH ? "list of paths" :
		    "list of strings";
	case CFG_ENUMLIST:	return "list of names";
	case CFG_STARTUPS:	return "string";
	case CFG_LISTEN:
	case CFG_KEYSOURCES:	return "list of mappings";
	}
	return "?";
}

static void
cfg_ref_rows(FILE *fp, const struct cfg_row *rows, size_t nrows,
    const char *prefix, const char *section)
{
	char names[CFG_EXPECT_MAX], range[CFG_EXPECT_MAX], key[CFG_PATH_MAX];
	const struct cfg_row *r;
	size_t i, n = strlen(section);

	fputs("| Key | Type | Default | Range / unit | Meaning |\n", fp);
	fputs("|---|---|---|---|---|\n", fp);
	for (i = 0; i < nrows; i++) {
		r = &rows[i];
		if (n > 0 && (strncmp(r->path, section, n) != 0 ||
		    (r->path[n] != '.' && r->path[n] != '\0')))
			continue;
		if (r->type == CFG_SECTION && strcmp(r->path, section) == 0)
			continue;
		snprintf(key, sizeof(key), "%s%s", prefix, r->path);
		range[0] = '\0';
		switch (r->type) {
		case CFG_UINT:
		case CFG_PORT:
			snprintf(range, sizeof(range), "%u..%u%s%s",
			    (unsigned)r->min, (unsigned)r->max,
			    r->unit != NULL ? " " : "",
			    r->unit != NULL ? cfg_unit_word(r->unit) : "");
			break;
		case CFG_ENUM:
		case CFG_ENUMLIST:
			cfg_names(names, sizeof(names), r->names);
			snprintf(range, sizeof(range), "%s", names);
			break;
		case CFG_STARTUPS:
			snprintf(range, sizeof(range), "start:rate:full, "
			    "start <= full, rate 1..100 (percent)");
			break;
		case CFG_SECTION:
		case CFG_BOOL:
		case CFG_STRING:
		case CFG_STRLIST:
		case CFG_LISTEN:
		case CFG_KEYSOURCES:
			break;
		}
		fprintf(fp, "| `%s` | %s | ", key, cfg_type_word(r));
		if (r->type == CFG_SECTION)
			fputs("", fp);
		else if (r->def == NULL)
			fputs("`null`", fp);
		else if (r->type == CFG_STRLIST || r->type == CFG_ENUMLIST)
			fprintf(fp, "`[%s]`", r->def);
		else if (r->def[0] == '\0')
			fputs("`\"\"`", fp);
		else
			fprintf(fp, "`%s`", r->def);
		fprintf(fp, " | %s | %s |\n", range, r->why);
	}
}

void
config_reference(void *out)
{
	FILE *fp = out;
	size_t i;

	for (i = 0; i < nitems(cfg_rows); i++) {
		if (strchr(cfg_rows[i].path, '.') != NULL)
			continue;
		fprintf(fp, "### `%s`\n\n%s\n\n", cfg_rows[i].path,
		    cfg_rows[i].why);
		if (cfg_rows[i].type == CFG_LISTEN) {
			fputs("Each item:\n\n", fp);
			cfg_ref_rows(fp, cfg_listen_rows,
			    nitems(cfg_listen_rows), "listen[].", "");
		} else
			cfg_ref_rows(fp, cfg_rows, nitems(cfg_rows), "",
			    cfg_rows[i].path);
		if (strcmp(cfg_rows[i].path, "users") == 0) {
			fputs("\nEach item of `users.key_sources`:\n\n", fp);
			cfg_ref_rows(fp, cfg_keysrc_rows,
			    nitems(cfg_keysrc_rows), "users.key_sources[].",
			    "");
		}
		fputc('\n', fp);
	}
}

static bool
cfg_str_equal(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static bool
cfg_fields_equal(const struct cfg_row *rows, size_t nrows, const void *a,
    const void *b, const char *prefix)
{
	size_t i, j, n, plen = prefix != NULL ? strlen(prefix) : 0;

	for (i = 0; i < nrows; i++) {
		const struct cfg_row *r = &rows[i];
		const void *fa, *fb;

		if (plen > 0 && (strncmp(r->path, prefix, plen) != 0 ||
		    (r->path[plen] != '\0' && r->path[plen] != '.')))
			continue;
		fa = cfg_at((void *)a, r->off);
		fb = cfg_at((void *)b, r->off);
		switch (r->type) {
		case CFG_SECTION:
			break;
		case CFG_UINT:
			if (*(const uint32_t *)fa != *(const uint32_t *)fb)
				return false;
			break;
		case CFG_PORT:
			if (*(const uint16_t *)fa != *(const uint16_t *)fb)
				return false;
			break;
		case CFG_BOOL:
			if (*(const bool *)fa != *(const bool *)fb)
				return false;
			break;
		case CFG_ENUM:
			if (*(const int *)fa != *(const int *)fb)
				return false;
			break;
		case CFG_STRING:
			if (!cfg_str_equal(*(char *const *)fa,
			    *(char *const *)fb))
				return false;
			break;
		case CFG_STRLIST:
			n = *(const size_t *)cfg_at((void *)a, r->off_n);
			if (n != *(const size_t *)cfg_at((void *)b, r->off_n))
				return false;
			for (j = 0; j < n; j++)
				if (!cfg_str_equal((*(char **const *)fa)[j],
				    (*(char **const *)fb)[j]))
					return false;
			break;
		case CFG_ENUMLIST:
			n = *(const size_t *)cfg_at((void *)a, r->off_n);
			if (n != *(const size_t *)cfg_at((void *)b, r->off_n) ||
			    memcmp(fa, fb, n * sizeof(int)) != 0)
				return false;
			break;
		case CFG_STARTUPS: {
			const struct config *ca = a, *cb = b;

			if (ca->limits.max_startups_begin !=
			    cb->limits.max_startups_begin ||
			    ca->limits.max_startups_rate_pct !=
			    cb->limits.max_startups_rate_pct ||
			    ca->limits.max_startups_full !=
			    cb->limits.max_startups_full)
				return false;
			break;
		}
		case CFG_LISTEN: {
			const struct config *ca = a, *cb = b;

			if (ca->nlisten != cb->nlisten)
				return false;
			for (j = 0; j < ca->nlisten; j++)
				if (!cfg_fields_equal(cfg_listen_rows,
				    nitems(cfg_listen_rows), &ca->listen[j],
				    &cb->listen[j], NULL))
					return false;
			break;
		}
		case CFG_KEYSOURCES: {
			const struct config *ca = a, *cb = b;

			if (ca->nkey_sources != cb->nkey_sources)
				return false;
			for (j = 0; j < ca->nkey_sources; j++)
				if (!cfg_fields_equal(cfg_keysrc_rows,
				    nitems(cfg_keysrc_rows), &ca->key_sources[j],
				    &cb->key_sources[j], NULL))
					return false;
			break;
		}
		}
	}
	return true;
}

bool
config_section_equal(const struct config *a, const struct config *b,
    const char *section)
{
	return cfg_fields_equal(cfg_rows, nitems(cfg_rows), a, b, section);
}
