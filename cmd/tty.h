/*
 * tty.h - the one terminal module: password prompts without echo,
 * questions, confirmations, wait-for-Enter.  Everything goes through
 * /dev/tty, never stdout (a question is not data).  Echo is restored on
 * every exit path, SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGTSTP included
 * (OpenBSD's readpassphrase does the same).
 */
#ifndef BDEKEY_TTY_H
#define BDEKEY_TTY_H

#include <stddef.h>

/* The longest line (answer or password) a prompt takes. */
#define TTY_MAX_LINE 512

/*
 * Open the controlling terminal for prompts.  Returns a descriptor, or -1
 * (errno set) when there is none.  when_stdin: only when standard input
 * is a terminal too (a piped run never waits for a person).
 */
int tty_open(int when_stdin);

/* Close a descriptor from tty_open (-1 is fine). */
void tty_close(int fd);

/*
 * Write prompt, read one line into buf (len bytes, NUL-terminated, the
 * newline and trailing blanks removed).  echo 0 turns echo off while
 * reading (a password).  Returns the length, or -1 at end of input or on
 * error, or -2 when the line was longer than len - 1 (the rest of it is
 * read and dropped; buf is wiped).
 */
int tty_read_line(int fd, const char *prompt, char *buf, size_t len,
    int echo);

/*
 * Ask a question; returns a new string (caller frees), or NULL at end of
 * input, on error or when the answer is too long (said on stderr).
 */
char *tty_ask(int fd, const char *prompt);

/* Ask a yes/no question: 1 yes, 0 anything else, -1 no answer. */
int tty_confirm(int fd, const char *prompt);

/*
 * Read a password without echo; returns a new buffer the caller frees with
 * bde_secret_free, or NULL after printing why (empty, too long, no
 * terminal).
 */
char *tty_password(const char *prompt);

#endif
