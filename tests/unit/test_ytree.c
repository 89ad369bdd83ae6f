/*
 * test_ytree.c: the YAML tree keeps positions, refuses what could blow up
 * (aliases, depth, size), and reports libyaml's errors as name:line:column.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ytree.h"

static enum jg_err
parse(const char *text, struct ytree_node **root, char *err, size_t errlen)
{
	err[0] = '\0';
	return ytree_parse("t.yaml", text, strlen(text), root, err, errlen);
}

static void
records_the_line_and_column_of_every_node(void **state)
{
	const char *text =
	    "top:\n"
	    "  inner:\n"
	    "    - first\n"
	    "    - {k: v}\n"
	    "other: 12\n";
	struct ytree_node *root;
	const struct ytree_node *top, *inner, *other;
	char err[256];

	assert_int_equal(parse(text, &root, err, sizeof(err)), JG_OK);
	assert_non_null(root);
	assert_int_equal(root->type, YTREE_MAPPING);
	assert_int_equal(root->npairs, 2);
	assert_int_equal(root->pairs[0].key->line, 1);
	assert_int_equal(root->pairs[0].key->column, 1);
	top = ytree_get(root, "top");
	assert_non_null(top);
	assert_int_equal(top->line, 2);
	assert_int_equal(top->column, 3);
	inner = ytree_get(top, "inner");
	assert_non_null(inner);
	assert_int_equal(inner->type, YTREE_SEQUENCE);
	assert_int_equal(inner->nitems, 2);
	assert_string_equal(inner->items[0]->scalar, "first");
	assert_int_equal(inner->items[0]->line, 3);
	assert_int_equal(inner->items[0]->column, 7);
	assert_int_equal(inner->items[1]->type, YTREE_MAPPING);
	assert_int_equal(inner->items[1]->line, 4);
	assert_int_equal(inner->items[1]->column, 7);
	assert_string_equal(ytree_get(inner->items[1], "k")->scalar, "v");
	assert_int_equal(ytree_get(inner->items[1], "k")->column, 11);
	other = ytree_get(root, "other");
	assert_int_equal(other->line, 5);
	assert_int_equal(other->column, 8);
	assert_string_equal(other->scalar, "12");
	assert_int_equal(other->len, 2);
	ytree_free(root);
}

static void
keeps_mapping_keys_in_document_order_and_grows_past_four(void **state)
{
	const char *text = "a: 1\nb: 2\nc: 3\nd: 4\ne: 5\nf: 6\ng: 7\n"
	    "h: 8\ni: 9\nlist: [1, 2, 3, 4, 5, 6, 7, 8, 9]\n";
	struct ytree_node *root;
	char err[256];
	size_t i;

	assert_int_equal(parse(text, &root, err, sizeof(err)), JG_OK);
	assert_int_equal(root->npairs, 10);
	for (i = 0; i < 9; i++) {
		assert_int_equal(root->pairs[i].key->scalar[0], 'a' + (int)i);
		assert_int_equal(root->pairs[i].value->scalar[0],
		    '1' + (int)i);
	}
	assert_int_equal(ytree_get(root, "list")->nitems, 9);
	assert_string_equal(ytree_get(root, "list")->items[8]->scalar, "9");
	ytree_free(root);
}

static void
marks_quoted_scalars_as_not_plain(void **state)
{
	const char *text = "a: null\nb: \"null\"\nc: 'x'\nd: x\ne: !!str y\n";
	struct ytree_node *root;
	char err[256];

	assert_int_equal(parse(text, &root, err, sizeof(err)), JG_OK);
	assert_true(ytree_get(root, "a")->plain);
	assert_false(ytree_get(root, "b")->plain);
	assert_false(ytree_get(root, "c")->plain);
	assert_true(ytree_get(root, "d")->plain);
	assert_false(ytree_get(root, "e")->plain);
	ytree_free(root);
}

static void
reads_only_plain_null_tilde_and_empty_as_null(void **state)
{
	const char *text = "a: null\nb: ~\nc:\nd: \"null\"\ne: ''\nf: NULL\n"
	    "g: nil\nh: []\n";
	struct ytree_node *root;
	char err[256];

	assert_int_equal(parse(text, &root, err, sizeof(err)), JG_OK);
	assert_true(ytree_is_null(ytree_get(root, "a")));
	assert_true(ytree_is_null(ytree_get(root, "b")));
	assert_true(ytree_is_null(ytree_get(root, "c")));
	assert_false(ytree_is_null(ytree_get(root, "d")));
	assert_false(ytree_is_null(ytree_get(root, "e")));
	assert_true(ytree_is_null(ytree_get(root, "f")));
	assert_false(ytree_is_null(ytree_get(root, "g")));
	assert_false(ytree_is_null(ytree_get(root, "h")));
	assert_false(ytree_is_null(NULL));
	ytree_free(root);
}

static void
keeps_nul_bytes_inside_a_scalar_with_its_length(void **state)
{
	const char *text = "a: \"x\\0y\"\n";
	struct ytree_node *root;
	char err[256];

	assert_int_equal(parse(text, &root, err, sizeof(err)), JG_OK);
	assert_int_equal(ytree_get(root, "a")->len, 3);
	assert_memory_equal(ytree_get(root, "a")->scalar, "x\0y", 4);
	ytree_free(root);
}

static void
returns_a_null_root_for_an_empty_document(void **state)
{
	struct ytree_node *root = (struct ytree_node *)&root;
	char err[256];

	assert_int_equal(parse("", &root, err, sizeof(err)), JG_OK);
	assert_null(root);
	root = (struct ytree_node *)&root;
	assert_int_equal(parse("# only a comment\n", &root, err, sizeof(err)),
	    JG_OK);
	assert_null(root);
}

static void
parses_only_the_first_document(void **state)
{
	struct ytree_node *root;
	char err[256];

	assert_int_equal(parse("a: 1\n---\nb: 2\n", &root, err, sizeof(err)),
	    JG_OK);
	assert_non_null(ytree_get(root, "a"));
	assert_null(ytree_get(root, "b"));
	ytree_free(root);
}

static void
refuses_an_alias_naming_its_position(void **state)
{
	const char *text = "a: &x [1, 2]\nb: *x\n";
	struct ytree_node *root = NULL;
	char err[256];

	assert_int_equal(parse(text, &root, err, sizeof(err)), JG_ERR_PARSE);
	assert_null(root);
	/* The anchor comes first, so it is what is refused. */
	assert_non_null(strstr(err, "t.yaml:1:4: YAML anchor 'x' refused"));
	assert_non_null(strstr(err, "anchors and aliases are not supported"));
}

static void
refuses_an_alias_to_an_undefined_anchor(void **state)
{
	struct ytree_node *root = NULL;
	char err[256];

	/* libyaml does not resolve aliases, so this reaches our check. */
	assert_int_equal(parse("a: 1\nb: *x\n", &root, err, sizeof(err)),
	    JG_ERR_PARSE);
	assert_null(root);
	assert_non_null(strstr(err, "t.yaml:2:4: YAML alias 'x' refused"));
}

static void
refuses_an_anchor_on_a_scalar(void **state)
{
	struct ytree_node *root = NULL;
	char err[256];

	assert_int_equal(parse("a: &v 1\n", &root, err, sizeof(err)),
	    JG_ERR_PARSE);
	assert_non_null(strstr(err, "t.yaml:1:4: YAML anchor 'v' refused"));
}

static void
reports_a_duplicate_key_with_both_lines(void **state)
{
	const char *text = "top:\n  port: 1\n  other: 2\n  port: 3\n";
	struct ytree_node *root = NULL;
	char err[256];

	assert_int_equal(parse(text, &root, err, sizeof(err)), JG_ERR_PARSE);
	assert_null(root);
	assert_string_equal(err, "t.yaml:4:3: duplicate key 'port' (first "
	    "defined at line 2, column 3)");
}

static void
allows_the_same_key_in_different_mappings(void **state)
{
	const char *text = "a: {port: 1}\nb: {port: 2}\n";
	struct ytree_node *root;
	char err[256];

	assert_int_equal(parse(text, &root, err, sizeof(err)), JG_OK);
	ytree_free(root);
}

static void
reports_a_syntax_error_as_name_line_column_problem(void **state)
{
	struct ytree_node *root = NULL;
	char err[256];

	assert_int_equal(parse("a: b: c\n", &root, err, sizeof(err)),
	    JG_ERR_PARSE);
	assert_null(root);
	assert_string_equal(err, "t.yaml:1:5: mapping values are not "
	    "allowed in this context");
}

static void
reports_the_context_of_a_syntax_error(void **state)
{
	struct ytree_node *root = NULL;
	char err[256];

	assert_int_equal(parse("a:\n  b: 1\n c: 2\n", &root, err,
	    sizeof(err)), JG_ERR_PARSE);
	assert_string_equal(err, "t.yaml:3:2: did not find expected key "
	    "while parsing a block mapping that starts at line 1, column 1");
	assert_int_equal(parse("a: \"open\nb: 1\n", &root, err, sizeof(err)),
	    JG_ERR_PARSE);
	assert_non_null(strstr(err, "t.yaml:3:1: found unexpected end of "
	    "stream while scanning a quoted scalar that starts at line 1, "
	    "column 4"));
}

static void
frees_a_half_built_tree_on_a_late_error(void **state)
{
	struct ytree_node *root = NULL;
	char err[256];

	/* Under valgrind this shows the partial tree is released. */
	assert_int_equal(parse("a:\n  b: [1, 2, {c: 3}]\n  d: {e: [x, y\n",
	    &root, err, sizeof(err)), JG_ERR_PARSE);
	assert_null(root);
	assert_non_null(strstr(err, "t.yaml:"));
}

static void
reports_invalid_utf8_with_its_line(void **state)
{
	struct ytree_node *root = NULL;
	char err[256];

	assert_int_equal(parse("a: 1\nb: x\xff\n", &root, err, sizeof(err)),
	    JG_ERR_PARSE);
	assert_non_null(strstr(err, "t.yaml:2:5: invalid"));
}

static void
refuses_a_mapping_used_as_a_key(void **state)
{
	struct ytree_node *root = NULL;
	char err[256];

	assert_int_equal(parse("? [a, b]\n: c\n", &root, err, sizeof(err)),
	    JG_ERR_PARSE);
	assert_string_equal(err, "t.yaml:1:3: a mapping key must be a scalar, "
	    "not a sequence");
}

static void
refuses_nesting_deeper_than_the_limit(void **state)
{
	char text[2 * YTREE_MAX_DEPTH + 8], err[256];
	struct ytree_node *root = NULL;
	size_t i;

	for (i = 0; i < YTREE_MAX_DEPTH; i++)
		text[i] = '[';
	for (i = 0; i < YTREE_MAX_DEPTH; i++)
		text[YTREE_MAX_DEPTH + i] = ']';
	text[2 * YTREE_MAX_DEPTH] = '\0';
	assert_int_equal(parse(text, &root, err, sizeof(err)), JG_OK);
	ytree_free(root);

	memmove(text + 1, text, 2 * YTREE_MAX_DEPTH + 1);
	text[0] = '[';
	strncat(text, "]", sizeof(text) - strlen(text) - 1);
	assert_int_equal(parse(text, &root, err, sizeof(err)), JG_ERR_LIMIT);
	assert_null(root);
	assert_string_equal(err, "t.yaml:1:65: nesting deeper than 64 levels "
	    "refused");
}

static void
refuses_a_document_larger_than_the_limit(void **state)
{
	struct ytree_node *root = NULL;
	char err[256];
	char *big;

	/* Refused on length alone: the bytes are never read. */
	big = malloc((size_t)YTREE_MAX_BYTES + 1);
	assert_non_null(big);
	assert_int_equal(ytree_parse("big.yaml", big,
	    (size_t)YTREE_MAX_BYTES + 1, &root, err, sizeof(err)),
	    JG_ERR_LIMIT);
	assert_null(root);
	assert_non_null(strstr(err, "big.yaml: 67108865 bytes is larger"));
	free(big);
}

static void
reads_a_file_and_names_it_in_errors(void **state)
{
	char dir[] = "/tmp/test_ytree.XXXXXX", path[128], err[512];
	struct ytree_node *root = NULL;
	FILE *fp;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/good.yaml", dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("x: [1, 2]\n", fp);
	fclose(fp);
	assert_int_equal(ytree_parse_file(path, &root, err, sizeof(err)),
	    JG_OK);
	assert_int_equal(ytree_get(root, "x")->nitems, 2);
	ytree_free(root);

	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("x: [1, 2\n", fp);
	fclose(fp);
	assert_int_equal(ytree_parse_file(path, &root, err, sizeof(err)),
	    JG_ERR_PARSE);
	assert_int_equal(strncmp(err, path, strlen(path)), 0);
	assert_int_equal(strncmp(err + strlen(path), ":2:1: ", 6), 0);

	assert_int_equal(ytree_parse_file(dir, &root, err, sizeof(err)),
	    JG_ERR_IO);
	assert_non_null(strstr(err, ": cannot read: is a directory"));
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void
reports_a_missing_file_with_errno_text(void **state)
{
	struct ytree_node *root = NULL;
	char err[256];

	assert_int_equal(ytree_parse_file("/nonexistent/x.yaml", &root, err,
	    sizeof(err)), JG_ERR_IO);
	assert_null(root);
	assert_string_equal(err, "/nonexistent/x.yaml: cannot read: No such "
	    "file or directory");
}

static void
finds_nothing_in_a_node_that_is_not_a_mapping(void **state)
{
	struct ytree_node *root;
	char err[256];

	assert_int_equal(parse("[a, b]\n", &root, err, sizeof(err)), JG_OK);
	assert_null(ytree_get(root, "a"));
	assert_null(ytree_get(NULL, "a"));
	ytree_free(root);
	ytree_free(NULL);
	assert_string_equal(ytree_type_name(YTREE_SCALAR), "scalar");
	assert_string_equal(ytree_type_name(YTREE_SEQUENCE), "sequence");
	assert_string_equal(ytree_type_name(YTREE_MAPPING), "mapping");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(records_the_line_and_column_of_every_node),
		cmocka_unit_test(
		    keeps_mapping_keys_in_document_order_and_grows_past_four),
		cmocka_unit_test(marks_quoted_scalars_as_not_plain),
		cmocka_unit_test(reads_only_plain_null_tilde_and_empty_as_null),
		cmocka_unit_test(
		    keeps_nul_bytes_inside_a_scalar_with_its_length),
		cmocka_unit_test(returns_a_null_root_for_an_empty_document),
		cmocka_unit_test(parses_only_the_first_document),
		cmocka_unit_test(refuses_an_alias_naming_its_position),
		cmocka_unit_test(refuses_an_alias_to_an_undefined_anchor),
		cmocka_unit_test(refuses_an_anchor_on_a_scalar),
		cmocka_unit_test(reports_a_duplicate_key_with_both_lines),
		cmocka_unit_test(allows_the_same_key_in_different_mappings),
		cmocka_unit_test(
		    reports_a_syntax_error_as_name_line_column_problem),
		cmocka_unit_test(reports_the_context_of_a_syntax_error),
		cmocka_unit_test(frees_a_half_built_tree_on_a_late_error),
		cmocka_unit_test(reports_invalid_utf8_with_its_line),
		cmocka_unit_test(refuses_a_mapping_used_as_a_key),
		cmocka_unit_test(refuses_nesting_deeper_than_the_limit),
		cmocka_unit_test(refuses_a_document_larger_than_the_limit),
		cmocka_unit_test(reads_a_file_and_names_it_in_errors),
		cmocka_unit_test(reports_a_missing_file_with_errno_text),
		cmocka_unit_test(finds_nothing_in_a_node_that_is_not_a_mapping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
