/*
 * fuzz_podmeta.c: the two endpoint records a pod's annotations carry
 * (podmeta.h), written by anyone who can edit a pod.  Input: JSON NUL
 * HOSTIP NUL RULE; the JSON is read as a nodeport annotation for RULE
 * (default "ssh") and both JSON and HOSTIP as an ssh-enabled "ip:port".
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "podmeta.h"

static bool
is_ip(const char *s)
{
	struct in6_addr a6;
	struct in_addr a4;

	return inet_pton(AF_INET, s, &a4) == 1 ||
	    inet_pton(AF_INET6, s, &a6) == 1;
}

static void
host_port(const char *text)
{
	char addr[ROUTE_ADDR_MAX], small[8], err[256];
	uint16_t port = 0;

	err[0] = '\0';
	if (podmeta_parse_host_port(text, addr, sizeof(addr), &port, err,
	    sizeof(err)) == JG_OK) {
		FUZZ_CHECK(port != 0);
		FUZZ_CHECK(strnlen(addr, sizeof(addr)) < sizeof(addr));
		FUZZ_CHECK(is_ip(addr));
	} else
		FUZZ_CHECK(err[0] != '\0');
	/* A buffer too small for the address must be refused, not
	 * overrun (ASan watches the bytes after small). */
	if (podmeta_parse_host_port(text, small, sizeof(small), &port, err,
	    sizeof(err)) == JG_OK)
		FUZZ_CHECK(strnlen(small, sizeof(small)) < sizeof(small));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct route_rule rule;
	char *copy, *parts[3], err[256];
	const char *rule_name;

	if ((copy = fuzz_split(data, size, parts, 3)) == NULL)
		return 0;
	rule_name = parts[2] != NULL ? parts[2] : "ssh";
	memset(&rule, 0, sizeof(rule));
	err[0] = '\0';
	if (podmeta_parse_nodeport_annotation(rule_name, parts[0], parts[1],
	    &rule, err, sizeof(err)) == JG_OK) {
		FUZZ_CHECK(rule.rr_container_port != 0);
		FUZZ_CHECK(rule.rr_node_port != 0);
		FUZZ_CHECK(strnlen(rule.rr_address, sizeof(rule.rr_address)) <
		    sizeof(rule.rr_address));
		FUZZ_CHECK(is_ip(rule.rr_address));
		FUZZ_CHECK(strcmp(rule.rr_name, rule_name) == 0);
	} else
		FUZZ_CHECK(err[0] != '\0' && strlen(err) < sizeof(err));
	host_port(parts[0]);
	if (parts[1] != NULL)
		host_port(parts[1]);
	free(copy);
	return 0;
}
