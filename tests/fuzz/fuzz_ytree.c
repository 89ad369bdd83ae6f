/*
 * fuzz_ytree.c: the YAML tree builder (ytree.h) that the config, the
 * static route file and kubeconfig all read through.  A tree that parses
 * is walked to check what the header promises: bounded depth, positions
 * from 1, terminated scalars, scalar keys, no duplicate keys.
 */
#include <string.h>

#include "fuzz.h"
#include "ytree.h"

static void
walk(const struct ytree_node *n, size_t depth)
{
	const struct ytree_pair *p, *q;
	size_t i, j;

	FUZZ_CHECK(n != NULL);
	FUZZ_CHECK(n->line >= 1 && n->column >= 1);
	FUZZ_CHECK(ytree_type_name(n->type) != NULL);
	switch (n->type) {
	case YTREE_SCALAR:
		FUZZ_CHECK(n->scalar != NULL);
		FUZZ_CHECK(n->scalar[n->len] == '\0');
		(void)ytree_is_null(n);
		break;
	case YTREE_SEQUENCE:
		/* Collections nest at most YTREE_MAX_DEPTH deep. */
		FUZZ_CHECK(depth < YTREE_MAX_DEPTH);
		for (i = 0; i < n->nitems; i++)
			walk(n->items[i], depth + 1);
		break;
	case YTREE_MAPPING:
		FUZZ_CHECK(depth < YTREE_MAX_DEPTH);
		for (i = 0; i < n->npairs; i++) {
			p = &n->pairs[i];
			FUZZ_CHECK(p->key != NULL && p->key->type ==
			    YTREE_SCALAR);
			walk(p->key, depth + 1);
			walk(p->value, depth + 1);
			for (j = 0; j < i; j++) {
				q = &n->pairs[j];
				FUZZ_CHECK(q->key->len != p->key->len ||
				    memcmp(q->key->scalar, p->key->scalar,
				    p->key->len) != 0);
			}
			/* Keys are unique, so a key without NULs finds its
			 * own value. */
			if (strlen(p->key->scalar) == p->key->len)
				FUZZ_CHECK(ytree_get(n, p->key->scalar) ==
				    p->value);
		}
		break;
	}
	FUZZ_CHECK(ytree_get(n, "") == NULL || n->type == YTREE_MAPPING);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ytree_node *root = NULL;
	char err[512];
	enum jg_err r;

	err[0] = '\0';
	r = ytree_parse("fuzz.yaml", (const char *)data, size, &root, err,
	    sizeof(err));
	if (r == JG_OK) {
		if (root != NULL)
			walk(root, 0);
		ytree_free(root);
	} else {
		FUZZ_CHECK(root == NULL);
		FUZZ_CHECK(err[0] != '\0' && strlen(err) < sizeof(err));
	}
	return 0;
}
