/* job: the job definition — its fields, their validation, and its JSON.
 * Pure: decoding, defaults, cross-field rules, encoding. Cron expressions
 * and time-zone names are checked by core (they need sched/), everything
 * else here. The stored form is the API form without its nulls and default
 * values (so a schedule costs Redis less); the webhook secret appears masked
 * in both, the clear secret is kept apart. */
#ifndef JOBWHEEL_JOB_H
#define JOBWHEEL_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include "jobwheel/buf.h"
#include "jobwheel/error.h"
#include "jobwheel/json.h"

/* In the order the API writes them (seed 002's schema). */
enum jw_job_field {
    JW_JOB_ID,
    JW_JOB_PROJECT_ID,
    JW_JOB_GROUP_ID,
    JW_JOB_NAME,
    JW_JOB_SLUG,
    JW_JOB_DESCRIPTION,
    JW_JOB_CRON,
    JW_JOB_PAYLOAD_SCHEMA,
    JW_JOB_TAGS,
    JW_JOB_ENDPOINT_URL,
    JW_JOB_FALLBACK_ENDPOINT_URL,
    JW_JOB_MAX_ATTEMPTS,
    JW_JOB_TIMEOUT_SECS,
    JW_JOB_MAX_CONCURRENCY,
    JW_JOB_EXECUTION_WINDOW_CRON,
    JW_JOB_TIMEZONE,
    JW_JOB_RATE_LIMIT_MAX,
    JW_JOB_RATE_LIMIT_WINDOW_SECS,
    JW_JOB_MAX_CONCURRENCY_PER_KEY,
    JW_JOB_RATE_LIMIT_KEYS,
    JW_JOB_DEFAULT_RUN_METADATA,
    JW_JOB_DEDUP_WINDOW_SECS,
    JW_JOB_ENABLED,
    JW_JOB_WEBHOOK_URL,
    JW_JOB_WEBHOOK_SECRET,
    JW_JOB_RUN_TTL_SECS,
    JW_JOB_RETRY_STRATEGY,
    JW_JOB_RETRY_DELAYS_SECS,
    JW_JOB_ENVIRONMENT_ID,
    JW_JOB_VERSION,
    JW_JOB_VERSION_ID,
    JW_JOB_VERSION_POLICY,
    JW_JOB_BACKWARDS_COMPATIBLE,
    JW_JOB_CREATED_BY,
    JW_JOB_UPDATED_BY,
    JW_JOB_CREATED_AT,
    JW_JOB_UPDATED_AT,
    /* scheduling, beyond seed 002 (SPEC §3, §5) */
    JW_JOB_INTERVAL_SECONDS,
    JW_JOB_START_AT,
    JW_JOB_RUN_AT,
    JW_JOB_EXCLUSIONS,
    JW_JOB_MISFIRE_POLICY,
    JW_JOB_MISFIRE_MAX_RUNS,
    JW_JOB_CATCHUP_WINDOW_SECS,
    JW_JOB_PAUSED,
    JW_JOB_DELETED_AT,
    /* what the job does: HttpCall (endpoint_url) or another type, set up by
     * job_configuration (see job_config.c) */
    JW_JOB_JOB_TYPE,
    JW_JOB_JOB_CONFIGURATION,
    /* one of seed 000's system jobs (made by jobwheel, not by clients) */
    JW_JOB_SYSTEM,
    JW_JOB_NFIELDS
};

/* One field's value. Strings, enums, URLs and structured values (kept as
 * validated JSON text) use s; integers and times (epoch ms) use i. */
struct jw_fval {
    bool set; /* false = null */
    char *s;
    int64_t i;
    bool b;
};

struct jw_job {
    struct jw_fval f[JW_JOB_NFIELDS];
    /* A webhook secret given (or generated) by this request, in clear; NULL
     * otherwise. f[JW_JOB_WEBHOOK_SECRET] holds its masked form. */
    char *secret_clear;
    bool secret_generated; /* jobwheel made it: the response shows it once */
    bool secret_removed;   /* the request set webhook_secret to null */
    /* The next firing, for API views (not a stored field: it moves with
     * every firing and lives in the scheduler's due set). */
    bool has_next;
    int64_t next_run_at;
};

enum jw_job_view {
    /* what Redis keeps: no nulls, no defaults, no id (the jobs hash field;
     * the store's scripts put it back first in the JSON they return), no
     * updated_at/updated_by equal to created_at/created_by */
    JW_JOB_VIEW_STORED,
    JW_JOB_VIEW_API,        /* what clients see: + next_run_at */
    JW_JOB_VIEW_API_REVEAL, /* the same, showing a secret this request made */
};

enum jw_job_mode {
    JW_JOB_CREATE, /* a new job from a client: unknown fields refused, server fields ignored */
    JW_JOB_PATCH,  /* changes from a client over an existing job (null resets) */
    JW_JOB_STORED, /* our own stored JSON (with its id): every field read, defaults filled */
};

struct jw_job_rules {
    bool allow_private_targets; /* URLs may name loopback/private addresses */
    bool code_execution;        /* CodeExecution jobs allowed */
    bool file_operations;       /* FileOperation jobs allowed */
};

/* ---- job types (job_config.c) ---- */

#define JW_OUTPUT_MAX (1024 * 1024) /* captured output / written content, bytes */

extern const char *const jw_job_types[];        /* NULL-terminated */
extern const char *const jw_builtin_handlers[]; /* Builtin job_configuration.handler */
extern const char *const jw_file_operations[];  /* FileOperation job_configuration.operation */

/* Check a job type's job_configuration (cfg may be NULL: none given).
 * 0, or -1 with a 400 naming job_configuration.<field>. */
int jw_job_config_check(const char *type, const struct jw_json *cfg, const struct jw_job_rules *rules,
                        struct jw_error *err) __attribute__((warn_unused_result));

/* A Redis function or library name that is jobwheel's own: it starts with
 * "jobwheel_" in any case (Redis compares function names so). A
 * StoredProcedure job may not call such a function, nor any function of
 * a library so named. */
bool jw_job_reserved_name(const char *name);

/* A StoredProcedure job's function (job_configuration.function) into out
 * (cap bytes); false, out "", for another job type, no function, or one
 * that does not fit. */
bool jw_job_function(const struct jw_job *job, char *out, size_t cap);

/* Read obj's fields into job (which holds the current values for PATCH and
 * is zeroed for CREATE/STORED). 0, or -1 with err (400, naming the field). */
int jw_job_decode(struct jw_job *job, const struct jw_json *obj, enum jw_job_mode mode, struct jw_error *err)
    __attribute__((warn_unused_result));

/* After decoding a create or a patch: fill defaults (slug from name, …),
 * check required fields and cross-field rules, generate a webhook secret
 * when a webhook_url has none. */
int jw_job_complete(struct jw_job *job, const struct jw_job_rules *rules, struct jw_error *err)
    __attribute__((warn_unused_result));

/* The job's JSON in a view. */
void jw_job_encode(const struct jw_job *job, struct jw_buf *out, enum jw_job_view view);
void jw_job_write(const struct jw_job *job, struct jw_jsonw *w, enum jw_job_view view);
/* The API view of a stored job's JSON, given its next firing (< 0: none).
 * 0, or -1 when the stored JSON does not decode (nothing written). */
int jw_job_api_from_stored(struct jw_buf *out, const char *stored, size_t len, int64_t next_ms);

/* Deep copy / release. */
void jw_job_copy(struct jw_job *dst, const struct jw_job *src);
void jw_job_free(struct jw_job *job);

/* Field helpers. */
const char *jw_job_field_name(enum jw_job_field f);
void jw_job_set_str(struct jw_job *job, enum jw_job_field f, const char *s); /* NULL = unset */
void jw_job_set_int(struct jw_job *job, enum jw_job_field f, int64_t v);
/* True when two jobs differ in any field a client can change. */
bool jw_job_differs(const struct jw_job *a, const struct jw_job *b);

/* Validate a Standard Webhooks secret: "whsec_" + base64 of 24–64 bytes. */
bool jw_webhook_secret_valid(const char *s);

#endif
