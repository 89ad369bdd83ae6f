/*
 * direct_prompt.h: the line editor behind direct mode's password
 * passthrough.  The client's terminal is in raw mode while the pod's
 * keyboard-interactive or password prompt is shown on it, so jumpgate
 * does what a tty's line discipline would: collects one answer key by
 * key, echoes only when the prompt asks for it, and knows Enter,
 * backspace and cancel.  Pure helpers, no I/O, no logging.  Any thread.
 */
#ifndef JG_DIRECT_PROMPT_H
#define JG_DIRECT_PROMPT_H

#include <stdbool.h>
#include <stddef.h>

#define DIRECT_PROMPT_MAX	1024	/* bytes of one answer; more dropped */
#define DIRECT_PROMPT_ECHO_MAX	4	/* echo of one key: "\b \b", "\r\n" */

enum direct_prompt_rc {
	DIRECT_PROMPT_MORE = 0,		/* keep feeding keys */
	DIRECT_PROMPT_DONE,		/* Enter: dp_buf holds the answer */
	DIRECT_PROMPT_CANCEL,		/* Ctrl-C or Ctrl-D */
};

/* One answer being typed.  Holds a secret: direct_prompt_wipe() it. */
struct direct_prompt {
	char	 dp_buf[DIRECT_PROMPT_MAX + 1];	/* NUL-terminated */
	size_t	 dp_len;
	bool	 dp_echo;	/* the prompt wants the answer shown */
	bool	 dp_after_cr;	/* a LF right after CR is the same Enter */
};

/* Starts a new answer (wiping the last one); echo as the prompt says. */
void	direct_prompt_start(struct direct_prompt *p, bool echo);

/*
 * Takes one key.  Writes what the terminal should show for it into echo
 * (at most DIRECT_PROMPT_ECHO_MAX bytes, not NUL-terminated) and its
 * length into *echolen.  CR or LF end the answer, BS and DEL take back
 * one character (a whole UTF-8 sequence), Ctrl-U the whole line, Ctrl-C
 * and Ctrl-D cancel; other control bytes are dropped, and so is anything
 * past DIRECT_PROMPT_MAX bytes.
 */
enum direct_prompt_rc direct_prompt_key(struct direct_prompt *p,
	    unsigned char c, char *echo, size_t *echolen);

/* Clears the answer from memory (explicit_bzero). */
void	direct_prompt_wipe(struct direct_prompt *p);

/*
 * Copies text sent by the pod (a prompt, a name, an instruction) into out
 * so that it is safe on the user's raw terminal: a newline becomes CR LF,
 * other control bytes and DEL become '?', at most maxsrc bytes of src are
 * read.  Always NUL-terminates (outlen > 0); returns the length written.
 */
size_t	direct_prompt_sanitize(char *out, size_t outlen, const char *src,
	    size_t maxsrc);

#endif /* JG_DIRECT_PROMPT_H */
