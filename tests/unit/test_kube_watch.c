/*
 * test_kube_watch.c: the watch stream parser: events split at every byte
 * position, an event over the cap skipped with bounded memory and
 * reported, garbage lines reported without losing the events around them,
 * blank lines, stopping early, and the last event at the end of a stream.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube_watch.h"

#define REC_MAX		32

/* What the callback saw. */
struct rec {
	size_t			 n;
	enum kube_event_type	 type[REC_MAX];
	char			 name[REC_MAX][64];
	size_t			 bytes[REC_MAX];
	size_t			 stop_after;	/* 0 = never stop */
};

static bool
rec_event(const struct kube_event *ev, void *arg)
{
	struct rec *r = arg;
	const cJSON *md, *name;

	assert_true(r->n < REC_MAX);
	r->type[r->n] = ev->ke_type;
	r->bytes[r->n] = ev->ke_bytes;
	r->name[r->n][0] = '\0';
	if (ev->ke_object != NULL) {
		md = cJSON_GetObjectItemCaseSensitive(ev->ke_object,
		    "metadata");
		name = cJSON_GetObjectItemCaseSensitive(md, "name");
		if (cJSON_IsString(name))
			snprintf(r->name[r->n], sizeof(r->name[r->n]), "%s",
			    name->valuestring);
	} else
		assert_true(ev->ke_type == KUBE_EVENT_OVERSIZE ||
		    ev->ke_type == KUBE_EVENT_GARBAGE);
	r->n++;
	return r->stop_after == 0 || r->n < r->stop_after;
}

static const char three_events[] =
    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
    "\"resourceVersion\":\"10\"}}}\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":"
    "\"\xe8\xae\xad\xe7\xbb\x83\",\"annotations\":{\"x\":\"{\\\"k\\\":"
    "\\\"v\\n\\\"}\"}}}}\n"
    "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"c\"}}}\n";

static void
assert_three(const struct rec *r)
{
	assert_int_equal(r->n, 3);
	assert_int_equal(r->type[0], KUBE_EVENT_ADDED);
	assert_string_equal(r->name[0], "a");
	assert_int_equal(r->type[1], KUBE_EVENT_MODIFIED);
	assert_string_equal(r->name[1], "\xe8\xae\xad\xe7\xbb\x83");
	assert_int_equal(r->type[2], KUBE_EVENT_DELETED);
	assert_string_equal(r->name[2], "c");
}

static void
splits_at_every_byte_position_give_the_same_events(void **state)
{
	struct kube_watch *w;
	struct rec r;
	size_t len = strlen(three_events), i, j;

	(void)state;
	w = kube_watch_new(0);
	assert_non_null(w);
	for (i = 0; i <= len; i++) {
		memset(&r, 0, sizeof(r));
		assert_int_equal(kube_watch_feed(w, three_events, i, rec_event,
		    &r), JG_OK);
		assert_int_equal(kube_watch_feed(w, three_events + i, len - i,
		    rec_event, &r), JG_OK);
		assert_three(&r);
		assert_int_equal(kube_watch_pending(w), 0);
	}
	/* And every pair of cuts, i.e. three reads. */
	for (i = 0; i <= len; i += 7)
		for (j = i; j <= len; j += 5) {
			memset(&r, 0, sizeof(r));
			kube_watch_feed(w, three_events, i, rec_event, &r);
			kube_watch_feed(w, three_events + i, j - i, rec_event,
			    &r);
			kube_watch_feed(w, three_events + j, len - j,
			    rec_event, &r);
			assert_three(&r);
		}
	kube_watch_free(w);
}

static void
one_byte_reads_give_the_same_events(void **state)
{
	struct kube_watch *w;
	struct rec r;
	size_t i;

	(void)state;
	memset(&r, 0, sizeof(r));
	w = kube_watch_new(0);
	for (i = 0; three_events[i] != '\0'; i++)
		assert_int_equal(kube_watch_feed(w, three_events + i, 1,
		    rec_event, &r), JG_OK);
	assert_three(&r);
	kube_watch_free(w);
}

/* small, huge (over a 4 KiB cap), small. */
static char *
huge_stream(size_t huge_len, size_t *len)
{
	static const char small1[] = "{\"type\":\"ADDED\",\"object\":"
	    "{\"metadata\":{\"name\":\"before\"}}}\n";
	static const char small2[] = "{\"type\":\"ADDED\",\"object\":"
	    "{\"metadata\":{\"name\":\"after\"}}}\n";
	static const char head[] = "{\"type\":\"ADDED\",\"object\":"
	    "{\"metadata\":{\"name\":\"huge\",\"annotations\":{\"x\":\"";
	static const char tail[] = "\"}}}}\n";
	size_t o = 0, fill;
	char *s;

	fill = huge_len - (sizeof(head) - 1) - (sizeof(tail) - 2);
	*len = sizeof(small1) - 1 + huge_len + 1 + sizeof(small2) - 1;
	s = malloc(*len + 1);
	assert_non_null(s);
	memcpy(s + o, small1, sizeof(small1) - 1);
	o += sizeof(small1) - 1;
	memcpy(s + o, head, sizeof(head) - 1);
	o += sizeof(head) - 1;
	memset(s + o, 'y', fill);
	o += fill;
	memcpy(s + o, tail, sizeof(tail) - 1);
	o += sizeof(tail) - 1;
	memcpy(s + o, small2, sizeof(small2) - 1);
	o += sizeof(small2) - 1;
	assert_int_equal(o, *len);
	s[o] = '\0';
	return s;
}

static void
an_event_over_the_cap_is_skipped_with_bounded_memory(void **state)
{
	struct kube_watch *w;
	struct rec r;
	size_t len, i, n, chunk;
	char *s;

	(void)state;
	s = huge_stream(100000, &len);
	/* Chunk sizes below, around and above the cap. */
	for (chunk = 1; chunk <= 8192; chunk = chunk * 3 + 1) {
		memset(&r, 0, sizeof(r));
		w = kube_watch_new(4096);
		for (i = 0; i < len; i += n) {
			n = len - i < chunk ? len - i : chunk;
			assert_int_equal(kube_watch_feed(w, s + i, n, rec_event,
			    &r), JG_OK);
			assert_true(kube_watch_pending(w) <= 4096);
		}
		assert_int_equal(r.n, 3);
		assert_string_equal(r.name[0], "before");
		assert_int_equal(r.type[1], KUBE_EVENT_OVERSIZE);
		assert_int_equal(r.bytes[1], 100000);
		assert_int_equal(r.type[2], KUBE_EVENT_ADDED);
		assert_string_equal(r.name[2], "after");
		kube_watch_free(w);
	}
	free(s);
}

static void
a_huge_event_in_one_read_is_skipped_too(void **state)
{
	struct kube_watch *w;
	struct rec r;
	size_t len;
	char *s;

	(void)state;
	memset(&r, 0, sizeof(r));
	s = huge_stream(9u * 1024 * 1024, &len);
	w = kube_watch_new(0);
	assert_int_equal(kube_watch_feed(w, s, len, rec_event, &r), JG_OK);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.type[1], KUBE_EVENT_OVERSIZE);
	assert_int_equal(r.bytes[1], 9u * 1024 * 1024);
	assert_string_equal(r.name[2], "after");
	kube_watch_free(w);
	free(s);
}

static void
an_event_of_exactly_the_cap_is_kept(void **state)
{
	struct kube_watch *w;
	struct rec r;
	size_t len, cap;
	char *s;

	(void)state;
	memset(&r, 0, sizeof(r));
	s = huge_stream(5000, &len);
	cap = 5000;
	w = kube_watch_new(cap);
	/* Split inside the big one so it goes through the buffer. */
	kube_watch_feed(w, s, 100, rec_event, &r);
	kube_watch_feed(w, s + 100, len - 100, rec_event, &r);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.type[1], KUBE_EVENT_ADDED);
	assert_string_equal(r.name[1], "huge");
	kube_watch_free(w);
	memset(&r, 0, sizeof(r));
	w = kube_watch_new(cap - 1);
	kube_watch_feed(w, s, 100, rec_event, &r);
	kube_watch_feed(w, s + 100, len - 100, rec_event, &r);
	assert_int_equal(r.type[1], KUBE_EVENT_OVERSIZE);
	kube_watch_free(w);
	free(s);
}

static void
garbage_lines_are_reported_and_later_events_still_parse(void **state)
{
	static const char text[] =
	    "this is not json\n"
	    "{\"type\":\"ADDED\"}\n"
	    "{\"type\":\"SURPRISE\",\"object\":{}}\n"
	    "{\"type\":\"ADDED\",\"object\":{}} trailing\n"
	    "[1,2,3]\n"
	    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"ok\"}}}\n";
	struct kube_watch *w;
	struct rec r;
	size_t i;

	(void)state;
	memset(&r, 0, sizeof(r));
	w = kube_watch_new(0);
	assert_int_equal(kube_watch_feed(w, text, strlen(text), rec_event, &r),
	    JG_OK);
	assert_int_equal(r.n, 6);
	for (i = 0; i < 5; i++)
		assert_int_equal(r.type[i], KUBE_EVENT_GARBAGE);
	assert_int_equal(r.bytes[0], strlen("this is not json"));
	assert_int_equal(r.type[5], KUBE_EVENT_ADDED);
	assert_string_equal(r.name[5], "ok");
	kube_watch_free(w);
}

static void
blank_lines_and_crlf_are_not_events(void **state)
{
	static const char text[] = "\n\r\n  \n"
	    "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"name\":\"\","
	    "\"resourceVersion\":\"77\"}}}\r\n\n"
	    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,"
	    "\"reason\":\"Expired\"}}\n";
	struct kube_watch *w;
	struct rec r;

	(void)state;
	memset(&r, 0, sizeof(r));
	w = kube_watch_new(0);
	assert_int_equal(kube_watch_feed(w, text, strlen(text), rec_event, &r),
	    JG_OK);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.type[0], KUBE_EVENT_BOOKMARK);
	assert_int_equal(r.type[1], KUBE_EVENT_ERROR);
	kube_watch_free(w);
}

static void
the_callback_can_stop_the_stream(void **state)
{
	struct kube_watch *w;
	struct rec r;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.stop_after = 2;
	w = kube_watch_new(0);
	assert_int_equal(kube_watch_feed(w, three_events, strlen(three_events),
	    rec_event, &r), JG_ERR_AGAIN);
	assert_int_equal(r.n, 2);
	kube_watch_free(w);
}

static void
the_end_of_the_stream_parses_a_last_event_without_newline(void **state)
{
	static const char text[] = "{\"type\":\"ADDED\",\"object\":"
	    "{\"metadata\":{\"name\":\"last\"}}}";
	struct kube_watch *w;
	struct rec r;
	size_t len;
	char *s;

	(void)state;
	memset(&r, 0, sizeof(r));
	w = kube_watch_new(0);
	kube_watch_feed(w, text, strlen(text), rec_event, &r);
	assert_int_equal(r.n, 0);
	assert_int_equal(kube_watch_pending(w), strlen(text));
	assert_int_equal(kube_watch_finish(w, rec_event, &r), JG_OK);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.name[0], "last");
	assert_int_equal(kube_watch_pending(w), 0);

	/* An over-cap line cut off by the end is still reported. */
	memset(&r, 0, sizeof(r));
	s = huge_stream(10000, &len);
	kube_watch_feed(w, s, 9000, rec_event, &r);
	kube_watch_free(w);
	w = kube_watch_new(1000);
	memset(&r, 0, sizeof(r));
	kube_watch_feed(w, s, 9000, rec_event, &r);
	assert_int_equal(kube_watch_finish(w, rec_event, &r), JG_OK);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.type[1], KUBE_EVENT_OVERSIZE);
	free(s);
	kube_watch_free(w);
}

static void
reset_forgets_a_partial_event(void **state)
{
	struct kube_watch *w;
	struct rec r;

	(void)state;
	memset(&r, 0, sizeof(r));
	w = kube_watch_new(0);
	kube_watch_feed(w, three_events, 20, rec_event, &r);
	assert_int_equal(kube_watch_pending(w), 20);
	kube_watch_reset(w);
	assert_int_equal(kube_watch_pending(w), 0);
	kube_watch_feed(w, three_events, strlen(three_events), rec_event, &r);
	assert_three(&r);
	kube_watch_free(w);
	kube_watch_free(NULL);
	assert_string_equal(kube_event_type_name(KUBE_EVENT_OVERSIZE),
	    "OVERSIZE");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    splits_at_every_byte_position_give_the_same_events),
		cmocka_unit_test(one_byte_reads_give_the_same_events),
		cmocka_unit_test(
		    an_event_over_the_cap_is_skipped_with_bounded_memory),
		cmocka_unit_test(a_huge_event_in_one_read_is_skipped_too),
		cmocka_unit_test(an_event_of_exactly_the_cap_is_kept),
		cmocka_unit_test(
		    garbage_lines_are_reported_and_later_events_still_parse),
		cmocka_unit_test(blank_lines_and_crlf_are_not_events),
		cmocka_unit_test(the_callback_can_stop_the_stream),
		cmocka_unit_test(
		    the_end_of_the_stream_parses_a_last_event_without_newline),
		cmocka_unit_test(reset_forgets_a_partial_event),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
