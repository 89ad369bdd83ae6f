/*
 * metrics.c: the gateway's counters (atomics, any thread) and the HTTP
 * endpoint that shows them, run by libmicrohttpd on its own thread.  Owns
 * the counters and the libmicrohttpd daemon; the gauges belong to whoever
 * the gauge callback asks.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "metrics.h"

#define METRICS_PAGE_MAX	16384
#define METRICS_CONN_MAX	16	/* scrapers at once */
#define METRICS_CONN_TIMEOUT_S	10

static atomic_uint_fast64_t metrics_counters[METRIC_COUNTER_MAX];

/* Handshake latency histogram, upper bounds in ms. */
static const uint64_t metrics_buckets_ms[] = {
	5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
};
#define METRICS_NBUCKETS \
	(sizeof(metrics_buckets_ms) / sizeof(metrics_buckets_ms[0]))
static atomic_uint_fast64_t metrics_hs_buckets[METRICS_NBUCKETS];
static atomic_uint_fast64_t metrics_hs_count;
static atomic_uint_fast64_t metrics_hs_sum_ms;

struct metrics_server {
	struct MHD_Daemon	*ms_daemon;
	metrics_gauge_fn	 ms_fn;
	void			*ms_arg;
};

void
metrics_add(enum metric_counter c, uint64_t n)
{
	if ((int)c >= 0 && c < METRIC_COUNTER_MAX)
		atomic_fetch_add_explicit(&metrics_counters[c], n,
		    memory_order_relaxed);
}

uint64_t
metrics_get(enum metric_counter c)
{
	if ((int)c < 0 || c >= METRIC_COUNTER_MAX)
		return 0;
	return atomic_load_explicit(&metrics_counters[c],
	    memory_order_relaxed);
}

void
metrics_route_result(enum jg_err rc)
{
	enum metric_counter c = METRIC_ROUTE_DENIED;

	/* Not a switch: every other code is "denied", and -Wswitch-enum
	 * would want each one named. */
	if (rc == JG_OK)
		c = METRIC_ROUTE_OK;
	else if (rc == JG_ERR_NOT_FOUND)
		c = METRIC_ROUTE_NOT_FOUND;
	else if (rc == JG_ERR_AMBIGUOUS)
		c = METRIC_ROUTE_AMBIGUOUS;
	else if (rc == JG_ERR_NOT_RUNNING)
		c = METRIC_ROUTE_NOT_RUNNING;
	else if (rc == JG_ERR_NO_RULE)
		c = METRIC_ROUTE_NO_RULE;
	else if (rc == JG_ERR_MALFORMED)
		c = METRIC_ROUTE_MALFORMED;
	metrics_add(c, 1);
}

void
metrics_handshake_ms(uint64_t ms)
{
	size_t i;

	/* Cumulative buckets are summed at render time; count each
	 * handshake once, in the first bucket that holds it. */
	for (i = 0; i < METRICS_NBUCKETS; i++) {
		if (ms <= metrics_buckets_ms[i]) {
			atomic_fetch_add(&metrics_hs_buckets[i], 1);
			break;
		}
	}
	atomic_fetch_add(&metrics_hs_count, 1);
	atomic_fetch_add(&metrics_hs_sum_ms, ms);
}

struct metrics_page {
	char	*mp_buf;
	size_t	 mp_len;
	size_t	 mp_off;
};

static void
metrics_put(struct metrics_page *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
metrics_put(struct metrics_page *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->mp_off + 1 >= p->mp_len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(p->mp_buf + p->mp_off, p->mp_len - p->mp_off, fmt, ap);
	va_end(ap);
	if (n > 0)
		p->mp_off += (size_t)n < p->mp_len - p->mp_off ? (size_t)n :
		    p->mp_len - p->mp_off - 1;
}

static void
metrics_family(struct metrics_page *p, const char *name, const char *type,
    const char *help)
{
	metrics_put(p, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	    type);
}

static void
metrics_sample(struct metrics_page *p, const char *name, const char *labels,
    uint64_t v)
{
	metrics_put(p, "%s%s%s%s %llu\n", name, labels != NULL ? "{" : "",
	    labels != NULL ? labels : "", labels != NULL ? "}" : "",
	    (unsigned long long)v);
}

size_t
metrics_render(const struct metrics_gauges *g, char *buf, size_t len)
{
	struct metrics_page p = { buf, len, 0 };
	uint64_t cum = 0;
	size_t i;

	if (len == 0)
		return 0;
	buf[0] = '\0';
	metrics_family(&p, "jumpgate_connections_total", "counter",
	    "TCP connections, by what admission did with them.");
	metrics_sample(&p, "jumpgate_connections_total",
	    "result=\"accepted\"", metrics_get(METRIC_CONN_ACCEPTED));
	metrics_sample(&p, "jumpgate_connections_total",
	    "result=\"dropped_startups\"",
	    metrics_get(METRIC_CONN_DROPPED_STARTUPS));
	metrics_sample(&p, "jumpgate_connections_total",
	    "result=\"dropped_penalty\"",
	    metrics_get(METRIC_CONN_DROPPED_PENALTY));

	metrics_family(&p, "jumpgate_auth_total", "counter",
	    "Authentication attempts by method and result.");
	metrics_sample(&p, "jumpgate_auth_total",
	    "method=\"publickey\",result=\"accepted\"",
	    metrics_get(METRIC_AUTH_PUBKEY_ACCEPTED));
	metrics_sample(&p, "jumpgate_auth_total",
	    "method=\"publickey\",result=\"failed\"",
	    metrics_get(METRIC_AUTH_PUBKEY_FAILED));

	metrics_family(&p, "jumpgate_sessions_total", "counter",
	    "Sessions by mode: jump channels, direct sessions, gateway "
	    "answers.");
	metrics_sample(&p, "jumpgate_sessions_total", "mode=\"jump\"",
	    metrics_get(METRIC_SESSIONS_JUMP));
	metrics_sample(&p, "jumpgate_sessions_total", "mode=\"direct\"",
	    metrics_get(METRIC_SESSIONS_DIRECT));
	metrics_sample(&p, "jumpgate_sessions_total", "mode=\"gateway\"",
	    metrics_get(METRIC_SESSIONS_GATEWAY));

	metrics_family(&p, "jumpgate_relayed_bytes_total", "counter",
	    "Bytes relayed between clients and pods.");
	metrics_sample(&p, "jumpgate_relayed_bytes_total",
	    "direction=\"up\"", metrics_get(METRIC_BYTES_UP));
	metrics_sample(&p, "jumpgate_relayed_bytes_total",
	    "direction=\"down\"", metrics_get(METRIC_BYTES_DOWN));

	metrics_family(&p, "jumpgate_route_lookups_total", "counter",
	    "Route lookups by result.");
	metrics_sample(&p, "jumpgate_route_lookups_total", "result=\"ok\"",
	    metrics_get(METRIC_ROUTE_OK));
	metrics_sample(&p, "jumpgate_route_lookups_total",
	    "result=\"not_found\"", metrics_get(METRIC_ROUTE_NOT_FOUND));
	metrics_sample(&p, "jumpgate_route_lookups_total",
	    "result=\"ambiguous\"", metrics_get(METRIC_ROUTE_AMBIGUOUS));
	metrics_sample(&p, "jumpgate_route_lookups_total",
	    "result=\"not_running\"", metrics_get(METRIC_ROUTE_NOT_RUNNING));
	metrics_sample(&p, "jumpgate_route_lookups_total",
	    "result=\"no_rule\"", metrics_get(METRIC_ROUTE_NO_RULE));
	metrics_sample(&p, "jumpgate_route_lookups_total",
	    "result=\"malformed\"", metrics_get(METRIC_ROUTE_MALFORMED));
	metrics_sample(&p, "jumpgate_route_lookups_total",
	    "result=\"denied\"", metrics_get(METRIC_ROUTE_DENIED));

	metrics_family(&p, "jumpgate_handshake_seconds", "histogram",
	    "From accept to successful authentication.");
	for (i = 0; i < METRICS_NBUCKETS; i++) {
		cum += atomic_load(&metrics_hs_buckets[i]);
		metrics_put(&p, "jumpgate_handshake_seconds_bucket{le=\"%g\"} "
		    "%llu\n", (double)metrics_buckets_ms[i] / 1000.0,
		    (unsigned long long)cum);
	}
	metrics_put(&p, "jumpgate_handshake_seconds_bucket{le=\"+Inf\"} "
	    "%llu\n", (unsigned long long)atomic_load(&metrics_hs_count));
	metrics_put(&p, "jumpgate_handshake_seconds_sum %.3f\n",
	    (double)atomic_load(&metrics_hs_sum_ms) / 1000.0);
	metrics_put(&p, "jumpgate_handshake_seconds_count %llu\n",
	    (unsigned long long)atomic_load(&metrics_hs_count));

	metrics_family(&p, "jumpgate_sessions_active", "gauge",
	    "Authenticated sessions open now.");
	metrics_sample(&p, "jumpgate_sessions_active", NULL, g->mg_sessions);
	metrics_family(&p, "jumpgate_direct_sessions_active", "gauge",
	    "Direct-mode sessions open now (each has a thread).");
	metrics_sample(&p, "jumpgate_direct_sessions_active", NULL,
	    g->mg_direct_sessions);
	metrics_family(&p, "jumpgate_unauthenticated_connections", "gauge",
	    "Connections not yet authenticated (MaxStartups counts them).");
	metrics_sample(&p, "jumpgate_unauthenticated_connections", NULL,
	    g->mg_startups);
	metrics_family(&p, "jumpgate_routes_pods", "gauge",
	    "Pods in the route table.");
	metrics_sample(&p, "jumpgate_routes_pods", NULL, g->mg_routes_pods);
	metrics_family(&p, "jumpgate_route_source_up", "gauge",
	    "1 while the route source reaches its origin.");
	metrics_sample(&p, "jumpgate_route_source_up", NULL,
	    g->mg_source_up ? 1 : 0);
	metrics_family(&p, "jumpgate_route_source_stale_seconds", "gauge",
	    "How old the route data is while the source is down; 0 when "
	    "up.");
	metrics_sample(&p, "jumpgate_route_source_stale_seconds", NULL,
	    g->mg_source_age_ms / 1000);
	if (g->mg_kube) {
		metrics_family(&p, "jumpgate_kubernetes_synced", "gauge",
		    "1 once every list has completed.");
		metrics_sample(&p, "jumpgate_kubernetes_synced", NULL,
		    g->mg_kube_synced ? 1 : 0);
		metrics_family(&p, "jumpgate_kubernetes_watch_connected",
		    "gauge", "1 while a watch is open.");
		metrics_sample(&p, "jumpgate_kubernetes_watch_connected", NULL,
		    g->mg_kube_connected ? 1 : 0);
		metrics_family(&p, "jumpgate_kubernetes_last_event_age_seconds",
		    "gauge", "Seconds since the last watch event or list.");
		metrics_sample(&p, "jumpgate_kubernetes_last_event_age_seconds",
		    NULL, g->mg_kube_event_age_ms / 1000);
		metrics_family(&p, "jumpgate_kubernetes_objects", "gauge",
		    "Objects known from the API server.");
		metrics_sample(&p, "jumpgate_kubernetes_objects",
		    "kind=\"pod\"", g->mg_kube_pods);
		metrics_sample(&p, "jumpgate_kubernetes_objects",
		    "kind=\"service\"", g->mg_kube_services);
		metrics_family(&p, "jumpgate_kubernetes_relists_total",
		    "counter", "Lists started again after 410 Gone or an "
		    "ERROR event.");
		metrics_sample(&p, "jumpgate_kubernetes_relists_total", NULL,
		    g->mg_kube_relists);
		metrics_family(&p, "jumpgate_kubernetes_errors_total",
		    "counter", "Failed requests to the API server.");
		metrics_sample(&p, "jumpgate_kubernetes_errors_total", NULL,
		    g->mg_kube_errors);
	}
	return p.mp_off;
}

static enum MHD_Result
metrics_reply(struct MHD_Connection *conn, unsigned int status,
    const char *type, const char *body, size_t len)
{
	struct MHD_Response *resp;
	enum MHD_Result rc;

	resp = MHD_create_response_from_buffer(len, (void *)body,
	    MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO;
	(void)MHD_add_response_header(resp, "Content-Type", type);
	rc = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return rc;
}

static enum MHD_Result
metrics_reply_text(struct MHD_Connection *conn, unsigned int status,
    const char *text)
{
	return metrics_reply(conn, status, "text/plain", text, strlen(text));
}

static enum MHD_Result
metrics_handle(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct metrics_server *ms = cls;
	struct metrics_gauges g;
	char *page;
	size_t n;
	enum MHD_Result rc;

	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return metrics_reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "GET only\n");
	if (strcmp(url, "/healthz") == 0)
		return metrics_reply_text(conn, MHD_HTTP_OK, "ok\n");
	if (strcmp(url, "/readyz") != 0 && strcmp(url, "/metrics") != 0)
		return metrics_reply_text(conn, MHD_HTTP_NOT_FOUND,
		    "not found: try /metrics, /healthz, /readyz\n");
	/* Only these two need the gauges (locks, a snapshot): ask once. */
	memset(&g, 0, sizeof(g));
	ms->ms_fn(&g, ms->ms_arg);
	if (strcmp(url, "/readyz") == 0)
		return g.mg_ready ?
		    metrics_reply_text(conn, MHD_HTTP_OK, "ready\n") :
		    metrics_reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "not ready\n");
	if ((page = malloc(METRICS_PAGE_MAX)) == NULL)
		return MHD_NO;
	n = metrics_render(&g, page, METRICS_PAGE_MAX);
	rc = metrics_reply(conn, MHD_HTTP_OK,
	    "text/plain; version=0.0.4; charset=utf-8", page, n);
	free(page);
	return rc;
}

enum jg_err
metrics_start(const char *listen, metrics_gauge_fn fn, void *arg,
    struct metrics_server **out, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct metrics_server *ms;
	char host[64];
	const char *colon;
	unsigned long port;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD;
	size_t hlen;
	char *end;

	*out = NULL;
	memset(&ss, 0, sizeof(ss));
	/* "addr:port" or "[v6]:port"; the config loader checked the shape. */
	if ((colon = strrchr(listen, ':')) == NULL) {
		jg_detail(err, errlen, "metrics.listen %s: expected "
		    "address:port", listen);
		return JG_ERR_CONFIG;
	}
	hlen = (size_t)(colon - listen);
	if (listen[0] == '[' && hlen >= 2 && listen[hlen - 1] == ']') {
		listen++;
		hlen -= 2;
	}
	if (hlen >= sizeof(host)) {
		jg_detail(err, errlen, "metrics.listen: address too long");
		return JG_ERR_CONFIG;
	}
	memcpy(host, listen, hlen);
	host[hlen] = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || port == 0 || port > 65535) {
		jg_detail(err, errlen, "metrics.listen: bad port '%s'",
		    colon + 1);
		return JG_ERR_CONFIG;
	}
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		flags |= MHD_USE_IPv6;
	} else {
		jg_detail(err, errlen, "metrics.listen: '%s' is not an IP "
		    "address", host);
		return JG_ERR_CONFIG;
	}
	if ((ms = calloc(1, sizeof(*ms))) == NULL)
		return JG_ERR_NOMEM;
	ms->ms_fn = fn;
	ms->ms_arg = arg;
	ms->ms_daemon = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL,
	    metrics_handle, ms,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)METRICS_CONN_MAX,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)METRICS_CONN_TIMEOUT_S,
	    MHD_OPTION_END);
	if (ms->ms_daemon == NULL) {
		jg_detail(err, errlen, "metrics.listen %s: cannot listen "
		    "(address in use or not local?)", listen);
		free(ms);
		return JG_ERR_IO;
	}
	*out = ms;
	return JG_OK;
}

void
metrics_stop(struct metrics_server *ms)
{
	if (ms == NULL)
		return;
	MHD_stop_daemon(ms->ms_daemon);
	free(ms);
}
