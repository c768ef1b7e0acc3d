/* core: operations on the model — validation, then one store call per state
 * change. Shared by every API surface; the surfaces only translate shapes.
 *
 * Every operation calls its callback exactly once, with either an error
 * (status + field + message) or a result: from the loop once Redis has
 * answered, or before returning when the input is refused outright. Callers
 * therefore must not touch their own state after starting an operation.
 * JSON passed in must stay valid until the callback has run. */
#ifndef JOBWHEEL_CORE_H
#define JOBWHEEL_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jobwheel/auth.h"
#include "jobwheel/buf.h"
#include "jobwheel/error.h"
#include "jobwheel/job.h"
#include "jobwheel/json.h"
#include "jobwheel/quota.h"
#include "jobwheel/workflow.h"

struct event_base;
struct jw_store;

struct jw_scheduler;
struct jw_exec;

struct jw_core {
    struct event_base *base;
    struct jw_store *store;
    struct jw_scheduler *scheduler; /* told of new firings; may be NULL */
    struct jw_exec *exec;           /* starts new ready runs; may be NULL */
    int64_t retention_ms;           /* run history kept this long */
    struct jw_job_rules rules;
    int max_json_depth;
    struct jw_quotas quotas; /* the configured default quotas of every tenant */
};

/* Who acts, in which tenant (what created_by/updated_by record). */
struct jw_actor {
    const char *tenant; /* lower-case UUID */
    const char *who;    /* "user:<sub>" or "apikey:<id>" */
    const char *email;  /* the caller's address (JWT email claim), or NULL */
};

/* err is NULL on success; body (JSON) may be taken with jw_buf_detach. */
typedef void (*jw_core_cb)(void *arg, const struct jw_error *err, struct jw_buf *body);

/* ---- jobs (core/jobs.c) ---- */

#define JW_BATCH_MAX 1000

/* Create one job from a client object; body = the job (a generated webhook
 * secret shown in clear, this once). */
void jw_jobs_create(struct jw_core *c, const struct jw_actor *a, const struct jw_json *obj, jw_core_cb cb,
                    void *arg);
/* Create every job of an array, or none; body = array of jobs. */
void jw_jobs_create_batch(struct jw_core *c, const struct jw_actor *a, const struct jw_json *arr,
                          jw_core_cb cb, void *arg);
/* jw_jobs_create for a system job (core/system.c makes them). */
void jw_jobs_create_system(struct jw_core *c, const struct jw_actor *a, const struct jw_json *obj,
                           jw_core_cb cb, void *arg);
/* ref = id or name. body = the job. 404 when it does not exist here. */
void jw_jobs_get(struct jw_core *c, const char *tenant, const char *ref, jw_core_cb cb, void *arg);
/* Apply a partial update (null resets a field); a real change makes a new
 * version. body = the job. */
void jw_jobs_update(struct jw_core *c, const struct jw_actor *a, const char *ref, const struct jw_json *patch,
                    jw_core_cb cb, void *arg);
/* Set enabled on every listed job (ids or names), all or nothing.
 * body = {"updated": n, "jobs": [...]} */
void jw_jobs_set_enabled(struct jw_core *c, const struct jw_actor *a, const char *const *refs, size_t n,
                         bool enabled, jw_core_cb cb, void *arg);
/* body = {"id": ...} of the deleted job. with_history: its ended runs go
 * too (runs not yet ended finish, then expire as usual). */
void jw_jobs_delete(struct jw_core *c, const char *tenant, const char *ref, bool with_history, jw_core_cb cb,
                    void *arg);
/* A copy under a new id (and, unless overridden, the name "<name> (copy)"),
 * with any job fields in overrides applied; body = the new job. */
void jw_jobs_clone(struct jw_core *c, const struct jw_actor *a, const char *ref,
                   const struct jw_json *overrides, jw_core_cb cb, void *arg);
/* Pause (pause = true) or resume a job; 400 when it already is so. Resume
 * computes the next firing from now. body = the job. */
void jw_jobs_pause(struct jw_core *c, const struct jw_actor *a, const char *ref, bool pause, jw_core_cb cb,
                   void *arg);
/* New timing only: exactly one of cron / interval_seconds / run_at, and
 * optionally start_at, timezone, effective_from (the first firing is not
 * before it). body = the job. */
void jw_jobs_reschedule(struct jw_core *c, const struct jw_actor *a, const char *ref,
                        const struct jw_json *body, jw_core_cb cb, void *arg);
/* Mark deleted: it stops firing, leaves lists and frees its name; its
 * history stays. body = the job. */
void jw_jobs_soft_delete(struct jw_core *c, const struct jw_actor *a, const char *ref, jw_core_cb cb,
                         void *arg);
/* The next count firings strictly after from_ms, each in UTC and local
 * time with its offset, suppressed ones marked with the reason. */
void jw_jobs_schedule(struct jw_core *c, const char *tenant, const char *ref, int64_t count, int64_t from_ms,
                      jw_core_cb cb, void *arg);
/* version_ref NULL: every version, newest first; else one version by its
 * version id or number. */
void jw_jobs_versions(struct jw_core *c, const char *tenant, const char *ref, const char *version_ref,
                      jw_core_cb cb, void *arg);

struct jw_job_filter {
    const char *project_id, *group_id, *tag, *enabled, *cursor;
    bool include_deleted;
    int64_t limit;
};
typedef void (*jw_core_list_cb)(void *arg, const struct jw_error *err, struct jw_buf *body,
                                const char *next_cursor /* NULL: no more */);
/* body = array of jobs, newest first. */
void jw_jobs_list(struct jw_core *c, const char *tenant, const struct jw_job_filter *f, jw_core_list_cb cb,
                  void *arg);

/* seed 003's page of jobs: soft-deleted jobs left out, filtered, searched
 * and sorted, with the number of jobs that match. */
struct jw_job_query {
    int64_t page, page_size; /* page from 1 */
    const char *job_type;    /* NULL: any */
    const char *state;       /* "enabled", "paused", "disabled", or NULL */
    const char *tag;         /* a tag key, or "key:value"; NULL: any */
    const char *search;      /* found (ignoring ASCII case) in name or description */
    const char *sort_by;     /* created_at (default), updated_at, name, next_run_at */
    bool descending;
    bool no_system;          /* leave seed 000's system jobs out */
    bool last_run;           /* also "last_runs" */
};
/* body = {"total": n, "jobs": [...]}, and with last_run "last_runs": per
 * job its newest run {id, status, started_at, finished_at, created_at} or
 * null. */
void jw_jobs_query(struct jw_core *c, const char *tenant, const struct jw_job_query *q, jw_core_cb cb,
                   void *arg);

/* ---- runs (core/runs.c) ---- */

/* body = the run. 404 when no run of this tenant has that id. */
void jw_runs_get(struct jw_core *c, const char *tenant, const char *id, jw_core_cb cb, void *arg);

struct jw_run_filter {
    const char *job_ref; /* NULL: every job of the tenant */
    const char *status, *cursor;
    int64_t limit;
};
/* body = array of runs, newest first. 404 when job_ref names no job. */
void jw_runs_list(struct jw_core *c, const char *tenant, const struct jw_run_filter *f, jw_core_list_cb cb,
                  void *arg);

/* Seed 001's view: runs of the tenant's own (not system) jobs, as job_runs
 * (see jw_run_write_team). 404 for another's run or a system job's. */
void jw_runs_team_get(struct jw_core *c, const char *tenant, const char *run_id, jw_core_cb cb, void *arg);
struct jw_team_run_filter {
    const char *job_type;   /* a job's slug (or name), NULL: any */
    const char *statuses;   /* "a,b" of ours, NULL: any */
    const char *project_id; /* NULL: any */
    const char *cursor;     /* "<ISO time>|<run id>" from a previous page */
    int64_t since_ms, until_ms; /* created in [since, until]; -1: open */
    int64_t limit;
};
/* body = array of job_runs, newest first; a page may be short with a cursor. */
void jw_runs_team_list(struct jw_core *c, const char *tenant, const struct jw_team_run_filter *f,
                       jw_core_list_cb cb, void *arg);
/* A page of a job's runs, newest first (page from 1). body = {"total": n,
 * "runs": [...]}; 404 when job_ref names no job. */
void jw_runs_page(struct jw_core *c, const char *tenant, const char *job_ref, int64_t page, int64_t page_size,
                  jw_core_cb cb, void *arg);

/* Trigger a job (POST /v1/jobs/:id/trigger). body: payload, metadata, tags,
 * priority, delay or scheduled_at, idempotency_key, concurrency_key,
 * max_attempts, timeout_secs, retry_backoff, retry_initial_delay_secs,
 * retry_max_delay_secs, debug_mode, parent_run_id, params, notify.
 * bulk: body is {"items": [...]}, and body = {"results": [{id, status,
 * run_token, idempotency_hit}], "total", "created"}; else body = the run
 * (an idempotency hit answers the earlier run, with created false).
 * flags: JW_TRIGGER_EXCLUSIVE refuses with 409 (err.ref = the existing
 * run's id) while a run of the job has not ended; JW_TRIGGER_BY_SLUG takes
 * job_ref as "<project_id>\n<slug>"; JW_TRIGGER_NO_SYSTEM refuses a system
 * job (400); JW_TRIGGER_SYSTEM_ONLY finds only system jobs (else 404);
 * JW_TRIGGER_TEAM_VIEW answers the run as seed 001's job_run (not bulk). */
enum {
    JW_TRIGGER_EXCLUSIVE = 1u,
    JW_TRIGGER_BY_SLUG = 2u,
    JW_TRIGGER_NO_SYSTEM = 4u,
    JW_TRIGGER_SYSTEM_ONLY = 8u,
    JW_TRIGGER_TEAM_VIEW = 16u,
};
typedef void (*jw_core_trigger_cb)(void *arg, const struct jw_error *err, struct jw_buf *body, bool created);
void jw_runs_trigger(struct jw_core *c, const struct jw_actor *a, const char *job_ref,
                     const struct jw_json *body, bool bulk, unsigned flags, jw_core_trigger_cb cb, void *arg);
/* body = the run after cancelling; 404, or 409 when it already ended. */
void jw_runs_cancel(struct jw_core *c, const char *tenant, const char *run_id, jw_core_cb cb, void *arg);
/* A worker's report on its run, authorised by the run token:
 * kind = progress | heartbeat | complete | fail. body = {"status",
 * "cancel_requested"}. 401 for a wrong token or an ended run. */
void jw_runs_report(struct jw_core *c, const char *run_id, const char *token, const char *kind,
                    const struct jw_json *body, jw_core_cb cb, void *arg);
/* seed 002's health of a job over the last window_ms. */
void jw_runs_health(struct jw_core *c, const char *tenant, const char *job_ref, int64_t window_ms,
                    jw_core_cb cb, void *arg);
/* ---- dependencies (core/jobs.c) ---- */

/* body = the dependency {id, job_id, depends_on_job_id, condition, created_at} */
void jw_deps_create(struct jw_core *c, const char *tenant, const char *job_ref, const struct jw_json *obj,
                    jw_core_cb cb, void *arg);
/* job_ref depends on each of on_refs (ids or names) under one condition,
 * all or none; a prerequisite it already has takes the new condition.
 * body = array of those dependencies. 404 naming on_refs[i] as
 * "depends_on_job_id[i]", 400 for a cycle. */
void jw_deps_set(struct jw_core *c, const char *tenant, const char *job_ref, const char *const *on_refs,
                 size_t n, const char *condition, jw_core_cb cb, void *arg);
void jw_deps_list(struct jw_core *c, const char *tenant, const char *job_ref, jw_core_cb cb, void *arg);
void jw_deps_delete(struct jw_core *c, const char *tenant, const char *job_ref, const char *dep_id,
                    jw_core_cb cb, void *arg);

/* ---- workflows (core/workflows.c) ---- */

/* Create a workflow: {name, description, steps: [{key, job_id (id or name),
 * depends_on: [keys], condition}]}, the steps a DAG. body = the workflow
 * with the steps' job ids resolved; 409 when the name is taken, 404 when a
 * step's job does not exist. */
void jw_workflows_create(struct jw_core *c, const struct jw_actor *a, const struct jw_json *obj,
                         jw_core_cb cb, void *arg);
/* ref = id or name; NULL lists every workflow (by name). */
void jw_workflows_get(struct jw_core *c, const char *tenant, const char *ref, jw_core_cb cb, void *arg);
void jw_workflows_delete(struct jw_core *c, const char *tenant, const char *ref, jw_core_cb cb, void *arg);
/* Start a workflow run: its root steps' runs start now, every other step's
 * when its prerequisites' runs have ended and its condition holds (a step
 * whose condition can no longer hold is skipped). body = the workflow run. */
void jw_workflows_trigger(struct jw_core *c, const struct jw_actor *a, const char *ref, jw_core_cb cb,
                          void *arg);
/* body = the workflow run {id, workflow_id, status, created_at,
 * finished_at, created_by, steps: [{key, job_id, run_id, status}]}. */
void jw_workflows_run_get(struct jw_core *c, const char *tenant, const char *ref, const char *run_id,
                          jw_core_cb cb, void *arg);

/* ---- system jobs (core/system.c) ---- */

/* One of seed 000's system job names (tokenExpiry, dataSync, ...)? Those
 * names are reserved: clients cannot give them to their own jobs. */
bool jw_system_job(const char *name);
/* Trigger a system job of the tenant by name, making it on first use.
 * 400 for an unknown name, 409 (err.ref = the run) while one runs. body =
 * the run (native form). */
void jw_system_trigger(struct jw_core *c, const struct jw_actor *a, const char *name, jw_core_trigger_cb cb,
                       void *arg);
/* body = an array, per system job: {jobName, exists, enabled, schedule,
 * nextRunAt, status (idle|queued|running), lastRun, counts,
 * averageDurationMs, progress}. */
void jw_system_stats(struct jw_core *c, const char *tenant, jw_core_cb cb, void *arg);

/* ---- API keys (core/apikeys.c) ---- */

/* body = the key record with "key" in clear: the only time it is shown. */
void jw_apikeys_create(struct jw_core *c, const struct jw_actor *a, const struct jw_json *obj, jw_core_cb cb,
                       void *arg);
void jw_apikeys_list(struct jw_core *c, const char *tenant, jw_core_cb cb, void *arg);
void jw_apikeys_delete(struct jw_core *c, const char *tenant, const char *id, jw_core_cb cb, void *arg);

typedef void (*jw_apikey_auth_cb)(void *arg, const struct jw_error *err, const struct jw_principal *p);
/* Look up a presented "jw_…" key; err 401 when unknown, revoked or expired. */
void jw_apikeys_authenticate(struct jw_core *c, const char *key, jw_apikey_auth_cb cb, void *arg);
bool jw_apikey_looks_like(const char *token);

/* ---- tenants (core/tenants.c) ---- */

/* A tenant's quotas: settings NULL reads them; else settings[i] (enum
 * jw_quota order; JW_QUOTA_KEEP, JW_QUOTA_DEFAULT or a limit, 0 = none, as
 * jw_quota_settings makes them) are applied first. body = {tenant_id,
 * quotas: {<name>: {limit (null: none), used, source: tenant|default}},
 * runs_held_by_inflight}. */
void jw_tenants_quotas(struct jw_core *c, const char *tenant, const int64_t *settings, jw_core_cb cb,
                       void *arg);

/* ---- the instances (core/cluster.c) ---- */

/* The instances sharing this Redis, each with the shards it owns, and the
 * shards no live instance owns (an operator's view: super_admin). */
void jw_cluster_status(struct jw_core *c, jw_core_cb cb, void *arg);

/* ---- shared helpers (core/common.c) ---- */

/* The error for a store failure: 503 (Redis away or slow) or 500. */
void jw_core_store_error(int store_status, struct jw_error *err);
/* A script's {"quota", name, limit, used, retry ms} answer as a 429 in
 * err; false (err untouched) when r is not one. */
struct jw_reply;
bool jw_core_quota_error(const struct jw_reply *r, struct jw_error *err);

#endif
