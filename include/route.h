/*
 * route.h: the route table: which pods exist, who owns them, and where each
 * of their NodePort rules lands.  Route sources (static file, Kubernetes)
 * build immutable snapshots and publish them; SSH workers acquire the
 * current snapshot and look up owner + job (+ pod) in it.  A lookup never
 * waits for a source: publishing swaps one pointer under a lock held for
 * a few instructions, and a snapshot stays valid until its last release.
 *
 * Pods are immutable and reference-counted, so a source that rebuilds the
 * snapshot after one event shares every unchanged pod with the old one.
 */
#ifndef JG_ROUTE_H
#define JG_ROUTE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "err.h"

#define ROUTE_RULE_NAME_MAX	63
#define ROUTE_ADDR_MAX		INET6_ADDRSTRLEN

enum route_origin {
	ROUTE_ORIGIN_ANNOTATION = 0,	/* nodeport.crater.raids.io/<rule> */
	ROUTE_ORIGIN_SSH_ENABLED,	/* crater.raids.io/ssh-enabled */
	ROUTE_ORIGIN_SERVICE,		/* NodePort Service */
};

struct route_rule {
	char		rr_name[ROUTE_RULE_NAME_MAX + 1]; /* "ssh" */
	uint16_t	rr_container_port;	/* 22 */
	char		rr_address[ROUTE_ADDR_MAX]; /* IP literal */
	uint16_t	rr_node_port;		/* 30000-32767 usually */
	enum route_origin rr_origin;
};

/*
 * One pod as routing sees it.  Every string is owned by the pod; optional
 * ones may be NULL.  Build with route_pod_new() and the setters, then treat
 * as read-only once placed in a snapshot.
 */
struct route_pod {
	char	*rp_namespace;
	char	*rp_name;		/* jpt-alice-251110-ab12c-default0-0 */
	char	*rp_owner;		/* alice */
	char	*rp_job;		/* internal: jpt-alice-251110-ab12c */
	char	*rp_display;		/* display name, free text, or NULL */
	char	*rp_alias;		/* typeable alias of rp_display, or NULL */
	char	*rp_base_url;		/* alice-251110-ab12c, or NULL */
	char	*rp_task;		/* default0, master, worker; or NULL */
	int	 rp_index;		/* pod index within its task, or -1 */
	char	*rp_phase;		/* Running, Pending, ... */
	char	*rp_host_ip;		/* status.hostIP, or NULL */
	char	*rp_version;		/* resourceVersion, or NULL */
	char	*rp_host_key;		/* pinned pod host key, or NULL */
	struct route_rule *rp_rules;
	size_t	 rp_nrules;
	/*
	 * What was wrong with this pod's route data, one sentence each, e.g.
	 * "annotation nodeport.crater.raids.io/ssh: nodePort: expected an
	 * integer 1..65535, got \"abc\"".  Shown when a lookup fails for want
	 * of a rule that a malformed record would have provided.
	 */
	char	**rp_problems;
	size_t	 rp_nproblems;
	atomic_int rp_refs;		/* managed by ref/unref only */
};

/* A new pod with one reference and everything NULL/empty. */
struct route_pod *route_pod_new(void);
struct route_pod *route_pod_ref(struct route_pod *pod);
void	route_pod_unref(struct route_pod *pod);	/* NULL is a no-op */
/* Copies the rule in.  JG_ERR_NOMEM on allocation failure. */
enum jg_err route_pod_add_rule(struct route_pod *pod,
	    const struct route_rule *rule);
/* Copies the sentence in. */
enum jg_err route_pod_add_problem(struct route_pod *pod, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * True when name can be typed as an SSH host name: 1..NAME_JOB_MAX of
 * [A-Za-z0-9._-], not starting with '-' or '.'.
 */
bool	route_name_typeable(const char *name);

/*
 * The stable typeable alias of a display name that cannot be typed as it
 * is ("my job #2" -> "my-job-2"): ASCII letters and digits lower-cased,
 * every other run of ASCII turned into one '-'.  NULL (errno 0) when the
 * name holds non-ASCII text, which has no faithful ASCII spelling: such
 * jobs are typed by base-url or internal name.  NULL with errno ENOMEM on
 * allocation failure.  Caller frees.
 */
char	*route_make_alias(const char *display);

/*
 * The name a user should type for pod's job: its display name when that
 * is typeable, else the alias, else the base-url, else the internal name.
 */
const char *route_pod_typeable_name(const struct route_pod *pod);

/* True when the pod can take connections (phase Running). */
bool	route_pod_is_running(const struct route_pod *pod);

/* An immutable set of pods with an index by owner. */
struct route_snapshot;

/*
 * Builds a snapshot from pods.  Takes one new reference on each pod (the
 * caller keeps its own).  stamp_ms is a CLOCK_MONOTONIC time in ms: when the
 * source last heard from its origin, for staleness reports.  NULL on ENOMEM.
 */
struct route_snapshot *route_snapshot_new(struct route_pod *const *pods,
	    size_t npods, uint64_t stamp_ms);
void	route_snapshot_release(struct route_snapshot *snap); /* NULL ok */
size_t	route_snapshot_count(const struct route_snapshot *snap);
const struct route_pod *route_snapshot_pod(const struct route_snapshot *snap,
	    size_t i);
uint64_t route_snapshot_stamp_ms(const struct route_snapshot *snap);

/* Holds the current snapshot.  Any thread. */
struct route_table;

struct route_table *route_table_new(void);	/* starts with no pods */
void	route_table_free(struct route_table *table);
/* Takes ownership of snap and drops the table's hold on the previous one.
 * NULL is ignored: a source that failed to build keeps the last set. */
void	route_table_publish(struct route_table *table,
	    struct route_snapshot *snap);
/* Never NULL.  The caller must route_snapshot_release() it.  Never blocks
 * on a source: the lock guards a pointer load and a reference increment. */
struct route_snapshot *route_table_acquire(struct route_table *table);

/*
 * Sources report whether they can reach their origin (the Kubernetes API
 * server): up on every success, down with the time of the last success
 * on a failure.  A new table is up.  Any thread.
 */
void	route_table_set_source_state(struct route_table *table, bool up,
	    uint64_t last_contact_ms);
/* 0 while the source is up; else how old the route data is, in ms
 * (now_ms and the contact time are CLOCK_MONOTONIC). */
uint64_t route_table_staleness_ms(struct route_table *table,
	    uint64_t now_ms);

/* What a lookup asks for. */
struct route_query {
	const char	*rq_user;	/* authenticated gateway user */
	bool		 rq_admin;	/* may reach any owner's jobs */
	const char	*rq_job;	/* internal, display or base-url name */
	const char	*rq_pod;	/* "worker-1", full pod name, or NULL */
	uint16_t	 rq_port;	/* container port; 0 = the ssh rule */
};

/* What a successful lookup returns.  Valid while the snapshot is held. */
struct route_result {
	const struct route_pod	*rs_pod;
	const struct route_rule	*rs_rule;
};

#define ROUTE_WHY_MAX	1024

/*
 * Resolves q in snap.  On JG_OK fills *res.  On failure returns the reason
 * and writes a sentence for the user into why (ROUTE_WHY_MAX is enough),
 * without the "jumpgate: " prefix, e.g.
 *   JG_ERR_NOT_FOUND   job 'x' not found for alice; your jobs: a, b
 *   JG_ERR_AMBIGUOUS   job name 'train' matches 2 jobs of alice: ...
 *   JG_ERR_NOT_RUNNING job 'x' of alice is not running (phase Pending)
 *   JG_ERR_NO_RULE     job 'x' of alice has no rule for port 22; ...
 *   JG_ERR_MALFORMED   job 'x' of alice has no usable ssh rule: ...
 * The port-0 ssh rule is the one named "ssh", else the one whose container
 * port is 22.  A pod is picked by task-index ("worker-1") or full name;
 * by default the first pod in task, then index order.  A job is the pods
 * sharing namespace, internal job name and owner; a name that matches
 * several jobs is ambiguous even when they differ only by namespace.
 * Pure; any thread.
 */
enum jg_err route_lookup(const struct route_snapshot *snap,
	    const struct route_query *q, struct route_result *res,
	    char *why, size_t whylen);

/*
 * Lists the distinct jobs user owns (every owner's when admin), sorted,
 * each as its internal name.  Fills names[0..max) with pointers into the
 * snapshot and returns how many jobs there are in all (may exceed max).
 */
size_t	route_list_jobs(const struct route_snapshot *snap, const char *user,
	    bool admin, const char **names, size_t max);

#endif /* JG_ROUTE_H */
