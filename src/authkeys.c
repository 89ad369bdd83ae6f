/*
 * authkeys.c: parses OpenSSH authorized_keys text into key entries with
 * their options, and decides whether an entry admits a client key from an
 * address at a time.  It neither reads files nor logs: problems go back as
 * "origin:line: reason" warnings.  Pure functions; any thread.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "authkeys.h"
#include "log.h"

/* OpenSSH's own line limit is 8 KiB too (SSH_MAX_PUBKEY_BYTES area). */
#define AUTHKEYS_LINE_MAX	8192
/* A bound on memory per user, far above any real file. */
#define AUTHKEYS_ENTRIES_MAX	10000
#define AUTHKEYS_PERMITOPEN_MAX	64
/* Longest single pattern in a from= list (OpenSSH uses 1024 too). */
#define AUTHKEYS_PATTERN_MAX	1024
/* Untrusted words quoted in warnings are cut to this many bytes. */
#define AUTHKEYS_QUOTE_MAX	40

/*
 * What jumpgate does with each authorized_keys option, and why.  The
 * gateway never runs a command, allocates a pty for a shell, forwards an
 * agent or X11 to the pod: it only relays direct-tcpip (ssh -J) and its
 * own menu.  Whatever would make sshd restrict a login more than jumpgate
 * can must make the key unusable, never be ignored: a user who wrote
 * command="/bin/false" did not mean "allow jumps".
 */
enum authkeys_opt_action {
	AK_OPT_RESTRICT,	/* everything off until re-enabled below */
	AK_OPT_NO_PORT_FWD,	/* honoured: refuses jumps */
	AK_OPT_PORT_FWD,
	AK_OPT_NO_PTY,		/* honoured: no menu/pty */
	AK_OPT_PTY,
	AK_OPT_NO_AGENT,	/* honoured: no agent use upstream */
	AK_OPT_AGENT,
	AK_OPT_NO_X11,		/* recorded; jumpgate never forwards X11 */
	AK_OPT_X11,
	AK_OPT_FROM,		/* honoured: address patterns */
	AK_OPT_EXPIRY,		/* honoured: UTC deadline */
	AK_OPT_PERMITOPEN,	/* honoured: limits jump targets */
	AK_OPT_HARMLESS,	/* ignoring it grants nothing more */
	AK_OPT_HARMLESS_NOTE,	/* as above, but worth a warning */
	AK_OPT_UNSAFE,		/* cannot honour: key unusable */
};

struct authkeys_option {
	const char	*ao_name;
	bool		 ao_value;	/* takes ="value" */
	enum authkeys_opt_action ao_action;
};

static const struct authkeys_option authkeys_options[] = {
	{ "restrict",		false,	AK_OPT_RESTRICT },
	{ "no-port-forwarding",	false,	AK_OPT_NO_PORT_FWD },
	{ "port-forwarding",	false,	AK_OPT_PORT_FWD },
	{ "no-pty",		false,	AK_OPT_NO_PTY },
	{ "pty",		false,	AK_OPT_PTY },
	{ "no-agent-forwarding", false,	AK_OPT_NO_AGENT },
	{ "agent-forwarding",	false,	AK_OPT_AGENT },
	{ "no-x11-forwarding",	false,	AK_OPT_NO_X11 },
	{ "x11-forwarding",	false,	AK_OPT_X11 },
	{ "from",		true,	AK_OPT_FROM },
	{ "expiry-time",	true,	AK_OPT_EXPIRY },
	{ "permitopen",		true,	AK_OPT_PERMITOPEN },
	/* ~/.ssh/rc is never run: jumpgate starts no session commands. */
	{ "no-user-rc",		false,	AK_OPT_HARMLESS },
	{ "user-rc",		false,	AK_OPT_HARMLESS },
	/* Only relaxes a FIDO check; ignoring it is stricter. */
	{ "no-touch-required",	false,	AK_OPT_HARMLESS },
	/* Limits remote (-R) forwarding, which jumpgate never offers. */
	{ "permitlisten",	true,	AK_OPT_HARMLESS },
	/* No command runs, so no environment and no tun device. */
	{ "environment",	true,	AK_OPT_HARMLESS_NOTE },
	{ "tunnel",		true,	AK_OPT_HARMLESS_NOTE },
	/* Each would restrict the login beyond what jumpgate enforces. */
	{ "command",		true,	AK_OPT_UNSAFE },
	{ "cert-authority",	false,	AK_OPT_UNSAFE },
	{ "principals",		true,	AK_OPT_UNSAFE },
	{ "verify-required",	false,	AK_OPT_UNSAFE },
};

#define AUTHKEYS_NOPTIONS \
	(sizeof(authkeys_options) / sizeof(authkeys_options[0]))

/* Parsing state for one line. */
struct authkeys_line {
	const char	*al_origin;
	size_t		 al_lineno;
	struct jg_errlist *al_warnings;
};

static void
authkeys_warn(const struct authkeys_line *al, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
authkeys_warn(const struct authkeys_line *al, const char *fmt, ...)
{
	char msg[JG_ERRLIST_MSG_MAX];
	va_list ap;

	if (al->al_warnings == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	jg_errlist_add(al->al_warnings, "%s:%zu: %s", al->al_origin,
	    al->al_lineno, msg);
}

static void
authkeys_entry_clear(struct authkeys_entry *e)
{
	size_t i;

	ssh_key_free(e->ak_key);
	free(e->ak_comment);
	free(e->ak_origin);
	free(e->ak_from);
	for (i = 0; i < e->ak_npermitopen; i++)
		free(e->ak_permitopen[i]);
	free(e->ak_permitopen);
	free(e->ak_unusable);
	memset(e, 0, sizeof(*e));
}

static void
authkeys_free(struct authkeys *keys)
{
	size_t i;

	for (i = 0; i < keys->ak_count; i++)
		authkeys_entry_clear(&keys->ak_entries[i]);
	free(keys->ak_entries);
	free(keys);
}

/* Records the first reason the entry may not be used; later ones add
 * nothing a user needs to fix first. */
static enum jg_err
authkeys_set_unusable(struct authkeys_entry *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum jg_err
authkeys_set_unusable(struct authkeys_entry *e, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (e->ak_unusable != NULL)
		return JG_OK;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if ((e->ak_unusable = strdup(msg)) == NULL)
		return JG_ERR_NOMEM;
	return JG_OK;
}

/*
 * Parses expiry-time: YYYYMMDD[HHMM[SS]] with an optional trailing Z.
 * sshd reads it as local time unless Z is given; jumpgate always reads it
 * as UTC, since a gateway's local zone is an accident of its host.
 */
static bool
authkeys_parse_expiry(const char *s, time_t *out)
{
	struct tm tm, check;
	size_t len = strlen(s), i;
	int v[7] = { 0 };
	time_t t;

	if (len > 0 && (s[len - 1] == 'Z' || s[len - 1] == 'z'))
		len--;
	if (len != 8 && len != 12 && len != 14)
		return false;
	for (i = 0; i < len; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	v[0] = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
	    (s[3] - '0');
	for (i = 4; i < len; i += 2)
		v[i / 2 - 1] = (s[i] - '0') * 10 + (s[i + 1] - '0');
	if (v[0] < 1970 || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 ||
	    v[3] > 23 || v[4] > 59 || v[5] > 59)
		return false;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	tm.tm_hour = v[3];
	tm.tm_min = v[4];
	tm.tm_sec = v[5];
	t = timegm(&tm);
	/* timegm normalises 20240230 to March: refuse such dates. */
	if (t == (time_t)-1 || gmtime_r(&t, &check) == NULL ||
	    check.tm_mday != v[2] || check.tm_mon != v[1] - 1)
		return false;
	*out = t;
	return true;
}

/* Splits "host:port" or "[v6]:port"; host and port point into buf. */
static bool
authkeys_split_hostport(char *buf, char **host, char **port)
{
	char *colon;

	if (buf[0] == '[') {
		if ((colon = strchr(buf, ']')) == NULL || colon[1] != ':')
			return false;
		*colon = '\0';
		*host = buf + 1;
		*port = colon + 2;
	} else {
		if ((colon = strrchr(buf, ':')) == NULL)
			return false;
		*colon = '\0';
		*host = buf;
		*port = colon + 1;
	}
	return **host != '\0' && **port != '\0';
}

/* 1..65535, or 0 for "*"; -1 when invalid. */
static long
authkeys_parse_port(const char *s)
{
	char *end;
	long v;

	if (strcmp(s, "*") == 0)
		return 0;
	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > 65535)
		return -1;
	return v;
}

static bool
authkeys_valid_permitopen(const char *value)
{
	char buf[AUTHKEYS_PATTERN_MAX];
	char *host, *port;

	if (strlen(value) >= sizeof(buf))
		return false;
	memcpy(buf, value, strlen(value) + 1);
	if (!authkeys_split_hostport(buf, &host, &port))
		return false;
	return authkeys_parse_port(port) >= 0;
}

static enum jg_err
authkeys_apply_option(const struct authkeys_line *al,
    struct authkeys_entry *e, const struct authkeys_option *opt,
    const char *value)
{
	char quoted[AUTHKEYS_QUOTE_MAX * 4 + 1];
	char **po;
	time_t t;

	switch (opt->ao_action) {
	case AK_OPT_RESTRICT:
		e->ak_port_forwarding = false;
		e->ak_pty = false;
		e->ak_agent_forwarding = false;
		e->ak_x11_forwarding = false;
		return JG_OK;
	case AK_OPT_NO_PORT_FWD:
		e->ak_port_forwarding = false;
		return JG_OK;
	case AK_OPT_PORT_FWD:
		e->ak_port_forwarding = true;
		return JG_OK;
	case AK_OPT_NO_PTY:
		e->ak_pty = false;
		return JG_OK;
	case AK_OPT_PTY:
		e->ak_pty = true;
		return JG_OK;
	case AK_OPT_NO_AGENT:
		e->ak_agent_forwarding = false;
		return JG_OK;
	case AK_OPT_AGENT:
		e->ak_agent_forwarding = true;
		return JG_OK;
	case AK_OPT_NO_X11:
		e->ak_x11_forwarding = false;
		return JG_OK;
	case AK_OPT_X11:
		e->ak_x11_forwarding = true;
		return JG_OK;
	case AK_OPT_FROM:
		/* sshd refuses the line too: which list would it mean? */
		if (e->ak_from != NULL)
			return authkeys_set_unusable(e, "unusable: from= is "
			    "given more than once");
		if ((e->ak_from = strdup(value)) == NULL)
			return JG_ERR_NOMEM;
		return JG_OK;
	case AK_OPT_EXPIRY:
		if (!authkeys_parse_expiry(value, &t)) {
			log_escape(quoted, sizeof(quoted), value,
			    AUTHKEYS_QUOTE_MAX);
			authkeys_warn(al, "invalid expiry-time \"%s\" "
			    "(expected YYYYMMDD[HHMM[SS]])", quoted);
			return authkeys_set_unusable(e, "unusable: invalid "
			    "expiry-time \"%s\"", quoted);
		}
		/* Several: the earliest wins, as in sshd. */
		if (e->ak_expiry == 0 || t < e->ak_expiry)
			e->ak_expiry = t;
		return JG_OK;
	case AK_OPT_PERMITOPEN:
		if (!authkeys_valid_permitopen(value)) {
			log_escape(quoted, sizeof(quoted), value,
			    AUTHKEYS_QUOTE_MAX);
			authkeys_warn(al, "invalid permitopen \"%s\" "
			    "(expected host:port)", quoted);
			return authkeys_set_unusable(e, "unusable: invalid "
			    "permitopen \"%s\"", quoted);
		}
		if (e->ak_npermitopen >= AUTHKEYS_PERMITOPEN_MAX)
			return authkeys_set_unusable(e, "unusable: more than "
			    "%d permitopen options", AUTHKEYS_PERMITOPEN_MAX);
		po = realloc(e->ak_permitopen, (e->ak_npermitopen + 1) *
		    sizeof(*po));
		if (po == NULL)
			return JG_ERR_NOMEM;
		e->ak_permitopen = po;
		if ((po[e->ak_npermitopen] = strdup(value)) == NULL)
			return JG_ERR_NOMEM;
		e->ak_npermitopen++;
		return JG_OK;
	case AK_OPT_HARMLESS:
		return JG_OK;
	case AK_OPT_HARMLESS_NOTE:
		authkeys_warn(al, "option %s= is ignored: jumpgate runs no "
		    "commands", opt->ao_name);
		return JG_OK;
	case AK_OPT_UNSAFE:
		authkeys_warn(al, "key is not usable through jumpgate: %s%s "
		    "cannot be honoured", opt->ao_name,
		    opt->ao_value ? "=" : "");
		return authkeys_set_unusable(e, "restricted by %s%s which "
		    "jumpgate cannot honour", opt->ao_name,
		    opt->ao_value ? "=" : "");
	}
	return JG_ERR_INTERNAL;
}

static const struct authkeys_option *
authkeys_find_option(const char *name)
{
	size_t i;

	for (i = 0; i < AUTHKEYS_NOPTIONS; i++)
		if (strcasecmp(name, authkeys_options[i].ao_name) == 0)
			return &authkeys_options[i];
	return NULL;
}

/*
 * Parses the options field [p, end) as sshd does: name[="value"] items
 * separated by commas, names case-insensitive, values in double quotes
 * with \" for a quote.  The caller has checked that every quote closes.
 * A syntax error makes the entry unusable rather than dropping options
 * silently.
 */
static enum jg_err
authkeys_parse_options(const struct authkeys_line *al,
    struct authkeys_entry *e, const char *p, const char *end)
{
	char name[64], quoted[AUTHKEYS_QUOTE_MAX * 4 + 1];
	char *value;
	const struct authkeys_option *opt;
	size_t nlen, vlen;
	bool has_value;
	enum jg_err rc = JG_OK;

	if ((value = malloc((size_t)(end - p) + 1)) == NULL)
		return JG_ERR_NOMEM;
	while (p < end) {
		nlen = 0;
		while (p + nlen < end && p[nlen] != '=' && p[nlen] != ',')
			nlen++;
		if (nlen == 0 || nlen >= sizeof(name)) {
			log_escape(quoted, sizeof(quoted), p,
			    nlen < AUTHKEYS_QUOTE_MAX ? nlen :
			    AUTHKEYS_QUOTE_MAX);
			authkeys_warn(al, "malformed option '%s'", quoted);
			rc = authkeys_set_unusable(e, "unusable: malformed "
			    "option '%s'", quoted);
			goto out;
		}
		memcpy(name, p, nlen);
		name[nlen] = '\0';
		p += nlen;
		log_escape(quoted, sizeof(quoted), name, AUTHKEYS_QUOTE_MAX);

		vlen = 0;
		has_value = false;
		if (p < end && *p == '=') {
			p++;
			if (p >= end || *p != '"') {
				authkeys_warn(al, "option '%s' needs a quoted "
				    "value", quoted);
				rc = authkeys_set_unusable(e, "unusable: "
				    "option '%s' needs a quoted value",
				    quoted);
				goto out;
			}
			for (p++; p < end && *p != '"'; p++) {
				if (*p == '\\' && p + 1 < end && p[1] == '"')
					p++;
				value[vlen++] = *p;
			}
			if (p < end)
				p++;	/* the closing quote */
			has_value = true;
		}
		value[vlen] = '\0';

		if ((opt = authkeys_find_option(name)) == NULL) {
			authkeys_warn(al, "unknown option '%s'", quoted);
			rc = authkeys_set_unusable(e, "unusable: unknown "
			    "option '%s'", quoted);
		} else if (opt->ao_value && !has_value) {
			authkeys_warn(al, "option '%s' needs a value", quoted);
			rc = authkeys_set_unusable(e, "unusable: option '%s' "
			    "needs a value", quoted);
		} else if (!opt->ao_value && has_value) {
			authkeys_warn(al, "option '%s' takes no value",
			    quoted);
			rc = authkeys_set_unusable(e, "unusable: option '%s' "
			    "takes no value", quoted);
		} else
			rc = authkeys_apply_option(al, e, opt, value);
		if (rc != JG_OK)
			goto out;

		if (p < end && *p != ',') {
			authkeys_warn(al, "malformed options after '%s'",
			    quoted);
			rc = authkeys_set_unusable(e, "unusable: malformed "
			    "options after '%s'", quoted);
			goto out;
		}
		if (p < end)
			p++;
	}
 out:
	free(value);
	return rc;
}

static bool
authkeys_is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Copies the next blank-separated word at *pp into buf; false if none or
 * too long. */
static bool
authkeys_next_word(const char **pp, char *buf, size_t buflen)
{
	const char *p = *pp;
	size_t n = 0;

	while (authkeys_is_space(*p))
		p++;
	while (p[n] != '\0' && !authkeys_is_space(p[n]))
		n++;
	if (n == 0 || n >= buflen)
		return false;
	memcpy(buf, p, n);
	buf[n] = '\0';
	*pp = p + n;
	return true;
}

/* Key types an authorized_keys line may name.  Certificates belong to
 * cert-authority lines (unsupported); DSA is obsolete (OpenSSH 9.8). */
static bool
authkeys_type_supported(enum ssh_keytypes_e type)
{
	switch (type) {
	case SSH_KEYTYPE_ED25519:
	case SSH_KEYTYPE_ECDSA_P256:
	case SSH_KEYTYPE_ECDSA_P384:
	case SSH_KEYTYPE_ECDSA_P521:
	case SSH_KEYTYPE_RSA:
	case SSH_KEYTYPE_SK_ECDSA:
	case SSH_KEYTYPE_SK_ED25519:
		return true;
	case SSH_KEYTYPE_UNKNOWN:
	case SSH_KEYTYPE_DSS:
	case SSH_KEYTYPE_RSA1:
	case SSH_KEYTYPE_ECDSA:
	case SSH_KEYTYPE_DSS_CERT01:
	case SSH_KEYTYPE_RSA_CERT01:
	case SSH_KEYTYPE_ECDSA_P256_CERT01:
	case SSH_KEYTYPE_ECDSA_P384_CERT01:
	case SSH_KEYTYPE_ECDSA_P521_CERT01:
	case SSH_KEYTYPE_ED25519_CERT01:
	case SSH_KEYTYPE_SK_ECDSA_CERT01:
	case SSH_KEYTYPE_SK_ED25519_CERT01:
	default:
		return false;
	}
}

/*
 * Parses one line (NUL-terminated, no newline) into e.  Returns JG_OK
 * with e->ak_key set for a key, JG_OK with e->ak_key NULL for a line that
 * holds no key (blank, comment, or skipped with a warning), or
 * JG_ERR_NOMEM.
 */
static enum jg_err
authkeys_parse_line(const struct authkeys_line *al, const char *line,
    struct authkeys_entry *e)
{
	char word[64], quoted[AUTHKEYS_QUOTE_MAX * 4 + 1];
	char *b64 = NULL;
	const char *p = line, *opt_start = NULL, *opt_end = NULL, *q;
	enum ssh_keytypes_e type;
	enum jg_err rc;
	ssh_key key = NULL;
	size_t n;
	bool inquote;

	memset(e, 0, sizeof(*e));
	while (authkeys_is_space(*p))
		p++;
	if (*p == '\0' || *p == '#')
		return JG_OK;

	q = p;
	word[0] = '\0';
	type = SSH_KEYTYPE_UNKNOWN;
	if (authkeys_next_word(&q, word, sizeof(word)))
		type = ssh_key_type_from_name(word);
	if (type == SSH_KEYTYPE_UNKNOWN) {
		/* Not a key type, so an options field comes first. */
		opt_start = p;
		inquote = false;
		for (; *p != '\0' && (inquote || !authkeys_is_space(*p)); p++) {
			if (*p == '\\' && inquote && p[1] == '"')
				p++;
			else if (*p == '"')
				inquote = !inquote;
		}
		if (inquote) {
			authkeys_warn(al, "unterminated quote in options; "
			    "line skipped");
			return JG_OK;
		}
		opt_end = p;
		/* "ssh-foo AAAA...": name the unknown type, not the key. */
		if (word[0] != '\0' && strpbrk(word, "=,") == NULL &&
		    authkeys_find_option(word) == NULL) {
			log_escape(quoted, sizeof(quoted), word,
			    AUTHKEYS_QUOTE_MAX);
			authkeys_warn(al, "unknown key type '%s'; line "
			    "skipped", quoted);
			return JG_OK;
		}
		if (!authkeys_next_word(&p, word, sizeof(word))) {
			authkeys_warn(al, "no key type after the options; "
			    "line skipped");
			return JG_OK;
		}
		type = ssh_key_type_from_name(word);
	} else
		p = q;

	log_escape(quoted, sizeof(quoted), word, AUTHKEYS_QUOTE_MAX);
	if (type == SSH_KEYTYPE_UNKNOWN) {
		authkeys_warn(al, "unknown key type '%s'; line skipped",
		    quoted);
		return JG_OK;
	}
	if (!authkeys_type_supported(type)) {
		authkeys_warn(al, "key type '%s' is not accepted; line "
		    "skipped", quoted);
		return JG_OK;
	}

	while (authkeys_is_space(*p))
		p++;
	for (n = 0; p[n] != '\0' && !authkeys_is_space(p[n]); n++)
		;
	if (n == 0) {
		authkeys_warn(al, "no key data after '%s'; line skipped",
		    quoted);
		return JG_OK;
	}
	if ((b64 = strndup(p, n)) == NULL)
		return JG_ERR_NOMEM;
	p += n;
	if (ssh_pki_import_pubkey_base64(b64, type, &key) != SSH_OK ||
	    ssh_key_type(key) != type) {
		ssh_key_free(key);
		free(b64);
		authkeys_warn(al, "cannot decode the %s key; line skipped",
		    quoted);
		return JG_OK;
	}
	free(b64);

	e->ak_key = key;
	e->ak_port_forwarding = true;
	e->ak_pty = true;
	e->ak_agent_forwarding = true;
	e->ak_x11_forwarding = true;

	while (authkeys_is_space(*p))
		p++;
	n = strlen(p);
	while (n > 0 && authkeys_is_space(p[n - 1]))
		n--;
	if (n > 0 && (e->ak_comment = strndup(p, n)) == NULL)
		goto nomem;

	if ((size_t)snprintf(word, sizeof(word), ":%zu", al->al_lineno) >=
	    sizeof(word))
		goto nomem;
	n = strlen(al->al_origin) + strlen(word) + 1;
	if ((e->ak_origin = malloc(n)) == NULL)
		goto nomem;
	snprintf(e->ak_origin, n, "%s%s", al->al_origin, word);

	if (opt_start != NULL) {
		rc = authkeys_parse_options(al, e, opt_start, opt_end);
		if (rc != JG_OK) {
			authkeys_entry_clear(e);
			return rc;
		}
	}
	return JG_OK;
 nomem:
	authkeys_entry_clear(e);
	return JG_ERR_NOMEM;
}

static struct authkeys *
authkeys_new(void)
{
	struct authkeys *keys;

	if ((keys = calloc(1, sizeof(*keys))) == NULL)
		return NULL;
	keys->ak_refs = 1;
	return keys;
}

/* Grows keys->ak_entries to hold one more entry. */
static enum jg_err
authkeys_reserve(struct authkeys *keys, size_t *cap)
{
	struct authkeys_entry *n;
	size_t ncap;

	if (keys->ak_count < *cap)
		return JG_OK;
	ncap = *cap == 0 ? 8 : *cap * 2;
	if ((n = reallocarray(keys->ak_entries, ncap, sizeof(*n))) == NULL)
		return JG_ERR_NOMEM;
	keys->ak_entries = n;
	*cap = ncap;
	return JG_OK;
}

enum jg_err
authkeys_parse(const char *text, size_t len, const char *origin,
    struct authkeys **out, struct jg_errlist *warnings)
{
	struct authkeys_line al;
	struct authkeys_entry e;
	struct authkeys *keys;
	const char *nl, *end = text + len, *p = text;
	size_t cap = 0, n;
	enum jg_err rc;

	*out = NULL;
	if ((keys = authkeys_new()) == NULL)
		return JG_ERR_NOMEM;
	al.al_origin = origin;
	al.al_lineno = 0;
	al.al_warnings = warnings;

	while (text != NULL && p < end) {
		char buf[AUTHKEYS_LINE_MAX + 1];

		al.al_lineno++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		n = (size_t)(nl - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n > AUTHKEYS_LINE_MAX) {
			authkeys_warn(&al, "line longer than %d bytes; "
			    "skipped", AUTHKEYS_LINE_MAX);
			p = nl + 1;
			continue;
		}
		if (memchr(p, '\0', n) != NULL) {
			authkeys_warn(&al, "line contains a NUL byte; "
			    "skipped");
			p = nl + 1;
			continue;
		}
		memcpy(buf, p, n);
		buf[n] = '\0';
		p = nl + 1;

		if ((rc = authkeys_parse_line(&al, buf, &e)) != JG_OK)
			goto fail;
		if (e.ak_key == NULL)
			continue;
		if (keys->ak_count >= AUTHKEYS_ENTRIES_MAX) {
			authkeys_entry_clear(&e);
			authkeys_warn(&al, "more than %d keys; the rest are "
			    "ignored", AUTHKEYS_ENTRIES_MAX);
			break;
		}
		if ((rc = authkeys_reserve(keys, &cap)) != JG_OK) {
			authkeys_entry_clear(&e);
			goto fail;
		}
		keys->ak_entries[keys->ak_count++] = e;
	}
	*out = keys;
	return JG_OK;
 fail:
	authkeys_free(keys);
	return rc;
}

static char *
authkeys_strdup_null(const char *s, bool *failed)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*failed = true;
	return d;
}

static enum jg_err
authkeys_entry_copy(struct authkeys_entry *dst,
    const struct authkeys_entry *src)
{
	bool failed = false;
	size_t i;

	memset(dst, 0, sizeof(*dst));
	*dst = *src;
	dst->ak_key = NULL;
	dst->ak_comment = dst->ak_origin = dst->ak_from = NULL;
	dst->ak_unusable = NULL;
	dst->ak_permitopen = NULL;
	dst->ak_npermitopen = 0;

	if ((dst->ak_key = ssh_key_dup(src->ak_key)) == NULL)
		failed = true;
	dst->ak_comment = authkeys_strdup_null(src->ak_comment, &failed);
	dst->ak_origin = authkeys_strdup_null(src->ak_origin, &failed);
	dst->ak_from = authkeys_strdup_null(src->ak_from, &failed);
	dst->ak_unusable = authkeys_strdup_null(src->ak_unusable, &failed);
	if (src->ak_npermitopen > 0) {
		dst->ak_permitopen = calloc(src->ak_npermitopen,
		    sizeof(*dst->ak_permitopen));
		if (dst->ak_permitopen == NULL)
			failed = true;
		for (i = 0; !failed && i < src->ak_npermitopen; i++) {
			dst->ak_permitopen[i] = authkeys_strdup_null(
			    src->ak_permitopen[i], &failed);
			dst->ak_npermitopen = i + 1;
		}
	}
	if (failed) {
		authkeys_entry_clear(dst);
		return JG_ERR_NOMEM;
	}
	return JG_OK;
}

enum jg_err
authkeys_merge(const struct authkeys *a, const struct authkeys *b,
    struct authkeys **out)
{
	const struct authkeys *src[2] = { a, b };
	struct authkeys *keys;
	size_t total = 0, i, j;

	*out = NULL;
	for (i = 0; i < 2; i++)
		if (src[i] != NULL)
			total += src[i]->ak_count;
	if ((keys = authkeys_new()) == NULL)
		return JG_ERR_NOMEM;
	if (total > 0 && (keys->ak_entries = calloc(total,
	    sizeof(*keys->ak_entries))) == NULL) {
		free(keys);
		return JG_ERR_NOMEM;
	}
	for (i = 0; i < 2; i++) {
		if (src[i] == NULL)
			continue;
		for (j = 0; j < src[i]->ak_count; j++) {
			if (authkeys_entry_copy(&keys->ak_entries[
			    keys->ak_count], &src[i]->ak_entries[j]) !=
			    JG_OK) {
				authkeys_free(keys);
				return JG_ERR_NOMEM;
			}
			keys->ak_count++;
		}
	}
	*out = keys;
	return JG_OK;
}

struct authkeys *
authkeys_ref(struct authkeys *keys)
{
	if (keys != NULL)
		__atomic_add_fetch(&keys->ak_refs, 1, __ATOMIC_RELAXED);
	return keys;
}

void
authkeys_unref(struct authkeys *keys)
{
	if (keys == NULL)
		return;
	/* Acquire-release so the last owner sees every earlier write. */
	if (__atomic_sub_fetch(&keys->ak_refs, 1, __ATOMIC_ACQ_REL) == 0)
		authkeys_free(keys);
}

enum jg_err
authkeys_match(const struct authkeys *keys, const ssh_key key,
    const char *client_addr, time_t now,
    const struct authkeys_entry **entry, char *why, size_t whylen)
{
	char addr[64 * 4 + 1], pat[AUTHKEYS_QUOTE_MAX * 4 + 1], stamp[32];
	const struct authkeys_entry *e;
	struct tm tm;
	bool listed = false;
	size_t i;

	*entry = NULL;
	if (keys == NULL || key == NULL)
		goto notfound;
	/*
	 * Like sshd, a listed key refused by one line may still be admitted
	 * by a later line for the same key; the first refusal is reported.
	 */
	for (i = 0; i < keys->ak_count; i++) {
		e = &keys->ak_entries[i];
		if (ssh_key_cmp(e->ak_key, key, SSH_KEY_CMP_PUBLIC) != 0)
			continue;
		if (e->ak_unusable != NULL) {
			if (!listed)
				jg_detail(why, whylen, "key at %s is %s",
				    e->ak_origin, e->ak_unusable);
			listed = true;
			continue;
		}
		if (e->ak_from != NULL && (client_addr == NULL ||
		    !authkeys_match_from(e->ak_from, client_addr))) {
			if (!listed) {
				log_escape(addr, sizeof(addr), client_addr,
				    64);
				log_escape(pat, sizeof(pat), e->ak_from,
				    AUTHKEYS_QUOTE_MAX);
				jg_detail(why, whylen, "key at %s is not "
				    "allowed from %s (from=\"%s\")",
				    e->ak_origin, addr, pat);
			}
			listed = true;
			continue;
		}
		/* Valid through the expiry second itself, as in sshd. */
		if (e->ak_expiry != 0 && now > e->ak_expiry) {
			if (!listed) {
				gmtime_r(&e->ak_expiry, &tm);
				strftime(stamp, sizeof(stamp),
				    "%Y-%m-%d %H:%M:%S UTC", &tm);
				jg_detail(why, whylen, "key at %s expired at "
				    "%s", e->ak_origin, stamp);
			}
			listed = true;
			continue;
		}
		*entry = e;
		return JG_OK;
	}
	if (listed)
		return JG_ERR_DENIED;
 notfound:
	jg_detail(why, whylen, "key not listed");
	return JG_ERR_NOT_FOUND;
}

bool
authkeys_permits_open(const struct authkeys_entry *entry, const char *host,
    uint16_t port)
{
	char buf[AUTHKEYS_PATTERN_MAX];
	char *phost, *pport;
	long want;
	size_t i, len;

	if (entry == NULL || !entry->ak_port_forwarding)
		return false;
	if (entry->ak_npermitopen == 0)
		return true;
	for (i = 0; i < entry->ak_npermitopen; i++) {
		len = strlen(entry->ak_permitopen[i]);
		if (len >= sizeof(buf))
			continue;
		memcpy(buf, entry->ak_permitopen[i], len + 1);
		if (!authkeys_split_hostport(buf, &phost, &pport))
			continue;
		if ((want = authkeys_parse_port(pport)) < 0)
			continue;
		if (want != 0 && want != port)
			continue;
		/* No patterns or name lookups, as in sshd; "*" is any. */
		if (strcmp(phost, "*") == 0 || strcmp(phost, host) == 0)
			return true;
	}
	return false;
}

/* Case-insensitive glob with '*' and '?', as OpenSSH's match_pattern(). */
static bool
authkeys_glob(const char *pat, const char *s)
{
	const char *star = NULL, *resume = NULL;

	while (*s != '\0') {
		if (*pat == '*') {
			star = pat++;
			resume = s;
		} else if (*pat == '?' || (*pat != '\0' &&
		    tolower((unsigned char)*pat) ==
		    tolower((unsigned char)*s))) {
			pat++;
			s++;
		} else if (star != NULL) {
			pat = star + 1;
			s = ++resume;
		} else
			return false;
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0';
}

/*
 * Matches addr against "net/bits".  Returns 1 on a match, 0 when not (or
 * when addr is of the other family), -1 when the pattern is malformed.
 */
static int
authkeys_cidr(const char *pattern, const char *addr)
{
	unsigned char net[16], a[16];
	char buf[64];
	const char *slash;
	char *end;
	long bits;
	size_t n, i, full;
	int af, maxbits;
	unsigned char mask;

	if ((slash = strchr(pattern, '/')) == NULL ||
	    (n = (size_t)(slash - pattern)) == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, pattern, n);
	buf[n] = '\0';
	if (!isdigit((unsigned char)slash[1]))
		return -1;
	errno = 0;
	bits = strtol(slash + 1, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	if (inet_pton(AF_INET, buf, net) == 1) {
		af = AF_INET;
		maxbits = 32;
	} else if (inet_pton(AF_INET6, buf, net) == 1) {
		af = AF_INET6;
		maxbits = 128;
	} else
		return -1;
	if (bits < 0 || bits > maxbits)
		return -1;
	if (inet_pton(af, addr, a) != 1)
		return 0;
	full = (size_t)bits / 8;
	for (i = 0; i < full; i++)
		if (net[i] != a[i])
			return 0;
	if (bits % 8 != 0) {
		mask = (unsigned char)(0xff << (8 - bits % 8));
		if ((net[full] & mask) != (a[full] & mask))
			return 0;
	}
	return 1;
}

/*
 * OpenSSH's from= semantics: any negated match refuses, otherwise at least
 * one positive match is needed.  Only the address text is matched (no DNS):
 * a host-name pattern matches only if it also matches the address text.
 * A malformed CIDR refuses, as sshd's addr_match_list() error does.
 */
bool
authkeys_match_from(const char *patterns, const char *addr)
{
	char item[AUTHKEYS_PATTERN_MAX];
	const char *p, *comma, *pat;
	bool positive = false, neg;
	size_t n;
	int r;

	if (patterns == NULL || addr == NULL || *addr == '\0')
		return false;
	/* A v4 client on a dual-stack socket: match it as v4. */
	if (strncasecmp(addr, "::ffff:", 7) == 0 && strchr(addr + 7, '.') !=
	    NULL)
		addr += 7;

	for (p = patterns; ; p = comma + 1) {
		if ((comma = strchr(p, ',')) == NULL)
			comma = p + strlen(p);
		n = (size_t)(comma - p);
		if (n >= sizeof(item))
			return false;
		memcpy(item, p, n);
		item[n] = '\0';
		neg = item[0] == '!';
		pat = item + (neg ? 1 : 0);
		if (*pat != '\0') {
			if (strchr(pat, '/') != NULL) {
				if ((r = authkeys_cidr(pat, addr)) < 0)
					return false;
			} else
				r = authkeys_glob(pat, addr) ? 1 : 0;
			if (r == 1) {
				if (neg)
					return false;
				positive = true;
			}
		}
		if (*comma == '\0')
			break;
	}
	return positive;
}
