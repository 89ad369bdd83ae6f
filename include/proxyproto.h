/*
 * proxyproto.h: the PROXY protocol header (HAProxy's v1 text and v2 binary
 * forms) that a load balancer sends before the client's bytes, carrying
 * the client's real address.  An incremental parser: feed it the bytes
 * read so far, and it says how many more it needs, without ever asking for
 * a byte past the header (those are the client's SSH banner).
 * Pure functions; any thread.
 */
#ifndef JG_PROXYPROTO_H
#define JG_PROXYPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "err.h"

#define PROXYPROTO_V1_MAX	107	/* the spec's longest v1 line */
#define PROXYPROTO_V2_MAX	536	/* 16 + the TLVs we accept */

struct proxyproto_result {
	bool	 pp_local;		/* LOCAL/UNKNOWN: use the peer */
	char	 pp_addr[INET6_ADDRSTRLEN];	/* client address */
	uint16_t pp_port;
	int	 pp_version;		/* 1 or 2 */
};

/*
 * Looks at buf[0..len), the header's first bytes.
 *   JG_OK          the header is complete and exactly len bytes; *out set.
 *   JG_ERR_AGAIN   read *need more bytes (at least 1), then call again.
 *   JG_ERR_PARSE   not a valid header; err says why.
 * Never needs more than the header itself.
 */
enum jg_err proxyproto_parse(const uint8_t *buf, size_t len, size_t *need,
	    struct proxyproto_result *out, char *err, size_t errlen);

#endif /* JG_PROXYPROTO_H */
