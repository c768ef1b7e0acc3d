/* due: the clock of delayed runs — one timer-wheel entry per shard, at the
 * earliest time one of its delayed runs is due; when it expires, the
 * shard's due runs are promoted to ready (run_promote.lua) and handed on to
 * be started; a burst is promoted ahead of its time. See due.h. */
#include "jobwheel/due.h"

#include <event2/event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "jobwheel/buf.h"
#include "jobwheel/clock.h"
#include "jobwheel/store.h"
#include "jobwheel/time.h"
#include "lua_scripts.h"

#define SHARDS_MAX 4096     /* as the scheduler's */
#define PROMOTE_LIMIT 1000  /* runs one promotion moves; more: it goes again at once */

struct shard_due {
    struct jw_wheel_entry we; /* first: queued at the shard's earliest due time */
    struct jw_due *d;
    int shard;
    bool busy;  /* a promotion is in flight */
    bool again; /* the shard came due again meanwhile */
};

struct jw_due {
    struct jw_store *store;
    void (*start)(void *, const char *, bool);
    void *arg;
    struct jw_clock clock;
    bool stopped;
    struct shard_due *shards[SHARDS_MAX]; /* made when first used */
};

static void promote(struct jw_due *d, struct shard_due *sd);
static void set_at(struct jw_due *d, int shard, int64_t when_ms);

static void on_expired(struct jw_wheel_entry *we, void *arg)
{
    promote(arg, (struct shard_due *)we);
}

static void on_promoted(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct shard_due *sd = arg;
    struct jw_due *d = sd->d;
    sd->busy = false;
    if (d->stopped || st != JW_STORE_OK)
        return; /* the owner's sweep promotes what is left */
    bool more = jw_reply_int(jw_reply_at(r, 0)) != 0;
    long long next = jw_reply_int(jw_reply_at(r, 1));
    size_t ndue = (size_t)jw_reply_int(jw_reply_at(r, 2));
    for (size_t i = 3; i < jw_reply_count(r); i++) {
        const char *m = jw_reply_str(jw_reply_at(r, i), NULL);
        if (m)
            d->start(d->arg, m, i >= 3 + ndue);
    }
    if (more || sd->again) {
        sd->again = false;
        promote(d, sd);
    } else if (next >= 0) {
        set_at(d, sd->shard, next);
    }
}

static void promote(struct jw_due *d, struct shard_due *sd)
{
    if (sd->busy) {
        sd->again = true;
        return;
    }
    sd->busy = true;
    struct jw_args a = JW_ARGS_INIT;
    jw_args_addi(&a, jw_time_now_ms());
    jw_args_addi(&a, PROMOTE_LIMIT);
    jw_args_addi(&a, JW_DUE_AHEAD_MS);
    jw_args_addi(&a, JW_DUE_START_US);
    char tag[16];
    snprintf(tag, sizeof(tag), "s:%d", sd->shard);
    jw_store_eval(d->store, JW_LUA_RUN_PROMOTE, tag, &a, on_promoted, sd);
}

/* The shard's entry goes off at when_ms, or earlier if it is set so. */
static void set_at(struct jw_due *d, int shard, int64_t when_ms)
{
    if (!d || d->stopped || shard < 0 || shard >= SHARDS_MAX)
        return;
    struct shard_due *sd = d->shards[shard];
    if (!sd) {
        sd = jw_calloc(1, sizeof(*sd));
        sd->d = d;
        sd->shard = shard;
        d->shards[shard] = sd;
    }
    if (sd->we.queued && sd->we.when_ms <= when_ms)
        return; /* it goes off earlier: the promotion then answers the next time */
    if (jw_clock_add(&d->clock, &sd->we, when_ms) != 0)
        return; /* beyond the span: the owner's sweep sets it when it comes near */
}

void jw_due_at(struct jw_due *d, int shard, int64_t when_ms)
{
    set_at(d, shard, when_ms - JW_DUE_AHEAD_MS); /* a look for a burst; a few runs start at their time */
}

struct jw_due *jw_due_new(struct event_base *base, struct jw_store *store,
                          void (*start)(void *arg, const char *member, bool ahead), void *arg)
{
    struct jw_due *d = jw_calloc(1, sizeof(*d));
    d->store = store;
    d->start = start;
    d->arg = arg;
    jw_clock_init(&d->clock, base, on_expired, d);
    return d;
}

void jw_due_stop(struct jw_due *d)
{
    if (!d)
        return;
    d->stopped = true;
    jw_clock_stop(&d->clock);
}

void jw_due_free(struct jw_due *d)
{
    if (!d)
        return;
    jw_clock_free(&d->clock);
    for (int i = 0; i < SHARDS_MAX; i++)
        free(d->shards[i]);
    free(d);
}
