/*
 * fuzz_config.c: the configuration loader (config.h) over YAML text.
 * A config that loads must also survive the `jumpgate -T` round trip the
 * header promises: its dump loads back, and dumps to the same text.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"

#define FUZZ_CONFIG_NAME	"fuzz.yaml"

/* The dump of cfg in a new buffer (caller frees), or NULL on ENOMEM. */
static char *
dump(const struct config *cfg, size_t *len)
{
	FILE *fp;
	char *buf = NULL;

	if ((fp = open_memstream(&buf, len)) == NULL)
		return NULL;
	config_dump(cfg, fp);
	if (fclose(fp) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void
round_trip(const struct config *cfg)
{
	struct jg_errlist *errs;
	struct config *again = NULL;
	char *text, *text2;
	size_t len, len2;
	enum jg_err r;

	if ((text = dump(cfg, &len)) == NULL)
		return;
	if ((errs = malloc(sizeof(*errs))) == NULL) {
		free(text);
		return;
	}
	jg_errlist_init(errs);
	r = config_load_string(FUZZ_CONFIG_NAME, text, len, &again, errs);
	if (r != JG_OK && r != JG_ERR_NOMEM) {
		fprintf(stderr, "the dump does not load back:\n");
		jg_errlist_print(errs, stderr);
		fprintf(stderr, "--- dump ---\n%s--- end ---\n", text);
	}
	FUZZ_CHECK(r == JG_OK || r == JG_ERR_NOMEM);
	if (again != NULL && (text2 = dump(again, &len2)) != NULL) {
		if (len2 != len || memcmp(text, text2, len) != 0)
			fprintf(stderr, "--- dump ---\n%s--- reloaded ---\n"
			    "%s--- end ---\n", text, text2);
		FUZZ_CHECK(len2 == len && memcmp(text, text2, len) == 0);
		free(text2);
	}
	config_free(again);
	free(errs);
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jg_errlist *errs;
	struct config *cfg = NULL;
	enum jg_err r;

	/* 32 KiB of messages: too big for a comfortable stack frame. */
	if ((errs = malloc(sizeof(*errs))) == NULL)
		return 0;
	jg_errlist_init(errs);
	r = config_load_string(FUZZ_CONFIG_NAME, (const char *)data, size,
	    &cfg, errs);
	if (r == JG_OK) {
		FUZZ_CHECK(cfg != NULL);
		round_trip(cfg);
		config_free(cfg);
	} else {
		FUZZ_CHECK(cfg == NULL);
		FUZZ_CHECK(r == JG_ERR_NOMEM || errs->el_count > 0);
	}
	free(errs);
	return 0;
}
