/*
 * audit.c: formats and logs the one line written when a session ends.
 * Values come partly from clients and the cluster, so each is escaped and
 * quoted when it holds spaces or quotes.  Owns nothing; any thread.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "log.h"

#define AUDIT_VALUE_MAX	256

struct audit_buf {
	char	*ab_buf;
	size_t	 ab_len;
	size_t	 ab_off;
};

static void
audit_put(struct audit_buf *b, const char *key, const char *value)
{
	char esc[AUDIT_VALUE_MAX * 4 + 1];
	const char *sep = b->ab_off == 0 ? "" : " ";
	bool quote;
	int n;

	if (value == NULL || *value == '\0')
		value = "-";
	log_escape(esc, sizeof(esc), value, AUDIT_VALUE_MAX);
	quote = strpbrk(esc, " \"=") != NULL;
	if (b->ab_off >= b->ab_len)
		return;
	if (quote) {
		/* log_escape already turned backslashes into \x5c. */
		char q[sizeof(esc) * 2];
		size_t i, o = 0;

		for (i = 0; esc[i] != '\0' && o + 2 < sizeof(q); i++) {
			if (esc[i] == '"')
				q[o++] = '\\';
			q[o++] = esc[i];
		}
		q[o] = '\0';
		n = snprintf(b->ab_buf + b->ab_off, b->ab_len - b->ab_off,
		    "%s%s=\"%s\"", sep, key, q);
	} else
		n = snprintf(b->ab_buf + b->ab_off, b->ab_len - b->ab_off,
		    "%s%s=%s", sep, key, esc);
	if (n > 0)
		b->ab_off += (size_t)n;
}

static void
audit_put_u64(struct audit_buf *b, const char *key, uint64_t v)
{
	char num[24];

	snprintf(num, sizeof(num), "%" PRIu64, v);
	audit_put(b, key, num);
}

char *
audit_format(const struct audit_record *rec, char *buf, size_t len)
{
	struct audit_buf b = { buf, len, 0 };
	char from[AUDIT_VALUE_MAX];

	if (len == 0)
		return buf;
	buf[0] = '\0';
	if (rec->ar_client_addr != NULL)
		snprintf(from, sizeof(from), "%s:%u", rec->ar_client_addr,
		    rec->ar_client_port);
	else
		from[0] = '\0';
	if (len > 12) {
		snprintf(buf, len, "session-end");
		b.ab_off = strlen(buf);
	}
	audit_put_u64(&b, "id", rec->ar_session_id);
	audit_put(&b, "user", rec->ar_user);
	audit_put(&b, "job", rec->ar_job);
	audit_put(&b, "pod", rec->ar_pod);
	audit_put(&b, "endpoint", rec->ar_endpoint);
	audit_put(&b, "mode", rec->ar_mode);
	audit_put(&b, "from", from);
	audit_put_u64(&b, "bytes_up", rec->ar_bytes_up);
	audit_put_u64(&b, "bytes_down", rec->ar_bytes_down);
	audit_put_u64(&b, "duration_ms", rec->ar_duration_ms);
	audit_put(&b, "reason", rec->ar_reason);
	return buf;
}

void
audit_session_end(const struct audit_record *rec)
{
	char line[2048];

	log_info("%s", audit_format(rec, line, sizeof(line)));
}
