/*
 * err.c: the phrase for each enum jg_err, and the bounded error list used
 * by checks that report every problem at once.  Pure functions; any thread.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

/* A switch with no default: -Wswitch-enum flags a code left without text. */
const char *
jg_strerror(enum jg_err err)
{
	switch (err) {
	case JG_OK:			return "success";
	case JG_ERR_NOMEM:		return "out of memory";
	case JG_ERR_IO:			return "input/output error";
	case JG_ERR_CONFIG:		return "invalid configuration";
	case JG_ERR_PARSE:		return "malformed input";
	case JG_ERR_PERM:		return "unsafe permissions";
	case JG_ERR_NOT_FOUND:		return "not found";
	case JG_ERR_AMBIGUOUS:		return "ambiguous name";
	case JG_ERR_DENIED:		return "denied";
	case JG_ERR_NOT_RUNNING:	return "not running";
	case JG_ERR_NO_RULE:		return "no rule for that port";
	case JG_ERR_BAD_NAME:		return "invalid name";
	case JG_ERR_UNREACHABLE:	return "endpoint unreachable";
	case JG_ERR_TIMEOUT:		return "timed out";
	case JG_ERR_LIMIT:		return "limit reached";
	case JG_ERR_SSH:		return "ssh protocol error";
	case JG_ERR_CRYPTO:		return "cryptographic operation failed";
	case JG_ERR_HTTP:		return "http request failed";
	case JG_ERR_RANGE:		return "value out of range";
	case JG_ERR_STALE:		return "route data is stale";
	case JG_ERR_INTERNAL:		return "internal error";
	case JG_ERR_AGAIN:		return "not ready, try again";
	case JG_ERR_MALFORMED:		return "malformed route annotation";
	}
	return "unknown error";
}

void
jg_errlist_init(struct jg_errlist *list)
{
	list->el_count = 0;
}

void
jg_errlist_add(struct jg_errlist *list, const char *fmt, ...)
{
	va_list ap;

	if (list->el_count < JG_ERRLIST_MAX) {
		va_start(ap, fmt);
		vsnprintf(list->el_msg[list->el_count], JG_ERRLIST_MSG_MAX,
		    fmt, ap);
		va_end(ap);
	}
	list->el_count++;
}

void
jg_errlist_print(const struct jg_errlist *list, void *fp)
{
	size_t i, kept;

	kept = list->el_count < JG_ERRLIST_MAX ? list->el_count :
	    JG_ERRLIST_MAX;
	for (i = 0; i < kept; i++)
		fprintf(fp, "%s\n", list->el_msg[i]);
	if (list->el_count > kept)
		fprintf(fp, "(%zu more errors not shown)\n",
		    list->el_count - kept);
}

void
jg_detail(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (buf == NULL || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}
