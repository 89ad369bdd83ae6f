/*
 * podmeta.c: turns one pod and the NodePort Services that select it into a
 * struct route_pod, reading the three endpoint records of
 * crater-cluster-facts.md.  It does not fetch or parse YAML (the sources
 * do) and never logs: bad records become the pod's rp_problems.
 * Pure functions; any thread.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "name.h"
#include "podmeta.h"
#include "podmeta_json.h"

/* Current Crater names a Service's rule with this annotation. */
#define PODMETA_PORT_NAME_ANNOTATION	"crater.raids.io/port-name"
/* Untrusted keys and values are cut to this many bytes in problems. */
#define PODMETA_ECHO_KEY_MAX		100
#define PODMETA_ECHO_VALUE_MAX		40
#define PODMETA_ECHO_BUF		(PODMETA_ECHO_KEY_MAX * 4 + 4)
/* Ports: both the record and the NodePort must fit a TCP port. */
#define PODMETA_PORT_RANGE		"1..65535"

static void
podmeta_kv_free(struct podmeta_kv *kv, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

void
podmeta_pod_free(struct podmeta_pod *pod)
{
	size_t i;

	if (pod == NULL)
		return;
	free(pod->namespace);
	free(pod->name);
	free(pod->resource_version);
	podmeta_kv_free(pod->labels, pod->nlabels);
	podmeta_kv_free(pod->annotations, pod->nannotations);
	free(pod->phase);
	free(pod->host_ip);
	free(pod->node_name);
	for (i = 0; i < pod->nports; i++)
		free(pod->ports[i].name);
	free(pod->ports);
	free(pod);
}

void
podmeta_service_free(struct podmeta_service *svc)
{
	size_t i;

	if (svc == NULL)
		return;
	free(svc->namespace);
	free(svc->name);
	free(svc->type);
	podmeta_kv_free(svc->selector, svc->nselector);
	podmeta_kv_free(svc->annotations, svc->nannotations);
	for (i = 0; i < svc->nports; i++) {
		free(svc->ports[i].name);
		free(svc->ports[i].target_port_name);
	}
	free(svc->ports);
	free(svc);
}

const char *
podmeta_get(const struct podmeta_kv *kv, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (kv[i].key != NULL && strcmp(kv[i].key, key) == 0)
			return kv[i].value;
	return NULL;
}

bool
podmeta_service_selects(const struct podmeta_service *svc,
    const struct podmeta_pod *pod)
{
	const char *v;
	size_t i;

	if (svc->type == NULL || strcmp(svc->type, "NodePort") != 0)
		return false;
	if (svc->namespace == NULL || pod->namespace == NULL ||
	    strcmp(svc->namespace, pod->namespace) != 0)
		return false;
	/* An empty selector selects nothing (Kubernetes: no Endpoints). */
	if (svc->nselector == 0)
		return false;
	for (i = 0; i < svc->nselector; i++) {
		if (svc->selector[i].key == NULL ||
		    svc->selector[i].value == NULL)
			return false;
		v = podmeta_get(pod->labels, pod->nlabels,
		    svc->selector[i].key);
		if (v == NULL || strcmp(v, svc->selector[i].value) != 0)
			return false;
	}
	return true;
}

static bool
podmeta_is_ip(const char *s)
{
	struct in6_addr a6;
	struct in_addr a4;

	return inet_pton(AF_INET, s, &a4) == 1 ||
	    inet_pton(AF_INET6, s, &a6) == 1;
}

static enum jg_err
podmeta_json_port(const cJSON *obj, const char *field, uint16_t *out,
    char *err, size_t errlen)
{
	const cJSON *item;
	char got[PODMETA_ECHO_BUF];
	double d;

	item = cJSON_GetObjectItemCaseSensitive(obj, field);
	if (item == NULL) {
		jg_detail(err, errlen, "%s is missing", field);
		return JG_ERR_MALFORMED;
	}
	/* A quoted "32513" is a string: Crater never wrote one, so a string
	 * means someone edited the record by hand and it is not trusted. */
	if (cJSON_IsNumber(item)) {
		d = item->valuedouble;
		if (d >= 1 && d <= 65535 && d == (double)(long)d) {
			*out = (uint16_t)d;
			return JG_OK;
		}
	}
	podmeta_json_describe(item, got, sizeof(got));
	jg_detail(err, errlen, "%s: expected an integer %s, got %s", field,
	    PODMETA_PORT_RANGE, got);
	return JG_ERR_MALFORMED;
}

static enum jg_err
podmeta_copy_rule_name(struct route_rule *rule, const char *name, char *err,
    size_t errlen)
{
	char esc[PODMETA_ECHO_BUF];
	size_t len;

	len = strlen(name);
	if (len == 0 || len > ROUTE_RULE_NAME_MAX) {
		jg_detail(err, errlen, "rule name '%s' must be 1..%d bytes",
		    name_escape(esc, sizeof(esc), name,
		    PODMETA_ECHO_VALUE_MAX), ROUTE_RULE_NAME_MAX);
		return JG_ERR_MALFORMED;
	}
	memcpy(rule->rr_name, name, len + 1);
	return JG_OK;
}

enum jg_err
podmeta_parse_nodeport_annotation(const char *rule_name, const char *json,
    const char *host_ip, struct route_rule *out, char *err, size_t errlen)
{
	struct route_rule rule;
	const cJSON *addr;
	cJSON *root;
	const char *end = NULL, *a;
	char got[PODMETA_ECHO_BUF];
	enum jg_err r;

	memset(&rule, 0, sizeof(rule));
	rule.rr_origin = ROUTE_ORIGIN_ANNOTATION;
	if ((r = podmeta_copy_rule_name(&rule, rule_name, err, errlen)) !=
	    JG_OK)
		return r;
	root = cJSON_ParseWithOpts(json, &end, 1);
	if (root == NULL) {
		jg_detail(err, errlen, "not valid JSON (at byte %zu)",
		    end != NULL && end >= json ? (size_t)(end - json) :
		    (size_t)0);
		return JG_ERR_MALFORMED;
	}
	if (!cJSON_IsObject(root)) {
		podmeta_json_describe(root, got, sizeof(got));
		jg_detail(err, errlen, "expected a JSON object, got %s", got);
		r = JG_ERR_MALFORMED;
		goto out;
	}
	if ((r = podmeta_json_port(root, "containerPort",
	    &rule.rr_container_port, err, errlen)) != JG_OK)
		goto out;
	if ((r = podmeta_json_port(root, "nodePort", &rule.rr_node_port, err,
	    errlen)) != JG_OK)
		goto out;

	/* "name" is not read: the annotation key names the rule.  An empty
	 * address is how a record without a known node looks: use hostIP. */
	addr = cJSON_GetObjectItemCaseSensitive(root, "address");
	if (addr != NULL && !cJSON_IsNull(addr) && !(cJSON_IsString(addr) &&
	    addr->valuestring[0] == '\0')) {
		if (!cJSON_IsString(addr) ||
		    !podmeta_is_ip(addr->valuestring)) {
			podmeta_json_describe(addr, got, sizeof(got));
			jg_detail(err, errlen, "address: expected an IPv4 or "
			    "IPv6 address, got %s", got);
			r = JG_ERR_MALFORMED;
			goto out;
		}
		a = addr->valuestring;
	} else if (host_ip != NULL && podmeta_is_ip(host_ip))
		a = host_ip;
	else {
		jg_detail(err, errlen, "address is missing and the pod has no "
		    "hostIP");
		r = JG_ERR_MALFORMED;
		goto out;
	}
	/* An IP literal is shorter than INET6_ADDRSTRLEN by definition. */
	jg_detail(rule.rr_address, sizeof(rule.rr_address), "%s", a);
	*out = rule;
	r = JG_OK;
 out:
	cJSON_Delete(root);
	return r;
}

enum jg_err
podmeta_parse_host_port(const char *text, char *addr, size_t addrlen,
    uint16_t *port, char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN], esc[PODMETA_ECHO_BUF];
	char hesc[PODMETA_ECHO_BUF];
	struct in6_addr a6;
	struct in_addr a4;
	const char *hp, *colon, *p;
	size_t hlen;
	unsigned long v;
	bool v6;

	if (text == NULL || text[0] == '\0') {
		jg_detail(err, errlen, "expected \"<ip>:<nodePort>\", got an "
		    "empty value");
		return JG_ERR_MALFORMED;
	}
	name_escape(esc, sizeof(esc), text, PODMETA_ECHO_VALUE_MAX);
	if (text[0] == '[') {
		hp = text + 1;
		if ((colon = strchr(hp, ']')) == NULL || colon[1] != ':')
			goto bad;
		hlen = (size_t)(colon - hp);
		colon++;
		v6 = true;
	} else {
		if ((colon = strrchr(text, ':')) == NULL)
			goto bad;
		hp = text;
		hlen = (size_t)(colon - text);
		if (memchr(hp, ':', hlen) != NULL) {
			jg_detail(err, errlen, "\"%s\": an IPv6 address must "
			    "be written \"[address]:port\"", esc);
			return JG_ERR_MALFORMED;
		}
		v6 = false;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		goto bad;
	memcpy(host, hp, hlen);
	host[hlen] = '\0';
	if ((v6 ? inet_pton(AF_INET6, host, &a6) :
	    inet_pton(AF_INET, host, &a4)) != 1) {
		jg_detail(err, errlen, "\"%s\": '%s' is not an IP%s address",
		    esc, name_escape(hesc, sizeof(hesc), host,
		    PODMETA_ECHO_VALUE_MAX), v6 ? "v6" : "v4");
		return JG_ERR_MALFORMED;
	}
	v = 0;
	for (p = colon + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || p - colon > 5)
			goto badport;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (p == colon + 1 || v < 1 || v > 65535)
		goto badport;
	if (hlen >= addrlen) {
		jg_detail(err, errlen, "\"%s\": address does not fit", esc);
		return JG_ERR_MALFORMED;
	}
	memcpy(addr, host, hlen + 1);
	*port = (uint16_t)v;
	return JG_OK;
 badport:
	jg_detail(err, errlen, "\"%s\": port must be an integer %s", esc,
	    PODMETA_PORT_RANGE);
	return JG_ERR_MALFORMED;
 bad:
	jg_detail(err, errlen, "expected \"<ip>:<nodePort>\", got \"%s\"",
	    esc);
	return JG_ERR_MALFORMED;
}

/* strdup that tells NULL-in from out-of-memory. */
static bool
podmeta_dup(char **dst, const char *src)
{
	*dst = NULL;
	if (src == NULL)
		return true;
	return (*dst = strdup(src)) != NULL;
}

/* The number after the last '-' of a pod name, or -1. */
static int
podmeta_pod_index(const char *name)
{
	const char *dash, *p;
	int v = 0;

	if ((dash = strrchr(name, '-')) == NULL || dash[1] == '\0')
		return -1;
	for (p = dash + 1; *p != '\0'; p++) {
		/* Nine digits fit an int; Volcano never writes more. */
		if (*p < '0' || *p > '9' || p - dash > 9)
			return -1;
		v = v * 10 + (*p - '0');
	}
	return v;
}

/*
 * Without a job label the job is the pod name minus Volcano's
 * "-<task>-<index>" suffix (when the task is known and the suffix is
 * really there), else the whole pod name.
 */
static char *
podmeta_job_from_name(const char *name, const char *task)
{
	const char *dash;
	size_t tlen, keep;

	keep = strlen(name);
	if (task != NULL && task[0] != '\0' && podmeta_pod_index(name) >= 0) {
		dash = strrchr(name, '-');
		tlen = strlen(task);
		if ((size_t)(dash - name) > tlen + 1 &&
		    memcmp(dash - tlen, task, tlen) == 0 &&
		    dash[-(ptrdiff_t)tlen - 1] == '-')
			keep = (size_t)(dash - name) - tlen - 1;
	}
	return strndup(name, keep);
}

/* True when rules [0, before) already give container port cport. */
static bool
podmeta_port_taken(const struct route_pod *rp, size_t before, uint16_t cport)
{
	size_t i;

	for (i = 0; i < before; i++)
		if (rp->rp_rules[i].rr_container_port == cport)
			return true;
	return false;
}

static enum jg_err
podmeta_rules_annotation(const struct podmeta_pod *pod,
    const struct config_naming *naming, struct route_pod *rp, size_t before)
{
	char err[ROUTE_WHY_MAX / 2], key[PODMETA_ECHO_BUF];
	const struct podmeta_kv *kv;
	struct route_rule rule;
	size_t i, plen;
	enum jg_err r;

	if (naming->annotation_prefix == NULL ||
	    naming->annotation_prefix[0] == '\0')
		return JG_OK;
	plen = strlen(naming->annotation_prefix);
	for (i = 0; i < pod->nannotations; i++) {
		kv = &pod->annotations[i];
		if (kv->key == NULL || strncmp(kv->key,
		    naming->annotation_prefix, plen) != 0)
			continue;
		name_escape(key, sizeof(key), kv->key, PODMETA_ECHO_KEY_MAX);
		if (kv->value == NULL)
			r = route_pod_add_problem(rp, "annotation %s: has no "
			    "value", key);
		else if (podmeta_parse_nodeport_annotation(kv->key + plen,
		    kv->value, pod->host_ip, &rule, err, sizeof(err)) != JG_OK)
			r = route_pod_add_problem(rp, "annotation %s: %s", key,
			    err);
		else if (podmeta_port_taken(rp, before, rule.rr_container_port))
			r = JG_OK;
		else
			r = route_pod_add_rule(rp, &rule);
		if (r != JG_OK)
			return r;
	}
	return JG_OK;
}

static enum jg_err
podmeta_rules_ssh_enabled(const struct podmeta_pod *pod,
    const struct config_naming *naming, struct route_pod *rp, size_t before)
{
	char err[ROUTE_WHY_MAX / 2], key[PODMETA_ECHO_BUF];
	struct route_rule rule;
	const char *v;

	if (naming->ssh_enabled_annotation == NULL)
		return JG_OK;
	v = podmeta_get(pod->annotations, pod->nannotations,
	    naming->ssh_enabled_annotation);
	if (v == NULL || podmeta_port_taken(rp, before, 22))
		return JG_OK;
	memset(&rule, 0, sizeof(rule));
	if (podmeta_parse_host_port(v, rule.rr_address,
	    sizeof(rule.rr_address), &rule.rr_node_port, err, sizeof(err)) !=
	    JG_OK) {
		name_escape(key, sizeof(key), naming->ssh_enabled_annotation,
		    PODMETA_ECHO_KEY_MAX);
		return route_pod_add_problem(rp, "annotation %s: %s", key, err);
	}
	memcpy(rule.rr_name, "ssh", sizeof("ssh"));
	rule.rr_container_port = 22;
	rule.rr_origin = ROUTE_ORIGIN_SSH_ENABLED;
	return route_pod_add_rule(rp, &rule);
}

/* The container port a Service port sends to, or 0 with a problem. */
static uint16_t
podmeta_service_target(const struct podmeta_pod *pod,
    const struct podmeta_service_port *sp)
{
	size_t i;

	if (sp->target_port_name != NULL) {
		for (i = 0; i < pod->nports; i++)
			if (pod->ports[i].name != NULL && strcmp(
			    pod->ports[i].name, sp->target_port_name) == 0)
				return pod->ports[i].port;
		return 0;
	}
	/* Kubernetes defaults targetPort to port. */
	return sp->target_port != 0 ? sp->target_port : sp->port;
}

static enum jg_err
podmeta_rules_service(const struct podmeta_pod *pod,
    const struct podmeta_service *svc, podmeta_node_address_fn node_address,
    void *node_arg, struct route_pod *rp, size_t before)
{
	char who[PODMETA_ECHO_BUF * 2 + 32], esc[PODMETA_ECHO_BUF];
	char err[ROUTE_WHY_MAX / 2], pname[ROUTE_RULE_NAME_MAX + 1];
	const struct podmeta_service_port *sp;
	const char *name, *addr;
	struct route_rule rule;
	uint16_t cport;
	size_t i;
	enum jg_err r;

	for (i = 0; i < svc->nports; i++) {
		sp = &svc->ports[i];
		if (sp->node_port == 0)
			continue;
		jg_detail(who, sizeof(who), "service %s/", name_escape(esc,
		    sizeof(esc), svc->namespace, PODMETA_ECHO_KEY_MAX));
		jg_detail(who + strlen(who), sizeof(who) - strlen(who),
		    "%s port %u", name_escape(esc, sizeof(esc), svc->name,
		    PODMETA_ECHO_KEY_MAX), (unsigned)sp->port);
		if ((cport = podmeta_service_target(pod, sp)) == 0) {
			r = route_pod_add_problem(rp, "%s: targetPort '%s' "
			    "names no container port of pod", who,
			    name_escape(esc, sizeof(esc),
			    sp->target_port_name, PODMETA_ECHO_VALUE_MAX));
			if (r != JG_OK)
				return r;
			continue;
		}
		if (podmeta_port_taken(rp, before, cport))
			continue;
		memset(&rule, 0, sizeof(rule));
		name = podmeta_get(svc->annotations, svc->nannotations,
		    PODMETA_PORT_NAME_ANNOTATION);
		if (name == NULL)
			name = sp->name;
		if (name == NULL || name[0] == '\0') {
			jg_detail(pname, sizeof(pname), "port-%u",
			    (unsigned)cport);
			name = pname;
		}
		if (podmeta_copy_rule_name(&rule, name, err, sizeof(err)) !=
		    JG_OK) {
			if ((r = route_pod_add_problem(rp, "%s: %s", who,
			    err)) != JG_OK)
				return r;
			continue;
		}
		addr = NULL;
		if (node_address != NULL && pod->node_name != NULL)
			addr = node_address(pod->node_name, node_arg);
		if (addr == NULL)
			addr = pod->host_ip;
		if (addr == NULL || !podmeta_is_ip(addr)) {
			r = route_pod_add_problem(rp, "%s: no address for the "
			    "pod's node (%s)", who, addr == NULL ?
			    "no hostIP" : "not an IP address");
			if (r != JG_OK)
				return r;
			continue;
		}
		jg_detail(rule.rr_address, sizeof(rule.rr_address), "%s",
		    addr);
		rule.rr_container_port = cport;
		rule.rr_node_port = sp->node_port;
		rule.rr_origin = ROUTE_ORIGIN_SERVICE;
		if ((r = route_pod_add_rule(rp, &rule)) != JG_OK)
			return r;
	}
	return JG_OK;
}

static enum jg_err
podmeta_rules(const struct podmeta_pod *pod,
    const struct podmeta_service *const *services, size_t nservices,
    const struct config_naming *naming, podmeta_node_address_fn node_address,
    void *node_arg, struct route_pod *rp)
{
	size_t k, i, before;
	enum jg_err r = JG_OK;

	for (k = 0; k < naming->nprecedence && k < CONFIG_ENDPOINT_MAX; k++) {
		/* Rules of this kind yield only to earlier kinds. */
		before = rp->rp_nrules;
		switch (naming->precedence[k]) {
		case CONFIG_ENDPOINT_ANNOTATION:
			r = podmeta_rules_annotation(pod, naming, rp, before);
			break;
		case CONFIG_ENDPOINT_SSH_ENABLED:
			r = podmeta_rules_ssh_enabled(pod, naming, rp, before);
			break;
		case CONFIG_ENDPOINT_SERVICE:
			for (i = 0; i < nservices && r == JG_OK; i++)
				if (podmeta_service_selects(services[i], pod))
					r = podmeta_rules_service(pod,
					    services[i], node_address,
					    node_arg, rp, before);
			break;
		case CONFIG_ENDPOINT_MAX:
			break;
		}
		if (r != JG_OK)
			return r;
	}
	return JG_OK;
}

static const char *
podmeta_label(const struct podmeta_pod *pod, const char *key)
{
	const char *v;

	if (key == NULL)
		return NULL;
	v = podmeta_get(pod->labels, pod->nlabels, key);
	return v != NULL && v[0] != '\0' ? v : NULL;
}

enum jg_err
podmeta_resolve(const struct podmeta_pod *pod,
    const struct podmeta_service *const *services, size_t nservices,
    const struct config_naming *naming, podmeta_node_address_fn node_address,
    void *node_arg, struct route_pod **out)
{
	struct route_pod *rp;
	const char *owner, *job, *display = NULL;
	enum jg_err r;

	*out = NULL;
	if (pod->name == NULL || pod->name[0] == '\0')
		return JG_ERR_NOT_FOUND;
	if ((owner = podmeta_label(pod, naming->owner_label)) == NULL)
		return JG_ERR_NOT_FOUND;
	if ((rp = route_pod_new()) == NULL)
		return JG_ERR_NOMEM;
	if (naming->display_name_annotation != NULL)
		display = podmeta_get(pod->annotations, pod->nannotations,
		    naming->display_name_annotation);
	if (display != NULL && display[0] == '\0')
		display = NULL;
	if (!podmeta_dup(&rp->rp_namespace, pod->namespace != NULL ?
	    pod->namespace : "default") ||
	    !podmeta_dup(&rp->rp_name, pod->name) ||
	    !podmeta_dup(&rp->rp_owner, owner) ||
	    !podmeta_dup(&rp->rp_display, display) ||
	    !podmeta_dup(&rp->rp_base_url,
	    podmeta_label(pod, naming->base_url_label)) ||
	    !podmeta_dup(&rp->rp_task,
	    podmeta_label(pod, naming->task_label)) ||
	    !podmeta_dup(&rp->rp_phase, pod->phase) ||
	    !podmeta_dup(&rp->rp_host_ip, pod->host_ip) ||
	    !podmeta_dup(&rp->rp_version, pod->resource_version))
		goto nomem;
	if ((job = podmeta_label(pod, naming->job_label)) != NULL)
		rp->rp_job = strdup(job);
	else
		rp->rp_job = podmeta_job_from_name(pod->name, rp->rp_task);
	if (rp->rp_job == NULL)
		goto nomem;
	/* The pod's pinned host key, for direct mode's annotation policy. */
	if (naming->host_key_annotation != NULL &&
	    !podmeta_dup(&rp->rp_host_key, podmeta_get(pod->annotations,
	    pod->nannotations, naming->host_key_annotation)))
		goto nomem;
	if (display != NULL && !route_name_typeable(display) &&
	    (rp->rp_alias = route_make_alias(display)) == NULL &&
	    errno == ENOMEM)
		goto nomem;
	rp->rp_index = podmeta_pod_index(pod->name);

	if ((r = podmeta_rules(pod, services, nservices, naming, node_address,
	    node_arg, rp)) != JG_OK) {
		route_pod_unref(rp);
		return r;
	}
	*out = rp;
	return JG_OK;
 nomem:
	route_pod_unref(rp);
	return JG_ERR_NOMEM;
}
