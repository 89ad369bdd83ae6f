/*
 * source_static.c: the route file, shaped like `kubectl get pods,svc -o
 * yaml`, read through ytree into podmeta structs and resolved into one
 * snapshot.  Every bad item is reported with file:line and skipped; it
 * does not publish (the caller does) and never logs.  Main thread only.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "name.h"
#include "podmeta.h"
#include "source_static.h"
#include "ytree.h"

/* Untrusted names and values are cut to this many bytes in problems. */
#define STATIC_ECHO_MAX		60
#define STATIC_ECHO_BUF		(STATIC_ECHO_MAX * 4 + 4)
#define STATIC_ERR_MAX		(JG_ERRLIST_MSG_MAX / 2)

/* How YAML 1.1/1.2 would type a plain scalar. */
enum static_class {
	STATIC_CLASS_STRING = 0,
	STATIC_CLASS_INT,
	STATIC_CLASS_OTHER,	/* null, bool, float */
};

/* A pod as read, with where its annotations were written. */
struct static_pod {
	struct podmeta_pod *sp_pod;
	int		 sp_line;
	size_t		 sp_item;	/* 1-based */
	int		*sp_ann_lines;	/* parallel to the annotations */
};

/* One item being read: the first error found stops it. */
struct static_item {
	int		 si_line;	/* where the error is */
	char		 si_err[STATIC_ERR_MAX];
};

struct static_load {
	const char	*sl_path;
	struct jg_errlist *sl_problems;
	struct static_pod *sl_pods;
	size_t		 sl_npods;
	struct podmeta_service **sl_svcs;
	size_t		 sl_nsvcs;
};

static bool
static_fail(struct static_item *it, const struct ytree_node *at,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static bool
static_fail(struct static_item *it, const struct ytree_node *at,
    const char *fmt, ...)
{
	va_list ap;

	it->si_line = at->line;
	va_start(ap, fmt);
	vsnprintf(it->si_err, sizeof(it->si_err), fmt, ap);
	va_end(ap);
	return false;
}

static bool
static_match(const char *s, const char *const *set)
{
	for (; *set != NULL; set++)
		if (strcmp(s, *set) == 0)
			return true;
	return false;
}

static bool
static_digits(const char **p, int base)
{
	const char *s = *p;

	for (; **p != '\0'; (*p)++) {
		if (base == 16 && ((**p >= 'a' && **p <= 'f') ||
		    (**p >= 'A' && **p <= 'F')))
			continue;
		if (**p < '0' || **p > (base == 8 ? '7' : '9'))
			break;
	}
	return *p != s;
}

/*
 * kubectl quotes every label value that YAML would read as something
 * other than a string; a hand-written `port: 22` label would otherwise
 * become a number here and a string in the cluster.
 */
static enum static_class
static_classify(const struct ytree_node *n)
{
	static const char *const bools[] = { "true", "false", "True",
	    "False", "TRUE", "FALSE", "yes", "no", "Yes", "No", "YES", "NO",
	    "on", "off", "On", "Off", "ON", "OFF", "y", "n", "Y", "N", NULL };
	static const char *const specials[] = { ".inf", ".Inf", ".INF",
	    "-.inf", "-.Inf", "-.INF", "+.inf", "+.Inf", "+.INF", ".nan",
	    ".NaN", ".NAN", NULL };
	const char *p = n->scalar;
	bool mant;

	if (!n->plain)
		return STATIC_CLASS_STRING;
	if (ytree_is_null(n) || static_match(p, bools) ||
	    static_match(p, specials))
		return STATIC_CLASS_OTHER;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'o')) {
		p += 2;
		if (static_digits(&p, p[-1] == 'x' ? 16 : 8) && *p == '\0')
			return STATIC_CLASS_INT;
		return STATIC_CLASS_STRING;
	}
	if (*p == '-' || *p == '+')
		p++;
	mant = static_digits(&p, 10);
	if (*p == '\0')
		return mant ? STATIC_CLASS_INT : STATIC_CLASS_STRING;
	if (*p == '.') {
		p++;
		mant = static_digits(&p, 10) || mant;
	}
	if (mant && (*p == 'e' || *p == 'E')) {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!static_digits(&p, 10))
			return STATIC_CLASS_STRING;
	}
	return mant && *p == '\0' ? STATIC_CLASS_OTHER : STATIC_CLASS_STRING;
}

/* "a mapping", "12", "\"abc\"": what was found instead. */
static const char *
static_describe(const struct ytree_node *n, char *buf, size_t len)
{
	char esc[STATIC_ECHO_BUF];

	if (n->type != YTREE_SCALAR)
		jg_detail(buf, len, "a %s", ytree_type_name(n->type));
	else
		jg_detail(buf, len, n->plain ? "%s" : "\"%s\"",
		    name_escape(esc, sizeof(esc), n->scalar, STATIC_ECHO_MAX));
	return buf;
}

/*
 * A string field.  Absent or null leaves *out NULL (an error when
 * required); anything else must be a scalar YAML reads as a string.
 */
static bool
static_string(struct static_item *it, const struct ytree_node *parent,
    const struct ytree_node *n, const char *what, bool required, char **out)
{
	char got[STATIC_ECHO_BUF];

	*out = NULL;
	if (n == NULL || ytree_is_null(n)) {
		if (required)
			return static_fail(it, n != NULL ? n : parent,
			    "%s is missing", what);
		return true;
	}
	if (n->type != YTREE_SCALAR || static_classify(n) !=
	    STATIC_CLASS_STRING)
		return static_fail(it, n, "%s: expected a string, got %s%s",
		    what, static_describe(n, got, sizeof(got)),
		    n->type == YTREE_SCALAR ? " (quote it)" : "");
	if (strlen(n->scalar) != n->len)
		return static_fail(it, n, "%s: contains a NUL byte", what);
	if (required && n->len == 0)
		return static_fail(it, n, "%s is empty", what);
	if ((*out = strdup(n->scalar)) == NULL)
		return static_fail(it, n, "%s: out of memory", what);
	return true;
}

/* A port number: an unquoted integer min..65535; absent gives 0. */
static bool
static_port(struct static_item *it, const struct ytree_node *parent,
    const struct ytree_node *n, const char *what, unsigned min,
    bool required, uint16_t *out)
{
	char got[STATIC_ECHO_BUF];
	const char *p;
	unsigned long v = 0;

	*out = 0;
	if (n == NULL || ytree_is_null(n)) {
		if (required)
			return static_fail(it, n != NULL ? n : parent,
			    "%s is missing", what);
		return true;
	}
	if (n->type != YTREE_SCALAR || static_classify(n) != STATIC_CLASS_INT)
		goto bad;
	for (p = n->scalar; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || p - n->scalar >= 5)
			goto bad;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v < min || v > 65535)
		goto bad;
	*out = (uint16_t)v;
	return true;
 bad:
	return static_fail(it, n, "%s: expected an integer %u..65535, got %s",
	    what, min, static_describe(n, got, sizeof(got)));
}

/* A string-to-string map (labels, annotations, selector). */
static bool
static_kv(struct static_item *it, const struct ytree_node *n,
    const char *what, struct podmeta_kv **kvp, size_t *np, int **linesp)
{
	char field[STATIC_ECHO_BUF + 64], esc[STATIC_ECHO_BUF];
	struct podmeta_kv *kv;
	int *lines = NULL;
	size_t i;

	*kvp = NULL;
	*np = 0;
	if (linesp != NULL)
		*linesp = NULL;
	if (n == NULL || ytree_is_null(n) || (n->type == YTREE_MAPPING &&
	    n->npairs == 0))
		return true;
	if (n->type != YTREE_MAPPING)
		return static_fail(it, n, "%s: expected a mapping, got a %s",
		    what, ytree_type_name(n->type));
	if ((kv = calloc(n->npairs, sizeof(*kv))) == NULL ||
	    (linesp != NULL &&
	    (lines = calloc(n->npairs, sizeof(*lines))) == NULL)) {
		free(kv);
		return static_fail(it, n, "%s: out of memory", what);
	}
	*kvp = kv;
	if (linesp != NULL)
		*linesp = lines;
	for (i = 0; i < n->npairs; i++) {
		jg_detail(field, sizeof(field), "%s %s", what,
		    name_escape(esc, sizeof(esc), n->pairs[i].key->scalar,
		    STATIC_ECHO_MAX));
		if (strlen(n->pairs[i].key->scalar) != n->pairs[i].key->len)
			return static_fail(it, n->pairs[i].key,
			    "%s: contains a NUL byte", field);
		if ((kv[i].key = strdup(n->pairs[i].key->scalar)) == NULL)
			return static_fail(it, n, "%s: out of memory", what);
		(*np)++;
		/* An empty value is a string too: `foo: ""` and `foo:`. */
		if (ytree_is_null(n->pairs[i].value) &&
		    n->pairs[i].value->len == 0)
			kv[i].value = strdup("");
		else if (!static_string(it, n, n->pairs[i].value, field,
		    false, &kv[i].value))
			return false;
		if (kv[i].value == NULL)
			return static_fail(it, n->pairs[i].value,
			    "%s: expected a string, got null", field);
		if (lines != NULL)
			lines[i] = n->pairs[i].key->line;
	}
	return true;
}

static bool
static_metadata(struct static_item *it, const struct ytree_node *item,
    char **ns, char **name, struct podmeta_kv **labels, size_t *nlabels,
    struct podmeta_kv **ann, size_t *nann, int **ann_lines, char **version)
{
	const struct ytree_node *md;

	md = ytree_get(item, "metadata");
	if (md == NULL || md->type != YTREE_MAPPING)
		return static_fail(it, md != NULL ? md : item,
		    "metadata: expected a mapping");
	if (!static_string(it, md, ytree_get(md, "name"), "metadata.name",
	    true, name) ||
	    !static_string(it, md, ytree_get(md, "namespace"),
	    "metadata.namespace", false, ns) ||
	    (version != NULL && !static_string(it, md,
	    ytree_get(md, "resourceVersion"), "metadata.resourceVersion",
	    false, version)) ||
	    !static_kv(it, ytree_get(md, "labels"), "label", labels,
	    nlabels, NULL) ||
	    !static_kv(it, ytree_get(md, "annotations"), "annotation", ann,
	    nann, ann_lines))
		return false;
	if (*ns == NULL && (*ns = strdup("default")) == NULL)
		return static_fail(it, md, "out of memory");
	return true;
}

static bool
static_pod_ports(struct static_item *it, const struct ytree_node *spec,
    struct podmeta_pod *pod)
{
	const struct ytree_node *cs, *c, *ports, *p;
	struct podmeta_port *arr;
	size_t i, j;

	cs = ytree_get(spec, "containers");
	if (cs == NULL || ytree_is_null(cs))
		return true;
	if (cs->type != YTREE_SEQUENCE)
		return static_fail(it, cs, "spec.containers: expected a "
		    "sequence, got a %s", ytree_type_name(cs->type));
	for (i = 0; i < cs->nitems; i++) {
		c = cs->items[i];
		if (c->type != YTREE_MAPPING)
			return static_fail(it, c, "spec.containers[%zu]: "
			    "expected a mapping", i);
		ports = ytree_get(c, "ports");
		if (ports == NULL || ytree_is_null(ports))
			continue;
		if (ports->type != YTREE_SEQUENCE)
			return static_fail(it, ports, "spec.containers[%zu]."
			    "ports: expected a sequence", i);
		for (j = 0; j < ports->nitems; j++) {
			p = ports->items[j];
			if (p->type != YTREE_MAPPING)
				return static_fail(it, p, "spec.containers"
				    "[%zu].ports[%zu]: expected a mapping",
				    i, j);
			arr = reallocarray(pod->ports, pod->nports + 1,
			    sizeof(*arr));
			if (arr == NULL)
				return static_fail(it, p, "out of memory");
			pod->ports = arr;
			memset(&arr[pod->nports], 0, sizeof(*arr));
			pod->nports++;
			if (!static_string(it, p, ytree_get(p, "name"),
			    "ports name", false, &arr[pod->nports - 1].name) ||
			    !static_port(it, p, ytree_get(p, "containerPort"),
			    "containerPort", 1, true,
			    &arr[pod->nports - 1].port))
				return false;
		}
	}
	return true;
}

static bool
static_read_pod(struct static_item *it, const struct ytree_node *item,
    struct static_pod *sp)
{
	const struct ytree_node *spec, *status;
	struct podmeta_pod *pod;

	if ((pod = calloc(1, sizeof(*pod))) == NULL)
		return static_fail(it, item, "out of memory");
	sp->sp_pod = pod;
	sp->sp_line = item->line;
	if (!static_metadata(it, item, &pod->namespace, &pod->name,
	    &pod->labels, &pod->nlabels, &pod->annotations,
	    &pod->nannotations, &sp->sp_ann_lines, &pod->resource_version))
		return false;
	spec = ytree_get(item, "spec");
	if (spec != NULL && !ytree_is_null(spec)) {
		if (spec->type != YTREE_MAPPING)
			return static_fail(it, spec, "spec: expected a "
			    "mapping");
		if (!static_string(it, spec, ytree_get(spec, "nodeName"),
		    "spec.nodeName", false, &pod->node_name) ||
		    !static_pod_ports(it, spec, pod))
			return false;
	}
	status = ytree_get(item, "status");
	if (status != NULL && !ytree_is_null(status)) {
		if (status->type != YTREE_MAPPING)
			return static_fail(it, status, "status: expected a "
			    "mapping");
		if (!static_string(it, status, ytree_get(status, "phase"),
		    "status.phase", false, &pod->phase) ||
		    !static_string(it, status, ytree_get(status, "hostIP"),
		    "status.hostIP", false, &pod->host_ip))
			return false;
	}
	return true;
}

static bool
static_service_port(struct static_item *it, const struct ytree_node *p,
    size_t j, struct podmeta_service_port *sp)
{
	const struct ytree_node *tp;
	char what[64];

	if (p->type != YTREE_MAPPING)
		return static_fail(it, p, "spec.ports[%zu]: expected a "
		    "mapping", j);
	jg_detail(what, sizeof(what), "spec.ports[%zu].port", j);
	if (!static_string(it, p, ytree_get(p, "name"), "spec.ports name",
	    false, &sp->name) ||
	    !static_port(it, p, ytree_get(p, "port"), what, 1, true,
	    &sp->port))
		return false;
	jg_detail(what, sizeof(what), "spec.ports[%zu].nodePort", j);
	if (!static_port(it, p, ytree_get(p, "nodePort"), what, 0, false,
	    &sp->node_port))
		return false;
	/* IntOrString: a number is a port, anything else names one. */
	jg_detail(what, sizeof(what), "spec.ports[%zu].targetPort", j);
	tp = ytree_get(p, "targetPort");
	if (tp != NULL && tp->type == YTREE_SCALAR &&
	    static_classify(tp) == STATIC_CLASS_INT)
		return static_port(it, p, tp, what, 1, true, &sp->target_port);
	return static_string(it, p, tp, what, false, &sp->target_port_name);
}

static bool
static_read_service(struct static_item *it, const struct ytree_node *item,
    struct podmeta_service *svc)
{
	const struct ytree_node *spec, *ports;
	struct podmeta_kv *labels = NULL;
	size_t nlabels = 0, j;
	bool ok;

	ok = static_metadata(it, item, &svc->namespace, &svc->name, &labels,
	    &nlabels, &svc->annotations, &svc->nannotations, NULL, NULL);
	/* Routing reads a Service's annotations, never its labels. */
	for (j = 0; j < nlabels; j++) {
		free(labels[j].key);
		free(labels[j].value);
	}
	free(labels);
	if (!ok)
		return false;
	spec = ytree_get(item, "spec");
	if (spec == NULL || spec->type != YTREE_MAPPING)
		return static_fail(it, spec != NULL ? spec : item,
		    "spec: expected a mapping");
	if (!static_string(it, spec, ytree_get(spec, "type"), "spec.type",
	    false, &svc->type) ||
	    !static_kv(it, ytree_get(spec, "selector"), "spec.selector",
	    &svc->selector, &svc->nselector, NULL))
		return false;
	if (svc->type == NULL && (svc->type = strdup("ClusterIP")) == NULL)
		return static_fail(it, spec, "out of memory");
	ports = ytree_get(spec, "ports");
	if (ports == NULL || ytree_is_null(ports))
		return true;
	if (ports->type != YTREE_SEQUENCE)
		return static_fail(it, ports, "spec.ports: expected a "
		    "sequence");
	if ((svc->ports = calloc(ports->nitems + 1, sizeof(*svc->ports))) ==
	    NULL)
		return static_fail(it, ports, "out of memory");
	for (j = 0; j < ports->nitems; j++) {
		svc->nports++;
		if (!static_service_port(it, ports->items[j], j,
		    &svc->ports[j]))
			return false;
	}
	return true;
}

/* The item's name for messages, before it is known to be valid. */
static void
static_item_name(const struct ytree_node *item, char *buf, size_t len)
{
	const struct ytree_node *n;
	char esc[STATIC_ECHO_BUF];

	n = ytree_get(ytree_get(item, "metadata"), "name");
	if (n == NULL || n->type != YTREE_SCALAR || n->len == 0)
		buf[0] = '\0';
	else
		jg_detail(buf, len, " (%s)", name_escape(esc, sizeof(esc),
		    n->scalar, STATIC_ECHO_MAX));
}

static enum jg_err
static_read_item(struct static_load *sl, const struct ytree_node *item,
    size_t index)
{
	struct static_item it = { 0, "" };
	struct podmeta_service *svc, **svcs;
	struct static_pod sp, *pods;
	const struct ytree_node *kind;
	char name[STATIC_ECHO_BUF + 4], got[STATIC_ECHO_BUF];
	bool ok, is_pod;

	static_item_name(item, name, sizeof(name));
	if (item->type != YTREE_MAPPING) {
		jg_errlist_add(sl->sl_problems, "%s:%d: item %zu: expected a "
		    "Pod or Service mapping, got a %s", sl->sl_path,
		    item->line, index, ytree_type_name(item->type));
		return JG_OK;
	}
	kind = ytree_get(item, "kind");
	if (kind == NULL || ytree_is_null(kind) ||
	    (kind->type == YTREE_SCALAR && strcmp(kind->scalar, "Pod") == 0))
		is_pod = true;
	else if (kind->type == YTREE_SCALAR &&
	    strcmp(kind->scalar, "Service") == 0)
		is_pod = false;
	else {
		jg_errlist_add(sl->sl_problems, "%s:%d: item %zu%s: kind %s "
		    "ignored (expected Pod or Service)", sl->sl_path,
		    kind->line, index, name, static_describe(kind, got,
		    sizeof(got)));
		return JG_OK;
	}

	if (is_pod) {
		memset(&sp, 0, sizeof(sp));
		sp.sp_item = index;
		ok = static_read_pod(&it, item, &sp);
		if (ok) {
			pods = reallocarray(sl->sl_pods, sl->sl_npods + 1,
			    sizeof(*pods));
			if (pods == NULL) {
				podmeta_pod_free(sp.sp_pod);
				free(sp.sp_ann_lines);
				return JG_ERR_NOMEM;
			}
			sl->sl_pods = pods;
			pods[sl->sl_npods++] = sp;
			return JG_OK;
		}
		podmeta_pod_free(sp.sp_pod);
		free(sp.sp_ann_lines);
	} else {
		if ((svc = calloc(1, sizeof(*svc))) == NULL)
			return JG_ERR_NOMEM;
		ok = static_read_service(&it, item, svc);
		if (ok) {
			svcs = reallocarray(sl->sl_svcs, sl->sl_nsvcs + 1,
			    sizeof(*svcs));
			if (svcs == NULL) {
				podmeta_service_free(svc);
				return JG_ERR_NOMEM;
			}
			sl->sl_svcs = svcs;
			svcs[sl->sl_nsvcs++] = svc;
			return JG_OK;
		}
		podmeta_service_free(svc);
	}
	jg_errlist_add(sl->sl_problems, "%s:%d: item %zu%s: %s", sl->sl_path,
	    it.si_line, index, name, it.si_err);
	return JG_OK;
}

/*
 * podmeta words each annotation problem "annotation <key>: ...": find the
 * annotation's own line so the message points at it, else the pod's.
 */
static int
static_problem_line(const struct static_pod *sp, const char *problem)
{
	const struct podmeta_pod *pod = sp->sp_pod;
	size_t i, klen;

	if (strncmp(problem, "annotation ", 11) != 0)
		return sp->sp_line;
	problem += 11;
	for (i = 0; i < pod->nannotations; i++) {
		klen = strlen(pod->annotations[i].key);
		if (strncmp(problem, pod->annotations[i].key, klen) == 0 &&
		    problem[klen] == ':')
			return sp->sp_ann_lines[i];
	}
	return sp->sp_line;
}

static enum jg_err
static_resolve(struct static_load *sl, const struct config_naming *naming,
    struct route_snapshot **out)
{
	struct route_pod **rps, *rp;
	struct timespec ts;
	char esc[STATIC_ECHO_BUF], lesc[STATIC_ECHO_BUF];
	size_t i, j, n = 0;
	enum jg_err r = JG_OK;
	uint64_t stamp;

	if ((rps = calloc(sl->sl_npods + 1, sizeof(*rps))) == NULL)
		return JG_ERR_NOMEM;
	for (i = 0; i < sl->sl_npods; i++) {
		const struct static_pod *sp = &sl->sl_pods[i];

		r = podmeta_resolve(sp->sp_pod,
		    (const struct podmeta_service *const *)sl->sl_svcs,
		    sl->sl_nsvcs, naming, NULL, NULL, &rp);
		if (r == JG_ERR_NOT_FOUND) {
			/* In a hand-written file a missing owner is a typo. */
			jg_errlist_add(sl->sl_problems, "%s:%d: item %zu (%s): "
			    "no label %s, so no user owns the pod; skipped",
			    sl->sl_path, sp->sp_line, sp->sp_item,
			    name_escape(esc, sizeof(esc), sp->sp_pod->name,
			    STATIC_ECHO_MAX), name_escape(lesc, sizeof(lesc),
			    naming->owner_label != NULL ?
			    naming->owner_label : "(none)", STATIC_ECHO_MAX));
			r = JG_OK;
			continue;
		}
		if (r != JG_OK)
			goto out;
		for (j = 0; j < rp->rp_nproblems; j++)
			jg_errlist_add(sl->sl_problems, "%s:%d: item %zu (%s): "
			    "%s", sl->sl_path, static_problem_line(sp,
			    rp->rp_problems[j]), sp->sp_item, name_escape(esc,
			    sizeof(esc), sp->sp_pod->name, STATIC_ECHO_MAX),
			    rp->rp_problems[j]);
		rps[n++] = rp;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	stamp = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	if ((*out = route_snapshot_new(rps, n, stamp)) == NULL)
		r = JG_ERR_NOMEM;
 out:
	/* The snapshot took its own references. */
	for (i = 0; i < n; i++)
		route_pod_unref(rps[i]);
	free(rps);
	return r;
}

/* The items of a List, a bare sequence, or one lone object. */
static bool
static_items(const struct ytree_node *root, const struct ytree_node ***items,
    size_t *nitems, const struct ytree_node **one)
{
	const struct ytree_node *list, *kind;

	*items = NULL;
	*nitems = 0;
	if (root == NULL)
		return true;
	if (root->type == YTREE_SEQUENCE) {
		*items = (const struct ytree_node **)root->items;
		*nitems = root->nitems;
		return true;
	}
	if (root->type != YTREE_MAPPING)
		return false;
	list = ytree_get(root, "items");
	if (list != NULL) {
		if (ytree_is_null(list))
			return true;
		if (list->type != YTREE_SEQUENCE)
			return false;
		*items = (const struct ytree_node **)list->items;
		*nitems = list->nitems;
		return true;
	}
	kind = ytree_get(root, "kind");
	if (kind != NULL && kind->type == YTREE_SCALAR &&
	    strcmp(kind->scalar, "List") == 0)
		return true;
	/* `kubectl get pod x -o yaml` prints one object. */
	if (ytree_get(root, "metadata") == NULL)
		return false;
	*one = root;
	*items = one;
	*nitems = 1;
	return true;
}

enum jg_err
source_static_load(const char *path, const struct config_naming *naming,
    struct route_snapshot **out, struct jg_errlist *problems)
{
	struct static_load sl;
	struct ytree_node *root = NULL;
	const struct ytree_node **items, *one = NULL;
	char err[JG_ERRLIST_MSG_MAX];
	size_t i, nitems;
	enum jg_err r;

	*out = NULL;
	memset(&sl, 0, sizeof(sl));
	sl.sl_path = path;
	sl.sl_problems = problems;
	if ((r = ytree_parse_file(path, &root, err, sizeof(err))) != JG_OK) {
		jg_errlist_add(problems, "%s", err);
		return r == JG_ERR_IO || r == JG_ERR_NOMEM ? r : JG_ERR_PARSE;
	}
	if (!static_items(root, &items, &nitems, &one)) {
		jg_errlist_add(problems, "%s:%d: expected a List with items:, "
		    "or a sequence of Pods and Services, got a %s", path,
		    root->line, ytree_type_name(root->type));
		ytree_free(root);
		return JG_ERR_PARSE;
	}
	r = JG_OK;
	for (i = 0; i < nitems && r == JG_OK; i++)
		r = static_read_item(&sl, items[i], i + 1);
	if (r == JG_OK)
		r = static_resolve(&sl, naming, out);
	if (r == JG_ERR_NOMEM)
		jg_errlist_add(problems, "%s: out of memory", path);

	for (i = 0; i < sl.sl_npods; i++) {
		podmeta_pod_free(sl.sl_pods[i].sp_pod);
		free(sl.sl_pods[i].sp_ann_lines);
	}
	free(sl.sl_pods);
	for (i = 0; i < sl.sl_nsvcs; i++)
		podmeta_service_free(sl.sl_svcs[i]);
	free(sl.sl_svcs);
	ytree_free(root);
	return r;
}
