/*
 * test_podmeta_json.c: Pods, Services and Nodes from the API server's JSON
 * into podmeta structs: every field routing reads, the defaults, the
 * refusals with the field's path, node addresses, and a Service-only job
 * resolved through podmeta_resolve() as current Crater records it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podmeta_json.h"

static struct config_naming naming = {
	.annotation_prefix = "nodeport.crater.raids.io/",
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

/* The reconstructed example of crater-cluster-facts.md, as JSON. */
static const char crater_pod[] = "{"
    "\"metadata\":{\"name\":\"jpt-alice-251110-ab12c-default0-0\","
    "\"namespace\":\"crater-workspace\",\"resourceVersion\":\"4711\","
    "\"labels\":{\"crater.raids.io/task-user\":\"alice\","
    "\"crater.raids.io/task-type\":\"jupyter\","
    "\"crater.raids.io/base-url\":\"alice-251110-ab12c\","
    "\"volcano.sh/job-name\":\"jpt-alice-251110-ab12c\","
    "\"volcano.sh/task-spec\":\"default0\"},"
    "\"annotations\":{\"crater.raids.io/task-name\":\"\xe8\xae\xad\xe7\xbb\x83\","
    "\"crater.raids.io/user\":\"alice\","
    "\"nodeport.crater.raids.io/ssh\":\"{\\\"name\\\":\\\"ssh\\\","
    "\\\"containerPort\\\":22,\\\"address\\\":\\\"192.168.5.82\\\","
    "\\\"nodePort\\\":32513}\"}},"
    "\"spec\":{\"nodeName\":\"node-7\",\"containers\":["
    "{\"name\":\"main\",\"ports\":[{\"name\":\"ssh\",\"containerPort\":22},"
    "{\"containerPort\":8888,\"protocol\":\"TCP\"}]},"
    "{\"name\":\"sidecar\"}]},"
    "\"status\":{\"phase\":\"Running\",\"hostIP\":\"192.168.5.82\","
    "\"podIP\":\"10.0.0.9\"}}";

static cJSON *
parse(const char *text)
{
	cJSON *root = cJSON_Parse(text);

	assert_non_null(root);
	return root;
}

static void
converts_the_crater_example_pod(void **state)
{
	struct podmeta_pod *pod;
	cJSON *obj;
	char err[256];

	(void)state;
	obj = parse(crater_pod);
	assert_int_equal(podmeta_json_pod(obj, &pod, err, sizeof(err)), JG_OK);
	assert_string_equal(pod->namespace, "crater-workspace");
	assert_string_equal(pod->name, "jpt-alice-251110-ab12c-default0-0");
	assert_string_equal(pod->resource_version, "4711");
	assert_int_equal(pod->nlabels, 5);
	assert_string_equal(podmeta_get(pod->labels, pod->nlabels,
	    "crater.raids.io/task-user"), "alice");
	assert_int_equal(pod->nannotations, 3);
	assert_string_equal(podmeta_get(pod->annotations, pod->nannotations,
	    "crater.raids.io/task-name"), "\xe8\xae\xad\xe7\xbb\x83");
	assert_string_equal(pod->phase, "Running");
	assert_string_equal(pod->host_ip, "192.168.5.82");
	assert_string_equal(pod->node_name, "node-7");
	assert_int_equal(pod->nports, 2);
	assert_string_equal(pod->ports[0].name, "ssh");
	assert_int_equal(pod->ports[0].port, 22);
	assert_null(pod->ports[1].name);
	assert_int_equal(pod->ports[1].port, 8888);
	podmeta_pod_free(pod);
	cJSON_Delete(obj);
}

static void
a_minimal_pod_gets_the_defaults(void **state)
{
	struct podmeta_pod *pod;
	cJSON *obj;
	char err[256];

	(void)state;
	obj = parse("{\"metadata\":{\"name\":\"p\",\"labels\":null}}");
	assert_int_equal(podmeta_json_pod(obj, &pod, err, sizeof(err)), JG_OK);
	assert_string_equal(pod->namespace, "default");
	assert_null(pod->resource_version);
	assert_null(pod->phase);
	assert_null(pod->host_ip);
	assert_int_equal(pod->nlabels, 0);
	assert_int_equal(pod->nports, 0);
	podmeta_pod_free(pod);
	cJSON_Delete(obj);
}

static void
refuses(const char *text, bool service, const char *want)
{
	struct podmeta_service *svc = NULL;
	struct podmeta_pod *pod = NULL;
	cJSON *obj;
	char err[256];
	enum jg_err r;

	obj = parse(text);
	err[0] = '\0';
	r = service ? podmeta_json_service(obj, &svc, err, sizeof(err)) :
	    podmeta_json_pod(obj, &pod, err, sizeof(err));
	if (r != JG_ERR_PARSE || strstr(err, want) == NULL)
		fail_msg("%s: got %d '%s', want '%s'", text, r, err, want);
	assert_null(pod);
	assert_null(svc);
	cJSON_Delete(obj);
}

static void
refuses_wrong_types_naming_the_field(void **state)
{
	(void)state;
	refuses("{\"metadata\":{}}", false, "metadata.name is missing");
	refuses("{\"metadata\":{\"name\":\"\"}}", false,
	    "metadata.name is empty");
	refuses("{}", false, "metadata is missing");
	refuses("{\"metadata\":[]}", false,
	    "metadata: expected an object, got an array");
	refuses("{\"metadata\":{\"name\":\"p\",\"labels\":{\"a\":1}}}", false,
	    "metadata.labels a: expected a string, got 1");
	refuses("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":"
	    "[{\"ports\":[{\"containerPort\":22},{\"containerPort\":\"ssh\"}]}]}}",
	    false, "spec.containers[0].ports[1].containerPort: expected an "
	    "integer 1..65535, got \"ssh\"");
	refuses("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":"
	    "[{\"ports\":[{\"containerPort\":70000}]}]}}", false,
	    "got 70000");
	refuses("{\"metadata\":{\"name\":\"p\"},\"status\":{\"phase\":3}}",
	    false, "status.phase: expected a string, got 3");
	refuses("{\"metadata\":{\"name\":\"s\"}}", true, "spec is missing");
	refuses("{\"metadata\":{\"name\":\"s\"},\"spec\":{\"ports\":"
	    "[{\"port\":22,\"nodePort\":-1}]}}", true,
	    "spec.ports[0].nodePort: expected an integer 0..65535, got -1");
	refuses("{\"metadata\":{\"name\":\"s\"},\"spec\":{\"ports\":"
	    "[{\"port\":22,\"targetPort\":true}]}}", true,
	    "spec.ports[0].targetPort: expected an integer or a port name");
}

static const char np_service[] = "{"
    "\"metadata\":{\"name\":\"np-alice-1a2b3\",\"namespace\":"
    "\"crater-workspace\",\"resourceVersion\":\"99\","
    "\"labels\":{\"crater.raids.io/task-user\":\"alice\"},"
    "\"annotations\":{\"crater.raids.io/port-name\":\"ssh\"}},"
    "\"spec\":{\"type\":\"NodePort\",\"selector\":"
    "{\"volcano.sh/job-name\":\"jpt-alice-251110-ab12c\"},"
    "\"ports\":[{\"name\":\"p22\",\"port\":22,\"targetPort\":22,"
    "\"nodePort\":31022,\"protocol\":\"TCP\"},"
    "{\"port\":8888,\"targetPort\":\"web\"},{\"port\":9000}]}}";

static void
converts_a_nodeport_service(void **state)
{
	struct podmeta_service *svc;
	cJSON *obj;
	char err[256];

	(void)state;
	obj = parse(np_service);
	assert_int_equal(podmeta_json_service(obj, &svc, err, sizeof(err)),
	    JG_OK);
	assert_string_equal(svc->name, "np-alice-1a2b3");
	assert_string_equal(svc->namespace, "crater-workspace");
	assert_string_equal(svc->type, "NodePort");
	assert_int_equal(svc->nselector, 1);
	assert_string_equal(svc->selector[0].key, "volcano.sh/job-name");
	assert_int_equal(svc->nannotations, 1);
	assert_int_equal(svc->nports, 3);
	assert_int_equal(svc->ports[0].port, 22);
	assert_int_equal(svc->ports[0].target_port, 22);
	assert_int_equal(svc->ports[0].node_port, 31022);
	assert_string_equal(svc->ports[0].name, "p22");
	assert_int_equal(svc->ports[1].target_port, 0);
	assert_string_equal(svc->ports[1].target_port_name, "web");
	assert_int_equal(svc->ports[1].node_port, 0);
	assert_int_equal(svc->ports[2].target_port, 0);
	assert_null(svc->ports[2].target_port_name);
	podmeta_service_free(svc);
	cJSON_Delete(obj);

	obj = parse("{\"metadata\":{\"name\":\"s\"},\"spec\":{}}");
	assert_int_equal(podmeta_json_service(obj, &svc, err, sizeof(err)),
	    JG_OK);
	assert_string_equal(svc->type, "ClusterIP");
	assert_string_equal(svc->namespace, "default");
	podmeta_service_free(svc);
	cJSON_Delete(obj);
}

static void
a_service_only_job_routes_to_the_pods_host(void **state)
{
	static const char pod_text[] = "{"
	    "\"metadata\":{\"name\":\"jpt-alice-251110-ab12c-default0-0\","
	    "\"namespace\":\"crater-workspace\",\"labels\":{"
	    "\"crater.raids.io/task-user\":\"alice\","
	    "\"volcano.sh/job-name\":\"jpt-alice-251110-ab12c\"}},"
	    "\"spec\":{\"containers\":[{\"ports\":[{\"containerPort\":22}]}]},"
	    "\"status\":{\"phase\":\"Running\",\"hostIP\":\"192.168.5.82\"}}";
	struct podmeta_service *svc;
	struct podmeta_pod *pod;
	struct route_pod *rp;
	const struct podmeta_service *svcs[1];
	cJSON *po, *so;
	char err[256];

	(void)state;
	po = parse(pod_text);
	so = parse(np_service);
	assert_int_equal(podmeta_json_pod(po, &pod, err, sizeof(err)), JG_OK);
	assert_int_equal(podmeta_json_service(so, &svc, err, sizeof(err)),
	    JG_OK);
	svcs[0] = svc;
	assert_int_equal(podmeta_resolve(pod, svcs, 1, &naming, NULL, NULL,
	    &rp), JG_OK);
	assert_int_equal(rp->rp_nrules, 1);
	assert_string_equal(rp->rp_rules[0].rr_name, "ssh");
	assert_string_equal(rp->rp_rules[0].rr_address, "192.168.5.82");
	assert_int_equal(rp->rp_rules[0].rr_node_port, 31022);
	assert_int_equal(rp->rp_rules[0].rr_container_port, 22);
	assert_int_equal(rp->rp_rules[0].rr_origin, ROUTE_ORIGIN_SERVICE);
	route_pod_unref(rp);
	podmeta_pod_free(pod);
	podmeta_service_free(svc);
	cJSON_Delete(po);
	cJSON_Delete(so);
}

static void
a_node_prefers_its_external_ip(void **state)
{
	struct podmeta_node *node;
	cJSON *obj;
	char err[256];

	(void)state;
	obj = parse("{\"metadata\":{\"name\":\"n1\",\"resourceVersion\":\"5\"},"
	    "\"status\":{\"addresses\":[{\"type\":\"Hostname\",\"address\":"
	    "\"n1\"},{\"type\":\"InternalIP\",\"address\":\"10.0.0.1\"},"
	    "{\"type\":\"ExternalIP\",\"address\":\"203.0.113.7\"}]}}");
	assert_int_equal(podmeta_json_node(obj, &node, err, sizeof(err)),
	    JG_OK);
	assert_string_equal(node->name, "n1");
	assert_string_equal(node->address, "203.0.113.7");
	assert_string_equal(node->resource_version, "5");
	podmeta_node_free(node);
	cJSON_Delete(obj);

	obj = parse("{\"metadata\":{\"name\":\"n2\"},\"status\":{\"addresses\":"
	    "[{\"type\":\"InternalIP\",\"address\":\"10.0.0.2\"},"
	    "{\"type\":\"InternalIP\",\"address\":\"10.0.0.3\"}]}}");
	assert_int_equal(podmeta_json_node(obj, &node, err, sizeof(err)),
	    JG_OK);
	assert_string_equal(node->address, "10.0.0.2");
	podmeta_node_free(node);
	cJSON_Delete(obj);

	obj = parse("{\"metadata\":{\"name\":\"n3\"}}");
	assert_int_equal(podmeta_json_node(obj, &node, err, sizeof(err)),
	    JG_OK);
	assert_null(node->address);
	podmeta_node_free(node);
	cJSON_Delete(obj);
	podmeta_node_free(NULL);
}

static void
meta_points_into_the_object(void **state)
{
	const char *ns, *name, *rv;
	cJSON *obj;

	(void)state;
	obj = parse(crater_pod);
	podmeta_json_meta(obj, &ns, &name, &rv);
	assert_string_equal(ns, "crater-workspace");
	assert_string_equal(name, "jpt-alice-251110-ab12c-default0-0");
	assert_string_equal(rv, "4711");
	cJSON_Delete(obj);
	obj = parse("{\"metadata\":{\"name\":7}}");
	podmeta_json_meta(obj, &ns, &name, NULL);
	assert_null(ns);
	assert_null(name);
	cJSON_Delete(obj);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(converts_the_crater_example_pod),
		cmocka_unit_test(a_minimal_pod_gets_the_defaults),
		cmocka_unit_test(refuses_wrong_types_naming_the_field),
		cmocka_unit_test(converts_a_nodeport_service),
		cmocka_unit_test(a_service_only_job_routes_to_the_pods_host),
		cmocka_unit_test(a_node_prefers_its_external_ip),
		cmocka_unit_test(meta_points_into_the_object),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
