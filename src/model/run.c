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
        if (p->names[i][0] == name[0] && !strcmp(p->names[i], name)) { /* first letters first: most differ */
            if (len)
                *len = p->lens[i];
            return p->values[i];
        }
    return NULL;
}

static const struct field *field_named(const char *name)
{
    for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++)
        if (!strcmp(fields[f].name, name))
            return &fields[f];
    return NULL;
}

/* "key": the stored field as its kind, its default or null when absent */
static void write_field(struct jw_jsonw *w, const char *key, const struct field *fd, const struct jw_run_pairs *p)
{
    size_t len = 0;
    const char *v = jw_run_pair(p, fd->name, &len);
    if (!v && fd->def) {
        v = fd->def;
        len = strlen(v);
    }
    jw_jsonw_key(w, key);
    if (!v) {
        jw_jsonw_null(w);
        return;
    }
    switch (fd->kind) {
    case R_STR: jw_jsonw_strn(w, v, len); break;
    case R_INT: jw_jsonw_int(w, strtoll(v, NULL, 10)); break;
    case R_BOOL: jw_jsonw_bool(w, v[0] == '1'); break;
    case R_TIME: jw_jsonw_time(w, strtoll(v, NULL, 10)); break;
    case R_JSON: jw_jsonw_raw(w, v, len); break;
    }
}

void jw_run_write(struct jw_jsonw *w, const struct jw_run_pairs *p)
{
    jw_jsonw_obj_open(w);
    for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++)
        write_field(w, fields[f].name, &fields[f], p);
    jw_jsonw_obj_close(w);
}

/* seed 001's five statuses over ours */
static const struct {
    const char *team, *ours;
} team_statuses[] = {
    {"pending", "pending,delayed,waiting"},
    {"running", "running"},
    {"completed", "completed"},
    {"failed", "failed,timed_out,crashed,expired"},
    {"cancelled", "cancelled,skipped"},
};

const char *jw_run_team_statuses(const char *team_status)
{
    for (size_t i = 0; i < sizeof(team_statuses) / sizeof(team_statuses[0]); i++)
        if (!strcmp(team_statuses[i].team, team_status))
            return team_statuses[i].ours;
    return NULL;
}

static const char *team_status(const char *ours, size_t len)
{
    for (size_t i = 0; i < sizeof(team_statuses) / sizeof(team_statuses[0]); i++) {
        const char *s = team_statuses[i].ours;
        while (*s) {
            size_t n = strcspn(s, ",");
            if (n == len && !strncmp(s, ours, len))
                return team_statuses[i].team;
            s += n + (s[n] == ',');
        }
    }
    return "pending";
}

void jw_run_write_team(struct jw_jsonw *w, const struct jw_run_pairs *p, const char *job_type, const char *team_id)
{
    /* seed 001's job_run: its names in its order; completed_at is our finished_at */
    static const char *const names[][2] = {
        {"project_id", "project_id"}, {"triggered_by", "triggered_by"}, {"params", "params"},
        {"progress", "progress"},     {"result", "result"},             {"error", "error"},
        {"notify", "notify"},         {"started_at", "started_at"},     {"completed_at", "finished_at"},
        {"created_at", "created_at"},
    };
    size_t len = 0;
    const char *status = jw_run_pair(p, "status", &len);
    jw_jsonw_obj_open(w);
    write_field(w, "id", field_named("id"), p);
    jw_jsonw_kstr(w, "job_type", job_type);
    jw_jsonw_kstr(w, "status", status ? team_status(status, len) : "pending");
    jw_jsonw_kstr(w, "team_id", team_id);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        write_field(w, names[i][0], field_named(names[i][1]), p);
    jw_jsonw_obj_close(w);
}
