/*
 * source_kube.h: the Kubernetes route source.  Lists, then watches, Pods
 * and NodePort Services (and Nodes when routes.kubernetes.
 * resolve_node_addresses is set) in the configured namespaces, keeps them
 * in memory, and publishes a new route snapshot after each change, through
 * podmeta_resolve() like the static source.  Everything runs on the
 * source's own thread(s) with libcurl; nothing here ever runs on, or
 * blocks, an SSH worker.  When the API server is unreachable the last
 * published routes stay in force and the source says how old they are.
 */
#ifndef JG_SOURCE_KUBE_H
#define JG_SOURCE_KUBE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "route.h"

struct source_kube;

/*
 * Reads the credentials (kubeconfig, or in-cluster service account), then
 * starts the watch thread, which publishes into table.  Waits at most
 * request_timeout_ms for the first complete list, so that the gateway
 * starts with routes when the API server is up; when it is not, starts
 * anyway (logged) and keeps retrying.  Credential problems (unreadable
 * kubeconfig, unknown context, insecure TLS not allowed) are errors in
 * problems and fail the start.  Main thread.
 */
enum jg_err source_kube_start(const struct config *cfg,
	    struct route_table *table, struct source_kube **out,
	    struct jg_errlist *problems);

/* Stops the thread and frees everything.  NULL is a no-op.  Main thread. */
void	source_kube_stop(struct source_kube *src);

/* Re-reads rotating credentials now (SIGHUP).  Main thread. */
void	source_kube_reload(struct source_kube *src);

/*
 * jumpgate -t: checks the credentials and makes one bounded request
 * (a list with limit=1 in each namespace) to prove the API server answers
 * and the permissions suffice; every problem goes to problems.
 */
enum jg_err source_kube_check(const struct config *cfg,
	    struct jg_errlist *problems);

struct source_kube_status {
	bool	 ks_synced;		/* a full list has completed */
	bool	 ks_connected;		/* a watch is open now */
	uint64_t ks_last_event_ms;	/* CLOCK_MONOTONIC ms, 0 = never */
	uint64_t ks_pods;
	uint64_t ks_services;
	uint64_t ks_relists;		/* 410 Gone / ERROR events */
	uint64_t ks_errors;		/* failed requests */
};

/* A consistent copy of the counters.  Any thread. */
void	source_kube_status(struct source_kube *src,
	    struct source_kube_status *out);

#endif /* JG_SOURCE_KUBE_H */
