/* Unit tests for the timer wheel (src/sched/wheel.c): ordering, the span,
 * late entries, callbacks that change the wheel, and a differential test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jobwheel/wheel.h"

#define SLOTS ((int64_t)JW_WHEEL_SLOTS)
#define T0 INT64_C(1700000000000) /* 2023-11-14, epoch milliseconds */

/* ---- helpers --------------------------------------------------------------------------- */

/* splitmix64: a fixed seed per test, so every run checks the same cases */
static uint64_t rng_state;

static void rng_seed(uint64_t seed)
{
    rng_state = seed;
}

static uint64_t rng(void)
{
    uint64_t z = (rng_state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* uniform in [lo, hi] */
static int64_t rng_range(int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rng() % (uint64_t)(hi - lo + 1));
}

/* A caller's struct with the entry embedded, as the scheduler's firing is. */
struct item {
    int64_t pad;
    struct jw_wheel_entry e;
    size_t id;
    uint64_t seq; /* when it was last added, for FIFO checks */
};

static struct item *item_of(struct jw_wheel_entry *e)
{
    return (struct item *)(void *)((char *)e - offsetof(struct item, e));
}

static struct item *items_new(size_t n)
{
    struct item *v = calloc(n, sizeof(*v));
    assert_non_null(v);
    for (size_t i = 0; i < n; i++)
        v[i].id = i;
    return v;
}

static struct jw_wheel *wheel_new(int64_t now)
{
    struct jw_wheel *w = malloc(sizeof(*w));
    assert_non_null(w);
    jw_wheel_init(w, now);
    return w;
}

static uint64_t add_seq;

static void add_ok(struct jw_wheel *w, struct item *it, int64_t when)
{
    if (jw_wheel_add(w, &it->e, when) != 0)
        fail_msg("add of item %zu at now%+lld refused", it->id, (long long)(when - w->now_ms));
    it->seq = ++add_seq;
}

/* The items an expiry handed to fn, in order, with the deadline each had. */
struct log {
    struct item **v;
    int64_t *when;
    size_t n, cap;
};

static void log_push(struct log *l, struct item *it)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = realloc(l->v, l->cap * sizeof(*l->v));
        l->when = realloc(l->when, l->cap * sizeof(*l->when));
        assert_true(l->v && l->when);
    }
    l->v[l->n] = it;
    l->when[l->n++] = it->e.when_ms;
}

static void log_free(struct log *l)
{
    free(l->v);
    free(l->when);
    memset(l, 0, sizeof(*l));
}

static void record(struct jw_wheel_entry *e, void *arg)
{
    assert_false(e->queued);
    assert_null(e->prev);
    assert_null(e->next);
    log_push(arg, item_of(e));
}

/* The log holds exactly the ids given, in that order. */
static void log_is(const struct log *l, const size_t *ids, size_t n)
{
    if (l->n != n)
        fail_msg("%zu entries expired, expected %zu", l->n, n);
    for (size_t i = 0; i < n; i++)
        if (l->v[i]->id != ids[i])
            fail_msg("expiry %zu was item %zu, expected %zu", i, l->v[i]->id, ids[i]);
}

/* Nondecreasing deadlines, insertion order within a millisecond. */
static void log_ordered(const struct log *l)
{
    for (size_t i = 1; i < l->n; i++) {
        if (l->when[i] < l->when[i - 1])
            fail_msg("expiry %zu at %lld after one at %lld", i, (long long)l->when[i],
                     (long long)l->when[i - 1]);
        if (l->when[i] == l->when[i - 1] && l->v[i]->seq < l->v[i - 1]->seq)
            fail_msg("expiry %zu breaks insertion order at %lld", i, (long long)l->when[i]);
    }
}

/* ---- basics ---------------------------------------------------------------------------- */

static void test_empty(void **state)
{
    (void)state;
    struct jw_wheel *w = wheel_new(T0);
    struct log l = {0};
    assert_int_equal(w->now_ms, T0);
    assert_int_equal(w->count, 0);
    assert_int_equal(jw_wheel_next(w), -1);
    assert_int_equal(jw_wheel_expire(w, T0, record, &l), 0);
    assert_int_equal(jw_wheel_expire(w, T0 + 5, record, &l), 0);
    assert_int_equal(w->now_ms, T0 + 5);
    assert_int_equal(jw_wheel_next(w), -1);
    assert_int_equal(l.n, 0);
    free(w);
}

static void test_add_remove_next(void **state)
{
    (void)state;
    struct jw_wheel *w = wheel_new(T0);
    struct item *it = items_new(4);
    struct jw_wheel_entry *a = &it[0].e, *b = &it[1].e, *c = &it[2].e, *d = &it[3].e;

    add_ok(w, &it[0], T0 + 10);
    add_ok(w, &it[1], T0 + 5);
    add_ok(w, &it[2], T0 + 10);
    add_ok(w, &it[3], T0 + 10);
    assert_int_equal(w->count, 4);
    assert_true(a->queued && b->queued && c->queued && d->queued);
    assert_int_equal(a->when_ms, T0 + 10);
    assert_int_equal(jw_wheel_next(w), T0 + 5);

    jw_wheel_remove(w, b);
    assert_false(b->queued);
    assert_null(b->prev);
    assert_null(b->next);
    assert_int_equal(w->count, 3);
    assert_int_equal(jw_wheel_next(w), T0 + 10);

    /* the middle, the head and the tail of one slot */
    jw_wheel_remove(w, c);
    assert_int_equal(jw_wheel_next(w), T0 + 10);
    jw_wheel_remove(w, a);
    assert_int_equal(jw_wheel_next(w), T0 + 10);
    jw_wheel_remove(w, d);
    assert_int_equal(w->count, 0);
    assert_int_equal(jw_wheel_next(w), -1);

    /* removing what is not queued changes nothing */
    jw_wheel_remove(w, d);
    assert_int_equal(w->count, 0);
    assert_int_equal(jw_wheel_next(w), -1);

    /* re-adding a queued entry moves it */
    add_ok(w, &it[0], T0 + 10);
    add_ok(w, &it[0], T0 + 20);
    assert_int_equal(w->count, 1);
    assert_int_equal(a->when_ms, T0 + 20);
    assert_int_equal(jw_wheel_next(w), T0 + 20);
    struct log l = {0};
    assert_int_equal(jw_wheel_expire(w, T0 + 19, record, &l), 0);
    assert_int_equal(jw_wheel_expire(w, T0 + 20, record, &l), 1);
    log_is(&l, (size_t[]){0}, 1);
    assert_int_equal(w->count, 0);
    assert_int_equal(jw_wheel_next(w), -1);

    /* after removing the head of a slot, the rest keep their order */
    for (size_t i = 0; i < 4; i++)
        add_ok(w, &it[i], T0 + 30);
    jw_wheel_remove(w, a);
    l.n = 0;
    assert_int_equal(jw_wheel_expire(w, T0 + 30, record, &l), 3);
    log_is(&l, (size_t[]){1, 2, 3}, 3);

    /* an expired entry can be added again, to a slot it used before */
    add_ok(w, &it[0], T0 + 30 + SLOTS - 1);
    assert_int_equal(jw_wheel_next(w), T0 + 30 + SLOTS - 1);

    log_free(&l);
    free(it);
    free(w);
}

static void test_refusal_boundary(void **state)
{
    (void)state;
    struct jw_wheel *w = wheel_new(T0);
    struct item *it = items_new(3);

    it[0].e.when_ms = 12345;
    assert_int_equal(jw_wheel_add(w, &it[0].e, T0 + SLOTS), -1);
    assert_false(it[0].e.queued);
    assert_int_equal(it[0].e.when_ms, 12345);
    assert_int_equal(jw_wheel_add(w, &it[0].e, INT64_MAX), -1);
    assert_int_equal(w->count, 0);
    assert_int_equal(jw_wheel_next(w), -1);

    add_ok(w, &it[0], T0 + SLOTS - 1);
    assert_int_equal(jw_wheel_next(w), T0 + SLOTS - 1);

    /* a refused re-add leaves a queued entry where it was */
    add_ok(w, &it[1], T0 + 7);
    assert_int_equal(jw_wheel_add(w, &it[1].e, T0 + SLOTS), -1);
    assert_true(it[1].e.queued);
    assert_int_equal(it[1].e.when_ms, T0 + 7);
    assert_int_equal(w->count, 2);
    assert_int_equal(jw_wheel_next(w), T0 + 7);

    struct log l = {0};
    assert_int_equal(jw_wheel_expire(w, T0 + 7, record, &l), 1);
    assert_int_equal(jw_wheel_expire(w, T0 + SLOTS - 2, record, &l), 0);
    assert_int_equal(jw_wheel_expire(w, T0 + SLOTS - 1, record, &l), 1);
    log_is(&l, (size_t[]){1, 0}, 2);

    /* the span follows the wheel's time */
    int64_t now = T0 + SLOTS - 1;
    assert_int_equal(jw_wheel_add(w, &it[2].e, now + SLOTS), -1);
    add_ok(w, &it[2], now + SLOTS - 1);
    assert_int_equal(jw_wheel_next(w), now + SLOTS - 1);

    log_free(&l);
    free(it);
    free(w);
}

static void test_same_ms_fifo(void **state)
{
    (void)state;
    enum { N = 1000 };
    struct jw_wheel *w = wheel_new(T0);
    struct item *it = items_new(N + 3);
    size_t want[N];

    /* interleaved with entries of the neighbouring milliseconds */
    for (size_t i = 0; i < N; i++) {
        add_ok(w, &it[i], T0 + 100);
        want[i] = i;
        if (i == 10)
            add_ok(w, &it[N], T0 + 99);
        if (i == 500)
            add_ok(w, &it[N + 1], T0 + 101);
    }
    struct log l = {0};
    assert_int_equal(jw_wheel_expire(w, T0 + 99, record, &l), 1);
    assert_int_equal(l.v[0]->id, N);
    l.n = 0;
    assert_int_equal(jw_wheel_expire(w, T0 + 100, record, &l), N);
    log_is(&l, want, N);
    l.n = 0;

    /* re-adding moves an entry to the end of its millisecond */
    for (size_t i = 0; i < 5; i++)
        add_ok(w, &it[i], T0 + 200);
    add_ok(w, &it[1], T0 + 200);
    add_ok(w, &it[3], T0 + 200);
    assert_int_equal(jw_wheel_expire(w, T0 + 300, record, &l), 6);
    log_is(&l, (size_t[]){N + 1, 0, 2, 4, 1, 3}, 6);

    log_free(&l);
    free(it);
    free(w);
}

/* ---- order ----------------------------------------------------------------------------- */

/* 100k random deadlines over the span, expired in random steps: every one
 * exactly once, in deadline order, at the step that reaches it. */
static void test_many_random_ordered(void **state)
{
    (void)state;
    enum { N = 100000 };
    rng_seed(1);
    struct jw_wheel *w = wheel_new(T0);
    struct item *it = items_new(N);
    for (size_t i = 0; i < N; i++)
        add_ok(w, &it[i], rng_range(T0 + 1, T0 + SLOTS - 1));
    assert_int_equal(w->count, N);

    struct log l = {0};
    size_t total = 0;
    int64_t prev = T0;
    while (w->count > 0) {
        int64_t next = jw_wheel_next(w);
        assert_true(next > prev);
        int64_t t = prev + rng_range(0, 300);
        size_t from = l.n;
        size_t n = jw_wheel_expire(w, t, record, &l);
        assert_int_equal(n, l.n - from);
        assert_true(n == 0 || next <= t);
        assert_true(n > 0 || next > t);
        for (size_t i = from; i < l.n; i++)
            assert_true(l.when[i] > prev && l.when[i] <= t);
        total += n;
        prev = t;
    }
    assert_int_equal(total, N);
    assert_int_equal(l.n, N);
    log_ordered(&l);
    for (size_t i = 0; i < N; i++)
        assert_false(it[i].e.queued);
    assert_int_equal(jw_wheel_next(w), -1);

    log_free(&l);
    free(it);
    free(w);
}

/* jw_wheel_next finds one entry at every distance from every kind of
 * position of now in the ring (word edges, ring edges), and the nearer of
 * two across the wrap. */
static void test_next_wraps(void **state)
{
    (void)state;
    static const int64_t pos[] = {0,
                                  1,
                                  62,
                                  63,
                                  64,
                                  65,
                                  127,
                                  JW_WHEEL_SLOTS / 2,
                                  JW_WHEEL_SLOTS - 65,
                                  JW_WHEEL_SLOTS - 64,
                                  JW_WHEEL_SLOTS - 2,
                                  JW_WHEEL_SLOTS - 1};
    struct item *it = items_new(2);
    struct jw_wheel *w = wheel_new(0);
    for (size_t p = 0; p < sizeof(pos) / sizeof(pos[0]); p++) {
        int64_t now = 1000 * SLOTS + pos[p];
        jw_wheel_init(w, now);
        for (int64_t d = 0; d < SLOTS; d++) {
            add_ok(w, &it[0], now + d);
            if (jw_wheel_next(w) != now + d)
                fail_msg("now at slot %lld, entry at +%lld: next is %+lld", (long long)pos[p], (long long)d,
                         (long long)(jw_wheel_next(w) - now));
            /* a second entry farther away, often past the wrap, changes nothing */
            int64_t d2 = d + 1 + (int64_t)((uint64_t)(d * 7919) % (uint64_t)SLOTS);
            if (d2 < SLOTS) {
                add_ok(w, &it[1], now + d2);
                assert_int_equal(jw_wheel_next(w), now + d);
                jw_wheel_remove(w, &it[0].e);
                assert_int_equal(jw_wheel_next(w), now + d2);
                jw_wheel_remove(w, &it[1].e);
            } else {
                jw_wheel_remove(w, &it[0].e);
            }
            assert_int_equal(jw_wheel_next(w), -1);
        }
    }
    /* now at the last slot: +1 is slot 0, +SLOTS-1 the slot just before now's */
    int64_t now = 5 * SLOTS - 1;
    jw_wheel_init(w, now);
    add_ok(w, &it[0], now + SLOTS - 1);
    assert_int_equal(jw_wheel_next(w), now + SLOTS - 1);
    add_ok(w, &it[1], now + 1);
    assert_int_equal(jw_wheel_next(w), now + 1);
    struct log l = {0};
    assert_int_equal(jw_wheel_expire(w, now + SLOTS - 2, record, &l), 1);
    assert_int_equal(jw_wheel_next(w), now + SLOTS - 1);
    assert_int_equal(jw_wheel_expire(w, now + SLOTS + 5, record, &l), 1);
    log_is(&l, (size_t[]){1, 0}, 2);

    log_free(&l);
    free(it);
    free(w);
}

/* Periodic entries re-added by fn while time advances in steps over ten
 * turns of the ring, starting just before the wrap: each fires at exactly
 * its deadlines, in order. */
struct periodic {
    int64_t period[50];
    int64_t first[50];
    int64_t fired[50];
    struct jw_wheel *w;
    int64_t last_when;
};

static void periodic_fire(struct jw_wheel_entry *e, void *arg)
{
    struct periodic *p = arg;
    struct item *it = item_of(e);
    int64_t want = p->first[it->id] + p->fired[it->id] * p->period[it->id];
    if (e->when_ms != want)
        fail_msg("item %zu fired for %lld, expected %lld", it->id, (long long)e->when_ms, (long long)want);
    assert_true(e->when_ms >= p->last_when);
    p->last_when = e->when_ms;
    p->fired[it->id]++;
    assert_int_equal(jw_wheel_add(p->w, e, e->when_ms + p->period[it->id]), 0);
}

static void test_wrap_around_steps(void **state)
{
    (void)state;
    rng_seed(2);
    int64_t start = 77 * SLOTS - 7;
    struct periodic p = {.w = wheel_new(start)};
    struct item *it = items_new(50);
    for (size_t i = 0; i < 50; i++) {
        p.period[i] = i < 5 ? (int64_t[]){1, 2, SLOTS - 1, SLOTS / 2, 64}[i] : rng_range(1, SLOTS - 1);
        p.first[i] = start + rng_range(1, SLOTS - 1);
        add_ok(p.w, &it[i], p.first[i]);
    }
    int64_t t = start;
    while (t < start + 10 * SLOTS) {
        t += rng_range(1, 1500);
        p.last_when = INT64_MIN;
        jw_wheel_expire(p.w, t, periodic_fire, &p);
        assert_int_equal(p.w->now_ms, t);
        /* re-adds for deadlines already reached are due at the next call */
        while (jw_wheel_next(p.w) <= t) {
            p.last_when = INT64_MIN;
            assert_true(jw_wheel_expire(p.w, t, periodic_fire, &p) > 0);
        }
        assert_int_equal(p.w->count, 50);
    }
    for (size_t i = 0; i < 50; i++) {
        int64_t want = (t - p.first[i]) / p.period[i] + 1;
        if (p.fired[i] != want)
            fail_msg("item %zu (period %lld) fired %lld times, expected %lld", i, (long long)p.period[i],
                     (long long)p.fired[i], (long long)want);
        assert_true(it[i].e.when_ms > t);
    }
    free(it);
    free(p.w);
}

/* ---- late entries and time ------------------------------------------------------------- */

static void test_past_deadlines(void **state)
{
    (void)state;
    struct jw_wheel *w = wheel_new(T0);
    struct item *it = items_new(7);
    struct log l = {0};

    /* late entries arriving out of order expire by deadline, FIFO on ties */
    add_ok(w, &it[0], T0 - 5);
    add_ok(w, &it[1], T0 - 10);
    add_ok(w, &it[2], T0 - 5);
    add_ok(w, &it[3], T0);
    add_ok(w, &it[4], T0 + 1);
    add_ok(w, &it[5], T0 - 1000000);
    add_ok(w, &it[6], T0 - 10);
    assert_int_equal(it[5].e.when_ms, T0 - 1000000); /* the deadline is kept */
    assert_int_equal(jw_wheel_next(w), T0 - 1000000);

    assert_int_equal(jw_wheel_expire(w, T0 - 1, record, &l), 0);
    assert_int_equal(w->now_ms, T0);
    assert_int_equal(jw_wheel_expire(w, T0, record, &l), 6);
    log_is(&l, (size_t[]){5, 1, 6, 0, 2, 3}, 6);
    assert_int_equal(w->count, 1);
    assert_int_equal(jw_wheel_next(w), T0 + 1);

    /* a late entry removed before its expiry */
    add_ok(w, &it[0], T0 - 3);
    add_ok(w, &it[1], T0 - 2);
    jw_wheel_remove(w, &it[0].e);
    assert_int_equal(jw_wheel_next(w), T0 - 2);
    jw_wheel_remove(w, &it[1].e);
    assert_int_equal(jw_wheel_next(w), T0 + 1);

    /* late entries come before the next millisecond's */
    add_ok(w, &it[2], T0);
    l.n = 0;
    assert_int_equal(jw_wheel_expire(w, T0 + 1, record, &l), 2);
    log_is(&l, (size_t[]){2, 4}, 2);

    log_free(&l);
    free(it);
    free(w);
}

static void test_expire_earlier_noop(void **state)
{
    (void)state;
    struct jw_wheel *w = wheel_new(T0);
    struct item *it = items_new(2);
    struct log l = {0};
    add_ok(w, &it[0], T0 - 1);
    add_ok(w, &it[1], T0 + 1);
    assert_int_equal(jw_wheel_expire(w, T0 - 1, record, &l), 0);
    assert_int_equal(jw_wheel_expire(w, T0 - SLOTS - 1, record, &l), 0);
    assert_int_equal(jw_wheel_expire(w, INT64_MIN, record, &l), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(w->now_ms, T0);
    assert_int_equal(w->count, 2);
    assert_int_equal(jw_wheel_next(w), T0 - 1);
    assert_true(it[0].e.queued && it[1].e.queued);
    assert_int_equal(jw_wheel_expire(w, T0 + 1, record, &l), 2);
    log_is(&l, (size_t[]){0, 1}, 2);
    log_free(&l);
    free(it);
    free(w);
}

/* Every millisecond of the span full, plus late entries, then a 10 s jump:
 * all expire, in order, in one call. */
static void test_big_jump(void **state)
{
    (void)state;
    size_t n = 3 * JW_WHEEL_SLOTS + 10;
    struct jw_wheel *w = wheel_new(T0);
    struct item *it = items_new(n);
    size_t k = 0;
    for (int64_t d = SLOTS - 1; d >= 1; d--) /* added latest first */
        for (int r = 0; r < (int)(d % 3) + 1; r++)
            add_ok(w, &it[k++], T0 + d);
    for (int64_t d = 0; d < 10; d++)
        add_ok(w, &it[k++], T0 - d);
    assert_true(k <= n);
    assert_int_equal(w->count, k);

    struct log l = {0};
    assert_int_equal(jw_wheel_expire(w, T0 + 10000, record, &l), k);
    assert_int_equal(l.n, k);
    log_ordered(&l);
    assert_int_equal(l.when[0], T0 - 9);
    assert_int_equal(l.when[k - 1], T0 + SLOTS - 1);
    assert_int_equal(w->now_ms, T0 + 10000);
    assert_int_equal(w->count, 0);
    assert_int_equal(jw_wheel_next(w), -1);

    /* a jump of thirty years is as cheap; the span then starts there */
    int64_t far = T0 + INT64_C(1000000000000);
    add_ok(w, &it[0], T0 + 10000 + SLOTS - 1);
    l.n = 0;
    assert_int_equal(jw_wheel_expire(w, far, record, &l), 1);
    assert_int_equal(jw_wheel_add(w, &it[0].e, far + SLOTS), -1);
    add_ok(w, &it[0], far + SLOTS - 1);
    assert_int_equal(jw_wheel_next(w), far + SLOTS - 1);

    /* jumps around one turn take exactly the entries they reach */
    static const int64_t jumps[] = {1,
                                    2,
                                    63,
                                    64,
                                    65,
                                    JW_WHEEL_SLOTS - 2,
                                    JW_WHEEL_SLOTS - 1,
                                    JW_WHEEL_SLOTS,
                                    JW_WHEEL_SLOTS + 1,
                                    2 * JW_WHEEL_SLOTS};
    for (size_t j = 0; j < sizeof(jumps) / sizeof(jumps[0]); j++) {
        for (int64_t start = 3 * SLOTS - 70; start < 3 * SLOTS + 70; start += 23) {
            jw_wheel_init(w, start); /* forgets its entries: unqueue them too */
            for (size_t i = 0; i < n; i++)
                memset(&it[i].e, 0, sizeof(it[i].e));
            size_t want = 0;
            for (int64_t d = 1; d < SLOTS; d += 37) {
                add_ok(w, &it[(size_t)d], start + d);
                want += d <= jumps[j];
            }
            add_ok(w, &it[0], start + SLOTS - 1);
            want += SLOTS - 1 <= jumps[j];
            l.n = 0;
            assert_int_equal(jw_wheel_expire(w, start + jumps[j], record, &l), want);
            for (size_t i = 0; i < l.n; i++)
                assert_true(l.when[i] <= start + jumps[j]);
            log_ordered(&l);
            int64_t next = jw_wheel_next(w);
            assert_true(next == -1 || next > start + jumps[j]);
        }
    }
    log_free(&l);
    free(it);
    free(w);
}

/* Deadlines near the ends of int64_t neither overflow nor wrap wrongly. */
static void test_extreme_times(void **state)
{
    (void)state;
    struct item *it = items_new(3);
    struct log l = {0};
    struct jw_wheel *w = wheel_new(INT64_MAX - 100);
    add_ok(w, &it[0], INT64_MAX);
    add_ok(w, &it[1], INT64_MIN);
    add_ok(w, &it[2], INT64_MAX - 50);
    assert_int_equal(jw_wheel_next(w), INT64_MIN);
    assert_int_equal(jw_wheel_expire(w, INT64_MAX, record, &l), 3);
    log_is(&l, (size_t[]){1, 2, 0}, 3);

    jw_wheel_init(w, INT64_MIN);
    assert_int_equal(jw_wheel_add(w, &it[0].e, INT64_MAX), -1);
    assert_int_equal(jw_wheel_add(w, &it[0].e, INT64_MIN + SLOTS), -1);
    add_ok(w, &it[0], INT64_MIN + SLOTS - 1);
    add_ok(w, &it[1], INT64_MIN);
    l.n = 0;
    assert_int_equal(jw_wheel_expire(w, INT64_MAX, record, &l), 2);
    log_is(&l, (size_t[]){1, 0}, 2);

    /* negative times around zero */
    jw_wheel_init(w, -5);
    add_ok(w, &it[0], 3);
    add_ok(w, &it[1], -2);
    add_ok(w, &it[2], 0);
    assert_int_equal(jw_wheel_next(w), -2);
    l.n = 0;
    assert_int_equal(jw_wheel_expire(w, 1, record, &l), 2);
    assert_int_equal(jw_wheel_next(w), 3);
    assert_int_equal(jw_wheel_expire(w, 3, record, &l), 1);
    log_is(&l, (size_t[]){1, 2, 0}, 3);

    log_free(&l);
    free(it);
    free(w);
}

/* ---- callbacks that change the wheel --------------------------------------------------- */

struct cb {
    struct jw_wheel *w;
    struct item *it;
    struct log log;
    int mode;
    int64_t when; /* a deadline for mode's add */
};

enum {
    CB_READD_SAME,   /* re-add the entry for its own deadline */
    CB_READD_NEXT,   /* re-add the entry for the wheel's time + 1 */
    CB_REMOVE,       /* item 0 removes items 1 and 3, and itself */
    CB_MOVE_PENDING, /* item 0 moves item 1, still waiting, to cb->when */
    CB_SPAN,         /* check the wheel's time and span seen by fn */
};

static void cb_fire(struct jw_wheel_entry *e, void *arg)
{
    struct cb *c = arg;
    struct item *it = item_of(e);
    log_push(&c->log, it);
    switch (c->mode) {
    case CB_READD_SAME: add_ok(c->w, it, e->when_ms); break;
    case CB_READD_NEXT: add_ok(c->w, it, c->w->now_ms + 1); break;
    case CB_REMOVE:
        if (it->id == 0) {
            jw_wheel_remove(c->w, &c->it[1].e);
            jw_wheel_remove(c->w, &c->it[3].e);
            jw_wheel_remove(c->w, e); /* not queued: nothing */
            assert_false(c->it[1].e.queued);
            assert_false(c->it[3].e.queued);
        }
        break;
    case CB_MOVE_PENDING:
        if (it->id == 0)
            add_ok(c->w, &c->it[1], c->when);
        break;
    case CB_SPAN:
        assert_int_equal(c->w->now_ms, c->when);
        assert_int_equal(jw_wheel_add(c->w, &c->it[5].e, c->when + SLOTS), -1);
        add_ok(c->w, &c->it[5], c->when + SLOTS - 1);
        add_ok(c->w, &c->it[6], c->when + 1);
        break;
    default: fail();
    }
}

/* fn re-adding its entry for a deadline already reached: due at the next
 * call, never in this one, so the call returns. */
static void test_readd_same_in_callback(void **state)
{
    (void)state;
    struct cb c = {.w = wheel_new(T0), .it = items_new(3), .mode = CB_READD_SAME};
    add_ok(c.w, &c.it[0], T0 + 1);
    add_ok(c.w, &c.it[1], T0 + 2);
    add_ok(c.w, &c.it[2], T0 + 9);
    assert_int_equal(jw_wheel_expire(c.w, T0 + 5, cb_fire, &c), 2);
    log_is(&c.log, (size_t[]){0, 1}, 2);
    assert_int_equal(c.w->count, 3);
    assert_int_equal(jw_wheel_next(c.w), T0 + 1); /* late, keeping its deadline */
    for (int round = 0; round < 3; round++) {
        c.log.n = 0;
        assert_int_equal(jw_wheel_expire(c.w, T0 + 5, cb_fire, &c), 2);
        log_is(&c.log, (size_t[]){0, 1}, 2);
    }
    c.log.n = 0;
    assert_int_equal(jw_wheel_expire(c.w, T0 + 9, cb_fire, &c), 3);
    log_is(&c.log, (size_t[]){0, 1, 2}, 3);
    log_free(&c.log);
    free(c.it);
    free(c.w);
}

/* fn re-adding its entry for the next millisecond, over a jump: once per call. */
static void test_readd_next_in_callback(void **state)
{
    (void)state;
    struct cb c = {.w = wheel_new(T0), .it = items_new(2), .mode = CB_READD_NEXT};
    add_ok(c.w, &c.it[0], T0 + 1);
    add_ok(c.w, &c.it[1], T0 + 1);
    assert_int_equal(jw_wheel_expire(c.w, T0 + 1000, cb_fire, &c), 2);
    assert_int_equal(c.it[0].e.when_ms, T0 + 1001);
    assert_int_equal(c.it[1].e.when_ms, T0 + 1001);
    assert_int_equal(jw_wheel_expire(c.w, T0 + 1000, cb_fire, &c), 0);
    assert_int_equal(jw_wheel_expire(c.w, T0 + 1001, cb_fire, &c), 2);
    log_is(&c.log, (size_t[]){0, 1, 0, 1}, 4);
    assert_int_equal(c.w->count, 2);
    log_free(&c.log);
    free(c.it);
    free(c.w);
}

/* fn removing entries: one waiting in this expiry, one in the future. */
static void test_remove_in_callback(void **state)
{
    (void)state;
    struct cb c = {.w = wheel_new(T0), .it = items_new(5), .mode = CB_REMOVE};
    add_ok(c.w, &c.it[0], T0 + 1);
    add_ok(c.w, &c.it[1], T0 + 2); /* due in this call, removed before its turn */
    add_ok(c.w, &c.it[2], T0 + 2);
    add_ok(c.w, &c.it[3], T0 + 3000); /* in the future */
    add_ok(c.w, &c.it[4], T0 - 1);
    assert_int_equal(jw_wheel_expire(c.w, T0 + 5, cb_fire, &c), 3);
    log_is(&c.log, (size_t[]){4, 0, 2}, 3);
    assert_int_equal(c.w->count, 0);
    assert_int_equal(jw_wheel_next(c.w), -1);
    assert_int_equal(jw_wheel_expire(c.w, T0 + 5000, cb_fire, &c), 0);

    /* the one removed can be the last waiting */
    c.log.n = 0;
    add_ok(c.w, &c.it[0], T0 + 5001);
    add_ok(c.w, &c.it[1], T0 + 5001);
    assert_int_equal(jw_wheel_expire(c.w, T0 + 5001, cb_fire, &c), 1);
    log_is(&c.log, (size_t[]){0}, 1);
    assert_int_equal(c.w->count, 0);
    log_free(&c.log);
    free(c.it);
    free(c.w);
}

/* fn moving an entry that waits in this expiry: later, or for a reached deadline. */
static void test_move_pending_in_callback(void **state)
{
    (void)state;
    struct cb c = {.w = wheel_new(T0), .it = items_new(3), .mode = CB_MOVE_PENDING};
    add_ok(c.w, &c.it[0], T0 + 1);
    add_ok(c.w, &c.it[1], T0 + 2);
    add_ok(c.w, &c.it[2], T0 + 3);
    c.when = T0 + 100;
    assert_int_equal(jw_wheel_expire(c.w, T0 + 10, cb_fire, &c), 2);
    log_is(&c.log, (size_t[]){0, 2}, 2);
    assert_int_equal(jw_wheel_next(c.w), T0 + 100);

    c.log.n = 0;
    add_ok(c.w, &c.it[0], T0 + 20);
    add_ok(c.w, &c.it[2], T0 + 20);
    c.when = T0 + 15; /* reached: late, for the next call */
    assert_int_equal(jw_wheel_expire(c.w, T0 + 30, cb_fire, &c), 2);
    log_is(&c.log, (size_t[]){0, 2}, 2);
    assert_int_equal(jw_wheel_next(c.w), T0 + 15);
    assert_int_equal(c.w->count, 1);
    log_free(&c.log);
    free(c.it);
    free(c.w);
}

/* During fn the wheel's time is the new time, even after a jump. */
static void test_span_in_callback(void **state)
{
    (void)state;
    struct cb c = {.w = wheel_new(T0), .it = items_new(7), .mode = CB_SPAN};
    add_ok(c.w, &c.it[0], T0 + 1);
    c.when = T0 + 10000;
    assert_int_equal(jw_wheel_expire(c.w, c.when, cb_fire, &c), 1);
    assert_int_equal(c.w->count, 2);
    assert_int_equal(jw_wheel_next(c.w), c.when + 1);
    c.log.n = 0;
    c.mode = CB_REMOVE; /* item 6 does nothing there */
    assert_int_equal(jw_wheel_expire(c.w, c.when + SLOTS - 1, cb_fire, &c), 2);
    log_is(&c.log, (size_t[]){6, 5}, 2);
    log_free(&c.log);
    free(c.it);
    free(c.w);
}

/* ---- differential test ----------------------------------------------------------------- */

/* The wheel against a model: an array of (queued, deadline, add sequence);
 * an expiry takes the queued entries with a deadline reached, sorted by
 * deadline then sequence; fn applies random operations to both. */
enum { DIFF_ITEMS = 300, DIFF_OPS = 200000 };

struct model {
    struct jw_wheel *w;
    struct item *it;
    bool queued[DIFF_ITEMS];
    int64_t when[DIFF_ITEMS];
    uint64_t seq[DIFF_ITEMS];
    int64_t now;
    size_t count;
    /* the running expiry: its due list, snapshot sequences, and position */
    size_t due[DIFF_ITEMS];
    uint64_t due_seq[DIFF_ITEMS];
    size_t ndue, pos, fired;
    uint64_t ops;
};

static struct model *sort_model; /* for qsort's comparator */

static int by_deadline(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    const struct model *m = sort_model;
    if (m->when[x] != m->when[y])
        return m->when[x] < m->when[y] ? -1 : 1;
    return m->seq[x] < m->seq[y] ? -1 : m->seq[x] > m->seq[y];
}

static int64_t diff_deadline(const struct model *m)
{
    switch (rng() % 8) {
    case 0: return m->now + rng_range(-30, 0);           /* late */
    case 1: return m->now + SLOTS - 1 + rng_range(0, 1); /* the edge */
    case 2: return m->now + rng_range(SLOTS, 3 * SLOTS); /* refused */
    case 3: return m->now + rng_range(1, 8);             /* ties */
    default: return m->now + rng_range(1, SLOTS - 1);
    }
}

static void diff_add(struct model *m, size_t i, int64_t when)
{
    int rc = jw_wheel_add(m->w, &m->it[i].e, when);
    bool refuse = when >= m->now + SLOTS;
    if (rc != (refuse ? -1 : 0))
        fail_msg("op %llu: add at now%+lld returned %d", (unsigned long long)m->ops,
                 (long long)(when - m->now), rc);
    if (refuse)
        return;
    if (!m->queued[i])
        m->count++;
    m->queued[i] = true;
    m->when[i] = when;
    m->seq[i] = ++add_seq;
}

static void diff_remove(struct model *m, size_t i)
{
    jw_wheel_remove(m->w, &m->it[i].e);
    if (m->queued[i])
        m->count--;
    m->queued[i] = false;
}

static void diff_check(const struct model *m)
{
    if (m->w->count != m->count)
        fail_msg("op %llu: count %zu, model %zu", (unsigned long long)m->ops, m->w->count, m->count);
    assert_int_equal(m->w->now_ms, m->now);
    for (size_t i = 0; i < DIFF_ITEMS; i++)
        assert_int_equal(m->it[i].e.queued, m->queued[i]);
}

static int64_t model_next(const struct model *m)
{
    int64_t best = -1;
    bool any = false;
    for (size_t i = 0; i < DIFF_ITEMS; i++)
        if (m->queued[i] && (!any || m->when[i] < best)) {
            best = m->when[i];
            any = true;
        }
    return best;
}

static void diff_fire(struct jw_wheel_entry *e, void *arg)
{
    struct model *m = arg;
    size_t got = item_of(e)->id;
    /* skip what was removed or re-added since the expiry began */
    while (m->pos < m->ndue && !(m->queued[m->due[m->pos]] && m->seq[m->due[m->pos]] == m->due_seq[m->pos]))
        m->pos++;
    if (m->pos == m->ndue)
        fail_msg("op %llu: item %zu expired, model expected none", (unsigned long long)m->ops, got);
    size_t want = m->due[m->pos++];
    if (got != want)
        fail_msg("op %llu: item %zu expired, model expected %zu", (unsigned long long)m->ops, got, want);
    assert_int_equal(e->when_ms, m->when[want]);
    m->queued[want] = false;
    m->count--;
    m->fired++;
    diff_check(m);

    switch (rng() % 6) {
    case 0: diff_add(m, got, diff_deadline(m)); break;                /* re-add itself */
    case 1: diff_remove(m, rng() % DIFF_ITEMS); break;                /* remove any */
    case 2: diff_add(m, rng() % DIFF_ITEMS, diff_deadline(m)); break; /* add or move any */
    case 3: diff_add(m, got, m->now + rng_range(-3, 0)); break;       /* re-add, late */
    default: break;
    }
}

static void diff_expire(struct model *m, int64_t t)
{
    if (t < m->now) {
        assert_int_equal(jw_wheel_expire(m->w, t, diff_fire, m), 0);
        return;
    }
    m->ndue = 0;
    for (size_t i = 0; i < DIFF_ITEMS; i++)
        if (m->queued[i] && m->when[i] <= t)
            m->due[m->ndue++] = i;
    sort_model = m;
    qsort(m->due, m->ndue, sizeof(m->due[0]), by_deadline);
    for (size_t k = 0; k < m->ndue; k++)
        m->due_seq[k] = m->seq[m->due[k]];
    m->pos = 0;
    m->fired = 0;
    m->now = t;
    size_t n = jw_wheel_expire(m->w, t, diff_fire, m);
    assert_int_equal(n, m->fired);
    for (; m->pos < m->ndue; m->pos++)
        if (m->queued[m->due[m->pos]] && m->seq[m->due[m->pos]] == m->due_seq[m->pos])
            fail_msg("op %llu: item %zu did not expire", (unsigned long long)m->ops, m->due[m->pos]);
}

static void test_differential(void **state)
{
    (void)state;
    rng_seed(3);
    struct model *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    m->now = 123 * SLOTS - 1000;
    m->w = wheel_new(m->now);
    m->it = items_new(DIFF_ITEMS);
    size_t expired = 0;
    for (m->ops = 0; m->ops < DIFF_OPS; m->ops++) {
        uint64_t r = rng() % 100;
        if (r < 45) {
            diff_add(m, rng() % DIFF_ITEMS, diff_deadline(m));
        } else if (r < 60) {
            diff_remove(m, rng() % DIFF_ITEMS);
        } else if (r < 80) {
            int64_t t;
            switch (rng() % 10) {
            case 0: t = m->now - rng_range(1, 100); break; /* earlier: nothing */
            case 1: t = m->now; break;
            case 2: t = m->now + rng_range(SLOTS - 2, 3 * SLOTS); break; /* a jump */
            case 3: t = m->now + rng_range(1, SLOTS); break;
            default: t = m->now + rng_range(1, 40); break;
            }
            diff_expire(m, t);
            expired += m->fired;
        } else {
            int64_t want = model_next(m);
            if (jw_wheel_next(m->w) != want)
                fail_msg("op %llu: next %lld, model %lld", (unsigned long long)m->ops,
                         (long long)jw_wheel_next(m->w), (long long)want);
        }
        diff_check(m);
    }
    print_message("differential: %d ops, %zu expired, %zu queued at the end\n", DIFF_OPS, expired, m->count);
    assert_true(expired > DIFF_OPS / 10);
    free(m->it);
    free(m->w);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_add_remove_next),
        cmocka_unit_test(test_refusal_boundary),
        cmocka_unit_test(test_same_ms_fifo),
        cmocka_unit_test(test_many_random_ordered),
        cmocka_unit_test(test_next_wraps),
        cmocka_unit_test(test_wrap_around_steps),
        cmocka_unit_test(test_past_deadlines),
        cmocka_unit_test(test_expire_earlier_noop),
        cmocka_unit_test(test_big_jump),
        cmocka_unit_test(test_extreme_times),
        cmocka_unit_test(test_readd_same_in_callback),
        cmocka_unit_test(test_readd_next_in_callback),
        cmocka_unit_test(test_remove_in_callback),
        cmocka_unit_test(test_move_pending_in_callback),
        cmocka_unit_test(test_span_in_callback),
        cmocka_unit_test(test_differential),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
