/*
 * source_kube.c: the Kubernetes route source.  One thread drives every
 * list and watch through one libcurl multi handle, keeps the objects in
 * hash maps and publishes a whole route snapshot after each batch of
 * changes.  One thread and one multi handle because the maps then have a
 * single owner and need no lock, events from all streams that arrive
 * together coalesce into one rebuild for free, and the streams are few
 * (two per namespace) so one poll loop is never the bottleneck.
 * start/stop/reload/check run on the main thread, status on any; all
 * else on the source's thread.  Never touches an SSH worker.
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <curl/curl.h>

#include "kube_client.h"
#include "kube_watch.h"
#include "log.h"
#include "podmeta.h"
#include "podmeta_json.h"
#include "source_kube.h"

/* Objects per list page: the API server's own recommendation. */
#define KUBE_LIST_LIMIT		500
/* One list page of 500 objects; etcd caps an object at 1.5 MiB, and a
 * real page of pods is a few MiB. */
#define KUBE_LIST_MAX_BYTES	(64u * 1024 * 1024)
/* The body of an error answer: a Status is a few hundred bytes. */
#define KUBE_ERROR_BODY_MAX	(64u * 1024)
/*
 * Batching: rebuild once the streams have been quiet for KUBE_QUIET_MS,
 * or KUBE_BATCH_MAX_MS after the first unpublished change even if events
 * keep coming.  With a rebuild of a few ms at 10,000 pods a change is
 * routable well within 100 ms of arriving.
 */
#define KUBE_QUIET_MS		5
#define KUBE_BATCH_MAX_MS	40
/* Reconnect backoff: 250 ms doubling to backoff_max_ms, jittered down to
 * half so that many gateways do not reconnect in step. */
#define KUBE_BACKOFF_BASE_MS	250
/* A watch that ends sooner than this with no event is suspicious: a
 * server (or proxy) doing that every time would be hammered otherwise. */
#define KUBE_WATCH_QUICK_MS	1000
/* "Still unreachable" at most once a minute. */
#define KUBE_STALE_LOG_MS	60000
/*
 * Nodes are listed, not watched (the gateway gets only get/list on
 * them): node addresses change rarely, a minute late is fine.
 */
#define KUBE_NODE_POLL_MS	60000
/* A quiet but healthy watch still refreshes the snapshot's stamp. */
#define KUBE_STAMP_REFRESH_MS	30000
/* More changed Services than this in one batch: re-resolve every pod
 * rather than keep a longer list (memory stays bounded). */
#define KUBE_SVC_CHANGED_MAX	4096
#define KUBE_ECHO_MAX		100
#define KUBE_ECHO_BUF		(KUBE_ECHO_MAX * 4 + 4)
#define KUBE_MSG_MAX		512

enum kube_kind {
	KUBE_KIND_POD = 0,
	KUBE_KIND_SERVICE,
	KUBE_KIND_NODE,
	KUBE_KIND_MAX
};

static const char *const kube_resources[KUBE_KIND_MAX] = {
	[KUBE_KIND_POD] = "pods",
	[KUBE_KIND_SERVICE] = "services",
	[KUBE_KIND_NODE] = "nodes",
};

/* One object of any kind, in its kind's map. */
struct kube_obj {
	struct kube_obj	*ko_next;	/* hash chain */
	char		*ko_key;	/* "namespace/name"; nodes: name */
	uint64_t	 ko_hash;
	char		*ko_version;	/* resourceVersion, or NULL */
	uint32_t	 ko_epoch;	/* the list epoch that last saw it */
	union {
		struct podmeta_pod	*pod;
		struct podmeta_service	*svc;
		struct podmeta_node	*node;
	} ko_u;
	/* Pods only. */
	struct route_pod *ko_route;	/* last resolution, NULL = no route */
	bool		 ko_dirty;	/* re-resolve at the next rebuild */
	uint64_t	 ko_logged;	/* hash of the problems last logged */
};

struct kube_map {
	struct kube_obj	**km_buckets;
	size_t		 km_nbuckets;	/* a power of two */
	size_t		 km_count;
};

/* A NodePort Service under the hash of its first selector pair. */
struct kube_svc_ix {
	uint64_t		 si_hash;
	struct podmeta_service	*si_svc;
};

enum kube_stream_state {
	KUBE_STREAM_IDLE = 0,	/* nothing in flight; starts at st_due_ms */
	KUBE_STREAM_LIST,	/* one page of a list is in flight */
	KUBE_STREAM_WATCH,	/* a watch is in flight */
};

/* One collection (a kind in a namespace, or cluster-wide). */
struct kube_stream {
	struct source_kube *st_src;
	enum kube_kind	 st_kind;
	const char	*st_ns;		/* NULL = every namespace */
	char		 st_what[160];	/* "pods in crater-workspace" */
	enum kube_stream_state st_state;
	bool		 st_need_list;	/* the next start is a list */
	bool		 st_synced;	/* a list has completed */
	bool		 st_open;	/* the watch answered 200 */
	bool		 st_relist;	/* the watch lost track: list again */
	bool		 st_down;	/* the last request failed */
	char		 st_why[KUBE_MSG_MAX]; /* why relisting */
	char		*st_rv;		/* resourceVersion to watch from */
	char		*st_continue;	/* next list page */
	uint32_t	 st_epoch;	/* of the list in progress or done */
	uint64_t	 st_due_ms;
	uint32_t	 st_failures;	/* failed requests in a row */
	uint32_t	 st_relists;	/* relists in a row, no event between */
	uint32_t	 st_quick;	/* empty watches ended early, in a row */
	uint64_t	 st_started_ms;	/* when the request went out */
	uint64_t	 st_events;	/* events in this watch */
	CURL		*st_easy;
	struct curl_slist *st_headers;
	long		 st_status;	/* HTTP status, 0 until known */
	struct kube_watch *st_parser;
	char		*st_body;	/* list page or error answer */
	size_t		 st_len;
	size_t		 st_size;
	size_t		 st_max;
	bool		 st_over;	/* the body passed st_max */
	char		 st_errbuf[CURL_ERROR_SIZE];
};

struct source_kube {
	const struct config		*sk_cfg;
	const struct config_kubernetes	*sk_kc;
	const struct config_naming	*sk_naming;
	struct route_table	*sk_table;
	struct kube_creds	*sk_creds;
	CURLM			*sk_multi;
	struct kube_stream	*sk_streams;
	size_t			 sk_nstreams;
	struct kube_map		 sk_maps[KUBE_KIND_MAX];
	uint32_t		 sk_epoch;
	uint64_t		 sk_rng;

	/* Batching, on the source's thread. */
	bool			 sk_changed;	/* a snapshot is due */
	uint64_t		 sk_changed_ms;	/* first unpublished change */
	uint64_t		 sk_data_ms;	/* last bytes received */
	bool			 sk_all_dirty;
	uint64_t		*sk_svc_changed; /* selector hashes */
	size_t			 sk_nsvc_changed;
	uint64_t		*sk_node_changed; /* node name hashes */
	size_t			 sk_nnode_changed;
	size_t			 sk_node_changed_size;
	struct kube_svc_ix	*sk_svc_ix;
	size_t			 sk_nsvc_ix;
	bool			 sk_svc_ix_stale;
	const struct podmeta_service **sk_cand;	/* per-pod candidates */
	size_t			 sk_cand_size;
	struct route_pod	**sk_rps;	/* snapshot being built */
	size_t			 sk_rps_size;
	bool			 sk_all_synced;
	uint64_t		 sk_published_stamp;
	uint64_t		 sk_contact_ms;	/* last good answer */
	uint64_t		 sk_stale_log_ms;
	uint64_t		 sk_down_since_ms; /* 0 = all streams fine */
	uint64_t		 sk_token_due_ms;
	bool			 sk_token_now;	/* after a 401 */

	/* Shared with the main thread. */
	pthread_t		 sk_thread;
	bool			 sk_thread_started;
	atomic_bool		 sk_stop;
	atomic_bool		 sk_reload;
	atomic_bool		 sk_publish_anyway; /* start stopped waiting */
	pthread_mutex_t		 sk_lock;
	pthread_cond_t		 sk_cond;
	bool			 sk_first_sync;	/* under sk_lock */
	struct source_kube_status sk_status;	/* under sk_lock */
};

static uint64_t
kube_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t
kube_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* This thread's CPU time: the cost of a rebuild, whatever the load. */
static uint64_t
kube_cpu_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == -1)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* FNV-1a over the strings, each with its terminator. */
static uint64_t
kube_hash(const char *a, const char *b, const char *c)
{
	const char *parts[3] = { a, b, c };
	uint64_t h = 14695981039346656037ULL;
	const unsigned char *p;
	size_t i;

	for (i = 0; i < 3 && parts[i] != NULL; i++) {
		for (p = (const unsigned char *)parts[i]; *p != '\0'; p++) {
			h ^= *p;
			h *= 1099511628211ULL;
		}
		h ^= 0xff;
		h *= 1099511628211ULL;
	}
	return h;
}

static int
kube_u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static bool
kube_u64_has(const uint64_t *v, size_t n, uint64_t h)
{
	return n > 0 && bsearch(&h, v, n, sizeof(*v), kube_u64_cmp) != NULL;
}

/* xorshift64*: jitter only, not security. */
static uint64_t
kube_random(struct source_kube *src)
{
	src->sk_rng ^= src->sk_rng >> 12;
	src->sk_rng ^= src->sk_rng << 25;
	src->sk_rng ^= src->sk_rng >> 27;
	return src->sk_rng * 2685821657736338717ULL;
}

/* ---- Object maps. */

static void
kube_obj_free(struct kube_obj *o, enum kube_kind kind)
{
	switch (kind) {
	case KUBE_KIND_POD:
		podmeta_pod_free(o->ko_u.pod);
		route_pod_unref(o->ko_route);
		break;
	case KUBE_KIND_SERVICE:
		podmeta_service_free(o->ko_u.svc);
		break;
	case KUBE_KIND_NODE:
		podmeta_node_free(o->ko_u.node);
		break;
	case KUBE_KIND_MAX:
		break;
	}
	free(o->ko_key);
	free(o->ko_version);
	free(o);
}

static struct kube_obj *
kube_map_find(const struct kube_map *m, const char *key, uint64_t h)
{
	struct kube_obj *o;

	if (m->km_nbuckets == 0)
		return NULL;
	for (o = m->km_buckets[h & (m->km_nbuckets - 1)]; o != NULL;
	    o = o->ko_next)
		if (o->ko_hash == h && strcmp(o->ko_key, key) == 0)
			return o;
	return NULL;
}

static bool
kube_map_grow(struct kube_map *m)
{
	struct kube_obj **nb, *o, *next;
	size_t n, i;

	n = m->km_nbuckets != 0 ? m->km_nbuckets * 2 : 256;
	if ((nb = calloc(n, sizeof(*nb))) == NULL)
		return false;
	for (i = 0; i < m->km_nbuckets; i++)
		for (o = m->km_buckets[i]; o != NULL; o = next) {
			next = o->ko_next;
			o->ko_next = nb[o->ko_hash & (n - 1)];
			nb[o->ko_hash & (n - 1)] = o;
		}
	free(m->km_buckets);
	m->km_buckets = nb;
	m->km_nbuckets = n;
	return true;
}

static bool
kube_map_insert(struct kube_map *m, struct kube_obj *o)
{
	size_t b;

	/* Load factor at most 1; a failed grow keeps the table working. */
	if (m->km_count >= m->km_nbuckets && !kube_map_grow(m) &&
	    m->km_nbuckets == 0)
		return false;
	b = o->ko_hash & (m->km_nbuckets - 1);
	o->ko_next = m->km_buckets[b];
	m->km_buckets[b] = o;
	m->km_count++;
	return true;
}

static void
kube_map_unlink(struct kube_map *m, struct kube_obj *o)
{
	struct kube_obj **pp;

	for (pp = &m->km_buckets[o->ko_hash & (m->km_nbuckets - 1)];
	    *pp != NULL; pp = &(*pp)->ko_next)
		if (*pp == o) {
			*pp = o->ko_next;
			m->km_count--;
			return;
		}
}

static void
kube_map_clear(struct kube_map *m, enum kube_kind kind)
{
	struct kube_obj *o, *next;
	size_t i;

	for (i = 0; i < m->km_nbuckets; i++)
		for (o = m->km_buckets[i]; o != NULL; o = next) {
			next = o->ko_next;
			kube_obj_free(o, kind);
		}
	free(m->km_buckets);
	memset(m, 0, sizeof(*m));
}

/* ---- Status shared with the main thread. */

static void
kube_status_update(struct source_kube *src)
{
	struct source_kube_status *s = &src->sk_status;
	size_t i;
	bool open = src->sk_nstreams > 0;

	for (i = 0; i < src->sk_nstreams; i++)
		if (src->sk_streams[i].st_kind != KUBE_KIND_NODE &&
		    !src->sk_streams[i].st_open)
			open = false;
	pthread_mutex_lock(&src->sk_lock);
	s->ks_synced = src->sk_all_synced;
	s->ks_connected = open;
	s->ks_pods = src->sk_maps[KUBE_KIND_POD].km_count;
	s->ks_services = src->sk_maps[KUBE_KIND_SERVICE].km_count;
	pthread_mutex_unlock(&src->sk_lock);
}

static void
kube_status_count(struct source_kube *src, uint64_t *counter)
{
	pthread_mutex_lock(&src->sk_lock);
	(*counter)++;
	pthread_mutex_unlock(&src->sk_lock);
}

static void
kube_mark_changed(struct source_kube *src)
{
	uint64_t now = kube_now_ms();

	if (!src->sk_changed) {
		src->sk_changed = true;
		src->sk_changed_ms = now;
	}
}

/* ---- Applying objects. */

static bool
kube_note_node(struct source_kube *src, const char *name)
{
	uint64_t *nv;
	size_t n;

	if (src->sk_nnode_changed == src->sk_node_changed_size) {
		n = src->sk_node_changed_size != 0 ?
		    src->sk_node_changed_size * 2 : 64;
		if ((nv = reallocarray(src->sk_node_changed, n,
		    sizeof(*nv))) == NULL) {
			src->sk_all_dirty = true;
			return false;
		}
		src->sk_node_changed = nv;
		src->sk_node_changed_size = n;
	}
	src->sk_node_changed[src->sk_nnode_changed++] = kube_hash(name, NULL,
	    NULL);
	return true;
}

/* A Service changed: pods it selected, or selects now, need resolving. */
static void
kube_note_service(struct source_kube *src, const struct podmeta_service *svc)
{
	if (svc == NULL || svc->nselector == 0)
		return;
	src->sk_svc_ix_stale = true;
	if (src->sk_all_dirty)
		return;
	if (src->sk_svc_changed == NULL && (src->sk_svc_changed = calloc(
	    KUBE_SVC_CHANGED_MAX, sizeof(*src->sk_svc_changed))) == NULL) {
		src->sk_all_dirty = true;
		return;
	}
	if (src->sk_nsvc_changed == KUBE_SVC_CHANGED_MAX) {
		src->sk_all_dirty = true;
		return;
	}
	/* Any selecting Service matches its first pair; over-marking a pod
	 * costs one resolve, never a wrong route. */
	src->sk_svc_changed[src->sk_nsvc_changed++] = kube_hash(
	    svc->namespace, svc->selector[0].key, svc->selector[0].value);
}

static void
kube_remove(struct source_kube *src, enum kube_kind kind, struct kube_obj *o)
{
	kube_map_unlink(&src->sk_maps[kind], o);
	if (kind == KUBE_KIND_SERVICE)
		kube_note_service(src, o->ko_u.svc);
	else if (kind == KUBE_KIND_NODE)
		kube_note_node(src, o->ko_key);
	kube_obj_free(o, kind);
	kube_mark_changed(src);
}

static void
kube_key(char *buf, size_t len, enum kube_kind kind, const char *ns,
    const char *name)
{
	if (kind == KUBE_KIND_NODE)
		jg_detail(buf, len, "%s", name);
	else
		jg_detail(buf, len, "%s/%s", ns != NULL ? ns : "default", name);
}

static void
kube_delete(struct kube_stream *st, const cJSON *obj)
{
	struct source_kube *src = st->st_src;
	const char *ns, *name;
	char key[512];
	struct kube_obj *o;

	podmeta_json_meta(obj, &ns, &name, NULL);
	if (name == NULL)
		return;
	kube_key(key, sizeof(key), st->st_kind, ns, name);
	o = kube_map_find(&src->sk_maps[st->st_kind], key,
	    kube_hash(key, NULL, NULL));
	if (o != NULL)
		kube_remove(src, st->st_kind, o);
}

/*
 * An object was added or modified (or listed).  The same resourceVersion
 * as held means nothing changed: a relist of 10,000 pods re-resolves none.
 */
static void
kube_upsert(struct kube_stream *st, const cJSON *obj)
{
	struct source_kube *src = st->st_src;
	struct kube_map *m = &src->sk_maps[st->st_kind];
	struct podmeta_pod *pod = NULL;
	struct podmeta_service *svc = NULL;
	struct podmeta_node *node = NULL;
	struct kube_obj *o;
	const char *ns, *name, *rv;
	char key[512], err[KUBE_MSG_MAX], esc[KUBE_ECHO_BUF];
	char nesc[KUBE_ECHO_BUF];
	enum jg_err r = JG_OK;
	uint64_t h;
	bool addr_changed;

	podmeta_json_meta(obj, &ns, &name, &rv);
	if (name == NULL) {
		log_warn("kubernetes: %s: an object without metadata.name "
		    "ignored", st->st_what);
		return;
	}
	kube_key(key, sizeof(key), st->st_kind, ns, name);
	h = kube_hash(key, NULL, NULL);
	o = kube_map_find(m, key, h);
	if (o != NULL && rv != NULL && o->ko_version != NULL &&
	    strcmp(rv, o->ko_version) == 0) {
		o->ko_epoch = st->st_epoch;
		return;
	}
	switch (st->st_kind) {
	case KUBE_KIND_POD:
		r = podmeta_json_pod(obj, &pod, err, sizeof(err));
		break;
	case KUBE_KIND_SERVICE:
		r = podmeta_json_service(obj, &svc, err, sizeof(err));
		/* Only NodePort Services route; a Service that stops being
		 * one is as good as deleted. */
		if (r == JG_OK && strcmp(svc->type, "NodePort") != 0) {
			podmeta_service_free(svc);
			if (o != NULL)
				kube_remove(src, st->st_kind, o);
			return;
		}
		break;
	case KUBE_KIND_NODE:
		r = podmeta_json_node(obj, &node, err, sizeof(err));
		break;
	case KUBE_KIND_MAX:
		return;
	}
	if (r != JG_OK) {
		/* An API server does not send these; if one does, the
		 * object is unusable, so it routes nowhere. */
		log_warn("kubernetes: %s: %s %s (resourceVersion %s) "
		    "ignored: %s", st->st_what, kube_resources[st->st_kind],
		    log_escape(nesc, sizeof(nesc), key, KUBE_ECHO_MAX),
		    log_escape(esc, sizeof(esc), rv != NULL ? rv : "none", 40),
		    err);
		if (o != NULL)
			kube_remove(src, st->st_kind, o);
		return;
	}
	if (o == NULL) {
		if ((o = calloc(1, sizeof(*o))) == NULL ||
		    (o->ko_key = strdup(key)) == NULL) {
			free(o);
			goto nomem;
		}
		o->ko_hash = h;
		if (!kube_map_insert(m, o)) {
			free(o->ko_key);
			free(o);
			goto nomem;
		}
	}
	free(o->ko_version);
	o->ko_version = rv != NULL ? strdup(rv) : NULL;
	o->ko_epoch = st->st_epoch;
	switch (st->st_kind) {
	case KUBE_KIND_POD:
		podmeta_pod_free(o->ko_u.pod);
		o->ko_u.pod = pod;
		o->ko_dirty = true;
		kube_mark_changed(src);
		break;
	case KUBE_KIND_SERVICE:
		kube_note_service(src, o->ko_u.svc);
		podmeta_service_free(o->ko_u.svc);
		o->ko_u.svc = svc;
		kube_note_service(src, svc);
		kube_mark_changed(src);
		break;
	case KUBE_KIND_NODE:
		addr_changed = o->ko_u.node == NULL ||
		    (o->ko_u.node->address == NULL) != (node->address == NULL) ||
		    (node->address != NULL && strcmp(node->address,
		    o->ko_u.node->address) != 0);
		podmeta_node_free(o->ko_u.node);
		o->ko_u.node = node;
		if (addr_changed) {
			kube_note_node(src, key);
			kube_mark_changed(src);
		}
		break;
	case KUBE_KIND_MAX:
		break;
	}
	return;
 nomem:
	podmeta_pod_free(pod);
	podmeta_service_free(svc);
	podmeta_node_free(node);
	log_error("kubernetes: %s: out of memory keeping %s", st->st_what,
	    log_escape(nesc, sizeof(nesc), key, KUBE_ECHO_MAX));
}

/* Objects of st's scope that its last list did not return are gone. */
static void
kube_sweep(struct kube_stream *st)
{
	struct source_kube *src = st->st_src;
	struct kube_map *m = &src->sk_maps[st->st_kind];
	struct kube_obj *o, *next;
	size_t i, nslen;

	nslen = st->st_ns != NULL ? strlen(st->st_ns) : 0;
	for (i = 0; i < m->km_nbuckets; i++)
		for (o = m->km_buckets[i]; o != NULL; o = next) {
			next = o->ko_next;
			if (o->ko_epoch == st->st_epoch)
				continue;
			if (st->st_ns != NULL && (strncmp(o->ko_key, st->st_ns,
			    nslen) != 0 || o->ko_key[nslen] != '/'))
				continue;
			kube_remove(src, st->st_kind, o);
		}
}

static void
kube_set_rv(struct kube_stream *st, const char *rv)
{
	char *copy;

	if (rv == NULL || rv[0] == '\0')
		return;
	if ((copy = strdup(rv)) == NULL)
		return;		/* the old one still resumes, maybe a 410 */
	free(st->st_rv);
	st->st_rv = copy;
}

/* ---- Rebuild and publish. */

static const char *
kube_node_address(const char *node_name, void *arg)
{
	struct source_kube *src = arg;
	struct kube_obj *o;

	o = kube_map_find(&src->sk_maps[KUBE_KIND_NODE], node_name,
	    kube_hash(node_name, NULL, NULL));
	return o != NULL ? o->ko_u.node->address : NULL;
}

static int
kube_svc_ix_cmp(const void *a, const void *b)
{
	const struct kube_svc_ix *x = a, *y = b;

	return x->si_hash < y->si_hash ? -1 : x->si_hash > y->si_hash;
}

static bool
kube_svc_index(struct source_kube *src)
{
	struct kube_map *m = &src->sk_maps[KUBE_KIND_SERVICE];
	struct kube_svc_ix *ix;
	struct kube_obj *o;
	size_t i, n = 0;

	if ((ix = calloc(m->km_count + 1, sizeof(*ix))) == NULL)
		return false;
	for (i = 0; i < m->km_nbuckets; i++)
		for (o = m->km_buckets[i]; o != NULL; o = o->ko_next) {
			if (o->ko_u.svc->nselector == 0)
				continue;
			ix[n].si_hash = kube_hash(o->ko_u.svc->namespace,
			    o->ko_u.svc->selector[0].key,
			    o->ko_u.svc->selector[0].value);
			ix[n++].si_svc = o->ko_u.svc;
		}
	qsort(ix, n, sizeof(*ix), kube_svc_ix_cmp);
	free(src->sk_svc_ix);
	src->sk_svc_ix = ix;
	src->sk_nsvc_ix = n;
	src->sk_svc_ix_stale = false;
	return true;
}

/* The Services that may select pod: those keyed by one of its labels. */
static size_t
kube_candidates(struct source_kube *src, const struct podmeta_pod *pod)
{
	const struct podmeta_service **nc;
	struct kube_svc_ix key, *hit;
	size_t i, n = 0, lo, hi, mid, k;

	for (i = 0; i < pod->nlabels && src->sk_nsvc_ix > 0; i++) {
		key.si_hash = kube_hash(pod->namespace, pod->labels[i].key,
		    pod->labels[i].value);
		/* Lower bound: several Services may share a first pair. */
		lo = 0;
		hi = src->sk_nsvc_ix;
		while (lo < hi) {
			mid = lo + (hi - lo) / 2;
			if (src->sk_svc_ix[mid].si_hash < key.si_hash)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (hit = &src->sk_svc_ix[lo]; hit < src->sk_svc_ix +
		    src->sk_nsvc_ix && hit->si_hash == key.si_hash; hit++) {
			for (k = 0; k < n; k++)
				if (src->sk_cand[k] == hit->si_svc)
					break;
			if (k < n)
				continue;
			if (n == src->sk_cand_size) {
				nc = reallocarray(src->sk_cand, n + 16,
				    sizeof(*nc));
				if (nc == NULL)
					return n;
				src->sk_cand = nc;
				src->sk_cand_size = n + 16;
			}
			src->sk_cand[n++] = hit->si_svc;
		}
	}
	return n;
}

/* Which pods the changed Services and Nodes touch. */
static void
kube_mark_dirty(struct source_kube *src)
{
	struct kube_map *m = &src->sk_maps[KUBE_KIND_POD];
	const struct podmeta_pod *pod;
	struct kube_obj *o;
	size_t i, j;

	if (src->sk_nsvc_changed > 0)
		qsort(src->sk_svc_changed, src->sk_nsvc_changed,
		    sizeof(uint64_t), kube_u64_cmp);
	if (src->sk_nnode_changed > 0)
		qsort(src->sk_node_changed, src->sk_nnode_changed,
		    sizeof(uint64_t), kube_u64_cmp);
	if (!src->sk_all_dirty && src->sk_nsvc_changed == 0 &&
	    src->sk_nnode_changed == 0)
		return;
	for (i = 0; i < m->km_nbuckets; i++)
		for (o = m->km_buckets[i]; o != NULL; o = o->ko_next) {
			pod = o->ko_u.pod;
			if (o->ko_dirty)
				continue;
			if (src->sk_all_dirty) {
				o->ko_dirty = true;
				continue;
			}
			if (pod->node_name != NULL && kube_u64_has(
			    src->sk_node_changed, src->sk_nnode_changed,
			    kube_hash(pod->node_name, NULL, NULL))) {
				o->ko_dirty = true;
				continue;
			}
			for (j = 0; j < pod->nlabels && src->sk_nsvc_changed >
			    0; j++)
				if (kube_u64_has(src->sk_svc_changed,
				    src->sk_nsvc_changed, kube_hash(
				    pod->namespace, pod->labels[j].key,
				    pod->labels[j].value))) {
					o->ko_dirty = true;
					break;
				}
		}
	src->sk_all_dirty = false;
	src->sk_nsvc_changed = 0;
	src->sk_nnode_changed = 0;
}

static uint64_t
kube_problems_hash(const struct route_pod *rp)
{
	uint64_t h = 14695981039346656037ULL;
	const unsigned char *p;
	size_t i;

	for (i = 0; i < rp->rp_nproblems; i++) {
		for (p = (const unsigned char *)rp->rp_problems[i]; *p != '\0';
		    p++) {
			h ^= *p;
			h *= 1099511628211ULL;
		}
		h ^= 0xff;
		h *= 1099511628211ULL;
	}
	return h == 0 ? 1 : h;
}

/*
 * A malformed record is logged once per object and set of problems (not
 * per login, not per rebuild); the pod's other rules still route.  A pod
 * that is not running yet is not logged: a Pending pod has no hostIP, so
 * a Service rule would be "malformed" for a moment on every job start.
 */
static void
kube_log_problems(struct kube_obj *o)
{
	const struct route_pod *rp = o->ko_route;
	char esc[KUBE_ECHO_BUF], vesc[64];
	uint64_t h;
	size_t i;

	if (rp == NULL || rp->rp_nproblems == 0) {
		o->ko_logged = 0;
		return;
	}
	if (!route_pod_is_running(rp))
		return;
	if ((h = kube_problems_hash(rp)) == o->ko_logged)
		return;
	o->ko_logged = h;
	log_escape(esc, sizeof(esc), o->ko_key, KUBE_ECHO_MAX);
	log_escape(vesc, sizeof(vesc), o->ko_version != NULL ? o->ko_version :
	    "none", 40);
	for (i = 0; i < rp->rp_nproblems; i++)
		log_warn("kubernetes: pod %s (resourceVersion %s): %s", esc,
		    vesc, rp->rp_problems[i]);
}

static void
kube_rebuild(struct source_kube *src)
{
	struct kube_map *m = &src->sk_maps[KUBE_KIND_POD];
	struct route_snapshot *snap;
	struct route_pod *rp, **nr;
	struct kube_obj *o;
	char esc[KUBE_ECHO_BUF];
	uint64_t t0, t1, t2, c0, now;
	size_t i, n = 0, nres = 0, ncand;
	enum jg_err r;

	t0 = kube_now_us();
	c0 = kube_cpu_us();
	if (src->sk_svc_ix_stale && !kube_svc_index(src))
		return;		/* retried at the next batch */
	kube_mark_dirty(src);
	if (src->sk_rps_size < m->km_count + 1) {
		if ((nr = reallocarray(src->sk_rps, m->km_count + 1,
		    sizeof(*nr))) == NULL)
			return;
		src->sk_rps = nr;
		src->sk_rps_size = m->km_count + 1;
	}
	for (i = 0; i < m->km_nbuckets; i++)
		for (o = m->km_buckets[i]; o != NULL; o = o->ko_next) {
			if (o->ko_dirty) {
				ncand = kube_candidates(src, o->ko_u.pod);
				r = podmeta_resolve(o->ko_u.pod, src->sk_cand,
				    ncand, src->sk_naming,
				    src->sk_kc->resolve_node_addresses ?
				    kube_node_address : NULL, src, &rp);
				if (r == JG_ERR_NOMEM) {
					/* The old route stays; retried at the
					 * next rebuild. */
					log_error("kubernetes: out of memory "
					    "resolving pod %s", log_escape(esc,
					    sizeof(esc), o->ko_key,
					    KUBE_ECHO_MAX));
				} else {
					/* NOT_FOUND: no owner, not a job. */
					route_pod_unref(o->ko_route);
					o->ko_route = r == JG_OK ? rp : NULL;
					o->ko_dirty = false;
					kube_log_problems(o);
					nres++;
				}
			}
			if (o->ko_route != NULL)
				src->sk_rps[n++] = o->ko_route;
		}
	t1 = kube_now_us();
	if ((snap = route_snapshot_new(src->sk_rps, n,
	    src->sk_contact_ms)) == NULL) {
		log_error("kubernetes: out of memory building the route "
		    "snapshot; the last routes stay in force");
		return;
	}
	route_table_publish(src->sk_table, snap);
	src->sk_published_stamp = src->sk_contact_ms;
	t2 = kube_now_us();
	now = kube_now_ms();
	if (src->sk_changed)
		log_verbose("kubernetes: routes published: %zu pods with "
		    "routes (%zu re-resolved, %.1f ms: resolve %.1f, index "
		    "%.1f; %.1f ms CPU), %" PRIu64 " ms after the first change "
		    "arrived", n, nres, (double)(t2 - t0) / 1000.0,
		    (double)(t1 - t0) / 1000.0, (double)(t2 - t1) / 1000.0,
		    (double)(kube_cpu_us() - c0) / 1000.0,
		    now - src->sk_changed_ms);
	else
		log_debug("stamp refreshed: %zu pods", n);
	src->sk_changed = false;
	kube_status_update(src);
}

/* ---- Streams. */

static uint32_t
kube_backoff_ms(struct source_kube *src, uint32_t failures)
{
	uint64_t d = KUBE_BACKOFF_BASE_MS;
	uint32_t i;

	for (i = 1; i < failures && d < src->sk_kc->backoff_max_ms; i++)
		d *= 2;
	if (d > src->sk_kc->backoff_max_ms)
		d = src->sk_kc->backoff_max_ms;
	return (uint32_t)(d / 2 + kube_random(src) % (d / 2 + 1));
}

static void
kube_stream_body_reset(struct kube_stream *st, size_t max)
{
	free(st->st_body);
	st->st_body = NULL;
	st->st_len = st->st_size = 0;
	st->st_max = max;
	st->st_over = false;
}

static bool
kube_stream_body_add(struct kube_stream *st, const char *data, size_t len)
{
	size_t want;
	char *nb;

	if (len > st->st_max - st->st_len) {
		st->st_over = true;
		return false;
	}
	if (len >= st->st_size - st->st_len) {
		want = st->st_size != 0 ? st->st_size : 16384;
		while (want - st->st_len <= len)
			want *= 2;
		if ((nb = realloc(st->st_body, want)) == NULL) {
			st->st_over = true;
			return false;
		}
		st->st_body = nb;
		st->st_size = want;
	}
	memcpy(st->st_body + st->st_len, data, len);
	st->st_len += len;
	st->st_body[st->st_len] = '\0';
	return true;
}

/* A watch event.  Returns false to abandon the watch and relist. */
static bool
kube_on_event(const struct kube_event *ev, void *arg)
{
	struct kube_stream *st = arg;
	struct source_kube *src = st->st_src;
	const cJSON *code, *reason, *msg;
	const char *rv;
	char esc[KUBE_ECHO_BUF];

	switch (ev->ke_type) {
	case KUBE_EVENT_ADDED:
	case KUBE_EVENT_MODIFIED:
	case KUBE_EVENT_DELETED:
	case KUBE_EVENT_BOOKMARK:
		podmeta_json_meta(ev->ke_object, NULL, NULL, &rv);
		if (ev->ke_type == KUBE_EVENT_DELETED)
			kube_delete(st, ev->ke_object);
		else if (ev->ke_type != KUBE_EVENT_BOOKMARK)
			kube_upsert(st, ev->ke_object);
		kube_set_rv(st, rv);
		st->st_relists = 0;
		st->st_events++;
		pthread_mutex_lock(&src->sk_lock);
		src->sk_status.ks_last_event_ms = kube_now_ms();
		pthread_mutex_unlock(&src->sk_lock);
		return true;
	case KUBE_EVENT_ERROR:
		code = cJSON_GetObjectItemCaseSensitive(ev->ke_object, "code");
		reason = cJSON_GetObjectItemCaseSensitive(ev->ke_object,
		    "reason");
		msg = cJSON_GetObjectItemCaseSensitive(ev->ke_object,
		    "message");
		jg_detail(st->st_why, sizeof(st->st_why), "watch ERROR event "
		    "%d %s: %s", cJSON_IsNumber(code) ? code->valueint : 0,
		    cJSON_IsString(reason) ? reason->valuestring : "",
		    log_escape(esc, sizeof(esc), cJSON_IsString(msg) ?
		    msg->valuestring : "(no message)", KUBE_ECHO_MAX));
		break;
	case KUBE_EVENT_OVERSIZE:
		jg_detail(st->st_why, sizeof(st->st_why), "an event of %zu "
		    "bytes is over the %u byte cap and was skipped",
		    ev->ke_bytes, KUBE_WATCH_EVENT_MAX);
		break;
	case KUBE_EVENT_GARBAGE:
		jg_detail(st->st_why, sizeof(st->st_why), "a line of %zu bytes "
		    "in the watch is %s", ev->ke_bytes, ev->ke_detail);
		break;
	case KUBE_EVENT_MAX:
		break;
	}
	/* An object may have been missed: only a list can tell. */
	st->st_relist = true;
	return false;
}

static size_t
kube_on_header(char *data, size_t size, size_t n, void *arg)
{
	struct kube_stream *st = arg;
	struct source_kube *src = st->st_src;
	size_t len = size * n;

	/* The blank line ends the headers: the status is final. */
	if (len <= 2 && (len == 0 || data[0] == '\r' || data[0] == '\n')) {
		curl_easy_getinfo(st->st_easy, CURLINFO_RESPONSE_CODE,
		    &st->st_status);
		if (st->st_status == 200)
			st->st_failures = 0;
		if (st->st_status == 200 && st->st_down) {
			st->st_down = false;
			log_info("kubernetes: %s: the API server answers "
			    "again", st->st_what);
		}
		if (st->st_status == 200 && st->st_state == KUBE_STREAM_WATCH &&
		    !st->st_open) {
			st->st_open = true;
			src->sk_contact_ms = kube_now_ms();
			kube_status_update(src);
		}
	}
	return len;
}

static size_t
kube_on_data(char *data, size_t size, size_t n, void *arg)
{
	struct kube_stream *st = arg;
	struct source_kube *src = st->st_src;
	size_t len = size * n;

	if (st->st_status == 0)
		curl_easy_getinfo(st->st_easy, CURLINFO_RESPONSE_CODE,
		    &st->st_status);
	if (st->st_status != 200) {
		/* Keep the start of an error answer; the rest is noise. */
		if (!st->st_over)
			(void)kube_stream_body_add(st, data, len <
			    st->st_max - st->st_len ? len :
			    st->st_max - st->st_len);
		return len;
	}
	src->sk_data_ms = src->sk_contact_ms = kube_now_ms();
	if (st->st_state == KUBE_STREAM_LIST)
		return kube_stream_body_add(st, data, len) ? len : 0;
	if (kube_watch_feed(st->st_parser, data, len, kube_on_event, st) !=
	    JG_OK)
		return 0;	/* st_relist says why */
	return len;
}

static void
kube_stream_stop_transfer(struct kube_stream *st)
{
	if (st->st_state != KUBE_STREAM_IDLE)
		curl_multi_remove_handle(st->st_src->sk_multi, st->st_easy);
	curl_slist_free_all(st->st_headers);
	st->st_headers = NULL;
	st->st_state = KUBE_STREAM_IDLE;
	if (st->st_open) {
		st->st_open = false;
		kube_status_update(st->st_src);
	}
}

static bool
kube_stream_start(struct kube_stream *st)
{
	struct source_kube *src = st->st_src;
	const struct config_kubernetes *kc = src->sk_kc;
	char query[2048], url[KUBE_URL_MAX], err[KUBE_MSG_MAX], num[24];
	bool list = st->st_need_list || st->st_rv == NULL;
	enum jg_err r = JG_OK;
	uint32_t timeout;

	query[0] = '\0';
	if (list) {
		if (st->st_continue == NULL)
			st->st_epoch = ++src->sk_epoch;
		snprintf(num, sizeof(num), "%d", KUBE_LIST_LIMIT);
		r = kube_query_add(query, sizeof(query), "limit", num);
		if (r == JG_OK && st->st_continue != NULL)
			r = kube_query_add(query, sizeof(query), "continue",
			    st->st_continue);
		timeout = kc->request_timeout_ms;
	} else {
		snprintf(num, sizeof(num), "%" PRIu32, kc->watch_timeout_s);
		r = kube_query_add(query, sizeof(query), "watch", "1");
		if (r == JG_OK)
			r = kube_query_add(query, sizeof(query),
			    "allowWatchBookmarks", "true");
		if (r == JG_OK)
			r = kube_query_add(query, sizeof(query),
			    "timeoutSeconds", num);
		if (r == JG_OK)
			r = kube_query_add(query, sizeof(query),
			    "resourceVersion", st->st_rv);
		/* The server ends the watch at timeoutSeconds; this is only
		 * for a server that forgets to. */
		timeout = kc->watch_timeout_s * 1000 + kc->request_timeout_ms;
	}
	if (r == JG_OK && st->st_kind == KUBE_KIND_POD &&
	    kc->label_selector != NULL)
		r = kube_query_add(query, sizeof(query), "labelSelector",
		    kc->label_selector);
	if (r == JG_OK)
		r = kube_url(src->sk_creds, st->st_ns,
		    kube_resources[st->st_kind], query, url, sizeof(url));
	if (r != JG_OK) {
		log_error("kubernetes: %s: the request URL is longer than %d "
		    "bytes", st->st_what, KUBE_URL_MAX);
		return false;
	}
	curl_easy_reset(st->st_easy);
	if ((r = kube_request_init(src->sk_creds, st->st_easy, url,
	    kc->request_timeout_ms, timeout, st->st_errbuf, &st->st_headers,
	    err, sizeof(err))) != JG_OK) {
		log_error("kubernetes: %s: %s", st->st_what, err);
		return false;
	}
	curl_easy_setopt(st->st_easy, CURLOPT_WRITEFUNCTION, kube_on_data);
	curl_easy_setopt(st->st_easy, CURLOPT_WRITEDATA, st);
	curl_easy_setopt(st->st_easy, CURLOPT_HEADERFUNCTION, kube_on_header);
	curl_easy_setopt(st->st_easy, CURLOPT_HEADERDATA, st);
	curl_easy_setopt(st->st_easy, CURLOPT_PRIVATE, st);
	st->st_status = 0;
	st->st_relist = false;
	st->st_events = 0;
	st->st_started_ms = kube_now_ms();
	kube_stream_body_reset(st, list ? KUBE_LIST_MAX_BYTES :
	    KUBE_ERROR_BODY_MAX);
	kube_watch_reset(st->st_parser);
	if (curl_multi_add_handle(src->sk_multi, st->st_easy) != CURLM_OK) {
		curl_slist_free_all(st->st_headers);
		st->st_headers = NULL;
		log_error("kubernetes: %s: libcurl refused the request",
		    st->st_what);
		return false;
	}
	st->st_state = list ? KUBE_STREAM_LIST : KUBE_STREAM_WATCH;
	log_debug("%s: %s %s", st->st_what, list ? "list" : "watch", url);
	return true;
}

/* A request failed: say so (first time loud), back off, try again. */
static void
kube_stream_fail(struct kube_stream *st, const char *op, CURLcode cc,
    uint64_t now)
{
	struct source_kube *src = st->st_src;
	char why[KUBE_MSG_MAX], msg[KUBE_MSG_MAX];
	enum log_level level;

	if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && st->st_over))
		jg_detail(why, sizeof(why), "%s", st->st_errbuf[0] != '\0' ?
		    st->st_errbuf : curl_easy_strerror(cc));
	else if (st->st_over)
		jg_detail(why, sizeof(why), "the answer is larger than %zu "
		    "bytes", st->st_max);
	else {
		kube_status_message(st->st_body, st->st_len, msg, sizeof(msg));
		jg_detail(why, sizeof(why), "HTTP %ld: %s", st->st_status, msg);
	}
	/* A rotated token is the usual cause of a 401: read it now. */
	if (st->st_status == 401)
		src->sk_token_now = true;
	if (st->st_rv == NULL || st->st_need_list) {
		free(st->st_continue);
		st->st_continue = NULL;
	}
	st->st_failures++;
	st->st_due_ms = now + kube_backoff_ms(src, st->st_failures);
	st->st_down = true;
	kube_status_count(src, &src->sk_status.ks_errors);
	/* Loud once per outage; the staleness line says the rest. */
	level = st->st_failures == 1 ? LOG_LEVEL_WARN : LOG_LEVEL_VERBOSE;
	log_msg(level, "kubernetes: %s %s at %s failed: %s; retrying in "
	    "%" PRIu64 " ms (attempt %" PRIu32 ")", op, st->st_what,
	    src->sk_creds->kc_server, why, st->st_due_ms - now,
	    st->st_failures);
}

static void
kube_stream_relist(struct kube_stream *st, uint64_t now, const char *why)
{
	struct source_kube *src = st->st_src;

	log_info("kubernetes: %s: listing again: %s", st->st_what, why);
	kube_status_count(src, &src->sk_status.ks_relists);
	st->st_need_list = true;
	free(st->st_continue);
	st->st_continue = NULL;
	/* The first relist is at once; a server that keeps sending us
	 * back without a single event between gets the backoff. */
	st->st_relists++;
	st->st_due_ms = now + (st->st_relists <= 1 ? 0 :
	    kube_backoff_ms(src, st->st_relists - 1));
}

static void
kube_check_all_synced(struct source_kube *src)
{
	size_t i;

	if (src->sk_all_synced)
		return;
	for (i = 0; i < src->sk_nstreams; i++)
		if (!src->sk_streams[i].st_synced)
			return;
	src->sk_all_synced = true;
	/* Publish before telling start, so it returns with routes. */
	kube_rebuild(src);
	pthread_mutex_lock(&src->sk_lock);
	src->sk_first_sync = true;
	pthread_cond_broadcast(&src->sk_cond);
	pthread_mutex_unlock(&src->sk_lock);
}

/* A list page arrived whole. */
static bool
kube_list_page(struct kube_stream *st, uint64_t now, char *why,
    size_t whylen)
{
	const cJSON *items, *item, *md, *cont, *rv;
	cJSON *root;

	root = cJSON_ParseWithLength(st->st_body, st->st_len);
	items = cJSON_GetObjectItemCaseSensitive(root, "items");
	md = cJSON_GetObjectItemCaseSensitive(root, "metadata");
	if (root == NULL || !cJSON_IsObject(md) ||
	    !(cJSON_IsArray(items) || cJSON_IsNull(items))) {
		jg_detail(why, whylen, "the answer is not a %s list",
		    kube_resources[st->st_kind]);
		cJSON_Delete(root);
		return false;
	}
	cJSON_ArrayForEach(item, items)
		kube_upsert(st, item);
	cont = cJSON_GetObjectItemCaseSensitive(md, "continue");
	rv = cJSON_GetObjectItemCaseSensitive(md, "resourceVersion");
	free(st->st_continue);
	st->st_continue = NULL;
	if (cJSON_IsString(cont) && cont->valuestring[0] != '\0') {
		st->st_continue = strdup(cont->valuestring);
		cJSON_Delete(root);
		if (st->st_continue == NULL) {
			jg_detail(why, whylen, "out of memory");
			return false;
		}
		st->st_due_ms = now;
		return true;
	}
	kube_sweep(st);
	if (st->st_kind != KUBE_KIND_NODE)
		kube_set_rv(st, cJSON_IsString(rv) ? rv->valuestring : NULL);
	cJSON_Delete(root);
	st->st_need_list = st->st_kind == KUBE_KIND_NODE;
	st->st_due_ms = st->st_kind == KUBE_KIND_NODE ?
	    now + KUBE_NODE_POLL_MS : now;
	if (!st->st_synced) {
		st->st_synced = true;
		kube_check_all_synced(st->st_src);
	}
	pthread_mutex_lock(&st->st_src->sk_lock);
	st->st_src->sk_status.ks_last_event_ms = now;
	pthread_mutex_unlock(&st->st_src->sk_lock);
	return true;
}

static void
kube_stream_done(struct kube_stream *st, CURLcode cc)
{
	struct source_kube *src = st->st_src;
	enum kube_stream_state was = st->st_state;
	char why[KUBE_MSG_MAX];
	uint64_t now;

	curl_easy_getinfo(st->st_easy, CURLINFO_RESPONSE_CODE, &st->st_status);
	if (was == KUBE_STREAM_WATCH && cc == CURLE_OK &&
	    st->st_status == 200 && !st->st_relist)
		(void)kube_watch_finish(st->st_parser, kube_on_event, st);
	kube_stream_stop_transfer(st);
	now = kube_now_ms();
	if (was == KUBE_STREAM_WATCH) {
		if (st->st_relist) {
			kube_stream_relist(st, now, st->st_why);
			return;
		}
		if (st->st_status == 410) {
			kube_stream_relist(st, now, "HTTP 410 Gone: the "
			    "resourceVersion is too old");
			return;
		}
		if (cc == CURLE_OK && st->st_status == 200) {
			/* timeoutSeconds ran out: resume at once, unless
			 * watches keep ending at once with nothing in them. */
			src->sk_contact_ms = now;
			st->st_relists = 0;
			if (st->st_events == 0 &&
			    now < st->st_started_ms + KUBE_WATCH_QUICK_MS)
				st->st_quick++;
			else
				st->st_quick = 0;
			st->st_due_ms = now + (st->st_quick == 0 ? 0 :
			    kube_backoff_ms(src, st->st_quick));
			return;
		}
		kube_stream_fail(st, "watch", cc, now);
		return;
	}
	if (cc == CURLE_OK && st->st_status == 410 && st->st_continue != NULL) {
		/* The continue token expired: start the list over. */
		free(st->st_continue);
		st->st_continue = NULL;
		log_info("kubernetes: %s: list continuation expired; "
		    "listing from the start", st->st_what);
		st->st_due_ms = now;
		return;
	}
	if (cc == CURLE_OK && st->st_status == 200) {
		src->sk_contact_ms = now;
		if (kube_list_page(st, now, why, sizeof(why))) {
			kube_stream_body_reset(st, 0);
			return;
		}
		kube_stream_body_reset(st, 0);
		free(st->st_continue);
		st->st_continue = NULL;
		st->st_failures++;
		st->st_due_ms = now + kube_backoff_ms(src, st->st_failures);
		kube_status_count(src, &src->sk_status.ks_errors);
		log_warn("kubernetes: list %s at %s failed: %s; retrying in "
		    "%" PRIu64 " ms", st->st_what, src->sk_creds->kc_server,
		    why, st->st_due_ms - now);
		return;
	}
	kube_stream_fail(st, "list", cc, now);
	kube_stream_body_reset(st, 0);
}

/* ---- The thread. */

static void
kube_token(struct source_kube *src, uint64_t now)
{
	char err[KUBE_MSG_MAX];
	bool changed;

	if (!atomic_exchange(&src->sk_reload, false) && !src->sk_token_now &&
	    now < src->sk_token_due_ms)
		return;
	src->sk_token_now = false;
	src->sk_token_due_ms = now + (uint64_t)src->sk_kc->token_reread_s *
	    1000;
	if (kube_creds_reread_token(src->sk_creds, &changed, err,
	    sizeof(err)) != JG_OK)
		log_warn("kubernetes: re-reading the token: %s; keeping the "
		    "token in use", err);
	else if (changed)
		log_verbose("kubernetes: the token in %s changed; new "
		    "requests use it", src->sk_creds->kc_token_file);
}

/* When unreachable, say once a minute how old the routes are. */
static void
kube_staleness(struct source_kube *src, uint64_t now)
{
	struct route_snapshot *snap;
	size_t i, failing = 0;

	for (i = 0; i < src->sk_nstreams; i++)
		if (src->sk_streams[i].st_down)
			failing++;
	/* Refusals tell users how old the routes are while we are cut off
	 * (route_table_staleness_ms). */
	route_table_set_source_state(src->sk_table, failing == 0,
	    src->sk_contact_ms);
	if (failing == 0) {
		src->sk_down_since_ms = 0;
		return;
	}
	if (src->sk_down_since_ms == 0) {
		/* Each stream's first failure was just logged. */
		src->sk_down_since_ms = src->sk_stale_log_ms = now;
		return;
	}
	if (now < src->sk_stale_log_ms + KUBE_STALE_LOG_MS)
		return;
	src->sk_stale_log_ms = now;
	snap = route_table_acquire(src->sk_table);
	if (src->sk_contact_ms == 0)
		log_warn("kubernetes: API server %s not reached yet; no "
		    "routes", src->sk_creds->kc_server);
	else
		log_warn("kubernetes: API server %s unreachable; routing "
		    "%zu pods from what it said %" PRIu64 " s ago",
		    src->sk_creds->kc_server, route_snapshot_count(snap),
		    (now - src->sk_contact_ms) / 1000);
	route_snapshot_release(snap);
}

static void *
kube_thread(void *arg)
{
	struct source_kube *src = arg;
	struct kube_stream *st;
	CURLMsg *msg;
	char *priv;
	uint64_t now, wake;
	bool may_publish;
	size_t i;
	int running, left, timeout;

	while (!atomic_load(&src->sk_stop)) {
		now = kube_now_ms();
		kube_token(src, now);
		for (i = 0; i < src->sk_nstreams; i++) {
			st = &src->sk_streams[i];
			if (st->st_state == KUBE_STREAM_IDLE &&
			    now >= st->st_due_ms && !kube_stream_start(st))
				st->st_due_ms = now + kube_backoff_ms(src,
				    ++st->st_failures);
		}
		curl_multi_perform(src->sk_multi, &running);
		while ((msg = curl_multi_info_read(src->sk_multi, &left)) !=
		    NULL) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			priv = NULL;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
			    &priv);
			if ((st = (struct kube_stream *)(void *)priv) != NULL)
				kube_stream_done(st, msg->data.result);
		}
		now = kube_now_ms();
		may_publish = src->sk_all_synced ||
		    atomic_load(&src->sk_publish_anyway);
		if (may_publish) {
			if (src->sk_changed &&
			    (now >= src->sk_data_ms + KUBE_QUIET_MS ||
			    now >= src->sk_changed_ms + KUBE_BATCH_MAX_MS))
				kube_rebuild(src);
			else if (!src->sk_changed && src->sk_contact_ms >
			    src->sk_published_stamp + KUBE_STAMP_REFRESH_MS)
				kube_rebuild(src);
		}
		kube_staleness(src, now);

		/* Sleep until the earliest thing due. */
		wake = now + 1000;
		for (i = 0; i < src->sk_nstreams; i++)
			if (src->sk_streams[i].st_state == KUBE_STREAM_IDLE &&
			    src->sk_streams[i].st_due_ms < wake)
				wake = src->sk_streams[i].st_due_ms;
		if (src->sk_changed && may_publish) {
			if (src->sk_data_ms + KUBE_QUIET_MS < wake)
				wake = src->sk_data_ms + KUBE_QUIET_MS;
			if (src->sk_changed_ms + KUBE_BATCH_MAX_MS < wake)
				wake = src->sk_changed_ms + KUBE_BATCH_MAX_MS;
		}
		if (src->sk_token_due_ms < wake)
			wake = src->sk_token_due_ms;
		timeout = wake > now ? (int)(wake - now) : 0;
		if (timeout > 0)
			curl_multi_poll(src->sk_multi, NULL, 0, timeout, NULL);
	}
	return NULL;
}

/* ---- Set-up and the main thread's side. */

static void
kube_free(struct source_kube *src)
{
	struct kube_stream *st;
	size_t i;

	for (i = 0; i < src->sk_nstreams; i++) {
		st = &src->sk_streams[i];
		if (st->st_easy != NULL) {
			kube_stream_stop_transfer(st);
			curl_easy_cleanup(st->st_easy);
		}
		kube_watch_free(st->st_parser);
		free(st->st_body);
		free(st->st_rv);
		free(st->st_continue);
	}
	free(src->sk_streams);
	for (i = 0; i < KUBE_KIND_MAX; i++)
		kube_map_clear(&src->sk_maps[i], (enum kube_kind)i);
	if (src->sk_multi != NULL)
		curl_multi_cleanup(src->sk_multi);
	kube_creds_free(src->sk_creds);
	free(src->sk_svc_changed);
	free(src->sk_node_changed);
	free(src->sk_svc_ix);
	free(src->sk_cand);
	free(src->sk_rps);
	pthread_cond_destroy(&src->sk_cond);
	pthread_mutex_destroy(&src->sk_lock);
	free(src);
}

static bool
kube_add_stream(struct source_kube *src, enum kube_kind kind, const char *ns)
{
	struct kube_stream *st = &src->sk_streams[src->sk_nstreams];
	char esc[KUBE_ECHO_BUF];

	st->st_src = src;
	st->st_kind = kind;
	st->st_ns = ns;
	st->st_need_list = true;
	if (ns != NULL)
		jg_detail(st->st_what, sizeof(st->st_what), "%s in %s",
		    kube_resources[kind], log_escape(esc, sizeof(esc), ns,
		    KUBE_ECHO_MAX));
	else
		jg_detail(st->st_what, sizeof(st->st_what), "%s%s",
		    kube_resources[kind], kind == KUBE_KIND_NODE ? "" :
		    " in all namespaces");
	if ((st->st_easy = curl_easy_init()) == NULL ||
	    (st->st_parser = kube_watch_new(KUBE_WATCH_EVENT_MAX)) == NULL)
		return false;
	src->sk_nstreams++;
	return true;
}

static enum jg_err
kube_new(const struct config *cfg, struct route_table *table,
    struct source_kube **out, char *err, size_t errlen)
{
	const struct config_kubernetes *kc = &cfg->routes.kubernetes;
	struct source_kube *src;
	pthread_condattr_t ca;
	size_t i, nns, max;
	enum jg_err r;

	*out = NULL;
	if ((src = calloc(1, sizeof(*src))) == NULL)
		goto nomem;
	pthread_mutex_init(&src->sk_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&src->sk_cond, &ca);
	pthread_condattr_destroy(&ca);
	src->sk_cfg = cfg;
	src->sk_kc = kc;
	src->sk_naming = &cfg->routes.naming;
	src->sk_table = table;
	src->sk_rng = kube_now_us() ^ ((uint64_t)getpid() << 32) ^
	    (uint64_t)(uintptr_t)src;
	if (src->sk_rng == 0)
		src->sk_rng = 1;
	if ((r = kube_creds_load(kc, &src->sk_creds, err, errlen)) != JG_OK) {
		kube_free(src);
		return r;
	}
	nns = kc->nnamespaces > 0 ? kc->nnamespaces : 1;
	max = nns * 2 + 1;
	if ((src->sk_streams = calloc(max, sizeof(*src->sk_streams))) ==
	    NULL || (src->sk_multi = curl_multi_init()) == NULL)
		goto nomem;
	for (i = 0; i < nns; i++)
		if (!kube_add_stream(src, KUBE_KIND_POD, kc->nnamespaces > 0 ?
		    kc->namespaces[i] : NULL) ||
		    !kube_add_stream(src, KUBE_KIND_SERVICE,
		    kc->nnamespaces > 0 ? kc->namespaces[i] : NULL))
			goto nomem;
	if (kc->resolve_node_addresses &&
	    !kube_add_stream(src, KUBE_KIND_NODE, NULL))
		goto nomem;
	src->sk_token_due_ms = kube_now_ms() +
	    (uint64_t)kc->token_reread_s * 1000;
	*out = src;
	return JG_OK;
 nomem:
	if (src != NULL)
		kube_free(src);
	jg_detail(err, errlen, "kubernetes: out of memory");
	return JG_ERR_NOMEM;
}

enum jg_err
source_kube_start(const struct config *cfg, struct route_table *table,
    struct source_kube **out, struct jg_errlist *problems)
{
	struct source_kube *src;
	struct timespec deadline;
	sigset_t all, old;
	char err[JG_ERRLIST_MSG_MAX];
	enum jg_err r;
	int rc;

	*out = NULL;
	if ((r = kube_new(cfg, table, &src, err, sizeof(err))) != JG_OK) {
		jg_errlist_add(problems, "%s", err);
		return r;
	}
	/* Signals belong to the main thread's sigwait(). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&src->sk_thread, NULL, kube_thread, src);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		jg_errlist_add(problems, "kubernetes: cannot start the watch "
		    "thread: %s", strerror(rc));
		kube_free(src);
		return JG_ERR_INTERNAL;
	}
	src->sk_thread_started = true;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += cfg->routes.kubernetes.request_timeout_ms / 1000;
	deadline.tv_nsec += (long)(cfg->routes.kubernetes.request_timeout_ms %
	    1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&src->sk_lock);
	rc = 0;
	while (!src->sk_first_sync && rc == 0)
		rc = pthread_cond_timedwait(&src->sk_cond, &src->sk_lock,
		    &deadline);
	pthread_mutex_unlock(&src->sk_lock);
	if (rc != 0) {
		atomic_store(&src->sk_publish_anyway, true);
		curl_multi_wakeup(src->sk_multi);
		jg_errlist_add(problems, "kubernetes: no complete list from "
		    "%s (%s) within %" PRIu32 " ms; starting with what has "
		    "arrived and retrying in the background",
		    src->sk_creds->kc_server, src->sk_creds->kc_origin,
		    cfg->routes.kubernetes.request_timeout_ms);
	}
	*out = src;
	return JG_OK;
}

void
source_kube_stop(struct source_kube *src)
{
	if (src == NULL)
		return;
	if (src->sk_thread_started) {
		atomic_store(&src->sk_stop, true);
		curl_multi_wakeup(src->sk_multi);
		pthread_join(src->sk_thread, NULL);
	}
	kube_free(src);
}

void
source_kube_reload(struct source_kube *src)
{
	if (src == NULL)
		return;
	atomic_store(&src->sk_reload, true);
	curl_multi_wakeup(src->sk_multi);
}

void
source_kube_status(struct source_kube *src, struct source_kube_status *out)
{
	pthread_mutex_lock(&src->sk_lock);
	*out = src->sk_status;
	pthread_mutex_unlock(&src->sk_lock);
}

/* One bounded list (limit=1) to prove the server answers and RBAC allows. */
static bool
kube_check_one(const struct kube_creds *c, const struct config_kubernetes *kc,
    const char *ns, const char *resource, struct jg_errlist *problems,
    bool *reachable)
{
	char query[1024], url[KUBE_URL_MAX], err[KUBE_MSG_MAX];
	char msg[KUBE_MSG_MAX], where[KUBE_ECHO_BUF + 32];
	char *body = NULL;
	size_t len;
	long status;
	cJSON *root;
	bool ok;

	if (ns != NULL)
		jg_detail(where, sizeof(where), "namespace %s", ns);
	else
		jg_detail(where, sizeof(where), "%s", strcmp(resource,
		    "nodes") == 0 ? "the cluster" : "all namespaces");
	query[0] = '\0';
	if (kube_query_add(query, sizeof(query), "limit", "1") != JG_OK ||
	    (strcmp(resource, "pods") == 0 && kc->label_selector != NULL &&
	    kube_query_add(query, sizeof(query), "labelSelector",
	    kc->label_selector) != JG_OK) ||
	    kube_url(c, ns, resource, query, url, sizeof(url)) != JG_OK) {
		jg_errlist_add(problems, "kubernetes: list %s in %s: the "
		    "request URL is too long", resource, where);
		return false;
	}
	if (kube_get(c, url, kc->request_timeout_ms, KUBE_ERROR_BODY_MAX * 16,
	    &status, &body, &len, err, sizeof(err)) != JG_OK) {
		jg_errlist_add(problems, "kubernetes: list %s in %s at %s "
		    "(%s): %s", resource, where, c->kc_server, c->kc_origin,
		    err);
		*reachable = false;
		return false;
	}
	if (status != 200) {
		kube_status_message(body, len, msg, sizeof(msg));
		jg_errlist_add(problems, "kubernetes: list %s in %s at %s "
		    "(%s): HTTP %ld: %s", resource, where, c->kc_server,
		    c->kc_origin, status, msg);
		free(body);
		return false;
	}
	root = cJSON_ParseWithLength(body, len);
	ok = cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "items")) ||
	    cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(root, "items"));
	cJSON_Delete(root);
	free(body);
	if (!ok)
		jg_errlist_add(problems, "kubernetes: list %s in %s at %s: "
		    "the answer is not a list (is this an API server?)",
		    resource, where, c->kc_server);
	return ok;
}

enum jg_err
source_kube_check(const struct config *cfg, struct jg_errlist *problems)
{
	const struct config_kubernetes *kc = &cfg->routes.kubernetes;
	struct kube_creds *c = NULL;
	char err[JG_ERRLIST_MSG_MAX];
	size_t i, nns;
	bool ok = true, reachable = true;
	enum jg_err r;

	if ((r = kube_creds_load(kc, &c, err, sizeof(err))) != JG_OK) {
		jg_errlist_add(problems, "%s", err);
		return r;
	}
	nns = kc->nnamespaces > 0 ? kc->nnamespaces : 1;
	for (i = 0; i < nns && reachable; i++) {
		const char *ns = kc->nnamespaces > 0 ? kc->namespaces[i] :
		    NULL;

		ok = kube_check_one(c, kc, ns, "pods", problems,
		    &reachable) && ok;
		if (reachable)
			ok = kube_check_one(c, kc, ns, "services", problems,
			    &reachable) && ok;
	}
	if (reachable && kc->resolve_node_addresses)
		ok = kube_check_one(c, kc, NULL, "nodes", problems,
		    &reachable) && ok;
	kube_creds_free(c);
	return ok ? JG_OK : JG_ERR_HTTP;
}
