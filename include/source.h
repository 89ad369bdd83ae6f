/*
 * source.h: the configured route source, whichever it is.  Loads routes at
 * start and on reload and publishes them to the route table; a reload
 * that fails keeps the routes in force.  Main thread (the Kubernetes
 * source runs its own thread behind this interface).
 */
#ifndef JG_SOURCE_H
#define JG_SOURCE_H

#include "config.h"
#include "err.h"
#include <stdbool.h>
#include <stdint.h>

#include "route.h"

struct source;

/*
 * Starts the source for cfg, publishing into table.  Problems with single
 * records (a malformed annotation, a bad item) go to problems and do not
 * fail the start; a source that cannot work at all (unreadable file,
 * unsupported kind) returns an error with the reason in problems.
 */
enum jg_err source_start(const struct config *cfg, struct route_table *table,
	    struct source **out, struct jg_errlist *problems);

/* Reloads (SIGHUP).  On error the old routes stay published. */
enum jg_err source_reload(struct source *src, struct jg_errlist *problems);

/* Checks the source without publishing anything (jumpgate -t). */
enum jg_err source_check(const struct config *cfg, struct jg_errlist *problems);

void	source_stop(struct source *src);	/* NULL is a no-op */

struct source_status {
	bool	 ss_kube;		/* the Kubernetes fields mean something */
	bool	 ss_synced;		/* routes are complete (always, static) */
	bool	 ss_connected;
	uint64_t ss_last_event_ms;	/* CLOCK_MONOTONIC, 0 = never */
	uint64_t ss_pods;
	uint64_t ss_services;
	uint64_t ss_relists;
	uint64_t ss_errors;
};

/* A consistent copy of the source's health.  Any thread. */
void	source_status(struct source *src, struct source_status *out);

#endif /* JG_SOURCE_H */
