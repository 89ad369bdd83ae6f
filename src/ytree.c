/*
 * ytree.c: turns YAML text into a tree of ytree_nodes that keep their
 * line and column, using libyaml's event parser.  Owns only the nodes it
 * returns; knows nothing of what the keys mean (config.c and the route
 * readers do).  Pure functions; any thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "ytree.h"

/* How much of an offending key a message quotes. */
#define YTREE_QUOTE_MAX		64

/* One open collection while events arrive. */
struct ytree_frame {
	struct ytree_node *yf_node;	/* sequence or mapping to fill */
	struct ytree_node *yf_key;	/* mapping: key awaiting a value */
};

struct ytree_build {
	const char	*yb_name;
	struct ytree_node *yb_root;
	struct ytree_frame yb_stack[YTREE_MAX_DEPTH];
	size_t		 yb_depth;
	char		*yb_err;
	size_t		 yb_errlen;
};

static void
ytree_quote(char *dst, size_t dstlen, const char *s, size_t len)
{
	size_t i, o = 0;

	/* Keys come from files others may write: keep messages printable. */
	for (i = 0; i < len && o + 5 < dstlen; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f) {
			dst[o++] = (char)c;
		} else {
			snprintf(dst + o, dstlen - o, "\\x%02x", c);
			o += 4;
		}
	}
	if (i < len && o + 4 < dstlen) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
}

void
ytree_free(struct ytree_node *node)
{
	size_t i;

	if (node == NULL)
		return;
	free(node->scalar);
	for (i = 0; i < node->nitems; i++)
		ytree_free(node->items[i]);
	free(node->items);
	for (i = 0; i < node->npairs; i++) {
		ytree_free(node->pairs[i].key);
		ytree_free(node->pairs[i].value);
	}
	free(node->pairs);
	free(node);
}

static struct ytree_node *
ytree_node_new(enum ytree_type type, const yaml_mark_t *mark)
{
	struct ytree_node *n;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		return NULL;
	n->type = type;
	/* libyaml counts from 0; editors and our messages count from 1. */
	n->line = mark->line >= (size_t)INT_MAX ? INT_MAX : (int)mark->line + 1;
	n->column = mark->column >= (size_t)INT_MAX ? INT_MAX :
	    (int)mark->column + 1;
	return n;
}

/*
 * Grows *arr (elements of size sz) so that index n fits.  Nodes keep no
 * capacity: it is implied, 4 and then the next power of two.
 */
static int
ytree_grow(void **arr, size_t n, size_t sz)
{
	size_t cap;
	void *p;

	if (n != 0 && (n < 4 || (n & (n - 1)) != 0))
		return 0;
	cap = n == 0 ? 4 : n * 2;
	if (cap < n || cap > SIZE_MAX / sz)
		return -1;
	if ((p = realloc(*arr, cap * sz)) == NULL)
		return -1;
	*arr = p;
	return 0;
}

/*
 * Hangs node under the innermost open collection (or makes it the root).
 * On failure the node is not attached and the caller still owns it.
 */
static enum jg_err
ytree_attach(struct ytree_build *b, struct ytree_node *node)
{
	struct ytree_frame *f;
	struct ytree_node *parent;
	char q[YTREE_QUOTE_MAX * 4 + 8];
	size_t i;

	if (b->yb_depth == 0) {
		b->yb_root = node;
		return JG_OK;
	}
	f = &b->yb_stack[b->yb_depth - 1];
	parent = f->yf_node;
	if (parent->type == YTREE_SEQUENCE) {
		if (ytree_grow((void **)&parent->items, parent->nitems,
		    sizeof(*parent->items)) == -1)
			return JG_ERR_NOMEM;
		parent->items[parent->nitems++] = node;
		return JG_OK;
	}
	if (f->yf_key == NULL) {
		if (node->type != YTREE_SCALAR) {
			jg_detail(b->yb_err, b->yb_errlen,
			    "%s:%d:%d: a mapping key must be a scalar, "
			    "not a %s", b->yb_name, node->line, node->column,
			    ytree_type_name(node->type));
			return JG_ERR_PARSE;
		}
		for (i = 0; i < parent->npairs; i++) {
			const struct ytree_node *k = parent->pairs[i].key;

			if (k->len == node->len &&
			    memcmp(k->scalar, node->scalar, k->len) == 0) {
				ytree_quote(q, sizeof(q), node->scalar,
				    node->len < YTREE_QUOTE_MAX ? node->len :
				    YTREE_QUOTE_MAX);
				jg_detail(b->yb_err, b->yb_errlen,
				    "%s:%d:%d: duplicate key '%s' (first "
				    "defined at line %d, column %d)",
				    b->yb_name, node->line, node->column, q,
				    k->line, k->column);
				return JG_ERR_PARSE;
			}
		}
		f->yf_key = node;
		return JG_OK;
	}
	if (ytree_grow((void **)&parent->pairs, parent->npairs,
	    sizeof(*parent->pairs)) == -1)
		return JG_ERR_NOMEM;
	parent->pairs[parent->npairs].key = f->yf_key;
	parent->pairs[parent->npairs].value = node;
	parent->npairs++;
	f->yf_key = NULL;
	return JG_OK;
}

/* Turns libyaml's error into "name:line:column: problem context". */
static void
ytree_parser_error(struct ytree_build *b, const yaml_parser_t *p,
    const char *text, size_t len)
{
	size_t line = p->problem_mark.line, col = p->problem_mark.column;
	size_t i, off;

	if (p->error == YAML_READER_ERROR) {
		/* Encoding errors carry an offset but no mark; count it. */
		off = p->problem_offset < len ? p->problem_offset : len;
		line = col = 0;
		for (i = 0; i < off; i++) {
			if (text[i] == '\n') {
				line++;
				col = 0;
			} else
				col++;
		}
	}
	if (p->error == YAML_MEMORY_ERROR) {
		jg_detail(b->yb_err, b->yb_errlen, "%s: out of memory while "
		    "parsing YAML", b->yb_name);
		return;
	}
	if (p->context != NULL)
		jg_detail(b->yb_err, b->yb_errlen,
		    "%s:%zu:%zu: %s %s that starts at line %zu, column %zu",
		    b->yb_name, line + 1, col + 1,
		    p->problem != NULL ? p->problem : "syntax error",
		    p->context, p->context_mark.line + 1,
		    p->context_mark.column + 1);
	else
		jg_detail(b->yb_err, b->yb_errlen, "%s:%zu:%zu: %s",
		    b->yb_name, line + 1, col + 1,
		    p->problem != NULL ? p->problem : "syntax error");
}

static enum jg_err
ytree_refuse_anchor(struct ytree_build *b, const yaml_event_t *ev,
    const yaml_char_t *anchor)
{
	jg_detail(b->yb_err, b->yb_errlen, "%s:%zu:%zu: YAML %s '%.64s' "
	    "refused: anchors and aliases are not supported (write the "
	    "value out in full)", b->yb_name, ev->start_mark.line + 1,
	    ev->start_mark.column + 1,
	    ev->type == YAML_ALIAS_EVENT ? "alias" : "anchor",
	    (const char *)anchor);
	return JG_ERR_PARSE;
}

/* Handles one event; *done is set at the end of the first document. */
static enum jg_err
ytree_event(struct ytree_build *b, const yaml_event_t *ev, bool *done)
{
	struct ytree_node *n;
	enum jg_err rv;

	switch (ev->type) {
	case YAML_NO_EVENT:
	case YAML_STREAM_START_EVENT:
	case YAML_DOCUMENT_START_EVENT:
		return JG_OK;
	case YAML_STREAM_END_EVENT:
	case YAML_DOCUMENT_END_EVENT:
		*done = true;
		return JG_OK;
	case YAML_ALIAS_EVENT:
		return ytree_refuse_anchor(b, ev, ev->data.alias.anchor);
	case YAML_SCALAR_EVENT:
		if (ev->data.scalar.anchor != NULL)
			return ytree_refuse_anchor(b, ev,
			    ev->data.scalar.anchor);
		if ((n = ytree_node_new(YTREE_SCALAR, &ev->start_mark)) == NULL)
			return JG_ERR_NOMEM;
		n->len = ev->data.scalar.length;
		if ((n->scalar = malloc(n->len + 1)) == NULL) {
			free(n);
			return JG_ERR_NOMEM;
		}
		memcpy(n->scalar, ev->data.scalar.value, n->len);
		n->scalar[n->len] = '\0';
		/* A tag ("!!str 12") says the author typed it on purpose. */
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		    ev->data.scalar.tag == NULL;
		if ((rv = ytree_attach(b, n)) != JG_OK)
			ytree_free(n);
		return rv;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (ev->type == YAML_SEQUENCE_START_EVENT &&
		    ev->data.sequence_start.anchor != NULL)
			return ytree_refuse_anchor(b, ev,
			    ev->data.sequence_start.anchor);
		if (ev->type == YAML_MAPPING_START_EVENT &&
		    ev->data.mapping_start.anchor != NULL)
			return ytree_refuse_anchor(b, ev,
			    ev->data.mapping_start.anchor);
		if (b->yb_depth >= YTREE_MAX_DEPTH) {
			jg_detail(b->yb_err, b->yb_errlen, "%s:%zu:%zu: "
			    "nesting deeper than %d levels refused",
			    b->yb_name, ev->start_mark.line + 1,
			    ev->start_mark.column + 1, YTREE_MAX_DEPTH);
			return JG_ERR_LIMIT;
		}
		n = ytree_node_new(ev->type == YAML_SEQUENCE_START_EVENT ?
		    YTREE_SEQUENCE : YTREE_MAPPING, &ev->start_mark);
		if (n == NULL)
			return JG_ERR_NOMEM;
		if ((rv = ytree_attach(b, n)) != JG_OK) {
			ytree_free(n);
			return rv;
		}
		b->yb_stack[b->yb_depth].yf_node = n;
		b->yb_stack[b->yb_depth].yf_key = NULL;
		b->yb_depth++;
		return JG_OK;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		if (b->yb_depth == 0)
			return JG_ERR_INTERNAL;
		b->yb_depth--;
		return JG_OK;
	}
	return JG_ERR_INTERNAL;
}

enum jg_err
ytree_parse(const char *name, const char *text, size_t len,
    struct ytree_node **root, char *err, size_t errlen)
{
	struct ytree_build b;
	yaml_parser_t parser;
	yaml_event_t ev;
	enum jg_err rv = JG_OK;
	bool done = false;
	size_t i;

	*root = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (text == NULL)
		len = 0;
	if (len > YTREE_MAX_BYTES) {
		jg_detail(err, errlen, "%s: %zu bytes is larger than the "
		    "%u bytes allowed for a YAML document", name, len,
		    (unsigned)YTREE_MAX_BYTES);
		return JG_ERR_LIMIT;
	}
	memset(&b, 0, sizeof(b));
	b.yb_name = name;
	b.yb_err = err;
	b.yb_errlen = errlen;
	if (!yaml_parser_initialize(&parser)) {
		jg_detail(err, errlen, "%s: cannot start the YAML parser",
		    name);
		return JG_ERR_NOMEM;
	}
	/* libyaml asserts on a NULL input even when it is empty. */
	yaml_parser_set_input_string(&parser, text != NULL ?
	    (const unsigned char *)text : (const unsigned char *)"", len);
	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			ytree_parser_error(&b, &parser, text, len);
			rv = parser.error == YAML_MEMORY_ERROR ?
			    JG_ERR_NOMEM : JG_ERR_PARSE;
			break;
		}
		rv = ytree_event(&b, &ev, &done);
		yaml_event_delete(&ev);
		if (rv != JG_OK)
			break;
	}
	yaml_parser_delete(&parser);
	if (rv == JG_ERR_NOMEM && (err == NULL || errlen == 0 ||
	    err[0] == '\0'))
		jg_detail(err, errlen, "%s: out of memory", name);
	if (rv != JG_OK) {
		/* Keys still waiting for a value hang under no node. */
		for (i = 0; i < b.yb_depth; i++)
			ytree_free(b.yb_stack[i].yf_key);
		ytree_free(b.yb_root);
		return rv;
	}
	*root = b.yb_root;
	return JG_OK;
}

enum jg_err
ytree_parse_file(const char *path, struct ytree_node **root, char *err,
    size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0, cap;
	ssize_t n;
	enum jg_err rv;
	int fd;

	*root = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		jg_detail(err, errlen, "%s: cannot read: %s", path,
		    strerror(errno));
		return JG_ERR_IO;
	}
	if (fstat(fd, &st) == -1) {
		jg_detail(err, errlen, "%s: cannot read: %s", path,
		    strerror(errno));
		close(fd);
		return JG_ERR_IO;
	}
	if (!S_ISREG(st.st_mode)) {
		jg_detail(err, errlen, "%s: cannot read: %s", path,
		    S_ISDIR(st.st_mode) ? "is a directory" :
		    "not a regular file");
		close(fd);
		return JG_ERR_IO;
	}
	/* The size may change under us: read to EOF, one byte past the cap. */
	cap = st.st_size > 0 && (uintmax_t)st.st_size < YTREE_MAX_BYTES ?
	    (size_t)st.st_size + 1 : 4096;
	for (;;) {
		if (len == cap || buf == NULL) {
			char *p;

			if (buf != NULL)
				cap = cap * 2 > (size_t)YTREE_MAX_BYTES + 1 ?
				    (size_t)YTREE_MAX_BYTES + 1 : cap * 2;
			if ((p = realloc(buf, cap)) == NULL) {
				free(buf);
				close(fd);
				jg_detail(err, errlen, "%s: out of memory",
				    path);
				return JG_ERR_NOMEM;
			}
			buf = p;
		}
		n = read(fd, buf + len, cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			jg_detail(err, errlen, "%s: cannot read: %s", path,
			    strerror(errno));
			free(buf);
			close(fd);
			return JG_ERR_IO;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > YTREE_MAX_BYTES) {
			jg_detail(err, errlen, "%s: larger than the %u bytes "
			    "allowed for a YAML document", path,
			    (unsigned)YTREE_MAX_BYTES);
			free(buf);
			close(fd);
			return JG_ERR_LIMIT;
		}
	}
	close(fd);
	rv = ytree_parse(path, buf, len, root, err, errlen);
	free(buf);
	return rv;
}

const struct ytree_node *
ytree_get(const struct ytree_node *map, const char *key)
{
	size_t i, klen;

	if (map == NULL || map->type != YTREE_MAPPING || key == NULL)
		return NULL;
	klen = strlen(key);
	for (i = 0; i < map->npairs; i++) {
		const struct ytree_node *k = map->pairs[i].key;

		if (k->len == klen && memcmp(k->scalar, key, klen) == 0)
			return map->pairs[i].value;
	}
	return NULL;
}

bool
ytree_is_null(const struct ytree_node *node)
{
	if (node == NULL || node->type != YTREE_SCALAR || !node->plain)
		return false;
	return node->len == 0 || strcmp(node->scalar, "~") == 0 ||
	    strcmp(node->scalar, "null") == 0 ||
	    strcmp(node->scalar, "Null") == 0 ||
	    strcmp(node->scalar, "NULL") == 0;
}

const char *
ytree_type_name(enum ytree_type type)
{
	switch (type) {
	case YTREE_SCALAR:	return "scalar";
	case YTREE_SEQUENCE:	return "sequence";
	case YTREE_MAPPING:	return "mapping";
	}
	return "unknown";
}
