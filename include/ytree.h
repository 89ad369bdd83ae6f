/*
 * ytree.h: a YAML document as a tree of nodes that remember where they
 * were written (line and column), built with libyaml.  The config loader,
 * the static route file and kubeconfig all read YAML through it, so every
 * one of their errors can name file:line:column.  Aliases and anchors are
 * refused (they can multiply a small file into a huge tree); documents are
 * bounded in size and depth.  Pure functions; any thread.
 */
#ifndef JG_YTREE_H
#define JG_YTREE_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define YTREE_MAX_BYTES		(64u * 1024 * 1024)	/* whole document */
#define YTREE_MAX_DEPTH		64

enum ytree_type {
	YTREE_SCALAR = 0,
	YTREE_SEQUENCE,
	YTREE_MAPPING,
};

struct ytree_node;

struct ytree_pair {
	struct ytree_node *key;		/* always a scalar */
	struct ytree_node *value;
};

struct ytree_node {
	enum ytree_type	 type;
	int		 line;		/* 1-based */
	int		 column;	/* 1-based */
	/* scalar */
	char		*scalar;	/* NUL-terminated; may contain NULs */
	size_t		 len;
	bool		 plain;		/* unquoted (so ~, null, 12 are typed) */
	/* sequence */
	struct ytree_node **items;
	size_t		 nitems;
	/* mapping, in document order; duplicate keys are a parse error */
	struct ytree_pair *pairs;
	size_t		 npairs;
};

/*
 * Parses the first document of text.  name is used in messages.  On error
 * returns JG_ERR_PARSE (or JG_ERR_NOMEM, JG_ERR_LIMIT) and writes
 * "name:line:column: what is wrong" into err.  An empty document yields
 * JG_OK with *root NULL.
 */
enum jg_err ytree_parse(const char *name, const char *text, size_t len,
	    struct ytree_node **root, char *err, size_t errlen);

/* Reads path (at most YTREE_MAX_BYTES) and parses it.  JG_ERR_IO with
 * "path: reason" in err when the file cannot be read. */
enum jg_err ytree_parse_file(const char *path, struct ytree_node **root,
	    char *err, size_t errlen);

void	ytree_free(struct ytree_node *node);	/* NULL is a no-op */

/* The value for key in a mapping, or NULL (also when node is not one). */
const struct ytree_node *ytree_get(const struct ytree_node *map,
	    const char *key);

/* True for a plain scalar that YAML 1.1/1.2 reads as null: "", ~, null. */
bool	ytree_is_null(const struct ytree_node *node);

/* "scalar", "sequence", "mapping" */
const char *ytree_type_name(enum ytree_type type);

#endif /* JG_YTREE_H */
