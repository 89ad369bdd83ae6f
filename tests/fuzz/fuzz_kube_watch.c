/*
 * fuzz_kube_watch.c: the Kubernetes watch stream (kube_watch.h), bytes
 * from the API server or anything pretending to be it, and the objects
 * in its events (podmeta_json.h).  Input: one control byte, then the
 * stream.  The control byte picks the read size (1..64 bytes), a small
 * event cap or the default, and whether the consumer stops early.  The
 * stream is parsed twice, in those reads and in one piece: the header
 * promises reads may split an event anywhere, so both must yield the
 * same events.
 */
#include <stdbool.h>
#include <string.h>

#include <cJSON.h>

#include "fuzz.h"
#include "kube_watch.h"
#include "podmeta.h"
#include "podmeta_json.h"

struct seen {
	size_t	 n;
	size_t	 stop_after;		/* 0 = never stop */
	uint64_t digest;		/* of every (type, bytes) in order */
	bool	 convert;		/* run the podmeta converters */
};

static void
convert(const cJSON *obj)
{
	struct podmeta_pod *pod = NULL;
	struct podmeta_service *svc = NULL;
	struct podmeta_node *node = NULL;
	const char *ns, *name, *version;
	char err[256];

	podmeta_json_meta(obj, &ns, &name, &version);
	podmeta_json_meta(obj, NULL, NULL, NULL);
	/* Every converter sees every object: kind is not trusted. */
	err[0] = '\0';
	if (podmeta_json_pod(obj, &pod, err, sizeof(err)) == JG_OK)
		FUZZ_CHECK(pod != NULL && pod->name != NULL);
	else
		FUZZ_CHECK(pod == NULL && err[0] != '\0');
	podmeta_pod_free(pod);
	err[0] = '\0';
	if (podmeta_json_service(obj, &svc, err, sizeof(err)) == JG_OK)
		FUZZ_CHECK(svc != NULL && svc->name != NULL);
	else
		FUZZ_CHECK(svc == NULL && err[0] != '\0');
	podmeta_service_free(svc);
	err[0] = '\0';
	if (podmeta_json_node(obj, &node, err, sizeof(err)) == JG_OK)
		FUZZ_CHECK(node != NULL);
	else
		FUZZ_CHECK(node == NULL && err[0] != '\0');
	podmeta_node_free(node);
}

static bool
on_event(const struct kube_event *ev, void *arg)
{
	struct seen *s = arg;

	FUZZ_CHECK((unsigned)ev->ke_type < KUBE_EVENT_MAX);
	FUZZ_CHECK(strcmp(kube_event_type_name(ev->ke_type), "unknown") != 0);
	if (ev->ke_type == KUBE_EVENT_OVERSIZE ||
	    ev->ke_type == KUBE_EVENT_GARBAGE)
		FUZZ_CHECK(ev->ke_object == NULL);
	else
		FUZZ_CHECK(cJSON_IsObject(ev->ke_object));
	if (ev->ke_type == KUBE_EVENT_GARBAGE)
		FUZZ_CHECK(ev->ke_detail != NULL);
	if (s->convert && ev->ke_object != NULL)
		convert(ev->ke_object);
	s->digest = s->digest * 1000003u ^ ((uint64_t)ev->ke_type << 56 ^
	    (uint64_t)ev->ke_bytes);
	s->n++;
	return s->stop_after == 0 || s->n < s->stop_after;
}

/* Parses stream in reads of chunk bytes; returns feed's last verdict. */
static enum jg_err
parse(const char *stream, size_t len, size_t chunk, size_t cap,
    struct seen *s)
{
	struct kube_watch *w;
	size_t off, n;
	enum jg_err r = JG_OK;

	if ((w = kube_watch_new(cap)) == NULL)
		return JG_ERR_NOMEM;
	for (off = 0; off < len && r == JG_OK; off += n) {
		n = len - off < chunk ? len - off : chunk;
		r = kube_watch_feed(w, stream + off, n, on_event, s);
		FUZZ_CHECK(r == JG_OK || r == JG_ERR_AGAIN);
		FUZZ_CHECK(kube_watch_pending(w) <= (cap != 0 ? cap :
		    KUBE_WATCH_EVENT_MAX));
	}
	if (r == JG_OK)
		r = kube_watch_finish(w, on_event, s);
	FUZZ_CHECK(kube_watch_pending(w) == 0);
	kube_watch_free(w);
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen chunked, whole;
	const char *stream;
	size_t len, chunk, cap;
	enum jg_err r1, r2;

	if (size < 1)
		return 0;
	stream = (const char *)data + 1;
	len = size - 1;
	chunk = (size_t)(data[0] & 0x3f) + 1;
	cap = data[0] & 0x40 ? 96 : 0;
	memset(&chunked, 0, sizeof(chunked));
	memset(&whole, 0, sizeof(whole));
	chunked.stop_after = whole.stop_after = data[0] & 0x80 ? 2 : 0;
	chunked.convert = true;
	r1 = parse(stream, len, chunk, cap, &chunked);
	r2 = parse(stream, len, len > 0 ? len : 1, cap, &whole);
	if (r1 == JG_ERR_NOMEM || r2 == JG_ERR_NOMEM)
		return 0;
	FUZZ_CHECK(r1 == r2);
	FUZZ_CHECK(chunked.n == whole.n);
	FUZZ_CHECK(chunked.digest == whole.digest);
	return 0;
}
