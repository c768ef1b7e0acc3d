/* Unit tests for the sharing of attempt slots between tenants
 * (src/exec/fair.c): caps, turns, bounds, and a random simulation with a
 * tenant that never gives its slots back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jobwheel/fair.h"

static struct jw_fair *fair(size_t slots, size_t per_tenant, size_t queue_max, size_t tenant_queue_max,
                            size_t floor)
{
    struct jw_fair_limits l = {slots, per_tenant, queue_max, tenant_queue_max, floor};
    return jw_fair_new(&l);
}

/* Queue run `n` of tenant t ("<tenant>:r<n>"). */
static bool queue(struct jw_fair *f, const char *tenant, int n)
{
    char m[64];
    snprintf(m, sizeof(m), "%s:r%d", tenant, n);
    return jw_fair_queue(f, jw_fair_tenant(f, tenant), m);
}

/* The next run to start, as "<tenant>:r<n>" in out ("" when none). */
static void next(struct jw_fair *f, char *out, size_t len)
{
    struct jw_fair_tenant *t;
    char *m = jw_fair_next(f, &t);
    snprintf(out, len, "%s", m ? m : "");
    if (m) {
        char tenant[32];
        snprintf(tenant, sizeof(tenant), "%.*s", (int)(strchr(m, ':') - m), m);
        assert_ptr_equal(t, jw_fair_tenant(f, tenant));
    } else {
        assert_null(t);
    }
    free(m);
}

static void expect_next(struct jw_fair *f, const char *want)
{
    char got[64];
    next(f, got, sizeof(got));
    assert_string_equal(got, want);
}

/* ---- caps ------------------------------------------------------------------------------ */

static void test_a_tenant_takes_up_to_its_cap(void **state)
{
    (void)state;
    struct jw_fair *f = fair(20, 10, 1000, 1000, 4);
    struct jw_fair_tenant *a = jw_fair_tenant(f, "a"), *b = jw_fair_tenant(f, "b");
    assert_int_equal(jw_fair_take(f, a, 6), 6);
    assert_int_equal(jw_fair_take(f, a, 60), 4); /* to its cap */
    assert_int_equal(jw_fair_take(f, a, 1), 0);
    assert_int_equal(jw_fair_tenant_used(a), 10);
    /* a's calls hang: b still finds the other half */
    assert_int_equal(jw_fair_take(f, b, 1), 1);
    assert_int_equal(jw_fair_take(f, b, 100), 9);
    assert_int_equal(jw_fair_used(f), 20);
    assert_int_equal(jw_fair_take(f, jw_fair_tenant(f, "c"), 1), 0); /* the instance is full */
    jw_fair_give(f, b, 3);
    assert_int_equal(jw_fair_take(f, a, 5), 0); /* still at its cap */
    assert_int_equal(jw_fair_take(f, jw_fair_tenant(f, "c"), 5), 3);
    assert_int_equal(jw_fair_take(f, b, 0), 0);
    jw_fair_free(f);
}

static void test_limits_are_made_sane(void **state)
{
    (void)state;
    struct jw_fair *f = fair(0, 0, 10, 10, 0); /* at least one slot; a cap of 0 is the instance's */
    assert_int_equal(jw_fair_take(f, jw_fair_tenant(f, "a"), 5), 1);
    jw_fair_free(f);
    f = fair(3, 7, 10, 10, 0); /* a cap above the slots is the slots */
    assert_int_equal(jw_fair_take(f, jw_fair_tenant(f, "a"), 5), 3);
    jw_fair_free(f);
}

static void test_queued_runs_of_a_tenant_at_its_cap_wait_for_its_own_slots(void **state)
{
    (void)state;
    struct jw_fair *f = fair(10, 2, 1000, 1000, 4);
    struct jw_fair_tenant *a = jw_fair_tenant(f, "a");
    assert_int_equal(jw_fair_take(f, a, 2), 2);
    assert_true(queue(f, "a", 1));
    assert_true(queue(f, "a", 2));
    expect_next(f, ""); /* 8 slots free, but not for a */
    assert_int_equal(jw_fair_waiting(f), 2);
    jw_fair_give(f, a, 1);
    expect_next(f, "a:r1");
    expect_next(f, "");
    jw_fair_give(f, a, 2);
    expect_next(f, "a:r2");
    expect_next(f, "");
    assert_int_equal(jw_fair_tenant_used(a), 1);
    assert_int_equal(jw_fair_waiting(f), 0);
    jw_fair_free(f);
}

/* ---- turns ------------------------------------------------------------------------------ */

static void test_tenants_take_turns(void **state)
{
    (void)state;
    struct jw_fair *f = fair(4, 4, 1000, 1000, 4);
    struct jw_fair_tenant *h = jw_fair_tenant(f, "h");
    assert_int_equal(jw_fair_take(f, h, 4), 4);
    for (int i = 1; i <= 5; i++)
        assert_true(queue(f, "a", i));
    assert_true(queue(f, "b", 1));
    assert_true(queue(f, "b", 2));
    assert_true(queue(f, "c", 1));
    expect_next(f, "");
    /* one slot frees at a time (h's, then those of the runs started) */
    const char *order[] = {"a:r1", "b:r1", "c:r1", "a:r2", "b:r2", "a:r3", "a:r4", "a:r5"};
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        char freed[2] = {i < 4 ? 'h' : order[i - 4][0], '\0'};
        jw_fair_give(f, jw_fair_tenant(f, freed), 1);
        expect_next(f, order[i]);
        expect_next(f, "");
    }
    assert_int_equal(jw_fair_waiting(f), 0);
    assert_int_equal(jw_fair_used(f), 4);
    jw_fair_free(f);
}

static void test_a_run_waits_behind_the_tenants_already_waiting(void **state)
{
    (void)state;
    struct jw_fair *f = fair(2, 2, 1000, 1000, 4);
    struct jw_fair_tenant *a = jw_fair_tenant(f, "a"), *b = jw_fair_tenant(f, "b");
    assert_int_equal(jw_fair_take(f, a, 2), 2);
    assert_true(queue(f, "a", 1));
    assert_true(queue(f, "b", 1));
    jw_fair_give(f, a, 2); /* two slots free, and nobody started the queued runs yet */
    /* a run asked for now (any tenant's) does not overtake them */
    assert_int_equal(jw_fair_take(f, jw_fair_tenant(f, "c"), 1), 0);
    assert_int_equal(jw_fair_take(f, b, 1), 0);
    expect_next(f, "b:r1"); /* b waited first: a was at its cap */
    expect_next(f, "a:r1");
    expect_next(f, "");
    jw_fair_give(f, b, 1);
    assert_int_equal(jw_fair_take(f, jw_fair_tenant(f, "c"), 1), 1);
    jw_fair_free(f);
}

static void test_a_tenant_waiting_at_its_cap_does_not_hold_up_others(void **state)
{
    (void)state;
    struct jw_fair *f = fair(10, 3, 1000, 1000, 4);
    struct jw_fair_tenant *a = jw_fair_tenant(f, "a"), *b = jw_fair_tenant(f, "b");
    assert_int_equal(jw_fair_take(f, a, 3), 3);
    for (int i = 1; i <= 100; i++)
        assert_true(queue(f, "a", i));
    /* a waits at its cap: b takes free slots at once, in its start path */
    assert_int_equal(jw_fair_take(f, b, 2), 2);
    expect_next(f, "");
    jw_fair_free(f);
}

static void test_a_queued_run_is_queued_once(void **state)
{
    (void)state;
    struct jw_fair *f = fair(1, 1, 1000, 1000, 4);
    assert_int_equal(jw_fair_take(f, jw_fair_tenant(f, "h"), 1), 1);
    assert_true(queue(f, "a", 1));
    assert_false(queue(f, "a", 1));
    assert_int_equal(jw_fair_waiting(f), 1);
    jw_fair_give(f, jw_fair_tenant(f, "h"), 1);
    expect_next(f, "a:r1");
    assert_true(queue(f, "a", 1)); /* started: it may be queued again (a later attempt) */
    jw_fair_free(f);
}

/* ---- bounds ------------------------------------------------------------------------------ */

static void test_queues_are_bounded_per_tenant_and_together(void **state)
{
    (void)state;
    struct jw_fair *f = fair(1, 1, 100, 40, 5);
    assert_int_equal(jw_fair_take(f, jw_fair_tenant(f, "h"), 1), 1);
    for (int i = 0; i < 40; i++)
        assert_true(queue(f, "a", i));
    assert_false(queue(f, "a", 40)); /* a's own bound */
    for (int i = 0; i < 40; i++)
        assert_true(queue(f, "b", i));
    for (int i = 0; i < 20; i++)
        assert_true(queue(f, "c", i));
    assert_int_equal(jw_fair_waiting(f), 100);
    assert_false(queue(f, "c", 20)); /* the instance's bound */
    for (int i = 0; i < 5; i++)      /* but a tenant with nothing queued gets its floor */
        assert_true(queue(f, "d", i));
    assert_false(queue(f, "d", 5));
    assert_int_equal(jw_fair_waiting(f), 105);
    assert_int_equal(jw_fair_tenant_waiting(jw_fair_tenant(f, "d")), 5);
    /* and its turn comes in the first round */
    jw_fair_give(f, jw_fair_tenant(f, "h"), 1);
    char got[64];
    int seen_d = -1;
    for (int i = 0; i < 4; i++) {
        next(f, got, sizeof(got));
        if (got[0] == 'd' && seen_d < 0)
            seen_d = i;
        jw_fair_give(f, jw_fair_tenant(f, (char[]){got[0], '\0'}), 1);
    }
    assert_int_equal(seen_d, 3);
    jw_fair_free(f); /* frees what is still queued */
}

static void test_idle_accounts_are_trimmed(void **state)
{
    (void)state;
    struct jw_fair *f = fair(2, 1, 100, 100, 5);
    struct jw_fair_tenant *a = jw_fair_tenant(f, "a");
    assert_int_equal(jw_fair_take(f, a, 1), 1);
    assert_true(queue(f, "b", 1));
    (void)jw_fair_tenant(f, "c");
    (void)jw_fair_tenant(f, "d");
    assert_int_equal(jw_fair_tenants(f), 4);
    jw_fair_trim(f);
    assert_int_equal(jw_fair_tenants(f), 2); /* a holds a slot, b a queued run */
    expect_next(f, "b:r1");
    jw_fair_give(f, a, 1);
    jw_fair_trim(f);
    assert_int_equal(jw_fair_tenants(f), 1); /* b holds its run's slot */
    jw_fair_give(f, jw_fair_tenant(f, "b"), 1);
    jw_fair_trim(f);
    assert_int_equal(jw_fair_tenants(f), 0);
    assert_int_equal(jw_fair_used(f), 0);
    jw_fair_free(f);
}

/* ---- a random simulation ----------------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rng(void)
{
    uint64_t z = (rng_state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

#define NT 6 /* tenants; tenant 0 never gives a slot back (its calls hang) */
#define SLOTS 12
#define CAP 4
#define OPS 200000

/* Tenants ask for starts (take, else queue), attempts end at random, and
 * freed slots go to the queued runs. Checked all along: no tenant holds
 * more than its cap nor the instance more than its slots; a tenant whose
 * run waits while it may start is served before any other tenant is
 * served twice (within one round); and tenants other than the hanging one
 * are never stuck. */
static void test_random_with_a_hanging_tenant(void **state)
{
    (void)state;
    rng_state = 12345;
    struct jw_fair *f = fair(SLOTS, CAP, 50, 30, 3);
    struct jw_fair_tenant *t[NT];
    char names[NT][8];
    for (int i = 0; i < NT; i++) {
        snprintf(names[i], sizeof(names[i]), "t%d", i);
        t[i] = jw_fair_tenant(f, names[i]);
    }
    size_t held[NT] = {0};
    int served_since[NT] = {0}; /* starts of others since this tenant last was served (-1: not waiting) */
    long starts[NT] = {0};
    int seq = 0;
    for (int op = 0; op < OPS; op++) {
        int who = (int)(rng() % NT);
        uint64_t what = rng() % 10;
        if (what < 5) { /* a run of `who` asks to start */
            size_t want = 1 + rng() % 3;
            size_t got = jw_fair_take(f, t[who], want);
            held[who] += got;
            starts[who] += (long)got;
            if (got < want) {
                char m[32];
                snprintf(m, sizeof(m), "%s:%d", names[who], seq++);
                (void)jw_fair_queue(f, t[who], m);
            }
        } else if (who != 0 && held[who] > 0) { /* an attempt of `who` ends */
            jw_fair_give(f, t[who], 1);
            held[who]--;
        }
        /* the dispatcher starts what may start */
        struct jw_fair_tenant *got;
        char *m;
        while ((m = jw_fair_next(f, &got))) {
            int k = m[1] - '0';
            assert_ptr_equal(got, t[k]);
            held[k]++;
            starts[k]++;
            for (int i = 0; i < NT; i++) {
                if (i == k)
                    served_since[i] = 0;
                else if (jw_fair_tenant_waiting(t[i]) && jw_fair_tenant_used(t[i]) < CAP)
                    assert_true(++served_since[i] <= NT - 1); /* within one round */
            }
            free(m);
        }
        for (int i = 0; i < NT; i++)
            if (!(jw_fair_tenant_waiting(t[i]) && jw_fair_tenant_used(t[i]) < CAP))
                served_since[i] = 0;
        size_t sum = 0;
        for (int i = 0; i < NT; i++) {
            assert_int_equal(jw_fair_tenant_used(t[i]), held[i]);
            assert_true(held[i] <= CAP);
            sum += held[i];
        }
        assert_int_equal(jw_fair_used(f), sum);
        assert_true(sum <= SLOTS);
        assert_true(jw_fair_waiting(f) <= 50 + NT * 3);
    }
    assert_int_equal(held[0], CAP); /* the hanging tenant holds its cap, no more */
    for (int i = 1; i < NT; i++)
        assert_true(starts[i] > OPS / NT / 4);
    print_message("starts per tenant: %ld %ld %ld %ld %ld %ld\n", starts[0], starts[1], starts[2], starts[3],
                  starts[4], starts[5]);
    jw_fair_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_tenant_takes_up_to_its_cap),
        cmocka_unit_test(test_limits_are_made_sane),
        cmocka_unit_test(test_queued_runs_of_a_tenant_at_its_cap_wait_for_its_own_slots),
        cmocka_unit_test(test_tenants_take_turns),
        cmocka_unit_test(test_a_run_waits_behind_the_tenants_already_waiting),
        cmocka_unit_test(test_a_tenant_waiting_at_its_cap_does_not_hold_up_others),
        cmocka_unit_test(test_a_queued_run_is_queued_once),
        cmocka_unit_test(test_queues_are_bounded_per_tenant_and_together),
        cmocka_unit_test(test_idle_accounts_are_trimmed),
        cmocka_unit_test(test_random_with_a_hanging_tenant),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
