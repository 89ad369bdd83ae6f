/*
 * test_direct_prompt.c: the line editor of direct mode's password
 * passthrough (Enter, backspace, cancel, echo, the length bound) and the
 * cleaning of the pod's prompt text for a raw terminal.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "direct_prompt.h"

/* Feeds keys; returns the first result that is not MORE (or MORE). */
static enum direct_prompt_rc
type_keys(struct direct_prompt *p, const char *keys, size_t n, char *shown,
    size_t shownlen)
{
	enum direct_prompt_rc rc = DIRECT_PROMPT_MORE;
	char echo[DIRECT_PROMPT_ECHO_MAX];
	size_t i, elen, off = 0;

	shown[0] = '\0';
	for (i = 0; i < n && rc == DIRECT_PROMPT_MORE; i++) {
		rc = direct_prompt_key(p, (unsigned char)keys[i], echo, &elen);
		assert_true(elen <= DIRECT_PROMPT_ECHO_MAX);
		assert_true(off + elen < shownlen);
		memcpy(shown + off, echo, elen);
		off += elen;
		shown[off] = '\0';
	}
	return rc;
}

static void
ends_the_answer_at_a_carriage_return_without_echo(void **state)
{
	struct direct_prompt p;
	char shown[64];

	memset(&p, 0, sizeof(p));
	direct_prompt_start(&p, false);
	assert_int_equal(type_keys(&p, "s3cret\r", 7, shown, sizeof(shown)),
	    DIRECT_PROMPT_DONE);
	assert_string_equal(p.dp_buf, "s3cret");
	assert_int_equal(p.dp_len, 6);
	/* Only the new line shows, never the secret. */
	assert_string_equal(shown, "\r\n");
	direct_prompt_wipe(&p);
	assert_int_equal(p.dp_len, 0);
	assert_string_equal(p.dp_buf, "");
}

static void
echoes_an_answer_when_the_prompt_asks_for_it(void **state)
{
	struct direct_prompt p;
	char shown[64];

	memset(&p, 0, sizeof(p));
	direct_prompt_start(&p, true);
	assert_int_equal(type_keys(&p, "bob\n", 4, shown, sizeof(shown)),
	    DIRECT_PROMPT_DONE);
	assert_string_equal(p.dp_buf, "bob");
	assert_string_equal(shown, "bob\r\n");
}

static void
takes_back_characters_with_backspace_and_delete(void **state)
{
	struct direct_prompt p;
	char shown[64];

	memset(&p, 0, sizeof(p));
	direct_prompt_start(&p, true);
	assert_int_equal(type_keys(&p, "abx\x7f" "c\b\bd\r", 9, shown,
	    sizeof(shown)), DIRECT_PROMPT_DONE);
	assert_string_equal(p.dp_buf, "ad");
	assert_string_equal(shown, "abx\b \bc\b \b\b \bd\r\n");
	/* A backspace on an empty line does nothing, shows nothing. */
	direct_prompt_start(&p, true);
	assert_int_equal(type_keys(&p, "\x7f", 1, shown, sizeof(shown)),
	    DIRECT_PROMPT_MORE);
	assert_string_equal(shown, "");
	assert_int_equal(p.dp_len, 0);
}

static void
takes_back_a_whole_utf8_character(void **state)
{
	struct direct_prompt p;
	char shown[64];

	memset(&p, 0, sizeof(p));
	direct_prompt_start(&p, false);
	/* "aé€" then two rubouts leave "a". */
	assert_int_equal(type_keys(&p, "a\xc3\xa9\xe2\x82\xac\x7f\x7f\r", 9,
	    shown, sizeof(shown)), DIRECT_PROMPT_DONE);
	assert_string_equal(p.dp_buf, "a");
}

static void
cancels_on_ctrl_c_and_on_ctrl_d(void **state)
{
	struct direct_prompt p;
	char shown[64];

	memset(&p, 0, sizeof(p));
	direct_prompt_start(&p, false);
	assert_int_equal(type_keys(&p, "abc\x03", 4, shown, sizeof(shown)),
	    DIRECT_PROMPT_CANCEL);
	direct_prompt_start(&p, false);
	assert_int_equal(p.dp_len, 0);
	assert_int_equal(type_keys(&p, "\x04", 1, shown, sizeof(shown)),
	    DIRECT_PROMPT_CANCEL);
}

static void
ctrl_u_clears_the_line(void **state)
{
	struct direct_prompt p;
	char shown[64];

	memset(&p, 0, sizeof(p));
	direct_prompt_start(&p, false);
	assert_int_equal(type_keys(&p, "wrong\x15right\r", 12, shown,
	    sizeof(shown)), DIRECT_PROMPT_DONE);
	assert_string_equal(p.dp_buf, "right");
}

static void
drops_other_control_bytes(void **state)
{
	struct direct_prompt p;
	char shown[64];

	memset(&p, 0, sizeof(p));
	direct_prompt_start(&p, true);
	assert_int_equal(type_keys(&p, "a\x1b" "b\x01\tc\r", 7, shown,
	    sizeof(shown)), DIRECT_PROMPT_DONE);
	assert_string_equal(p.dp_buf, "ab\tc");
}

static void
a_line_feed_after_a_carriage_return_is_the_same_enter(void **state)
{
	struct direct_prompt p;
	char shown[64];

	memset(&p, 0, sizeof(p));
	direct_prompt_start(&p, false);
	assert_int_equal(type_keys(&p, "one\r", 4, shown, sizeof(shown)),
	    DIRECT_PROMPT_DONE);
	direct_prompt_start(&p, false);
	assert_int_equal(type_keys(&p, "\ntwo\r", 5, shown, sizeof(shown)),
	    DIRECT_PROMPT_DONE);
	assert_string_equal(p.dp_buf, "two");
	/* A LF on its own is an (empty) answer. */
	direct_prompt_start(&p, false);
	p.dp_after_cr = false;
	assert_int_equal(type_keys(&p, "\n", 1, shown, sizeof(shown)),
	    DIRECT_PROMPT_DONE);
	assert_string_equal(p.dp_buf, "");
}

static void
stops_taking_keys_at_the_length_bound(void **state)
{
	struct direct_prompt p;
	char echo[DIRECT_PROMPT_ECHO_MAX];
	size_t i, elen;

	memset(&p, 0, sizeof(p));
	direct_prompt_start(&p, false);
	for (i = 0; i < DIRECT_PROMPT_MAX + 100; i++)
		assert_int_equal(direct_prompt_key(&p, 'x', echo, &elen),
		    DIRECT_PROMPT_MORE);
	assert_int_equal(p.dp_len, DIRECT_PROMPT_MAX);
	assert_int_equal(p.dp_buf[DIRECT_PROMPT_MAX], '\0');
	assert_int_equal(direct_prompt_key(&p, '\r', echo, &elen),
	    DIRECT_PROMPT_DONE);
	assert_int_equal(strlen(p.dp_buf), DIRECT_PROMPT_MAX);
}

static void
cleans_the_pods_text_for_a_raw_terminal(void **state)
{
	char out[64];

	assert_int_equal(direct_prompt_sanitize(out, sizeof(out),
	    "Name\nPassword: ", 100), 16);
	assert_string_equal(out, "Name\r\nPassword: ");
	direct_prompt_sanitize(out, sizeof(out), "a\x1b[2Jb\x7f\x9b" "c", 100);
	assert_string_equal(out, "a?[2Jb??c");
	/* Valid UTF-8 stays; a C1 control in UTF-8 form does not. */
	direct_prompt_sanitize(out, sizeof(out), "Pa\xc3\x9f \xc2\x9b.", 100);
	assert_string_equal(out, "Pa\xc3\x9f ??.");
	/* Bounded by maxsrc and by the output, never a split sequence. */
	direct_prompt_sanitize(out, sizeof(out), "abcdef", 3);
	assert_string_equal(out, "abc");
	direct_prompt_sanitize(out, 4, "ab\xc3\xa9", 100);
	assert_string_equal(out, "ab");
	direct_prompt_sanitize(out, sizeof(out), NULL, 100);
	assert_string_equal(out, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    ends_the_answer_at_a_carriage_return_without_echo),
		cmocka_unit_test(echoes_an_answer_when_the_prompt_asks_for_it),
		cmocka_unit_test(
		    takes_back_characters_with_backspace_and_delete),
		cmocka_unit_test(takes_back_a_whole_utf8_character),
		cmocka_unit_test(cancels_on_ctrl_c_and_on_ctrl_d),
		cmocka_unit_test(ctrl_u_clears_the_line),
		cmocka_unit_test(drops_other_control_bytes),
		cmocka_unit_test(
		    a_line_feed_after_a_carriage_return_is_the_same_enter),
		cmocka_unit_test(stops_taking_keys_at_the_length_bound),
		cmocka_unit_test(cleans_the_pods_text_for_a_raw_terminal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
