/*
 * proxyproto.c: parses PROXY protocol v1 and v2 headers incrementally,
 * asking for no byte beyond the header.  Owns nothing; any thread.
 */
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "proxyproto.h"

static const uint8_t proxyproto_v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
};

static bool
proxyproto_port(const char *s, uint16_t *out)
{
	unsigned long v = 0;
	size_t i;

	if (s[0] == '\0' || strlen(s) > 5)
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

static enum jg_err
proxyproto_v1_line(const uint8_t *buf, size_t len,
    struct proxyproto_result *out, char *err, size_t errlen)
{
	char line[PROXYPROTO_V1_MAX + 1], *tok[7], *save = NULL, *p;
	struct in6_addr a6;
	struct in_addr a4;
	uint16_t dport;
	int n = 0, family;

	/* Without the CR LF. */
	memcpy(line, buf, len - 2);
	line[len - 2] = '\0';
	for (p = strtok_r(line, " ", &save); p != NULL && n < 7;
	    p = strtok_r(NULL, " ", &save))
		tok[n++] = p;
	if (n >= 2 && strcmp(tok[1], "UNKNOWN") == 0) {
		out->pp_local = true;
		return JG_OK;
	}
	if (n != 6) {
		jg_detail(err, errlen, "PROXY v1: expected 6 fields, got %d",
		    n);
		return JG_ERR_PARSE;
	}
	if (strcmp(tok[1], "TCP4") == 0)
		family = AF_INET;
	else if (strcmp(tok[1], "TCP6") == 0)
		family = AF_INET6;
	else {
		jg_detail(err, errlen, "PROXY v1: unknown protocol '%.8s'",
		    tok[1]);
		return JG_ERR_PARSE;
	}
	if ((family == AF_INET && (inet_pton(AF_INET, tok[2], &a4) != 1 ||
	    inet_pton(AF_INET, tok[3], &a4) != 1)) ||
	    (family == AF_INET6 && (inet_pton(AF_INET6, tok[2], &a6) != 1 ||
	    inet_pton(AF_INET6, tok[3], &a6) != 1))) {
		jg_detail(err, errlen, "PROXY v1: bad %s address",
		    family == AF_INET ? "TCP4" : "TCP6");
		return JG_ERR_PARSE;
	}
	if (!proxyproto_port(tok[4], &out->pp_port) ||
	    !proxyproto_port(tok[5], &dport)) {
		jg_detail(err, errlen, "PROXY v1: bad port");
		return JG_ERR_PARSE;
	}
	snprintf(out->pp_addr, sizeof(out->pp_addr), "%s", tok[2]);
	return JG_OK;
}

static enum jg_err
proxyproto_v1(const uint8_t *buf, size_t len, size_t *need,
    struct proxyproto_result *out, char *err, size_t errlen)
{
	static const char prefix[] = "PROXY ";
	size_t i;

	for (i = 0; i < len && i < sizeof(prefix) - 1; i++)
		if (buf[i] != (uint8_t)prefix[i]) {
			jg_detail(err, errlen, "not a PROXY protocol header");
			return JG_ERR_PARSE;
		}
	for (i = 0; i < len; i++)
		if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r')) {
			jg_detail(err, errlen, "PROXY v1: line ends without "
			    "CR LF");
			return JG_ERR_PARSE;
		}
	if (len >= 2 && buf[len - 2] == '\r' && buf[len - 1] == '\n') {
		out->pp_version = 1;
		return proxyproto_v1_line(buf, len, out, err, errlen);
	}
	if (len >= PROXYPROTO_V1_MAX) {
		jg_detail(err, errlen, "PROXY v1: no CR LF within %d bytes",
		    PROXYPROTO_V1_MAX);
		return JG_ERR_PARSE;
	}
	*need = 1;	/* the line's end is not known in advance */
	return JG_ERR_AGAIN;
}

static enum jg_err
proxyproto_v2(const uint8_t *buf, size_t len, size_t *need,
    struct proxyproto_result *out, char *err, size_t errlen)
{
	size_t i, total;
	unsigned int ver, cmd, fam;

	for (i = 0; i < len && i < sizeof(proxyproto_v2_sig); i++)
		if (buf[i] != proxyproto_v2_sig[i]) {
			jg_detail(err, errlen, "not a PROXY protocol header");
			return JG_ERR_PARSE;
		}
	if (len < 16) {
		*need = 16 - len;
		return JG_ERR_AGAIN;
	}
	ver = buf[12] >> 4;
	cmd = buf[12] & 0x0f;
	fam = buf[13];
	total = 16 + ((size_t)buf[14] << 8 | buf[15]);
	if (ver != 2 || cmd > 1) {
		jg_detail(err, errlen, "PROXY v2: version %u command %u", ver,
		    cmd);
		return JG_ERR_PARSE;
	}
	if (total > PROXYPROTO_V2_MAX) {
		jg_detail(err, errlen, "PROXY v2: header of %zu bytes is "
		    "longer than %d", total, PROXYPROTO_V2_MAX);
		return JG_ERR_PARSE;
	}
	if (len < total) {
		*need = total - len;
		return JG_ERR_AGAIN;
	}
	out->pp_version = 2;
	if (cmd == 0 || (fam != 0x11 && fam != 0x21)) {
		/* LOCAL (health checks), UNSPEC or UNIX: no client address. */
		out->pp_local = true;
		return JG_OK;
	}
	if (fam == 0x11) {
		if (total - 16 < 12) {
			jg_detail(err, errlen, "PROXY v2: short IPv4 block");
			return JG_ERR_PARSE;
		}
		inet_ntop(AF_INET, buf + 16, out->pp_addr,
		    sizeof(out->pp_addr));
		out->pp_port = (uint16_t)(buf[24] << 8 | buf[25]);
	} else {
		if (total - 16 < 36) {
			jg_detail(err, errlen, "PROXY v2: short IPv6 block");
			return JG_ERR_PARSE;
		}
		inet_ntop(AF_INET6, buf + 16, out->pp_addr,
		    sizeof(out->pp_addr));
		out->pp_port = (uint16_t)(buf[48] << 8 | buf[49]);
	}
	return JG_OK;
}

enum jg_err
proxyproto_parse(const uint8_t *buf, size_t len, size_t *need,
    struct proxyproto_result *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	*need = 0;
	if (len == 0) {
		*need = 1;
		return JG_ERR_AGAIN;
	}
	if (buf[0] == 'P')
		return proxyproto_v1(buf, len, need, out, err, errlen);
	if (buf[0] == proxyproto_v2_sig[0])
		return proxyproto_v2(buf, len, need, out, err, errlen);
	jg_detail(err, errlen, "not a PROXY protocol header (first byte "
	    "0x%02x)", buf[0]);
	return JG_ERR_PARSE;
}
