/*
 * source.c: starts, reloads and checks the configured route source and
 * publishes what it loads.  Owns the source's state; the route table is
 * the caller's.  Main thread.
 */
#include <stdlib.h>
#include <string.h>

#include "source.h"
#include "source_kube.h"
#include "source_static.h"

struct source {
	const struct config *src_cfg;
	struct route_table *src_table;
	struct source_kube *src_kube;	/* routes.source: kubernetes */
};

static enum jg_err
source_load(const struct config *cfg, struct route_snapshot **out,
    struct jg_errlist *problems)
{
	switch (cfg->routes.source) {
	case CONFIG_ROUTES_STATIC:
		return source_static_load(cfg->routes.static_file,
		    &cfg->routes.naming, out, problems);
	case CONFIG_ROUTES_KUBERNETES:
		/* It publishes from its own thread; nothing to load here. */
		return JG_ERR_INTERNAL;
	}
	return JG_ERR_INTERNAL;
}

enum jg_err
source_start(const struct config *cfg, struct route_table *table,
    struct source **out, struct jg_errlist *problems)
{
	struct source *src;
	struct route_snapshot *snap = NULL;
	enum jg_err rc;

	*out = NULL;
	if (cfg->routes.source == CONFIG_ROUTES_KUBERNETES) {
		if ((src = calloc(1, sizeof(*src))) == NULL)
			return JG_ERR_NOMEM;
		if ((rc = source_kube_start(cfg, table, &src->src_kube,
		    problems)) != JG_OK) {
			free(src);
			return rc;
		}
		src->src_cfg = cfg;
		src->src_table = table;
		*out = src;
		return JG_OK;
	}
	if ((rc = source_load(cfg, &snap, problems)) != JG_OK)
		return rc;
	if ((src = calloc(1, sizeof(*src))) == NULL) {
		route_snapshot_release(snap);
		return JG_ERR_NOMEM;
	}
	src->src_cfg = cfg;
	src->src_table = table;
	route_table_publish(table, snap);
	*out = src;
	return JG_OK;
}

enum jg_err
source_reload(struct source *src, struct jg_errlist *problems)
{
	struct route_snapshot *snap = NULL;
	enum jg_err rc;

	if (src->src_kube != NULL) {
		/* The watch keeps routes current; a reload re-reads the
		 * rotating credentials. */
		source_kube_reload(src->src_kube);
		return JG_OK;
	}
	if ((rc = source_load(src->src_cfg, &snap, problems)) != JG_OK)
		return rc;
	route_table_publish(src->src_table, snap);
	return JG_OK;
}

enum jg_err
source_check(const struct config *cfg, struct jg_errlist *problems)
{
	struct route_snapshot *snap = NULL;
	size_t before = problems->el_count;
	enum jg_err rc;

	if (cfg->routes.source == CONFIG_ROUTES_KUBERNETES)
		return source_kube_check(cfg, problems);
	rc = source_load(cfg, &snap, problems);
	route_snapshot_release(snap);
	if (rc == JG_OK && problems->el_count > before)
		rc = JG_ERR_PARSE;
	return rc;
}

void
source_stop(struct source *src)
{
	if (src == NULL)
		return;
	source_kube_stop(src->src_kube);
	free(src);
}

void
source_status(struct source *src, struct source_status *out)
{
	struct source_kube_status ks;

	memset(out, 0, sizeof(*out));
	if (src == NULL)
		return;
	if (src->src_kube == NULL) {
		out->ss_synced = true;	/* a static file is whole at load */
		return;
	}
	source_kube_status(src->src_kube, &ks);
	out->ss_kube = true;
	out->ss_synced = ks.ks_synced;
	out->ss_connected = ks.ks_connected;
	out->ss_last_event_ms = ks.ks_last_event_ms;
	out->ss_pods = ks.ks_pods;
	out->ss_services = ks.ks_services;
	out->ss_relists = ks.ks_relists;
	out->ss_errors = ks.ks_errors;
}
