/*
 * clock.h - monotonic time and bounded waits, shared by every layer that
 * has a deadline (http/, identity/, ldap/).  Every wait a server asks for
 * (Retry-After, a device-code interval) goes through bde_wait_clamp.
 */
#ifndef BDEKEY_CLOCK_H
#define BDEKEY_CLOCK_H

/* Milliseconds on the monotonic clock (not wall time). */
long long bde_now_ms(void);

/* Sleep ms milliseconds (nothing when ms <= 0), resuming after signals. */
void bde_sleep_ms(long long ms);

/*
 * How long to wait, in ms: want_ms clamped to [min_ms, max_ms] and to
 * what is left before deadline_ms (a bde_now_ms() time; 0 = none).
 * Returns -1 when the deadline would pass before the wait ends, so the
 * caller gives up at once instead of sleeping in vain.
 */
long long bde_wait_clamp(long long want_ms, long long min_ms, long long max_ms,
    long long deadline_ms);

#endif
