/*
 * kube_watch.c: splits a watch response into lines and lines into events,
 * holding at most one partial event of at most the cap.  It does not
 * talk HTTP or keep objects (source_kube.c does) and never logs.
 * Runs on whichever thread reads the stream (the Kubernetes source's).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "kube_watch.h"

/*
 * The partial-event buffer starts this small and doubles as needed; once
 * an event bigger than KUBE_WATCH_KEEP has been handed out the buffer is
 * given back, so one huge pod does not pin megabytes for the stream's life.
 */
#define KUBE_WATCH_START	4096
#define KUBE_WATCH_KEEP		(64u * 1024)

struct kube_watch {
	char	*kw_buf;
	size_t	 kw_len;		/* bytes of the partial event */
	size_t	 kw_size;		/* allocated */
	size_t	 kw_max;		/* cap on one event */
	bool	 kw_skipping;		/* inside an over-cap line */
	size_t	 kw_skipped;		/* its bytes so far */
};

static const char *const kube_event_names[KUBE_EVENT_MAX] = {
	[KUBE_EVENT_ADDED] = "ADDED",
	[KUBE_EVENT_MODIFIED] = "MODIFIED",
	[KUBE_EVENT_DELETED] = "DELETED",
	[KUBE_EVENT_BOOKMARK] = "BOOKMARK",
	[KUBE_EVENT_ERROR] = "ERROR",
	[KUBE_EVENT_OVERSIZE] = "OVERSIZE",
	[KUBE_EVENT_GARBAGE] = "GARBAGE",
};

const char *
kube_event_type_name(enum kube_event_type type)
{
	if ((unsigned)type >= KUBE_EVENT_MAX)
		return "unknown";
	return kube_event_names[type];
}

struct kube_watch *
kube_watch_new(size_t max_event_bytes)
{
	struct kube_watch *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->kw_max = max_event_bytes != 0 ? max_event_bytes :
	    KUBE_WATCH_EVENT_MAX;
	return w;
}

void
kube_watch_free(struct kube_watch *w)
{
	if (w == NULL)
		return;
	free(w->kw_buf);
	free(w);
}

static void
kube_watch_shrink(struct kube_watch *w)
{
	if (w->kw_size > KUBE_WATCH_KEEP) {
		free(w->kw_buf);
		w->kw_buf = NULL;
		w->kw_size = 0;
	}
	w->kw_len = 0;
}

void
kube_watch_reset(struct kube_watch *w)
{
	kube_watch_shrink(w);
	w->kw_skipping = false;
	w->kw_skipped = 0;
}

size_t
kube_watch_pending(const struct kube_watch *w)
{
	return w->kw_skipping ? 0 : w->kw_len;
}

static bool
kube_watch_emit(kube_watch_fn fn, void *arg, enum kube_event_type type,
    const cJSON *obj, size_t bytes, const char *detail)
{
	struct kube_event ev;

	ev.ke_type = type;
	ev.ke_object = obj;
	ev.ke_bytes = bytes;
	ev.ke_detail = detail;
	return fn(&ev, arg);
}

/* One complete line (no newline).  Returns fn's verdict. */
static bool
kube_watch_line(const char *line, size_t len, kube_watch_fn fn, void *arg)
{
	static const struct {
		const char		*name;
		enum kube_event_type	 type;
	} types[] = {
		{ "ADDED", KUBE_EVENT_ADDED },
		{ "MODIFIED", KUBE_EVENT_MODIFIED },
		{ "DELETED", KUBE_EVENT_DELETED },
		{ "BOOKMARK", KUBE_EVENT_BOOKMARK },
		{ "ERROR", KUBE_EVENT_ERROR },
	};
	const cJSON *type, *obj;
	const char *end = NULL, *p;
	cJSON *root;
	size_t i, n = len;
	bool more;

	/* Blank lines (a keep-alive, a CRLF) carry nothing. */
	while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' ||
	    line[n - 1] == '\t'))
		n--;
	if (n == 0)
		return true;
	root = cJSON_ParseWithLengthOpts(line, n, &end, 0);
	if (root == NULL)
		return kube_watch_emit(fn, arg, KUBE_EVENT_GARBAGE, NULL, len,
		    "not JSON");
	for (p = end; p != NULL && p < line + n; p++)
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\0') {
			cJSON_Delete(root);
			return kube_watch_emit(fn, arg, KUBE_EVENT_GARBAGE,
			    NULL, len, "text after the JSON value");
		}
	type = cJSON_GetObjectItemCaseSensitive(root, "type");
	obj = cJSON_GetObjectItemCaseSensitive(root, "object");
	if (!cJSON_IsString(type) || !cJSON_IsObject(obj)) {
		cJSON_Delete(root);
		return kube_watch_emit(fn, arg, KUBE_EVENT_GARBAGE, NULL, len,
		    "not a {\"type\",\"object\"} event");
	}
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(type->valuestring, types[i].name) == 0)
			break;
	if (i == sizeof(types) / sizeof(types[0]))
		more = kube_watch_emit(fn, arg, KUBE_EVENT_GARBAGE, NULL, len,
		    "unknown event type");
	else
		more = kube_watch_emit(fn, arg, types[i].type, obj, len, NULL);
	cJSON_Delete(root);
	return more;
}

/* Keeps n more bytes of the partial event; false when over the cap. */
static bool
kube_watch_keep(struct kube_watch *w, const char *data, size_t n)
{
	size_t want;
	char *nb;

	/* Space left, never len + n: n comes from the network. */
	if (n > w->kw_max - w->kw_len)
		return false;
	if (n > w->kw_size - w->kw_len) {
		want = w->kw_size != 0 ? w->kw_size : KUBE_WATCH_START;
		while (want - w->kw_len < n)
			want = want > w->kw_max / 2 ? w->kw_max : want * 2;
		if ((nb = realloc(w->kw_buf, want)) == NULL)
			return false;
		w->kw_buf = nb;
		w->kw_size = want;
	}
	memcpy(w->kw_buf + w->kw_len, data, n);
	w->kw_len += n;
	return true;
}

/* The partial event cannot be kept: drop it and skip to the newline. */
static void
kube_watch_start_skip(struct kube_watch *w, size_t more)
{
	w->kw_skipped = w->kw_len + more;
	w->kw_skipping = true;
	kube_watch_shrink(w);
}

enum jg_err
kube_watch_feed(struct kube_watch *w, const char *data, size_t len,
    kube_watch_fn fn, void *arg)
{
	const char *nl;
	size_t n, total;
	bool more;

	while (len > 0) {
		nl = memchr(data, '\n', len);
		n = nl != NULL ? (size_t)(nl - data) : len;
		if (w->kw_skipping) {
			w->kw_skipped += n;
			if (nl == NULL)
				return JG_OK;
			w->kw_skipping = false;
			more = kube_watch_emit(fn, arg, KUBE_EVENT_OVERSIZE,
			    NULL, w->kw_skipped, NULL);
			w->kw_skipped = 0;
		} else if (nl == NULL) {
			if (!kube_watch_keep(w, data, n)) {
				/* Over the cap, or no memory: either way the
				 * event is lost and the caller must know. */
				kube_watch_start_skip(w, n);
			}
			return JG_OK;
		} else if (w->kw_len == 0) {
			/* The common case: a whole event inside one read,
			 * parsed where it lies. */
			if (n > w->kw_max)
				more = kube_watch_emit(fn, arg,
				    KUBE_EVENT_OVERSIZE, NULL, n, NULL);
			else
				more = kube_watch_line(data, n, fn, arg);
		} else if (!kube_watch_keep(w, data, n)) {
			total = w->kw_len + n;
			kube_watch_shrink(w);
			more = kube_watch_emit(fn, arg, KUBE_EVENT_OVERSIZE,
			    NULL, total, NULL);
		} else {
			more = kube_watch_line(w->kw_buf, w->kw_len, fn, arg);
			kube_watch_shrink(w);
		}
		data = nl + 1;
		len -= n + 1;
		if (!more)
			return JG_ERR_AGAIN;
	}
	return JG_OK;
}

enum jg_err
kube_watch_finish(struct kube_watch *w, kube_watch_fn fn, void *arg)
{
	bool more = true;

	if (w->kw_skipping)
		more = kube_watch_emit(fn, arg, KUBE_EVENT_OVERSIZE, NULL,
		    w->kw_skipped, NULL);
	else if (w->kw_len > 0)
		more = kube_watch_line(w->kw_buf, w->kw_len, fn, arg);
	kube_watch_reset(w);
	return more ? JG_OK : JG_ERR_AGAIN;
}
