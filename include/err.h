/*
 * err.h: jumpgate's one error space.  Every module returns an enum jg_err
 * (0 is success, errors are negative) and, where the caller needs the story,
 * fills a caller-owned detail buffer.  jg_strerror() names each code.
 * Values are never renumbered or reused: logs and tests may quote them.
 *
 * struct jg_errlist collects many messages so that a check (`jumpgate -t`,
 * a config load) can report every problem at once rather than the first.
 */
#ifndef JG_ERR_H
#define JG_ERR_H

#include <stddef.h>

enum jg_err {
	JG_OK = 0,
	JG_ERR_NOMEM = -1,		/* an allocation failed */
	JG_ERR_IO = -2,			/* a file or socket operation failed */
	JG_ERR_CONFIG = -3,		/* the configuration is invalid */
	JG_ERR_PARSE = -4,		/* malformed input (YAML, JSON, key...) */
	JG_ERR_PERM = -5,		/* unsafe file ownership or mode */
	JG_ERR_NOT_FOUND = -6,		/* no such user, job, pod or file */
	JG_ERR_AMBIGUOUS = -7,		/* a name matches several jobs */
	JG_ERR_DENIED = -8,		/* policy refuses the request */
	JG_ERR_NOT_RUNNING = -9,	/* the pod exists but is not Running */
	JG_ERR_NO_RULE = -10,		/* the pod has no rule for that port */
	JG_ERR_BAD_NAME = -11,		/* a user/job/pod name is not valid */
	JG_ERR_UNREACHABLE = -12,	/* the endpoint refused or is down */
	JG_ERR_TIMEOUT = -13,		/* a deadline passed */
	JG_ERR_LIMIT = -14,		/* a configured limit was reached */
	JG_ERR_SSH = -15,		/* libssh reported a failure */
	JG_ERR_CRYPTO = -16,		/* key generation or signing failed */
	JG_ERR_HTTP = -17,		/* an HTTP exchange failed */
	JG_ERR_RANGE = -18,		/* a number is out of its allowed range */
	JG_ERR_STALE = -19,		/* route data is older than allowed */
	JG_ERR_INTERNAL = -20,		/* a bug: an invariant did not hold */
	JG_ERR_AGAIN = -21,		/* not ready yet; try again later */
	JG_ERR_MALFORMED = -22,		/* the route's annotation is malformed */
};

/* Returns a static, human-readable phrase for err.  Never NULL. */
const char *jg_strerror(enum jg_err err);

/*
 * A bounded list of error messages.  Adding past JG_ERRLIST_MAX keeps the
 * count but drops the text, and jg_errlist_print() says how many were
 * dropped.  Not thread-safe: one owner at a time.
 */
#define JG_ERRLIST_MAX		64
#define JG_ERRLIST_MSG_MAX	512

struct jg_errlist {
	size_t	el_count;			/* messages added, kept or not */
	char	el_msg[JG_ERRLIST_MAX][JG_ERRLIST_MSG_MAX];
};

void	jg_errlist_init(struct jg_errlist *list);
void	jg_errlist_add(struct jg_errlist *list, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Writes each message on its own line to fp (a FILE *). */
void	jg_errlist_print(const struct jg_errlist *list, void *fp);

/* Copies a printf-formatted message into buf (always terminated). */
void	jg_detail(char *buf, size_t len, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

#endif /* JG_ERR_H */
