/*
 * admission.h: who may start a connection and who may hold a session.
 * Decides before anything is allocated for a connection: MaxStartups-style
 * random early drop of unauthenticated connections, a penalty box for
 * sources with repeated failed logins, and the caps on authenticated
 * sessions in total and per user.  Counters are shared by all workers;
 * every function is thread-safe and never blocks for long (a mutex around
 * a bounded table).
 */
#ifndef JG_ADMISSION_H
#define JG_ADMISSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"

#define ADMISSION_SOURCES_MAX	65536	/* penalty table entries */

struct admission;

struct admission *admission_new(const struct config_limits *limits);
void	admission_free(struct admission *adm);		/* NULL is a no-op */
/* Takes new limits (reload); counters are kept. */
void	admission_set_limits(struct admission *adm,
	    const struct config_limits *limits);

/*
 * Called for each accepted connection from addr.  JG_OK: counted as an
 * unauthenticated startup; the caller must later call
 * admission_startup_done() exactly once.  JG_ERR_LIMIT: drop it (past
 * max_startups, the random early drop picked it); JG_ERR_DENIED: the source
 * is in the penalty box, or already has max_startups_per_source
 * connections pending.  why gets sshd-style text for the log.
 */
enum jg_err admission_startup_begin(struct admission *adm, const char *addr,
	    char *why, size_t whylen);
/* addr: the same address as at begin. */
void	admission_startup_done(struct admission *adm, const char *addr);
size_t	admission_startups(const struct admission *adm);

/* Records a failed authentication from addr; enough of them in a row put
 * the source in the penalty box for penalty_duration_s. */
void	admission_auth_failed(struct admission *adm, const char *addr);
/* A success clears addr's failure count. */
void	admission_auth_succeeded(struct admission *adm, const char *addr);

/*
 * Claims one authenticated session for user.  JG_ERR_LIMIT with a
 * sentence for the user in why when max_sessions or
 * max_sessions_per_user would be exceeded.  Release with
 * admission_session_end() (same user string content).
 */
enum jg_err admission_session_begin(struct admission *adm, const char *user,
	    char *why, size_t whylen);
void	admission_session_end(struct admission *adm, const char *user);
size_t	admission_sessions(const struct admission *adm);

#endif /* JG_ADMISSION_H */
