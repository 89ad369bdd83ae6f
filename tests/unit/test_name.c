/*
 * test_name.c: the login and jump-target grammar of name.h, its limits and
 * the sentences it gives users, and name_escape().
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "name.h"

static void
login(const char *text, struct name_parts *np)
{
	char err[256] = "";

	if (name_parse_login(text, np, err, sizeof(err)) != JG_OK)
		fail_msg("login '%s' refused: %s", text, err);
}

/* Parses text, expects a refusal, and returns the sentence. */
static const char *
refused(const char *text, bool target)
{
	static char err[512];
	struct name_parts np;
	enum jg_err r;

	memset(err, 0, sizeof(err));
	r = target ? name_parse_target(text, &np, err, sizeof(err)) :
	    name_parse_login(text, &np, err, sizeof(err));
	assert_int_equal(r, JG_ERR_BAD_NAME);
	assert_string_equal(np.np_user, "");
	assert_string_equal(np.np_job, "");
	return err;
}

static void
parses_a_bare_user_with_no_job(void **state)
{
	struct name_parts np;

	login("alice", &np);
	assert_string_equal(np.np_user, "alice");
	assert_string_equal(np.np_job, "");
	assert_string_equal(np.np_pod, "");
}

static void
parses_user_job_and_pod(void **state)
{
	struct name_parts np;

	login("alice+jpt-alice-251110-ab12c", &np);
	assert_string_equal(np.np_user, "alice");
	assert_string_equal(np.np_job, "jpt-alice-251110-ab12c");
	assert_string_equal(np.np_pod, "");

	login("a.l_i-ce9+train job+worker-1", &np);
	assert_string_equal(np.np_user, "a.l_i-ce9");
	assert_string_equal(np.np_job, "train job");
	assert_string_equal(np.np_pod, "worker-1");
}

static void
accepts_a_chinese_display_name_as_job(void **state)
{
	struct name_parts np;

	login("alice+训练任务", &np);
	assert_string_equal(np.np_job, "训练任务");
}

static void
refuses_a_login_with_four_parts(void **state)
{
	assert_string_equal(refused("a+b+c+d", false), "login 'a+b+c+d' has "
	    "too many '+' parts (expected USER, USER+JOB or USER+JOB+POD)");
}

static void
names_the_invalid_character_of_a_user(void **state)
{
	assert_string_equal(refused("Al ice", false),
	    "user name 'Al ice' has invalid character ' '");
	assert_string_equal(refused("alicé+job", false),
	    "user name 'alicé' has invalid character 'é'");
	assert_string_equal(refused("al\x01ice", false),
	    "user name 'al\\x01ice' has invalid character '\\x01'");
}

static void
refuses_a_user_starting_with_dash_or_dot(void **state)
{
	assert_string_equal(refused("-alice", false),
	    "user name '-alice' must not start with '-'");
	assert_string_equal(refused(".alice", false),
	    "user name '.alice' must not start with '.'");
	assert_false(name_user_valid("-alice"));
	assert_false(name_user_valid(""));
	assert_false(name_user_valid(NULL));
	assert_true(name_user_valid("alice_1.x-y"));
}

static void
accepts_a_32_character_user_and_refuses_33(void **state)
{
	char user[NAME_USER_MAX + 2];
	struct name_parts np;

	memset(user, 'u', sizeof(user) - 1);
	user[NAME_USER_MAX] = '\0';
	login(user, &np);
	assert_int_equal(strlen(np.np_user), NAME_USER_MAX);
	assert_true(name_user_valid(user));
	user[NAME_USER_MAX] = 'u';
	user[NAME_USER_MAX + 1] = '\0';
	assert_non_null(strstr(refused(user, false),
	    "is longer than 32 characters"));
	assert_false(name_user_valid(user));
}

static void
accepts_a_160_byte_job_and_refuses_161(void **state)
{
	char text[8 + NAME_JOB_MAX + 2];
	struct name_parts np;

	memcpy(text, "alice+", 6);
	memset(text + 6, 'j', NAME_JOB_MAX);
	text[6 + NAME_JOB_MAX] = '\0';
	login(text, &np);
	assert_int_equal(strlen(np.np_job), NAME_JOB_MAX);
	text[6 + NAME_JOB_MAX] = 'j';
	text[6 + NAME_JOB_MAX + 1] = '\0';
	assert_non_null(strstr(refused(text, false),
	    "is longer than 160 bytes"));
}

static void
refuses_empty_parts(void **state)
{
	assert_string_equal(refused("", false), "login is empty");
	assert_string_equal(refused("+job", false),
	    "login '+job' has an empty user name");
	assert_string_equal(refused("alice+", false),
	    "login 'alice+' has an empty job name");
	assert_string_equal(refused("alice++worker-1", false),
	    "login 'alice++worker-1' has an empty job name");
	assert_string_equal(refused("alice+job+", false),
	    "login 'alice+job+' has an empty pod name");
}

static void
refuses_slash_at_and_control_characters_in_a_job(void **state)
{
	assert_string_equal(refused("alice+team/job", false),
	    "job name 'team/job' has invalid character '/'");
	assert_string_equal(refused("alice+job@x", false),
	    "job name 'job@x' has invalid character '@'");
	assert_string_equal(refused("alice+jo\nb", false),
	    "job name 'jo\\x0ab' has invalid character '\\x0a'");
	/* U+202E RIGHT-TO-LEFT OVERRIDE reorders what the user reads. */
	assert_non_null(strstr(refused("alice+job\xe2\x80\xae", false),
	    "has invalid character '\\xe2\\x80\\xae'"));
	assert_string_equal(refused("alice+bad\xff", false),
	    "job name 'bad\\xff' is not valid UTF-8");
	/* An overlong '/' must not slip past the '/' check. */
	assert_non_null(strstr(refused("alice+a\xc0\xaf" "b", false),
	    "is not valid UTF-8"));
}

static void
refuses_a_pod_outside_a_to_z_digits_dot_dash(void **state)
{
	assert_string_equal(refused("alice+job+Worker-1", false),
	    "pod name 'Worker-1' has invalid character 'W' (expected a-z, "
	    "0-9, '.' or '-')");
}

static void
refuses_a_login_longer_than_the_grammar_allows(void **state)
{
	char text[1024];

	memset(text, 'a', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	assert_non_null(strstr(refused(text, false),
	    "is longer than 447 bytes"));
}

static void
parses_jump_targets(void **state)
{
	struct name_parts np;
	char err[256];

	assert_int_equal(name_parse_target("myjob", &np, err, sizeof(err)),
	    JG_OK);
	assert_string_equal(np.np_user, "");
	assert_string_equal(np.np_job, "myjob");
	assert_string_equal(np.np_pod, "");
	assert_int_equal(name_parse_target("myjob+master-0", &np, err,
	    sizeof(err)), JG_OK);
	assert_string_equal(np.np_job, "myjob");
	assert_string_equal(np.np_pod, "master-0");
	assert_string_equal(refused("a+b+c", true), "jump target 'a+b+c' has "
	    "too many '+' parts (expected JOB or JOB+POD)");
	assert_string_equal(refused("", true), "jump target is empty");
}

static void
escape_keeps_utf8_and_hex_escapes_control_bytes(void **state)
{
	char out[64];

	assert_string_equal(name_escape(out, sizeof(out), "训练 a\x1b[2J",
	    100), "训练 a\\x1b[2J");
	assert_string_equal(name_escape(out, sizeof(out), "a\xff", 100),
	    "a\\xff");
	assert_string_equal(name_escape(out, sizeof(out), NULL, 100), "");
}

static void
escape_cuts_at_a_character_boundary_and_marks_the_cut(void **state)
{
	char out[64];

	/* 训 is three bytes: four bytes of source keep one character. */
	assert_string_equal(name_escape(out, sizeof(out), "训练", 4),
	    "训...");
	assert_string_equal(name_escape(out, sizeof(out), "abcdef", 3),
	    "abc...");
	/* A small destination is cut the same way, and terminated. */
	assert_string_equal(name_escape(out, 8, "abcdefghij", 100),
	    "abcd...");
	assert_string_equal(name_escape(out, 4, "abcdefghij", 100), "...");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_a_bare_user_with_no_job),
		cmocka_unit_test(parses_user_job_and_pod),
		cmocka_unit_test(accepts_a_chinese_display_name_as_job),
		cmocka_unit_test(refuses_a_login_with_four_parts),
		cmocka_unit_test(names_the_invalid_character_of_a_user),
		cmocka_unit_test(refuses_a_user_starting_with_dash_or_dot),
		cmocka_unit_test(accepts_a_32_character_user_and_refuses_33),
		cmocka_unit_test(accepts_a_160_byte_job_and_refuses_161),
		cmocka_unit_test(refuses_empty_parts),
		cmocka_unit_test(
		    refuses_slash_at_and_control_characters_in_a_job),
		cmocka_unit_test(refuses_a_pod_outside_a_to_z_digits_dot_dash),
		cmocka_unit_test(
		    refuses_a_login_longer_than_the_grammar_allows),
		cmocka_unit_test(parses_jump_targets),
		cmocka_unit_test(
		    escape_keeps_utf8_and_hex_escapes_control_bytes),
		cmocka_unit_test(
		    escape_cuts_at_a_character_boundary_and_marks_the_cut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
