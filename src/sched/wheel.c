/* wheel: the timer wheel that orders the firings of the next few seconds; owns
 * the slot lists and the bitmap of its struct jw_wheel, never the entries. */
#include "jobwheel/wheel.h"

#include <string.h>

#define WHEEL_MASK ((uint64_t)JW_WHEEL_SLOTS - 1)
#define WHEEL_WORDS (JW_WHEEL_SLOTS / 64)

_Static_assert(JW_WHEEL_SLOTS >= 64 && (JW_WHEEL_SLOTS & (JW_WHEEL_SLOTS - 1)) == 0,
               "JW_WHEEL_SLOTS must be a power of two of at least 64");

/* Where entries live.
 *
 * Slot i holds the entries whose deadline t satisfies t & WHEEL_MASK == i, as
 * a circular doubly linked list: w->slot[i] is the head, head->prev the tail,
 * so appending is O(1) and unlinking needs no head except to move it. Since
 * nothing at or beyond now_ms + JW_WHEEL_SLOTS is accepted, a slot other than
 * the slot of now_ms holds exactly one deadline: appending at the tail keeps
 * it in insertion order. The slot of now_ms holds the late entries, those
 * added with a deadline at or before now_ms; they are kept sorted by
 * deadline, ties in insertion order, by inserting from the tail (O(1) when
 * they arrive in deadline order, as a loader reading a sorted set does). So a
 * queued entry is always in the slot of max(when_ms, now_ms), every list is
 * in (deadline, insertion) order, and the head of the first non-empty slot
 * from now_ms holds the earliest deadline.
 *
 * Bit i of the bitmap is set exactly when slot i is non-empty.
 *
 * Times are compared as int64_t and their differences taken as uint64_t, so
 * deadlines near INT64_MIN or INT64_MAX neither overflow nor wrap wrongly.
 *
 * Entries start zeroed (queued false) and the wheel never reads an unqueued
 * entry's links: it sets them to NULL when it lets go of an entry. */

static size_t slot_index(int64_t t)
{
    return (size_t)((uint64_t)t & WHEEL_MASK);
}

static size_t slot_of(const struct jw_wheel *w, const struct jw_wheel_entry *e)
{
    return slot_index(e->when_ms > w->now_ms ? e->when_ms : w->now_ms);
}

static void bit_set(struct jw_wheel *w, size_t i)
{
    w->bitmap[i / 64] |= UINT64_C(1) << (i % 64);
}

static void bit_clear(struct jw_wheel *w, size_t i)
{
    w->bitmap[i / 64] &= ~(UINT64_C(1) << (i % 64));
}

/* The distance (0..limit) from slot `from` around the ring to the first
 * non-empty slot, or -1 when there is none that close. Visits at most
 * WHEEL_WORDS + 1 words and no entry. */
static int64_t scan(const struct jw_wheel *w, size_t from, uint64_t limit)
{
    size_t word = from / 64;
    uint64_t bits = w->bitmap[word] & (~UINT64_C(0) << (from % 64));
    /* the last round reads the first word again, for the bits below from */
    for (size_t n = 0; n <= WHEEL_WORDS; n++) {
        if (bits) {
            uint64_t i = (uint64_t)word * 64 + (uint64_t)__builtin_ctzll(bits);
            uint64_t dist = (i - from) & WHEEL_MASK;
            return dist <= limit ? (int64_t)dist : -1;
        }
        /* distance to the start of the next word; beyond limit, stop early */
        if ((((uint64_t)(word + 1) * 64 - from) & WHEEL_MASK) > limit)
            return -1;
        word = (word + 1) % WHEEL_WORDS;
        bits = w->bitmap[word];
    }
    return -1;
}

static void link_after(struct jw_wheel_entry *p, struct jw_wheel_entry *e)
{
    e->prev = p;
    e->next = p->next;
    p->next->prev = e;
    p->next = e;
}

void jw_wheel_init(struct jw_wheel *w, int64_t now_ms)
{
    memset(w, 0, sizeof(*w));
    w->now_ms = now_ms;
}

void jw_wheel_remove(struct jw_wheel *w, struct jw_wheel_entry *e)
{
    if (!e->queued)
        return;
    /* An entry taken by a running jw_wheel_expire is on that call's private
     * list, never the head of its slot: only the unlinking below applies. */
    size_t i = slot_of(w, e);
    if (w->slot[i] == e) {
        w->slot[i] = e->next == e ? NULL : e->next;
        if (!w->slot[i])
            bit_clear(w, i);
    }
    e->prev->next = e->next;
    e->next->prev = e->prev;
    e->prev = e->next = NULL;
    e->queued = false;
    w->count--;
}

int jw_wheel_add(struct jw_wheel *w, struct jw_wheel_entry *e, int64_t when_ms)
{
    if (when_ms > w->now_ms && (uint64_t)when_ms - (uint64_t)w->now_ms >= JW_WHEEL_SLOTS)
        return -1;
    jw_wheel_remove(w, e);
    e->when_ms = when_ms;
    size_t i = slot_of(w, e);
    struct jw_wheel_entry *head = w->slot[i];
    if (!head) {
        e->prev = e->next = e;
        w->slot[i] = e;
        bit_set(w, i);
    } else {
        /* walk back from the tail past later deadlines: only late entries
         * arriving out of deadline order take a step */
        struct jw_wheel_entry *p = head->prev;
        while (p->when_ms > when_ms && p != head)
            p = p->prev;
        if (p->when_ms > when_ms) {
            link_after(head->prev, e); /* before the head, then made head */
            w->slot[i] = e;
        } else {
            link_after(p, e);
        }
    }
    e->queued = true;
    w->count++;
    return 0;
}

int64_t jw_wheel_next(const struct jw_wheel *w)
{
    if (w->count == 0)
        return -1;
    size_t from = slot_index(w->now_ms);
    int64_t dist = scan(w, from, WHEEL_MASK);
    if (dist < 0)
        return -1; /* only entries taken by a running expiry remain */
    return w->slot[(from + (size_t)dist) & WHEEL_MASK]->when_ms;
}

/* Expiring takes the due entries first, then calls fn.
 *
 * The due slots, from the slot of the old now_ms up to now_ms (at most one
 * turn, however far time jumped), are spliced whole onto a private list in
 * time order, which is deadline order; then the wheel's time becomes now_ms;
 * then fn is called for each entry as it is unlinked from that list. So:
 *  - expiring visits at most JW_WHEEL_SLOTS slots, reads each bitmap word
 *    about once (plus once per due slot), and touches each due entry once;
 *  - during fn the wheel's time is already now_ms: fn may add up to
 *    now_ms + JW_WHEEL_SLOTS - 1, and an entry fn adds (or re-adds) with a
 *    deadline at or before now_ms is late, due at the NEXT call (so an fn
 *    that re-adds its entry for "now" cannot keep this call from returning;
 *    jw_wheel_next reports the late deadline, and the caller expires again);
 *  - fn may remove an entry still waiting on the private list (it stays
 *    queued until its turn), and then it is not called for it;
 *  - jw_wheel_next called from fn does not see the entries still waiting on
 *    the private list (they are due now anyway); count does include them. */
size_t jw_wheel_expire(struct jw_wheel *w, int64_t now_ms, void (*fn)(struct jw_wheel_entry *e, void *arg),
                       void *arg)
{
    if (now_ms < w->now_ms)
        return 0;
    struct jw_wheel_entry due = {.prev = &due, .next = &due}; /* the private list's sentinel */
    size_t from = slot_index(w->now_ms);
    uint64_t span = (uint64_t)now_ms - (uint64_t)w->now_ms;
    if (span > WHEEL_MASK)
        span = WHEEL_MASK; /* one turn covers every queued entry */
    uint64_t done = 0;     /* distance from `from` of the last slot taken */
    int64_t dist;
    while ((dist = scan(w, (from + done) & WHEEL_MASK, span - done)) >= 0) {
        done += (uint64_t)dist;
        size_t i = (from + done) & WHEEL_MASK;
        struct jw_wheel_entry *head = w->slot[i], *tail = head->prev;
        head->prev = due.prev;
        due.prev->next = head;
        tail->next = &due;
        due.prev = tail;
        w->slot[i] = NULL;
        bit_clear(w, i);
    }
    w->now_ms = now_ms;

    size_t n = 0;
    while (due.next != &due) {
        struct jw_wheel_entry *e = due.next;
        due.next = e->next;
        e->next->prev = &due;
        e->prev = e->next = NULL;
        e->queued = false;
        w->count--;
        n++;
        fn(e, arg); /* e is the caller's again */
    }
    return n;
}
