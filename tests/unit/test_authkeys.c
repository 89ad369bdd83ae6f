/*
 * test_authkeys.c: authorized_keys parsing, option policy, from= patterns,
 * expiry and permitopen.  Fixtures are public keys only
 * (tests/data/authkeys); other keys are generated with libssh here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "authkeys.h"

/* A client key generated for one test, and its authorized_keys text. */
struct testkey {
	ssh_key	 tk_key;
	char	*tk_b64;
};

static void
testkey_new(struct testkey *tk)
{
	assert_int_equal(ssh_pki_generate(SSH_KEYTYPE_ED25519, 0,
	    &tk->tk_key), SSH_OK);
	assert_int_equal(ssh_pki_export_pubkey_base64(tk->tk_key,
	    &tk->tk_b64), SSH_OK);
}

static void
testkey_free(struct testkey *tk)
{
	ssh_key_free(tk->tk_key);
	ssh_string_free_char(tk->tk_b64);
}

static ssh_key
fixture_pubkey(const char *name)
{
	char path[1024], line[1024], *b64, *end;
	const char *dir = getenv("JG_TEST_DATA");
	ssh_key key = NULL;
	FILE *fp;

	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/authkeys/%s", dir, name);
	assert_non_null(fp = fopen(path, "r"));
	assert_non_null(fgets(line, sizeof(line), fp));
	fclose(fp);
	/* "<type> <base64> <comment>" */
	assert_non_null(b64 = strchr(line, ' '));
	*b64++ = '\0';
	assert_non_null(end = strchr(b64, ' '));
	*end = '\0';
	assert_int_equal(ssh_pki_import_pubkey_base64(b64,
	    ssh_key_type_from_name(line), &key), SSH_OK);
	return key;
}

static char *
read_fixture(const char *name, size_t *len)
{
	char path[1024];
	const char *dir = getenv("JG_TEST_DATA");
	char *buf;
	FILE *fp;

	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/authkeys/%s", dir, name);
	assert_non_null(fp = fopen(path, "r"));
	assert_non_null(buf = malloc(65536));
	*len = fread(buf, 1, 65535, fp);
	fclose(fp);
	buf[*len] = '\0';
	return buf;
}

/* Parses a one-line text "<options> ssh-ed25519 <key> <comment>". */
static struct authkeys *
parse_line(const struct testkey *tk, const char *options,
    struct jg_errlist *warnings)
{
	struct authkeys *keys = NULL;
	char text[4096];

	snprintf(text, sizeof(text), "%s%sssh-ed25519 %s test\n", options,
	    options[0] != '\0' ? " " : "", tk->tk_b64);
	assert_int_equal(authkeys_parse(text, strlen(text), "mem", &keys,
	    warnings), JG_OK);
	return keys;
}

static bool
has_warning(const struct jg_errlist *w, const char *text)
{
	size_t i;

	for (i = 0; i < w->el_count && i < JG_ERRLIST_MAX; i++)
		if (strcmp(w->el_msg[i], text) == 0)
			return true;
	return false;
}

static bool
has_warning_prefix(const struct jg_errlist *w, const char *prefix)
{
	size_t i;

	for (i = 0; i < w->el_count && i < JG_ERRLIST_MAX; i++)
		if (strncmp(w->el_msg[i], prefix, strlen(prefix)) == 0)
			return true;
	return false;
}

static void
parses_keys_comments_and_options_from_a_mixed_file(void **state)
{
	struct authkeys *keys = NULL;
	struct jg_errlist w;
	const struct authkeys_entry *e;
	size_t len;
	char *text = read_fixture("mixed.keys", &len);

	jg_errlist_init(&w);
	assert_int_equal(authkeys_parse(text, len, "mixed.keys", &keys, &w),
	    JG_OK);
	free(text);
	/* Lines 3-10 hold keys (7 is sk-ssh-ed25519); 11-15 are broken. */
	assert_int_equal(keys->ak_count, 8);
	assert_string_equal(keys->ak_entries[0].ak_origin, "mixed.keys:3");
	assert_string_equal(keys->ak_entries[0].ak_comment, "ed25519@fixture");
	assert_int_equal(ssh_key_type(keys->ak_entries[1].ak_key),
	    SSH_KEYTYPE_ECDSA_P256);
	assert_string_equal(keys->ak_entries[2].ak_comment,
	    "ecdsa384 with spaces");
	assert_int_equal(ssh_key_type(keys->ak_entries[3].ak_key),
	    SSH_KEYTYPE_RSA);
	assert_int_equal(ssh_key_type(keys->ak_entries[4].ak_key),
	    SSH_KEYTYPE_SK_ED25519);

	e = &keys->ak_entries[5];	/* line 8: restrict + re-enable */
	assert_string_equal(e->ak_origin, "mixed.keys:8");
	assert_true(e->ak_port_forwarding);
	assert_false(e->ak_pty);
	assert_false(e->ak_agent_forwarding);
	assert_false(e->ak_x11_forwarding);
	assert_int_equal(e->ak_npermitopen, 2);
	assert_string_equal(e->ak_permitopen[0], "job-a:22");
	assert_string_equal(e->ak_permitopen[1], "[2001:db8::1]:*");
	assert_null(e->ak_unusable);

	e = &keys->ak_entries[6];	/* line 9: quotes, commas, case */
	assert_string_equal(e->ak_from, "10.0.0.0/8,!10.66.0.0/16");
	assert_false(e->ak_pty);
	assert_true(e->ak_port_forwarding);
	assert_null(e->ak_unusable);

	e = &keys->ak_entries[7];	/* line 10: command= */
	assert_string_equal(e->ak_unusable,
	    "restricted by command= which jumpgate cannot honour");

	assert_true(has_warning(&w, "mixed.keys:9: option environment= is "
	    "ignored: jumpgate runs no commands"));
	assert_true(has_warning(&w, "mixed.keys:10: key is not usable "
	    "through jumpgate: command= cannot be honoured"));
	assert_true(has_warning(&w, "mixed.keys:11: unknown key type "
	    "'ssh-foo'; line skipped"));
	assert_true(has_warning(&w, "mixed.keys:12: cannot decode the "
	    "ssh-ed25519 key; line skipped"));
	assert_true(has_warning(&w, "mixed.keys:13: unterminated quote in "
	    "options; line skipped"));
	assert_true(has_warning(&w, "mixed.keys:14: key type 'ssh-dss' is "
	    "not accepted; line skipped"));
	assert_true(has_warning(&w, "mixed.keys:15: no key data after "
	    "'ssh-ed25519'; line skipped"));
	assert_int_equal(w.el_count, 7);
	authkeys_unref(keys);
}

static void
matches_a_fixture_key_and_not_an_unlisted_one(void **state)
{
	struct authkeys *keys = NULL;
	const struct authkeys_entry *e = NULL;
	struct testkey other;
	ssh_key ec = fixture_pubkey("ecdsa256.pub");
	char why[256];
	size_t len;
	char *text = read_fixture("mixed.keys", &len);

	assert_int_equal(authkeys_parse(text, len, "mixed.keys", &keys, NULL),
	    JG_OK);
	free(text);
	assert_int_equal(authkeys_match(keys, ec, "192.0.2.7", time(NULL), &e,
	    why, sizeof(why)), JG_OK);
	assert_string_equal(e->ak_origin, "mixed.keys:4");

	testkey_new(&other);
	assert_int_equal(authkeys_match(keys, other.tk_key, "192.0.2.7",
	    time(NULL), &e, why, sizeof(why)), JG_ERR_NOT_FOUND);
	assert_null(e);
	testkey_free(&other);
	ssh_key_free(ec);
	authkeys_unref(keys);
}

static void
denies_a_key_restricted_by_command_with_a_clear_reason(void **state)
{
	static const char *const unsafe[][2] = {
		{ "command=\"/bin/false\"", "restricted by command= which "
		    "jumpgate cannot honour" },
		{ "cert-authority", "restricted by cert-authority which "
		    "jumpgate cannot honour" },
		{ "principals=\"alice\"", "restricted by principals= which "
		    "jumpgate cannot honour" },
		{ "verify-required", "restricted by verify-required which "
		    "jumpgate cannot honour" },
		{ "no-pty,frobnicate", "unusable: unknown option "
		    "'frobnicate'" },
		{ "no-pty=\"x\"", "unusable: option 'no-pty' takes no value" },
		{ "from", "unusable: option 'from' needs a value" },
		{ "from=10.0.0.1", "unusable: option 'from' needs a quoted "
		    "value" },
		{ "from=\"a\"x", "unusable: malformed options after 'from'" },
		{ "from=\"a\",from=\"b\"", "unusable: from= is given more "
		    "than once" },
	};
	const struct authkeys_entry *e;
	struct authkeys *keys;
	struct testkey tk;
	char why[256], want[256];
	size_t i;

	testkey_new(&tk);
	for (i = 0; i < sizeof(unsafe) / sizeof(unsafe[0]); i++) {
		keys = parse_line(&tk, unsafe[i][0], NULL);
		assert_int_equal(keys->ak_count, 1);
		assert_int_equal(authkeys_match(keys, tk.tk_key, "10.0.0.1",
		    time(NULL), &e, why, sizeof(why)), JG_ERR_DENIED);
		snprintf(want, sizeof(want), "key at mem:1 is %s",
		    unsafe[i][1]);
		assert_string_equal(why, want);
		authkeys_unref(keys);
	}
	testkey_free(&tk);
}

static void
ignores_harmless_options(void **state)
{
	const struct authkeys_entry *e;
	struct authkeys *keys;
	struct jg_errlist w;
	struct testkey tk;
	char why[256];

	testkey_new(&tk);
	jg_errlist_init(&w);
	keys = parse_line(&tk, "no-user-rc,user-rc,no-touch-required,"
	    "permitlisten=\"localhost:8080\",tunnel=\"1\"", &w);
	assert_int_equal(authkeys_match(keys, tk.tk_key, "10.0.0.1",
	    time(NULL), &e, why, sizeof(why)), JG_OK);
	assert_true(e->ak_port_forwarding && e->ak_pty &&
	    e->ak_agent_forwarding && e->ak_x11_forwarding);
	/* Only tunnel= is worth a note. */
	assert_int_equal(w.el_count, 1);
	assert_string_equal(w.el_msg[0], "mem:1: option tunnel= is ignored: "
	    "jumpgate runs no commands");
	authkeys_unref(keys);
	testkey_free(&tk);
}

static void
honours_each_no_option_and_restrict_with_re_enabling(void **state)
{
	const struct authkeys_entry *e;
	struct authkeys *keys;
	struct testkey tk;

	testkey_new(&tk);
	keys = parse_line(&tk, "no-port-forwarding,no-pty,"
	    "no-agent-forwarding,no-X11-forwarding", NULL);
	e = &keys->ak_entries[0];
	assert_false(e->ak_port_forwarding || e->ak_pty ||
	    e->ak_agent_forwarding || e->ak_x11_forwarding);
	assert_false(authkeys_permits_open(e, "job", 22));
	authkeys_unref(keys);

	keys = parse_line(&tk, "restrict,pty,agent-forwarding", NULL);
	e = &keys->ak_entries[0];
	assert_false(e->ak_port_forwarding);
	assert_true(e->ak_pty);
	assert_true(e->ak_agent_forwarding);
	assert_false(e->ak_x11_forwarding);
	authkeys_unref(keys);

	/* Order matters, as in sshd: restrict after re-enabling wins. */
	keys = parse_line(&tk, "port-forwarding,restrict", NULL);
	assert_false(keys->ak_entries[0].ak_port_forwarding);
	authkeys_unref(keys);

	keys = parse_line(&tk, "", NULL);
	e = &keys->ak_entries[0];
	assert_true(e->ak_port_forwarding && e->ak_pty &&
	    e->ak_agent_forwarding && e->ak_x11_forwarding);
	assert_null(e->ak_from);
	assert_int_equal(e->ak_expiry, 0);
	authkeys_unref(keys);
	testkey_free(&tk);
}

static void
matches_from_patterns_like_openssh(void **state)
{
	/* CIDR v4 */
	assert_true(authkeys_match_from("10.0.0.0/8", "10.200.3.4"));
	assert_false(authkeys_match_from("10.0.0.0/8", "11.0.0.1"));
	assert_true(authkeys_match_from("192.0.2.7/32", "192.0.2.7"));
	assert_false(authkeys_match_from("192.0.2.7/32", "192.0.2.8"));
	assert_true(authkeys_match_from("0.0.0.0/0", "203.0.113.9"));
	assert_true(authkeys_match_from("192.168.4.0/22", "192.168.7.255"));
	assert_false(authkeys_match_from("192.168.4.0/22", "192.168.8.0"));
	/* CIDR v6, and a v4 pattern never matches a v6 client */
	assert_true(authkeys_match_from("2001:db8::/32", "2001:db8:1::5"));
	assert_false(authkeys_match_from("2001:db8::/32", "2001:db9::5"));
	assert_true(authkeys_match_from("::1/128", "::1"));
	assert_false(authkeys_match_from("10.0.0.0/8", "2001:db8::1"));
	/* a v4 client seen on a dual-stack socket */
	assert_true(authkeys_match_from("10.0.0.0/8", "::ffff:10.1.2.3"));
	/* negation: any negated match refuses */
	assert_false(authkeys_match_from("!10.66.0.0/16,10.0.0.0/8",
	    "10.66.1.1"));
	assert_false(authkeys_match_from("10.0.0.0/8,!10.66.0.0/16",
	    "10.66.1.1"));
	assert_true(authkeys_match_from("10.0.0.0/8,!10.66.0.0/16",
	    "10.65.1.1"));
	/* only negations: nothing positive matched */
	assert_false(authkeys_match_from("!10.66.0.0/16", "192.0.2.1"));
	/* wildcards */
	assert_true(authkeys_match_from("192.168.5.?", "192.168.5.8"));
	assert_false(authkeys_match_from("192.168.5.?", "192.168.5.80"));
	assert_true(authkeys_match_from("10.*", "10.1.2.3"));
	assert_true(authkeys_match_from("*", "2001:db8::1"));
	assert_true(authkeys_match_from("2001:DB8:*", "2001:db8::1"));
	assert_false(authkeys_match_from("!192.0.2.*,*", "192.0.2.200"));
	assert_true(authkeys_match_from("!192.0.2.*,*", "198.51.100.1"));
	/* no DNS: a host name matches only the address text */
	assert_false(authkeys_match_from("*.example.com", "192.0.2.1"));
	/* malformed CIDR refuses even beside a match */
	assert_false(authkeys_match_from("10.0.0.0/33,*", "10.0.0.1"));
	assert_false(authkeys_match_from("10.0.0.0/x,*", "10.0.0.1"));
	assert_false(authkeys_match_from("banana/8,*", "10.0.0.1"));
	assert_false(authkeys_match_from("", "10.0.0.1"));
	assert_false(authkeys_match_from("*", ""));
}

static void
refuses_a_key_from_an_address_outside_from(void **state)
{
	const struct authkeys_entry *e;
	struct authkeys *keys;
	struct testkey tk;
	char why[256];

	testkey_new(&tk);
	keys = parse_line(&tk, "from=\"10.0.0.0/8,!10.66.0.0/16\"", NULL);
	assert_int_equal(authkeys_match(keys, tk.tk_key, "10.1.1.1",
	    time(NULL), &e, why, sizeof(why)), JG_OK);
	assert_int_equal(authkeys_match(keys, tk.tk_key, "10.66.1.1",
	    time(NULL), &e, why, sizeof(why)), JG_ERR_DENIED);
	assert_string_equal(why, "key at mem:1 is not allowed from 10.66.1.1 "
	    "(from=\"10.0.0.0/8,!10.66.0.0/16\")");
	assert_null(e);
	authkeys_unref(keys);
	testkey_free(&tk);
}

static void
a_later_line_may_admit_a_key_an_earlier_line_refused(void **state)
{
	const struct authkeys_entry *e;
	struct authkeys *keys = NULL;
	struct testkey tk;
	char text[2048], why[256];

	testkey_new(&tk);
	snprintf(text, sizeof(text),
	    "from=\"10.0.0.0/8\" ssh-ed25519 %s first\r\n"
	    "from=\"192.0.2.0/24\" ssh-ed25519 %s second\r\n",
	    tk.tk_b64, tk.tk_b64);
	assert_int_equal(authkeys_parse(text, strlen(text), "mem", &keys,
	    NULL), JG_OK);
	assert_int_equal(keys->ak_count, 2);
	/* CRLF line ends do not leak into the comment */
	assert_string_equal(keys->ak_entries[1].ak_comment, "second");
	assert_int_equal(authkeys_match(keys, tk.tk_key, "192.0.2.9",
	    time(NULL), &e, why, sizeof(why)), JG_OK);
	assert_string_equal(e->ak_origin, "mem:2");
	assert_int_equal(authkeys_match(keys, tk.tk_key, "198.51.100.1",
	    time(NULL), &e, why, sizeof(why)), JG_ERR_DENIED);
	/* the first refusal is the one reported */
	assert_non_null(strstr(why, "key at mem:1 is not allowed from"));
	authkeys_unref(keys);
	testkey_free(&tk);
}

static void
honours_expiry_time_in_utc(void **state)
{
	const struct authkeys_entry *e;
	struct authkeys *keys;
	struct jg_errlist w;
	struct testkey tk;
	char why[256];
	/* 2030-01-02 03:04:05 UTC */
	const time_t t = 1893553445;

	testkey_new(&tk);
	keys = parse_line(&tk, "expiry-time=\"20300102030405\"", NULL);
	assert_int_equal(keys->ak_entries[0].ak_expiry, t);
	assert_int_equal(authkeys_match(keys, tk.tk_key, "10.0.0.1", t - 1,
	    &e, why, sizeof(why)), JG_OK);
	assert_int_equal(authkeys_match(keys, tk.tk_key, "10.0.0.1", t, &e,
	    why, sizeof(why)), JG_OK);
	assert_int_equal(authkeys_match(keys, tk.tk_key, "10.0.0.1", t + 1,
	    &e, why, sizeof(why)), JG_ERR_DENIED);
	assert_string_equal(why, "key at mem:1 expired at 2030-01-02 "
	    "03:04:05 UTC");
	authkeys_unref(keys);

	keys = parse_line(&tk, "expiry-time=\"203001020304Z\"", NULL);
	assert_int_equal(keys->ak_entries[0].ak_expiry, t - 5);
	authkeys_unref(keys);
	/* the earliest of several wins */
	keys = parse_line(&tk, "expiry-time=\"20300102\","
	    "expiry-time=\"20200101\"", NULL);
	assert_int_equal(keys->ak_entries[0].ak_expiry, 1577836800);
	assert_int_equal(authkeys_match(keys, tk.tk_key, "10.0.0.1",
	    time(NULL), &e, why, sizeof(why)), JG_ERR_DENIED);
	authkeys_unref(keys);

	jg_errlist_init(&w);
	keys = parse_line(&tk, "expiry-time=\"20240230\"", &w);
	assert_string_equal(keys->ak_entries[0].ak_unusable, "unusable: "
	    "invalid expiry-time \"20240230\"");
	assert_true(has_warning(&w, "mem:1: invalid expiry-time \"20240230\" "
	    "(expected YYYYMMDD[HHMM[SS]])"));
	authkeys_unref(keys);
	testkey_free(&tk);
}

static void
permitopen_limits_the_jump_targets(void **state)
{
	const struct authkeys_entry *e;
	struct authkeys *keys;
	struct jg_errlist w;
	struct testkey tk;

	testkey_new(&tk);
	keys = parse_line(&tk, "permitopen=\"job-a:22\",permitopen=\"job-b:*\","
	    "permitopen=\"[2001:db8::1]:2222\"", NULL);
	e = &keys->ak_entries[0];
	assert_true(authkeys_permits_open(e, "job-a", 22));
	assert_false(authkeys_permits_open(e, "job-a", 2222));
	assert_true(authkeys_permits_open(e, "job-b", 1));
	assert_true(authkeys_permits_open(e, "job-b", 65535));
	assert_false(authkeys_permits_open(e, "job-c", 22));
	assert_false(authkeys_permits_open(e, "Job-A", 22));
	assert_true(authkeys_permits_open(e, "2001:db8::1", 2222));
	authkeys_unref(keys);

	keys = parse_line(&tk, "permitopen=\"*:22\"", NULL);
	assert_true(authkeys_permits_open(&keys->ak_entries[0], "any", 22));
	assert_false(authkeys_permits_open(&keys->ak_entries[0], "any", 23));
	authkeys_unref(keys);

	/* no permitopen: any target */
	keys = parse_line(&tk, "", NULL);
	assert_true(authkeys_permits_open(&keys->ak_entries[0], "x", 22));
	authkeys_unref(keys);

	/* no-port-forwarding beats permitopen */
	keys = parse_line(&tk, "permitopen=\"job-a:22\",no-port-forwarding",
	    NULL);
	assert_false(authkeys_permits_open(&keys->ak_entries[0], "job-a",
	    22));
	authkeys_unref(keys);

	jg_errlist_init(&w);
	keys = parse_line(&tk, "permitopen=\"job-a\"", &w);
	assert_string_equal(keys->ak_entries[0].ak_unusable, "unusable: "
	    "invalid permitopen \"job-a\"");
	assert_true(has_warning_prefix(&w, "mem:1: invalid permitopen"));
	authkeys_unref(keys);
	keys = parse_line(&tk, "permitopen=\"job-a:65536\"", NULL);
	assert_non_null(keys->ak_entries[0].ak_unusable);
	authkeys_unref(keys);
	testkey_free(&tk);
}

static void
skips_lines_longer_than_8_kib_with_a_warning(void **state)
{
	struct authkeys *keys = NULL;
	struct jg_errlist w;
	struct testkey tk;
	char *text;
	size_t n, len = 9000 + 200;

	testkey_new(&tk);
	assert_non_null(text = malloc(len));
	n = (size_t)snprintf(text, len, "ssh-ed25519 %s ", tk.tk_b64);
	memset(text + n, 'x', 8400);
	n += 8400;
	n += (size_t)snprintf(text + n, len - n, "\nssh-ed25519 %s ok\n",
	    tk.tk_b64);
	jg_errlist_init(&w);
	assert_int_equal(authkeys_parse(text, n, "big", &keys, &w), JG_OK);
	assert_int_equal(keys->ak_count, 1);
	assert_string_equal(keys->ak_entries[0].ak_origin, "big:2");
	assert_true(has_warning(&w, "big:1: line longer than 8192 bytes; "
	    "skipped"));
	authkeys_unref(keys);
	free(text);
	testkey_free(&tk);
}

static void
keeps_at_most_10000_keys(void **state)
{
	struct authkeys *keys = NULL;
	struct jg_errlist w;
	struct testkey tk;
	char *text, line[256];
	size_t n = 0, i, linelen, cap;

	testkey_new(&tk);
	linelen = (size_t)snprintf(line, sizeof(line), "ssh-ed25519 %s k\n",
	    tk.tk_b64);
	cap = linelen * 10002 + 1;
	assert_non_null(text = malloc(cap));
	for (i = 0; i < 10002; i++) {
		memcpy(text + n, line, linelen);
		n += linelen;
	}
	jg_errlist_init(&w);
	assert_int_equal(authkeys_parse(text, n, "many", &keys, &w), JG_OK);
	assert_int_equal(keys->ak_count, 10000);
	assert_true(has_warning(&w, "many:10001: more than 10000 keys; the "
	    "rest are ignored"));
	authkeys_unref(keys);
	free(text);
	testkey_free(&tk);
}

static void
merges_sets_and_counts_references(void **state)
{
	struct authkeys *a, *b, *m = NULL, *empty = NULL;
	const struct authkeys_entry *e;
	struct testkey ka, kb;
	char why[256];

	testkey_new(&ka);
	testkey_new(&kb);
	a = parse_line(&ka, "from=\"10.0.0.0/8\",permitopen=\"j:22\"", NULL);
	b = parse_line(&kb, "", NULL);
	assert_int_equal(authkeys_merge(a, b, &m), JG_OK);
	assert_int_equal(m->ak_count, 2);
	assert_int_equal(m->ak_refs, 1);
	/* the merged set owns copies: the sources may go first */
	authkeys_unref(a);
	authkeys_unref(b);
	assert_int_equal(authkeys_match(m, ka.tk_key, "10.0.0.1", time(NULL),
	    &e, why, sizeof(why)), JG_OK);
	assert_string_equal(e->ak_permitopen[0], "j:22");
	assert_int_equal(authkeys_match(m, kb.tk_key, "192.0.2.1",
	    time(NULL), &e, why, sizeof(why)), JG_OK);

	assert_ptr_equal(authkeys_ref(m), m);
	assert_int_equal(m->ak_refs, 2);
	authkeys_unref(m);
	assert_int_equal(m->ak_refs, 1);
	authkeys_unref(m);
	authkeys_unref(NULL);

	assert_int_equal(authkeys_merge(NULL, NULL, &empty), JG_OK);
	assert_int_equal(empty->ak_count, 0);
	assert_int_equal(authkeys_match(empty, ka.tk_key, "10.0.0.1",
	    time(NULL), &e, why, sizeof(why)), JG_ERR_NOT_FOUND);
	authkeys_unref(empty);
	testkey_free(&ka);
	testkey_free(&kb);
}

static void
parses_empty_text_into_an_empty_set(void **state)
{
	struct authkeys *keys = NULL;
	struct jg_errlist w;

	jg_errlist_init(&w);
	assert_int_equal(authkeys_parse("", 0, "empty", &keys, &w), JG_OK);
	assert_int_equal(keys->ak_count, 0);
	assert_int_equal(w.el_count, 0);
	authkeys_unref(keys);
	assert_int_equal(authkeys_parse("\n\n# only comments\n", 18, "c",
	    &keys, &w), JG_OK);
	assert_int_equal(keys->ak_count, 0);
	assert_int_equal(w.el_count, 0);
	authkeys_unref(keys);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    parses_keys_comments_and_options_from_a_mixed_file),
		cmocka_unit_test(matches_a_fixture_key_and_not_an_unlisted_one),
		cmocka_unit_test(
		    denies_a_key_restricted_by_command_with_a_clear_reason),
		cmocka_unit_test(ignores_harmless_options),
		cmocka_unit_test(
		    honours_each_no_option_and_restrict_with_re_enabling),
		cmocka_unit_test(matches_from_patterns_like_openssh),
		cmocka_unit_test(refuses_a_key_from_an_address_outside_from),
		cmocka_unit_test(
		    a_later_line_may_admit_a_key_an_earlier_line_refused),
		cmocka_unit_test(honours_expiry_time_in_utc),
		cmocka_unit_test(permitopen_limits_the_jump_targets),
		cmocka_unit_test(skips_lines_longer_than_8_kib_with_a_warning),
		cmocka_unit_test(keeps_at_most_10000_keys),
		cmocka_unit_test(merges_sets_and_counts_references),
		cmocka_unit_test(parses_empty_text_into_an_empty_set),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
