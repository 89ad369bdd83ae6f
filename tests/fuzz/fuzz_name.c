/*
 * fuzz_name.c: the login and jump-target grammars (name.h), which read
 * the first bytes a stranger sends.  Input: LOGIN NUL TARGET; both are
 * parsed and the escaper is run over the raw bytes at several sizes.
 */
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "name.h"

static void
check_parts(const struct name_parts *np, bool login)
{
	FUZZ_CHECK(strlen(np->np_user) <= NAME_USER_MAX);
	FUZZ_CHECK(strlen(np->np_job) <= NAME_JOB_MAX);
	FUZZ_CHECK(strlen(np->np_pod) <= NAME_POD_MAX);
	if (login)
		FUZZ_CHECK(name_user_valid(np->np_user));
	else
		FUZZ_CHECK(np->np_user[0] == '\0');
	/* A POD is only ever given after a JOB. */
	FUZZ_CHECK(np->np_pod[0] == '\0' || np->np_job[0] != '\0');
}

static void
check_escape(const char *src, size_t srclen)
{
	static const size_t sizes[] = { 4, 5, 16, 67, 512 };
	char dst[512];
	size_t i, j, n;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		memset(dst, 'Z', sizeof(dst));
		FUZZ_CHECK(name_escape(dst, sizes[i], src, srclen) == dst);
		n = strnlen(dst, sizes[i]);
		FUZZ_CHECK(n < sizes[i]);
		/* Control bytes never reach a user's terminal raw. */
		for (j = 0; j < n; j++)
			FUZZ_CHECK((unsigned char)dst[j] >= 0x20 &&
			    (unsigned char)dst[j] != 0x7f);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct name_parts np;
	char *copy, *parts[2], err[256];

	if ((copy = fuzz_split(data, size, parts, 2)) == NULL)
		return 0;
	memset(&np, 0, sizeof(np));
	err[0] = '\0';
	if (name_parse_login(parts[0], &np, err, sizeof(err)) == JG_OK)
		check_parts(&np, true);
	else
		FUZZ_CHECK(err[0] != '\0' && strlen(err) < sizeof(err));
	(void)name_user_valid(parts[0]);
	if (parts[1] != NULL) {
		memset(&np, 0, sizeof(np));
		err[0] = '\0';
		if (name_parse_target(parts[1], &np, err, sizeof(err)) ==
		    JG_OK)
			check_parts(&np, false);
		else
			FUZZ_CHECK(err[0] != '\0' &&
			    strlen(err) < sizeof(err));
	}
	/* maxsrc may run past a NUL only up to it: name_escape stops. */
	check_escape(parts[0], strlen(parts[0]));
	check_escape(parts[0], 7);
	free(copy);
	return 0;
}
