/*
 * log.h: the daemon's log.  Lines go to stderr in the foreground (-d) and to
 * syslog otherwise.  Authentication events use OpenSSH sshd's sentences so
 * that fail2ban and SIEM rules written for sshd match them unchanged.
 * Any thread may log; each line is written whole.
 */
#ifndef JG_LOG_H
#define JG_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,	/* the daemon or a session cannot go on */
	LOG_LEVEL_WARN,		/* something is wrong but we carry on */
	LOG_LEVEL_INFO,		/* auth results, refusals, session ends */
	LOG_LEVEL_VERBOSE,	/* per-connection detail */
	LOG_LEVEL_DEBUG,	/* internals, for developers */
	LOG_LEVEL_MAX
};

enum log_target {
	LOG_TARGET_STDERR = 0,
	LOG_TARGET_SYSLOG,
};

/*
 * Sets where lines go.  progname is kept (not copied): pass a string that
 * lives for the whole run.  facility is a syslog LOG_* facility value.
 * Call before threads start; later calls are only safe from the main thread
 * while workers are idle (a reload changes the level atomically).
 */
void	log_init(const char *progname, enum log_target target,
	    enum log_level level, int facility);
void	log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Parses "error", "warn", "info", "verbose", "debug"; -1 if unknown. */
int	log_level_from_name(const char *name);
const char *log_level_name(enum log_level level);

/*
 * Tests may capture lines: when set, every line (after filtering by level)
 * is also handed to sink.  NULL removes it.
 */
typedef void (*log_sink_fn)(enum log_level level, const char *line,
    void *arg);
void	log_set_sink(log_sink_fn sink, void *arg);

void	log_msg(enum log_level level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#define log_error(...)		log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)		log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)		log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_verbose(...)	log_msg(LOG_LEVEL_VERBOSE, __VA_ARGS__)
/* Debug lines carry the function name, as OpenSSH's debug_f() does. */
#define log_debug(fmt, ...) \
	log_msg(LOG_LEVEL_DEBUG, "%s: " fmt, __func__, ##__VA_ARGS__)

/*
 * Copies at most maxsrc bytes of untrusted src into dst for logging:
 * printable ASCII is kept, anything else becomes \xNN (like strnvis).
 * dst is always terminated; returns dst.
 */
char	*log_escape(char *dst, size_t dstlen, const char *src, size_t maxsrc);

#endif /* JG_LOG_H */
