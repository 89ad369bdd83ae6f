/*
 * name.c: the login grammar (USER[+JOB[+POD]]) and jump-target grammar
 * (JOB[+POD]), and the escaping of untrusted names in user-facing text.
 * It does not look anything up: route.c decides whether a job exists.
 * Pure functions; any thread.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "name.h"

/* Longest login the grammar can accept: USER+JOB+POD. */
#define NAME_LOGIN_MAX	(NAME_USER_MAX + 1 + NAME_JOB_MAX + 1 + NAME_POD_MAX)
/* How much of a rejected name is echoed back: enough to recognise it. */
#define NAME_ECHO_MAX	64
#define NAME_PARTS_MAX	3

struct name_span {
	const char	*ns_ptr;
	size_t		 ns_len;
};

/*
 * Decodes one UTF-8 character at s (len bytes available).  Returns its
 * length and sets *cp, or 0 for an invalid, overlong, surrogate or
 * truncated sequence.
 */
static size_t
name_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	uint32_t c, min;
	size_t n, i;

	if (len == 0)
		return 0;
	c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		c &= 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		c &= 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		c &= 0x07;
		min = 0x10000;
	} else
		return 0;
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/*
 * Characters that could rewrite a user's terminal or reorder the text
 * around them (Trojan Source): C0, DEL, C1, line separators and the bidi
 * embedding/override/isolate controls.
 */
static bool
name_cp_is_control(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) ||
	    cp == 0x2028 || cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) ||
	    (cp >= 0x2066 && cp <= 0x2069);
}

char *
name_escape(char *dst, size_t dstlen, const char *src, size_t maxsrc)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)src;
	size_t i, j, n, o, srclen, need;
	uint32_t cp;
	bool plain, cut;

	if (dstlen == 0)
		return dst;
	dst[0] = '\0';
	if (src == NULL || dstlen < 4)
		return dst;
	srclen = strlen(src);
	o = 0;
	cut = false;
	for (i = 0; i < srclen; i += n) {
		n = name_utf8_decode(s + i, srclen - i, &cp);
		plain = n != 0 && !name_cp_is_control(cp);
		if (n == 0)
			n = 1;
		need = plain ? n : 4 * n;
		/* Keep room for "..." and the NUL whatever comes next. */
		if (i + n > maxsrc || o + need + 4 > dstlen) {
			cut = true;
			break;
		}
		for (j = 0; j < n; j++) {
			if (plain) {
				dst[o++] = (char)s[i + j];
				continue;
			}
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[s[i + j] >> 4];
			dst[o++] = hex[s[i + j] & 0xf];
		}
	}
	if (cut) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
	return dst;
}

/* Escapes a span (not NUL-terminated) for an error sentence. */
static void
name_echo(char *dst, size_t dstlen, const struct name_span *sp)
{
	char tmp[NAME_LOGIN_MAX + 1];
	size_t len;

	len = sp->ns_len < sizeof(tmp) - 1 ? sp->ns_len : sizeof(tmp) - 1;
	memcpy(tmp, sp->ns_ptr, len);
	tmp[len] = '\0';
	name_escape(dst, dstlen, tmp, NAME_ECHO_MAX);
}

/* The one character at p (n bytes), quoted for "has invalid character". */
static void
name_echo_char(char *dst, size_t dstlen, const char *p, size_t n)
{
	struct name_span sp = { p, n };

	name_echo(dst, dstlen, &sp);
}

static bool
name_user_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

static bool
name_pod_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '.' || c == '-';
}

/* Length of the invalid character at p: a whole UTF-8 character if it is
 * one, so the message shows 'é' rather than half of it. */
static size_t
name_char_len(const char *p, size_t avail)
{
	uint32_t cp;
	size_t n;

	n = name_utf8_decode((const unsigned char *)p, avail, &cp);
	return n == 0 ? 1 : n;
}

static enum jg_err
name_check_user(const struct name_span *sp, char *err, size_t errlen)
{
	char echo[NAME_ECHO_MAX * 4 + 8], bad[32];
	size_t i;

	name_echo(echo, sizeof(echo), sp);
	if (sp->ns_len > NAME_USER_MAX) {
		jg_detail(err, errlen, "user name '%s' is longer than %d "
		    "characters", echo, NAME_USER_MAX);
		return JG_ERR_BAD_NAME;
	}
	for (i = 0; i < sp->ns_len; i++) {
		if (!name_user_char_ok((unsigned char)sp->ns_ptr[i])) {
			name_echo_char(bad, sizeof(bad), sp->ns_ptr + i,
			    name_char_len(sp->ns_ptr + i, sp->ns_len - i));
			jg_detail(err, errlen, "user name '%s' has invalid "
			    "character '%s'", echo, bad);
			return JG_ERR_BAD_NAME;
		}
	}
	if (sp->ns_ptr[0] == '-' || sp->ns_ptr[0] == '.') {
		jg_detail(err, errlen, "user name '%s' must not start with "
		    "'%c'", echo, sp->ns_ptr[0]);
		return JG_ERR_BAD_NAME;
	}
	return JG_OK;
}

static enum jg_err
name_check_job(const struct name_span *sp, char *err, size_t errlen)
{
	char echo[NAME_ECHO_MAX * 4 + 8], bad[32];
	const unsigned char *s = (const unsigned char *)sp->ns_ptr;
	size_t i, n;
	uint32_t cp;

	name_echo(echo, sizeof(echo), sp);
	if (sp->ns_len > NAME_JOB_MAX) {
		jg_detail(err, errlen, "job name '%s' is longer than %d bytes",
		    echo, NAME_JOB_MAX);
		return JG_ERR_BAD_NAME;
	}
	for (i = 0; i < sp->ns_len; i += n) {
		n = name_utf8_decode(s + i, sp->ns_len - i, &cp);
		if (n == 0) {
			jg_detail(err, errlen, "job name '%s' is not valid "
			    "UTF-8", echo);
			return JG_ERR_BAD_NAME;
		}
		if (name_cp_is_control(cp) || cp == '/' || cp == '@') {
			name_echo_char(bad, sizeof(bad), sp->ns_ptr + i, n);
			jg_detail(err, errlen, "job name '%s' has invalid "
			    "character '%s'", echo, bad);
			return JG_ERR_BAD_NAME;
		}
	}
	return JG_OK;
}

static enum jg_err
name_check_pod(const struct name_span *sp, char *err, size_t errlen)
{
	char echo[NAME_ECHO_MAX * 4 + 8], bad[32];
	size_t i;

	name_echo(echo, sizeof(echo), sp);
	if (sp->ns_len > NAME_POD_MAX) {
		jg_detail(err, errlen, "pod name '%s' is longer than %d "
		    "characters", echo, NAME_POD_MAX);
		return JG_ERR_BAD_NAME;
	}
	for (i = 0; i < sp->ns_len; i++) {
		if (!name_pod_char_ok((unsigned char)sp->ns_ptr[i])) {
			name_echo_char(bad, sizeof(bad), sp->ns_ptr + i,
			    name_char_len(sp->ns_ptr + i, sp->ns_len - i));
			jg_detail(err, errlen, "pod name '%s' has invalid "
			    "character '%s' (expected a-z, 0-9, '.' or '-')",
			    echo, bad);
			return JG_ERR_BAD_NAME;
		}
	}
	return JG_OK;
}

/*
 * Splits text at '+' into at most NAME_PARTS_MAX spans.  Returns the
 * number of parts found, which may exceed the spans filled.
 */
static size_t
name_split(const char *text, size_t len, struct name_span *parts)
{
	const char *p, *end = text + len, *plus;
	size_t n = 0;

	for (p = text;; p = plus + 1) {
		plus = memchr(p, '+', (size_t)(end - p));
		if (n < NAME_PARTS_MAX) {
			parts[n].ns_ptr = p;
			parts[n].ns_len = plus == NULL ? (size_t)(end - p) :
			    (size_t)(plus - p);
		}
		n++;
		if (plus == NULL)
			return n;
	}
}

static void
name_copy(char *dst, const struct name_span *sp)
{
	memcpy(dst, sp->ns_ptr, sp->ns_len);
	dst[sp->ns_len] = '\0';
}

/*
 * The shared part of both grammars: what is the login or target, and does
 * it start with a user.  On success the spans are checked and copied.
 */
static enum jg_err
name_parse(const char *what, bool with_user, const char *text,
    struct name_parts *out, char *err, size_t errlen)
{
	struct name_span parts[NAME_PARTS_MAX], whole;
	char echo[NAME_ECHO_MAX * 4 + 8];
	const struct name_span *job = NULL, *pod = NULL;
	size_t len, n, maxparts;
	enum jg_err r;

	memset(out, 0, sizeof(*out));
	if (text == NULL || text[0] == '\0') {
		jg_detail(err, errlen, "%s is empty", what);
		return JG_ERR_BAD_NAME;
	}
	len = strnlen(text, NAME_LOGIN_MAX + 1);
	whole.ns_ptr = text;
	whole.ns_len = len;
	name_echo(echo, sizeof(echo), &whole);
	if (len > NAME_LOGIN_MAX) {
		jg_detail(err, errlen, "%s '%s' is longer than %d bytes",
		    what, echo, NAME_LOGIN_MAX);
		return JG_ERR_BAD_NAME;
	}
	maxparts = with_user ? 3 : 2;
	n = name_split(text, len, parts);
	if (n > maxparts) {
		jg_detail(err, errlen, "%s '%s' has too many '+' parts "
		    "(expected %s)", what, echo, with_user ?
		    "USER, USER+JOB or USER+JOB+POD" : "JOB or JOB+POD");
		return JG_ERR_BAD_NAME;
	}
	if (with_user) {
		if (parts[0].ns_len == 0) {
			jg_detail(err, errlen, "%s '%s' has an empty user "
			    "name", what, echo);
			return JG_ERR_BAD_NAME;
		}
		if ((r = name_check_user(&parts[0], err, errlen)) != JG_OK)
			return r;
		name_copy(out->np_user, &parts[0]);
		job = n > 1 ? &parts[1] : NULL;
		pod = n > 2 ? &parts[2] : NULL;
	} else {
		job = &parts[0];
		pod = n > 1 ? &parts[1] : NULL;
	}
	if (job != NULL) {
		if (job->ns_len == 0) {
			jg_detail(err, errlen, "%s '%s' has an empty job name",
			    what, echo);
			return JG_ERR_BAD_NAME;
		}
		if ((r = name_check_job(job, err, errlen)) != JG_OK)
			return r;
		name_copy(out->np_job, job);
	}
	if (pod != NULL) {
		if (pod->ns_len == 0) {
			jg_detail(err, errlen, "%s '%s' has an empty pod name",
			    what, echo);
			return JG_ERR_BAD_NAME;
		}
		if ((r = name_check_pod(pod, err, errlen)) != JG_OK)
			return r;
		name_copy(out->np_pod, pod);
	}
	return JG_OK;
}

bool
name_user_valid(const char *user)
{
	struct name_span sp;

	if (user == NULL || user[0] == '\0')
		return false;
	sp.ns_ptr = user;
	sp.ns_len = strnlen(user, NAME_USER_MAX + 1);
	return name_check_user(&sp, NULL, 0) == JG_OK;
}

enum jg_err
name_parse_login(const char *login, struct name_parts *out, char *err,
    size_t errlen)
{
	enum jg_err r;

	r = name_parse("login", true, login, out, err, errlen);
	if (r != JG_OK)
		memset(out, 0, sizeof(*out));
	return r;
}

enum jg_err
name_parse_target(const char *host, struct name_parts *out, char *err,
    size_t errlen)
{
	enum jg_err r;

	r = name_parse("jump target", false, host, out, err, errlen);
	if (r != JG_OK)
		memset(out, 0, sizeof(*out));
	return r;
}
