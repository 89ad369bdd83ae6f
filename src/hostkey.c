/*
 * hostkey.c: loads, checks and generates the gateway's SSH host keys and
 * hands copies to the ssh_bind.  It does not log: every problem goes back
 * to the caller as "<path>: <what> (<fix>)".  Private key material never
 * leaves this file except into the bind.  Main thread only.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hostkey.h"

/* A private key file is a few KiB even for RSA-16384; refuse anything
 * larger rather than read an arbitrary file into memory. */
#define HOSTKEY_FILE_MAX	(64 * 1024)
#define HOSTKEY_DESC_MAX	128
#define HOSTKEY_RSA_MIN_BITS	2048
/* O_EXCL name collisions are only possible with a hostile or crashed
 * writer in the same directory; give up after this many. */
#define HOSTKEY_TMP_TRIES	32

/*
 * libssh keeps one host key per algorithm family in an ssh_bind
 * (ecdsa-256/384/521 share a slot), so two keys of one family cannot both
 * be served: the second would silently replace the first.
 */
enum hostkey_family {
	HOSTKEY_FAMILY_ED25519 = 0,
	HOSTKEY_FAMILY_ECDSA,
	HOSTKEY_FAMILY_RSA,
	HOSTKEY_FAMILY_MAX
};

static const char *const hostkey_family_names[HOSTKEY_FAMILY_MAX] = {
	[HOSTKEY_FAMILY_ED25519] = "ED25519",
	[HOSTKEY_FAMILY_ECDSA] = "ECDSA",
	[HOSTKEY_FAMILY_RSA] = "RSA",
};

struct hostkey {
	ssh_key	 hk_key;			/* private; owned */
	char	*hk_path;
	enum hostkey_family hk_family;
	char	 hk_desc[HOSTKEY_DESC_MAX];	/* "ED25519 SHA256:..." */
};

struct hostkey_set {
	struct hostkey	*hs_keys;
	size_t		 hs_count;
};

/* Makes temporary names unique within the process. */
static atomic_uint hostkey_tmp_seq;

/* Set by the passphrase callback: the key is encrypted. */
struct hostkey_auth_probe {
	int	hap_asked;
};

static int
hostkey_auth_probe_fn(const char *prompt, char *buf, size_t len, int echo,
    int verify, void *userdata)
{
	struct hostkey_auth_probe *probe = userdata;

	/* Refuse: an unattended daemon has nobody to ask. */
	probe->hap_asked = 1;
	return -1;
}

static enum jg_err
hostkey_check_stat(const char *path, const struct stat *st, char *err,
    size_t errlen)
{
	if (!S_ISREG(st->st_mode)) {
		jg_detail(err, errlen, "%s: host key is not a regular file "
		    "(replace it with a private key file)", path);
		return JG_ERR_PERM;
	}
	if ((st->st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		jg_detail(err, errlen, "%s: private key is %s by group or "
		    "others (mode %04o); run: chmod 600 %s", path,
		    (st->st_mode & (S_IRGRP | S_IROTH)) != 0 ? "readable" :
		    "accessible", (unsigned)(st->st_mode & 07777), path);
		return JG_ERR_PERM;
	}
	return JG_OK;
}

enum jg_err
hostkey_check_mode(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) == -1) {
		jg_detail(err, errlen, "%s: cannot check host key: %s", path,
		    strerror(errno));
		return errno == ENOENT ? JG_ERR_NOT_FOUND : JG_ERR_IO;
	}
	return hostkey_check_stat(path, &st, err, errlen);
}

/* Reads a whole small file into a NUL-terminated buffer (caller frees). */
static enum jg_err
hostkey_read_file(int fd, const char *path, size_t size, char **out,
    char *err, size_t errlen)
{
	char *buf;
	size_t got = 0;
	ssize_t n;

	if ((buf = malloc(size + 1)) == NULL) {
		jg_detail(err, errlen, "%s: out of memory", path);
		return JG_ERR_NOMEM;
	}
	while (got < size) {
		n = read(fd, buf + got, size - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			jg_detail(err, errlen, "%s: cannot read host key: %s",
			    path, strerror(errno));
			free(buf);
			return JG_ERR_IO;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	*out = buf;
	return JG_OK;
}

/*
 * The modulus size of an RSA public key, from its SSH wire encoding
 * (string "ssh-rsa", mpint e, mpint n): libssh 0.10 has no public call
 * for it.  Returns 0 when the blob is not what we expect.
 */
static unsigned int
hostkey_rsa_bits(const ssh_key key)
{
	static const signed char dec[256] = {
		['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5,
		['F'] = 6, ['G'] = 7, ['H'] = 8, ['I'] = 9, ['J'] = 10,
		['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15,
		['P'] = 16, ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20,
		['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24, ['Y'] = 25,
		['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30,
		['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35,
		['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
		['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45,
		['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49, ['x'] = 50,
		['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55,
		['3'] = 56, ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60,
		['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64,
	};
	char *b64 = NULL;
	unsigned char *blob = NULL;
	size_t i, n, bloblen = 0, off, field, len;
	uint32_t acc = 0;
	unsigned int bits = 0, nacc = 0;

	if (ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK)
		return 0;
	n = strlen(b64);
	if ((blob = malloc(n / 4 * 3 + 3)) == NULL)
		goto out;
	for (i = 0; i < n && b64[i] != '='; i++) {
		if (dec[(unsigned char)b64[i]] == 0)
			goto out;
		acc = (acc << 6) | (uint32_t)(dec[(unsigned char)b64[i]] - 1);
		if (++nacc == 4) {
			blob[bloblen++] = (unsigned char)(acc >> 16);
			blob[bloblen++] = (unsigned char)(acc >> 8);
			blob[bloblen++] = (unsigned char)acc;
			acc = 0;
			nacc = 0;
		}
	}
	if (nacc == 3) {
		blob[bloblen++] = (unsigned char)(acc >> 10);
		blob[bloblen++] = (unsigned char)(acc >> 2);
	} else if (nacc == 2)
		blob[bloblen++] = (unsigned char)(acc >> 4);

	/* Skip the type name and e; n is the third field. */
	off = 0;
	for (field = 0; field < 3; field++) {
		if (bloblen - off < 4)
			goto out;
		len = (size_t)blob[off] << 24 | (size_t)blob[off + 1] << 16 |
		    (size_t)blob[off + 2] << 8 | blob[off + 3];
		off += 4;
		if (len > bloblen - off)
			goto out;
		if (field < 2) {
			off += len;
			continue;
		}
		while (len > 0 && blob[off] == 0) {
			off++;
			len--;
		}
		if (len == 0)
			goto out;
		bits = (unsigned int)(len - 1) * 8;
		for (acc = blob[off]; acc != 0; acc >>= 1)
			bits++;
	}
 out:
	free(blob);
	ssh_string_free_char(b64);
	return bits;
}

static enum jg_err
hostkey_describe_key(const ssh_key key, enum hostkey_family family,
    char *desc, size_t desclen)
{
	unsigned char *hash = NULL;
	size_t hlen = 0;
	char *fp;

	if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash,
	    &hlen) != SSH_OK)
		return JG_ERR_CRYPTO;
	/* Prints "SHA256:<base64 without padding>", as OpenSSH does. */
	fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
	ssh_clean_pubkey_hash(&hash);
	if (fp == NULL)
		return JG_ERR_NOMEM;
	snprintf(desc, desclen, "%s %s", hostkey_family_names[family], fp);
	ssh_string_free_char(fp);
	return JG_OK;
}

/*
 * Opens, checks and imports one private key.  The mode is checked on the
 * descriptor we then read, so the file checked is the file loaded.
 */
static enum jg_err
hostkey_load_one(const char *path, struct hostkey *hk, char *err,
    size_t errlen)
{
	struct hostkey_auth_probe probe = { 0 };
	struct stat st;
	enum ssh_keytypes_e type;
	enum jg_err rc;
	ssh_key key = NULL;
	char *text = NULL;
	unsigned int bits;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1) {
		jg_detail(err, errlen, "%s: cannot open host key: %s", path,
		    strerror(errno));
		return errno == ENOENT ? JG_ERR_NOT_FOUND : JG_ERR_IO;
	}
	if (fstat(fd, &st) == -1) {
		jg_detail(err, errlen, "%s: cannot check host key: %s", path,
		    strerror(errno));
		close(fd);
		return JG_ERR_IO;
	}
	if ((rc = hostkey_check_stat(path, &st, err, errlen)) != JG_OK) {
		close(fd);
		return rc;
	}
	if (st.st_size > HOSTKEY_FILE_MAX) {
		jg_detail(err, errlen, "%s: file is %lld bytes, too large for "
		    "a private key (at most %d)", path, (long long)st.st_size,
		    HOSTKEY_FILE_MAX);
		close(fd);
		return JG_ERR_PARSE;
	}
	rc = hostkey_read_file(fd, path, (size_t)st.st_size, &text, err,
	    errlen);
	close(fd);
	if (rc != JG_OK)
		return rc;

	if (ssh_pki_import_privkey_base64(text, NULL, hostkey_auth_probe_fn,
	    &probe, &key) != SSH_OK) {
		explicit_bzero(text, (size_t)st.st_size);
		free(text);
		if (probe.hap_asked)
			jg_detail(err, errlen, "%s: host key is encrypted "
			    "with a passphrase (remove it with ssh-keygen -p "
			    "-N '' -f %s)", path, path);
		else
			jg_detail(err, errlen, "%s: not a private key libssh "
			    "can read (expected an OpenSSH or PEM private "
			    "key)", path);
		return JG_ERR_PARSE;
	}
	explicit_bzero(text, (size_t)st.st_size);
	free(text);

	type = ssh_key_type(key);
	switch (type) {
	case SSH_KEYTYPE_ED25519:
		hk->hk_family = HOSTKEY_FAMILY_ED25519;
		break;
	case SSH_KEYTYPE_ECDSA_P256:
	case SSH_KEYTYPE_ECDSA_P384:
	case SSH_KEYTYPE_ECDSA_P521:
		hk->hk_family = HOSTKEY_FAMILY_ECDSA;
		break;
	case SSH_KEYTYPE_RSA:
		bits = hostkey_rsa_bits(key);
		if (bits < HOSTKEY_RSA_MIN_BITS) {
			jg_detail(err, errlen, "%s: RSA host key has %u bits, "
			    "fewer than %d (use ssh-keygen -t ed25519 or -t "
			    "rsa -b 3072)", path, bits, HOSTKEY_RSA_MIN_BITS);
			ssh_key_free(key);
			return JG_ERR_CRYPTO;
		}
		hk->hk_family = HOSTKEY_FAMILY_RSA;
		break;
	case SSH_KEYTYPE_UNKNOWN:
	case SSH_KEYTYPE_DSS:
	case SSH_KEYTYPE_RSA1:
	case SSH_KEYTYPE_ECDSA:
	case SSH_KEYTYPE_DSS_CERT01:
	case SSH_KEYTYPE_RSA_CERT01:
	case SSH_KEYTYPE_ECDSA_P256_CERT01:
	case SSH_KEYTYPE_ECDSA_P384_CERT01:
	case SSH_KEYTYPE_ECDSA_P521_CERT01:
	case SSH_KEYTYPE_ED25519_CERT01:
	case SSH_KEYTYPE_SK_ECDSA:
	case SSH_KEYTYPE_SK_ECDSA_CERT01:
	case SSH_KEYTYPE_SK_ED25519:
	case SSH_KEYTYPE_SK_ED25519_CERT01:
	default:
		jg_detail(err, errlen, "%s: unsupported host key type %s "
		    "(use ed25519, ecdsa or rsa of at least %d bits)", path,
		    ssh_key_type_to_char(type) != NULL ?
		    ssh_key_type_to_char(type) : "unknown",
		    HOSTKEY_RSA_MIN_BITS);
		ssh_key_free(key);
		return JG_ERR_CRYPTO;
	}

	if ((rc = hostkey_describe_key(key, hk->hk_family, hk->hk_desc,
	    sizeof(hk->hk_desc))) != JG_OK) {
		jg_detail(err, errlen, "%s: cannot compute the key's "
		    "fingerprint", path);
		ssh_key_free(key);
		return rc;
	}
	if ((hk->hk_path = strdup(path)) == NULL) {
		jg_detail(err, errlen, "%s: out of memory", path);
		ssh_key_free(key);
		return JG_ERR_NOMEM;
	}
	hk->hk_key = key;
	return JG_OK;
}

enum jg_err
hostkey_load_all(const struct config_host_keys *cfg, bool check_only,
    struct hostkey_set **out, struct jg_errlist *errs)
{
	struct hostkey_set *set;
	struct hostkey hk;
	struct stat st;
	enum jg_err rc, first = JG_OK;
	char err[JG_ERRLIST_MSG_MAX];
	size_t i, j;
	bool dup;

	*out = NULL;
	if (cfg->npaths == 0) {
		jg_errlist_add(errs, "host_keys.paths: no host key configured "
		    "(add at least one path)");
		return JG_ERR_CONFIG;
	}
	if ((set = calloc(1, sizeof(*set))) == NULL ||
	    (set->hs_keys = calloc(cfg->npaths, sizeof(*set->hs_keys))) ==
	    NULL) {
		free(set);
		jg_errlist_add(errs, "host keys: out of memory");
		return JG_ERR_NOMEM;
	}

	for (i = 0; i < cfg->npaths; i++) {
		const char *path = cfg->paths[i];

		if (stat(path, &st) == -1 && errno == ENOENT) {
			if (!cfg->generate) {
				jg_errlist_add(errs, "%s: host key not found "
				    "(create one with ssh-keygen -t ed25519 "
				    "-f %s -N '' or set host_keys.generate: "
				    "true)", path, path);
				if (first == JG_OK)
					first = JG_ERR_NOT_FOUND;
				continue;
			}
			/* A check must not write; start-up will generate. */
			if (check_only)
				continue;
			rc = hostkey_generate_ed25519(path, "jumpgate host key",
			    err, sizeof(err));
			if (rc != JG_OK) {
				jg_errlist_add(errs, "%s", err);
				if (first == JG_OK)
					first = rc;
				continue;
			}
		}

		memset(&hk, 0, sizeof(hk));
		if ((rc = hostkey_load_one(path, &hk, err, sizeof(err))) !=
		    JG_OK) {
			jg_errlist_add(errs, "%s", err);
			if (first == JG_OK)
				first = rc;
			continue;
		}
		dup = false;
		for (j = 0; j < set->hs_count; j++) {
			if (set->hs_keys[j].hk_family != hk.hk_family)
				continue;
			jg_errlist_add(errs, "%s: a second %s host key (the "
			    "first is %s); an SSH server offers one key per "
			    "type (remove one of them from host_keys.paths)",
			    path, hostkey_family_names[hk.hk_family],
			    set->hs_keys[j].hk_path);
			if (first == JG_OK)
				first = JG_ERR_CONFIG;
			dup = true;
			break;
		}
		if (dup) {
			ssh_key_free(hk.hk_key);
			free(hk.hk_path);
			continue;
		}
		set->hs_keys[set->hs_count++] = hk;
	}

	if (first != JG_OK) {
		hostkey_set_free(set);
		return first;
	}
	*out = set;
	return JG_OK;
}

void
hostkey_set_free(struct hostkey_set *set)
{
	size_t i;

	if (set == NULL)
		return;
	for (i = 0; i < set->hs_count; i++) {
		ssh_key_free(set->hs_keys[i].hk_key);
		free(set->hs_keys[i].hk_path);
	}
	free(set->hs_keys);
	free(set);
}

size_t
hostkey_count(const struct hostkey_set *set)
{
	return set == NULL ? 0 : set->hs_count;
}

const char *
hostkey_describe(const struct hostkey_set *set, size_t i)
{
	if (set == NULL || i >= set->hs_count)
		return NULL;
	return set->hs_keys[i].hk_desc;
}

enum jg_err
hostkey_apply(const struct hostkey_set *set, ssh_bind bind)
{
	ssh_key copy;
	size_t i;

	for (i = 0; i < set->hs_count; i++) {
		if ((copy = ssh_key_dup(set->hs_keys[i].hk_key)) == NULL)
			return JG_ERR_NOMEM;
		/*
		 * On success the bind owns copy and frees it with itself (or
		 * when a later key of the same family replaces it).  On
		 * failure libssh 0.10 leaves IMPORT_KEY's key with us.
		 */
		if (ssh_bind_options_set(bind, SSH_BIND_OPTIONS_IMPORT_KEY,
		    copy) != SSH_OK) {
			ssh_key_free(copy);
			return JG_ERR_SSH;
		}
	}
	return JG_OK;
}

/* Splits path into its directory ("." when it has none). */
static void
hostkey_dirname(const char *path, char *dir, size_t dirlen)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		snprintf(dir, dirlen, ".");
	else if (slash == path)
		snprintf(dir, dirlen, "/");
	else
		snprintf(dir, dirlen, "%.*s", (int)(slash - path), path);
}

static enum jg_err
hostkey_fsync_dir(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	int fd;

	hostkey_dirname(path, dir, sizeof(dir));
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		jg_detail(err, errlen, "%s: cannot open directory %s: %s",
		    path, dir, strerror(errno));
		return JG_ERR_IO;
	}
	if (fsync(fd) == -1 && errno != EINVAL) {
		jg_detail(err, errlen, "%s: cannot flush directory %s: %s",
		    path, dir, strerror(errno));
		close(fd);
		return JG_ERR_IO;
	}
	close(fd);
	return JG_OK;
}

/*
 * Writes data to path so that path is either the old file or the whole
 * new one, never a partial write: temporary file in the same directory
 * (O_EXCL, so a planted symlink is not followed), fsync, rename, fsync
 * of the directory.  The temporary file is removed on any failure.
 */
static enum jg_err
hostkey_write_atomic(const char *path, const char *data, size_t len,
    mode_t mode, char *err, size_t errlen)
{
	struct timespec ts;
	char tmp[PATH_MAX];
	size_t off = 0;
	ssize_t n;
	int fd = -1, tries, saved;

	for (tries = 0; tries < HOSTKEY_TMP_TRIES; tries++) {
		clock_gettime(CLOCK_REALTIME, &ts);
		if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld.%u.%ld",
		    path, (long)getpid(), atomic_fetch_add(&hostkey_tmp_seq, 1),
		    (long)ts.tv_nsec) >= sizeof(tmp)) {
			jg_detail(err, errlen, "%s: path too long", path);
			return JG_ERR_IO;
		}
		fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC |
		    O_NOFOLLOW, 0600);
		if (fd != -1 || errno != EEXIST)
			break;
	}
	if (fd == -1) {
		jg_detail(err, errlen, "%s: cannot create %s: %s", path, tmp,
		    strerror(errno));
		return JG_ERR_IO;
	}
	/* The umask may have removed bits we want (0644 for .pub). */
	if (fchmod(fd, mode) == -1)
		goto fail;
	while (off < len) {
		n = write(fd, data + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		off += (size_t)n;
	}
	if (fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) == -1)
		goto fail;
	return hostkey_fsync_dir(path, err, errlen);

 fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlink(tmp);
	jg_detail(err, errlen, "%s: cannot write %s: %s", path, tmp,
	    strerror(saved));
	return JG_ERR_IO;
}

enum jg_err
hostkey_generate_ed25519(const char *path, const char *comment, char *err,
    size_t errlen)
{
	ssh_key key = NULL;
	char *priv = NULL, *pub = NULL, *publine = NULL;
	char pubpath[PATH_MAX];
	size_t publen;
	enum jg_err rc;

	if ((size_t)snprintf(pubpath, sizeof(pubpath), "%s.pub", path) >=
	    sizeof(pubpath)) {
		jg_detail(err, errlen, "%s: path too long", path);
		return JG_ERR_IO;
	}
	if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK) {
		jg_detail(err, errlen, "%s: cannot generate an ed25519 key",
		    path);
		return JG_ERR_CRYPTO;
	}
	/* libssh 0.10 writes ed25519 keys in the OpenSSH format. */
	if (ssh_pki_export_privkey_base64(key, NULL, NULL, NULL, &priv) !=
	    SSH_OK || ssh_pki_export_pubkey_base64(key, &pub) != SSH_OK) {
		jg_detail(err, errlen, "%s: cannot encode the new key", path);
		rc = JG_ERR_CRYPTO;
		goto out;
	}
	if (comment == NULL)
		comment = "";
	publen = strlen("ssh-ed25519 ") + strlen(pub) + 1 + strlen(comment) +
	    2;
	if ((publine = malloc(publen)) == NULL) {
		jg_detail(err, errlen, "%s: out of memory", path);
		rc = JG_ERR_NOMEM;
		goto out;
	}
	snprintf(publine, publen, "ssh-ed25519 %s%s%s\n", pub,
	    comment[0] != '\0' ? " " : "", comment);

	/*
	 * The public half first: once the private key is in place the .pub
	 * is too, and a failure here leaves no private key behind, so the
	 * next start simply tries again.
	 */
	if ((rc = hostkey_write_atomic(pubpath, publine, strlen(publine),
	    0644, err, errlen)) != JG_OK)
		goto out;
	rc = hostkey_write_atomic(path, priv, strlen(priv), 0600, err,
	    errlen);
 out:
	if (priv != NULL) {
		explicit_bzero(priv, strlen(priv));
		ssh_string_free_char(priv);
	}
	ssh_string_free_char(pub);
	free(publine);
	ssh_key_free(key);
	return rc;
}
