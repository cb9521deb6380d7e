/*
 * wipe.c - what the libraries free is wiped first (issue 9 case 18).
 *
 * bdekey wipes its own secrets where they live.  The libraries under the
 * AD backend keep copies of their own: the bind password in request
 * buffers, recovery passwords in response buffers.  Measured on Debian 12
 * with an LD_PRELOAD free-scanner (tests/ad/freescan.c): after a simple
 * bind and a --show lookup over ldaps://, the bind password and the
 * recovery password were in 7 freed blocks, among them GnuTLS's 16 KiB
 * record buffers.  What each library offers:
 *
 * - liblber's LBER_OPT_MEMORY_FNS is used only for calls that carry a
 *   memory context; libldap passes none, and liblber then calls plain
 *   free() (liblber memory.c, ber_memfree_x).  Installed anyway (below),
 *   it wipes nothing libldap frees.
 * - Cyrus SASL honours sasl_set_alloc: its security-layer buffers (the
 *   decrypted results of a sealed GSSAPI session) are wiped by it.
 * - GnuTLS allocates through malloc/free; gnutls_global_set_mem_functions
 *   does nothing since 3.3.
 *
 * So this file also replaces free(), realloc() and reallocarray() for
 * the whole process when it is linked in: a block is wiped (its
 * malloc_usable_size) before it goes back to the allocator, and a
 * realloc that moves a block frees the old one through that free.  The
 * next free() in the lookup order (glibc's, or a preloaded one: the
 * test's scanner) gets the block.  Left out of AddressSanitizer builds,
 * whose allocator these would bypass; the lber and SASL wipers run there.
 */
#include "ldap/ad_int.h"

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sasl/sasl.h>

/* AddressSanitizer (gcc and clang) replaces the allocator */
#if defined(__SANITIZE_ADDRESS__)
#define AD_WIPE_PROCESS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define AD_WIPE_PROCESS 0
#endif
#endif
#ifndef AD_WIPE_PROCESS
#define AD_WIPE_PROCESS 1
#endif

/*
 * Below half of a block's size a shrinking realloc moves it (through the
 * wiping free) instead of keeping the whole block.
 */
#define AD_WIPE_SHRINK_MIN 4096

void
ad_wipe_free(void *p)
{
	if (p == NULL)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

void *
ad_wipe_realloc(void *p, size_t n)
{
	size_t old;
	void *np;

	if (p == NULL)
		return malloc(n);
	if (n == 0) {
		ad_wipe_free(p);
		return NULL;
	}
	old = malloc_usable_size(p);
	if (n <= old && (old < AD_WIPE_SHRINK_MIN || n >= old / 2))
		return p;
	/* never let the allocator move a block unwiped: move it here */
	np = malloc(n);
	if (np == NULL)
		return NULL;
	memcpy(np, p, n < old ? n : old);
	ad_wipe_free(p);
	return np;
}

#if AD_WIPE_PROCESS

/* glibc's own free, for the moment before the next one is known */
extern void __libc_free(void *);

static void (*ad_next_free)(void *);
static int ad_next_state;	/* 0 unknown, 1 resolving, 2 known */

/*
 * The free() after ours in the lookup order, found on the first call
 * (dlsym may itself free: those go to glibc's directly).
 */
static void
ad_free_next(void *p)
{
	void *sym;

	if (ad_next_state == 0) {
		ad_next_state = 1;
		sym = dlsym(RTLD_NEXT, "free");
		if (sym != NULL)
			memcpy(&ad_next_free, &sym, sizeof(ad_next_free));
		ad_next_state = 2;
	}
	if (ad_next_state == 2 && ad_next_free != NULL)
		ad_next_free(p);
	else
		__libc_free(p);
}

void
free(void *p)
{
	if (p == NULL)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	ad_free_next(p);
}

void *
realloc(void *p, size_t n)
{
	return ad_wipe_realloc(p, n);
}

void *
reallocarray(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return ad_wipe_realloc(p, n * size);
}

#endif /* AD_WIPE_PROCESS */

/* liblber's allocator interface: the context is never used */
static void *
ad_ber_malloc(ber_len_t n, void *ctx)
{
	(void)ctx;
	return malloc(n);
}

static void *
ad_ber_calloc(ber_len_t n, ber_len_t size, void *ctx)
{
	(void)ctx;
	return calloc(n, size);
}

static void *
ad_ber_realloc(void *p, ber_len_t n, void *ctx)
{
	(void)ctx;
	return ad_wipe_realloc(p, n);
}

static void
ad_ber_free(void *p, void *ctx)
{
	(void)ctx;
	ad_wipe_free(p);
}

static void *
ad_sasl_calloc(size_t n, size_t size)
{
	return calloc(n, size);
}

static void *
ad_sasl_malloc(size_t n)
{
	return malloc(n);
}

int
ad_wipe_install(void)
{
	static BerMemoryFunctions fns = {
		.bmf_malloc = ad_ber_malloc,
		.bmf_calloc = ad_ber_calloc,
		.bmf_realloc = ad_ber_realloc,
		.bmf_free = ad_ber_free,
	};
	int rc = 0;

	/* both must come before the library's first allocation */
	if (ber_set_option(NULL, LBER_OPT_MEMORY_FNS, &fns) !=
	    LBER_OPT_SUCCESS)
		rc = -1;
	sasl_set_alloc(ad_sasl_malloc, ad_sasl_calloc, ad_wipe_realloc,
	    ad_wipe_free);
	return rc;
}
