/*
 * tty.c - prompts on the controlling terminal (see tty.h).
 *
 * A signal that arrives while echo is off must not leave the terminal
 * without echo: the handlers only note the signal; the reader restores
 * the terminal and the previous handlers, then raises the signal again
 * with its old disposition.  After a stop (SIGTSTP, SIGTTIN, SIGTTOU) and
 * a continue the prompt starts over, as readpassphrase(3) does.
 */
#include "cmd/tty.h"
#include "cmd/cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/select.h>
#include <termios.h>
#include <unistd.h>

static const int tty_signals[] = {
	SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGTSTP, SIGTTIN, SIGTTOU
};
#define NSIGS (sizeof(tty_signals) / sizeof(tty_signals[0]))

static volatile sig_atomic_t tty_caught;

static void
tty_on_signal(int sig)
{
	tty_caught = sig;
}

int
tty_open(int when_stdin)
{
	if (when_stdin && !isatty(STDIN_FILENO)) {
		errno = ENOTTY;
		return -1;
	}
	return open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
}

void
tty_close(int fd)
{
	if (fd >= 0)
		close(fd);
}

/*
 * Catch the signals that end or stop us (the old actions go to old) and
 * block them (the old mask goes to oldmask): they are let in only while
 * pselect waits, so none can slip in between a check and a read.
 */
static void
catch_signals(struct sigaction old[NSIGS], sigset_t *oldmask)
{
	struct sigaction sa;
	sigset_t block;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	sa.sa_handler = tty_on_signal;
	for (i = 0; i < NSIGS; i++) {
		sigaction(tty_signals[i], &sa, &old[i]);
		sigaddset(&block, tty_signals[i]);
	}
	sigprocmask(SIG_BLOCK, &block, oldmask);
}

static void
restore_signals(const struct sigaction old[NSIGS], const sigset_t *oldmask)
{
	size_t i;

	for (i = 0; i < NSIGS; i++)
		sigaction(tty_signals[i], &old[i], NULL);
	sigprocmask(SIG_SETMASK, oldmask, NULL);
}

/*
 * One byte from fd: 1, 0 at end of input, -1 on error or when one of our
 * signals arrived (tty_caught set).  Signals are blocked but while
 * pselect sleeps.
 */
static int
read_byte(int fd, char *c, const sigset_t *waitmask)
{
	fd_set rfds;
	ssize_t r;

	for (;;) {
		if (tty_caught)
			return -1;
		FD_ZERO(&rfds);
		FD_SET(fd, &rfds);
		if (pselect(fd + 1, &rfds, NULL, NULL, NULL, waitmask) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		r = read(fd, c, 1);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		return r < 0 ? -1 : (int)r;
	}
}

/* Whether sig stops the process (then the prompt starts over). */
static int
is_stop(int sig)
{
	return sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

int
tty_read_line(int fd, const char *prompt, char *buf, size_t len, int echo)
{
	struct sigaction old[NSIGS];
	struct termios saved, quiet;
	sigset_t oldmask;
	size_t n;
	char c;
	int sig, quieted, overflow, rc, r;

	if (len == 0)
		return -1;
restart:
	n = 0;
	quieted = 0;
	overflow = 0;
	rc = -1;
	tty_caught = 0;
	catch_signals(old, &oldmask);
	if (!echo && tcgetattr(fd, &saved) == 0) {
		quiet = saved;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		quiet.c_lflag |= ICANON;
		if (tcsetattr(fd, TCSAFLUSH, &quiet) == 0)
			quieted = 1;
	}
	if (write(fd, prompt, strlen(prompt)) < 0)
		goto out;
	for (;;) {
		r = read_byte(fd, &c, &oldmask);
		if (r <= 0)
			goto out;
		if (c == '\n')
			break;
		if (n < len - 1)
			buf[n++] = c;
		else
			overflow = 1;
	}
	/* a password is taken as typed; an answer loses blanks at its end */
	while (echo && n > 0 && (buf[n - 1] == '\r' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	rc = overflow ? -2 : (int)n;
out:
	c = 0;
	if (quieted) {
		tcsetattr(fd, TCSAFLUSH, &saved);
		(void)!write(fd, "\n", 1);
	}
	restore_signals(old, &oldmask);
	if (rc < 0)
		explicit_bzero(buf, len);
	sig = tty_caught;
	if (sig != 0) {
		/* the terminal is ours again: now let the signal do its work */
		kill(getpid(), sig);
		if (is_stop(sig))
			goto restart;
		return -1;
	}
	return rc;
}

char *
tty_ask(int fd, const char *prompt)
{
	char buf[TTY_MAX_LINE];
	char *answer = NULL;
	int r;

	if (fd < 0)
		return NULL;
	fflush(stdout);
	r = tty_read_line(fd, prompt, buf, sizeof(buf), 1);
	if (r == -2)
		cmd_warn("the answer is too long (at most %d characters)",
		    TTY_MAX_LINE - 1);
	if (r >= 0 && (answer = strdup(buf)) == NULL)
		cmd_warn("out of memory");
	explicit_bzero(buf, sizeof(buf));
	return answer;
}

int
tty_confirm(int fd, const char *prompt)
{
	char *a = tty_ask(fd, prompt);
	int yes;

	if (a == NULL)
		return -1;
	yes = strcasecmp(a, "y") == 0 || strcasecmp(a, "yes") == 0;
	free(a);
	return yes;
}

char *
tty_password(const char *prompt)
{
	char buf[TTY_MAX_LINE];
	char *pw = NULL;
	int fd, r;

	fd = tty_open(0);
	if (fd < 0) {
		cmd_warn("cannot open the terminal for a password prompt: %s",
		    strerror(errno));
		return NULL;
	}
	r = tty_read_line(fd, prompt, buf, sizeof(buf), 0);
	if (r == -2)
		cmd_warn("the password is too long (at most %d characters)",
		    TTY_MAX_LINE - 1);
	else if (r <= 0)
		cmd_warn("no password entered");
	else if ((pw = strdup(buf)) == NULL)
		cmd_warn("out of memory");
	explicit_bzero(buf, sizeof(buf));
	tty_close(fd);
	return pw;
}
