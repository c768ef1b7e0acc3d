/* wheel: a hashed timer wheel with millisecond resolution for the firings of
 * the next few seconds. Pure (no clock, no I/O): the caller passes the time.
 *
 * JW_WHEEL_SLOTS slots of 1 ms cover the span the scheduler loads ahead
 * (about 4 s); an entry farther away than the span is refused, so every
 * entry in a slot belongs to the current turn. A bitmap of non-empty slots
 * finds the earliest deadline in O(slots/64) without visiting entries, so
 * the loop arms one libevent timer for it and sleeps when nothing is due.
 *
 * Entries are intrusive (embedded in the caller's struct): adding, removing
 * and expiring allocate nothing. */
#ifndef JOBWHEEL_WHEEL_H
#define JOBWHEEL_WHEEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JW_WHEEL_SLOTS 4096 /* a power of two; the span in milliseconds */

struct jw_wheel_entry {
    struct jw_wheel_entry *prev, *next; /* owned by the wheel while queued */
    int64_t when_ms;                    /* deadline, epoch milliseconds */
    bool queued;
};

struct jw_wheel {
    int64_t now_ms; /* the wheel's time: nothing at or before it is queued */
    size_t count;
    struct jw_wheel_entry *slot[JW_WHEEL_SLOTS];
    uint64_t bitmap[JW_WHEEL_SLOTS / 64];
};

void jw_wheel_init(struct jw_wheel *w, int64_t now_ms);

/* Queue e for when_ms. A deadline at or before the wheel's time is due at
 * the next expiry; one at or beyond now_ms + JW_WHEEL_SLOTS is refused
 * (returns -1, e untouched). Re-adding a queued entry moves it. */
int jw_wheel_add(struct jw_wheel *w, struct jw_wheel_entry *e, int64_t when_ms)
    __attribute__((warn_unused_result));
void jw_wheel_remove(struct jw_wheel *w, struct jw_wheel_entry *e);

/* The earliest deadline queued, or -1 when empty. */
int64_t jw_wheel_next(const struct jw_wheel *w);

/* Advance the wheel to now_ms and call fn for every entry whose deadline is
 * at or before it, earliest first (entries of one millisecond in the order
 * they were added). Each entry is unqueued before fn sees it; fn may add or
 * remove any entry, including re-adding the one it was given. Returns how
 * many expired. A now_ms earlier than the wheel's time changes nothing. */
size_t jw_wheel_expire(struct jw_wheel *w, int64_t now_ms, void (*fn)(struct jw_wheel_entry *e, void *arg),
                       void *arg);

#endif
