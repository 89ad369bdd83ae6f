/*
 * route.c: reference-counted pods, immutable snapshots indexed by owner and
 * by every name a job answers to, the table that publishes them, and the
 * lookup that turns owner + job (+ pod, port) into one NodePort rule.
 * It does not read the cluster (podmeta.c, the sources do).  Lookups run on
 * any worker thread; publishing runs on a source's thread.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "name.h"
#include "route.h"

/* A problem sentence is one line of a user-facing message. */
#define ROUTE_PROBLEM_MAX	512
/* Names from the cluster are untrusted: this many bytes of each, at most,
 * go into a sentence, so ten of them still fit ROUTE_WHY_MAX. */
#define ROUTE_WHY_NAME_MAX	60
/* Lists in messages (jobs, pods, rules) stop after this many entries. */
#define ROUTE_WHY_LIST_MAX	10

/*
 * A job as routing groups it: the pods with the same internal job name,
 * namespace and owner, contiguous in rs_pods and in (task, index) order.
 */
struct route_group {
	uint32_t	 rg_start;
	uint32_t	 rg_count;
};

/* One name a job answers to (internal, display or base-url). */
struct route_name {
	const char	*rn_name;
	const char	*rn_owner;	/* "" for a pod without one */
	uint32_t	 rn_group;
};

/*
 * Every index is sorted so that a lookup is a few binary searches:
 *   rs_pods     by (job, namespace, owner, task, index, name)
 *   rs_groups   in rs_pods order, hence by (job, namespace, owner)
 *   rs_by_owner group numbers by (owner, group), hence owner then job
 *   rs_names    by (name, owner, group), one entry per distinct triple
 * so the jobs of alice called "train" are one contiguous rs_names range,
 * and its length is the number of candidate jobs.
 */
struct route_snapshot {
	atomic_int	 rs_refs;
	uint64_t	 rs_stamp_ms;
	struct route_pod **rs_pods;
	size_t		 rs_npods;
	struct route_group *rs_groups;
	size_t		 rs_ngroups;
	uint32_t	*rs_by_owner;
	struct route_name *rs_names;
	size_t		 rs_nnames;
};

struct route_table {
	pthread_mutex_t	 rt_lock;	/* guards rt_snap and its ref only */
	struct route_snapshot *rt_snap;	/* never NULL */
	/* Whether the source can reach its origin, and since when not. */
	atomic_bool	 rt_source_up;
	atomic_uint_least64_t rt_last_contact_ms;
};

/* A bounded sentence under construction; writes past the end are cut. */
struct route_why {
	char	*w_buf;
	size_t	 w_len;
	size_t	 w_off;
};

static const char *
route_str(const char *s)
{
	return s == NULL ? "" : s;
}

struct route_pod *
route_pod_new(void)
{
	struct route_pod *pod;

	if ((pod = calloc(1, sizeof(*pod))) == NULL)
		return NULL;
	pod->rp_index = -1;
	atomic_init(&pod->rp_refs, 1);
	return pod;
}

struct route_pod *
route_pod_ref(struct route_pod *pod)
{
	if (pod != NULL)
		atomic_fetch_add_explicit(&pod->rp_refs, 1,
		    memory_order_relaxed);
	return pod;
}

void
route_pod_unref(struct route_pod *pod)
{
	size_t i;

	if (pod == NULL)
		return;
	/* acq_rel: the last releaser must see every other thread's reads
	 * finished before it frees. */
	if (atomic_fetch_sub_explicit(&pod->rp_refs, 1,
	    memory_order_acq_rel) != 1)
		return;
	free(pod->rp_namespace);
	free(pod->rp_name);
	free(pod->rp_owner);
	free(pod->rp_job);
	free(pod->rp_display);
	free(pod->rp_alias);
	free(pod->rp_host_key);
	free(pod->rp_base_url);
	free(pod->rp_task);
	free(pod->rp_phase);
	free(pod->rp_host_ip);
	free(pod->rp_version);
	free(pod->rp_rules);
	for (i = 0; i < pod->rp_nproblems; i++)
		free(pod->rp_problems[i]);
	free(pod->rp_problems);
	free(pod);
}

enum jg_err
route_pod_add_rule(struct route_pod *pod, const struct route_rule *rule)
{
	struct route_rule *rules;

	rules = reallocarray(pod->rp_rules, pod->rp_nrules + 1,
	    sizeof(*rules));
	if (rules == NULL)
		return JG_ERR_NOMEM;
	pod->rp_rules = rules;
	rules[pod->rp_nrules] = *rule;
	/* The struct comes from untrusted input: never trust its NULs. */
	rules[pod->rp_nrules].rr_name[ROUTE_RULE_NAME_MAX] = '\0';
	rules[pod->rp_nrules].rr_address[ROUTE_ADDR_MAX - 1] = '\0';
	pod->rp_nrules++;
	return JG_OK;
}

enum jg_err
route_pod_add_problem(struct route_pod *pod, const char *fmt, ...)
{
	char buf[ROUTE_PROBLEM_MAX], *copy, **problems;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if ((copy = strdup(buf)) == NULL)
		return JG_ERR_NOMEM;
	problems = reallocarray(pod->rp_problems, pod->rp_nproblems + 1,
	    sizeof(*problems));
	if (problems == NULL) {
		free(copy);
		return JG_ERR_NOMEM;
	}
	pod->rp_problems = problems;
	problems[pod->rp_nproblems++] = copy;
	return JG_OK;
}

bool
route_name_typeable(const char *name)
{
	size_t i;

	if (name == NULL || name[0] == '\0' || name[0] == '-' ||
	    name[0] == '.')
		return false;
	for (i = 0; name[i] != '\0'; i++) {
		unsigned char c = (unsigned char)name[i];

		if (i >= NAME_JOB_MAX)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == '-'))
			return false;
	}
	return true;
}

char *
route_make_alias(const char *display)
{
	char *out;
	size_t i, o = 0, len;
	bool dash = false;

	errno = 0;
	if (display == NULL)
		return NULL;
	len = strlen(display);
	for (i = 0; i < len; i++)
		if ((unsigned char)display[i] >= 0x80)
			return NULL;
	if ((out = malloc(len + 1)) == NULL)
		return NULL;
	for (i = 0; i < len && o < NAME_JOB_MAX; i++) {
		unsigned char c = (unsigned char)display[i];

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
			if (dash && o > 0)
				out[o++] = '-';
			dash = false;
			out[o++] = (char)c;
		} else if (c >= 'A' && c <= 'Z') {
			if (dash && o > 0)
				out[o++] = '-';
			dash = false;
			out[o++] = (char)(c - 'A' + 'a');
		} else
			dash = true;
	}
	out[o] = '\0';
	if (o == 0) {
		free(out);
		return NULL;
	}
	return out;
}

const char *
route_pod_typeable_name(const struct route_pod *pod)
{
	if (route_name_typeable(pod->rp_display))
		return pod->rp_display;
	if (pod->rp_alias != NULL)
		return pod->rp_alias;
	if (route_name_typeable(pod->rp_base_url))
		return pod->rp_base_url;
	return pod->rp_job;
}

bool
route_pod_is_running(const struct route_pod *pod)
{
	return pod->rp_phase != NULL && strcmp(pod->rp_phase, "Running") == 0;
}

static int
route_pod_cmp(const void *a, const void *b)
{
	const struct route_pod *pa = *(struct route_pod *const *)a;
	const struct route_pod *pb = *(struct route_pod *const *)b;
	int c;

	if ((c = strcmp(route_str(pa->rp_job), route_str(pb->rp_job))) != 0)
		return c;
	if ((c = strcmp(route_str(pa->rp_namespace),
	    route_str(pb->rp_namespace))) != 0)
		return c;
	if ((c = strcmp(route_str(pa->rp_owner),
	    route_str(pb->rp_owner))) != 0)
		return c;
	if ((c = strcmp(route_str(pa->rp_task), route_str(pb->rp_task))) != 0)
		return c;
	if (pa->rp_index != pb->rp_index)
		return pa->rp_index < pb->rp_index ? -1 : 1;
	return strcmp(route_str(pa->rp_name), route_str(pb->rp_name));
}

/* Same job group: same internal name, namespace and owner. */
static bool
route_pod_same_job(const struct route_pod *a, const struct route_pod *b)
{
	return strcmp(route_str(a->rp_job), route_str(b->rp_job)) == 0 &&
	    strcmp(route_str(a->rp_namespace),
	    route_str(b->rp_namespace)) == 0 &&
	    strcmp(route_str(a->rp_owner), route_str(b->rp_owner)) == 0;
}

static int
route_name_cmp(const void *a, const void *b)
{
	const struct route_name *na = a, *nb = b;
	int c;

	if ((c = strcmp(na->rn_name, nb->rn_name)) != 0)
		return c;
	if ((c = strcmp(na->rn_owner, nb->rn_owner)) != 0)
		return c;
	if (na->rn_group != nb->rn_group)
		return na->rn_group < nb->rn_group ? -1 : 1;
	return 0;
}

/* qsort has no context argument: the owner sort reads groups through
 * the pods array, so keep it as a pair. */
struct route_owner_key {
	const char	*ok_owner;
	uint32_t	 ok_group;
};

static int
route_owner_key_cmp(const void *a, const void *b)
{
	const struct route_owner_key *ka = a, *kb = b;
	int c;

	if ((c = strcmp(ka->ok_owner, kb->ok_owner)) != 0)
		return c;
	if (ka->ok_group != kb->ok_group)
		return ka->ok_group < kb->ok_group ? -1 : 1;
	return 0;
}

static const struct route_pod *
route_group_first(const struct route_snapshot *snap, uint32_t g)
{
	return snap->rs_pods[snap->rs_groups[g].rg_start];
}

static bool
route_snapshot_index(struct route_snapshot *snap)
{
	struct route_owner_key *keys = NULL;
	struct route_name *names;
	const struct route_pod *pod;
	const char *cand[4];
	size_t i, j, k, n;
	uint32_t g;

	if (snap->rs_npods == 0)
		return true;
	qsort(snap->rs_pods, snap->rs_npods, sizeof(*snap->rs_pods),
	    route_pod_cmp);

	snap->rs_groups = calloc(snap->rs_npods, sizeof(*snap->rs_groups));
	if (snap->rs_groups == NULL)
		return false;
	for (i = 0; i < snap->rs_npods; i++) {
		if (i == 0 || !route_pod_same_job(snap->rs_pods[i - 1],
		    snap->rs_pods[i])) {
			snap->rs_groups[snap->rs_ngroups].rg_start =
			    (uint32_t)i;
			snap->rs_ngroups++;
		}
		snap->rs_groups[snap->rs_ngroups - 1].rg_count++;
	}

	snap->rs_by_owner = calloc(snap->rs_ngroups,
	    sizeof(*snap->rs_by_owner));
	keys = calloc(snap->rs_ngroups, sizeof(*keys));
	if (snap->rs_by_owner == NULL || keys == NULL) {
		free(keys);
		return false;
	}
	for (g = 0; g < snap->rs_ngroups; g++) {
		keys[g].ok_owner = route_str(route_group_first(snap,
		    g)->rp_owner);
		keys[g].ok_group = g;
	}
	qsort(keys, snap->rs_ngroups, sizeof(*keys), route_owner_key_cmp);
	for (g = 0; g < snap->rs_ngroups; g++)
		snap->rs_by_owner[g] = keys[g].ok_group;
	free(keys);

	/* Each pod contributes its internal, display, alias and base-url
	 * names. */
	names = calloc(snap->rs_npods * 4, sizeof(*names));
	if (names == NULL)
		return false;
	snap->rs_names = names;
	n = 0;
	for (g = 0; g < snap->rs_ngroups; g++) {
		for (i = 0; i < snap->rs_groups[g].rg_count; i++) {
			pod = snap->rs_pods[snap->rs_groups[g].rg_start + i];
			cand[0] = pod->rp_job;
			cand[1] = pod->rp_display;
			cand[2] = pod->rp_base_url;
			cand[3] = pod->rp_alias;
			for (k = 0; k < 4; k++) {
				if (cand[k] == NULL || cand[k][0] == '\0')
					continue;
				names[n].rn_name = cand[k];
				names[n].rn_owner = route_str(pod->rp_owner);
				names[n].rn_group = g;
				n++;
			}
		}
	}
	qsort(names, n, sizeof(*names), route_name_cmp);
	/* A job whose display name equals its internal one, or whose pods
	 * all carry it, is still one candidate. */
	for (i = 0, j = 0; i < n; i++) {
		if (j > 0 && route_name_cmp(&names[j - 1], &names[i]) == 0)
			continue;
		names[j++] = names[i];
	}
	snap->rs_nnames = j;
	return true;
}

struct route_snapshot *
route_snapshot_new(struct route_pod *const *pods, size_t npods,
    uint64_t stamp_ms)
{
	struct route_snapshot *snap;
	size_t i;

	/* Indices are 32-bit; 4 billion pods is not a cluster we serve. */
	if (npods > UINT32_MAX / 4)
		return NULL;
	if ((snap = calloc(1, sizeof(*snap))) == NULL)
		return NULL;
	atomic_init(&snap->rs_refs, 1);
	snap->rs_stamp_ms = stamp_ms;
	if (npods > 0) {
		snap->rs_pods = calloc(npods, sizeof(*snap->rs_pods));
		if (snap->rs_pods == NULL) {
			free(snap);
			return NULL;
		}
		for (i = 0; i < npods; i++)
			snap->rs_pods[i] = route_pod_ref(pods[i]);
		snap->rs_npods = npods;
	}
	if (!route_snapshot_index(snap)) {
		route_snapshot_release(snap);
		return NULL;
	}
	return snap;
}

void
route_snapshot_release(struct route_snapshot *snap)
{
	size_t i;

	if (snap == NULL)
		return;
	if (atomic_fetch_sub_explicit(&snap->rs_refs, 1,
	    memory_order_acq_rel) != 1)
		return;
	for (i = 0; i < snap->rs_npods; i++)
		route_pod_unref(snap->rs_pods[i]);
	free(snap->rs_pods);
	free(snap->rs_groups);
	free(snap->rs_by_owner);
	free(snap->rs_names);
	free(snap);
}

size_t
route_snapshot_count(const struct route_snapshot *snap)
{
	return snap->rs_npods;
}

const struct route_pod *
route_snapshot_pod(const struct route_snapshot *snap, size_t i)
{
	return i < snap->rs_npods ? snap->rs_pods[i] : NULL;
}

uint64_t
route_snapshot_stamp_ms(const struct route_snapshot *snap)
{
	return snap->rs_stamp_ms;
}

struct route_table *
route_table_new(void)
{
	struct route_table *table;

	if ((table = calloc(1, sizeof(*table))) == NULL)
		return NULL;
	if ((table->rt_snap = route_snapshot_new(NULL, 0, 0)) == NULL) {
		free(table);
		return NULL;
	}
	if (pthread_mutex_init(&table->rt_lock, NULL) != 0) {
		route_snapshot_release(table->rt_snap);
		free(table);
		return NULL;
	}
	atomic_init(&table->rt_source_up, true);
	atomic_init(&table->rt_last_contact_ms, 0);
	return table;
}

void
route_table_free(struct route_table *table)
{
	if (table == NULL)
		return;
	pthread_mutex_destroy(&table->rt_lock);
	route_snapshot_release(table->rt_snap);
	free(table);
}

void
route_table_publish(struct route_table *table, struct route_snapshot *snap)
{
	struct route_snapshot *old;

	/* A source that failed to build keeps serving the last good set. */
	if (snap == NULL)
		return;
	pthread_mutex_lock(&table->rt_lock);
	old = table->rt_snap;
	table->rt_snap = snap;
	pthread_mutex_unlock(&table->rt_lock);
	/* Freeing 10,000 pods is not done under the lock. */
	route_snapshot_release(old);
}

void
route_table_set_source_state(struct route_table *table, bool up,
    uint64_t last_contact_ms)
{
	atomic_store(&table->rt_last_contact_ms, last_contact_ms);
	atomic_store(&table->rt_source_up, up);
}

uint64_t
route_table_staleness_ms(struct route_table *table, uint64_t now_ms)
{
	uint64_t last;

	if (atomic_load(&table->rt_source_up))
		return 0;
	last = atomic_load(&table->rt_last_contact_ms);
	return now_ms > last ? now_ms - last : 1;
}

struct route_snapshot *
route_table_acquire(struct route_table *table)
{
	struct route_snapshot *snap;

	pthread_mutex_lock(&table->rt_lock);
	snap = table->rt_snap;
	atomic_fetch_add_explicit(&snap->rs_refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&table->rt_lock);
	return snap;
}

/*
 * Binary searches: [lo, hi) of rs_names whose name equals name and, when
 * owner is not NULL, whose owner equals owner.
 */
static int
route_name_key_cmp(const struct route_name *e, const char *name,
    const char *owner)
{
	int c;

	if ((c = strcmp(e->rn_name, name)) != 0 || owner == NULL)
		return c;
	return strcmp(e->rn_owner, owner);
}

static void
route_names_range(const struct route_snapshot *snap, const char *name,
    const char *owner, size_t *lo, size_t *hi)
{
	size_t l, h, m;

	for (l = 0, h = snap->rs_nnames; l < h;) {
		m = l + (h - l) / 2;
		if (route_name_key_cmp(&snap->rs_names[m], name, owner) < 0)
			l = m + 1;
		else
			h = m;
	}
	*lo = l;
	for (h = snap->rs_nnames; l < h;) {
		m = l + (h - l) / 2;
		if (route_name_key_cmp(&snap->rs_names[m], name, owner) <= 0)
			l = m + 1;
		else
			h = m;
	}
	*hi = l;
}

/* [lo, hi) of rs_by_owner for owner. */
static void
route_owner_range(const struct route_snapshot *snap, const char *owner,
    size_t *lo, size_t *hi)
{
	size_t l, h, m;
	const char *o;

	for (l = 0, h = snap->rs_ngroups; l < h;) {
		m = l + (h - l) / 2;
		o = route_str(route_group_first(snap,
		    snap->rs_by_owner[m])->rp_owner);
		if (strcmp(o, owner) < 0)
			l = m + 1;
		else
			h = m;
	}
	*lo = l;
	for (h = snap->rs_ngroups; l < h;) {
		m = l + (h - l) / 2;
		o = route_str(route_group_first(snap,
		    snap->rs_by_owner[m])->rp_owner);
		if (strcmp(o, owner) <= 0)
			l = m + 1;
		else
			h = m;
	}
	*hi = l;
}

size_t
route_list_jobs(const struct route_snapshot *snap, const char *user,
    bool admin, const char **names, size_t max)
{
	const char *job, *prev = NULL;
	size_t lo, hi, i, n = 0;
	uint32_t g;

	if (admin) {
		lo = 0;
		hi = snap->rs_ngroups;
	} else {
		if (user == NULL || user[0] == '\0')
			return 0;
		route_owner_range(snap, user, &lo, &hi);
	}
	/* Groups come sorted by job name, so one job in two namespaces is
	 * two adjacent groups and is listed once. */
	for (i = lo; i < hi; i++) {
		g = admin ? (uint32_t)i : snap->rs_by_owner[i];
		job = route_group_first(snap, g)->rp_job;
		if (job == NULL || job[0] == '\0')
			continue;
		if (prev != NULL && strcmp(prev, job) == 0)
			continue;
		if (n < max && names != NULL)
			names[n] = job;
		n++;
		prev = job;
	}
	return n;
}

static void
route_why_add(struct route_why *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
route_why_add(struct route_why *w, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (w->w_len == 0 || w->w_off >= w->w_len - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(w->w_buf + w->w_off, w->w_len - w->w_off, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* Compare with the space left, never off + n: n may be huge. */
	if ((size_t)n >= w->w_len - w->w_off)
		w->w_off = w->w_len - 1;
	else
		w->w_off += (size_t)n;
}

/* Appends an untrusted name, escaped and bounded. */
static void
route_why_name(struct route_why *w, const char *name)
{
	char esc[ROUTE_WHY_NAME_MAX * 4 + 4];

	route_why_add(w, "%s", name_escape(esc, sizeof(esc), route_str(name),
	    ROUTE_WHY_NAME_MAX));
}

/* ", and N more" after a list cut at ROUTE_WHY_LIST_MAX. */
static void
route_why_more(struct route_why *w, size_t shown, size_t total)
{
	if (total > shown)
		route_why_add(w, ", and %zu more", total - shown);
}

static void
route_why_jobs(struct route_why *w, const struct route_snapshot *snap,
    const char *user, bool admin)
{
	const char *names[ROUTE_WHY_LIST_MAX];
	size_t i, n, shown;

	n = route_list_jobs(snap, user, admin, names, ROUTE_WHY_LIST_MAX);
	if (n == 0) {
		if (admin)
			route_why_add(w, "; there are no jobs");
		else {
			route_why_add(w, "; ");
			route_why_name(w, user);
			route_why_add(w, " has no jobs");
		}
		return;
	}
	route_why_add(w, admin ? "; jobs: " : "; your jobs: ");
	shown = n < ROUTE_WHY_LIST_MAX ? n : ROUTE_WHY_LIST_MAX;
	for (i = 0; i < shown; i++) {
		if (i > 0)
			route_why_add(w, ", ");
		route_why_name(w, names[i]);
	}
	route_why_more(w, shown, n);
}

/* A pod's short name for messages: "worker-1" when it has a task. */
static void
route_why_pod_name(struct route_why *w, const struct route_pod *pod)
{
	if (pod->rp_task != NULL && pod->rp_index >= 0) {
		route_why_name(w, pod->rp_task);
		route_why_add(w, "-%d", pod->rp_index);
	} else
		route_why_name(w, pod->rp_name);
}

/*
 * "job 'train' (jpt-alice-1) pod 'worker-1' of alice": what the user typed,
 * the internal name when that differs, the pod when there is a choice.
 */
static void
route_why_target(struct route_why *w, const struct route_query *q,
    const struct route_snapshot *snap, uint32_t g, const struct route_pod *pod)
{
	route_why_add(w, "job '");
	route_why_name(w, q->rq_job);
	route_why_add(w, "'");
	if (pod->rp_job != NULL && strcmp(q->rq_job, pod->rp_job) != 0) {
		route_why_add(w, " (");
		route_why_name(w, pod->rp_job);
		route_why_add(w, ")");
	}
	if (snap->rs_groups[g].rg_count > 1 ||
	    (q->rq_pod != NULL && q->rq_pod[0] != '\0')) {
		route_why_add(w, " pod '");
		route_why_pod_name(w, pod);
		route_why_add(w, "'");
	}
	route_why_add(w, " of ");
	route_why_name(w, pod->rp_owner);
}

static void
route_why_ambiguous(struct route_why *w, const struct route_snapshot *snap,
    const struct route_query *q, size_t lo, size_t hi)
{
	const struct route_pod *pod, *other;
	size_t i, j, shown;

	route_why_add(w, "job name '");
	route_why_name(w, q->rq_job);
	route_why_add(w, "' matches %zu jobs", hi - lo);
	if (!q->rq_admin) {
		route_why_add(w, " of ");
		route_why_name(w, q->rq_user);
	}
	route_why_add(w, ": ");
	shown = hi - lo < ROUTE_WHY_LIST_MAX ? hi - lo : ROUTE_WHY_LIST_MAX;
	for (i = 0; i < shown; i++) {
		pod = route_group_first(snap, snap->rs_names[lo + i].rn_group);
		if (i > 0)
			route_why_add(w, ", ");
		/* One internal name in two namespaces needs the namespace. */
		for (j = lo; j < hi; j++) {
			other = route_group_first(snap,
			    snap->rs_names[j].rn_group);
			if (j != lo + i && strcmp(route_str(other->rp_job),
			    route_str(pod->rp_job)) == 0) {
				route_why_name(w, pod->rp_namespace);
				route_why_add(w, "/");
				break;
			}
		}
		route_why_name(w, pod->rp_job);
		if (pod->rp_display != NULL || q->rq_admin) {
			route_why_add(w, " (");
			if (pod->rp_display != NULL)
				route_why_name(w, pod->rp_display);
			if (pod->rp_display != NULL && q->rq_admin)
				route_why_add(w, ", ");
			if (q->rq_admin) {
				route_why_add(w, "owner ");
				route_why_name(w, pod->rp_owner);
			}
			route_why_add(w, ")");
		}
	}
	route_why_more(w, shown, hi - lo);
	route_why_add(w, "; use the internal name");
}

/* "worker-1" matches task worker, index 1; anything else must be the
 * full pod name. */
static bool
route_pod_matches(const struct route_pod *pod, const char *want)
{
	const char *dash, *p;
	size_t tasklen;
	long idx;

	if (pod->rp_name != NULL && strcmp(pod->rp_name, want) == 0)
		return true;
	if (pod->rp_task == NULL || pod->rp_index < 0 ||
	    (dash = strrchr(want, '-')) == NULL || dash[1] == '\0')
		return false;
	idx = 0;
	for (p = dash + 1; *p != '\0'; p++) {
		/* Nine digits cannot overflow; more is no index of ours. */
		if (*p < '0' || *p > '9' || p - dash > 9)
			return false;
		idx = idx * 10 + (*p - '0');
	}
	tasklen = (size_t)(dash - want);
	return idx == pod->rp_index && strlen(pod->rp_task) == tasklen &&
	    memcmp(pod->rp_task, want, tasklen) == 0;
}

/* The rule for port, where port 0 means the ssh rule. */
static const struct route_rule *
route_pod_rule(const struct route_pod *pod, uint16_t port)
{
	size_t i;

	if (port == 0) {
		for (i = 0; i < pod->rp_nrules; i++)
			if (strcmp(pod->rp_rules[i].rr_name, "ssh") == 0)
				return &pod->rp_rules[i];
		port = 22;
	}
	for (i = 0; i < pod->rp_nrules; i++)
		if (pod->rp_rules[i].rr_container_port == port)
			return &pod->rp_rules[i];
	return NULL;
}

static enum jg_err
route_why_no_rule(struct route_why *w, const struct route_query *q,
    const struct route_snapshot *snap, uint32_t g, const struct route_pod *pod)
{
	size_t i, shown;

	route_why_target(w, q, snap, g, pod);
	if (pod->rp_nproblems > 0) {
		/* A malformed record probably was the rule they wanted. */
		if (q->rq_port == 0)
			route_why_add(w, " has no usable ssh rule: ");
		else
			route_why_add(w, " has no usable rule for port %u: ",
			    (unsigned)q->rq_port);
		for (i = 0; i < pod->rp_nproblems; i++) {
			if (i > 0)
				route_why_add(w, "; ");
			route_why_add(w, "%s", pod->rp_problems[i]);
		}
		return JG_ERR_MALFORMED;
	}
	route_why_add(w, " has no rule for port %u",
	    q->rq_port == 0 ? 22u : (unsigned)q->rq_port);
	if (pod->rp_nrules == 0) {
		route_why_add(w, "; it has no NodePort rules");
		return JG_ERR_NO_RULE;
	}
	route_why_add(w, "; rules: ");
	shown = pod->rp_nrules < ROUTE_WHY_LIST_MAX ? pod->rp_nrules :
	    ROUTE_WHY_LIST_MAX;
	for (i = 0; i < shown; i++) {
		if (i > 0)
			route_why_add(w, ", ");
		route_why_name(w, pod->rp_rules[i].rr_name);
		route_why_add(w, "(%u)",
		    (unsigned)pod->rp_rules[i].rr_container_port);
	}
	route_why_more(w, shown, pod->rp_nrules);
	return JG_ERR_NO_RULE;
}

static void
route_why_no_pod(struct route_why *w, const struct route_query *q,
    const struct route_snapshot *snap, uint32_t g)
{
	const struct route_group *grp = &snap->rs_groups[g];
	const struct route_pod *first = snap->rs_pods[grp->rg_start];
	size_t i, shown;

	route_why_add(w, "job '");
	route_why_name(w, q->rq_job);
	route_why_add(w, "' of ");
	route_why_name(w, first->rp_owner);
	route_why_add(w, " has no pod '");
	route_why_name(w, q->rq_pod);
	route_why_add(w, "'; its pods: ");
	shown = grp->rg_count < ROUTE_WHY_LIST_MAX ? grp->rg_count :
	    ROUTE_WHY_LIST_MAX;
	for (i = 0; i < shown; i++) {
		if (i > 0)
			route_why_add(w, ", ");
		route_why_pod_name(w, snap->rs_pods[grp->rg_start + i]);
	}
	route_why_more(w, shown, grp->rg_count);
}

enum jg_err
route_lookup(const struct route_snapshot *snap, const struct route_query *q,
    struct route_result *res, char *why, size_t whylen)
{
	struct route_why w = { why, whylen, 0 };
	const struct route_group *grp;
	const struct route_pod *pod = NULL;
	const struct route_rule *rule;
	size_t lo, hi, i;
	uint32_t g;

	if (whylen > 0)
		why[0] = '\0';
	res->rs_pod = NULL;
	res->rs_rule = NULL;
	if (q->rq_user == NULL || q->rq_user[0] == '\0') {
		route_why_add(&w, "no user given");
		return JG_ERR_BAD_NAME;
	}
	if (q->rq_job == NULL || q->rq_job[0] == '\0') {
		route_why_add(&w, "no job name given");
		route_why_jobs(&w, snap, q->rq_user, q->rq_admin);
		return JG_ERR_BAD_NAME;
	}

	route_names_range(snap, q->rq_job, q->rq_admin ? NULL : q->rq_user,
	    &lo, &hi);
	if (lo == hi) {
		route_why_add(&w, "job '");
		route_why_name(&w, q->rq_job);
		route_why_add(&w, "' not found ");
		if (q->rq_admin)
			route_why_add(&w, "in any user's jobs");
		else {
			route_why_add(&w, "for ");
			route_why_name(&w, q->rq_user);
		}
		route_why_jobs(&w, snap, q->rq_user, q->rq_admin);
		return JG_ERR_NOT_FOUND;
	}
	if (hi - lo > 1) {
		route_why_ambiguous(&w, snap, q, lo, hi);
		return JG_ERR_AMBIGUOUS;
	}

	g = snap->rs_names[lo].rn_group;
	grp = &snap->rs_groups[g];
	if (q->rq_pod == NULL || q->rq_pod[0] == '\0')
		pod = snap->rs_pods[grp->rg_start];
	else {
		for (i = 0; i < grp->rg_count && pod == NULL; i++)
			if (route_pod_matches(snap->rs_pods[grp->rg_start + i],
			    q->rq_pod))
				pod = snap->rs_pods[grp->rg_start + i];
		if (pod == NULL) {
			route_why_no_pod(&w, q, snap, g);
			return JG_ERR_NOT_FOUND;
		}
	}

	if (!route_pod_is_running(pod)) {
		route_why_target(&w, q, snap, g, pod);
		route_why_add(&w, " is not running (phase ");
		route_why_name(&w, pod->rp_phase == NULL ? "unknown" :
		    pod->rp_phase);
		route_why_add(&w, ")");
		return JG_ERR_NOT_RUNNING;
	}
	if ((rule = route_pod_rule(pod, q->rq_port)) == NULL)
		return route_why_no_rule(&w, q, snap, g, pod);
	res->rs_pod = pod;
	res->rs_rule = rule;
	return JG_OK;
}
