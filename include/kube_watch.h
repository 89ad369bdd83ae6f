/*
 * kube_watch.h: the Kubernetes watch stream parser.  A watch response is
 * newline-delimited JSON, one {"type":..,"object":{..}} event a line, and
 * arrives in reads that may split an event anywhere.  The parser keeps the
 * incomplete tail, hands out whole events, and never holds more than the
 * cap given at creation: a longer line is dropped as it streams past and
 * reported once (the object it carried is lost, so the caller relists).
 * One parser per stream; not thread-safe; pure (never logs).
 */
#ifndef JG_KUBE_WATCH_H
#define JG_KUBE_WATCH_H

#include <stdbool.h>
#include <stddef.h>

#include <cJSON.h>

#include "err.h"

/*
 * The default cap on one event.  etcd refuses objects over 1.5 MiB by
 * default and 8 MiB is beyond any configurable limit people raise it to;
 * a longer line is not a pod we could route anyway.
 */
#define KUBE_WATCH_EVENT_MAX	(8u * 1024 * 1024)

enum kube_event_type {
	KUBE_EVENT_ADDED = 0,
	KUBE_EVENT_MODIFIED,
	KUBE_EVENT_DELETED,
	KUBE_EVENT_BOOKMARK,	/* only object.metadata.resourceVersion */
	KUBE_EVENT_ERROR,	/* object is a Status; the watch is over */
	KUBE_EVENT_OVERSIZE,	/* a line over the cap was dropped */
	KUBE_EVENT_GARBAGE,	/* a line that is not a watch event */
	KUBE_EVENT_MAX
};

struct kube_event {
	enum kube_event_type ke_type;
	const cJSON	*ke_object;	/* NULL for OVERSIZE and GARBAGE */
	size_t		 ke_bytes;	/* the line's length, newline excluded */
	const char	*ke_detail;	/* GARBAGE: why, one phrase */
};

/*
 * Called once per event; ev and its object are valid only during the
 * call.  Return false to stop: kube_watch_feed() then returns at once and
 * drops what it had not read (the caller abandons the stream).
 */
typedef bool (*kube_watch_fn)(const struct kube_event *ev, void *arg);

struct kube_watch;

/* A parser whose events may be up to max_event_bytes long (0 = default).
 * NULL on ENOMEM. */
struct kube_watch *kube_watch_new(size_t max_event_bytes);
void	kube_watch_free(struct kube_watch *w);	/* NULL is a no-op */

/* Forgets any partial event: call before reusing w for a new stream. */
void	kube_watch_reset(struct kube_watch *w);

/*
 * Parses len bytes of the stream, calling fn for every event they
 * complete.  An event that cannot be kept (over the cap, or memory is
 * short) is skipped to its newline and reported as OVERSIZE, so no event
 * is ever lost silently.  Returns JG_OK, or JG_ERR_AGAIN when fn asked
 * to stop.
 */
enum jg_err kube_watch_feed(struct kube_watch *w, const char *data,
	    size_t len, kube_watch_fn fn, void *arg);

/*
 * The stream ended: a last event without its newline is parsed as if it
 * had one; a line being skipped is reported.  Same returns as feed.
 */
enum jg_err kube_watch_finish(struct kube_watch *w, kube_watch_fn fn,
	    void *arg);

/* Bytes of an incomplete event held now, for tests and status. */
size_t	kube_watch_pending(const struct kube_watch *w);

/* "ADDED", ..., "OVERSIZE", "GARBAGE" */
const char *kube_event_type_name(enum kube_event_type type);

#endif /* JG_KUBE_WATCH_H */
