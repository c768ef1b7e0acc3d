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

/* Room for the pairs of one run (struct jw_run_pairs points into it). */
#define JW_RUN_FIELDS_MAX 128
struct jw_run_fields {
    const char *names[JW_RUN_FIELDS_MAX], *values[JW_RUN_FIELDS_MAX];
    size_t lens[JW_RUN_FIELDS_MAX];
    struct jw_run_pairs p;
};
/* A run's fields as a script packs them into one string (names and values
 * joined by NUL bytes: "name\0value\0name\0value", NUL-terminated as a
 * reply string is), pointed into, not copied. 0, or -1 when it is not
 * pairs (or more than JW_RUN_FIELDS_MAX). */
int jw_run_fields_unpack(struct jw_run_fields *f, const char *packed, size_t len);
/* The same, after the pairs f holds already (an earlier pair of a name
 * wins over a later one, as jw_run_pair finds them). */
int jw_run_fields_append(struct jw_run_fields *f, const char *packed, size_t len);

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

/* A trigger: one run asked for (the native body, and what the other
 * surfaces translate theirs to), each field checked. fields holds what the
 * run stores, as name/value pairs (JSON values as their text; the names
 * are the stored ones, e.g. max_attempts_override); start_ms is when it may
 * start; idem its idempotency key ("" for none, pointing into fields); sha
 * the SHA-256 of its payload's JSON (of "null" without one), for
 * dedup_window_secs. */
struct jw_trigger_field {
    const char *name; /* static */
    char *value;
    size_t len;
};
struct jw_trigger {
    struct jw_trigger_field *fields;
    size_t n, cap;
    int64_t start_ms;
    const char *idem;
    char sha[65];
};
/* Decode a trigger object made at now_ms; email: the caller's address (a
 * notify trigger mails it), or NULL. 0, or -1 with a 400 naming the field
 * (t then holds nothing). Free with jw_trigger_free either way. */
struct jw_error;
int jw_trigger_decode(const struct jw_json *item, const char *email, int64_t now_ms, struct jw_trigger *t,
                      struct jw_error *e) __attribute__((warn_unused_result));
void jw_trigger_free(struct jw_trigger *t);

/* A worker's progress report {processed, total, message} (each optional)
 * as the JSON the run keeps in `progress`, appended to out. 0, or -1 with a
 * 400 naming the field. */
struct jw_buf;
int jw_progress_decode(const struct jw_json *body, struct jw_buf *out, struct jw_error *e)
    __attribute__((warn_unused_result));

#endif
