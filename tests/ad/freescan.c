/*
 * freescan.c - an LD_PRELOAD free-scanner for the secret-hygiene tests
 * (issue 9 case 18): every block the process frees is searched for the
 * secrets named in the environment before it goes back to the allocator.
 *
 *   cc -shared -fPIC -o freescan.so tests/ad/freescan.c -ldl
 *   FREESCAN_SECRETS='pw1:pw2' FREESCAN_LOG=/tmp/scan.log \
 *       LD_PRELOAD=$PWD/freescan.so bdekey lookup ... --show
 *
 * FREESCAN_SECRETS is a ':'-separated list of whole strings (8 bytes
 * or more each; shorter ones are ignored).  With FREESCAN_PROG set, only
 * a process of that name scans (not the `env` or `timeout` in front of
 * it).  The log gets one line "HIT <secret#> <block size>" per freed block that
 * still holds a secret, and at exit "freescan: N frees scanned, M bytes,
 * H hits".  A test fails when H > 0, and also when N is 0: then the
 * scanner saw nothing (a program whose own free() does not pass blocks
 * on would make the test pass in vain).
 *
 * free, realloc and reallocarray are intercepted; a realloc that moves
 * a block is done here as malloc + copy + free, so the old block is
 * scanned too (glibc's realloc frees it internally, past any hook).
 * Nothing here allocates: the log is written with write(2).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SECRETS 8

extern void __libc_free(void *);
extern void *__libc_malloc(size_t);

static void (*real_free)(void *);
static const char *secret[MAX_SECRETS];
static size_t secret_len[MAX_SECRETS];
static size_t nsecrets;
static int log_fd = -1;
static int ready, resolving, active;
static unsigned long long frees, bytes, hits;

static void
say(const char *line, size_t n)
{
	if (log_fd >= 0)
		(void)!write(log_fd, line, n);
	else
		(void)!write(2, line, n);
}

static void
setup(void)
{
	static char buf[4096];
	const char *s = getenv("FREESCAN_SECRETS"), *log = getenv("FREESCAN_LOG");
	const char *prog = getenv("FREESCAN_PROG");
	char *p, *q;
	size_t n;

	if (prog != NULL && strcmp(prog, program_invocation_short_name) != 0)
		return;
	active = 1;
	if (log != NULL)
		log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		    0600);
	if (s == NULL || (n = strlen(s)) >= sizeof(buf))
		return;
	memcpy(buf, s, n + 1);
	for (p = buf; p != NULL && nsecrets < MAX_SECRETS; p = q) {
		q = strchr(p, ':');
		if (q != NULL)
			*q++ = '\0';
		if (strlen(p) >= 8) {
			secret[nsecrets] = p;
			secret_len[nsecrets++] = strlen(p);
		}
	}
}

static void
resolve(void)
{
	if (ready || resolving)
		return;
	resolving = 1;
	setup();
	real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
	resolving = 0;
	ready = 1;
}

static void
scan(void *p)
{
	char line[96];
	size_t n, i;
	int len;

	if (p == NULL || !ready)
		return;
	n = malloc_usable_size(p);
	frees++;
	bytes += n;
	for (i = 0; i < nsecrets; i++) {
		if (memmem(p, n, secret[i], secret_len[i]) == NULL)
			continue;
		hits++;
		len = snprintf(line, sizeof(line), "HIT %zu %zu\n", i, n);
		if (len > 0)
			say(line, (size_t)len);
	}
}

void
free(void *p)
{
	resolve();
	scan(p);
	if (real_free != NULL)
		real_free(p);
	else
		__libc_free(p);
}

void *
realloc(void *p, size_t n)
{
	void *np;
	size_t old;

	if (p == NULL)
		return malloc(n);
	if (n == 0) {
		free(p);
		return NULL;
	}
	old = malloc_usable_size(p);
	if (n <= old)
		return p;
	np = malloc(n);
	if (np == NULL)
		return NULL;
	memcpy(np, p, old);
	free(p);
	return np;
}

void *
reallocarray(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		return NULL;
	return realloc(p, n * size);
}

__attribute__((destructor)) static void
report(void)
{
	char line[160];
	int len;

	if (!active)
		return;
	len = snprintf(line, sizeof(line), "freescan: %llu frees scanned, "
	    "%llu bytes, %llu hits\n", frees, bytes, hits);
	if (len > 0)
		say(line, (size_t)len);
}
