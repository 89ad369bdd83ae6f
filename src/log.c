/*
 * log.c: writes log lines to stderr or syslog, filters by level, escapes
 * untrusted strings.  Owns no session state.  Any thread may call it; the
 * level is an atomic so a reload may change it while workers run.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <pthread.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX	2048

static const char *log_progname = "jumpgate";
static enum log_target log_target = LOG_TARGET_STDERR;
static atomic_int log_level = LOG_LEVEL_INFO;
static log_sink_fn log_sink;
static void *log_sink_arg;
static pthread_mutex_t log_sink_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const log_level_names[LOG_LEVEL_MAX] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_VERBOSE] = "verbose",
	[LOG_LEVEL_DEBUG] = "debug",
};

static const int log_syslog_priority[LOG_LEVEL_MAX] = {
	[LOG_LEVEL_ERROR] = LOG_ERR,
	[LOG_LEVEL_WARN] = LOG_WARNING,
	[LOG_LEVEL_INFO] = LOG_INFO,
	[LOG_LEVEL_VERBOSE] = LOG_INFO,
	[LOG_LEVEL_DEBUG] = LOG_DEBUG,
};

void
log_init(const char *progname, enum log_target target, enum log_level level,
    int facility)
{
	log_progname = progname;
	log_target = target;
	atomic_store(&log_level, (int)level);
	if (target == LOG_TARGET_SYSLOG)
		openlog(progname, LOG_PID | LOG_NDELAY, facility);
}

void
log_set_level(enum log_level level)
{
	atomic_store(&log_level, (int)level);
}

enum log_level
log_get_level(void)
{
	return (enum log_level)atomic_load(&log_level);
}

int
log_level_from_name(const char *name)
{
	int i;

	for (i = 0; i < LOG_LEVEL_MAX; i++)
		if (strcasecmp(name, log_level_names[i]) == 0)
			return i;
	return -1;
}

const char *
log_level_name(enum log_level level)
{
	if ((int)level < 0 || level >= LOG_LEVEL_MAX)
		return "unknown";
	return log_level_names[level];
}

void
log_set_sink(log_sink_fn sink, void *arg)
{
	pthread_mutex_lock(&log_sink_lock);
	log_sink = sink;
	log_sink_arg = arg;
	pthread_mutex_unlock(&log_sink_lock);
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	char stamp[32];
	struct timespec ts;
	struct tm tm;
	va_list ap;

	if ((int)level > atomic_load(&log_level))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);

	if (log_target == LOG_TARGET_SYSLOG) {
		syslog(log_syslog_priority[level], "%s", line);
	} else {
		/*
		 * One fprintf per line: stdio locks the stream for the call,
		 * so lines from different threads never interleave.
		 */
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		/*
		 * "<time> jumpgate[pid]: <text>" like syslog, so tools that
		 * parse sshd's syslog lines also parse our stderr.  Levels
		 * other than info name themselves in the text.
		 */
		fprintf(stderr, "%s.%03ldZ %s[%ld]: %s%s%s\n", stamp,
		    ts.tv_nsec / 1000000, log_progname, (long)getpid(),
		    level == LOG_LEVEL_INFO ? "" : log_level_names[level],
		    level == LOG_LEVEL_INFO ? "" : ": ", line);
	}

	pthread_mutex_lock(&log_sink_lock);
	if (log_sink != NULL)
		log_sink(level, line, log_sink_arg);
	pthread_mutex_unlock(&log_sink_lock);
}

char *
log_escape(char *dst, size_t dstlen, const char *src, size_t maxsrc)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;
	unsigned char c;

	if (dstlen == 0)
		return dst;
	for (i = 0; src != NULL && i < maxsrc && src[i] != '\0'; i++) {
		c = (unsigned char)src[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 >= dstlen)
				break;
			dst[o++] = (char)c;
		} else {
			if (o + 4 >= dstlen)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 0xf];
		}
	}
	dst[o] = '\0';
	return dst;
}
