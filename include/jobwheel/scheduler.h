/* scheduler: fires schedules, exactly once across instances.
 *
 * Every job with a schedule has its next nominal firing in a due set, one
 * of `shards` sorted sets. Each instance leases a share of the shards
 * (sched_tick.lua, every half second) and, for the shards it owns, keeps
 * the firings of the next window (a couple of seconds) in a timer wheel on
 * the loop, fed by sched_poll.lua: the window's new entries plus whatever
 * changed (job_save and friends leave a note in the shard's change list).
 * When an entry expires, fire_claim.lua makes the run(s) and writes the
 * next firing in one atomic step that succeeds only if the due score is
 * still the one this instance saw, and the fire ledger refuses a nominal
 * time already fired — so a firing is never doubled, and since nothing
 * leaves the due set unless fired, never lost either: after a crash the
 * shard's next owner finds it due and applies the misfire policy. */
#ifndef JOBWHEEL_SCHEDULER_H
#define JOBWHEEL_SCHEDULER_H

#include <stdbool.h>
#include <stdint.h>

#include "jobwheel/quota.h"

#include "jobwheel/error.h"
#include "jobwheel/job.h"
#include "jobwheel/schedule.h"

struct event_base;
struct jw_store;
struct jw_scheduler;
struct jw_reply;

struct jw_scheduler_options {
    const char *instance_id;
    int64_t shards;               /* used at first start; afterwards Redis's number wins */
    int64_t window_ms;            /* how far ahead firings are loaded into the wheel */
    int64_t poll_ms;              /* how often owned shards are polled */
    int64_t lease_ms;             /* shard lease; a dead instance's shards free after it */
    int64_t misfire_threshold_ms; /* later than this, a firing is a misfire */
    int64_t retention_ms;         /* run history kept this long */
    struct jw_quotas quotas;      /* the configured default quotas of every tenant */
};

/* What the scheduler knows of a run fire_claim started, which its answer
 * leaves out: the run's shard, when it became ready (its nominal time, ms),
 * and its job, when the answer carries no job JSON (fire_claim found the
 * stored job to be the scheduler's copy). */
struct jw_fired_run {
    int shard;
    int64_t ready_ms;
    const struct jw_job *job;
};

/* How the runs a firing makes reach the execution engine (the caller wires
 * these to it; all called on the loop, with `arg`):
 * - reserve: room for up to `want` attempts of `tenant` that fire_claim
 *   may start at once, as jw_exec_reserve; sets the instance and the lease
 *   they start with. Each slot comes back through started or release.
 * - started: a run fire_claim started (its answer, as jw_exec_started
 *   takes it, and what the scheduler knows of the run).
 * - release: slots not used.
 * - fired: a run made pending and not started: start it. */
struct jw_fire_hooks {
    size_t (*reserve)(void *arg, const char *tenant, size_t want, const char **instance, int64_t *lease_ms);
    void (*started)(void *arg, const char *tenant, const char *run_id, const struct jw_reply *start,
                    const struct jw_fired_run *known, int64_t sent_us);
    void (*release)(void *arg, const char *tenant, size_t n);
    void (*fired)(void *arg, const char *tenant, const char *run_id);
    void *arg;
};

/* hooks is copied. */
struct jw_scheduler *jw_scheduler_new(struct event_base *base, struct jw_store *store,
                                      const struct jw_scheduler_options *opt, const struct jw_fire_hooks *hooks);
/* Give the shards up (so others take over at once) and stop; done runs
 * when Redis has been told, or at once when it is away. */
void jw_scheduler_stop(struct jw_scheduler *s, void (*done)(void *), void *arg);
void jw_scheduler_free(struct jw_scheduler *s);
/* A job was just saved with its next firing at due_ms: if that is within the
 * window, fire it from this instance too, without waiting for the owner of
 * its shard to notice (fire_claim keeps it exactly-once either way). The
 * job is copied. */
void jw_scheduler_poke(struct jw_scheduler *s, const char *tenant, const struct jw_job *j, int64_t due_ms);
/* Does this instance own shard n now? (The execution engine sweeps the run
 * queues of the shards the scheduler owns.) And how many shards are there
 * (0 until Redis said)? */
bool jw_scheduler_owns(const struct jw_scheduler *s, int n);
int jw_scheduler_shards(const struct jw_scheduler *s);
/* Do firings wait for a claim now (a burst is being fired)? */
bool jw_scheduler_backlogged(const struct jw_scheduler *s);
/* Shards owned, firings in the wheel (for /metrics and tests). */
int jw_scheduler_owned(const struct jw_scheduler *s);
size_t jw_scheduler_queued(const struct jw_scheduler *s);

#endif
