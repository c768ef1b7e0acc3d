/* run: the run schema's field table and the run's JSON from its stored fields. */
#include "jobwheel/run.h"

#include <stdlib.h>
#include <string.h>

enum kind { R_STR, R_INT, R_BOOL, R_TIME, R_JSON };

struct field {
    const char *name;
    enum kind kind;
    const char *def; /* shown when absent (NULL = null) */
};

/* seed 002's run schema in its order, then seed 001's extra fields */
static const struct field fields[] = {
    {"id", R_STR, NULL},
    {"job_id", R_STR, NULL},
    {"project_id", R_STR, NULL},
    {"status", R_STR, NULL},
    {"attempt", R_INT, "0"},
    {"payload", R_JSON, NULL},
    {"result", R_JSON, NULL},
    {"metadata", R_JSON, NULL},
    {"error", R_STR, NULL},
    {"triggered_by", R_STR, NULL},
    {"scheduled_at", R_TIME, NULL},
    {"started_at", R_TIME, NULL},
    {"finished_at", R_TIME, NULL},
    {"heartbeat_at", R_TIME, NULL},
    {"next_retry_at", R_TIME, NULL},
    {"expires_at", R_TIME, NULL},
    {"parent_run_id", R_STR, NULL},
    {"priority", R_INT, "0"},
    {"idempotency_key", R_STR, NULL},
    {"job_version", R_INT, NULL},
    {"workflow_step_run_id", R_STR, NULL},
    {"max_attempts_override", R_INT, NULL},
    {"timeout_secs_override", R_INT, NULL},
    {"retry_backoff", R_STR, NULL},
    {"retry_initial_delay_secs", R_INT, NULL},
    {"retry_max_delay_secs", R_INT, NULL},
    {"execution_trace", R_JSON, NULL},
    {"debug_mode", R_BOOL, "0"},
    {"continuation_of", R_STR, NULL},
    {"lineage_depth", R_INT, "0"},
    {"tags", R_JSON, NULL},
    {"job_version_id", R_STR, NULL},
    {"created_by", R_STR, NULL},
    {"batch_id", R_STR, NULL},
    {"concurrency_key", R_STR, NULL},
    {"created_at", R_TIME, NULL},
    {"params", R_JSON, NULL},
    {"progress", R_JSON, NULL},
    {"notify", R_BOOL, "0"},
    /* jobwheel's own: every attempt, with its outcome */
    {"attempts", R_JSON, "[]"},
};

const char *jw_run_pair(const struct jw_run_pairs *p, const char *name, size_t *len)
{
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->names[i], name)) {
            if (len)
                *len = p->lens[i];
            return p->values[i];
        }
    return NULL;
}

void jw_run_write(struct jw_jsonw *w, const struct jw_run_pairs *p)
{
    jw_jsonw_obj_open(w);
    for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
        const struct field *fd = &fields[f];
        size_t len = 0;
        const char *v = jw_run_pair(p, fd->name, &len);
        if (!v && fd->def) {
            v = fd->def;
            len = strlen(v);
        }
        jw_jsonw_key(w, fd->name);
        if (!v) {
            jw_jsonw_null(w);
            continue;
        }
        switch (fd->kind) {
        case R_STR: jw_jsonw_strn(w, v, len); break;
        case R_INT: jw_jsonw_int(w, strtoll(v, NULL, 10)); break;
        case R_BOOL: jw_jsonw_bool(w, v[0] == '1'); break;
        case R_TIME: jw_jsonw_time(w, strtoll(v, NULL, 10)); break;
        case R_JSON: jw_jsonw_raw(w, v, len); break;
        }
    }
    jw_jsonw_obj_close(w);
}
