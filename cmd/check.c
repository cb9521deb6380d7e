/*
 * check.c - `bdekey check`: validate recovery passwords block by block and
 * suggest corrections for mistyped or misheard blocks.
 *
 * Streams: passwords from stdin are handled one line at a time from a
 * fixed buffer, so memory stays constant however long the input.
 */
#include "cmd/cmd.h"
#include "checksum/checksum.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A line longer than this is not a password; it is reported and skipped. */
#define CHECK_MAX_LINE 1024
#define CHECK_READ_SIZE (256 * 1024)
/* Worst case output for one line: JSON with every byte escaped. */
#define CHECK_OUT_SIZE (CHECK_MAX_LINE * 6 + 4096)

struct check_opts {
	int json;
};

static const struct cmd_option check_options[] = {
	OPT_BOOL("json", 'j', "print one JSON object per password (JSON "
	    "Lines)", struct check_opts, json),
	OPT_END
};

static const struct cmd_optgroup check_group = { "options", check_options };
static const struct cmd_optgroup *const check_groups[] = { &check_group, NULL };
static const char *const check_synopsis[] = {
	"[--json] PASSWORD...",
	"[--json] -",
	NULL
};

/* An output line; its size (CHECK_OUT_SIZE) fits the worst case. */
struct line {
	char *p;
	size_t n;
	size_t cap;
};

static void
put(struct line *l, const char *s, size_t n)
{
	memcpy(l->p + l->n, s, n);
	l->n += n;
}

static void
puts_(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

static void
putf(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
putf(struct line *l, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(l->p + l->n, l->cap - l->n, fmt, ap);
	va_end(ap);
	if (r > 0)
		l->n += (size_t)r < l->cap - l->n ? (size_t)r :
		    l->cap - l->n - 1;
}

/* A JSON string; invalid UTF-8 becomes U+FFFD so the output stays JSON. */
static void
put_json_string(struct line *l, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k;
	unsigned cp;

	put(l, "\"", 1);
	while (i < n) {
		unsigned char c = u[i];

		if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };

			put(l, esc, 2);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			putf(l, "\\u%04x", c);
			i++;
		} else if ((k = cmd_utf8_seq(u + i, n - i, &cp)) == 0) {
			puts_(l, "\\ufffd");
			i++;
		} else {
			put(l, s + i, k);
			i += k;
		}
	}
	put(l, "\"", 1);
}

/* The offending character, printable or as \xNN. */
static void
put_char(struct line *l, char c)
{
	if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
		putf(l, "'%c'", c);
	else
		putf(l, "'\\x%02x'", (unsigned char)c);
}

/* A parse failure in words, e.g. "block 2 has 5 digits, expected 6". */
static void
put_parse_error(struct line *l, const struct ck_parse_status *st, size_t len)
{
	switch (st->error) {
	case CK_PARSE_EMPTY:
		puts_(l, "empty password");
		break;
	case CK_PARSE_BAD_CHAR:
		puts_(l, "unexpected character ");
		put_char(l, st->ch);
		putf(l, " at position %zu", st->position);
		break;
	case CK_PARSE_BAD_SEPARATOR:
		putf(l, "misplaced separator '-' at position %zu",
		    st->position);
		break;
	case CK_PARSE_BLOCK_LENGTH:
		putf(l, "block %d has %zu digit%s, expected 6 (position %zu)",
		    st->block, st->count, st->count == 1 ? "" : "s",
		    st->position);
		break;
	case CK_PARSE_BLOCK_COUNT:
		putf(l, "%zu blocks, expected 8", st->count);
		break;
	case CK_PARSE_DIGIT_COUNT:
		putf(l, "%zu digits, expected 48", st->count);
		break;
	case CK_PARSE_TOO_LONG:
		putf(l, "too long (%zu characters)", len);
		break;
	case CK_PARSE_OK:
		break;
	}
}

static void
human_bad_block(struct line *l, int i, const struct ck_block *b)
{
	struct ck_suggestions sg;
	int k;

	putf(l, "block %d \"%s\": %s", i + 1, b->digits,
	    ck_block_error_str(b->error));
	ck_suggest(b->digits, &sg);
	if (sg.count == 0)
		return;
	putf(l, "; did you mean %s?", sg.block[0]);
	if (sg.count > 1) {
		putf(l, " (%d candidates:", sg.count);
		for (k = 0; k < sg.count; k++)
			putf(l, " %s", sg.block[k]);
		puts_(l, ")");
	}
}

static void
json_block(struct line *l, int i, const struct ck_block *b)
{
	struct ck_suggestions sg;
	int k;

	putf(l, "{\"index\":%d,\"digits\":\"%s\",\"valid\":%s,\"error\":", i + 1,
	    b->digits, b->error == CK_BLOCK_OK ? "true" : "false");
	if (b->error == CK_BLOCK_OK) {
		puts_(l, "null,\"suggestions\":[]}");
		return;
	}
	putf(l, "\"%s\",\"suggestions\":[", ck_block_error_str(b->error));
	ck_suggest(b->digits, &sg);
	for (k = 0; k < sg.count; k++)
		putf(l, "%s\"%s\"", k ? "," : "", sg.block[k]);
	puts_(l, "]}");
}

/*
 * Check one password and append its report line to l.  Returns 1 when
 * valid, 0 otherwise.  too_long marks a line cut at CHECK_MAX_LINE.
 */
static int
check_one(struct line *l, const char *s, size_t len, int json, int too_long)
{
	struct ck_password pw;
	struct ck_parse_status st;
	char norm[CK_NORMALIZED_SIZE];
	enum ck_parse_error pe;
	int i, sep = 0;

	if (too_long) {
		pe = CK_PARSE_TOO_LONG;
		memset(&st, 0, sizeof(st));
		st.error = pe;
	} else {
		pe = ck_parse(s, len, &pw, &st);
	}

	if (!json) {
		if (pe == CK_PARSE_OK && pw.bad_blocks == 0) {
			puts_(l, "valid\n");
			return 1;
		}
		puts_(l, "invalid: ");
		if (pe != CK_PARSE_OK) {
			put_parse_error(l, &st, len);
		} else {
			for (i = 0; i < CK_BLOCKS; i++) {
				if (pw.block[i].error == CK_BLOCK_OK)
					continue;
				if (sep++)
					puts_(l, "; ");
				human_bad_block(l, i, &pw.block[i]);
			}
		}
		puts_(l, "\n");
		explicit_bzero(&pw, sizeof(pw));
		return 0;
	}

	puts_(l, "{\"input\":");
	put_json_string(l, s, len);
	if (pe != CK_PARSE_OK) {
		char msg[256];
		struct line m = { msg, 0, sizeof(msg) };

		/* the message quotes the input's character: escape it too */
		put_parse_error(&m, &st, len);
		puts_(l, ",\"valid\":false,\"password\":null,\"error\":");
		put_json_string(l, m.p, m.n);
		putf(l, ",\"position\":%zu,\"blocks\":[]}\n", st.position);
		return 0;
	}
	ck_normalize(&pw, norm);
	putf(l, ",\"valid\":%s,\"password\":\"%s\",\"error\":null,"
	    "\"blocks\":[", pw.bad_blocks == 0 ? "true" : "false", norm);
	for (i = 0; i < CK_BLOCKS; i++) {
		if (i)
			puts_(l, ",");
		json_block(l, i, &pw.block[i]);
	}
	puts_(l, "]}\n");
	i = pw.bad_blocks == 0;
	explicit_bzero(&pw, sizeof(pw));
	explicit_bzero(norm, sizeof(norm));
	return i;
}

static int
emit(struct line *l)
{
	size_t w = fwrite_unlocked(l->p, 1, l->n, stdout);

	explicit_bzero(l->p, l->n);
	l->n = 0;
	return w == 0 && ferror(stdout) ? -1 : 0;
}

/*
 * Read stdin line by line from one fixed buffer.  Returns the exit
 * status: EXIT_OK when every line was valid, EXIT_NOTFOUND when one was
 * not, EXIT_IO on a read or write error.
 */
static int
check_stream(int json, struct line *l)
{
	char *buf = NULL;
	size_t have = 0, start, i;
	int status = EXIT_OK, skipping = 0, eof = 0;
	ssize_t r;

	buf = malloc(CHECK_READ_SIZE);
	if (buf == NULL) {
		cmd_warn("check: out of memory");
		status = EXIT_IO;
		goto out;
	}
	while (!eof) {
		r = read(STDIN_FILENO, buf + have, CHECK_READ_SIZE - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			cmd_warn("check: cannot read standard input: %s",
			    strerror(errno));
			status = EXIT_IO;
			goto out;
		}
		if (r == 0) {
			eof = 1;
			/* a last line without a newline still counts */
			if (have > 0 && buf[have - 1] != '\n')
				buf[have++] = '\n';
		}
		have += (size_t)r;
		start = 0;
		for (i = 0; i < have; i++) {
			size_t len;

			if (buf[i] != '\n')
				continue;
			len = i - start;
			if (skipping) {
				skipping = 0;
			} else {
				if (!check_one(l, buf + start, len, json, 0))
					status = EXIT_NOTFOUND;
				if (emit(l) < 0)
					goto out;
			}
			start = i + 1;
		}
		/* keep the partial line; a huge one is reported and skipped */
		if (have - start > CHECK_MAX_LINE) {
			if (!skipping) {
				check_one(l, buf + start, have - start, json, 1);
				status = EXIT_NOTFOUND;
				if (emit(l) < 0)
					goto out;
			}
			skipping = 1;
			explicit_bzero(buf, have);
			have = 0;
			continue;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
	}
out:
	if (buf != NULL) {
		explicit_bzero(buf, CHECK_READ_SIZE);
		free(buf);
	}
	return status;
}

static int
check_check(struct cmd_ctx *ctx)
{
	int i;

	if (ctx->argc == 0) {
		cmd_warn("check: no password given (use '-' to read them from "
		    "standard input)");
		cmd_print_usage(ctx->cmd, stderr);
		return EXIT_USAGE;
	}
	for (i = 0; i < ctx->argc; i++) {
		if (strcmp(ctx->argv[i], "-") == 0 && ctx->argc > 1) {
			cmd_warn("check: '-' must be the only operand");
			return EXIT_USAGE;
		}
	}
	return EXIT_OK;
}

static int
run_check(struct cmd_ctx *ctx)
{
	const struct check_opts *o = ctx->opts;
	struct line l = { NULL, 0, CHECK_OUT_SIZE };
	int i, status = EXIT_OK;

	l.p = malloc(CHECK_OUT_SIZE);
	if (l.p == NULL) {
		cmd_warn("check: out of memory");
		return EXIT_IO;
	}
	if (strcmp(ctx->argv[0], "-") == 0) {
		status = check_stream(o->json, &l);
	} else {
		for (i = 0; i < ctx->argc; i++) {
			size_t len = strlen(ctx->argv[i]);

			if (!check_one(&l, ctx->argv[i], len, o->json,
			    len > CHECK_MAX_LINE))
				status = EXIT_NOTFOUND;
			if (emit(&l) < 0)
				break;
		}
	}
	explicit_bzero(l.p, CHECK_OUT_SIZE);
	free(l.p);
	return status;
}

const struct cmd cmd_check = {
	.name = "check",
	.summary = "check recovery passwords and suggest corrections",
	.synopsis = check_synopsis,
	.groups = check_groups,
	.flags = CMD_OPERANDS,
	.opts_size = sizeof(struct check_opts),
	.check = check_check,
	.run = run_check,
};
