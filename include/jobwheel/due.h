/* due: when delayed runs come due. Runs that wait for a time — a trigger's
 * `delay` or `scheduled_at`, a retry's backoff, a Retry-After, a rate
 * limit's window — sit in their shard's delayed queues in Redis (the
 * record). This module is the clock: a millisecond timer wheel with one
 * entry per shard, set at the earliest time a delayed run of that shard is
 * due. When it expires, the shard's due runs are promoted to ready in one
 * step (run_promote.lua, the tenants in turn) and handed to the caller to
 * start; the promotion answers the shard's next due time, and the entry is
 * set again. Whoever learns of a due time sets it: the instance that
 * delayed a run (trigger, retry, limit) and the shard's owner (its sweep
 * reads the shard's earliest due time), so a run starts at its time
 * whichever instance made it, and the sweep's own promotion remains the
 * backstop. Promoting twice is harmless: a run leaves its queue once.
 *
 * A burst — more runs coming due together than the instance can start
 * from their time on without being late — is promoted ahead of its time:
 * the entry goes off JW_DUE_AHEAD_MS before a due time, and the promotion
 * takes the runs due within what starting them all takes (JW_DUE_START_US
 * a run), each still at its own time (see run_promote.lua). They are
 * started at once, and the caller makes each call at its time. */
#ifndef JOBWHEEL_DUE_H
#define JOBWHEEL_DUE_H

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct jw_store;
struct jw_due;

#define JW_DUE_AHEAD_MS 2000 /* the longest a burst is started before its time */
#define JW_DUE_START_US 250  /* what starting one run of a burst may take (Redis and here) */

/* start: called with each promoted run's member "<tenant>:<run>" (borrowed);
 * ahead: promoted before its time (its start answers its time). */
struct jw_due *jw_due_new(struct event_base *base, struct jw_store *store,
                          void (*start)(void *arg, const char *member, bool ahead), void *arg);
/* A delayed run of `shard` is due at when_ms (epoch ms). Sets the shard's
 * entry (JW_DUE_AHEAD_MS before it, to look for a burst) when this is
 * earlier than what it holds; a time beyond the wheel's span (about 4 s) is
 * left to the owner's sweep, which sets it when near. */
void jw_due_at(struct jw_due *d, int shard, int64_t when_ms);
/* Stop: nothing more is promoted (replies still pending are dropped). */
void jw_due_stop(struct jw_due *d);
void jw_due_free(struct jw_due *d);

#endif
