/* run: one execution of a job — its fields (seed 002's run schema plus seed
 * 001's params, progress and notify, and the log of its attempts), how they
 * are stored (one Redis hash
 * field per API field: text as is, integers and times (epoch ms) as
 * decimals, booleans as 1/0, JSON values as JSON text) and their JSON. Pure. */
#ifndef JOBWHEEL_RUN_H
#define JOBWHEEL_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "jobwheel/json.h"

/* Statuses (SPEC §3). */
#define JW_RUN_DELAYED "delayed"
#define JW_RUN_PENDING "pending"
#define JW_RUN_WAITING "waiting"
#define JW_RUN_RUNNING "running"
#define JW_RUN_COMPLETED "completed"
#define JW_RUN_FAILED "failed"
#define JW_RUN_TIMED_OUT "timed_out"
#define JW_RUN_CRASHED "crashed"
#define JW_RUN_CANCELLED "cancelled"
#define JW_RUN_EXPIRED "expired"
#define JW_RUN_SKIPPED "skipped"

/* A stored run as field/value pairs (what HGETALL gives). */
struct jw_run_pairs {
    size_t n;
    const char *const *names;
    const char *const *values;
    const size_t *lens;
};

/* The run's JSON: every field of the schema in order, null when absent. */
void jw_run_write(struct jw_jsonw *w, const struct jw_run_pairs *p);
/* Seed 001's job_run view: id, job_type, status (its five: pending,
 * running, completed, failed, cancelled), team_id, project_id,
 * triggered_by, params, progress, result, error, notify, started_at,
 * completed_at, created_at. */
void jw_run_write_team(struct jw_jsonw *w, const struct jw_run_pairs *p, const char *job_type, const char *team_id);
/* The statuses of ours a seed 001 status stands for ("a,b,c"), or NULL. */
const char *jw_run_team_statuses(const char *team_status);
/* One stored field's value, or NULL. */
const char *jw_run_pair(const struct jw_run_pairs *p, const char *name, size_t *len);

#endif
