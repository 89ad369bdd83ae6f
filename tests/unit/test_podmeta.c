/*
 * test_podmeta.c: the three endpoint records (nodeport annotations,
 * ssh-enabled, NodePort Services), their precedence, the problems a
 * malformed record leaves on the pod, and owner/job/index naming.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "podmeta.h"

#define PREFIX	"nodeport.crater.raids.io/"
/* The annotation values of the seed document, verbatim. */
#define SEED_SMTP	"{\"name\":\"smtp\",\"containerPort\":25," \
	"\"address\":\"192.168.5.82\",\"nodePort\":30631}"
#define SEED_SSH	"{\"name\":\"ssh\",\"containerPort\":22," \
	"\"address\":\"192.168.5.82\",\"nodePort\":32513}"
#define SEED_TELNET	"{\"name\":\"telnet\",\"containerPort\":23," \
	"\"address\":\"192.168.5.82\",\"nodePort\":32226}"

static struct config_naming naming = {
	.annotation_prefix = PREFIX,
	.ssh_enabled_annotation = "crater.raids.io/ssh-enabled",
	.owner_label = "crater.raids.io/task-user",
	.job_label = "volcano.sh/job-name",
	.display_name_annotation = "crater.raids.io/task-name",
	.base_url_label = "crater.raids.io/base-url",
	.task_label = "volcano.sh/task-spec",
	.precedence = { CONFIG_ENDPOINT_SERVICE, CONFIG_ENDPOINT_ANNOTATION,
	    CONFIG_ENDPOINT_SSH_ENABLED },
	.nprecedence = 3,
};

static char *
xdup(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	return d;
}

static void
kv_add(struct podmeta_kv **kv, size_t *n, const char *key, const char *value)
{
	struct podmeta_kv *a;

	a = realloc(*kv, (*n + 1) * sizeof(*a));
	assert_non_null(a);
	a[*n].key = xdup(key);
	a[*n].value = xdup(value);
	*kv = a;
	(*n)++;
}

/* alice's single-pod job from the facts file, without any endpoint. */
static struct podmeta_pod *
new_pod(const char *name)
{
	struct podmeta_pod *pod;

	pod = calloc(1, sizeof(*pod));
	assert_non_null(pod);
	pod->namespace = xdup("crater-workspace");
	pod->name = xdup(name);
	pod->phase = xdup("Running");
	pod->host_ip = xdup("192.168.5.82");
	pod->node_name = xdup("node-a");
	kv_add(&pod->labels, &pod->nlabels, "crater.raids.io/task-user",
	    "alice");
	kv_add(&pod->labels, &pod->nlabels, "volcano.sh/job-name",
	    "jpt-alice-251110-ab12c");
	kv_add(&pod->labels, &pod->nlabels, "crater.raids.io/base-url",
	    "alice-251110-ab12c");
	kv_add(&pod->labels, &pod->nlabels, "volcano.sh/task-spec",
	    "default0");
	kv_add(&pod->annotations, &pod->nannotations,
	    "crater.raids.io/task-name", "myjob");
	return pod;
}

static void
pod_port(struct podmeta_pod *pod, const char *name, uint16_t port)
{
	struct podmeta_port *a;

	a = realloc(pod->ports, (pod->nports + 1) * sizeof(*a));
	assert_non_null(a);
	a[pod->nports].name = name != NULL ? xdup(name) : NULL;
	a[pod->nports].port = port;
	pod->ports = a;
	pod->nports++;
}

/* Current Crater's np-<user>-<5 hex> Service for one rule. */
static struct podmeta_service *
new_service(const char *port_name_annotation)
{
	struct podmeta_service *svc;

	svc = calloc(1, sizeof(*svc));
	assert_non_null(svc);
	svc->namespace = xdup("crater-workspace");
	svc->name = xdup("np-alice-1a2b3");
	svc->type = xdup("NodePort");
	kv_add(&svc->selector, &svc->nselector, "volcano.sh/job-name",
	    "jpt-alice-251110-ab12c");
	if (port_name_annotation != NULL)
		kv_add(&svc->annotations, &svc->nannotations,
		    "crater.raids.io/port-name", port_name_annotation);
	return svc;
}

static void
svc_port(struct podmeta_service *svc, const char *name, uint16_t target,
    const char *target_name, uint16_t node_port)
{
	struct podmeta_service_port *a;

	a = realloc(svc->ports, (svc->nports + 1) * sizeof(*a));
	assert_non_null(a);
	memset(&a[svc->nports], 0, sizeof(*a));
	a[svc->nports].name = name != NULL ? xdup(name) : NULL;
	a[svc->nports].port = target != 0 ? target : 80;
	a[svc->nports].target_port = target;
	a[svc->nports].target_port_name = target_name != NULL ?
	    xdup(target_name) : NULL;
	a[svc->nports].node_port = node_port;
	svc->ports = a;
	svc->nports++;
}

static struct route_pod *
resolve(const struct podmeta_pod *pod, struct podmeta_service **svcs,
    size_t nsvcs, const struct config_naming *nm)
{
	struct route_pod *rp = NULL;

	assert_int_equal(podmeta_resolve(pod,
	    (const struct podmeta_service *const *)svcs, nsvcs, nm, NULL, NULL,
	    &rp), JG_OK);
	assert_non_null(rp);
	return rp;
}

/* Parses one annotation value and expects a refusal with this text. */
static void
assert_annotation_refused(const char *json, const char *host_ip,
    const char *want)
{
	struct route_rule rule;
	char err[256] = "";

	assert_int_equal(podmeta_parse_nodeport_annotation("ssh", json,
	    host_ip, &rule, err, sizeof(err)), JG_ERR_MALFORMED);
	assert_string_equal(err, want);
}

static void
reads_the_three_annotations_of_the_seed_document(void **state)
{
	struct podmeta_pod *pod = new_pod("jpt-alice-251110-ab12c-default0-0");
	struct route_pod *rp;

	kv_add(&pod->annotations, &pod->nannotations, PREFIX "smtp",
	    SEED_SMTP);
	kv_add(&pod->annotations, &pod->nannotations, PREFIX "ssh", SEED_SSH);
	kv_add(&pod->annotations, &pod->nannotations, PREFIX "telnet",
	    SEED_TELNET);
	rp = resolve(pod, NULL, 0, &naming);
	assert_int_equal(rp->rp_nrules, 3);
	assert_int_equal(rp->rp_nproblems, 0);
	assert_string_equal(rp->rp_rules[0].rr_name, "smtp");
	assert_int_equal(rp->rp_rules[0].rr_container_port, 25);
	assert_int_equal(rp->rp_rules[0].rr_node_port, 30631);
	assert_string_equal(rp->rp_rules[1].rr_name, "ssh");
	assert_int_equal(rp->rp_rules[1].rr_container_port, 22);
	assert_int_equal(rp->rp_rules[1].rr_node_port, 32513);
	assert_string_equal(rp->rp_rules[1].rr_address, "192.168.5.82");
	assert_int_equal(rp->rp_rules[1].rr_origin, ROUTE_ORIGIN_ANNOTATION);
	assert_string_equal(rp->rp_rules[2].rr_name, "telnet");
	assert_int_equal(rp->rp_rules[2].rr_node_port, 32226);
	route_pod_unref(rp);
	podmeta_pod_free(pod);
}

static void
ignores_unknown_keys_and_names_the_rule_by_its_key(void **state)
{
	struct route_rule rule;
	char err[256];

	assert_int_equal(podmeta_parse_nodeport_annotation("shell",
	    "{\"name\":\"ssh\",\"containerPort\":22,\"address\":"
	    "\"192.168.5.82\",\"nodePort\":32513,\"ServiceName\":"
	    "\"np-alice-1a2b3\",\"future\":{\"x\":[1,2]}}", NULL, &rule, err,
	    sizeof(err)), JG_OK);
	assert_string_equal(rule.rr_name, "shell");
	assert_int_equal(rule.rr_container_port, 22);
	assert_int_equal(rule.rr_node_port, 32513);
	/* IPv6 node addresses are fine too. */
	assert_int_equal(podmeta_parse_nodeport_annotation("ssh",
	    "{\"containerPort\":22,\"address\":\"fd00::5:82\","
	    "\"nodePort\":32513}", NULL, &rule, err, sizeof(err)), JG_OK);
	assert_string_equal(rule.rr_address, "fd00::5:82");
}

static void
refuses_json_that_does_not_parse(void **state)
{
	assert_annotation_refused("{\"containerPort\":22,", "192.168.5.82",
	    "not valid JSON (at byte 20)");
	assert_annotation_refused("[22, 32513]", "192.168.5.82",
	    "expected a JSON object, got an array");
	assert_annotation_refused("{\"containerPort\":22,\"nodePort\":1} x",
	    "192.168.5.82", "not valid JSON (at byte 34)");
}

static void
refuses_a_port_written_as_a_string(void **state)
{
	assert_annotation_refused("{\"containerPort\":22,\"address\":"
	    "\"192.168.5.82\",\"nodePort\":\"32513\"}", NULL,
	    "nodePort: expected an integer 1..65535, got \"32513\"");
	assert_annotation_refused("{\"address\":\"192.168.5.82\","
	    "\"nodePort\":32513}", NULL, "containerPort is missing");
}

static void
refuses_ports_outside_1_to_65535(void **state)
{
	assert_annotation_refused("{\"containerPort\":0,\"nodePort\":32513}",
	    "192.168.5.82",
	    "containerPort: expected an integer 1..65535, got 0");
	assert_annotation_refused("{\"containerPort\":22,\"nodePort\":70000}",
	    "192.168.5.82",
	    "nodePort: expected an integer 1..65535, got 70000");
	assert_annotation_refused("{\"containerPort\":22.5,\"nodePort\":1}",
	    "192.168.5.82",
	    "containerPort: expected an integer 1..65535, got 22.5");
	assert_annotation_refused("{\"containerPort\":-22,\"nodePort\":1}",
	    "192.168.5.82",
	    "containerPort: expected an integer 1..65535, got -22");
}

static void
refuses_an_address_that_is_not_an_ip_literal(void **state)
{
	assert_annotation_refused("{\"containerPort\":22,\"address\":"
	    "\"node-a.example\",\"nodePort\":32513}", "192.168.5.82",
	    "address: expected an IPv4 or IPv6 address, got "
	    "\"node-a.example\"");
	assert_annotation_refused("{\"containerPort\":22,\"address\":"
	    "\"192.168.5.82:22\",\"nodePort\":32513}", "192.168.5.82",
	    "address: expected an IPv4 or IPv6 address, got "
	    "\"192.168.5.82:22\"");
	assert_annotation_refused("{\"containerPort\":22,\"address\":7,"
	    "\"nodePort\":32513}", "192.168.5.82",
	    "address: expected an IPv4 or IPv6 address, got 7");
}

static void
uses_the_host_ip_when_the_address_is_missing(void **state)
{
	struct route_rule rule;
	char err[256];

	assert_int_equal(podmeta_parse_nodeport_annotation("ssh",
	    "{\"containerPort\":22,\"nodePort\":32513}", "10.1.2.3", &rule,
	    err, sizeof(err)), JG_OK);
	assert_string_equal(rule.rr_address, "10.1.2.3");
	assert_annotation_refused("{\"containerPort\":22,\"nodePort\":32513}",
	    NULL, "address is missing and the pod has no hostIP");
}

static void
keeps_other_rules_when_one_annotation_is_malformed(void **state)
{
	struct podmeta_pod *pod = new_pod("jpt-alice-251110-ab12c-default0-0");
	struct route_pod *rp;

	kv_add(&pod->annotations, &pod->nannotations, PREFIX "ssh",
	    "{\"name\":\"ssh\",\"containerPort\":22,\"address\":"
	    "\"192.168.5.82\",\"nodePort\":\"abc\"}");
	kv_add(&pod->annotations, &pod->nannotations, PREFIX "smtp",
	    SEED_SMTP);
	rp = resolve(pod, NULL, 0, &naming);
	assert_int_equal(rp->rp_nrules, 1);
	assert_string_equal(rp->rp_rules[0].rr_name, "smtp");
	assert_int_equal(rp->rp_nproblems, 1);
	assert_string_equal(rp->rp_problems[0], "annotation "
	    "nodeport.crater.raids.io/ssh: nodePort: expected an integer "
	    "1..65535, got \"abc\"");
	route_pod_unref(rp);
	podmeta_pod_free(pod);
}

static void
reads_the_ssh_enabled_annotation_as_the_ssh_rule(void **state)
{
	struct podmeta_pod *pod = new_pod("jpt-alice-251110-ab12c-default0-0");
	struct route_pod *rp;
	char addr[ROUTE_ADDR_MAX], err[256];
	uint16_t port;

	kv_add(&pod->annotations, &pod->nannotations,
	    "crater.raids.io/ssh-enabled", "192.168.5.83:30022");
	rp = resolve(pod, NULL, 0, &naming);
	assert_int_equal(rp->rp_nrules, 1);
	assert_string_equal(rp->rp_rules[0].rr_name, "ssh");
	assert_int_equal(rp->rp_rules[0].rr_container_port, 22);
	assert_string_equal(rp->rp_rules[0].rr_address, "192.168.5.83");
	assert_int_equal(rp->rp_rules[0].rr_node_port, 30022);
	assert_int_equal(rp->rp_rules[0].rr_origin, ROUTE_ORIGIN_SSH_ENABLED);
	route_pod_unref(rp);
	podmeta_pod_free(pod);

	assert_int_equal(podmeta_parse_host_port("[fd00::1]:30022", addr,
	    sizeof(addr), &port, err, sizeof(err)), JG_OK);
	assert_string_equal(addr, "fd00::1");
	assert_int_equal(port, 30022);
	assert_int_equal(podmeta_parse_host_port("fd00::1:30022", addr,
	    sizeof(addr), &port, err, sizeof(err)), JG_ERR_MALFORMED);
	assert_string_equal(err, "\"fd00::1:30022\": an IPv6 address must be "
	    "written \"[address]:port\"");
	assert_int_equal(podmeta_parse_host_port("192.168.5.82", addr,
	    sizeof(addr), &port, err, sizeof(err)), JG_ERR_MALFORMED);
	assert_string_equal(err, "expected \"<ip>:<nodePort>\", got "
	    "\"192.168.5.82\"");
	assert_int_equal(podmeta_parse_host_port("192.168.5.82:70000", addr,
	    sizeof(addr), &port, err, sizeof(err)), JG_ERR_MALFORMED);
	assert_string_equal(err, "\"192.168.5.82:70000\": port must be an "
	    "integer 1..65535");
	assert_int_equal(podmeta_parse_host_port("node-a:30022", addr,
	    sizeof(addr), &port, err, sizeof(err)), JG_ERR_MALFORMED);
	assert_string_equal(err, "\"node-a:30022\": 'node-a' is not an IPv4 "
	    "address");
}

static void
reads_a_nodeport_service_by_number_and_by_named_target(void **state)
{
	struct podmeta_pod *pod = new_pod("jpt-alice-251110-ab12c-default0-0");
	struct podmeta_service *svcs[2];
	struct route_pod *rp;

	pod_port(pod, "sshd", 22);
	pod_port(pod, "http", 8888);
	svcs[0] = new_service("ssh");
	svc_port(svcs[0], "p0", 22, NULL, 32513);
	svcs[1] = new_service(NULL);
	svc_port(svcs[1], "web", 0, "http", 31888);
	svc_port(svcs[1], NULL, 9000, NULL, 31900);
	svc_port(svcs[1], "unallocated", 9100, NULL, 0);
	rp = resolve(pod, svcs, 2, &naming);
	assert_int_equal(rp->rp_nproblems, 0);
	assert_int_equal(rp->rp_nrules, 3);
	/* The port-name annotation names the rule; then the port's name. */
	assert_string_equal(rp->rp_rules[0].rr_name, "ssh");
	assert_int_equal(rp->rp_rules[0].rr_container_port, 22);
	assert_int_equal(rp->rp_rules[0].rr_node_port, 32513);
	assert_string_equal(rp->rp_rules[0].rr_address, "192.168.5.82");
	assert_int_equal(rp->rp_rules[0].rr_origin, ROUTE_ORIGIN_SERVICE);
	assert_string_equal(rp->rp_rules[1].rr_name, "web");
	assert_int_equal(rp->rp_rules[1].rr_container_port, 8888);
	assert_int_equal(rp->rp_rules[1].rr_node_port, 31888);
	assert_string_equal(rp->rp_rules[2].rr_name, "port-9000");
	route_pod_unref(rp);
	podmeta_service_free(svcs[0]);
	podmeta_service_free(svcs[1]);
	podmeta_pod_free(pod);
}

static void
reports_a_named_target_port_the_pod_lacks(void **state)
{
	struct podmeta_pod *pod = new_pod("jpt-alice-251110-ab12c-default0-0");
	struct podmeta_service *svc = new_service(NULL);
	struct route_pod *rp;

	svc_port(svc, "ssh", 0, "sshd", 32513);
	rp = resolve(pod, &svc, 1, &naming);
	assert_int_equal(rp->rp_nrules, 0);
	assert_int_equal(rp->rp_nproblems, 1);
	assert_string_equal(rp->rp_problems[0], "service "
	    "crater-workspace/np-alice-1a2b3 port 80: targetPort 'sshd' names "
	    "no container port of pod");
	route_pod_unref(rp);
	podmeta_service_free(svc);
	podmeta_pod_free(pod);
}

static void
ignores_services_that_do_not_select_the_pod(void **state)
{
	struct podmeta_pod *pod = new_pod("jpt-alice-251110-ab12c-default0-0");
	struct podmeta_service *svc = new_service(NULL);

	svc_port(svc, "ssh", 22, NULL, 32513);
	assert_true(podmeta_service_selects(svc, pod));
	free(svc->type);
	svc->type = xdup("ClusterIP");
	assert_false(podmeta_service_selects(svc, pod));
	free(svc->type);
	svc->type = xdup("NodePort");
	free(svc->namespace);
	svc->namespace = xdup("team-b");
	assert_false(podmeta_service_selects(svc, pod));
	free(svc->namespace);
	svc->namespace = xdup("crater-workspace");
	kv_add(&svc->selector, &svc->nselector, "volcano.sh/task-spec",
	    "master");
	assert_false(podmeta_service_selects(svc, pod));
	podmeta_service_free(svc);
	/* An empty selector selects nothing. */
	svc = new_service(NULL);
	free(svc->selector[0].key);
	free(svc->selector[0].value);
	svc->nselector = 0;
	assert_false(podmeta_service_selects(svc, pod));
	podmeta_service_free(svc);
	podmeta_pod_free(pod);
}

static const char *
node_address(const char *node, void *arg)
{
	(void)arg;
	return strcmp(node, "node-a") == 0 ? "203.0.113.7" : NULL;
}

static void
asks_for_the_node_address_before_using_the_host_ip(void **state)
{
	struct podmeta_pod *pod = new_pod("jpt-alice-251110-ab12c-default0-0");
	struct podmeta_service *svc = new_service("ssh");
	struct route_pod *rp = NULL;

	svc_port(svc, NULL, 22, NULL, 32513);
	assert_int_equal(podmeta_resolve(pod,
	    (const struct podmeta_service *const *)&svc, 1, &naming,
	    node_address, NULL, &rp), JG_OK);
	assert_string_equal(rp->rp_rules[0].rr_address, "203.0.113.7");
	route_pod_unref(rp);
	/* Unknown node: the pod's hostIP; no hostIP either: a problem. */
	free(pod->node_name);
	pod->node_name = xdup("node-z");
	assert_int_equal(podmeta_resolve(pod,
	    (const struct podmeta_service *const *)&svc, 1, &naming,
	    node_address, NULL, &rp), JG_OK);
	assert_string_equal(rp->rp_rules[0].rr_address, "192.168.5.82");
	route_pod_unref(rp);
	free(pod->host_ip);
	pod->host_ip = NULL;
	rp = resolve(pod, &svc, 1, &naming);
	assert_int_equal(rp->rp_nrules, 0);
	assert_string_equal(rp->rp_problems[0], "service "
	    "crater-workspace/np-alice-1a2b3 port 22: no address for the "
	    "pod's node (no hostIP)");
	route_pod_unref(rp);
	podmeta_service_free(svc);
	podmeta_pod_free(pod);
}

static void
lets_an_earlier_kind_keep_its_container_port(void **state)
{
	struct podmeta_pod *pod = new_pod("jpt-alice-251110-ab12c-default0-0");
	struct podmeta_service *svc = new_service("ssh");
	struct config_naming nm = naming;
	struct route_pod *rp;

	svc_port(svc, NULL, 22, NULL, 30000);
	kv_add(&pod->annotations, &pod->nannotations, PREFIX "ssh", SEED_SSH);
	kv_add(&pod->annotations, &pod->nannotations, PREFIX "smtp",
	    SEED_SMTP);
	kv_add(&pod->annotations, &pod->nannotations,
	    "crater.raids.io/ssh-enabled", "192.168.5.99:31111");

	/* service, annotation, ssh-enabled: the Service's port 22 wins. */
	rp = resolve(pod, &svc, 1, &nm);
	assert_int_equal(rp->rp_nrules, 2);
	assert_int_equal(rp->rp_rules[0].rr_node_port, 30000);
	assert_int_equal(rp->rp_rules[0].rr_origin, ROUTE_ORIGIN_SERVICE);
	assert_string_equal(rp->rp_rules[1].rr_name, "smtp");
	route_pod_unref(rp);

	/* ssh-enabled first: its rule is the only one for port 22. */
	nm.precedence[0] = CONFIG_ENDPOINT_SSH_ENABLED;
	nm.precedence[1] = CONFIG_ENDPOINT_ANNOTATION;
	nm.precedence[2] = CONFIG_ENDPOINT_SERVICE;
	rp = resolve(pod, &svc, 1, &nm);
	assert_int_equal(rp->rp_nrules, 2);
	assert_int_equal(rp->rp_rules[0].rr_node_port, 31111);
	assert_int_equal(rp->rp_rules[0].rr_origin, ROUTE_ORIGIN_SSH_ENABLED);
	assert_int_equal(rp->rp_rules[1].rr_container_port, 25);
	route_pod_unref(rp);

	/* Only annotations: the other kinds are not read at all. */
	nm.precedence[0] = CONFIG_ENDPOINT_ANNOTATION;
	nm.nprecedence = 1;
	rp = resolve(pod, &svc, 1, &nm);
	assert_int_equal(rp->rp_nrules, 2);
	assert_int_equal(rp->rp_rules[0].rr_node_port, 32513);
	route_pod_unref(rp);
	podmeta_service_free(svc);
	podmeta_pod_free(pod);
}

static void
names_the_owner_job_display_base_url_task_and_index(void **state)
{
	struct podmeta_pod *pod = new_pod("pt-alice-251111-00001-worker-12");
	struct route_pod *rp;

	free(pod->labels[3].value);
	pod->labels[3].value = xdup("worker");
	pod->resource_version = xdup("12345");
	rp = resolve(pod, NULL, 0, &naming);
	assert_string_equal(rp->rp_namespace, "crater-workspace");
	assert_string_equal(rp->rp_name, "pt-alice-251111-00001-worker-12");
	assert_string_equal(rp->rp_owner, "alice");
	assert_string_equal(rp->rp_job, "jpt-alice-251110-ab12c");
	assert_string_equal(rp->rp_display, "myjob");
	assert_string_equal(rp->rp_base_url, "alice-251110-ab12c");
	assert_string_equal(rp->rp_task, "worker");
	assert_int_equal(rp->rp_index, 12);
	assert_string_equal(rp->rp_phase, "Running");
	assert_string_equal(rp->rp_host_ip, "192.168.5.82");
	assert_string_equal(rp->rp_version, "12345");
	assert_int_equal(rp->rp_nrules, 0);
	route_pod_unref(rp);

	/* Without a job label, the pod name minus "-worker-12". */
	free(pod->labels[1].key);
	pod->labels[1].key = xdup("other");
	rp = resolve(pod, NULL, 0, &naming);
	assert_string_equal(rp->rp_job, "pt-alice-251111-00001");
	route_pod_unref(rp);
	/* ... and without a task label, the whole pod name. */
	free(pod->labels[3].key);
	pod->labels[3].key = xdup("other2");
	rp = resolve(pod, NULL, 0, &naming);
	assert_string_equal(rp->rp_job, "pt-alice-251111-00001-worker-12");
	assert_null(rp->rp_task);
	route_pod_unref(rp);
	podmeta_pod_free(pod);
}

static void
gives_index_minus_one_to_a_pod_name_without_a_number(void **state)
{
	struct podmeta_pod *pod = new_pod("standalone-pod");
	struct route_pod *rp;

	rp = resolve(pod, NULL, 0, &naming);
	assert_int_equal(rp->rp_index, -1);
	route_pod_unref(rp);
	podmeta_pod_free(pod);
}

static void
does_not_route_a_pod_without_an_owner(void **state)
{
	struct podmeta_pod *pod = new_pod("jpt-alice-251110-ab12c-default0-0");
	struct route_pod *rp = (struct route_pod *)1;

	free(pod->labels[0].value);
	pod->labels[0].value = xdup("");
	assert_int_equal(podmeta_resolve(pod, NULL, 0, &naming, NULL, NULL,
	    &rp), JG_ERR_NOT_FOUND);
	assert_null(rp);
	podmeta_pod_free(pod);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    reads_the_three_annotations_of_the_seed_document),
		cmocka_unit_test(
		    ignores_unknown_keys_and_names_the_rule_by_its_key),
		cmocka_unit_test(refuses_json_that_does_not_parse),
		cmocka_unit_test(refuses_a_port_written_as_a_string),
		cmocka_unit_test(refuses_ports_outside_1_to_65535),
		cmocka_unit_test(refuses_an_address_that_is_not_an_ip_literal),
		cmocka_unit_test(uses_the_host_ip_when_the_address_is_missing),
		cmocka_unit_test(
		    keeps_other_rules_when_one_annotation_is_malformed),
		cmocka_unit_test(
		    reads_the_ssh_enabled_annotation_as_the_ssh_rule),
		cmocka_unit_test(
		    reads_a_nodeport_service_by_number_and_by_named_target),
		cmocka_unit_test(reports_a_named_target_port_the_pod_lacks),
		cmocka_unit_test(ignores_services_that_do_not_select_the_pod),
		cmocka_unit_test(
		    asks_for_the_node_address_before_using_the_host_ip),
		cmocka_unit_test(lets_an_earlier_kind_keep_its_container_port),
		cmocka_unit_test(
		    names_the_owner_job_display_base_url_task_and_index),
		cmocka_unit_test(
		    gives_index_minus_one_to_a_pod_name_without_a_number),
		cmocka_unit_test(does_not_route_a_pod_without_an_owner),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
