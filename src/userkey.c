/*
 * userkey.c: finds, creates and loads the gateway-held key a user's
 * direct-mode logins use.  Owns no state: every call works on files.
 * Any thread.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "hostkey.h"
#include "name.h"
#include "userkey.h"

enum jg_err
userkey_path(const struct config_upstream *up, const char *user, char *buf,
    size_t len)
{
	int n;

	if (up->shared_key != NULL)
		n = snprintf(buf, len, "%s", up->shared_key);
	else if (up->user_key_dir != NULL && name_user_valid(user))
		n = snprintf(buf, len, "%s/%s", up->user_key_dir, user);
	else
		return JG_ERR_CONFIG;
	return n < 0 || (size_t)n >= len ? JG_ERR_RANGE : JG_OK;
}

/* Creates the per-user key unless it exists.  A shared key is never made
 * here: it is the admin's to provide. */
static enum jg_err
userkey_ensure(const struct config_upstream *up, const char *user,
    const char *path, char *err, size_t errlen)
{
	char comment[NAME_USER_MAX + 16];
	struct stat st;
	enum jg_err rc;

	if (stat(path, &st) == 0)
		return JG_OK;
	if (errno != ENOENT || up->shared_key != NULL) {
		jg_detail(err, errlen, "%s: %s", path, strerror(errno));
		return JG_ERR_IO;
	}
	/* The directory holds private keys: nobody else may list it. */
	if (mkdir(up->user_key_dir, 0700) == -1 && errno != EEXIST) {
		jg_detail(err, errlen, "%s: cannot create: %s",
		    up->user_key_dir, strerror(errno));
		return JG_ERR_IO;
	}
	snprintf(comment, sizeof(comment), "jumpgate-%s", user);
	rc = hostkey_generate_ed25519(path, comment, err, errlen);
	/* Another thread may have made it first: that key is as good. */
	if (rc != JG_OK && stat(path, &st) == 0)
		rc = JG_OK;
	return rc;
}

enum jg_err
userkey_load(const struct config_upstream *up, const char *user, ssh_key *out,
    char *err, size_t errlen)
{
	char path[4096];
	enum jg_err rc;

	*out = NULL;
	if (userkey_path(up, user, path, sizeof(path)) != JG_OK) {
		jg_detail(err, errlen, "no upstream.user_key_dir or "
		    "upstream.shared_key is configured");
		return JG_ERR_CONFIG;
	}
	if ((rc = userkey_ensure(up, user, path, err, errlen)) != JG_OK)
		return rc;
	if ((rc = hostkey_check_mode(path, err, errlen)) != JG_OK)
		return rc;
	if (ssh_pki_import_privkey_file(path, NULL, NULL, NULL, out) !=
	    SSH_OK) {
		jg_detail(err, errlen, "%s: not a readable private key", path);
		return JG_ERR_PARSE;
	}
	return JG_OK;
}

enum jg_err
userkey_public_line(const struct config_upstream *up, const char *user,
    char *line, size_t len, char *err, size_t errlen)
{
	ssh_key key = NULL;
	char *b64 = NULL;
	const char *type;
	enum jg_err rc;
	int n;

	if ((rc = userkey_load(up, user, &key, err, errlen)) != JG_OK)
		return rc;
	type = ssh_key_type_to_char(ssh_key_type(key));
	if (ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK) {
		ssh_key_free(key);
		jg_detail(err, errlen, "cannot encode the public key");
		return JG_ERR_CRYPTO;
	}
	if (up->shared_key != NULL)
		n = snprintf(line, len, "%s %s jumpgate", type, b64);
	else
		n = snprintf(line, len, "%s %s jumpgate-%s", type, b64, user);
	ssh_string_free_char(b64);
	ssh_key_free(key);
	return n < 0 || (size_t)n >= len ? JG_ERR_RANGE : JG_OK;
}
