/*
 * source_static.h: the static route source.  Reads a YAML file shaped like
 * `kubectl get pods,services -o yaml` (a List whose items are Pods and
 * Services, or a bare sequence of them) and turns it into a route snapshot
 * through podmeta_resolve(), exactly as the Kubernetes source does.
 * A malformed item is reported with file:line and skipped; the others load.
 * Reads a file: call from the main thread (start-up, SIGHUP), not a worker.
 */
#ifndef JG_SOURCE_STATIC_H
#define JG_SOURCE_STATIC_H

#include "config.h"
#include "err.h"
#include "route.h"

/*
 * Loads path.  Returns JG_OK and a new snapshot in *out (caller releases)
 * even when some items were skipped; each skipped item or malformed
 * annotation adds "path:line: <what is wrong>" to problems.  Returns
 * JG_ERR_IO (unreadable) or JG_ERR_PARSE (not YAML, or not a list of
 * objects) with the reason in problems and *out NULL.
 */
enum jg_err source_static_load(const char *path,
	    const struct config_naming *naming, struct route_snapshot **out,
	    struct jg_errlist *problems);

#endif /* JG_SOURCE_STATIC_H */
