/*
 * test_selfservice.c: the gateway's own answers (job table, TSV, JSON,
 * ssh-config, help) built from a route snapshot, the command splitter,
 * and typeable aliases of display names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include <cJSON.h>

#include "route.h"
#include "selfservice.h"

static struct route_pod *
mkpod(const char *owner, const char *job, const char *display,
    const char *phase, int with_ssh)
{
	struct route_pod *p = route_pod_new();
	struct route_rule r;
	char name[256];

	assert_non_null(p);
	snprintf(name, sizeof(name), "%s-default0-0", job);
	p->rp_namespace = strdup("crater-workspace");
	p->rp_name = strdup(name);
	p->rp_owner = strdup(owner);
	p->rp_job = strdup(job);
	p->rp_display = display != NULL ? strdup(display) : NULL;
	if (display != NULL && !route_name_typeable(display))
		p->rp_alias = route_make_alias(display);
	p->rp_task = strdup("default0");
	p->rp_index = 0;
	p->rp_phase = strdup(phase);
	memset(&r, 0, sizeof(r));
	snprintf(r.rr_name, sizeof(r.rr_name), with_ssh ? "ssh" : "smtp");
	r.rr_container_port = with_ssh ? 22 : 25;
	snprintf(r.rr_address, sizeof(r.rr_address), "192.168.5.82");
	r.rr_node_port = 32513;
	assert_int_equal(route_pod_add_rule(p, &r), JG_OK);
	return p;
}

static struct route_snapshot *
mksnap(void)
{
	struct route_pod *pods[4];
	struct route_snapshot *snap;
	size_t i;

	pods[0] = mkpod("alice", "jpt-alice-1", "myjob", "Running", 1);
	pods[1] = mkpod("alice", "jpt-alice-2", "my job!", "Running", 1);
	pods[2] = mkpod("alice", "jpt-alice-3", "waiting", "Pending", 1);
	pods[3] = mkpod("bob", "jpt-bob-1", "bobjob", "Running", 1);
	snap = route_snapshot_new(pods, 4, 0);
	assert_non_null(snap);
	for (i = 0; i < 4; i++)
		route_pod_unref(pods[i]);
	return snap;
}

static void
answer(struct route_snapshot *snap, const char *cmd,
    struct selfservice_reply *rep)
{
	struct selfservice_request req;

	memset(&req, 0, sizeof(req));
	req.sq_user = "alice";
	req.sq_command = cmd;
	req.sq_gw_host = "gw.example.org";
	req.sq_gw_port = 2222;
	req.sq_pod_user = "alice";
	req.sq_snap = snap;
	assert_int_equal(selfservice_answer(&req, rep), JG_OK);
}

static void
splits_words_with_quotes_and_escapes(void **state)
{
	char buf[256], *argv[8];

	assert_int_equal(selfservice_split("ssh-config --jump 'my job' \"a b\"",
	    buf, sizeof(buf), argv, 8), 4);
	assert_string_equal(argv[2], "my job");
	assert_string_equal(argv[3], "a b");
	assert_int_equal(selfservice_split("a\\ b", buf, sizeof(buf), argv, 8),
	    1);
	assert_string_equal(argv[0], "a b");
	assert_int_equal(selfservice_split("  ", buf, sizeof(buf), argv, 8), 0);
}

static void
refuses_an_unbalanced_quote_and_too_many_words(void **state)
{
	char buf[256], *argv[2];

	assert_int_equal(selfservice_split("jobs 'x", buf, sizeof(buf), argv,
	    2), -1);
	assert_int_equal(selfservice_split("a b c", buf, sizeof(buf), argv, 2),
	    -1);
}

static void
makes_typeable_aliases_only_for_ascii_display_names(void **state)
{
	char *a;

	a = route_make_alias("My Training Job #2");
	assert_string_equal(a, "my-training-job-2");
	free(a);
	a = route_make_alias("  --x--  ");
	assert_string_equal(a, "x");
	free(a);
	assert_null(route_make_alias("训练 v2"));
	assert_int_equal(errno, 0);
	assert_null(route_make_alias("!!!"));
	assert_true(route_name_typeable("jpt-alice-251110-ab12c"));
	assert_false(route_name_typeable("my job"));
	assert_false(route_name_typeable("-x"));
}

static void
the_table_lists_only_the_users_jobs_with_commands(void **state)
{
	struct route_snapshot *snap = mksnap();
	struct selfservice_reply rep;

	answer(snap, NULL, &rep);
	assert_int_equal(rep.sr_status, 0);
	assert_non_null(strstr(rep.sr_out, "jpt-alice-1"));
	assert_non_null(strstr(rep.sr_out, "my-job"));
	assert_null(strstr(rep.sr_out, "bobjob"));
	assert_non_null(strstr(rep.sr_out,
	    "ssh -J alice@gw.example.org:2222 alice@myjob"));
	assert_non_null(strstr(rep.sr_out,
	    "ssh -p 2222 alice+myjob@gw.example.org"));
	selfservice_reply_free(&rep);
	route_snapshot_release(snap);
}

static void
jobs_json_parses_and_marks_ssh_reachability(void **state)
{
	struct route_snapshot *snap = mksnap();
	struct selfservice_reply rep;
	cJSON *root, *jobs, *j;
	int n = 0, reachable = 0;

	answer(snap, "jobs --json", &rep);
	root = cJSON_Parse(rep.sr_out);
	assert_non_null(root);
	jobs = cJSON_GetObjectItem(root, "jobs");
	cJSON_ArrayForEach(j, jobs) {
		n++;
		if (cJSON_IsTrue(cJSON_GetObjectItem(j, "ssh")))
			reachable++;
	}
	assert_int_equal(n, 3);
	assert_int_equal(reachable, 2);
	cJSON_Delete(root);
	selfservice_reply_free(&rep);
	route_snapshot_release(snap);
}

static void
ssh_config_writes_entries_for_running_jobs_only(void **state)
{
	struct route_snapshot *snap = mksnap();
	struct selfservice_reply rep;

	answer(snap, "ssh-config", &rep);
	assert_int_equal(rep.sr_status, 0);
	assert_non_null(strstr(rep.sr_out, "Host jumpgate\n  HostName "
	    "gw.example.org\n  Port 2222\n  User alice\n"));
	assert_non_null(strstr(rep.sr_out, "Host myjob\n  HostName "
	    "jpt-alice-1\n  User alice\n  ProxyJump jumpgate\n"));
	assert_non_null(strstr(rep.sr_out, "Host my-job\n"));
	assert_null(strstr(rep.sr_out, "Host waiting"));
	selfservice_reply_free(&rep);

	answer(snap, "ssh-config --direct myjob", &rep);
	assert_non_null(strstr(rep.sr_out, "Host myjob\n  HostName "
	    "gw.example.org\n  Port 2222\n  User alice+jpt-alice-1\n"));
	assert_null(strstr(rep.sr_out, "Host jumpgate"));
	selfservice_reply_free(&rep);

	answer(snap, "ssh-config --sideways", &rep);
	assert_int_equal(rep.sr_status, 2);
	assert_non_null(strstr(rep.sr_err, "unknown option '--sideways'"));
	selfservice_reply_free(&rep);
	route_snapshot_release(snap);
}

static void
an_unknown_command_exits_2_with_help_on_stderr(void **state)
{
	struct route_snapshot *snap = mksnap();
	struct selfservice_reply rep;

	answer(snap, "rm -rf /", &rep);
	assert_int_equal(rep.sr_status, 2);
	assert_string_equal(rep.sr_out, "");
	assert_non_null(strstr(rep.sr_err, "unknown command 'rm -rf /'"));
	assert_non_null(strstr(rep.sr_err, "ssh-config"));
	selfservice_reply_free(&rep);
	route_snapshot_release(snap);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(splits_words_with_quotes_and_escapes),
		cmocka_unit_test(refuses_an_unbalanced_quote_and_too_many_words),
		cmocka_unit_test(
		    makes_typeable_aliases_only_for_ascii_display_names),
		cmocka_unit_test(
		    the_table_lists_only_the_users_jobs_with_commands),
		cmocka_unit_test(jobs_json_parses_and_marks_ssh_reachability),
		cmocka_unit_test(ssh_config_writes_entries_for_running_jobs_only),
		cmocka_unit_test(an_unknown_command_exits_2_with_help_on_stderr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
