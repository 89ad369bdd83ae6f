/*
 * test_route.c: route_lookup's outcomes and the sentences users read for
 * each, pod selection in multi-pod jobs, snapshot reference counts under
 * publish, route_list_jobs, and a lookup-speed print for 10,000 pods.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "route.h"

struct fixture {
	struct route_pod *pods[64];
	size_t		 npods;
	struct route_snapshot *snap;
};

static char *
dup_or_null(const char *s)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	assert_non_null(d);
	return d;
}

/* A pod of job in crater-workspace; name is "<job>-<task>-<index>". */
static struct route_pod *
add_pod(struct fixture *f, const char *owner, const char *job,
    const char *display, const char *task, int index, const char *phase)
{
	struct route_pod *pod;
	char name[512];

	assert_true(f->npods < sizeof(f->pods) / sizeof(f->pods[0]));
	pod = route_pod_new();
	assert_non_null(pod);
	snprintf(name, sizeof(name), "%s-%s-%d", job, task, index);
	pod->rp_namespace = dup_or_null("crater-workspace");
	pod->rp_name = dup_or_null(name);
	pod->rp_owner = dup_or_null(owner);
	pod->rp_job = dup_or_null(job);
	pod->rp_display = dup_or_null(display);
	pod->rp_task = dup_or_null(task);
	pod->rp_index = index;
	pod->rp_phase = dup_or_null(phase);
	pod->rp_host_ip = dup_or_null("192.168.5.82");
	f->pods[f->npods++] = pod;
	return pod;
}

static void
add_rule(struct route_pod *pod, const char *name, uint16_t cport,
    uint16_t nport)
{
	struct route_rule r;

	memset(&r, 0, sizeof(r));
	snprintf(r.rr_name, sizeof(r.rr_name), "%s", name);
	r.rr_container_port = cport;
	snprintf(r.rr_address, sizeof(r.rr_address), "192.168.5.82");
	r.rr_node_port = nport;
	r.rr_origin = ROUTE_ORIGIN_ANNOTATION;
	assert_int_equal(route_pod_add_rule(pod, &r), JG_OK);
}

static void
build(struct fixture *f)
{
	f->snap = route_snapshot_new(f->pods, f->npods, 42);
	assert_non_null(f->snap);
}

static int
setup(void **state)
{
	struct fixture *f;
	struct route_pod *p;

	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	/* alice: a single-pod job, a PyTorch job, two jobs named "train". */
	p = add_pod(f, "alice", "jpt-alice-251110-ab12c", "myjob", "default0",
	    0, "Running");
	p->rp_base_url = dup_or_null("alice-251110-ab12c");
	add_rule(p, "ssh", 22, 32513);
	add_rule(p, "smtp", 25, 30631);
	p = add_pod(f, "alice", "pt-alice-251111-00001", "dist", "worker", 1,
	    "Running");
	add_rule(p, "ssh", 22, 30001);
	p = add_pod(f, "alice", "pt-alice-251111-00001", "dist", "master", 0,
	    "Running");
	add_rule(p, "ssh", 22, 30000);
	p = add_pod(f, "alice", "pt-alice-251111-00001", "dist", "worker", 0,
	    "Pending");
	p = add_pod(f, "alice", "jpt-alice-251112-aaaaa", "train", "default0",
	    0, "Running");
	add_rule(p, "ssh", 22, 30010);
	p = add_pod(f, "alice", "jpt-alice-251113-bbbbb", "train", "default0",
	    0, "Running");
	add_rule(p, "ssh", 22, 30011);
	/* bob has a job with alice's display name: alice must not see it. */
	p = add_pod(f, "bob", "jpt-bob-251110-ccccc", "myjob", "default0", 0,
	    "Running");
	add_rule(p, "ssh", 22, 30020);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	size_t i;

	route_snapshot_release(f->snap);
	for (i = 0; i < f->npods; i++)
		route_pod_unref(f->pods[i]);
	free(f);
	return 0;
}

static enum jg_err
lookup(const struct route_snapshot *snap, const char *user, bool admin,
    const char *job, const char *pod, uint16_t port, struct route_result *res,
    char *why)
{
	struct route_query q = { user, admin, job, pod, port };

	memset(why, 'X', ROUTE_WHY_MAX);
	return route_lookup(snap, &q, res, why, ROUTE_WHY_MAX);
}

static void
finds_a_job_by_internal_display_and_base_url_name(void **state)
{
	struct fixture *f = *state;
	struct route_result res;
	char why[ROUTE_WHY_MAX];
	const char *names[] = { "jpt-alice-251110-ab12c", "myjob",
	    "alice-251110-ab12c" };
	size_t i;

	build(f);
	for (i = 0; i < 3; i++) {
		assert_int_equal(lookup(f->snap, "alice", false, names[i],
		    NULL, 0, &res, why), JG_OK);
		assert_string_equal(res.rs_pod->rp_owner, "alice");
		assert_string_equal(res.rs_rule->rr_name, "ssh");
		assert_int_equal(res.rs_rule->rr_node_port, 32513);
		assert_string_equal(res.rs_rule->rr_address, "192.168.5.82");
	}
	assert_int_equal(lookup(f->snap, "alice", false, "myjob", NULL, 25,
	    &res, why), JG_OK);
	assert_string_equal(res.rs_rule->rr_name, "smtp");
	assert_int_equal(res.rs_rule->rr_node_port, 30631);
}

static void
picks_a_rule_named_ssh_before_container_port_22(void **state)
{
	struct fixture *f = *state;
	struct route_result res;
	char why[ROUTE_WHY_MAX];
	struct route_pod *p;

	p = add_pod(f, "carol", "jpt-carol-1", NULL, "default0", 0, "Running");
	add_rule(p, "shell", 22, 31000);
	add_rule(p, "ssh", 2222, 31001);
	p = add_pod(f, "carol", "jpt-carol-2", NULL, "default0", 0, "Running");
	add_rule(p, "shell", 22, 31002);
	build(f);
	assert_int_equal(lookup(f->snap, "carol", false, "jpt-carol-1", NULL,
	    0, &res, why), JG_OK);
	assert_int_equal(res.rs_rule->rr_node_port, 31001);
	assert_int_equal(lookup(f->snap, "carol", false, "jpt-carol-2", NULL,
	    0, &res, why), JG_OK);
	assert_int_equal(res.rs_rule->rr_node_port, 31002);
}

static void
lists_the_users_jobs_when_a_job_is_not_found(void **state)
{
	struct fixture *f = *state;
	struct route_result res;
	char why[ROUTE_WHY_MAX];

	build(f);
	assert_int_equal(lookup(f->snap, "alice", false, "x", NULL, 0, &res,
	    why), JG_ERR_NOT_FOUND);
	assert_string_equal(why, "job 'x' not found for alice; your jobs: "
	    "jpt-alice-251110-ab12c, jpt-alice-251112-aaaaa, "
	    "jpt-alice-251113-bbbbb, pt-alice-251111-00001");
	assert_null(res.rs_pod);
	assert_int_equal(lookup(f->snap, "dave", false, "x", NULL, 0, &res,
	    why), JG_ERR_NOT_FOUND);
	assert_string_equal(why, "job 'x' not found for dave; dave has no "
	    "jobs");
}

static void
lists_at_most_ten_jobs_then_says_how_many_more(void **state)
{
	struct fixture *f = *state;
	struct route_result res;
	char why[ROUTE_WHY_MAX], job[32];
	int i;

	for (i = 0; i < 12; i++) {
		snprintf(job, sizeof(job), "jpt-erin-%02d", i);
		add_pod(f, "erin", job, NULL, "default0", 0, "Running");
	}
	build(f);
	assert_int_equal(lookup(f->snap, "erin", false, "nope", NULL, 0, &res,
	    why), JG_ERR_NOT_FOUND);
	assert_string_equal(why, "job 'nope' not found for erin; your jobs: "
	    "jpt-erin-00, jpt-erin-01, jpt-erin-02, jpt-erin-03, jpt-erin-04, "
	    "jpt-erin-05, jpt-erin-06, jpt-erin-07, jpt-erin-08, jpt-erin-09, "
	    "and 2 more");
}

static void
does_not_match_another_users_job(void **state)
{
	struct fixture *f = *state;
	struct route_result res;
	char why[ROUTE_WHY_MAX];

	build(f);
	/* bob's "myjob" does not make alice's ambiguous ... */
	assert_int_equal(lookup(f->snap, "alice", false, "myjob", NULL, 0,
	    &res, why), JG_OK);
	assert_string_equal(res.rs_pod->rp_job, "jpt-alice-251110-ab12c");
	/* ... and alice cannot reach bob's job by its internal name. */
	assert_int_equal(lookup(f->snap, "alice", false,
	    "jpt-bob-251110-ccccc", NULL, 0, &res, why), JG_ERR_NOT_FOUND);
	assert_null(res.rs_pod);
}

static void
lists_candidates_when_a_display_name_is_ambiguous(void **state)
{
	struct fixture *f = *state;
	struct route_result res;
	char why[ROUTE_WHY_MAX];

	build(f);
	assert_int_equal(lookup(f->snap, "alice", false, "train", NULL, 0,
	    &res, why), JG_ERR_AMBIGUOUS);
	assert_string_equal(why, "job name 'train' matches 2 jobs of alice: "
	    "jpt-alice-251112-aaaaa (train), jpt-alice-251113-bbbbb (train); "
	    "use the internal name");
	assert_null(res.rs_pod);
	assert_int_equal(lookup(f->snap, "alice", false,
	    "jpt-alice-251113-bbbbb", NULL, 0, &res, why), JG_OK);
	assert_int_equal(res.rs_rule->rr_node_port, 30011);
}

static void
lets_an_admin_reach_any_owner_and_name_owners(void **state)
{
	struct fixture *f = *state;
	struct route_result res;
	char why[ROUTE_WHY_MAX];

	build(f);
	assert_int_equal(lookup(f->snap, "root", true, "jpt-bob-251110-ccccc",
	    NULL, 0, &res, why), JG_OK);
	assert_string_equal(res.rs_pod->rp_owner, "bob");
	assert_int_equal(lookup(f->snap, "root", true, "myjob", NULL, 0, &res,
	    why), JG_ERR_AMBIGUOUS);
	assert_string_equal(why, "job name 'myjob' matches 2 jobs: "
	    "jpt-alice-251110-ab12c (myjob, owner alice), "
	    "jpt-bob-251110-ccccc (myjob, owner bob); use the internal name");
	assert_int_equal(lookup(f->snap, "root", true, "x", NULL, 0, &res,
	    why), JG_ERR_NOT_FOUND);
	assert_non_null(strstr(why, "job 'x' not found in any user's jobs; "
	    "jobs: jpt-alice-251110-ab12c, "));
	/* The failure names the owner, not the admin. */
	assert_int_equal(lookup(f->snap, "root", true, "dist", "worker-0", 0,
	    &res, why), JG_ERR_NOT_RUNNING);
	assert_string_equal(why, "job 'dist' (pt-alice-251111-00001) pod "
	    "'worker-0' of alice is not running (phase Pending)");
}

static void
selects_pods_by_task_index_full_name_or_first(void **state)
{
	struct fixture *f = *state;
	struct route_result res;
	char why[ROUTE_WHY_MAX];

	build(f);
	/* Default: first in (task, index) order, whatever the input order. */
	assert_int_equal(lookup(f->snap, "alice", false,
	    "pt-alice-251111-00001", NULL, 0, &res, why), JG_OK);
	assert_string_equal(res.rs_pod->rp_name,
	    "pt-alice-251111-00001-master-0");
	assert_int_equal(res.rs_rule->rr_node_port, 30000);
	assert_int_equal(lookup(f->snap, "alice", false, "dist", "worker-1",
	    0, &res, why), JG_OK);
	assert_string_equal(res.rs_pod->rp_name,
	    "pt-alice-251111-00001-worker-1");
	assert_int_equal(res.rs_rule->rr_node_port, 30001);
	assert_int_equal(lookup(f->snap, "alice", false, "dist",
	    "pt-alice-251111-00001-master-0", 0, &res, why), JG_OK);
	assert_int_equal(res.rs_rule->rr_node_port, 30000);
	assert_int_equal(lookup(f->snap, "alice", false, "dist", "worker-7",
	    0, &res, why), JG_ERR_NOT_FOUND);
	assert_string_equal(why, "job 'dist' of alice has no pod 'worker-7'; "
	    "its pods: master-0, worker-0, worker-1");
	assert_null(res.rs_pod);
}

static void
refuses_a_pod_that_is_not_running_with_its_phase(void **state)
{
	struct fixture *f = *state;
	struct route_result res;
	char why[ROUTE_WHY_MAX];

	add_pod(f, "frank", "jpt-frank-1", NULL, "default0", 0, "Pending");
	add_pod(f, "frank", "jpt-frank-2", NULL, "default0", 0, NULL);
	build(f);
	assert_int_equal(lookup(f->snap, "frank", false, "jpt-frank-1", NULL,
	    0, &res, why), JG_ERR_NOT_RUNNING);
	assert_string_equal(why, "job 'jpt-frank-1' of frank is not running "
	    "(phase Pending)");
	assert_int_equal(lookup(f->snap, "frank", false, "jpt-frank-2", NULL,
	    0, &res, why), JG_ERR_NOT_RUNNING);
	assert_string_equal(why, "job 'jpt-frank-2' of frank is not running "
	    "(phase unknown)");
}

static void
lists_the_rules_a_pod_has_when_none_matches(void **state)
{
	struct fixture *f = *state;
	struct route_result res;
	char why[ROUTE_WHY_MAX];
	struct route_pod *p;

	p = add_pod(f, "gina", "jpt-gina-1", "mail", "default0", 0, "Running");
	add_rule(p, "smtp", 25, 30631);
	add_rule(p, "telnet", 23, 32226);
	add_pod(f, "gina", "jpt-gina-2", NULL, "default0", 0, "Running");
	build(f);
	assert_int_equal(lookup(f->snap, "gina", false, "mail", NULL, 0, &res,
	    why), JG_ERR_NO_RULE);
	assert_string_equal(why, "job 'mail' (jpt-gina-1) of gina has no rule "
	    "for port 22; rules: smtp(25), telnet(23)");
	assert_int_equal(lookup(f->snap, "gina", false, "jpt-gina-1", NULL,
	    8080, &res, why), JG_ERR_NO_RULE);
	assert_string_equal(why, "job 'jpt-gina-1' of gina has no rule for "
	    "port 8080; rules: smtp(25), telnet(23)");
	assert_int_equal(lookup(f->snap, "gina", false, "jpt-gina-2", NULL, 0,
	    &res, why), JG_ERR_NO_RULE);
	assert_string_equal(why, "job 'jpt-gina-2' of gina has no rule for "
	    "port 22; it has no NodePort rules");
}

static void
blames_a_malformed_record_when_the_rule_is_missing(void **state)
{
	struct fixture *f = *state;
	struct route_result res;
	char why[ROUTE_WHY_MAX];
	struct route_pod *p;

	p = add_pod(f, "hank", "jpt-hank-1", NULL, "default0", 0, "Running");
	add_rule(p, "smtp", 25, 30631);
	assert_int_equal(route_pod_add_problem(p, "annotation "
	    "nodeport.crater.raids.io/ssh: nodePort: expected an integer "
	    "1..65535, got \"%s\"", "abc"), JG_OK);
	build(f);
	assert_int_equal(lookup(f->snap, "hank", false, "jpt-hank-1", NULL, 0,
	    &res, why), JG_ERR_MALFORMED);
	assert_string_equal(why, "job 'jpt-hank-1' of hank has no usable ssh "
	    "rule: annotation nodeport.crater.raids.io/ssh: nodePort: "
	    "expected an integer 1..65535, got \"abc\"");
	/* The problem does not hide a rule that does exist. */
	assert_int_equal(lookup(f->snap, "hank", false, "jpt-hank-1", NULL,
	    25, &res, why), JG_OK);
	assert_int_equal(res.rs_rule->rr_node_port, 30631);
}

static void
finds_a_job_by_its_chinese_display_name(void **state)
{
	struct fixture *f = *state;
	struct route_result res;
	char why[ROUTE_WHY_MAX];
	struct route_pod *p;

	p = add_pod(f, "ivy", "jpt-ivy-1", "训练 任务", "default0", 0,
	    "Running");
	add_rule(p, "ssh", 22, 30100);
	p = add_pod(f, "ivy", "jpt-ivy-2", "推理", "default0", 0, "Running");
	add_rule(p, "ssh", 22, 30101);
	p = add_pod(f, "ivy", "jpt-ivy-3", "推理", "default0", 0, "Running");
	build(f);
	assert_int_equal(lookup(f->snap, "ivy", false, "训练 任务", NULL, 0,
	    &res, why), JG_OK);
	assert_int_equal(res.rs_rule->rr_node_port, 30100);
	assert_int_equal(lookup(f->snap, "ivy", false, "推理", NULL, 0, &res,
	    why), JG_ERR_AMBIGUOUS);
	assert_string_equal(why, "job name '推理' matches 2 jobs of ivy: "
	    "jpt-ivy-2 (推理), jpt-ivy-3 (推理); use the internal name");
}

static void
names_the_namespace_when_one_job_name_is_in_two(void **state)
{
	struct fixture *f = *state;
	struct route_result res;
	char why[ROUTE_WHY_MAX];
	struct route_pod *p;

	p = add_pod(f, "jack", "jpt-jack-1", NULL, "default0", 0, "Running");
	p = add_pod(f, "jack", "jpt-jack-1", NULL, "default0", 0, "Running");
	free(p->rp_namespace);
	p->rp_namespace = dup_or_null("team-b");
	build(f);
	assert_int_equal(lookup(f->snap, "jack", false, "jpt-jack-1", NULL, 0,
	    &res, why), JG_ERR_AMBIGUOUS);
	assert_string_equal(why, "job name 'jpt-jack-1' matches 2 jobs of "
	    "jack: crater-workspace/jpt-jack-1, team-b/jpt-jack-1; use the "
	    "internal name");
}

static void
bounds_and_escapes_hostile_names_from_the_cluster(void **state)
{
	struct fixture *f = *state;
	struct route_result res;
	char why[ROUTE_WHY_MAX], small[24], job[600], disp[64];
	size_t i;
	int n;

	/* Eleven jobs with 500-byte names and terminal escapes. */
	for (n = 0; n < 11; n++) {
		memset(job, 'j', sizeof(job));
		snprintf(job, sizeof(job), "%02d\x1b[31m", n);
		job[strlen(job)] = 'j';
		job[500] = '\0';
		snprintf(disp, sizeof(disp), "evil\n\x1b]0;pwned\a");
		add_pod(f, "kim", job, disp, "default0", 0, "Running");
	}
	build(f);
	assert_int_equal(lookup(f->snap, "kim", false, "evil\n\x1b]0;pwned\a",
	    NULL, 0, &res, why), JG_ERR_AMBIGUOUS);
	assert_true(strlen(why) < ROUTE_WHY_MAX);
	for (i = 0; why[i] != '\0'; i++)
		assert_true((unsigned char)why[i] >= 0x20 && why[i] != 0x7f);
	assert_non_null(strstr(why, "00\\x1b[31mjjj"));
	assert_non_null(strstr(why, "(evil\\x0a\\x1b]0;pwned\\x07)"));
	assert_int_equal(lookup(f->snap, "kim", false, "x", NULL, 0, &res,
	    why), JG_ERR_NOT_FOUND);
	assert_true(strlen(why) < ROUTE_WHY_MAX);
	/* A short buffer is filled, terminated and not overrun. */
	memset(small, 'Z', sizeof(small));
	{
		struct route_query q = { "kim", false, "x", NULL, 0 };

		assert_int_equal(route_lookup(f->snap, &q, &res, small, 16),
		    JG_ERR_NOT_FOUND);
	}
	assert_int_equal(strlen(small), 15);
	assert_int_equal(small[16], 'Z');
}

static void
keeps_an_old_snapshot_valid_while_a_reader_holds_it(void **state)
{
	struct fixture *f = *state;
	struct route_table *table;
	struct route_snapshot *held, *now, *next;
	struct route_pod *kept, *gone;
	struct route_result res;
	char why[ROUTE_WHY_MAX];

	table = route_table_new();
	assert_non_null(table);
	now = route_table_acquire(table);
	assert_int_equal(route_snapshot_count(now), 0);
	route_snapshot_release(now);

	build(f);
	gone = f->pods[0];		/* alice's myjob */
	kept = f->pods[1];
	assert_int_equal(atomic_load(&gone->rp_refs), 2);
	route_table_publish(table, f->snap);
	f->snap = NULL;			/* the table owns it now */
	held = route_table_acquire(table);
	assert_int_equal(route_snapshot_stamp_ms(held), 42);

	/* A new set without pod 0; the reader still holds the old one. */
	next = route_snapshot_new(f->pods + 1, f->npods - 1, 43);
	assert_non_null(next);
	assert_int_equal(atomic_load(&kept->rp_refs), 3);
	route_table_publish(table, next);
	assert_int_equal(atomic_load(&gone->rp_refs), 2);
	assert_int_equal(lookup(held, "alice", false, "myjob", NULL, 0, &res,
	    why), JG_OK);
	assert_ptr_equal(res.rs_pod, gone);

	now = route_table_acquire(table);
	assert_int_equal(route_snapshot_stamp_ms(now), 43);
	assert_int_equal(lookup(now, "alice", false, "myjob", NULL, 0, &res,
	    why), JG_ERR_NOT_FOUND);
	route_snapshot_release(now);

	/* Releasing the last hold on the old set drops its pod refs. */
	route_snapshot_release(held);
	assert_int_equal(atomic_load(&gone->rp_refs), 1);
	assert_int_equal(atomic_load(&kept->rp_refs), 2);
	route_table_free(table);
	assert_int_equal(atomic_load(&kept->rp_refs), 1);
}

struct reader_arg {
	struct route_table *table;
	int		 found;
};

static void *
reader(void *arg)
{
	struct reader_arg *ra = arg;
	struct route_snapshot *snap;
	struct route_result res;
	char why[ROUTE_WHY_MAX];
	struct route_query q = { "alice", false, "myjob", NULL, 0 };
	int i;

	for (i = 0; i < 20000; i++) {
		snap = route_table_acquire(ra->table);
		if (route_lookup(snap, &q, &res, why, sizeof(why)) == JG_OK &&
		    res.rs_rule->rr_node_port == 32513)
			ra->found++;
		route_snapshot_release(snap);
	}
	return NULL;
}

static void
serves_readers_while_snapshots_are_published(void **state)
{
	struct fixture *f = *state;
	struct reader_arg ra;
	pthread_t t;
	struct route_snapshot *snap;
	int i;

	memset(&ra, 0, sizeof(ra));
	ra.table = route_table_new();
	assert_non_null(ra.table);
	assert_int_equal(pthread_create(&t, NULL, reader, &ra), 0);
	for (i = 0; i < 2000; i++) {
		snap = route_snapshot_new(f->pods, f->npods, (uint64_t)i);
		assert_non_null(snap);
		route_table_publish(ra.table, snap);
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	route_table_free(ra.table);
	/* Every snapshot is gone: only the fixture's own refs remain. */
	for (i = 0; i < (int)f->npods; i++)
		assert_int_equal(atomic_load(&f->pods[i]->rp_refs), 1);
	assert_true(ra.found <= 20000);
}

static void
lists_jobs_sorted_once_each(void **state)
{
	struct fixture *f = *state;
	const char *names[3];

	build(f);
	assert_int_equal(route_list_jobs(f->snap, "alice", false, names, 3),
	    4);
	assert_string_equal(names[0], "jpt-alice-251110-ab12c");
	assert_string_equal(names[1], "jpt-alice-251112-aaaaa");
	assert_string_equal(names[2], "jpt-alice-251113-bbbbb");
	assert_int_equal(route_list_jobs(f->snap, "bob", false, names, 3), 1);
	assert_int_equal(route_list_jobs(f->snap, "nobody", false, names, 3),
	    0);
	assert_int_equal(route_list_jobs(f->snap, "x", true, NULL, 0), 5);
}

static void
prints_lookup_speed_for_ten_thousand_pods(void **state)
{
	struct route_pod **pods;
	struct route_snapshot *snap;
	struct route_result res;
	struct route_rule r;
	struct timespec t0, t1;
	char why[ROUTE_WHY_MAX], buf[128], user[32], job[64];
	const size_t npods = 10000, nlookups = 100000;
	size_t i, ok = 0;
	double ns;

	(void)state;
	pods = calloc(npods, sizeof(*pods));
	assert_non_null(pods);
	memset(&r, 0, sizeof(r));
	snprintf(r.rr_name, sizeof(r.rr_name), "ssh");
	r.rr_container_port = 22;
	r.rr_node_port = 30000;
	snprintf(r.rr_address, sizeof(r.rr_address), "10.0.0.1");
	/* 1,000 users with ten jobs each; every job is displayed "train". */
	for (i = 0; i < npods; i++) {
		pods[i] = route_pod_new();
		assert_non_null(pods[i]);
		snprintf(buf, sizeof(buf), "user%04zu", i / 10);
		pods[i]->rp_owner = strdup(buf);
		snprintf(buf, sizeof(buf), "jpt-user%04zu-251110-%05zx",
		    i / 10, i);
		pods[i]->rp_job = strdup(buf);
		snprintf(buf, sizeof(buf), "jpt-user%04zu-251110-%05zx-"
		    "default0-0", i / 10, i);
		pods[i]->rp_name = strdup(buf);
		pods[i]->rp_namespace = strdup("crater-workspace");
		pods[i]->rp_display = strdup("train");
		pods[i]->rp_task = strdup("default0");
		pods[i]->rp_index = 0;
		pods[i]->rp_phase = strdup("Running");
		assert_int_equal(route_pod_add_rule(pods[i], &r), JG_OK);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	snap = route_snapshot_new(pods, npods, 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_non_null(snap);
	printf("snapshot of %zu pods built in %.1f ms\n", npods,
	    ((double)(t1.tv_sec - t0.tv_sec) * 1e9 +
	    (double)(t1.tv_nsec - t0.tv_nsec)) / 1e6);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < nlookups; i++) {
		struct route_query q = { user, false, job, NULL, 0 };

		snprintf(user, sizeof(user), "user%04zu", (i * 7919) % 1000);
		snprintf(job, sizeof(job), "jpt-%s-251110-%05zx", user,
		    ((i * 7919) % 1000) * 10 + i % 10);
		if (route_lookup(snap, &q, &res, why, sizeof(why)) == JG_OK)
			ok++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 +
	    (double)(t1.tv_nsec - t0.tv_nsec)) / (double)nlookups;
	printf("route_lookup: %.0f ns per lookup over %zu lookups "
	    "(includes building the query strings)\n", ns, nlookups);
	assert_int_equal(ok, nlookups);

	route_snapshot_release(snap);
	for (i = 0; i < npods; i++)
		route_pod_unref(pods[i]);
	free(pods);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    finds_a_job_by_internal_display_and_base_url_name,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    picks_a_rule_named_ssh_before_container_port_22,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    lists_the_users_jobs_when_a_job_is_not_found,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    lists_at_most_ten_jobs_then_says_how_many_more,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    does_not_match_another_users_job, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    lists_candidates_when_a_display_name_is_ambiguous,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    lets_an_admin_reach_any_owner_and_name_owners,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    selects_pods_by_task_index_full_name_or_first,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    refuses_a_pod_that_is_not_running_with_its_phase,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    lists_the_rules_a_pod_has_when_none_matches,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    blames_a_malformed_record_when_the_rule_is_missing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    finds_a_job_by_its_chinese_display_name, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    names_the_namespace_when_one_job_name_is_in_two,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    bounds_and_escapes_hostile_names_from_the_cluster,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    keeps_an_old_snapshot_valid_while_a_reader_holds_it,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    serves_readers_while_snapshots_are_published,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(lists_jobs_sorted_once_each,
		    setup, teardown),
		cmocka_unit_test(prints_lookup_speed_for_ten_thousand_pods),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
