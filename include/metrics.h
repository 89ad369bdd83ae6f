/*
 * metrics.h: what the gateway counts, and the optional HTTP endpoint that
 * shows it: /metrics in the Prometheus text format, /healthz and /readyz
 * for probes.  Served by libmicrohttpd on its own thread, on the address
 * in metrics.listen (off by default).  Counting is lock-free: any thread
 * may count, at any time, even when no endpoint runs.
 */
#ifndef JG_METRICS_H
#define JG_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum metric_counter {
	METRIC_CONN_ACCEPTED = 0,	/* TCP connections accepted */
	METRIC_CONN_DROPPED_STARTUPS,	/* MaxStartups early drop */
	METRIC_CONN_DROPPED_PENALTY,	/* source in the penalty box */
	METRIC_AUTH_PUBKEY_ACCEPTED,
	METRIC_AUTH_PUBKEY_FAILED,
	METRIC_SESSIONS_JUMP,		/* jump channels opened to a pod */
	METRIC_SESSIONS_DIRECT,		/* direct sessions handed over */
	METRIC_SESSIONS_GATEWAY,	/* self-service answers */
	METRIC_BYTES_UP,		/* client -> pod, both modes */
	METRIC_BYTES_DOWN,		/* pod -> client */
	METRIC_ROUTE_OK,
	METRIC_ROUTE_NOT_FOUND,
	METRIC_ROUTE_AMBIGUOUS,
	METRIC_ROUTE_NOT_RUNNING,
	METRIC_ROUTE_NO_RULE,
	METRIC_ROUTE_MALFORMED,
	METRIC_ROUTE_DENIED,		/* bad name, key options, other */
	METRIC_COUNTER_MAX
};

void	metrics_add(enum metric_counter c, uint64_t n);
uint64_t metrics_get(enum metric_counter c);

/* Counts one route lookup by its outcome. */
void	metrics_route_result(enum jg_err rc);

/* Records one handshake: accept to successful authentication, in ms. */
void	metrics_handshake_ms(uint64_t ms);

/* Values read at scrape time from whoever owns them. */
struct metrics_gauges {
	uint64_t mg_sessions;		/* authenticated, all modes */
	uint64_t mg_startups;		/* unauthenticated connections */
	uint64_t mg_direct_sessions;
	bool	 mg_source_up;		/* route source reaches its origin */
	uint64_t mg_source_age_ms;	/* since last contact, 0 = now */
	bool	 mg_kube;		/* the fields below mean something */
	bool	 mg_kube_synced;
	bool	 mg_kube_connected;
	uint64_t mg_kube_event_age_ms;	/* since the last watch event */
	uint64_t mg_kube_pods;
	uint64_t mg_kube_services;
	uint64_t mg_kube_relists;
	uint64_t mg_kube_errors;
	uint64_t mg_routes_pods;	/* pods in the route table */
	bool	 mg_ready;		/* routes loaded, not draining */
};

typedef void (*metrics_gauge_fn)(struct metrics_gauges *out, void *arg);

struct metrics_server;

/*
 * Serves /metrics, /healthz and /readyz on listen ("127.0.0.1:9102",
 * "[::1]:9102").  fn fills the gauges on each scrape (on the HTTP
 * thread: it must be thread-safe and quick).  Main thread.
 */
enum jg_err metrics_start(const char *listen, metrics_gauge_fn fn, void *arg,
	    struct metrics_server **out, char *err, size_t errlen);
void	metrics_stop(struct metrics_server *ms);	/* NULL is a no-op */

/* Writes the Prometheus text for g into buf; returns the length (cut at
 * len - 1).  Exposed for tests. */
size_t	metrics_render(const struct metrics_gauges *g, char *buf, size_t len);

#endif /* JG_METRICS_H */
