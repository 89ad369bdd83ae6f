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

#endif /* JG_SOURCE_H */
