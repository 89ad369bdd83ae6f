/*
 * hostkey.h: the gateway's SSH host keys.  Loads ed25519, ecdsa and rsa
 * private keys from the configured paths, refuses any that group or others
 * can read, and (when generation is enabled) creates a missing ed25519 key
 * atomically: temporary file with mode 0600 in the same directory, fsync,
 * rename; the public half is written beside it as <path>.pub.
 * Host keys stay inside this module and the ssh_bind they are given to;
 * they never reach sessions or logs (fingerprints do).  Main thread only.
 */
#ifndef JG_HOSTKEY_H
#define JG_HOSTKEY_H

#include <stdbool.h>
#include <stddef.h>

#include <libssh/libssh.h>
#include <libssh/server.h>

#include "config.h"
#include "err.h"

struct hostkey_set;

/*
 * Loads (and, if allowed, generates) every key in cfg->host_keys.  Every
 * problem is appended to errs as "<path>: <what> (<fix>)", e.g.
 * "/etc/jumpgate/ssh_host_ed25519_key: private key is readable by group or
 * others (mode 0644); run: chmod 600 /etc/jumpgate/ssh_host_ed25519_key".
 * Returns JG_OK only when every configured key loaded; then *out holds the
 * set (caller frees).  With generate false, check_only true never writes.
 */
enum jg_err hostkey_load_all(const struct config_host_keys *cfg,
	    bool check_only, struct hostkey_set **out,
	    struct jg_errlist *errs);

void	hostkey_set_free(struct hostkey_set *set);	/* NULL is a no-op */

size_t	hostkey_count(const struct hostkey_set *set);
/* "ED25519 SHA256:..." for key i, for start-up logs and the README demo. */
const char *hostkey_describe(const struct hostkey_set *set, size_t i);

/* Imports copies of every key into bind (SSH_BIND_OPTIONS_IMPORT_KEY). */
enum jg_err hostkey_apply(const struct hostkey_set *set, ssh_bind bind);

/*
 * Generates an ed25519 private key at path atomically (0600), and
 * path.pub.  JG_ERR_IO with the reason in err if the directory is missing
 * or not writable.  Exposed for tests and for per-user upstream keys.
 */
enum jg_err hostkey_generate_ed25519(const char *path, const char *comment,
	    char *err, size_t errlen);

/*
 * Checks that path is a regular file not readable or writable by group or
 * others.  JG_ERR_PERM with the message and fix in err when it is.
 */
enum jg_err hostkey_check_mode(const char *path, char *err, size_t errlen);

#endif /* JG_HOSTKEY_H */
