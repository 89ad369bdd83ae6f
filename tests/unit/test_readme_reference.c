/*
 * test_readme_reference.c: the configuration reference in README.md is
 * the one the loader's own table produces, so the docs cannot drift from
 * the code.  Regenerate it with config_reference() when a key changes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"

static char *
slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf;
	long n;

	if (fp == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = calloc(1, (size_t)n + 1);
	if (buf != NULL && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(fp);
	return buf;
}

static void
the_readme_holds_the_generated_config_reference(void **state)
{
	const char *src = getenv("JG_SOURCE_DIR");
	char path[4096], *readme, *ref = NULL;
	size_t reflen = 0;
	FILE *fp;

	assert_non_null(src);
	snprintf(path, sizeof(path), "%s/README.md", src);
	readme = slurp(path);
	assert_non_null(readme);
	fp = open_memstream(&ref, &reflen);
	assert_non_null(fp);
	config_reference(fp);
	fclose(fp);
	assert_true(reflen > 1000);
	if (strstr(readme, ref) == NULL)
		fail_msg("README.md's configuration reference differs from "
		    "config_reference(); paste its output into README.md");
	free(ref);
	free(readme);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_readme_holds_the_generated_config_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
