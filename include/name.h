/*
 * name.h: the login-name grammar, one parser for both places a job is named.
 *   login (SSH user name):   USER | USER+JOB | USER+JOB+POD
 *   jump target (host name): JOB | JOB+POD
 * USER is 1..NAME_USER_MAX of [A-Za-z0-9._-], not starting with '-' or '.'.
 * JOB is 1..NAME_JOB_MAX bytes of printable UTF-8 without '+', '/', '@',
 * or control characters.  POD is a task-index ("worker-1") or a full pod
 * name: 1..NAME_POD_MAX of [a-z0-9.-].  Pure functions; any thread.
 */
#ifndef JG_NAME_H
#define JG_NAME_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define NAME_USER_MAX	32
#define NAME_JOB_MAX	160	/* 40 CJK characters of UTF-8, and more */
#define NAME_POD_MAX	253

struct name_parts {
	char	np_user[NAME_USER_MAX + 1];	/* "" for a jump target */
	char	np_job[NAME_JOB_MAX + 1];	/* "" when not given */
	char	np_pod[NAME_POD_MAX + 1];	/* "" when not given */
};

/* True when user is a valid USER (checked before any key lookup). */
bool	name_user_valid(const char *user);

/* Parses a login.  JG_ERR_BAD_NAME with a sentence in err on failure. */
enum jg_err name_parse_login(const char *login, struct name_parts *out,
	    char *err, size_t errlen);

/* Parses a jump target host.  JG_ERR_BAD_NAME on failure. */
enum jg_err name_parse_target(const char *host, struct name_parts *out,
	    char *err, size_t errlen);

/*
 * Copies at most maxsrc bytes of untrusted text (a name typed by a user or
 * read from the cluster) into dst for a sentence shown to a user.  Valid,
 * printable UTF-8 is kept (display names may be Chinese); control and
 * bidi-override characters and invalid bytes become \xNN.  A cut never
 * splits a character and is marked "...".  dst is always terminated
 * (dstlen >= 4); returns dst.  Unlike log_escape(), non-ASCII survives.
 */
char	*name_escape(char *dst, size_t dstlen, const char *src, size_t maxsrc);

#endif /* JG_NAME_H */
