/*
 * audit.h: one line per session end, in logfmt (key=value, values with
 * spaces quoted), at INFO, so an admin can grep, ship and parse it:
 *
 *   session-end id=42 user=alice job=jpt-alice-251110-ab12c
 *     pod=crater-workspace/jpt-alice-251110-ab12c-default0-0
 *     endpoint=192.168.5.82:32513 mode=jump from=203.0.113.5:51234
 *     bytes_up=1048576 bytes_down=2048 duration_ms=5123 reason="client closed"
 *
 * bytes_up is client -> pod, bytes_down pod -> client.  Fields with no
 * value (a session that never routed) are written as "-".  Any thread.
 */
#ifndef JG_AUDIT_H
#define JG_AUDIT_H

#include <stddef.h>
#include <stdint.h>

struct audit_record {
	uint64_t	 ar_session_id;
	const char	*ar_user;	/* NULL before authentication */
	const char	*ar_job;
	const char	*ar_pod;	/* "namespace/name" */
	const char	*ar_endpoint;	/* "address:port" */
	const char	*ar_mode;	/* "jump", "direct", "gateway" */
	const char	*ar_client_addr;
	uint16_t	 ar_client_port;
	uint64_t	 ar_bytes_up;
	uint64_t	 ar_bytes_down;
	uint64_t	 ar_duration_ms;
	const char	*ar_reason;
};

/* Formats rec into buf (always terminated); returns buf. */
char	*audit_format(const struct audit_record *rec, char *buf, size_t len);

/* Logs the formatted line at INFO. */
void	audit_session_end(const struct audit_record *rec);

#endif /* JG_AUDIT_H */
