/*
 * selfservice.h: what the gateway answers by itself when a user logs in as
 * plain USER (`ssh alice@gateway [COMMAND]`):
 *   (no command)   a table of the user's jobs and the commands to connect
 *   jobs           the same data as tab-separated lines, for scripts
 *   jobs --json    the same as JSON
 *   ssh-config [--jump|--direct] [JOB...]
 *                  ready-to-paste Host entries (VSCode reads them)
 *   pubkey         the key direct mode logs in to the user's pods with
 *   help           the list above
 * It builds the reply (stdout, stderr, exit status) and sends nothing.
 * Pure apart from `pubkey`, which may create the user's key file.
 * Any thread.
 */
#ifndef JG_SELFSERVICE_H
#define JG_SELFSERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "route.h"

#define SELFSERVICE_OUT_MAX	(1024 * 1024)	/* bytes per stream */
#define SELFSERVICE_ARGS_MAX	64

struct selfservice_request {
	const char	*sq_user;
	const char	*sq_command;	/* exec command; NULL for a shell */
	const char	*sq_gw_host;	/* gateway host name for commands */
	uint16_t	 sq_gw_port;
	const char	*sq_pod_user;	/* login user inside pods */
	const struct route_snapshot *sq_snap;
	uint64_t	 sq_stale_ms;	/* 0 = route data is current */
	const char	*sq_motd;	/* shown above the table, or NULL */
	const struct config_upstream *sq_upstream; /* for pubkey */
};

struct selfservice_reply {
	char	*sr_out;		/* stdout text, NUL-terminated */
	size_t	 sr_outlen;
	char	*sr_err;		/* stderr text, NUL-terminated */
	size_t	 sr_errlen;
	int	 sr_status;		/* exit status for the channel */
};

/*
 * Answers req into *rep (caller frees with selfservice_reply_free).
 * Returns JG_ERR_NOMEM only when the reply could not be built at all;
 * a bad command is an answer (stderr text, status 2), not an error.
 */
enum jg_err selfservice_answer(const struct selfservice_request *req,
	    struct selfservice_reply *rep);

void	selfservice_reply_free(struct selfservice_reply *rep);

/*
 * Splits a command line into at most max words, honouring single and
 * double quotes and backslash escapes, into buf (a copy).  Returns the
 * number of words, or -1 when the line is malformed (unbalanced quote) or
 * has more words than max.  Exposed for tests.
 */
int	selfservice_split(const char *line, char *buf, size_t buflen,
	    char **argv, int max);

#endif /* JG_SELFSERVICE_H */
