/*
 * test_direct_upstream.c: direct mode's login helpers: the upstream user
 * template, the TCP connect (its refusal text, its success) and the
 * fingerprint format.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "direct_upstream.h"

static void
expands_the_user_in_the_template(void **state)
{
	char out[DIRECT_USER_MAX], err[256];

	assert_int_equal(direct_upstream_user("%u", "alice", out, sizeof(out),
	    err, sizeof(err)), JG_OK);
	assert_string_equal(out, "alice");
	assert_int_equal(direct_upstream_user("u-%u-100%%", "bob", out,
	    sizeof(out), err, sizeof(err)), JG_OK);
	assert_string_equal(out, "u-bob-100%");
	assert_int_equal(direct_upstream_user("root", "bob", out, sizeof(out),
	    err, sizeof(err)), JG_OK);
	assert_string_equal(out, "root");
}

static void
refuses_an_unknown_escape_and_an_overlong_name(void **state)
{
	char out[8], err[256];

	assert_int_equal(direct_upstream_user("%h", "alice", out, sizeof(out),
	    err, sizeof(err)), JG_ERR_CONFIG);
	assert_non_null(strstr(err, "unknown '%h'"));
	assert_int_equal(direct_upstream_user("user-%u", "alice", out,
	    sizeof(out), err, sizeof(err)), JG_ERR_RANGE);
	assert_non_null(strstr(err, "longer than 7 bytes"));
}

static void
says_connection_refused_for_a_closed_port(void **state)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char err[256];
	int s, fd = -1;
	uint16_t port;

	/* A port that was just free: bound, then closed without listen. */
	s = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	close(s);
	assert_int_equal(direct_tcp_connect("127.0.0.1", port, 2000, &fd, err,
	    sizeof(err)), JG_ERR_UNREACHABLE);
	assert_string_equal(err, "Connection refused");
	assert_int_equal(fd, -1);
}

static void
connects_to_a_listening_port(void **state)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char err[256];
	int s, fd = -1;

	s = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(s, 1), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sin, &len), 0);
	assert_int_equal(direct_tcp_connect("127.0.0.1", ntohs(sin.sin_port),
	    2000, &fd, err, sizeof(err)), JG_OK);
	assert_true(fd >= 0);
	close(fd);
	close(s);
}

static void
refuses_an_address_that_is_not_an_ip(void **state)
{
	char err[256];
	int fd = -1;

	assert_int_equal(direct_tcp_connect("pod.example", 22, 100, &fd, err,
	    sizeof(err)), JG_ERR_UNREACHABLE);
	assert_string_equal(err, "not an IP address");
}

static void
describes_a_key_as_openssh_does(void **state)
{
	ssh_key key = NULL;
	char buf[DIRECT_FP_MAX];

	assert_int_equal(ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key),
	    SSH_OK);
	direct_key_describe(key, buf, sizeof(buf));
	ssh_key_free(key);
	assert_true(strncmp(buf, "ED25519 SHA256:", 15) == 0);
	assert_int_equal(strlen(buf), 15 + 43);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(expands_the_user_in_the_template),
		cmocka_unit_test(
		    refuses_an_unknown_escape_and_an_overlong_name),
		cmocka_unit_test(says_connection_refused_for_a_closed_port),
		cmocka_unit_test(connects_to_a_listening_port),
		cmocka_unit_test(refuses_an_address_that_is_not_an_ip),
		cmocka_unit_test(describes_a_key_as_openssh_does),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
