/*
 * conffile.h - the config file's syntax, apart from what its keys mean:
 *
 *   # comment            ; comment
 *   [section]
 *   key = value          key = "value with blanks at its ends"
 *
 * The parser works on a buffer and does no I/O (it is fuzzed); the
 * reader loads a file, bounded in size, and hands it to the parser.
 */
#ifndef BDEKEY_CONFFILE_H
#define BDEKEY_CONFFILE_H

#include <stddef.h>

/* A config file larger than this is refused. */
#define CONFFILE_MAX_SIZE (256 * 1024)
/* A line longer than this is refused. */
#define CONFFILE_MAX_LINE 4096

/*
 * Called for each section header (key and value NULL) and each key/value
 * pair, in order; line is the line number.  Strings are borrowed for the
 * call.  Returns 0, or -1 with *errstr set to a new message (caller of
 * conffile_parse frees it) saying what is wrong with that line.
 */
typedef int (*conffile_fn)(void *arg, const char *section, const char *key,
    const char *value, int line, char **errstr);

/*
 * Parse len bytes of text (not NUL-terminated; a NUL byte is an error).
 * Returns 0, or -1 with *errstr a new "LINE: message" string (caller
 * frees) for the first bad line or the callback's refusal.
 */
int conffile_parse(const char *text, size_t len, conffile_fn fn, void *arg,
    char **errstr);

/*
 * Read and parse the file at path.  Returns 1 when parsed, 0 when it does
 * not exist and !must_exist, -1 with *errstr a new message naming the
 * file (and line) otherwise.
 */
int conffile_read(const char *path, int must_exist, conffile_fn fn,
    void *arg, char **errstr);

#endif
