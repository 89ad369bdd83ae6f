/*
 * fuzz_authkeys.c: authorized_keys lines and from= pattern lists
 * (authkeys.h), which come from users' own files and key servers.
 * Input: TEXT NUL ADDRESS.  The whole input (NULs and all, not
 * terminated) is parsed as an authorized_keys file; TEXT is also matched
 * as a from= pattern list against ADDRESS (default 192.0.2.7).  Every key
 * that parsed is then offered back: being listed, it must be admitted or
 * refused, never "not found".
 */
#include <string.h>
#include <time.h>

#include "authkeys.h"
#include "fuzz.h"

/* 2023-11-14: a fixed "now", so expiry-time= decides the same each run. */
#define FUZZ_NOW	((time_t)1700000000)

static void
offer_each_key(const struct authkeys *keys, const char *addr)
{
	const struct authkeys_entry *e, *got;
	char why[256];
	enum jg_err r;
	size_t i;

	for (i = 0; i < keys->ak_count; i++) {
		e = &keys->ak_entries[i];
		FUZZ_CHECK(e->ak_key != NULL && e->ak_origin != NULL);
		FUZZ_CHECK(e->ak_npermitopen == 0 || e->ak_permitopen != NULL);
		why[0] = '\0';
		r = authkeys_match(keys, e->ak_key, addr, FUZZ_NOW, &got, why,
		    sizeof(why));
		FUZZ_CHECK(r == JG_OK || r == JG_ERR_DENIED);
		if (r == JG_OK) {
			FUZZ_CHECK(got != NULL && got->ak_unusable == NULL);
			(void)authkeys_permits_open(got, "job-a", 22);
			(void)authkeys_permits_open(got, "2001:db8::1", 2222);
		} else
			FUZZ_CHECK(got == NULL && why[0] != '\0');
		/* No address: from= must refuse rather than crash. */
		r = authkeys_match(keys, e->ak_key, NULL, FUZZ_NOW, &got, why,
		    sizeof(why));
		FUZZ_CHECK(r == JG_OK || r == JG_ERR_DENIED);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jg_errlist *warnings;
	struct authkeys *keys = NULL, *merged = NULL;
	char *copy, *parts[2];
	const char *addr;

	if ((copy = fuzz_split(data, size, parts, 2)) == NULL)
		return 0;
	addr = parts[1] != NULL ? parts[1] : "192.0.2.7";
	(void)authkeys_match_from(parts[0], addr);
	(void)authkeys_match_from(parts[0], "2001:db8::7");
	if ((warnings = malloc(sizeof(*warnings))) == NULL) {
		free(copy);
		return 0;
	}
	jg_errlist_init(warnings);
	if (authkeys_parse((const char *)data, size, "fuzz", &keys,
	    warnings) == JG_OK) {
		FUZZ_CHECK(keys != NULL);
		offer_each_key(keys, addr);
		if (authkeys_merge(keys, keys, &merged) == JG_OK) {
			FUZZ_CHECK(merged->ak_count == 2 * keys->ak_count);
			authkeys_unref(merged);
		}
		authkeys_unref(authkeys_ref(keys));
		authkeys_unref(keys);
	}
	free(warnings);
	free(copy);
	return 0;
}
