/*
 * userkey.h: the key jumpgate logs in to a user's pods with in direct mode
 * when the client forwards no agent: the user's own gateway key,
 * <upstream.user_key_dir>/<user> (ed25519, mode 0600, comment
 * "jumpgate-<user>", created on first use together with <user>.pub), or
 * the one upstream.shared_key for every user.  The user adds the public
 * half to ~/.ssh/authorized_keys in their job; `ssh USER@gateway pubkey`
 * prints it.  Reads and may write local files: fast, but call it where a
 * short file operation is acceptable.  Any thread; creation of the same
 * user's key by two threads at once is safe (the loser reads the winner's).
 */
#ifndef JG_USERKEY_H
#define JG_USERKEY_H

#include <stddef.h>

#include <libssh/libssh.h>

#include "config.h"
#include "err.h"

/* "<dir>/<user>" or the shared key's path.  JG_ERR_CONFIG when neither a
 * key directory nor a shared key is configured. */
enum jg_err userkey_path(const struct config_upstream *up, const char *user,
	    char *buf, size_t len);

/* Loads (creating when missing) user's private key into *out (caller
 * frees with ssh_key_free).  err says what failed and where. */
enum jg_err userkey_load(const struct config_upstream *up, const char *user,
	    ssh_key *out, char *err, size_t errlen);

/* The public key as one authorized_keys line, "ssh-ed25519 AAAA...
 * jumpgate-alice" (creating the key when missing). */
enum jg_err userkey_public_line(const struct config_upstream *up,
	    const char *user, char *line, size_t len, char *err,
	    size_t errlen);

#endif /* JG_USERKEY_H */
