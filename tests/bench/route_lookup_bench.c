/*
 * route_lookup_bench.c: times route_snapshot_new() and route_lookup() on
 * the pods of a Kubernetes list file (the {"items": [...]} that
 * run-kube-bench.sh preloads into the test API server), each pod turned
 * into a route_pod the way the Kubernetes source does it: podmeta_json_*
 * then podmeta_resolve() with the NodePort Services that select it.
 * A benchmark tool, not a test; one thread; prints one key=value line.
 */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "config.h"
#include "err.h"
#include "podmeta.h"
#include "podmeta_json.h"
#include "route.h"

#define BENCH_FILE_MAX		(256L * 1024 * 1024)
#define BENCH_KEY_MAX		512	/* "ns\0key\0value" of a selector */

struct bench_opts {
	long	 bo_lookups;		/* -n: lookups timed one by one */
	long	 bo_batch;		/* -b: lookups per batched sample */
	long	 bo_snaps;		/* -r: route_snapshot_new() runs */
	unsigned long bo_seed;		/* -s */
};

/* A Service under the first pair of its selector, as the source's index
 * keeps it: a pod's candidates are the Services keyed by one of its
 * labels. */
struct bench_svc {
	char	 bs_key[BENCH_KEY_MAX];
	size_t	 bs_keylen;
	const struct podmeta_service *bs_svc;
};

struct bench_data {
	struct podmeta_pod	**bd_pods;
	size_t			  bd_npods;
	struct podmeta_service	**bd_svcs;
	size_t			  bd_nsvcs;
	struct bench_svc	 *bd_ix;	/* sorted by bs_key */
	size_t			  bd_nix;
	struct route_pod	**bd_routes;
	size_t			  bd_nroutes;
};

/* One query: what a user types for one of their jobs. */
struct bench_query {
	const char	*bq_user;
	const char	*bq_job;
};

static void
bench_usage(void)
{
	fprintf(stderr, "usage: route_lookup_bench [-n lookups] [-b batch] "
	    "[-r snapshots] [-s seed] list.json\n");
	exit(2);
}

static long
bench_number(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "route_lookup_bench: '%s' is not a number in "
		    "%ld..%ld\n", s, min, max);
		exit(2);
	}
	return v;
}

static uint64_t
bench_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Bytes malloc has handed out and not had back (arena and mmapped). */
static size_t
bench_heap(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

/* xorshift64*: the same sequence for the same seed, so runs compare. */
static uint64_t
bench_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static int
bench_u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile (0..1) of v[0..n), sorting v. */
static uint64_t
bench_quantile(uint64_t *v, size_t n, double q)
{
	size_t i;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), bench_u64_cmp);
	i = (size_t)(q * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static char *
bench_read_file(const char *path, size_t *lenp)
{
	FILE *fp;
	char *buf;
	long len;

	if ((fp = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "route_lookup_bench: open %s: %s\n", path,
		    strerror(errno));
		return NULL;
	}
	if (fseek(fp, 0, SEEK_END) != 0 || (len = ftell(fp)) < 0 ||
	    len > BENCH_FILE_MAX || fseek(fp, 0, SEEK_SET) != 0) {
		fprintf(stderr, "route_lookup_bench: %s: not a regular file "
		    "of at most %ld bytes\n", path, BENCH_FILE_MAX);
		fclose(fp);
		return NULL;
	}
	if ((buf = malloc((size_t)len + 1)) == NULL ||
	    fread(buf, 1, (size_t)len, fp) != (size_t)len) {
		fprintf(stderr, "route_lookup_bench: read %s: %s\n", path,
		    buf == NULL ? "out of memory" : "short read");
		free(buf);
		fclose(fp);
		return NULL;
	}
	fclose(fp);
	buf[len] = '\0';
	*lenp = (size_t)len;
	return buf;
}

/* "ns\0key\0value" into out; false when it does not fit. */
static bool
bench_key(char *out, size_t *outlen, const char *ns, const char *key,
    const char *value)
{
	size_t a = strlen(ns), b = strlen(key), c = strlen(value);

	if (a + b + c + 2 >= BENCH_KEY_MAX)
		return false;
	memcpy(out, ns, a + 1);
	memcpy(out + a + 1, key, b + 1);
	memcpy(out + a + b + 2, value, c);
	*outlen = a + b + c + 2;
	return true;
}

static int
bench_key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c;

	c = memcmp(a, b, alen < blen ? alen : blen);
	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static int
bench_svc_cmp(const void *a, const void *b)
{
	const struct bench_svc *x = a, *y = b;

	return bench_key_cmp(x->bs_key, x->bs_keylen, y->bs_key,
	    y->bs_keylen);
}

/* Converts every Pod and Service of the list; other kinds are skipped. */
static bool
bench_load(const char *path, struct bench_data *d)
{
	const cJSON *items, *item, *kind;
	cJSON *root;
	char *text, err[512];
	size_t len, n;
	enum jg_err r;

	if ((text = bench_read_file(path, &len)) == NULL)
		return false;
	root = cJSON_ParseWithLength(text, len);
	free(text);
	items = cJSON_GetObjectItemCaseSensitive(root, "items");
	if (!cJSON_IsArray(items)) {
		fprintf(stderr, "route_lookup_bench: %s: no \"items\" array\n",
		    path);
		cJSON_Delete(root);
		return false;
	}
	n = (size_t)cJSON_GetArraySize(items);
	d->bd_pods = calloc(n, sizeof(*d->bd_pods));
	d->bd_svcs = calloc(n, sizeof(*d->bd_svcs));
	if (n > 0 && (d->bd_pods == NULL || d->bd_svcs == NULL)) {
		cJSON_Delete(root);
		return false;
	}
	cJSON_ArrayForEach(item, items) {
		kind = cJSON_GetObjectItemCaseSensitive(item, "kind");
		if (!cJSON_IsString(kind))
			continue;
		if (strcmp(kind->valuestring, "Pod") == 0)
			r = podmeta_json_pod(item, &d->bd_pods[d->bd_npods],
			    err, sizeof(err));
		else if (strcmp(kind->valuestring, "Service") == 0)
			r = podmeta_json_service(item,
			    &d->bd_svcs[d->bd_nsvcs], err, sizeof(err));
		else
			continue;
		if (r != JG_OK) {
			fprintf(stderr, "route_lookup_bench: %s: %s: %s\n",
			    path, kind->valuestring, err);
			cJSON_Delete(root);
			return false;
		}
		if (strcmp(kind->valuestring, "Pod") == 0)
			d->bd_npods++;
		else
			d->bd_nsvcs++;
	}
	cJSON_Delete(root);
	return true;
}

static bool
bench_index_services(struct bench_data *d)
{
	const struct podmeta_service *s;
	size_t i;

	if ((d->bd_ix = calloc(d->bd_nsvcs + 1, sizeof(*d->bd_ix))) == NULL)
		return false;
	for (i = 0; i < d->bd_nsvcs; i++) {
		s = d->bd_svcs[i];
		if (s->nselector == 0 || !bench_key(d->bd_ix[d->bd_nix].bs_key,
		    &d->bd_ix[d->bd_nix].bs_keylen, s->namespace != NULL ?
		    s->namespace : "default", s->selector[0].key,
		    s->selector[0].value))
			continue;
		d->bd_ix[d->bd_nix++].bs_svc = s;
	}
	qsort(d->bd_ix, d->bd_nix, sizeof(*d->bd_ix), bench_svc_cmp);
	return true;
}

/* The Services keyed by one of pod's labels, at most max of them. */
static size_t
bench_candidates(const struct bench_data *d, const struct podmeta_pod *pod,
    const struct podmeta_service **out, size_t max)
{
	char key[BENCH_KEY_MAX];
	size_t i, keylen, lo, hi, mid, n = 0;

	for (i = 0; i < pod->nlabels; i++) {
		if (!bench_key(key, &keylen, pod->namespace != NULL ?
		    pod->namespace : "default", pod->labels[i].key,
		    pod->labels[i].value))
			continue;
		lo = 0;
		hi = d->bd_nix;
		while (lo < hi) {
			mid = lo + (hi - lo) / 2;
			if (bench_key_cmp(d->bd_ix[mid].bs_key,
			    d->bd_ix[mid].bs_keylen, key, keylen) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (; lo < d->bd_nix && n < max && bench_key_cmp(
		    d->bd_ix[lo].bs_key, d->bd_ix[lo].bs_keylen, key,
		    keylen) == 0; lo++)
			out[n++] = d->bd_ix[lo].bs_svc;
	}
	return n;
}

static void
bench_free(struct bench_data *d)
{
	size_t i;

	for (i = 0; i < d->bd_nroutes; i++)
		route_pod_unref(d->bd_routes[i]);
	for (i = 0; i < d->bd_npods; i++)
		podmeta_pod_free(d->bd_pods[i]);
	for (i = 0; i < d->bd_nsvcs; i++)
		podmeta_service_free(d->bd_svcs[i]);
	free(d->bd_routes);
	free(d->bd_pods);
	free(d->bd_svcs);
	free(d->bd_ix);
}

int
main(int argc, char **argv)
{
	struct bench_opts o = { 100000, 100, 20, 42 };
	struct bench_data d;
	struct config *cfg = NULL;
	struct route_snapshot *snap = NULL, *s;
	struct route_query rq;
	struct route_result res;
	struct bench_query *qs = NULL;
	const struct podmeta_service *cand[16];
	const struct route_pod *rp;
	uint64_t *one = NULL, *batch = NULL, *snapw = NULL, *snapc = NULL;
	uint64_t t0, t1, c0, resolve_ns, resolve_cpu, clk, rng, sink = 0;
	size_t heap0, heap1, heap2, heap3, i, j, ncand, nbatch, ok = 0;
	char why[ROUTE_WHY_MAX];
	enum jg_err r;
	int ch, status = 1;

	while ((ch = getopt(argc, argv, "n:b:r:s:")) != -1) {
		switch (ch) {
		case 'n':
			o.bo_lookups = bench_number(optarg, 1, 100000000);
			break;
		case 'b':
			o.bo_batch = bench_number(optarg, 1, 1000000);
			break;
		case 'r':
			o.bo_snaps = bench_number(optarg, 1, 10000);
			break;
		case 's':
			o.bo_seed = (unsigned long)bench_number(optarg, 1,
			    1000000000);
			break;
		default:
			bench_usage();
		}
	}
	if (optind + 1 != argc)
		bench_usage();

	memset(&d, 0, sizeof(d));
	heap0 = bench_heap();
	if (!bench_load(argv[optind], &d))
		goto out;
	heap1 = bench_heap();
	/* The index is ours, not the objects': after heap1, before t0. */
	if (!bench_index_services(&d))
		goto out;
	if ((cfg = config_new_default()) == NULL ||
	    (d.bd_routes = calloc(d.bd_npods + 1, sizeof(*d.bd_routes))) ==
	    NULL) {
		fprintf(stderr, "route_lookup_bench: out of memory\n");
		goto out;
	}

	/* Resolve every pod once: the work of a full rebuild before the
	 * index (the source re-resolves only changed pods after that). */
	t0 = bench_ns(CLOCK_MONOTONIC);
	c0 = bench_ns(CLOCK_THREAD_CPUTIME_ID);
	for (i = 0; i < d.bd_npods; i++) {
		ncand = bench_candidates(&d, d.bd_pods[i], cand,
		    sizeof(cand) / sizeof(cand[0]));
		r = podmeta_resolve(d.bd_pods[i], cand, ncand,
		    &cfg->routes.naming, NULL, NULL,
		    &d.bd_routes[d.bd_nroutes]);
		if (r == JG_OK)
			d.bd_nroutes++;
		else if (r != JG_ERR_NOT_FOUND) {
			fprintf(stderr, "route_lookup_bench: resolve pod %s: "
			    "%s\n", d.bd_pods[i]->name, jg_strerror(r));
			goto out;
		}
	}
	resolve_ns = bench_ns(CLOCK_MONOTONIC) - t0;
	resolve_cpu = bench_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
	free(d.bd_ix);
	d.bd_ix = NULL;
	heap2 = heap3 = bench_heap();
	if (d.bd_nroutes == 0) {
		fprintf(stderr, "route_lookup_bench: no routable pods\n");
		goto out;
	}

	/* route_snapshot_new(): copy, sort, group, name index.  The first
	 * one is kept for the lookups and for its memory. */
	snapw = calloc((size_t)o.bo_snaps, sizeof(*snapw));
	snapc = calloc((size_t)o.bo_snaps, sizeof(*snapc));
	if (snapw == NULL || snapc == NULL)
		goto out;
	for (i = 0; i < (size_t)o.bo_snaps; i++) {
		t0 = bench_ns(CLOCK_MONOTONIC);
		c0 = bench_ns(CLOCK_THREAD_CPUTIME_ID);
		s = route_snapshot_new(d.bd_routes, d.bd_nroutes, 0);
		snapw[i] = bench_ns(CLOCK_MONOTONIC) - t0;
		snapc[i] = bench_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
		if (s == NULL) {
			fprintf(stderr, "route_lookup_bench: "
			    "route_snapshot_new: out of memory\n");
			goto out;
		}
		if (snap == NULL) {
			snap = s;
			heap3 = bench_heap();
		} else
			route_snapshot_release(s);
	}

	/* The queries, made before timing: a random pod, then the name its
	 * owner would type: internal name, base-url or display name (the
	 * typeable form), one third each. */
	rng = o.bo_seed;
	qs = calloc((size_t)o.bo_lookups, sizeof(*qs));
	one = calloc((size_t)o.bo_lookups, sizeof(*one));
	nbatch = ((size_t)o.bo_lookups + (size_t)o.bo_batch - 1) /
	    (size_t)o.bo_batch;
	batch = calloc(nbatch, sizeof(*batch));
	if (qs == NULL || one == NULL || batch == NULL)
		goto out;
	for (i = 0; i < (size_t)o.bo_lookups; i++) {
		rp = route_snapshot_pod(snap, bench_rand(&rng) %
		    route_snapshot_count(snap));
		qs[i].bq_user = rp->rp_owner;
		switch (bench_rand(&rng) % 3) {
		case 0:
			qs[i].bq_job = rp->rp_job;
			break;
		case 1:
			qs[i].bq_job = rp->rp_base_url != NULL ?
			    rp->rp_base_url : rp->rp_job;
			break;
		default:
			qs[i].bq_job = route_pod_typeable_name(rp);
			break;
		}
	}
	memset(&rq, 0, sizeof(rq));

	/* What clock_gettime() itself costs: subtract nothing, report it. */
	for (i = 0; i < 1000; i++) {
		t0 = bench_ns(CLOCK_MONOTONIC);
		one[i] = bench_ns(CLOCK_MONOTONIC) - t0;
	}
	clk = bench_quantile(one, 1000, 0.5);

	/* Each lookup timed on its own, for the tail. */
	for (i = 0; i < (size_t)o.bo_lookups; i++) {
		rq.rq_user = qs[i].bq_user;
		rq.rq_job = qs[i].bq_job;
		t0 = bench_ns(CLOCK_MONOTONIC);
		r = route_lookup(snap, &rq, &res, why, sizeof(why));
		t1 = bench_ns(CLOCK_MONOTONIC);
		one[i] = t1 - t0;
		if (r == JG_OK) {
			ok++;
			sink += res.rs_rule->rr_node_port;
		}
	}
	/* The same lookups in batches: the mean per lookup without the
	 * clock in it. */
	for (j = 0; j < nbatch; j++) {
		size_t lo = j * (size_t)o.bo_batch;
		size_t hi = lo + (size_t)o.bo_batch;

		if (hi > (size_t)o.bo_lookups)
			hi = (size_t)o.bo_lookups;
		t0 = bench_ns(CLOCK_MONOTONIC);
		for (i = lo; i < hi; i++) {
			rq.rq_user = qs[i].bq_user;
			rq.rq_job = qs[i].bq_job;
			if (route_lookup(snap, &rq, &res, why, sizeof(why)) ==
			    JG_OK)
				sink += res.rs_rule->rr_node_port;
		}
		batch[j] = (bench_ns(CLOCK_MONOTONIC) - t0) / (hi - lo);
	}

	printf("pods=%zu services=%zu routable=%zu resolve_ms=%.1f "
	    "resolve_cpu_ms=%.1f snap_runs=%ld snap_ms_median=%.2f "
	    "snap_ms_max=%.2f snap_cpu_ms_median=%.2f "
	    "heap_objects_kib=%zu heap_routes_kib=%zu heap_snapshot_kib=%zu "
	    "lookups=%ld ok=%zu lookup_ns_median=%" PRIu64
	    " lookup_ns_p99=%" PRIu64 " lookup_ns_max=%" PRIu64
	    " batch=%ld batch_ns_median=%" PRIu64 " batch_ns_p99=%" PRIu64
	    " clock_ns=%" PRIu64 " check=%" PRIu64 "\n",
	    d.bd_npods, d.bd_nsvcs, d.bd_nroutes, (double)resolve_ns / 1e6,
	    (double)resolve_cpu / 1e6, o.bo_snaps,
	    (double)bench_quantile(snapw, (size_t)o.bo_snaps, 0.5) / 1e6,
	    (double)bench_quantile(snapw, (size_t)o.bo_snaps, 1.0) / 1e6,
	    (double)bench_quantile(snapc, (size_t)o.bo_snaps, 0.5) / 1e6,
	    (heap1 - heap0) / 1024, (heap2 - heap1) / 1024,
	    (heap3 - heap2) / 1024, o.bo_lookups, ok,
	    bench_quantile(one, (size_t)o.bo_lookups, 0.5),
	    bench_quantile(one, (size_t)o.bo_lookups, 0.99),
	    bench_quantile(one, (size_t)o.bo_lookups, 1.0), o.bo_batch,
	    bench_quantile(batch, nbatch, 0.5),
	    bench_quantile(batch, nbatch, 0.99), clk, sink % 1000);
	status = 0;
out:
	route_snapshot_release(snap);
	free(qs);
	free(one);
	free(batch);
	free(snapw);
	free(snapc);
	bench_free(&d);
	config_free(cfg);
	return status;
}
