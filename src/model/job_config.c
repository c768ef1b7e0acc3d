/* job_config: what each job type needs in job_configuration, checked when
 * a job is created or changed (pure: no I/O). The runners in exec/ read
 * the same JSON back and may rely on these rules having held. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "jobwheel/job.h"

const char *const jw_job_types[] = {"HttpCall",      "StoredProcedure", "CodeExecution",
                                    "FileOperation", "Builtin",         NULL};

const char *const jw_builtin_handlers[] = {
    /* seed 000's system jobs */
    "tokenExpiry", "dataSync", "reportGeneration", "cleanupExpiredSessions", "auditLogArchive",
    "credentialRotationCheck",
    /* seed 004's handler */
    "generateWeeklyExpiryReport",
    /* a workflow's schedule: starts params.workflow */
    "startWorkflow", NULL};

const char *const jw_file_operations[] = {"copy", "move", "delete", "mkdir", "write", "list", NULL};

#define CFG "job_configuration"

/* A 400 naming job_configuration.<name> (or job_configuration itself). */
static int cfg_fail(struct jw_error *err, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int cfg_fail(struct jw_error *err, const char *name, const char *fmt, ...)
{
    char msg[sizeof(err->detail)], field[96];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(field, sizeof(field), "%s%s%.60s", CFG, name ? "." : "", name ? name : "");
    return jw_fail(err, 400, field, "%s", msg);
}

static bool in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (!strcmp(*list, s))
            return true;
    return false;
}

static int unknown(const struct jw_json *cfg, const char *const *known, struct jw_error *err)
{
    for (size_t i = 0; i < cfg->len; i++)
        if (!in_list(known, cfg->u.members[i].key))
            return cfg_fail(err, cfg->u.members[i].key, "unknown field " CFG ".%.60s", cfg->u.members[i].key);
    return 0;
}

static bool printable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/* A string member: required or not, at most max bytes, no control chars. */
static int want_str(const struct jw_json *cfg, const char *name, bool required, size_t max,
                    struct jw_error *err, const char **out)
{
    const struct jw_json *v = jw_json_get(cfg, name);
    *out = NULL;
    if (!v || v->type == JW_JSON_NULL) {
        if (required)
            return cfg_fail(err, name, CFG ".%s is required", name);
        return 0;
    }
    if (v->type != JW_JSON_STRING || v->len == 0 || v->len > max || !printable(v->u.str, v->len))
        return cfg_fail(err, name,
                        CFG ".%s must be a string of 1 to %zu characters, without control characters", name,
                        max);
    *out = v->u.str;
    return 0;
}

/* An array of at most max strings (numbers and booleans taken as text when
 * scalars is set). */
static int want_list(const struct jw_json *cfg, const char *name, size_t max, bool scalars,
                     struct jw_error *err)
{
    const struct jw_json *v = jw_json_get(cfg, name);
    if (!v || v->type == JW_JSON_NULL)
        return 0;
    if (v->type != JW_JSON_ARRAY || v->len > max)
        return cfg_fail(err, name, CFG ".%s must be an array of at most %zu %s", name, max,
                        scalars ? "strings or numbers" : "strings");
    for (size_t i = 0; i < v->len; i++) {
        enum jw_json_type t = v->u.items[i]->type;
        if (t != JW_JSON_STRING && !(scalars && (t == JW_JSON_NUMBER || t == JW_JSON_BOOL)))
            return cfg_fail(err, name, CFG ".%s[%zu] must be a %s", name, i,
                            scalars ? "string or a number" : "string");
        if (t == JW_JSON_STRING && v->u.items[i]->len > 65536)
            return cfg_fail(err, name, CFG ".%s[%zu] is longer than 65536 bytes", name, i);
    }
    return 0;
}

/* An object of strings, names as the check says. */
static int want_strmap(const struct jw_json *cfg, const char *name, size_t max, bool (*name_ok)(const char *),
                       struct jw_error *err)
{
    const struct jw_json *v = jw_json_get(cfg, name);
    if (!v || v->type == JW_JSON_NULL)
        return 0;
    if (v->type != JW_JSON_OBJECT || v->len > max)
        return cfg_fail(err, name, CFG ".%s must be an object of at most %zu strings", name, max);
    for (size_t i = 0; i < v->len; i++) {
        const char *k = v->u.members[i].key;
        const struct jw_json *val = v->u.members[i].val;
        if (!name_ok(k))
            return cfg_fail(err, name, CFG ".%s has an invalid name \"%.60s\"", name, k);
        if (val->type != JW_JSON_STRING || val->len > 8192 || !printable(val->u.str, val->len))
            return cfg_fail(err, name,
                            CFG ".%s.%.60s must be a string of at most 8192 characters, "
                                "without control characters",
                            name, k);
    }
    return 0;
}

static bool header_name_ok(const char *k)
{
    static const char *const reserved[] = {"content-length",
                                           "host",
                                           "transfer-encoding",
                                           "connection",
                                           "content-type",
                                           "webhook-id",
                                           "webhook-timestamp",
                                           "webhook-signature",
                                           NULL};
    if (!*k || strlen(k) > 128 || !strncasecmp(k, "x-jobwheel-", 11))
        return false;
    for (const char *const *r = reserved; *r; r++)
        if (!strcasecmp(*r, k))
            return false;
    for (const char *p = k; *p; p++)
        if (!(isalnum((unsigned char)*p) || strchr("!#$%&'*+-.^_`|~", *p)))
            return false;
    return true;
}

static bool env_name_ok(const char *k)
{
    if (!*k || strlen(k) > 128 || isdigit((unsigned char)*k))
        return false;
    for (const char *p = k; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_'))
            return false;
    return true;
}

/* A path in the tenant's file directory: relative, no "..", no empty parts. */
static int want_rel_path(const struct jw_json *cfg, const char *name, bool required, struct jw_error *err)
{
    const char *p;
    if (want_str(cfg, name, required, 4096, err, &p) != 0)
        return -1;
    if (!p)
        return 0;
    if (p[0] == '/')
        return cfg_fail(err, name, CFG ".%s must be relative to the file root", name);
    for (const char *s = p; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if ((n == 2 && s[0] == '.' && s[1] == '.') || (n == 0 && e))
            return cfg_fail(err, name, CFG ".%s must stay under the file root (no \"..\" or empty parts)",
                            name);
        s += n + (e ? 1 : 0);
    }
    return 0;
}

/* body: any JSON, sent when a run brings no payload of its own */
static int check_http(const struct jw_json *cfg, struct jw_error *err)
{
    static const char *const known[] = {"method", "headers", "body", NULL};
    static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", NULL};
    const char *m;
    if (unknown(cfg, known, err) != 0 || want_str(cfg, "method", false, 10, err, &m) != 0)
        return -1;
    if (m && !in_list(methods, m))
        return cfg_fail(err, "method", CFG ".method must be GET, POST, PUT, PATCH or DELETE");
    return want_strmap(cfg, "headers", 50, header_name_ok, err);
}

/* jobwheel's scripts are the functions jobwheel_<build>_<script> of the
 * library jobwheel_<build>; Redis compares function names without regard
 * to case, so the prefix is reserved in every spelling. */
bool jw_job_reserved_name(const char *name)
{
    return name && !strncasecmp(name, "jobwheel_", 9);
}

/* A Redis function name (what Redis accepts), and not one of jobwheel's
 * own: a tenant may not call them. This is the cheap first check; the
 * library a function really belongs to is asked of Redis when the job is
 * saved and again before each call (core/jobs.c, exec/runner.c). */
static bool function_name_ok(const char *s)
{
    if (jw_job_reserved_name(s))
        return false;
    for (const char *p = s; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_'))
            return false;
    return true;
}

bool jw_job_function(const struct jw_job *job, char *out, size_t cap)
{
    const struct jw_fval *type = &job->f[JW_JOB_JOB_TYPE], *cfg = &job->f[JW_JOB_JOB_CONFIGURATION];
    if (cap)
        out[0] = '\0';
    if (!type->set || strcmp(type->s, "StoredProcedure") || !cfg->set || !cfg->s)
        return false;
    char why[64];
    struct jw_json_doc *doc = jw_json_parse(cfg->s, strlen(cfg->s), 32, why, sizeof(why));
    const struct jw_json *fn = doc ? jw_json_get(jw_json_root(doc), "function") : NULL;
    bool ok = fn && fn->type == JW_JSON_STRING && fn->len > 0 && fn->len < cap;
    if (ok) {
        memcpy(out, fn->u.str, fn->len);
        out[fn->len] = '\0';
    }
    jw_json_doc_free(doc);
    return ok;
}

static int check_stored_proc(const struct jw_json *cfg, struct jw_error *err)
{
    static const char *const known[] = {"function", "keys", "args", NULL};
    const char *fn;
    if (unknown(cfg, known, err) != 0 || want_str(cfg, "function", true, 64, err, &fn) != 0)
        return -1;
    if (!function_name_ok(fn))
        return cfg_fail(err, "function", CFG ".function must be a Redis function name (letters, digits, _), "
                                        "not starting with jobwheel_ in any case (jobwheel's own)");
    if (want_list(cfg, "keys", 100, false, err) != 0 || want_list(cfg, "args", 100, true, err) != 0)
        return -1;
    return 0;
}

static int check_code(const struct jw_json *cfg, const struct jw_job_rules *rules, struct jw_error *err)
{
    static const char *const known[] = {"command", "args", "env", "cwd", "max_output_bytes", NULL};
    if (!rules->code_execution)
        return jw_fail(err, 400, "job_type",
                       "CodeExecution jobs are disabled on this server (code_execution = false)");
    const char *s;
    if (unknown(cfg, known, err) != 0 || want_str(cfg, "command", true, 4096, err, &s) != 0 ||
        want_list(cfg, "args", 256, false, err) != 0 || want_strmap(cfg, "env", 100, env_name_ok, err) != 0 ||
        want_str(cfg, "cwd", false, 4096, err, &s) != 0)
        return -1;
    const struct jw_json *cap = jw_json_get(cfg, "max_output_bytes");
    int64_t n;
    if (cap && cap->type != JW_JSON_NULL &&
        (cap->type != JW_JSON_NUMBER || jw_json_int(cap, &n) != 0 || n < 1 || n > JW_OUTPUT_MAX))
        return cfg_fail(err, "max_output_bytes", CFG ".max_output_bytes must be from 1 to %d", JW_OUTPUT_MAX);
    return 0;
}

static int check_file(const struct jw_json *cfg, const struct jw_job_rules *rules, struct jw_error *err)
{
    static const char *const known[] = {"operation", "path", "to", "content", "recursive", NULL};
    const char *op, *content;
    if (!rules->file_operations)
        return jw_fail(err, 400, "job_type",
                       "FileOperation jobs are disabled on this server (file_operations = false)");
    if (unknown(cfg, known, err) != 0 || want_str(cfg, "operation", true, 16, err, &op) != 0)
        return -1;
    if (!in_list(jw_file_operations, op))
        return cfg_fail(err, "operation", CFG ".operation must be copy, move, delete, mkdir, write or list");
    bool two = !strcmp(op, "copy") || !strcmp(op, "move");
    if (want_rel_path(cfg, "path", strcmp(op, "list") != 0, err) != 0 ||
        want_rel_path(cfg, "to", two, err) != 0)
        return -1;
    if (!two && jw_json_get(cfg, "to"))
        return cfg_fail(err, "to", CFG ".to is for copy and move only");
    const struct jw_json *c = jw_json_get(cfg, "content");
    if (c && c->type != JW_JSON_NULL) {
        if (strcmp(op, "write") != 0)
            return cfg_fail(err, "content", CFG ".content is for write only");
        if (c->type != JW_JSON_STRING || c->len > JW_OUTPUT_MAX)
            return cfg_fail(err, "content", CFG ".content must be a string of at most %d bytes",
                            JW_OUTPUT_MAX);
    } else if (!strcmp(op, "write")) {
        return want_str(cfg, "content", true, 1, err, &content);
    }
    const struct jw_json *r = jw_json_get(cfg, "recursive");
    if (r && r->type != JW_JSON_NULL && r->type != JW_JSON_BOOL)
        return cfg_fail(err, "recursive", CFG ".recursive must be a boolean");
    return 0;
}

static int check_builtin(const struct jw_json *cfg, struct jw_error *err)
{
    static const char *const known[] = {"handler", "params", NULL};
    const char *h;
    if (unknown(cfg, known, err) != 0 || want_str(cfg, "handler", true, 64, err, &h) != 0)
        return -1;
    if (!in_list(jw_builtin_handlers, h))
        return cfg_fail(err, "handler", CFG ".handler \"%.60s\" is not a built-in handler", h);
    const struct jw_json *p = jw_json_get(cfg, "params");
    if (p && p->type != JW_JSON_NULL && p->type != JW_JSON_OBJECT)
        return cfg_fail(err, "params", CFG ".params must be an object");
    const struct jw_json *wf = jw_json_get(p, "workflow");
    if (!strcmp(h, "startWorkflow") && (!wf || wf->type != JW_JSON_STRING || wf->len == 0 || wf->len > 200))
        return cfg_fail(err, "params", CFG ".params.workflow (the workflow's id or name) is required");
    return 0;
}

int jw_job_config_check(const char *type, const struct jw_json *cfg, const struct jw_job_rules *rules,
                        struct jw_error *err)
{
    static const struct jw_json empty = {.type = JW_JSON_OBJECT};
    if (!cfg)
        cfg = &empty;
    if (cfg->type != JW_JSON_OBJECT)
        return cfg_fail(err, NULL, CFG " must be an object");
    if (!strcmp(type, "HttpCall"))
        return check_http(cfg, err);
    if (!strcmp(type, "StoredProcedure"))
        return check_stored_proc(cfg, err);
    if (!strcmp(type, "CodeExecution"))
        return check_code(cfg, rules, err);
    if (!strcmp(type, "FileOperation"))
        return check_file(cfg, rules, err);
    if (!strcmp(type, "Builtin"))
        return check_builtin(cfg, err);
    return jw_fail(err, 400, "job_type", "unknown job_type \"%.60s\"", type);
}
