/*
 * clock.c - monotonic time and bounded waits (see clock.h).
 */
#include "core/clock.h"

#include <errno.h>
#include <time.h>

long long
bde_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
bde_sleep_ms(long long ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

long long
bde_wait_clamp(long long want_ms, long long min_ms, long long max_ms,
    long long deadline_ms)
{
	long long w = want_ms, left;

	if (w < min_ms)
		w = min_ms;
	if (w > max_ms)
		w = max_ms;
	if (deadline_ms > 0) {
		left = deadline_ms - bde_now_ms();
		if (left <= w)
			return -1;
	}
	return w;
}
