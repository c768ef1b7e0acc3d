/* exec: the execution engine. Starts ready runs (run_start.lua: limits,
 * attempt, lease), calls their endpoint without blocking, records the
 * outcome (run_finish.lua: complete, hand to a worker, retry, fallback,
 * fail), and keeps its runs' leases alive. Delayed runs and retries start
 * at their time from a millisecond clock of due times (due.h). For the
 * shards its instance owns it also sweeps the run queues (run_sweep.lua):
 * due runs the clock missed and ready runs nobody started start (the
 * backstop), it learns each shard's next due time, and runs whose lease lapsed
 * (their instance died, or their worker stopped heartbeating) are retried
 * as a new attempt. Every write is fenced by the attempt number, so a late
 * answer from a stale instance changes nothing. */
#ifndef JOBWHEEL_EXEC_H
#define JOBWHEEL_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct jw_store;
struct jw_scheduler;
struct jw_exec;
struct jw_smtp;

struct jw_exec_options {
    const char *instance_id;
    int64_t lease_ms;      /* a running attempt's lease, renewed every second */
    int64_t retention_ms;  /* how long ended runs are kept */
    bool allow_private;    /* SSRF guard off */
    const char *ca_file;   /* extra trusted CA for https targets */
    size_t max_response;   /* response body cap */
    size_t max_response_header_bytes;   /* an answer's header block(s), in bytes */
    size_t max_response_headers;        /* an answer's header lines */
    size_t max_inflight_response_bytes; /* all answers in flight together */
    int64_t max_inflight;  /* attempts running here at once; more wait their turn */
    int64_t max_inflight_per_tenant; /* ... of one tenant (1..max_inflight; else max_inflight) */
    const char *file_root; /* FileOperation root */
    const char *self_exe;  /* this program (FileOperation runs as its child) */
    bool code_execution;   /* CodeExecution jobs may run */
    bool file_operations;  /* FileOperation jobs may run */
    int64_t file_quota_bytes, file_quota_entries; /* per tenant, for FileOperation */
    struct jw_smtp *smtp;  /* notify mail goes here; NULL: none (not owned) */
    int64_t quota_inflight; /* the configured default inflight quota of every tenant (0: none) */
    int64_t metrics_tenants; /* per-tenant series on /metrics for this many busiest tenants (0: none) */
    /* the run-token key is derived from this (the JWT HMAC secret, which
     * every instance shares), else kept in Redis (not owned) */
    const char *token_secret;
    size_t token_secret_len;
};

struct jw_exec *jw_exec_new(struct event_base *base, struct jw_store *store, struct jw_scheduler *sched,
                            const struct jw_exec_options *o, char *err, size_t errlen);
/* Start a ready run now, from this instance (if its limits allow). */
void jw_exec_start(struct jw_exec *x, const char *tenant, const char *run_id);
/* A delayed run of `shard` is due at when_ms: it starts then, to the
 * millisecond (due.h), whichever instance owns the shard. */
void jw_exec_due(struct jw_exec *x, int shard, int64_t when_ms);
/* Starting a run as it is made (run_create, fire_claim): reserve room for
 * up to `want` attempts of `tenant` here (0 while stopping, before the
 * token key is loaded, or when runs wait here that go first: the tenant's
 * own, or another tenant's that may start; at most what the tenant's cap,
 * max_inflight_per_tenant, leaves); each reserved slot is then given back
 * by jw_exec_started (with what starting the run gave: run_start's answer
 * without the run's fields, which come apart as `pairs`, or, from a
 * firing, what the scheduler knows of the run as `known` instead; r NULL
 * when the store failed) or by jw_exec_release. sent_us: when the call
 * went out (jw_time_mono_us), for the run's execution trace. */
size_t jw_exec_reserve(struct jw_exec *x, const char *tenant, size_t want);
const char *jw_exec_instance(const struct jw_exec *x);
int64_t jw_exec_lease_ms(const struct jw_exec *x);
struct jw_reply;
struct jw_fired_run;
struct jw_run_pairs;
void jw_exec_started(struct jw_exec *x, const char *tenant, const char *run_id, const struct jw_reply *r,
                     const struct jw_run_pairs *pairs, const struct jw_fired_run *known, int64_t sent_us);
void jw_exec_release(struct jw_exec *x, const char *tenant, size_t n);
/* Start the runs named "<tenant>:<run>" by a store reply's elements from
 * index `from` on (what an ended run let go). */
struct jw_reply;
void jw_exec_start_members(struct jw_exec *x, const struct jw_reply *r, size_t from);
/* A run has ended (wherever that was decided): send its notices — the
 * final run to its job's webhook_url, and mail when it asked to notify. */
void jw_exec_run_ended(struct jw_exec *x, const char *tenant, const char *run_id);
/* A run was cancelled: drop its call here, if it is running here. */
void jw_exec_cancelled(struct jw_exec *x, const char *tenant, const char *run_id);
/* The key run tokens are derived from; NULL until loaded from Redis. */
const unsigned char *jw_exec_token_key(const struct jw_exec *x, size_t *len);
size_t jw_exec_inflight(const struct jw_exec *x);
/* Stop starting runs; done runs when the calls in flight have ended (or
 * been abandoned to their leases after timeout_ms). */
void jw_exec_stop(struct jw_exec *x, int64_t timeout_ms, void (*done)(void *), void *arg);
void jw_exec_free(struct jw_exec *x);

/* A worker reported failure (POST /v1/runs/:id/fail): the attempt failed;
 * retry or fail the run as its policy says. done gets an HTTP status (200,
 * 401 when the run is no longer running, 404, 503) and a message. */
void jw_exec_worker_failed(struct jw_exec *x, const char *tenant, const char *run_id, const char *error,
                           void (*done)(void *arg, int status, const char *msg), void *arg);

#endif
