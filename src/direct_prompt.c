/*
 * direct_prompt.c: the line editor for direct mode's password
 * passthrough (a raw terminal gets no help from a line discipline) and
 * the cleaning of the pod's prompt text before it reaches that terminal.
 * Owns no I/O; relay_direct.c feeds it keys.  Any thread.
 */
#include <string.h>

#include "direct_prompt.h"

#define DP_CTRL_C	0x03
#define DP_CTRL_D	0x04
#define DP_BS		0x08
#define DP_TAB		0x09
#define DP_LF		0x0a
#define DP_CR		0x0d
#define DP_CTRL_U	0x15
#define DP_DEL		0x7f

void
direct_prompt_start(struct direct_prompt *p, bool echo)
{
	bool after_cr = p->dp_after_cr;

	direct_prompt_wipe(p);
	p->dp_echo = echo;
	p->dp_after_cr = after_cr;
}

void
direct_prompt_wipe(struct direct_prompt *p)
{
	explicit_bzero(p, sizeof(*p));
}

/* Drops the last character: a UTF-8 sequence is one character. */
static void
direct_prompt_rubout(struct direct_prompt *p)
{
	while (p->dp_len > 0) {
		p->dp_len--;
		if (((unsigned char)p->dp_buf[p->dp_len] & 0xc0) != 0x80)
			break;
	}
	p->dp_buf[p->dp_len] = '\0';
}

enum direct_prompt_rc
direct_prompt_key(struct direct_prompt *p, unsigned char c, char *echo,
    size_t *echolen)
{
	bool after_cr = p->dp_after_cr;

	*echolen = 0;
	p->dp_after_cr = false;
	switch (c) {
	case DP_LF:
		/* A terminal not in raw mode sends CR LF for one Enter. */
		if (after_cr && p->dp_len == 0)
			return DIRECT_PROMPT_MORE;
		/* FALLTHROUGH */
	case DP_CR:
		p->dp_after_cr = c == DP_CR;
		memcpy(echo, "\r\n", 2);
		*echolen = 2;
		return DIRECT_PROMPT_DONE;
	case DP_CTRL_C:
	case DP_CTRL_D:
		memcpy(echo, "\r\n", 2);
		*echolen = 2;
		return DIRECT_PROMPT_CANCEL;
	case DP_BS:
	case DP_DEL:
		if (p->dp_len == 0)
			return DIRECT_PROMPT_MORE;
		direct_prompt_rubout(p);
		if (p->dp_echo) {
			memcpy(echo, "\b \b", 3);
			*echolen = 3;
		}
		return DIRECT_PROMPT_MORE;
	case DP_CTRL_U:
		/* Echo-on answers are rare and short: no redraw of the line. */
		explicit_bzero(p->dp_buf, sizeof(p->dp_buf));
		p->dp_len = 0;
		if (p->dp_echo) {
			memcpy(echo, "\r\n", 2);
			*echolen = 2;
		}
		return DIRECT_PROMPT_MORE;
	default:
		break;
	}
	if ((c < 0x20 && c != DP_TAB) || p->dp_len >= DIRECT_PROMPT_MAX)
		return DIRECT_PROMPT_MORE;
	p->dp_buf[p->dp_len++] = (char)c;
	p->dp_buf[p->dp_len] = '\0';
	if (p->dp_echo) {
		echo[0] = (char)c;
		*echolen = 1;
	}
	return DIRECT_PROMPT_MORE;
}

/*
 * Length of the valid UTF-8 sequence at s (at most n bytes), or 0.  C1
 * controls (U+0080..U+009F) count as invalid: terminals act on them.
 */
static size_t
direct_prompt_utf8(const unsigned char *s, size_t n)
{
	unsigned long cp;
	size_t len, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 2 && cp < 0xa0) || (len == 3 && cp < 0x800) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

size_t
direct_prompt_sanitize(char *out, size_t outlen, const char *src,
    size_t maxsrc)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t n, o = 0, i = 0, u;

	if (outlen == 0)
		return 0;
	n = src != NULL ? strnlen(src, maxsrc) : 0;
	while (i < n) {
		if (s[i] == '\n') {
			if (outlen - o < 3)
				break;
			out[o++] = '\r';
			out[o++] = '\n';
			i++;
		} else if (s[i] >= 0x80 &&
		    (u = direct_prompt_utf8(s + i, n - i)) > 0) {
			if (outlen - o < u + 1)
				break;
			memcpy(out + o, s + i, u);
			o += u;
			i += u;
		} else {
			if (outlen - o < 2)
				break;
			out[o++] = (s[i] < 0x20 && s[i] != '\t') ||
			    s[i] >= 0x7f ? '?' : (char)s[i];
			i++;
		}
	}
	out[o] = '\0';
	return o;
}
