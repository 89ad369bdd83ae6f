/*
 * keystore.h: where users' public keys come from.  Sources are tried in
 * configured order and their keys combined:
 *   authorized_keys path template ("%u" -> user): read on every lookup,
 *     as sshd does; a missing file means no keys from it.
 *   https URL template: fetched with libcurl on the keystore's own thread,
 *     never on the caller's; answers are cached for cache_ttl_s, and when a
 *     fetch fails the last good answer is kept (and the failure logged).
 * The worker threads call keystore_get(); it never waits for the network.
 *
 * Test and development knob: when the environment variable
 * JUMPGATE_KEYS_CA_FILE names a PEM file at keystore_new(), URL sources
 * trust the CA certificates in it instead of the system store (the tests
 * use it for a self-signed key server).  Production leaves it unset.
 */
#ifndef JG_KEYSTORE_H
#define JG_KEYSTORE_H

#include <stdbool.h>

#include "authkeys.h"
#include "config.h"
#include "err.h"

struct keystore;

/* Called once from the keystore thread when a pending fetch finished (with
 * or without success).  Must not block: post to your own queue. */
typedef void (*keystore_ready_fn)(void *arg);

/*
 * Starts the fetch thread when any source is a URL.  Copies what it needs
 * from sources.  Main thread.
 */
enum jg_err keystore_new(const struct config_key_source *sources,
	    size_t nsources, struct keystore **out, char *err, size_t errlen);
/* Stops the thread; pending ready callbacks are not called afterwards. */
void	keystore_free(struct keystore *ks);	/* NULL is a no-op */

/*
 * Returns the combined keys of user.  user must be name_user_valid().
 *   JG_OK        *out holds a reference (possibly to an empty set).
 *   JG_ERR_AGAIN a URL source has no answer yet and a fetch is under way;
 *                ready(arg) will be called once when it ends, and a later
 *                keystore_get() returns JG_OK.
 * Never blocks on the network.  Any thread.
 */
enum jg_err keystore_get(struct keystore *ks, const char *user,
	    struct authkeys **out, keystore_ready_fn ready, void *arg);

/* Drops every cached URL answer older than its TTL now (SIGHUP).  Any
 * thread. */
void	keystore_expire(struct keystore *ks);

#define KEYSTORE_CA_FILE_ENV	"JUMPGATE_KEYS_CA_FILE"

/* For tests: moves the keystore's monotonic clock forward, so that TTLs
 * expire without waiting.  Any thread. */
void	keystore_test_advance_clock(struct keystore *ks, unsigned int seconds);

/* For tests: blocks until no fetch is queued or running, at most
 * timeout_ms.  True when idle.  Any thread but the keystore's. */
bool	keystore_test_wait_idle(struct keystore *ks, unsigned int timeout_ms);

#endif /* JG_KEYSTORE_H */
