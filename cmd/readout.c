/*
 * readout.c - reading a recovery password out over the phone: one block
 * at a time, digits grouped for speaking, waiting for Enter on a terminal.
 */
#include "cmd/cmd.h"
#include "cmd/tty.h"
#include "checksum/checksum.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const digit_words[10] = {
	"zero", "one", "two", "three", "four", "five", "six", "seven",
	"eight", "nine"
};

int
cmd_use_color(void)
{
	const char *nc = getenv("NO_COLOR");

	return isatty(STDOUT_FILENO) && (nc == NULL || *nc == '\0') &&
	    getenv("TERM") != NULL && strcmp(getenv("TERM"), "dumb") != 0;
}

/*
 * Wait for Enter on the terminal; 0, or -1 when the agent typed q (or the
 * terminal went away: then nobody is reading along).
 */
static int
wait_enter(int tty, int next)
{
	char buf[64], prompt[80];
	int r;

	snprintf(prompt, sizeof(prompt),
	    "  [Enter: block %d, q: stop] ", next);
	r = tty_read_line(tty, prompt, buf, sizeof(buf), 1);
	if (r == -1 || (r > 0 && (buf[0] == 'q' || buf[0] == 'Q')))
		return -1;
	return 0;
}

int
cmd_read_out(const struct bde_key *k)
{
	struct ck_password pw;
	struct ck_parse_status st;
	int i, d, tty = -1, color = cmd_use_color(), rc = EXIT_OK;

	if (ck_parse(k->password, strlen(k->password), &pw, &st) !=
	    CK_PARSE_OK) {
		cmd_warn("read-out: the stored password of key %s does not "
		    "parse (%s at position %zu); not reading it out",
		    k->key_id, ck_parse_error_str(st.error), st.position);
		rc = EXIT_BADKEY;
		goto out;
	}
	if (pw.bad_blocks > 0) {
		for (i = 0; i < CK_BLOCKS; i++)
			if (pw.block[i].error != CK_BLOCK_OK)
				cmd_warn("read-out: key %s block %d \"%s\": %s",
				    k->key_id, i + 1, pw.block[i].digits,
				    ck_block_error_str(pw.block[i].error));
		cmd_warn("read-out: the stored password fails its checksum; "
		    "not reading it out (check the other keys of the device)");
		rc = EXIT_BADKEY;
		goto out;
	}
	if (isatty(STDOUT_FILENO))
		tty = tty_open(1);

	printf("key id %s  device %s  (%s)\n", k->key_id,
	    k->device ? cmd_safe(k->device) : "?", k->source);
	printf("checksums ok; read one block at a time, the user types it\n");
	for (i = 0; i < CK_BLOCKS; i++) {
		const char *b = pw.block[i].digits;

		printf("  block %d of 8:  %s%.3s %.3s%s   (", i + 1,
		    color ? "\033[1m" : "", b, b + 3, color ? "\033[0m" : "");
		for (d = 0; d < CK_BLOCK_DIGITS; d++)
			printf("%s%s", d == 3 ? ", " : d ? " " : "",
			    digit_words[b[d] - '0']);
		printf(")\n");
		if (tty >= 0 && i + 1 < CK_BLOCKS) {
			fflush(stdout);
			if (wait_enter(tty, i + 2) < 0) {
				printf("  stopped after block %d\n", i + 1);
				break;
			}
		}
	}
out:
	explicit_bzero(&pw, sizeof(pw));
	tty_close(tty);
	return rc;
}
