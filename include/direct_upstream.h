/*
 * direct_upstream.h: the pieces of direct mode that log in to a pod:
 * the TCP connect with its own deadline, the upstream user name template
 * and host-key fingerprints.  (The gateway-held keys are userkey.h's.)
 * Helpers only: they fill a detail buffer and never log.  Any thread.
 */
#ifndef JG_DIRECT_UPSTREAM_H
#define JG_DIRECT_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include <libssh/libssh.h>

#include "config.h"
#include "err.h"

#define DIRECT_USER_MAX		64	/* upstream login name */
#define DIRECT_FP_MAX		128	/* "ED25519 SHA256:..." */

/*
 * Expands tmpl ("%u" = gateway user, "%%" = '%') into out.  JG_ERR_CONFIG
 * for another '%' sequence, JG_ERR_RANGE when the result does not fit or
 * is empty.  Pure.
 */
enum jg_err direct_upstream_user(const char *tmpl, const char *user,
	    char *out, size_t outlen, char *err, size_t errlen);

/*
 * Connects a TCP socket to addr (an IP literal) port within timeout_ms.
 * Returns JG_OK and *fd (non-blocking, TCP_NODELAY on; caller owns it),
 * JG_ERR_UNREACHABLE with strerror's text in err ("Connection refused"),
 * or JG_ERR_TIMEOUT ("no answer after 5000 ms").  Blocks up to
 * timeout_ms.
 */
enum jg_err direct_tcp_connect(const char *addr, uint16_t port,
	    uint32_t timeout_ms, int *fd, char *err, size_t errlen);

/* "ED25519 SHA256:...", as OpenSSH and the front door print keys. */
void	direct_key_describe(const ssh_key key, char *buf, size_t len);

#endif /* JG_DIRECT_UPSTREAM_H */
