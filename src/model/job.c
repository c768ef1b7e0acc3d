/* job: the job definition's field table, validation, defaults and JSON. */
#include "jobwheel/job.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "jobwheel/id.h"
#include "jobwheel/net.h"
#include "jobwheel/time.h"

enum kind {
    K_UUID,  /* server-made id */
    K_LABEL, /* project/group/environment ids: [A-Za-z0-9._:-]{1,128} */
    K_NAME,  /* one line of text */
    K_SLUG,  /* [a-z0-9_-], starting alphanumeric */
    K_TEXT,  /* free text, newlines allowed */
    K_CRON,  /* a cron expression (parsed by core) */
    K_TZ,    /* an IANA name (looked up by core) */
    K_URL,   /* http(s) URL */
    K_INT,
    K_BOOL,
    K_ENUM,
    K_TIME,
    K_ACTOR,  /* created_by / updated_by */
    K_OBJECT, /* any JSON object (payload_schema) */
    K_STRMAP, /* object of short strings (tags, default_run_metadata) */
    K_RATEKEYS,
    K_INTLIST,
    K_SECRET,
};

#define RO 1u      /* set by the server; ignored in client input */
#define NOTNULL 2u /* a client may not set it to null */
#define HASDEF 4u  /* null (or absent at creation) means the default */

struct field {
    const char *name; /* in the API */
    const char *key;  /* in the stored form, which Redis keeps for every
                       * job: short keys make a plain job's a sixth smaller.
                       * The scripts read them by name through a map
                       * scripts/embed_lua.py makes from this table */
    enum kind kind;
    unsigned flags;
    int64_t min, max; /* K_INT range; string max length */
    const char *def;  /* default, as text */
    const char *const *enums;
};

static const char *const retry_strategies[] = {"exponential", "fixed", "linear", NULL};
static const char *const version_policies[] = {"latest", "pin", NULL};
static const char *const misfire_policies[] = {"fire_once", "skip", "fire_all", NULL};

static const struct field fields[JW_JOB_NFIELDS] = {
    [JW_JOB_ID] = {"id", "id", K_UUID, RO, 0, 0, NULL, NULL},
    [JW_JOB_PROJECT_ID] = {"project_id", "p", K_LABEL, 0, 0, 128, NULL, NULL},
    [JW_JOB_GROUP_ID] = {"group_id", "g", K_LABEL, 0, 0, 128, NULL, NULL},
    [JW_JOB_NAME] = {"name", "n", K_NAME, NOTNULL, 0, 200, NULL, NULL},
    [JW_JOB_SLUG] = {"slug", "s", K_SLUG, HASDEF, 0, 100, NULL, NULL},
    [JW_JOB_DESCRIPTION] = {"description", "d", K_TEXT, 0, 0, 2000, NULL, NULL},
    [JW_JOB_CRON] = {"cron", "c", K_CRON, 0, 0, 256, NULL, NULL},
    [JW_JOB_PAYLOAD_SCHEMA] = {"payload_schema", "ps", K_OBJECT, 0, 0, 65536, NULL, NULL},
    [JW_JOB_TAGS] = {"tags", "t", K_STRMAP, 0, 0, 50, NULL, NULL},
    [JW_JOB_ENDPOINT_URL] = {"endpoint_url", "u", K_URL, 0, 0, JW_URL_MAX, NULL, NULL},
    [JW_JOB_FALLBACK_ENDPOINT_URL] = {"fallback_endpoint_url", "fu", K_URL, 0, 0, JW_URL_MAX, NULL, NULL},
    [JW_JOB_MAX_ATTEMPTS] = {"max_attempts", "ma", K_INT, HASDEF, 1, 100, "3", NULL},
    [JW_JOB_TIMEOUT_SECS] = {"timeout_secs", "to", K_INT, HASDEF, 1, 86400, "60", NULL},
    [JW_JOB_MAX_CONCURRENCY] = {"max_concurrency", "mc", K_INT, 0, 1, 100000, NULL, NULL},
    [JW_JOB_EXECUTION_WINDOW_CRON] = {"execution_window_cron", "wc", K_CRON, 0, 0, 256, NULL, NULL},
    [JW_JOB_TIMEZONE] = {"timezone", "tz", K_TZ, HASDEF, 0, 64, "UTC", NULL},
    [JW_JOB_RATE_LIMIT_MAX] = {"rate_limit_max", "rm", K_INT, 0, 1, 1000000, NULL, NULL},
    [JW_JOB_RATE_LIMIT_WINDOW_SECS] = {"rate_limit_window_secs", "rw", K_INT, 0, 1, 2592000, NULL, NULL},
    [JW_JOB_MAX_CONCURRENCY_PER_KEY] = {"max_concurrency_per_key", "mk", K_INT, 0, 1, 100000, NULL, NULL},
    [JW_JOB_RATE_LIMIT_KEYS] = {"rate_limit_keys", "rk", K_RATEKEYS, 0, 0, 20, NULL, NULL},
    [JW_JOB_DEFAULT_RUN_METADATA] = {"default_run_metadata", "dm", K_STRMAP, 0, 0, 50, NULL, NULL},
    [JW_JOB_DEDUP_WINDOW_SECS] = {"dedup_window_secs", "dw", K_INT, 0, 1, 2592000, NULL, NULL},
    [JW_JOB_ENABLED] = {"enabled", "e", K_BOOL, HASDEF, 0, 0, "true", NULL},
    [JW_JOB_WEBHOOK_URL] = {"webhook_url", "wu", K_URL, 0, 0, JW_URL_MAX, NULL, NULL},
    [JW_JOB_WEBHOOK_SECRET] = {"webhook_secret", "ws", K_SECRET, 0, 0, 0, NULL, NULL},
    [JW_JOB_RUN_TTL_SECS] = {"run_ttl_secs", "rt", K_INT, 0, 1, 2592000, NULL, NULL},
    [JW_JOB_RETRY_STRATEGY] = {"retry_strategy", "rs", K_ENUM, HASDEF, 0, 0, "exponential", retry_strategies},
    [JW_JOB_RETRY_DELAYS_SECS] = {"retry_delays_secs", "rd", K_INTLIST, 0, 0, 86400, NULL, NULL},
    [JW_JOB_ENVIRONMENT_ID] = {"environment_id", "ev", K_LABEL, 0, 0, 128, NULL, NULL},
    [JW_JOB_VERSION] = {"version", "v", K_INT, RO, 0, INT64_MAX, NULL, NULL},
    [JW_JOB_VERSION_ID] = {"version_id", "vi", K_UUID, RO, 0, 0, NULL, NULL},
    [JW_JOB_VERSION_POLICY] = {"version_policy", "vp", K_ENUM, HASDEF, 0, 0, "latest", version_policies},
    [JW_JOB_BACKWARDS_COMPATIBLE] = {"backwards_compatible", "bc", K_BOOL, HASDEF, 0, 0, "true", NULL},
    [JW_JOB_CREATED_BY] = {"created_by", "cb", K_ACTOR, RO, 0, 256, NULL, NULL},
    [JW_JOB_UPDATED_BY] = {"updated_by", "ub", K_ACTOR, RO, 0, 256, NULL, NULL},
    [JW_JOB_CREATED_AT] = {"created_at", "ca", K_TIME, RO, 0, 0, NULL, NULL},
    [JW_JOB_UPDATED_AT] = {"updated_at", "ua", K_TIME, RO, 0, 0, NULL, NULL},
    [JW_JOB_INTERVAL_SECONDS] = {"interval_seconds", "i", K_INT, 0, 1, 31536000, NULL, NULL},
    [JW_JOB_START_AT] = {"start_at", "sa", K_TIME, 0, 0, 0, NULL, NULL},
    [JW_JOB_RUN_AT] = {"run_at", "r", K_TIME, 0, 0, 0, NULL, NULL},
    [JW_JOB_EXCLUSIONS] = {"exclusions", "x", K_OBJECT, 0, 0, 16384, NULL, NULL},
    [JW_JOB_MISFIRE_POLICY] = {"misfire_policy", "mp", K_ENUM, HASDEF, 0, 0, "fire_once", misfire_policies},
    [JW_JOB_MISFIRE_MAX_RUNS] = {"misfire_max_runs", "mr", K_INT, HASDEF, 1, 1000, "100", NULL},
    [JW_JOB_CATCHUP_WINDOW_SECS] = {"catchup_window_secs", "cw", K_INT, HASDEF, 1, 31536000, "86400", NULL},
    [JW_JOB_PAUSED] = {"paused", "pa", K_BOOL, HASDEF, 0, 0, "false", NULL},
    [JW_JOB_DELETED_AT] = {"deleted_at", "da", K_TIME, RO, 0, 0, NULL, NULL},
    [JW_JOB_JOB_TYPE] = {"job_type", "jt", K_ENUM, HASDEF, 0, 0, "HttpCall", jw_job_types},
    [JW_JOB_JOB_CONFIGURATION] = {"job_configuration", "jc", K_OBJECT, 0, 0, 2 * JW_OUTPUT_MAX, NULL, NULL},
    [JW_JOB_SYSTEM] = {"system", "sy", K_BOOL, RO | HASDEF, 0, 0, "false", NULL},
};

#define MAX_RETRY_DELAYS 50
#define MAP_KEY_MAX 64
#define MAP_VALUE_MAX 256

const char *jw_job_field_name(enum jw_job_field f)
{
    return fields[f].name;
}

static void fval_clear(struct jw_fval *v)
{
    free(v->s);
    memset(v, 0, sizeof(*v));
}

void jw_job_set_str(struct jw_job *job, enum jw_job_field f, const char *s)
{
    fval_clear(&job->f[f]);
    if (s) {
        job->f[f].s = jw_strdup(s);
        job->f[f].set = true;
    }
}

void jw_job_set_int(struct jw_job *job, enum jw_job_field f, int64_t v)
{
    fval_clear(&job->f[f]);
    job->f[f].i = v;
    job->f[f].set = true;
}

void jw_job_free(struct jw_job *job)
{
    for (int i = 0; i < JW_JOB_NFIELDS; i++)
        fval_clear(&job->f[i]);
    free(job->secret_clear);
    memset(job, 0, sizeof(*job));
}

void jw_job_copy(struct jw_job *dst, const struct jw_job *src)
{
    *dst = *src;
    for (int i = 0; i < JW_JOB_NFIELDS; i++)
        if (src->f[i].s)
            dst->f[i].s = jw_strdup(src->f[i].s);
    dst->secret_clear = src->secret_clear ? jw_strdup(src->secret_clear) : NULL;
}

/* ---- validation helpers ---------------------------------------------------- */

static bool no_control(const char *s, bool allow_newlines)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == 0x7f || (*p < 0x20 && !(allow_newlines && (*p == '\n' || *p == '\r' || *p == '\t'))))
            return false;
    }
    return true;
}

static bool label_chars(const char *s)
{
    for (const char *p = s; *p; p++)
        if (!(isalnum((unsigned char)*p) || strchr("._:-", *p)))
            return false;
    return true;
}

static bool map_key_chars(const char *s)
{
    for (const char *p = s; *p; p++)
        if (!(isalnum((unsigned char)*p) || strchr("._:/-", *p)))
            return false;
    return true;
}

static bool slug_valid(const char *s)
{
    if (!isalnum((unsigned char)s[0]))
        return false;
    for (const char *p = s; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_' || *p == '-'))
            return false;
    return true;
}

/* utf-8 characters, not bytes */
static size_t char_count(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xC0) != 0x80)
            n++;
    return n;
}

bool jw_webhook_secret_valid(const char *s)
{
    if (strncmp(s, "whsec_", 6) != 0)
        return false;
    unsigned char raw[128];
    long n = jw_base64_decode(s + 6, strlen(s + 6), raw, sizeof(raw));
    return n >= 24 && n <= 64;
}

static char *mask_secret(const char *secret)
{
    size_t n = strlen(secret);
    struct jw_buf b = JW_BUF_INIT;
    jw_buf_printf(&b, "whsec_****%s", n > 10 ? secret + n - 4 : "");
    return jw_buf_detach(&b);
}

static const char *a_type(enum jw_json_type t)
{
    switch (t) {
    case JW_JSON_NULL: return "null";
    case JW_JSON_BOOL: return "a boolean";
    case JW_JSON_NUMBER: return "an integer";
    case JW_JSON_STRING: return "a string";
    case JW_JSON_ARRAY: return "an array";
    case JW_JSON_OBJECT: return "an object";
    }
    return "a value";
}

static int want_type(const struct jw_json *v, enum jw_json_type t, const char *field, struct jw_error *err)
{
    if (v->type != t)
        return jw_fail(err, 400, field, "%s must be %s, not %s", field, a_type(t),
                       v->type == JW_JSON_NUMBER ? "a number" : a_type(v->type));
    return 0;
}

/* An object or array of at most max entries. */
static int want_container(const struct jw_json *v, enum jw_json_type t, const struct field *fd, int64_t max,
                          struct jw_error *err)
{
    if (want_type(v, t, fd->name, err) != 0)
        return -1;
    if ((int64_t)v->len > max)
        return jw_fail(err, 400, fd->name, "%s may have at most %lld entries", fd->name, (long long)max);
    return 0;
}

static int read_int(const struct jw_json *v, int64_t min, int64_t max, const char *field, int64_t *out,
                    struct jw_error *err)
{
    if (want_type(v, JW_JSON_NUMBER, field, err) != 0)
        return -1;
    if (jw_json_int(v, out) != 0)
        return jw_fail(err, 400, field, "%s must be a whole number from %lld to %lld", field, (long long)min,
                       (long long)max);
    if (*out < min || *out > max)
        return jw_fail(err, 400, field, "%s must be from %lld to %lld, got %lld", field, (long long)min,
                       (long long)max, (long long)*out);
    return 0;
}

/* An object of short strings: tags, default_run_metadata. */
static int read_strmap(const struct jw_json *v, const struct field *fd, struct jw_buf *out,
                       struct jw_error *err)
{
    if (want_container(v, JW_JSON_OBJECT, fd, fd->max, err) != 0)
        return -1;
    struct jw_jsonw w;
    jw_jsonw_init(&w, out);
    jw_jsonw_obj_open(&w);
    for (size_t i = 0; i < v->len; i++) {
        const char *k = v->u.members[i].key;
        const struct jw_json *val = v->u.members[i].val;
        char f[128];
        snprintf(f, sizeof(f), "%s.%.60s", fd->name, k);
        size_t kl = strlen(k);
        if (kl == 0 || kl > MAP_KEY_MAX || !map_key_chars(k))
            return jw_fail(err, 400, f, "%s keys must be 1-%d characters of letters, digits and . _ : / -",
                           fd->name, MAP_KEY_MAX);
        if (val->type != JW_JSON_STRING)
            return jw_fail(err, 400, f, "%s must be a string, not %s", f,
                           val->type == JW_JSON_NUMBER ? "a number" : a_type(val->type));
        if (char_count(val->u.str) > MAP_VALUE_MAX || !no_control(val->u.str, false))
            return jw_fail(err, 400, f, "%s must be at most %d characters, without control characters", f,
                           MAP_VALUE_MAX);
        jw_jsonw_kstr(&w, k, val->u.str);
    }
    jw_jsonw_obj_close(&w);
    return 0;
}

static int read_ratekeys(const struct jw_json *v, const struct field *fd, struct jw_buf *out,
                         struct jw_error *err)
{
    if (want_container(v, JW_JSON_ARRAY, fd, fd->max, err) != 0)
        return -1;
    struct jw_jsonw w;
    jw_jsonw_init(&w, out);
    jw_jsonw_arr_open(&w);
    for (size_t i = 0; i < v->len; i++) {
        const struct jw_json *e = v->u.items[i];
        char f[96], ff[192];
        snprintf(f, sizeof(f), "%s[%zu]", fd->name, i);
        if (want_type(e, JW_JSON_OBJECT, f, err) != 0)
            return -1;
        for (size_t m = 0; m < e->len; m++) {
            const char *k = e->u.members[m].key;
            if (strcmp(k, "name") && strcmp(k, "max") && strcmp(k, "window_secs")) {
                snprintf(ff, sizeof(ff), "%s.%.40s", f, k);
                return jw_fail(err, 400, ff, "unknown field %s (expected name, max, window_secs)", ff);
            }
        }
        const struct jw_json *name = jw_json_get(e, "name");
        const struct jw_json *max = jw_json_get(e, "max");
        const struct jw_json *win = jw_json_get(e, "window_secs");
        snprintf(ff, sizeof(ff), "%s.name", f);
        if (!name)
            return jw_fail(err, 400, ff, "%s is required", ff);
        if (want_type(name, JW_JSON_STRING, ff, err) != 0)
            return -1;
        if (name->len == 0 || name->len > MAP_KEY_MAX || !map_key_chars(name->u.str))
            return jw_fail(err, 400, ff, "%s must be 1-%d characters of letters, digits and . _ : / -", ff,
                           MAP_KEY_MAX);
        for (size_t j = 0; j < i; j++) {
            const struct jw_json *other = jw_json_get(v->u.items[j], "name");
            if (other && other->type == JW_JSON_STRING && !strcmp(other->u.str, name->u.str))
                return jw_fail(err, 400, ff, "%s \"%s\" appears twice", ff, name->u.str);
        }
        int64_t mx, ws;
        snprintf(ff, sizeof(ff), "%s.max", f);
        if (!max)
            return jw_fail(err, 400, ff, "%s is required", ff);
        if (read_int(max, 1, 1000000, ff, &mx, err) != 0)
            return -1;
        snprintf(ff, sizeof(ff), "%s.window_secs", f);
        if (!win)
            return jw_fail(err, 400, ff, "%s is required", ff);
        if (read_int(win, 1, 2592000, ff, &ws, err) != 0)
            return -1;
        jw_jsonw_obj_open(&w);
        jw_jsonw_kstr(&w, "name", name->u.str);
        jw_jsonw_kint(&w, "max", mx);
        jw_jsonw_kint(&w, "window_secs", ws);
        jw_jsonw_obj_close(&w);
    }
    jw_jsonw_arr_close(&w);
    return 0;
}

static int read_intlist(const struct jw_json *v, const struct field *fd, struct jw_buf *out,
                        struct jw_error *err)
{
    if (want_container(v, JW_JSON_ARRAY, fd, MAX_RETRY_DELAYS, err) != 0)
        return -1;
    struct jw_jsonw w;
    jw_jsonw_init(&w, out);
    jw_jsonw_arr_open(&w);
    for (size_t i = 0; i < v->len; i++) {
        char f[96];
        int64_t n;
        snprintf(f, sizeof(f), "%s[%zu]", fd->name, i);
        if (read_int(v->u.items[i], 0, fd->max, f, &n, err) != 0)
            return -1;
        jw_jsonw_int(&w, n);
    }
    jw_jsonw_arr_close(&w);
    return 0;
}

/* ---- decoding ------------------------------------------------------------------ */

static int decode_field(struct jw_job *job, enum jw_job_field f, const struct jw_json *v,
                        enum jw_job_mode mode, struct jw_error *err)
{
    const struct field *fd = &fields[f];
    struct jw_fval nv = {0};

    if (v->type == JW_JSON_NULL) {
        if (mode != JW_JOB_STORED && (fd->flags & NOTNULL))
            return jw_fail(err, 400, fd->name, "%s must not be null", fd->name);
        if (f == JW_JOB_WEBHOOK_SECRET && mode != JW_JOB_STORED) {
            free(job->secret_clear);
            job->secret_clear = NULL;
            job->secret_generated = false;
            job->secret_removed = true;
        }
        fval_clear(&job->f[f]);
        return 0;
    }

    switch (fd->kind) {
    case K_UUID:
        if (want_type(v, JW_JSON_STRING, fd->name, err) != 0)
            return -1;
        if (!jw_id_is_uuid(v->u.str))
            return jw_fail(err, 400, fd->name, "%s must be a UUID", fd->name);
        nv.s = jw_strdup(v->u.str);
        break;
    case K_LABEL:
    case K_NAME:
    case K_SLUG:
    case K_TEXT:
    case K_CRON:
    case K_TZ:
    case K_ACTOR:
    case K_ENUM: {
        if (want_type(v, JW_JSON_STRING, fd->name, err) != 0)
            return -1;
        const char *s = v->u.str;
        if (mode == JW_JOB_STORED) {
            nv.s = jw_strdup(s);
            break;
        }
        size_t chars = char_count(s);
        if (fd->kind == K_ENUM) {
            bool ok = false;
            for (const char *const *e = fd->enums; *e; e++)
                ok = ok || !strcmp(*e, s);
            if (!ok) {
                struct jw_buf b = JW_BUF_INIT;
                for (const char *const *e = fd->enums; *e; e++)
                    jw_buf_printf(&b, "%s%s", b.len ? ", " : "", *e);
                jw_fail(err, 400, fd->name, "%s must be one of %s; got \"%.40s\"", fd->name, jw_buf_str(&b),
                        s);
                jw_buf_free(&b);
                return -1;
            }
        } else if (chars == 0 || chars > (size_t)fd->max) {
            return jw_fail(err, 400, fd->name, "%s must be 1 to %lld characters", fd->name,
                           (long long)fd->max);
        } else if (!no_control(s, fd->kind == K_TEXT)) {
            return jw_fail(err, 400, fd->name, "%s must not contain control characters", fd->name);
        } else if (fd->kind == K_LABEL && !label_chars(s)) {
            return jw_fail(err, 400, fd->name, "%s may contain only letters, digits and . _ : -", fd->name);
        } else if (fd->kind == K_SLUG && !slug_valid(s)) {
            return jw_fail(err, 400, fd->name,
                           "%s must be lower-case letters, digits, _ and -, starting with a letter or digit",
                           fd->name);
        } else if (fd->kind == K_NAME && jw_id_is_uuid(s)) {
            return jw_fail(err, 400, fd->name, "%s must not be a UUID (jobs are addressed by id or name)",
                           fd->name);
        } else if (fd->kind == K_NAME &&
                   (isspace((unsigned char)s[0]) || isspace((unsigned char)s[strlen(s) - 1]))) {
            return jw_fail(err, 400, fd->name, "%s must not start or end with white space", fd->name);
        }
        nv.s = jw_strdup(s);
        break;
    }
    case K_URL: {
        if (want_type(v, JW_JSON_STRING, fd->name, err) != 0)
            return -1;
        struct jw_url u;
        char why[160];
        if (mode != JW_JOB_STORED && jw_url_parse(v->u.str, &u, why, sizeof(why)) != 0)
            return jw_fail(err, 400, fd->name, "%s %s", fd->name, why);
        nv.s = jw_strdup(v->u.str);
        break;
    }
    case K_INT:
        if (read_int(v, fd->min, fd->max, fd->name, &nv.i, err) != 0)
            return -1;
        break;
    case K_BOOL:
        if (want_type(v, JW_JSON_BOOL, fd->name, err) != 0)
            return -1;
        nv.b = v->u.b;
        break;
    case K_TIME:
        if (want_type(v, JW_JSON_STRING, fd->name, err) != 0)
            return -1;
        if (jw_time_parse(v->u.str, &nv.i) != 0)
            return jw_fail(err, 400, fd->name, "%s must be an ISO 8601 date-time", fd->name);
        break;
    case K_OBJECT: {
        if (want_type(v, JW_JSON_OBJECT, fd->name, err) != 0)
            return -1;
        struct jw_buf b = JW_BUF_INIT;
        struct jw_jsonw w;
        jw_jsonw_init(&w, &b);
        jw_jsonw_value(&w, v);
        if ((int64_t)b.len > fd->max) {
            jw_buf_free(&b);
            return jw_fail(err, 400, fd->name, "%s must be at most %lld bytes of JSON", fd->name,
                           (long long)fd->max);
        }
        nv.s = jw_buf_detach(&b);
        break;
    }
    case K_STRMAP:
    case K_RATEKEYS:
    case K_INTLIST: {
        struct jw_buf b = JW_BUF_INIT;
        int rc = fd->kind == K_STRMAP     ? read_strmap(v, fd, &b, err)
                 : fd->kind == K_RATEKEYS ? read_ratekeys(v, fd, &b, err)
                                          : read_intlist(v, fd, &b, err);
        if (rc != 0) {
            jw_buf_free(&b);
            return -1;
        }
        nv.s = jw_buf_detach(&b);
        break;
    }
    case K_SECRET:
        if (want_type(v, JW_JSON_STRING, fd->name, err) != 0)
            return -1;
        if (mode == JW_JOB_STORED) {
            nv.s = jw_strdup(v->u.str);
            break;
        }
        if (mode == JW_JOB_PATCH && job->f[f].set && !strcmp(job->f[f].s, v->u.str))
            return 0; /* the masked value read earlier, sent back: no change */
        if (!jw_webhook_secret_valid(v->u.str))
            return jw_fail(
                err, 400, fd->name,
                "%s must be a Standard Webhooks secret: whsec_ followed by base64 of 24 to 64 bytes",
                fd->name);
        free(job->secret_clear);
        job->secret_clear = jw_strdup(v->u.str);
        job->secret_generated = false;
        job->secret_removed = false;
        nv.s = mask_secret(v->u.str);
        break;
    }
    nv.set = true;
    fval_clear(&job->f[f]);
    job->f[f] = nv;
    return 0;
}

static void fill_defaults(struct jw_job *job);
static void fill_implied(struct jw_job *job);

int jw_job_decode(struct jw_job *job, const struct jw_json *obj, enum jw_job_mode mode, struct jw_error *err)
{
    if (!obj || obj->type != JW_JSON_OBJECT)
        return jw_fail(err, 400, "", "the body must be a JSON object, not %s",
                       obj ? a_type(obj->type) : "empty");
    struct jw_checks c = {.err = err}; /* every bad field is reported, not the first only */
    for (size_t i = 0; i < obj->len; i++) {
        struct jw_error *e = jw_checks_into(&c);
        const char *key = obj->u.members[i].key;
        int f = -1;
        for (int j = 0; j < JW_JOB_NFIELDS; j++)
            if (!strcmp(mode == JW_JOB_STORED ? fields[j].key : fields[j].name, key)) {
                f = j;
                break;
            }
        if (f < 0) {
            if (mode == JW_JOB_STORED)
                continue; /* written by a newer version: keep going */
            jw_fail(e, 400, key, "unknown field \"%.60s\"", key);
        } else if ((fields[f].flags & RO) && mode != JW_JOB_STORED) {
            continue; /* server-set: clients may echo it back, it changes nothing */
        } else if (decode_field(job, (enum jw_job_field)f, obj->u.members[i].val, mode, e) == 0) {
            continue;
        }
        jw_checks_failed(&c);
    }
    if (c.bad)
        return -1;
    if (mode == JW_JOB_STORED) {
        fill_implied(job);
        fill_defaults(job); /* the stored form leaves defaults out */
    }
    return 0;
}

/* ---- completion ----------------------------------------------------------------- */

static char *slug_from_name(const char *name)
{
    struct jw_buf b = JW_BUF_INIT;
    bool dash = false;
    for (const unsigned char *p = (const unsigned char *)name; *p && b.len < 100; p++) {
        if (isalnum(*p)) {
            if (dash && b.len) {
                if (b.len + 2 > 100)
                    break;
                jw_buf_putc(&b, '-');
            }
            jw_buf_putc(&b, (char)tolower(*p));
            dash = false;
        } else if (*p == '_' && b.len) {
            jw_buf_putc(&b, '_');
            dash = false;
        } else {
            dash = true;
        }
    }
    if (b.len == 0)
        jw_buf_puts(&b, "job");
    return jw_buf_detach(&b);
}

static int check_url_target(const struct jw_job *job, enum jw_job_field f, const struct jw_job_rules *rules,
                            struct jw_error *err)
{
    if (!job->f[f].set || rules->allow_private_targets)
        return 0;
    struct jw_url u;
    char why[160];
    if (jw_url_parse(job->f[f].s, &u, why, sizeof(why)) != 0)
        return jw_fail(err, 400, fields[f].name, "%s %s", fields[f].name, why);
    if ((u.host_is_ip && !jw_net_addr_is_public((const struct sockaddr *)&u.addr)) ||
        jw_net_name_is_local(u.host))
        return jw_fail(err, 400, fields[f].name,
                       "%s points at a loopback, private or reserved address, which this server does "
                       "not call (allow_private_targets is off)",
                       fields[f].name);
    return 0;
}

/* Unset fields that have a default get it (the slug is derived from the
 * name instead, when there is one). */
static void fill_defaults(struct jw_job *job)
{
    for (int f = 0; f < JW_JOB_NFIELDS; f++) {
        const struct field *fd = &fields[f];
        if (job->f[f].set || !(fd->flags & HASDEF))
            continue;
        if (f == JW_JOB_SLUG) {
            if (!job->f[JW_JOB_NAME].set)
                continue;
            job->f[f].s = slug_from_name(job->f[JW_JOB_NAME].s);
        } else if (fd->kind == K_INT) {
            job->f[f].i = strtoll(fd->def, NULL, 10);
        } else if (fd->kind == K_BOOL) {
            job->f[f].b = !strcmp(fd->def, "true");
        } else {
            job->f[f].s = jw_strdup(fd->def);
        }
        job->f[f].set = true;
    }
}

/* A field the stored form leaves out because it can be told otherwise:
 * - the id (the jobs hash field; the store puts it back into what it reads);
 * - created_at when it is the millisecond of the (v7) id;
 * - version 1, whose version_id is the job's id;
 * - the slug when it is the name itself;
 * - updated_at/updated_by while they equal created_at/created_by (a job
 *   never changed since its creation).
 * The store's scripts know the same rules (prelude.lua, "implied fields"). */
static bool is_implied(const struct jw_job *job, enum jw_job_field f)
{
    const struct jw_fval *v = &job->f[f], *c;
    const struct jw_fval *id = &job->f[JW_JOB_ID];
    if (!v->set)
        return false;
    switch (f) {
    case JW_JOB_ID: return true;
    case JW_JOB_CREATED_AT: return id->set && v->i == jw_id_time_ms(id->s);
    case JW_JOB_VERSION: return v->i == 1;
    case JW_JOB_VERSION_ID: return id->set && !strcmp(v->s, id->s);
    case JW_JOB_SLUG: c = &job->f[JW_JOB_NAME]; return c->set && !strcmp(v->s, c->s);
    case JW_JOB_UPDATED_AT: c = &job->f[JW_JOB_CREATED_AT]; return c->set && v->i == c->i;
    case JW_JOB_UPDATED_BY: c = &job->f[JW_JOB_CREATED_BY]; return c->set && !strcmp(v->s, c->s);
    default: return false;
    }
}

/* Decoding the stored form: the implied fields come back (before the
 * defaults, so a slug left out is the name, not one derived from it). */
static void fill_implied(struct jw_job *job)
{
    const struct jw_fval *id = &job->f[JW_JOB_ID];
    if (!job->f[JW_JOB_CREATED_AT].set && id->set && jw_id_time_ms(id->s) >= 0)
        jw_job_set_int(job, JW_JOB_CREATED_AT, jw_id_time_ms(id->s));
    if (!job->f[JW_JOB_VERSION].set)
        jw_job_set_int(job, JW_JOB_VERSION, 1);
    if (!job->f[JW_JOB_VERSION_ID].set && id->set)
        jw_job_set_str(job, JW_JOB_VERSION_ID, id->s);
    if (!job->f[JW_JOB_SLUG].set && job->f[JW_JOB_NAME].set)
        jw_job_set_str(job, JW_JOB_SLUG, job->f[JW_JOB_NAME].s);
    const struct jw_fval *ca = &job->f[JW_JOB_CREATED_AT], *cb = &job->f[JW_JOB_CREATED_BY];
    if (!job->f[JW_JOB_UPDATED_AT].set && ca->set)
        jw_job_set_int(job, JW_JOB_UPDATED_AT, ca->i);
    if (!job->f[JW_JOB_UPDATED_BY].set && cb->set)
        jw_job_set_str(job, JW_JOB_UPDATED_BY, cb->s);
}

/* A field holding its default (which the stored form leaves out). */
static bool is_default(const struct jw_job *job, enum jw_job_field f)
{
    const struct field *fd = &fields[f];
    const struct jw_fval *v = &job->f[f];
    if (!(fd->flags & HASDEF) || !fd->def || !v->set)
        return false;
    switch (fd->kind) {
    case K_INT: return v->i == strtoll(fd->def, NULL, 10);
    case K_BOOL: return v->b == !strcmp(fd->def, "true");
    default: return v->s && !strcmp(v->s, fd->def);
    }
}

int jw_job_complete(struct jw_job *job, const struct jw_job_rules *rules, struct jw_error *err)
{
    struct jw_checks c = {.err = err};
    if (!job->f[JW_JOB_NAME].set) {
        jw_fail(jw_checks_into(&c), 400, "name", "name is required");
        jw_checks_failed(&c);
    }
    fill_defaults(job);
    const char *type = job->f[JW_JOB_JOB_TYPE].s;
    if (!strcmp(type, "HttpCall") && !job->f[JW_JOB_ENDPOINT_URL].set) {
        jw_fail(jw_checks_into(&c), 400, "endpoint_url", "endpoint_url is required (for an HttpCall job)");
        jw_checks_failed(&c);
    }
    const char *cfg = job->f[JW_JOB_JOB_CONFIGURATION].s;
    char why[160];
    struct jw_json_doc *doc =
        cfg ? jw_json_parse(cfg, strlen(cfg), JW_JSON_STORED_DEPTH, why, sizeof(why)) : NULL;
    if (cfg && !doc) {
        jw_fail(jw_checks_into(&c), 400, "job_configuration", "job_configuration: %s", why);
        jw_checks_failed(&c);
    } else if (jw_job_config_check(type, doc ? jw_json_root(doc) : NULL, rules, jw_checks_into(&c)) != 0) {
        jw_checks_failed(&c);
    }
    jw_json_doc_free(doc);
    bool rmax = job->f[JW_JOB_RATE_LIMIT_MAX].set, rwin = job->f[JW_JOB_RATE_LIMIT_WINDOW_SECS].set;
    if (rmax != rwin) {
        jw_fail(jw_checks_into(&c), 400, rmax ? "rate_limit_window_secs" : "rate_limit_max",
                "rate_limit_max and rate_limit_window_secs go together: set both or neither");
        jw_checks_failed(&c);
    }
    static const enum jw_job_field urls[] = {JW_JOB_ENDPOINT_URL, JW_JOB_FALLBACK_ENDPOINT_URL,
                                             JW_JOB_WEBHOOK_URL};
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++)
        if (check_url_target(job, urls[i], rules, jw_checks_into(&c)) != 0)
            jw_checks_failed(&c);
    if (c.bad)
        return -1;
    /* A webhook_url always receives signed notifications: make a secret. */
    if (job->f[JW_JOB_WEBHOOK_URL].set && !job->f[JW_JOB_WEBHOOK_SECRET].set) {
        unsigned char raw[32];
        char b64[64], secret[80];
        jw_random_bytes(raw, sizeof(raw));
        jw_base64_encode(raw, sizeof(raw), b64);
        snprintf(secret, sizeof(secret), "whsec_%s", b64);
        free(job->secret_clear);
        job->secret_clear = jw_strdup(secret);
        job->secret_generated = true;
        job->secret_removed = false;
        job->f[JW_JOB_WEBHOOK_SECRET].s = mask_secret(secret);
        job->f[JW_JOB_WEBHOOK_SECRET].set = true;
    }
    return 0;
}

/* ---- encoding ---------------------------------------------------------------------- */

void jw_job_write(const struct jw_job *job, struct jw_jsonw *w, enum jw_job_view view)
{
    bool reveal_secret = view == JW_JOB_VIEW_API_REVEAL;
    bool compact = view == JW_JOB_VIEW_STORED; /* Redis keeps no nulls and no defaults */
    jw_jsonw_obj_open(w);
    for (int f = 0; f < JW_JOB_NFIELDS; f++) {
        const struct field *fd = &fields[f];
        const struct jw_fval *v = &job->f[f];
        if (compact && (!v->set || is_default(job, (enum jw_job_field)f) || is_implied(job, (enum jw_job_field)f)))
            continue;
        jw_jsonw_key(w, compact ? fd->key : fd->name);
        if (!v->set) {
            jw_jsonw_null(w);
            continue;
        }
        switch (fd->kind) {
        case K_INT: jw_jsonw_int(w, v->i); break;
        case K_BOOL: jw_jsonw_bool(w, v->b); break;
        case K_TIME: jw_jsonw_time(w, v->i); break;
        case K_OBJECT:
        case K_STRMAP:
        case K_RATEKEYS:
        case K_INTLIST: jw_jsonw_raw(w, v->s, strlen(v->s)); break;
        case K_SECRET:
            jw_jsonw_str(w, reveal_secret && job->secret_generated && job->secret_clear ? job->secret_clear
                                                                                        : v->s);
            break;
        default: jw_jsonw_str(w, v->s); break;
        }
    }
    if (view != JW_JOB_VIEW_STORED)
        jw_jsonw_ktime(w, "next_run_at", job->has_next ? job->next_run_at : -1);
    jw_jsonw_obj_close(w);
}

void jw_job_encode(const struct jw_job *job, struct jw_buf *out, enum jw_job_view view)
{
    struct jw_jsonw w;
    jw_jsonw_init(&w, out);
    jw_job_write(job, &w, view);
}

int jw_job_api_from_stored(struct jw_buf *out, const char *stored, size_t len, int64_t next_ms)
{
    char why[160];
    struct jw_json_doc *doc = jw_json_parse(stored, len, JW_JSON_STORED_DEPTH, why, sizeof(why));
    struct jw_job job;
    memset(&job, 0, sizeof(job));
    struct jw_error err;
    int rc = doc ? jw_job_decode(&job, jw_json_root(doc), JW_JOB_STORED, &err) : -1;
    jw_json_doc_free(doc);
    if (rc == 0) {
        job.has_next = next_ms >= 0;
        job.next_run_at = next_ms;
        jw_job_encode(&job, out, JW_JOB_VIEW_API);
    }
    jw_job_free(&job);
    return rc;
}

bool jw_job_differs(const struct jw_job *a, const struct jw_job *b)
{
    if (a->secret_clear || b->secret_clear || a->secret_removed || b->secret_removed)
        return true;
    for (int f = 0; f < JW_JOB_NFIELDS; f++) {
        if (fields[f].flags & RO)
            continue;
        const struct jw_fval *x = &a->f[f], *y = &b->f[f];
        if (x->set != y->set)
            return true;
        if (!x->set)
            continue;
        if (x->i != y->i || x->b != y->b)
            return true;
        if ((x->s == NULL) != (y->s == NULL) || (x->s && strcmp(x->s, y->s) != 0))
            return true;
    }
    return false;
}
