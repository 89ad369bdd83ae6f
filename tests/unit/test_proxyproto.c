/*
 * test_proxyproto.c: PROXY protocol v1/v2 headers parsed incrementally,
 * never asking for a byte past the header (the SSH banner behind it
 * belongs to libssh).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "proxyproto.h"

/* Feeds stream to the parser exactly as the session does: read `need`
 * bytes, parse, repeat.  Returns the parser's verdict and how many bytes
 * it consumed. */
static enum jg_err
feed(const uint8_t *stream, size_t slen, struct proxyproto_result *out,
    size_t *consumed)
{
	uint8_t buf[PROXYPROTO_V2_MAX];
	char err[128];
	size_t len = 0, need;
	enum jg_err rc;

	for (;;) {
		rc = proxyproto_parse(buf, len, &need, out, err, sizeof(err));
		if (rc != JG_ERR_AGAIN)
			break;
		assert_true(need >= 1);
		if (len + need > slen || len + need > sizeof(buf))
			return JG_ERR_AGAIN;
		memcpy(buf + len, stream + len, need);
		len += need;
	}
	*consumed = len;
	return rc;
}

static void
reads_a_v1_tcp4_header_and_not_a_byte_more(void **state)
{
	const char *s = "PROXY TCP4 198.51.100.7 127.0.0.1 40001 2222\r\n"
	    "SSH-2.0-OpenSSH_9.2\r\n";
	struct proxyproto_result r;
	size_t used;

	assert_int_equal(feed((const uint8_t *)s, strlen(s), &r, &used),
	    JG_OK);
	assert_int_equal(used, strlen(s) - strlen("SSH-2.0-OpenSSH_9.2\r\n"));
	assert_false(r.pp_local);
	assert_int_equal(r.pp_version, 1);
	assert_string_equal(r.pp_addr, "198.51.100.7");
	assert_int_equal(r.pp_port, 40001);
}

static void
reads_v1_tcp6_and_unknown(void **state)
{
	const char *s6 = "PROXY TCP6 2001:db8::1 ::1 5000 22\r\n";
	const char *su = "PROXY UNKNOWN\r\n";
	struct proxyproto_result r;
	size_t used;

	assert_int_equal(feed((const uint8_t *)s6, strlen(s6), &r, &used),
	    JG_OK);
	assert_string_equal(r.pp_addr, "2001:db8::1");
	assert_int_equal(feed((const uint8_t *)su, strlen(su), &r, &used),
	    JG_OK);
	assert_true(r.pp_local);
}

static void
reads_a_v2_ipv4_header_with_exact_needs(void **state)
{
	uint8_t s[16 + 12 + 8] = {
		0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49,
		0x54, 0x0a, 0x21, 0x11, 0x00, 0x0c,
		203, 0, 113, 9, 127, 0, 0, 1, 0x9c, 0x43, 0x08, 0xae,
		'S', 'S', 'H', '-', '2', '.', '0', '-',
	};
	struct proxyproto_result r;
	size_t used;

	assert_int_equal(feed(s, sizeof(s), &r, &used), JG_OK);
	assert_int_equal(used, 28);
	assert_string_equal(r.pp_addr, "203.0.113.9");
	assert_int_equal(r.pp_port, 40003);
	assert_int_equal(r.pp_version, 2);
}

static void
treats_v2_local_as_the_peer(void **state)
{
	uint8_t s[16] = {
		0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49,
		0x54, 0x0a, 0x20, 0x00, 0x00, 0x00,
	};
	struct proxyproto_result r;
	size_t used;

	assert_int_equal(feed(s, sizeof(s), &r, &used), JG_OK);
	assert_true(r.pp_local);
}

static void
refuses_malformed_headers(void **state)
{
	static const char *bad[] = {
		"HELLO\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
		"PROXY TCP4 1.2.3.999 5.6.7.8 1 2\r\n",
		"PROXY TCP9 1.2.3.4 5.6.7.8 1 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 70000 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
	};
	struct proxyproto_result r;
	size_t i, used;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(feed((const uint8_t *)bad[i], strlen(bad[i]),
		    &r, &used), JG_ERR_PARSE);
}

static void
refuses_a_v1_line_longer_than_107_bytes(void **state)
{
	char s[200];
	struct proxyproto_result r;
	size_t used;

	memset(s, 'x', sizeof(s));
	memcpy(s, "PROXY ", 6);
	assert_int_equal(feed((const uint8_t *)s, sizeof(s), &r, &used),
	    JG_ERR_PARSE);
}

static void
refuses_a_v2_header_longer_than_its_cap(void **state)
{
	uint8_t s[16] = {
		0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49,
		0x54, 0x0a, 0x21, 0x11, 0xff, 0xff,
	};
	struct proxyproto_result r;
	size_t used;

	assert_int_equal(feed(s, sizeof(s), &r, &used), JG_ERR_PARSE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reads_a_v1_tcp4_header_and_not_a_byte_more),
		cmocka_unit_test(reads_v1_tcp6_and_unknown),
		cmocka_unit_test(reads_a_v2_ipv4_header_with_exact_needs),
		cmocka_unit_test(treats_v2_local_as_the_peer),
		cmocka_unit_test(refuses_malformed_headers),
		cmocka_unit_test(refuses_a_v1_line_longer_than_107_bytes),
		cmocka_unit_test(refuses_a_v2_header_longer_than_its_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
