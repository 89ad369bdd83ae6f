/*
 * test_hostkey.c: host key loading, checking and atomic generation.  Keys
 * are generated with libssh at test time inside a mkdtemp directory; no
 * private key is ever committed.
 */
/* nftw(3) is an XSI function. */
#define _XOPEN_SOURCE 700

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hostkey.h"

struct fixture {
	char	 dir[64];
	char	*paths[4];
	struct config_host_keys cfg;
	struct jg_errlist errs;
};

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/jg-hostkey-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	f->cfg.paths = f->paths;
	jg_errlist_init(&f->errs);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	size_t i;

	nftw(f->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	for (i = 0; i < 4; i++)
		free(f->paths[i]);
	free(f);
	return 0;
}

/* Adds dir/name to the configured paths and returns it. */
static const char *
add_path(struct fixture *f, const char *name)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s/%s", f->dir, name);
	f->paths[f->cfg.npaths] = strdup(buf);
	assert_non_null(f->paths[f->cfg.npaths]);
	return f->paths[f->cfg.npaths++];
}

static void
write_key(const char *path, enum ssh_keytypes_e type, int bits,
    const char *passphrase)
{
	ssh_key key = NULL;

	assert_int_equal(ssh_pki_generate(type, bits, &key), SSH_OK);
	assert_int_equal(ssh_pki_export_privkey_file(key, passphrase, NULL,
	    NULL, path), SSH_OK);
	assert_int_equal(chmod(path, 0600), 0);
	ssh_key_free(key);
}

static size_t
count_dir_entries(const char *dir)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	assert_non_null(d = opendir(dir));
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static bool
errs_contain(const struct jg_errlist *errs, const char *needle)
{
	size_t i;

	for (i = 0; i < errs->el_count && i < JG_ERRLIST_MAX; i++)
		if (strstr(errs->el_msg[i], needle) != NULL)
			return true;
	return false;
}

static void
generates_a_missing_key_with_mode_0600_and_a_public_half(void **state)
{
	struct fixture *f = *state;
	struct hostkey_set *set = NULL;
	const char *path = add_path(f, "ssh_host_ed25519_key");
	char pubpath[PATH_MAX], line[512];
	struct stat st;
	FILE *fp;

	f->cfg.generate = true;
	assert_int_equal(hostkey_load_all(&f->cfg, false, &set, &f->errs),
	    JG_OK);
	assert_int_equal(f->errs.el_count, 0);
	assert_int_equal(hostkey_count(set), 1);
	assert_non_null(strstr(hostkey_describe(set, 0), "ED25519 SHA256:"));

	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	snprintf(pubpath, sizeof(pubpath), "%s.pub", path);
	assert_int_equal(stat(pubpath, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_non_null(fp = fopen(pubpath, "r"));
	assert_non_null(fgets(line, sizeof(line), fp));
	fclose(fp);
	assert_memory_equal(line, "ssh-ed25519 AAAA", 16);
	assert_int_equal(line[strlen(line) - 1], '\n');
	assert_non_null(strstr(line, " jumpgate host key\n"));
	/* Atomic: only the two final files, no temporary left behind. */
	assert_int_equal(count_dir_entries(f->dir), 2);
	hostkey_set_free(set);
}

static void
keeps_an_existing_key_rather_than_generating_a_new_one(void **state)
{
	struct fixture *f = *state;
	struct hostkey_set *a = NULL, *b = NULL;

	add_path(f, "key");
	f->cfg.generate = true;
	assert_int_equal(hostkey_load_all(&f->cfg, false, &a, &f->errs),
	    JG_OK);
	assert_int_equal(hostkey_load_all(&f->cfg, false, &b, &f->errs),
	    JG_OK);
	assert_string_equal(hostkey_describe(a, 0), hostkey_describe(b, 0));
	hostkey_set_free(a);
	hostkey_set_free(b);
}

static void
prints_the_fingerprint_as_ssh_keygen_does(void **state)
{
	struct fixture *f = *state;
	struct hostkey_set *set = NULL;
	const char *path = add_path(f, "key");
	char cmd[PATH_MAX + 64], out[512], *fp;
	FILE *p;

	if (access("/usr/bin/ssh-keygen", X_OK) != 0)
		skip();
	f->cfg.generate = true;
	assert_int_equal(hostkey_load_all(&f->cfg, false, &set, &f->errs),
	    JG_OK);
	snprintf(cmd, sizeof(cmd), "/usr/bin/ssh-keygen -lf '%s'", path);
	assert_non_null(p = popen(cmd, "r"));
	assert_non_null(fgets(out, sizeof(out), p));
	pclose(p);
	/* "256 SHA256:xxx comment (ED25519)" */
	assert_non_null(fp = strstr(out, "SHA256:"));
	*strchr(fp, ' ') = '\0';
	assert_string_equal(hostkey_describe(set, 0) + strlen("ED25519 "),
	    fp);
	hostkey_set_free(set);
}

static void
refuses_a_key_readable_by_group(void **state)
{
	struct fixture *f = *state;
	struct hostkey_set *set = NULL;
	const char *path = add_path(f, "key");
	char want[PATH_MAX + 128];

	write_key(path, SSH_KEYTYPE_ED25519, 0, NULL);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(hostkey_load_all(&f->cfg, false, &set, &f->errs),
	    JG_ERR_PERM);
	assert_null(set);
	assert_int_equal(f->errs.el_count, 1);
	snprintf(want, sizeof(want), "%s: private key is readable by group "
	    "or others (mode 0640); run: chmod 600 %s", path, path);
	assert_string_equal(f->errs.el_msg[0], want);
}

static void
refuses_a_key_readable_by_everyone(void **state)
{
	struct fixture *f = *state;
	const char *path = add_path(f, "key");
	char err[512], want[PATH_MAX + 128];

	write_key(path, SSH_KEYTYPE_ED25519, 0, NULL);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(hostkey_check_mode(path, err, sizeof(err)),
	    JG_ERR_PERM);
	snprintf(want, sizeof(want), "%s: private key is readable by group "
	    "or others (mode 0644); run: chmod 600 %s", path, path);
	assert_string_equal(err, want);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(hostkey_check_mode(path, err, sizeof(err)), JG_OK);
}

static void
refuses_a_key_writable_by_group(void **state)
{
	struct fixture *f = *state;
	const char *path = add_path(f, "key");
	char err[512];

	write_key(path, SSH_KEYTYPE_ED25519, 0, NULL);
	assert_int_equal(chmod(path, 0620), 0);
	assert_int_equal(hostkey_check_mode(path, err, sizeof(err)),
	    JG_ERR_PERM);
	assert_non_null(strstr(err, "(mode 0620); run: chmod 600"));
}

static void
refuses_a_host_key_that_is_not_a_regular_file(void **state)
{
	struct fixture *f = *state;
	struct hostkey_set *set = NULL;
	const char *path = add_path(f, "key");

	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(hostkey_load_all(&f->cfg, false, &set, &f->errs),
	    JG_ERR_PERM);
	assert_true(errs_contain(&f->errs, "is not a regular file"));
}

static void
loads_ed25519_ecdsa_and_rsa_keys(void **state)
{
	struct fixture *f = *state;
	struct hostkey_set *set = NULL;

	write_key(add_path(f, "ed"), SSH_KEYTYPE_ED25519, 0, NULL);
	write_key(add_path(f, "ec"), SSH_KEYTYPE_ECDSA_P384, 384, NULL);
	write_key(add_path(f, "rsa"), SSH_KEYTYPE_RSA, 2048, NULL);
	assert_int_equal(hostkey_load_all(&f->cfg, false, &set, &f->errs),
	    JG_OK);
	assert_int_equal(f->errs.el_count, 0);
	assert_int_equal(hostkey_count(set), 3);
	assert_memory_equal(hostkey_describe(set, 0), "ED25519 SHA256:", 15);
	assert_memory_equal(hostkey_describe(set, 1), "ECDSA SHA256:", 13);
	assert_memory_equal(hostkey_describe(set, 2), "RSA SHA256:", 11);
	assert_null(hostkey_describe(set, 3));
	hostkey_set_free(set);
}

static void
refuses_an_rsa_key_shorter_than_2048_bits(void **state)
{
	struct fixture *f = *state;
	struct hostkey_set *set = NULL;

	write_key(add_path(f, "rsa"), SSH_KEYTYPE_RSA, 1024, NULL);
	assert_int_equal(hostkey_load_all(&f->cfg, false, &set, &f->errs),
	    JG_ERR_CRYPTO);
	assert_true(errs_contain(&f->errs, "RSA host key has 1024 bits, "
	    "fewer than 2048"));
}

static void
refuses_two_keys_of_the_same_type(void **state)
{
	struct fixture *f = *state;
	struct hostkey_set *set = NULL;
	const char *first = add_path(f, "ec256");

	write_key(first, SSH_KEYTYPE_ECDSA_P256, 256, NULL);
	write_key(add_path(f, "ec384"), SSH_KEYTYPE_ECDSA_P384, 384, NULL);
	assert_int_equal(hostkey_load_all(&f->cfg, false, &set, &f->errs),
	    JG_ERR_CONFIG);
	assert_null(set);
	assert_int_equal(f->errs.el_count, 1);
	assert_non_null(strstr(f->errs.el_msg[0], "a second ECDSA host key"));
	assert_non_null(strstr(f->errs.el_msg[0], first));
}

static void
reports_a_missing_key_when_generation_is_off(void **state)
{
	struct fixture *f = *state;
	struct hostkey_set *set = NULL;
	const char *path = add_path(f, "key");
	char want[PATH_MAX * 2 + 160];

	f->cfg.generate = false;
	assert_int_equal(hostkey_load_all(&f->cfg, false, &set, &f->errs),
	    JG_ERR_NOT_FOUND);
	snprintf(want, sizeof(want), "%s: host key not found (create one "
	    "with ssh-keygen -t ed25519 -f %s -N '' or set "
	    "host_keys.generate: true)", path, path);
	assert_string_equal(f->errs.el_msg[0], want);
	assert_int_equal(count_dir_entries(f->dir), 0);
}

static void
refuses_a_key_encrypted_with_a_passphrase(void **state)
{
	struct fixture *f = *state;
	struct hostkey_set *set = NULL;

	write_key(add_path(f, "key"), SSH_KEYTYPE_ED25519, 0, "secret");
	assert_int_equal(hostkey_load_all(&f->cfg, false, &set, &f->errs),
	    JG_ERR_PARSE);
	assert_true(errs_contain(&f->errs, "encrypted with a passphrase"));
}

static void
refuses_a_file_that_is_not_a_private_key(void **state)
{
	struct fixture *f = *state;
	struct hostkey_set *set = NULL;
	const char *path = add_path(f, "key");
	FILE *fp;

	assert_non_null(fp = fopen(path, "w"));
	fputs("not a key\n", fp);
	fclose(fp);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(hostkey_load_all(&f->cfg, false, &set, &f->errs),
	    JG_ERR_PARSE);
	assert_true(errs_contain(&f->errs, "not a private key"));
}

static void
check_only_never_writes_a_key(void **state)
{
	struct fixture *f = *state;
	struct hostkey_set *set = NULL;

	add_path(f, "key");
	f->cfg.generate = true;
	assert_int_equal(hostkey_load_all(&f->cfg, true, &set, &f->errs),
	    JG_OK);
	assert_int_equal(f->errs.el_count, 0);
	assert_int_equal(hostkey_count(set), 0);
	assert_int_equal(count_dir_entries(f->dir), 0);
	hostkey_set_free(set);

	f->cfg.generate = false;
	assert_int_equal(hostkey_load_all(&f->cfg, true, &set, &f->errs),
	    JG_ERR_NOT_FOUND);
	assert_int_equal(count_dir_entries(f->dir), 0);
}

static void
reports_every_bad_key_at_once(void **state)
{
	struct fixture *f = *state;
	struct hostkey_set *set = NULL;
	const char *a = add_path(f, "a"), *b = add_path(f, "b");

	write_key(a, SSH_KEYTYPE_ED25519, 0, NULL);
	assert_int_equal(chmod(a, 0644), 0);
	assert_int_equal(hostkey_load_all(&f->cfg, false, &set, &f->errs),
	    JG_ERR_PERM);
	assert_int_equal(f->errs.el_count, 2);
	assert_non_null(strstr(f->errs.el_msg[0], a));
	assert_non_null(strstr(f->errs.el_msg[1], b));
}

static void
generation_fails_cleanly_when_the_directory_is_missing(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX], err[512];

	snprintf(path, sizeof(path), "%s/nodir/key", f->dir);
	assert_int_equal(hostkey_generate_ed25519(path, "c", err,
	    sizeof(err)), JG_ERR_IO);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "No such file or directory"));
	assert_int_equal(count_dir_entries(f->dir), 0);
}

static void
gives_the_bind_copies_it_can_free_on_its_own(void **state)
{
	struct fixture *f = *state;
	struct hostkey_set *set = NULL;
	ssh_bind bind;

	write_key(add_path(f, "ed"), SSH_KEYTYPE_ED25519, 0, NULL);
	write_key(add_path(f, "ec"), SSH_KEYTYPE_ECDSA_P256, 256, NULL);
	assert_int_equal(hostkey_load_all(&f->cfg, false, &set, &f->errs),
	    JG_OK);
	assert_non_null(bind = ssh_bind_new());
	assert_int_equal(hostkey_apply(set, bind), JG_OK);
	/* Either order of release must be safe: each owns its copy. */
	ssh_bind_free(bind);
	assert_int_equal(hostkey_count(set), 2);
	assert_non_null(bind = ssh_bind_new());
	assert_int_equal(hostkey_apply(set, bind), JG_OK);
	hostkey_set_free(set);
	ssh_bind_free(bind);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(generates_a_missing_key_with_mode_0600_and_a_public_half),
		T(keeps_an_existing_key_rather_than_generating_a_new_one),
		T(prints_the_fingerprint_as_ssh_keygen_does),
		T(refuses_a_key_readable_by_group),
		T(refuses_a_key_readable_by_everyone),
		T(refuses_a_key_writable_by_group),
		T(refuses_a_host_key_that_is_not_a_regular_file),
		T(loads_ed25519_ecdsa_and_rsa_keys),
		T(refuses_an_rsa_key_shorter_than_2048_bits),
		T(refuses_two_keys_of_the_same_type),
		T(reports_a_missing_key_when_generation_is_off),
		T(refuses_a_key_encrypted_with_a_passphrase),
		T(refuses_a_file_that_is_not_a_private_key),
		T(check_only_never_writes_a_key),
		T(reports_every_bad_key_at_once),
		T(generation_fails_cleanly_when_the_directory_is_missing),
		T(gives_the_bind_copies_it_can_free_on_its_own),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
