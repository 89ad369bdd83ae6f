/*
 * podmeta_json.h: Kubernetes API objects, as cJSON trees from a list or a
 * watch event, turned into the podmeta structs podmeta_resolve() reads.
 * It applies the static route file's rules to JSON: the same fields, the
 * same defaults (namespace "default", Service type ClusterIP, targetPort =
 * port) and the same refusals (a port that is not an integer 1..65535, a
 * label that is not a string).  Pure functions; any thread; never logs.
 */
#ifndef JG_PODMETA_JSON_H
#define JG_PODMETA_JSON_H

#include <stddef.h>

#include <cJSON.h>

#include "err.h"
#include "podmeta.h"

/* A Node as routing sees it: where its NodePorts are reached. */
struct podmeta_node {
	char	*name;
	char	*address;		/* ExternalIP, else InternalIP; or NULL */
	char	*resource_version;	/* may be NULL */
};

/*
 * Each converts one object.  On success *out is the caller's (free with
 * podmeta_pod_free / podmeta_service_free / podmeta_node_free).  On a
 * malformed object returns JG_ERR_PARSE with a sentence naming the field
 * in err (e.g. "spec.containers[0].ports[1].containerPort: expected an
 * integer 1..65535, got \"ssh\""), or JG_ERR_NOMEM; *out is then NULL.
 */
enum jg_err podmeta_json_pod(const cJSON *obj, struct podmeta_pod **out,
	    char *err, size_t errlen);
enum jg_err podmeta_json_service(const cJSON *obj,
	    struct podmeta_service **out, char *err, size_t errlen);
enum jg_err podmeta_json_node(const cJSON *obj, struct podmeta_node **out,
	    char *err, size_t errlen);

void	podmeta_node_free(struct podmeta_node *node);	/* NULL is a no-op */

/* What a JSON value is, for "expected X, got Y": "\"abc\"", "12",
 * "an array"...; strings escaped and cut short.  Into buf, terminated. */
void	podmeta_json_describe(const cJSON *item, char *buf, size_t len);

/*
 * Points at metadata.namespace, .name and .resourceVersion of obj (inside
 * obj, not copied); each is NULL when absent or not a string.  Any out
 * pointer may be NULL.  For deletes and messages about objects that did
 * not convert.
 */
void	podmeta_json_meta(const cJSON *obj, const char **ns, const char **name,
	    const char **version);

#endif /* JG_PODMETA_JSON_H */
