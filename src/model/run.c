/* run: the run schema's field table, the run's JSON from its stored
 * fields, and the check of a trigger's fields. */
#include "jobwheel/run.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobwheel/buf.h"
#include "jobwheel/error.h"
#include "jobwheel/id.h"
#include "jobwheel/json.h"
#include "jobwheel/time.h"

/* R_TRACE, R_ATTEMPTS: JSON kept compact in Redis (see write_trace,
 * write_attempts), so that a run's values stay short and its hash a
 * listpack (Redis converts a hash holding a value over 64 bytes to a
 * hashtable, about twice the memory) */
enum kind { R_STR, R_INT, R_BOOL, R_TIME, R_JSON, R_TRACE, R_ATTEMPTS };

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
    {"execution_trace", R_TRACE, NULL},
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
    {"attempts", R_ATTEMPTS, "[]"},
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

int jw_run_fields_append(struct jw_run_fields *f, const char *packed, size_t len)
{
    size_t n = 2 * f->p.n, at = 0;
    while (packed && at < len) {
        if (n / 2 >= JW_RUN_FIELDS_MAX)
            return -1;
        const char *s = packed + at, *end = memchr(s, '\0', len - at);
        size_t k = end ? (size_t)(end - s) : len - at;
        if (n % 2 == 0)
            f->names[n / 2] = s;
        else {
            f->values[n / 2] = s;
            f->lens[n / 2] = k;
        }
        n++;
        at += k + 1;
    }
    if (n % 2 && len && packed[len - 1] == '\0') { /* "…name\0": the last value is empty */
        f->values[n / 2] = packed + len;
        f->lens[n / 2] = 0;
        n++;
    }
    if (n % 2)
        return -1;
    f->p = (struct jw_run_pairs){n / 2, f->names, f->values, f->lens};
    return 0;
}

int jw_run_fields_unpack(struct jw_run_fields *f, const char *packed, size_t len)
{
    f->p.n = 0;
    return jw_run_fields_append(f, packed, len);
}

static size_t field_named(const char *name)
{
    size_t f = 0;
    while (f < sizeof(fields) / sizeof(fields[0]) - 1 && strcmp(fields[f].name, name))
        f++;
    return f; /* (every name asked for is in the table) */
}

#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

/* The stored value of each field (NULL: absent), found in one pass over
 * the pairs: each name is looked up in the field names, sorted once. */
struct slots {
    const char *v[NFIELDS];
    size_t len[NFIELDS];
};

static int by_name(const void *a, const void *b)
{
    return strcmp(fields[*(const unsigned char *)a].name, fields[*(const unsigned char *)b].name);
}

static void fill_slots(struct slots *s, const struct jw_run_pairs *p)
{
    static unsigned char sorted[NFIELDS];
    static bool ready;
    if (!ready) {
        for (size_t f = 0; f < NFIELDS; f++)
            sorted[f] = (unsigned char)f;
        qsort(sorted, NFIELDS, 1, by_name);
        ready = true;
    }
    memset(s->v, 0, sizeof(s->v));
    for (size_t i = 0; i < p->n; i++) {
        size_t lo = 0, hi = NFIELDS;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            int c = strcmp(p->names[i], fields[sorted[mid]].name);
            if (c == 0) {
                if (!s->v[sorted[mid]]) { /* the first, as jw_run_pair finds */
                    s->v[sorted[mid]] = p->values[i];
                    s->len[sorted[mid]] = p->lens[i];
                }
                break;
            }
            if (c < 0)
                hi = mid;
            else
                lo = mid + 1;
        }
    }
    /* A run stores no job_version_id when it is the job's id (a job's
     * first version; run_create leaves it out). */
    static size_t vid = NFIELDS, jid;
    if (vid == NFIELDS) {
        vid = field_named("job_version_id");
        jid = field_named("job_id");
    }
    if (!s->v[vid]) {
        s->v[vid] = s->v[jid];
        s->len[vid] = s->len[jid];
    }
}

/* "key": field f as its kind, its default or null when absent */
/* Each field's key as JSON writes it ("\"job_id\":"), made once: a run
 * is written with every key, and quoting them each time was most of the
 * work. */
static struct {
    char text[40];
    size_t len;
} quoted[NFIELDS];

/* A stored JSON value parsed, or NULL (the caller writes null). */
static struct jw_json_doc *parse_stored(const char *v, size_t len)
{
    char why[64];
    return jw_json_parse(v, len, JW_JSON_STORED_DEPTH, why, sizeof(why));
}

/* execution_trace: stored as [queue_wait_ms, dequeue_ms, dns_ms,
 * connect_ms, ttfb_ms, transfer_ms, total_ms, dispatch_ms], shown as the
 * object of those names; an object (earlier releases) is shown as it is. */
static void write_trace(struct jw_jsonw *w, const char *v, size_t len)
{
    static const char *const names[] = {"queue_wait_ms", "dequeue_ms", "dns_ms",   "connect_ms",
                                        "ttfb_ms",       "transfer_ms", "total_ms", "dispatch_ms"};
    struct jw_json_doc *doc = parse_stored(v, len);
    const struct jw_json *t = doc ? jw_json_root(doc) : NULL;
    if (!t) {
        jw_jsonw_null(w);
    } else if (t->type != JW_JSON_ARRAY || t->len != sizeof(names) / sizeof(names[0])) {
        jw_jsonw_value(w, t);
    } else {
        jw_jsonw_obj_open(w);
        for (size_t i = 0; i < t->len; i++) {
            jw_jsonw_key(w, names[i]);
            jw_jsonw_value(w, t->u.items[i]);
        }
        jw_jsonw_obj_close(w);
    }
    jw_json_doc_free(doc);
}

/* attempts: a JSON array, each attempt stored as [attempt, started (ms),
 * duration (ms), "e" (endpoint) | "f" (fallback), http_status | null,
 * outcome, error | null, next] and shown as the object of those (started_at
 * and finished_at as times); an object (earlier releases, and what the
 * scripts log: a worker's report) is shown as it is. */
static void write_attempts(struct jw_jsonw *w, const char *v, size_t len)
{
    struct jw_json_doc *doc = parse_stored(v, len);
    const struct jw_json *all = doc ? jw_json_root(doc) : NULL;
    if (!all || all->type != JW_JSON_ARRAY) {
        jw_jsonw_raw(w, "[]", 2);
        jw_json_doc_free(doc);
        return;
    }
    jw_jsonw_arr_open(w);
    for (size_t i = 0; i < all->len; i++) {
        const struct jw_json *a = all->u.items[i];
        int64_t started, took;
        if (a->type != JW_JSON_ARRAY || a->len != 8 || jw_json_int(a->u.items[1], &started) != 0 ||
            jw_json_int(a->u.items[2], &took) != 0) {
            jw_jsonw_value(w, a);
            continue;
        }
        const struct jw_json *const *x = (const struct jw_json *const *)a->u.items;
        bool fallback = x[3]->type == JW_JSON_STRING && !strcmp(x[3]->u.str, "f");
        jw_jsonw_obj_open(w);
        jw_jsonw_key(w, "attempt");
        jw_jsonw_value(w, x[0]);
        jw_jsonw_ktime(w, "started_at", started);
        jw_jsonw_ktime(w, "finished_at", started + took);
        jw_jsonw_kstr(w, "target", fallback ? "fallback" : "endpoint");
        jw_jsonw_key(w, "http_status");
        jw_jsonw_value(w, x[4]);
        jw_jsonw_key(w, "outcome");
        jw_jsonw_value(w, x[5]);
        jw_jsonw_key(w, "error");
        jw_jsonw_value(w, x[6]);
        jw_jsonw_key(w, "next");
        jw_jsonw_value(w, x[7]);
        jw_jsonw_obj_close(w);
    }
    jw_jsonw_arr_close(w);
    jw_json_doc_free(doc);
}

/* key: NULL for the field's own name */
static void write_field(struct jw_jsonw *w, const char *key, size_t f, const struct slots *s)
{
    const struct field *fd = &fields[f];
    size_t len = s->len[f];
    const char *v = s->v[f];
    if (!v && fd->def) {
        v = fd->def;
        len = strlen(v);
    }
    if (!key && !quoted[f].len) {
        int n = snprintf(quoted[f].text, sizeof(quoted[f].text), "\"%s\":", fd->name);
        quoted[f].len = n > 0 && (size_t)n < sizeof(quoted[f].text) ? (size_t)n : 0;
    }
    if (!key && quoted[f].len)
        jw_jsonw_key_quoted(w, quoted[f].text, quoted[f].len);
    else
        jw_jsonw_key(w, key ? key : fd->name);
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
    case R_TRACE: write_trace(w, v, len); break;
    case R_ATTEMPTS: write_attempts(w, v, len); break;
    }
}

void jw_run_write(struct jw_jsonw *w, const struct jw_run_pairs *p)
{
    struct slots s;
    fill_slots(&s, p);
    jw_jsonw_obj_open(w);
    for (size_t f = 0; f < NFIELDS; f++)
        write_field(w, NULL, f, &s);
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
    struct slots s;
    fill_slots(&s, p);
    size_t len = 0;
    const char *status = jw_run_pair(p, "status", &len);
    jw_jsonw_obj_open(w);
    write_field(w, "id", field_named("id"), &s);
    jw_jsonw_kstr(w, "job_type", job_type);
    jw_jsonw_kstr(w, "status", status ? team_status(status, len) : "pending");
    jw_jsonw_kstr(w, "team_id", team_id);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        write_field(w, names[i][0], field_named(names[i][1]), &s);
    jw_jsonw_obj_close(w);
}

/* ---- triggers --------------------------------------------------------------------- */

static void put(struct jw_trigger *t, const char *name, const char *value, size_t len)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 8;
        t->fields = jw_realloc(t->fields, t->cap * sizeof(*t->fields));
    }
    t->fields[t->n++] = (struct jw_trigger_field){name, jw_strndup(value, len), len};
}

static void put_json(struct jw_trigger *t, const char *name, const struct jw_json *v)
{
    struct jw_buf b = JW_BUF_INIT;
    struct jw_jsonw w;
    jw_jsonw_init(&w, &b);
    jw_jsonw_value(&w, v);
    put(t, name, b.data ? b.data : "", b.len);
    jw_buf_free(&b);
}

static void put_int(struct jw_trigger *t, const char *name, int64_t n)
{
    char v[24];
    snprintf(v, sizeof(v), "%lld", (long long)n);
    put(t, name, v, strlen(v));
}

static int bad(struct jw_error *e, const char *field, const char *msg)
{
    return jw_fail(e, 400, field, "%s %s", field, msg);
}

static int int_field(const struct jw_json *v, const char *field, int64_t min, int64_t max, int64_t *out,
                     struct jw_error *e)
{
    if (v->type != JW_JSON_NUMBER || jw_json_int(v, out) != 0 || *out < min || *out > max)
        return jw_fail(e, 400, field, "%s must be a whole number from %lld to %lld", field, (long long)min,
                       (long long)max);
    return 0;
}

static int short_string(const struct jw_json *v, const char *field, struct jw_error *e)
{
    if (v->type != JW_JSON_STRING || v->len == 0 || v->len > 200)
        return bad(e, field, "must be a string of 1 to 200 characters");
    for (size_t i = 0; i < v->len; i++)
        if ((unsigned char)v->u.str[i] < 0x20)
            return bad(e, field, "must not contain control characters");
    return 0;
}

/* An object of short strings (metadata, tags), stored as JSON text. */
static int string_map(struct jw_trigger *t, const char *field, const struct jw_json *v, struct jw_error *e)
{
    if (v->type != JW_JSON_OBJECT)
        return bad(e, field, "must be an object of strings");
    if (v->len > 50)
        return bad(e, field, "may have at most 50 entries");
    for (size_t i = 0; i < v->len; i++) {
        const struct jw_json *x = v->u.members[i].val;
        if (x->type != JW_JSON_STRING || x->len > 1000 || strlen(v->u.members[i].key) > 64 ||
            !v->u.members[i].key[0])
            return bad(e, field, "must map keys of 1-64 characters to strings of at most 1000");
    }
    put_json(t, field, v);
    return 0;
}

/* A field a trigger may give and what it is stored as: its checks are in
 * jw_trigger_decode, by kind. */
enum tkind { T_PAYLOAD, T_MAP, T_PARAMS, T_PRIORITY, T_DELAY, T_SCHEDULED_AT, T_KEY, T_ATTEMPTS, T_TIMEOUT,
             T_BACKOFF, T_RETRY_DELAY, T_FLAG, T_PARENT, T_PROJECT };
static const struct {
    const char *name, *stored;
    enum tkind kind;
} trigger_fields[] = {
    {"payload", "payload", T_PAYLOAD},
    {"metadata", "metadata", T_MAP},
    {"tags", "tags", T_MAP},
    {"params", "params", T_PARAMS},
    {"priority", "priority", T_PRIORITY},
    {"delay", NULL, T_DELAY},
    {"delay_secs", NULL, T_DELAY},
    {"scheduled_at", NULL, T_SCHEDULED_AT},
    {"idempotency_key", "idempotency_key", T_KEY},
    {"concurrency_key", "concurrency_key", T_KEY},
    {"max_attempts", "max_attempts_override", T_ATTEMPTS},
    {"max_attempts_override", "max_attempts_override", T_ATTEMPTS},
    {"timeout_secs", "timeout_secs_override", T_TIMEOUT},
    {"timeout_secs_override", "timeout_secs_override", T_TIMEOUT},
    {"retry_backoff", "retry_backoff", T_BACKOFF},
    {"retry_initial_delay_secs", "retry_initial_delay_secs", T_RETRY_DELAY},
    {"retry_max_delay_secs", "retry_max_delay_secs", T_RETRY_DELAY},
    {"debug_mode", "debug_mode", T_FLAG},
    {"notify", "notify", T_FLAG},
    {"parent_run_id", "parent_run_id", T_PARENT},
    {"project_id", "project_id", T_PROJECT},
};

int jw_trigger_decode(const struct jw_json *item, const char *email, int64_t now_ms, struct jw_trigger *t,
                      struct jw_error *e)
{
    memset(t, 0, sizeof(*t));
    t->start_ms = now_ms;
    t->idem = "";
    if (!item || item->type != JW_JSON_OBJECT)
        return jw_fail(e, 400, "", "a trigger is a JSON object");
    bool have_payload = false;
    for (size_t i = 0; i < item->len; i++) {
        const char *k = item->u.members[i].key;
        const struct jw_json *v = item->u.members[i].val;
        if (v->type == JW_JSON_NULL) /* null: as if absent */
            continue;
        size_t f = 0, nf = sizeof(trigger_fields) / sizeof(trigger_fields[0]);
        while (f < nf && strcmp(trigger_fields[f].name, k))
            f++;
        if (f == nf) {
            jw_trigger_free(t);
            return jw_fail(e, 400, k, "unknown field \"%.60s\"", k);
        }
        const char *name = trigger_fields[f].stored;
        int64_t n;
        int rc = 0;
        switch (trigger_fields[f].kind) {
        case T_PAYLOAD:
            put_json(t, name, v);
            jw_sha256_hex(t->fields[t->n - 1].value, t->fields[t->n - 1].len, t->sha);
            have_payload = true;
            break;
        case T_MAP: rc = string_map(t, name, v, e); break;
        case T_PARAMS:
            if (v->type != JW_JSON_OBJECT)
                rc = bad(e, k, "must be an object");
            else
                put_json(t, name, v);
            break;
        case T_PRIORITY:
            if ((rc = int_field(v, k, -1000, 1000, &n, e)) == 0)
                put_int(t, name, n);
            break;
        case T_DELAY:
            if ((rc = int_field(v, k, 0, 31536000, &n, e)) == 0)
                t->start_ms = now_ms + n * 1000;
            break;
        case T_SCHEDULED_AT:
            if (v->type != JW_JSON_STRING || jw_time_parse(v->u.str, &t->start_ms) != 0)
                rc = bad(e, k, "must be an ISO 8601 date-time");
            break;
        case T_KEY:
            if ((rc = short_string(v, k, e)) == 0)
                put(t, name, v->u.str, v->len);
            break;
        case T_ATTEMPTS:
            if ((rc = int_field(v, k, 1, 100, &n, e)) == 0)
                put_int(t, name, n);
            break;
        case T_TIMEOUT:
            if ((rc = int_field(v, k, 1, 86400, &n, e)) == 0)
                put_int(t, name, n);
            break;
        case T_BACKOFF:
            if (v->type != JW_JSON_STRING ||
                (strcmp(v->u.str, "fixed") && strcmp(v->u.str, "linear") && strcmp(v->u.str, "exponential")))
                rc = bad(e, k, "must be fixed, linear or exponential");
            else
                put(t, name, v->u.str, v->len);
            break;
        case T_RETRY_DELAY:
            if ((rc = int_field(v, k, 0, 86400, &n, e)) == 0)
                put_int(t, name, n);
            break;
        case T_FLAG:
            if (v->type != JW_JSON_BOOL) {
                rc = bad(e, k, "must be true or false");
                break;
            }
            put(t, name, v->u.b ? "1" : "0", 1);
            /* the mail goes to the caller (the token's email claim) */
            if (!strcmp(name, "notify") && v->u.b && email && email[0])
                put(t, "_notify_to", email, strlen(email));
            break;
        case T_PARENT:
            if (v->type != JW_JSON_STRING || !jw_id_is_uuid(v->u.str))
                rc = bad(e, k, "must be a run id");
            else
                put(t, name, v->u.str, v->len);
            break;
        case T_PROJECT:
            if ((rc = short_string(v, k, e)) == 0)
                put(t, name, v->u.str, v->len);
            break;
        }
        if (rc != 0) {
            jw_trigger_free(t);
            return -1;
        }
    }
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->fields[i].name, "idempotency_key"))
            t->idem = t->fields[i].value;
    if (!have_payload)
        jw_sha256_hex("null", 4, t->sha);
    return 0;
}

void jw_trigger_free(struct jw_trigger *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->fields[i].value);
    free(t->fields);
    t->fields = NULL;
    t->n = t->cap = 0;
    t->idem = "";
}

int jw_progress_decode(const struct jw_json *body, struct jw_buf *out, struct jw_error *e)
{
    static const char *const nums[] = {"processed", "total"};
    int64_t n[2] = {0, 0};
    bool has[2] = {false, false};
    for (int i = 0; i < 2; i++) {
        const struct jw_json *v = body ? jw_json_get(body, nums[i]) : NULL;
        has[i] = v && v->type != JW_JSON_NULL;
        if (has[i] && int_field(v, nums[i], 0, INT64_MAX / 2, &n[i], e) != 0)
            return -1;
    }
    const struct jw_json *m = body ? jw_json_get(body, "message") : NULL;
    if (m && m->type != JW_JSON_NULL && (m->type != JW_JSON_STRING || m->len > 1000))
        return jw_fail(e, 400, "message", "message must be a string of at most 1000 characters");
    struct jw_jsonw w;
    jw_jsonw_init(&w, out);
    jw_jsonw_obj_open(&w);
    for (int i = 0; i < 2; i++) {
        jw_jsonw_key(&w, nums[i]);
        if (has[i])
            jw_jsonw_int(&w, n[i]);
        else
            jw_jsonw_null(&w);
    }
    jw_jsonw_kstr(&w, "message", m && m->type == JW_JSON_STRING ? m->u.str : NULL);
    jw_jsonw_obj_close(&w);
    return 0;
}
