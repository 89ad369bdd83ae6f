/*
 * test_source_static.c: the static route file: the shapes it accepts, the
 * file:line of every skipped item and malformed annotation, that good
 * pods still route beside bad ones, and that the shipped demo file loads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "source_static.h"

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

struct tmp {
	char	dir[64];
	char	path[128];
};

static const char *
data_path(char *buf, size_t len, const char *rel)
{
	const char *d = getenv("JG_TEST_DATA");

	assert_non_null(d);
	snprintf(buf, len, "%s/%s", d, rel);
	return buf;
}

static int
tmp_setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	snprintf(t->dir, sizeof(t->dir), "/tmp/jg-static-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/routes.yaml", t->dir);
	*state = t;
	return 0;
}

static int
tmp_teardown(void **state)
{
	struct tmp *t = *state;

	unlink(t->path);
	rmdir(t->dir);
	free(t);
	return 0;
}

static const char *
tmp_write(struct tmp *t, const char *text)
{
	FILE *fp = fopen(t->path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	return t->path;
}

static enum jg_err
lookup(const struct route_snapshot *snap, const char *user, const char *job,
    const char *pod, uint16_t port, struct route_result *res, char *why)
{
	struct route_query q = { user, false, job, pod, port };

	return route_lookup(snap, &q, res, why, ROUTE_WHY_MAX);
}

static void
reports_each_bad_item_by_file_and_line_and_loads_the_rest(void **state)
{
	struct route_snapshot *snap = NULL;
	struct jg_errlist errs;
	char path[512];
	const char *want[] = {
	    ":33: item 2 (jpt-carol-1-default0-0): label volcano.sh/job-name: "
	    "expected a string, got true (quote it)",
	    ":37: item 3: metadata.name is missing",
	    ":39: item 4: expected a Pod or Service mapping, got a scalar",
	    ":41: item 5 (web): kind Deployment ignored (expected Pod or "
	    "Service)",
	    ":105: item 9 (np-bob-bad00): spec.ports[0].port: expected an "
	    "integer 1..65535, got \"22\"",
	    ":116: item 10 (jpt-dave-1-default0-0): containerPort: expected an "
	    "integer 1..65535, got \"22\"",
	    ":23: item 1 (jpt-alice-251110-ab12c-default0-0): annotation "
	    "nodeport.crater.raids.io/telnet: nodePort: expected an integer "
	    "1..65535, got \"32226\"",
	    /* Pending and unscheduled: the Service has nowhere to point. */
	    ":63: item 7 (pt-bob-251111-00002-master-0): service "
	    "crater-workspace/np-bob-4f2a1 port 22: no address for the pod's "
	    "node (no hostIP)",
	    ":118: item 11 (orphan-0): no label crater.raids.io/task-user, so "
	    "no user owns the pod; skipped",
	    ":133: item 12 (jpt-erin-1-default0-0): annotation "
	    "crater.raids.io/ssh-enabled: expected \"<ip>:<nodePort>\", got "
	    "\"nonsense\"",
	};
	char line[JG_ERRLIST_MSG_MAX + 600];
	size_t i;

	jg_errlist_init(&errs);
	data_path(path, sizeof(path), "routes/mixed.yaml");
	assert_int_equal(source_static_load(path, &naming, &snap, &errs),
	    JG_OK);
	assert_non_null(snap);
	for (i = 0; i < errs.el_count && i < JG_ERRLIST_MAX; i++)
		printf("  problem: %s\n", errs.el_msg[i]);
	assert_int_equal(errs.el_count, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		snprintf(line, sizeof(line), "%s%s", path, want[i]);
		assert_string_equal(errs.el_msg[i], line);
	}
	/* alice, bob's two pods and erin; carol, dave and orphan skipped. */
	assert_int_equal(route_snapshot_count(snap), 4);
	route_snapshot_release(snap);
}

static void
routes_the_good_pods_of_a_file_with_bad_ones(void **state)
{
	struct route_snapshot *snap = NULL;
	struct route_result res;
	struct jg_errlist errs;
	char path[512], why[ROUTE_WHY_MAX];

	jg_errlist_init(&errs);
	data_path(path, sizeof(path), "routes/mixed.yaml");
	assert_int_equal(source_static_load(path, &naming, &snap, &errs),
	    JG_OK);
	assert_int_equal(lookup(snap, "alice", "myjob", NULL, 0, &res, why),
	    JG_OK);
	assert_string_equal(res.rs_rule->rr_address, "192.168.5.82");
	assert_int_equal(res.rs_rule->rr_node_port, 32513);
	assert_string_equal(res.rs_pod->rp_version, "1001");
	assert_int_equal(lookup(snap, "alice", "alice-251110-ab12c", NULL, 25,
	    &res, why), JG_OK);
	assert_int_equal(res.rs_rule->rr_node_port, 30631);
	/* The malformed telnet record explains the missing port 23. */
	assert_int_equal(lookup(snap, "alice", "myjob", NULL, 23, &res, why),
	    JG_ERR_MALFORMED);
	assert_non_null(strstr(why, "has no usable rule for port 23: "
	    "annotation nodeport.crater.raids.io/telnet: nodePort: expected "
	    "an integer 1..65535, got \"32226\""));

	/* bob's job: via the Service's named targetPort, default pod first. */
	assert_int_equal(lookup(snap, "bob", "pt-bob-251111-00002", NULL, 0,
	    &res, why), JG_ERR_NOT_RUNNING);
	assert_string_equal(why, "job 'pt-bob-251111-00002' pod 'master-0' "
	    "of bob is not running (phase Pending)");
	assert_int_equal(lookup(snap, "bob", "pt-bob-251111-00002",
	    "worker-0", 0, &res, why), JG_OK);
	assert_string_equal(res.rs_rule->rr_name, "ssh");
	assert_int_equal(res.rs_rule->rr_origin, ROUTE_ORIGIN_SERVICE);
	assert_int_equal(res.rs_rule->rr_node_port, 31022);
	assert_string_equal(res.rs_rule->rr_address, "192.168.5.90");

	assert_int_equal(lookup(snap, "erin", "jpt-erin-1", NULL, 0, &res,
	    why), JG_ERR_MALFORMED);
	assert_int_equal(lookup(snap, "carol", "jpt-carol-1", NULL, 0, &res,
	    why), JG_ERR_NOT_FOUND);
	route_snapshot_release(snap);
}

static void
loads_the_shipped_demo_route_file_cleanly(void **state)
{
	struct route_snapshot *snap = NULL;
	struct route_result res;
	struct jg_errlist errs;
	char path[512], why[ROUTE_WHY_MAX];

	jg_errlist_init(&errs);
	data_path(path, sizeof(path), "../../config/routes.yaml");
	assert_int_equal(source_static_load(path, &naming, &snap, &errs),
	    JG_OK);
	assert_int_equal(errs.el_count, 0);
	assert_int_equal(route_snapshot_count(snap), 1);
	assert_int_equal(lookup(snap, "demo", "demojob", NULL, 0, &res, why),
	    JG_OK);
	assert_string_equal(res.rs_pod->rp_name,
	    "jpt-demo-251121-0a1b2-default0-0");
	assert_string_equal(res.rs_rule->rr_address, "127.0.0.2");
	assert_int_equal(res.rs_rule->rr_node_port, 32022);
	assert_int_equal(lookup(snap, "demo", "demo-251121-0a1b2", NULL, 0,
	    &res, why), JG_OK);
	route_snapshot_release(snap);
}

static void
accepts_a_bare_sequence_and_an_empty_file(void **state)
{
	struct tmp *t = *state;
	struct route_snapshot *snap = NULL;
	struct route_result res;
	struct jg_errlist errs;
	char why[ROUTE_WHY_MAX];

	jg_errlist_init(&errs);
	tmp_write(t, "- metadata:\n"
	    "    name: j-0\n"
	    "    labels: {crater.raids.io/task-user: zoe}\n"
	    "    annotations:\n"
	    "      crater.raids.io/ssh-enabled: \"[fd00::7]:30007\"\n"
	    "  status: {phase: Running}\n");
	assert_int_equal(source_static_load(t->path, &naming, &snap, &errs),
	    JG_OK);
	assert_int_equal(errs.el_count, 0);
	/* No job label and no task: the job is the pod name. */
	assert_int_equal(lookup(snap, "zoe", "j-0", NULL, 0, &res, why),
	    JG_OK);
	assert_string_equal(res.rs_pod->rp_namespace, "default");
	assert_string_equal(res.rs_rule->rr_address, "fd00::7");
	route_snapshot_release(snap);

	tmp_write(t, "# nothing routed yet\n");
	assert_int_equal(source_static_load(t->path, &naming, &snap, &errs),
	    JG_OK);
	assert_int_equal(route_snapshot_count(snap), 0);
	assert_int_equal(errs.el_count, 0);
	route_snapshot_release(snap);
}

static void
refuses_a_file_that_is_not_a_list_of_objects(void **state)
{
	struct tmp *t = *state;
	struct route_snapshot *snap = (struct route_snapshot *)1;
	struct jg_errlist errs;
	char want[256];

	jg_errlist_init(&errs);
	tmp_write(t, "\n\njust text\n");
	assert_int_equal(source_static_load(t->path, &naming, &snap, &errs),
	    JG_ERR_PARSE);
	assert_null(snap);
	assert_int_equal(errs.el_count, 1);
	snprintf(want, sizeof(want), "%s:3: expected a List with items:, or "
	    "a sequence of Pods and Services, got a scalar", t->path);
	assert_string_equal(errs.el_msg[0], want);

	jg_errlist_init(&errs);
	tmp_write(t, "kind: List\nitems: {a: 1}\n");
	assert_int_equal(source_static_load(t->path, &naming, &snap, &errs),
	    JG_ERR_PARSE);

	jg_errlist_init(&errs);
	tmp_write(t, "items:\n  - [unclosed\n");
	assert_int_equal(source_static_load(t->path, &naming, &snap, &errs),
	    JG_ERR_PARSE);
	assert_int_equal(errs.el_count, 1);
	assert_int_equal(strncmp(errs.el_msg[0], t->path, strlen(t->path)),
	    0);
}

static void
reports_an_unreadable_file_as_io(void **state)
{
	struct tmp *t = *state;
	struct route_snapshot *snap = (struct route_snapshot *)1;
	struct jg_errlist errs;

	jg_errlist_init(&errs);
	unlink(t->path);
	assert_int_equal(source_static_load(t->path, &naming, &snap, &errs),
	    JG_ERR_IO);
	assert_null(snap);
	assert_int_equal(errs.el_count, 1);
	assert_non_null(strstr(errs.el_msg[0], "routes.yaml: cannot read"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    reports_each_bad_item_by_file_and_line_and_loads_the_rest),
		cmocka_unit_test(routes_the_good_pods_of_a_file_with_bad_ones),
		cmocka_unit_test(loads_the_shipped_demo_route_file_cleanly),
		cmocka_unit_test_setup_teardown(
		    accepts_a_bare_sequence_and_an_empty_file,
		    tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(
		    refuses_a_file_that_is_not_a_list_of_objects,
		    tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(
		    reports_an_unreadable_file_as_io, tmp_setup, tmp_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
