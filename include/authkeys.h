/*
 * authkeys.h: OpenSSH authorized_keys lines, parsed, and the decision
 * whether one of them lets a client key in.  Options are parsed as sshd
 * does (comma-separated, quoted values with \" escapes).  What jumpgate
 * does with each option, and why, is the table in authkeys.c and README:
 *   honoured:  from=, expiry-time=, no-port-forwarding, permitopen=,
 *              restrict, no-pty, no-agent-forwarding, no-X11-forwarding,
 *              port-forwarding, pty, agent-forwarding (after restrict)
 *   harmless:  no-user-rc, user-rc, environment=, tunnel= (logged once)
 *   unsafe to ignore, so the key is NOT usable: command=, cert-authority,
 *              principals=, verify-required, unknown options
 * Two deliberate differences from sshd: expiry-time= is always read as
 * UTC (sshd uses local time unless it ends in Z), and from= is matched
 * against the client's address text only, never DNS, so a host-name
 * pattern matches only if it matches the address itself.
 * Pure functions; any thread.  The text handed in is never logged whole.
 */
#ifndef JG_AUTHKEYS_H
#define JG_AUTHKEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <libssh/libssh.h>

#include "err.h"

struct authkeys_entry {
	ssh_key	 ak_key;		/* owned */
	char	*ak_comment;		/* may be NULL */
	char	*ak_origin;		/* "path:line" or "url:line" */
	char	*ak_from;		/* from= pattern list, or NULL */
	char	**ak_permitopen;	/* "host:port" each; NULL/0 = any */
	size_t	 ak_npermitopen;
	time_t	 ak_expiry;		/* 0 = none */
	bool	 ak_port_forwarding;	/* false: no-port-forwarding */
	bool	 ak_pty;
	bool	 ak_agent_forwarding;
	bool	 ak_x11_forwarding;
	char	*ak_unusable;		/* why the key may not be used, or NULL */
};

struct authkeys {
	struct authkeys_entry *ak_entries;
	size_t	 ak_count;
	int	 ak_refs;		/* atomic; managed by ref/unref */
};

/*
 * Parses a whole authorized_keys text.  origin names it in messages
 * ("/home/alice/.ssh/authorized_keys").  Lines that cannot be parsed are
 * skipped, each adding "origin:line: reason" to warnings (may be NULL).
 * Returns JG_OK and *out with one reference, or JG_ERR_NOMEM.
 */
enum jg_err authkeys_parse(const char *text, size_t len, const char *origin,
	    struct authkeys **out, struct jg_errlist *warnings);

/* Concatenates a and b (either may be NULL) into a new set. */
enum jg_err authkeys_merge(const struct authkeys *a, const struct authkeys *b,
	    struct authkeys **out);

struct authkeys *authkeys_ref(struct authkeys *keys);
void	authkeys_unref(struct authkeys *keys);		/* NULL is a no-op */

/*
 * Finds the entry for key (compared as public keys) that admits a client
 * at client_addr (IP literal) at time now.  Returns JG_OK and *entry, or
 * JG_ERR_NOT_FOUND (key not listed), JG_ERR_DENIED (listed, but from=,
 * expiry-time= or an unusable option refuses it) with the reason in why.
 */
enum jg_err authkeys_match(const struct authkeys *keys, const ssh_key key,
	    const char *client_addr, time_t now,
	    const struct authkeys_entry **entry, char *why, size_t whylen);

/*
 * True when entry allows a jump (direct-tcpip) to host:port, where host is
 * the job name the client asked for: port forwarding must be allowed and,
 * with permitopen, one "host:port" must match ("*" matches any port).
 */
bool	authkeys_permits_open(const struct authkeys_entry *entry,
	    const char *host, uint16_t port);

/*
 * Matches addr against an OpenSSH pattern list ("10.0.0.0/8,!10.1.*,
 * 192.168.5.?"): CIDR and wildcard patterns, '!' negation.  Exposed for
 * tests and for from= checks of other sources.
 */
bool	authkeys_match_from(const char *patterns, const char *addr);

#endif /* JG_AUTHKEYS_H */
