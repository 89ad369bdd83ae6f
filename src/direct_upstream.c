/*
 * direct_upstream.c: helpers for direct mode's login to a pod: TCP connect
 * with a deadline, the user template, fingerprints.  Owns nothing beyond
 * each call.  Called from direct-session threads; never logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "direct_upstream.h"

enum jg_err
direct_upstream_user(const char *tmpl, const char *user, char *out,
    size_t outlen, char *err, size_t errlen)
{
	size_t o = 0, n;
	const char *p, *add;
	char pct[2] = "%";

	if (outlen == 0)
		return JG_ERR_RANGE;
	for (p = tmpl; *p != '\0'; p++) {
		if (*p != '%') {
			pct[0] = *p;
			add = pct;
		} else if (p[1] == 'u') {
			add = user;
			p++;
		} else if (p[1] == '%') {
			pct[0] = '%';
			add = pct;
			p++;
		} else {
			jg_detail(err, errlen, "upstream.user '%s': unknown "
			    "'%%%c' (allowed: %%u for the user, %%%% for %%)",
			    tmpl, p[1] != '\0' ? p[1] : ' ');
			return JG_ERR_CONFIG;
		}
		n = strlen(add);
		if (n >= outlen - o) {
			jg_detail(err, errlen, "upstream.user '%s' for %s is "
			    "longer than %zu bytes", tmpl, user, outlen - 1);
			return JG_ERR_RANGE;
		}
		memcpy(out + o, add, n);
		o += n;
	}
	out[o] = '\0';
	if (o == 0) {
		jg_detail(err, errlen, "upstream.user '%s' is empty for %s",
		    tmpl, user);
		return JG_ERR_RANGE;
	}
	return JG_OK;
}

static uint64_t
direct_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

enum jg_err
direct_tcp_connect(const char *addr, uint16_t port, uint32_t timeout_ms,
    int *fdp, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct pollfd pfd;
	socklen_t sslen, elen;
	uint64_t deadline, now;
	int fd, one = 1, soerr = 0, n;

	*fdp = -1;
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sslen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sslen = sizeof(*sin6);
	} else {
		jg_detail(err, errlen, "not an IP address");
		return JG_ERR_UNREACHABLE;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		jg_detail(err, errlen, "socket: %s", strerror(errno));
		return JG_ERR_IO;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&ss, sslen) == 0)
		goto done;
	if (errno != EINPROGRESS) {
		jg_detail(err, errlen, "%s", strerror(errno));
		close(fd);
		return JG_ERR_UNREACHABLE;
	}
	deadline = direct_clock_ms() + timeout_ms;
	for (;;) {
		now = direct_clock_ms();
		if (now >= deadline) {
			jg_detail(err, errlen, "no answer after %u ms",
			    timeout_ms);
			close(fd);
			return JG_ERR_TIMEOUT;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		pfd.revents = 0;
		n = poll(&pfd, 1, (int)(deadline - now));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			jg_detail(err, errlen, "poll: %s", strerror(errno));
			close(fd);
			return JG_ERR_IO;
		}
		if (n > 0)
			break;
	}
	elen = sizeof(soerr);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) == -1)
		soerr = errno;
	if (soerr != 0) {
		jg_detail(err, errlen, "%s", strerror(soerr));
		close(fd);
		return JG_ERR_UNREACHABLE;
	}
 done:
	*fdp = fd;
	return JG_OK;
}

void
direct_key_describe(const ssh_key key, char *buf, size_t len)
{
	unsigned char *hash = NULL;
	size_t hlen = 0;
	const char *type;
	char *fp, *p;

	type = ssh_key_type_to_char(ssh_key_type(key));
	if (type == NULL)
		type = "unknown";
	if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash,
	    &hlen) != 0) {
		snprintf(buf, len, "%s", type);
		return;
	}
	fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
	/* OpenSSH prints the type upper-case without "ssh-": ED25519. */
	if (strncmp(type, "ssh-", 4) == 0)
		type += 4;
	snprintf(buf, len, "%s %s", type, fp != NULL ? fp : "?");
	for (p = buf; *p != '\0' && *p != ' '; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	ssh_string_free_char(fp);
	ssh_clean_pubkey_hash(&hash);
}
