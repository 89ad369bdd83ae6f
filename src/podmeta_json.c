/*
 * podmeta_json.c: reads Pods, Services and Nodes from the API server's JSON
 * into podmeta structs, field by field, refusing wrong types with the
 * field's path.  It does not resolve routes (podmeta.c) or fetch anything
 * (source_kube.c) and never logs.  Pure functions; any thread.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "name.h"
#include "podmeta_json.h"

/* Untrusted values are cut to this many bytes in messages. */
#define PJ_ECHO_MAX		40
#define PJ_ECHO_BUF		(PJ_ECHO_MAX * 4 + 4)
#define PJ_PATH_MAX		128

/* The first error found stops the object. */
struct pj {
	char	*pj_err;
	size_t	 pj_errlen;
	bool	 pj_nomem;
};

/* Shared with podmeta.c: both report JSON values the same way. */
void
podmeta_json_describe(const cJSON *item, char *buf, size_t len)
{
	char esc[PJ_ECHO_BUF];

	if (cJSON_IsString(item))
		jg_detail(buf, len, "\"%s\"", name_escape(esc, sizeof(esc),
		    item->valuestring, PJ_ECHO_MAX));
	else if (cJSON_IsNumber(item))
		jg_detail(buf, len, "%.17g", item->valuedouble);
	else if (cJSON_IsBool(item))
		jg_detail(buf, len, "%s", cJSON_IsTrue(item) ? "true" :
		    "false");
	else if (cJSON_IsNull(item))
		jg_detail(buf, len, "null");
	else if (cJSON_IsArray(item))
		jg_detail(buf, len, "an array");
	else
		jg_detail(buf, len, "an object");
}

static bool
pj_fail(struct pj *p, const char *what, const char *expected,
    const cJSON *got)
{
	char desc[PJ_ECHO_BUF + 8];

	podmeta_json_describe(got, desc, sizeof(desc));
	jg_detail(p->pj_err, p->pj_errlen, "%s: expected %s, got %s", what,
	    expected, desc);
	return false;
}

static bool
pj_nomem(struct pj *p)
{
	p->pj_nomem = true;
	jg_detail(p->pj_err, p->pj_errlen, "out of memory");
	return false;
}

static const cJSON *
pj_get(const cJSON *obj, const char *key)
{
	return cJSON_IsObject(obj) ?
	    cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

/* Absent and null are the same to the API server's encoder. */
static bool
pj_absent(const cJSON *item)
{
	return item == NULL || cJSON_IsNull(item);
}

static bool
pj_string(struct pj *p, const cJSON *item, const char *what, bool required,
    char **out)
{
	*out = NULL;
	if (pj_absent(item)) {
		if (!required)
			return true;
		jg_detail(p->pj_err, p->pj_errlen, "%s is missing", what);
		return false;
	}
	if (!cJSON_IsString(item))
		return pj_fail(p, what, "a string", item);
	if (required && item->valuestring[0] == '\0') {
		jg_detail(p->pj_err, p->pj_errlen, "%s is empty", what);
		return false;
	}
	if ((*out = strdup(item->valuestring)) == NULL)
		return pj_nomem(p);
	return true;
}

/* A port: an integer min..65535; absent gives 0 (an error if required). */
static bool
pj_port(struct pj *p, const cJSON *item, const char *what, unsigned min,
    bool required, uint16_t *out)
{
	char expected[48];
	double d;

	*out = 0;
	if (pj_absent(item)) {
		if (!required)
			return true;
		jg_detail(p->pj_err, p->pj_errlen, "%s is missing", what);
		return false;
	}
	if (cJSON_IsNumber(item)) {
		d = item->valuedouble;
		if (d >= min && d <= 65535 && d == (double)(long)d) {
			*out = (uint16_t)d;
			return true;
		}
	}
	jg_detail(expected, sizeof(expected), "an integer %u..65535", min);
	return pj_fail(p, what, expected, item);
}

/* A string-to-string map: labels, annotations, selector. */
static bool
pj_kv(struct pj *p, const cJSON *item, const char *what,
    struct podmeta_kv **kvp, size_t *np)
{
	char field[PJ_PATH_MAX], esc[PJ_ECHO_BUF];
	struct podmeta_kv *kv;
	const cJSON *e;
	size_t n = 0;

	*kvp = NULL;
	*np = 0;
	if (pj_absent(item))
		return true;
	if (!cJSON_IsObject(item))
		return pj_fail(p, what, "an object", item);
	cJSON_ArrayForEach(e, item)
		n++;
	if (n == 0)
		return true;
	if ((kv = calloc(n, sizeof(*kv))) == NULL)
		return pj_nomem(p);
	*kvp = kv;
	cJSON_ArrayForEach(e, item) {
		if (!cJSON_IsString(e)) {
			jg_detail(field, sizeof(field), "%s %s", what,
			    name_escape(esc, sizeof(esc), e->string,
			    PJ_ECHO_MAX));
			return pj_fail(p, field, "a string", e);
		}
		if ((kv[*np].key = strdup(e->string)) == NULL)
			return pj_nomem(p);
		if ((kv[*np].value = strdup(e->valuestring)) == NULL) {
			free(kv[*np].key);
			kv[*np].key = NULL;
			return pj_nomem(p);
		}
		(*np)++;
	}
	return true;
}

/* A field that must be an object: false with a message otherwise. */
static bool
pj_object(struct pj *p, const cJSON *item, const char *what)
{
	if (cJSON_IsObject(item))
		return true;
	if (item == NULL) {
		jg_detail(p->pj_err, p->pj_errlen, "%s is missing", what);
		return false;
	}
	return pj_fail(p, what, "an object", item);
}

/* Reads the metadata fields whose out pointers are not NULL. */
static bool
pj_metadata(struct pj *p, const cJSON *obj, char **ns, char **name,
    char **version, struct podmeta_kv **labels, size_t *nlabels,
    struct podmeta_kv **ann, size_t *nann)
{
	const cJSON *md;

	md = pj_get(obj, "metadata");
	if (!pj_object(p, md, "metadata"))
		return false;
	if (!pj_string(p, pj_get(md, "name"), "metadata.name", true, name) ||
	    (ns != NULL && !pj_string(p, pj_get(md, "namespace"),
	    "metadata.namespace", false, ns)) ||
	    (version != NULL && !pj_string(p, pj_get(md, "resourceVersion"),
	    "metadata.resourceVersion", false, version)) ||
	    (labels != NULL && !pj_kv(p, pj_get(md, "labels"),
	    "metadata.labels", labels, nlabels)) ||
	    (ann != NULL && !pj_kv(p, pj_get(md, "annotations"),
	    "metadata.annotations", ann, nann)))
		return false;
	if (ns != NULL && *ns == NULL && (*ns = strdup("default")) == NULL)
		return pj_nomem(p);
	return true;
}

static bool
pj_pod_ports(struct pj *p, const cJSON *spec, struct podmeta_pod *pod)
{
	const cJSON *cs, *c, *ports, *port;
	struct podmeta_port *arr;
	char what[PJ_PATH_MAX];
	size_t i = 0, j, n = 0;

	cs = pj_get(spec, "containers");
	if (pj_absent(cs))
		return true;
	if (!cJSON_IsArray(cs))
		return pj_fail(p, "spec.containers", "an array", cs);
	cJSON_ArrayForEach(c, cs) {
		ports = pj_get(c, "ports");
		if (!cJSON_IsObject(c)) {
			jg_detail(what, sizeof(what), "spec.containers[%zu]",
			    i);
			return pj_fail(p, what, "an object", c);
		}
		if (cJSON_IsArray(ports))
			n += (size_t)cJSON_GetArraySize(ports);
		else if (!pj_absent(ports)) {
			jg_detail(what, sizeof(what), "spec.containers[%zu]."
			    "ports", i);
			return pj_fail(p, what, "an array", ports);
		}
		i++;
	}
	if (n == 0)
		return true;
	if ((arr = calloc(n, sizeof(*arr))) == NULL)
		return pj_nomem(p);
	pod->ports = arr;
	i = 0;
	cJSON_ArrayForEach(c, cs) {
		j = 0;
		cJSON_ArrayForEach(port, pj_get(c, "ports")) {
			if (!cJSON_IsObject(port)) {
				jg_detail(what, sizeof(what), "spec."
				    "containers[%zu].ports[%zu]", i, j);
				return pj_fail(p, what, "an object", port);
			}
			jg_detail(what, sizeof(what), "spec.containers[%zu]."
			    "ports[%zu].name", i, j);
			if (!pj_string(p, pj_get(port, "name"), what, false,
			    &arr[pod->nports].name))
				return false;
			pod->nports++;
			jg_detail(what, sizeof(what), "spec.containers[%zu]."
			    "ports[%zu].containerPort", i, j);
			if (!pj_port(p, pj_get(port, "containerPort"), what, 1,
			    true, &arr[pod->nports - 1].port))
				return false;
			j++;
		}
		i++;
	}
	return true;
}

static bool
pj_read_pod(struct pj *p, const cJSON *obj, struct podmeta_pod *pod)
{
	const cJSON *spec, *status;

	if (!pj_metadata(p, obj, &pod->namespace, &pod->name,
	    &pod->resource_version, &pod->labels, &pod->nlabels,
	    &pod->annotations, &pod->nannotations))
		return false;
	spec = pj_get(obj, "spec");
	if (!pj_absent(spec)) {
		if (!cJSON_IsObject(spec))
			return pj_fail(p, "spec", "an object", spec);
		if (!pj_string(p, pj_get(spec, "nodeName"), "spec.nodeName",
		    false, &pod->node_name) ||
		    !pj_pod_ports(p, spec, pod))
			return false;
	}
	status = pj_get(obj, "status");
	if (!pj_absent(status)) {
		if (!cJSON_IsObject(status))
			return pj_fail(p, "status", "an object", status);
		if (!pj_string(p, pj_get(status, "phase"), "status.phase",
		    false, &pod->phase) ||
		    !pj_string(p, pj_get(status, "hostIP"), "status.hostIP",
		    false, &pod->host_ip))
			return false;
	}
	return true;
}

enum jg_err
podmeta_json_pod(const cJSON *obj, struct podmeta_pod **out, char *err,
    size_t errlen)
{
	struct pj p = { err, errlen, false };
	struct podmeta_pod *pod;

	*out = NULL;
	if ((pod = calloc(1, sizeof(*pod))) == NULL) {
		pj_nomem(&p);
		return JG_ERR_NOMEM;
	}
	if (!pj_read_pod(&p, obj, pod)) {
		podmeta_pod_free(pod);
		return p.pj_nomem ? JG_ERR_NOMEM : JG_ERR_PARSE;
	}
	*out = pod;
	return JG_OK;
}

static bool
pj_service_port(struct pj *p, const cJSON *port, size_t j,
    struct podmeta_service_port *sp)
{
	const cJSON *tp;
	char what[PJ_PATH_MAX];

	if (!cJSON_IsObject(port)) {
		jg_detail(what, sizeof(what), "spec.ports[%zu]", j);
		return pj_fail(p, what, "an object", port);
	}
	jg_detail(what, sizeof(what), "spec.ports[%zu].name", j);
	if (!pj_string(p, pj_get(port, "name"), what, false, &sp->name))
		return false;
	jg_detail(what, sizeof(what), "spec.ports[%zu].port", j);
	if (!pj_port(p, pj_get(port, "port"), what, 1, true, &sp->port))
		return false;
	/* 0 is "not allocated yet", which the API server omits. */
	jg_detail(what, sizeof(what), "spec.ports[%zu].nodePort", j);
	if (!pj_port(p, pj_get(port, "nodePort"), what, 0, false,
	    &sp->node_port))
		return false;
	/* IntOrString: a number is a port, a string names one. */
	jg_detail(what, sizeof(what), "spec.ports[%zu].targetPort", j);
	tp = pj_get(port, "targetPort");
	if (cJSON_IsNumber(tp))
		return pj_port(p, tp, what, 1, true, &sp->target_port);
	if (cJSON_IsString(tp) || pj_absent(tp))
		return pj_string(p, tp, what, false, &sp->target_port_name);
	return pj_fail(p, what, "an integer or a port name", tp);
}

static bool
pj_read_service(struct pj *p, const cJSON *obj, struct podmeta_service *svc)
{
	const cJSON *spec, *ports, *port;
	size_t n, j = 0;

	/* Routing reads a Service's annotations, never its labels. */
	if (!pj_metadata(p, obj, &svc->namespace, &svc->name, NULL, NULL,
	    NULL, &svc->annotations, &svc->nannotations))
		return false;
	spec = pj_get(obj, "spec");
	if (!pj_object(p, spec, "spec"))
		return false;
	if (!pj_string(p, pj_get(spec, "type"), "spec.type", false,
	    &svc->type) ||
	    !pj_kv(p, pj_get(spec, "selector"), "spec.selector",
	    &svc->selector, &svc->nselector))
		return false;
	if (svc->type == NULL && (svc->type = strdup("ClusterIP")) == NULL)
		return pj_nomem(p);
	ports = pj_get(spec, "ports");
	if (pj_absent(ports))
		return true;
	if (!cJSON_IsArray(ports))
		return pj_fail(p, "spec.ports", "an array", ports);
	if ((n = (size_t)cJSON_GetArraySize(ports)) == 0)
		return true;
	if ((svc->ports = calloc(n, sizeof(*svc->ports))) == NULL)
		return pj_nomem(p);
	cJSON_ArrayForEach(port, ports) {
		svc->nports++;
		if (!pj_service_port(p, port, j, &svc->ports[j]))
			return false;
		j++;
	}
	return true;
}

enum jg_err
podmeta_json_service(const cJSON *obj, struct podmeta_service **out,
    char *err, size_t errlen)
{
	struct pj p = { err, errlen, false };
	struct podmeta_service *svc;

	*out = NULL;
	if ((svc = calloc(1, sizeof(*svc))) == NULL) {
		pj_nomem(&p);
		return JG_ERR_NOMEM;
	}
	if (!pj_read_service(&p, obj, svc)) {
		podmeta_service_free(svc);
		return p.pj_nomem ? JG_ERR_NOMEM : JG_ERR_PARSE;
	}
	*out = svc;
	return JG_OK;
}

/*
 * The platform shows a node's ExternalIP when it has one, else its
 * InternalIP (crater-cluster-facts.md); the first of each type wins.
 */
static bool
pj_node_address(struct pj *p, const cJSON *status, char **out)
{
	const cJSON *addrs, *a, *type, *addr;
	const char *external = NULL, *internal = NULL;

	*out = NULL;
	addrs = pj_get(status, "addresses");
	if (pj_absent(addrs))
		return true;
	if (!cJSON_IsArray(addrs))
		return pj_fail(p, "status.addresses", "an array", addrs);
	cJSON_ArrayForEach(a, addrs) {
		type = pj_get(a, "type");
		addr = pj_get(a, "address");
		if (!cJSON_IsString(type) || !cJSON_IsString(addr) ||
		    addr->valuestring[0] == '\0')
			continue;
		if (external == NULL &&
		    strcmp(type->valuestring, "ExternalIP") == 0)
			external = addr->valuestring;
		else if (internal == NULL &&
		    strcmp(type->valuestring, "InternalIP") == 0)
			internal = addr->valuestring;
	}
	if (external == NULL)
		external = internal;
	if (external != NULL && (*out = strdup(external)) == NULL)
		return pj_nomem(p);
	return true;
}

void
podmeta_node_free(struct podmeta_node *node)
{
	if (node == NULL)
		return;
	free(node->name);
	free(node->address);
	free(node->resource_version);
	free(node);
}

enum jg_err
podmeta_json_node(const cJSON *obj, struct podmeta_node **out, char *err,
    size_t errlen)
{
	struct pj p = { err, errlen, false };
	struct podmeta_node *node;
	const cJSON *status;
	bool ok;

	*out = NULL;
	if ((node = calloc(1, sizeof(*node))) == NULL) {
		pj_nomem(&p);
		return JG_ERR_NOMEM;
	}
	ok = pj_metadata(&p, obj, NULL, &node->name, &node->resource_version,
	    NULL, NULL, NULL, NULL);
	if (ok) {
		status = pj_get(obj, "status");
		if (!pj_absent(status) && !cJSON_IsObject(status))
			ok = pj_fail(&p, "status", "an object", status);
		else
			ok = pj_node_address(&p, status, &node->address);
	}
	if (!ok) {
		podmeta_node_free(node);
		return p.pj_nomem ? JG_ERR_NOMEM : JG_ERR_PARSE;
	}
	*out = node;
	return JG_OK;
}

void
podmeta_json_meta(const cJSON *obj, const char **ns, const char **name,
    const char **version)
{
	const cJSON *md, *v;

	md = pj_get(obj, "metadata");
	if (ns != NULL) {
		v = pj_get(md, "namespace");
		*ns = cJSON_IsString(v) ? v->valuestring : NULL;
	}
	if (name != NULL) {
		v = pj_get(md, "name");
		*name = cJSON_IsString(v) ? v->valuestring : NULL;
	}
	if (version != NULL) {
		v = pj_get(md, "resourceVersion");
		*version = cJSON_IsString(v) ? v->valuestring : NULL;
	}
}
