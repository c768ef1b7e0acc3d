/* runner: attempts of the non-HTTP job types (see runner.h). Owns each
 * attempt's call record until its outcome is delivered or it is
 * cancelled; a store reply for a cancelled call only frees the record. */
#include "jobwheel/runner.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "jobwheel/buf.h"
#include "jobwheel/child.h"
#include "jobwheel/json.h"
#include "jobwheel/store.h"
#include "jobwheel/time.h"

#define DEFAULT_OUTPUT 65536

struct jw_runner {
    struct event_base *base;
    struct jw_store *store;
    char *file_root, *self_exe;
    bool code_execution, file_operations;
    int64_t file_quota_bytes, file_quota_entries;
    int64_t retention_ms;
    void (*start_members)(void *arg, const struct jw_reply *r, size_t from);
    void *start_arg;
};

struct jw_runner_call {
    struct jw_runner *r;
    jw_http_response_fn fn;
    void *arg;
    bool cancelled;         /* store calls: the reply only frees this */
    struct jw_child *child; /* child calls */
    bool file_op;           /* the child is `jobwheel file-op` */
    char function[80];      /* StoredProcedure: for the result */
    struct jw_args fcall;   /* StoredProcedure: the call, sent once the function is known not jobwheel's */
    int64_t started_us;
};

struct jw_runner *jw_runner_new(struct event_base *base, struct jw_store *store,
                                const struct jw_runner_options *o)
{
    struct jw_runner *r = jw_calloc(1, sizeof(*r));
    r->base = base;
    r->store = store;
    r->file_root = jw_strdup(o->file_root ? o->file_root : "");
    r->self_exe = jw_strdup(o->self_exe ? o->self_exe : "");
    r->code_execution = o->code_execution;
    r->file_operations = o->file_operations;
    r->file_quota_bytes = o->file_quota_bytes;
    r->file_quota_entries = o->file_quota_entries;
    r->retention_ms = o->retention_ms;
    r->start_members = o->start_members;
    r->start_arg = o->start_arg;
    return r;
}

void jw_runner_free(struct jw_runner *r)
{
    if (!r)
        return;
    free(r->file_root);
    free(r->self_exe);
    free(r);
}

static const char *job_type(const struct jw_job *job)
{
    return job->f[JW_JOB_JOB_TYPE].set ? job->f[JW_JOB_JOB_TYPE].s : "HttpCall";
}

bool jw_runner_handles(const struct jw_job *job)
{
    return strcmp(job_type(job), "HttpCall") != 0;
}

/* ---- outcomes ----------------------------------------------------------------------- */

static void deliver(struct jw_runner_call *c, int status, const char *body, size_t len, const char *error,
                    bool timed_out)
{
    struct jw_http_response resp = {
        .status = status,
        .timed_out = timed_out,
        .error = error,
        .body = body ? body : "",
        .body_len = body ? len : 0,
        .total_ms = (jw_time_mono_us() - c->started_us) / 1000,
    };
    c->fn(c->arg, &resp);
    free(c);
}

static void deliver_ok(struct jw_runner_call *c, struct jw_buf *json)
{
    deliver(c, 200, json->data, json->len, NULL, false);
}

static void deliver_error(struct jw_runner_call *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void deliver_error(struct jw_runner_call *c, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    deliver(c, 0, NULL, 0, msg, false);
}

/* A start failure is still reported from the loop, never inside start. */
struct deferred {
    struct jw_runner_call *c;
    char msg[300];
    struct event *ev;
};

static void on_deferred(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct deferred *d = arg;
    event_free(d->ev);
    if (d->c->cancelled)
        free(d->c);
    else
        deliver_error(d->c, "%s", d->msg);
    free(d);
}

static void fail_later(struct jw_runner_call *c, const char *msg)
{
    struct deferred *d = jw_calloc(1, sizeof(*d));
    d->c = c;
    snprintf(d->msg, sizeof(d->msg), "%s", msg);
    d->ev = evtimer_new(c->r->base, on_deferred, d);
    struct timeval now = {0, 0};
    if (!d->ev || evtimer_add(d->ev, &now) != 0)
        abort(); /* out of memory in libevent: nothing sensible is left */
}

/* A Redis reply as JSON. */
static void reply_json(struct jw_jsonw *w, const struct jw_reply *r, int depth)
{
    size_t n;
    switch (jw_reply_type(r)) {
    case JW_REPLY_INT: jw_jsonw_int(w, jw_reply_int(r)); break;
    case JW_REPLY_STR:
    case JW_REPLY_STATUS: {
        const char *s = jw_reply_str(r, &n);
        if (jw_utf8_valid(s, n))
            jw_jsonw_strn(w, s, n);
        else
            jw_jsonw_null(w); /* binary data has no JSON form */
        break;
    }
    case JW_REPLY_ARRAY:
        jw_jsonw_arr_open(w);
        for (size_t i = 0; i < jw_reply_count(r) && depth < 8; i++)
            reply_json(w, jw_reply_at(r, i), depth + 1);
        jw_jsonw_arr_close(w);
        break;
    default: jw_jsonw_null(w); break;
    }
}

/* ---- StoredProcedure: FCALL ---------------------------------------------------------- */

static void on_fcall(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct jw_runner_call *c = arg;
    if (c->cancelled) {
        free(c);
        return;
    }
    if (st == JW_STORE_ERROR) {
        deliver_error(c, "redis: %.300s", jw_reply_str(r, NULL) ? jw_reply_str(r, NULL) : "error");
        return;
    }
    if (st != JW_STORE_OK) {
        deliver_error(c, "%s", st == JW_STORE_TIMEOUT ? "redis: no answer in time" : "redis: unavailable");
        return;
    }
    struct jw_buf out = JW_BUF_INIT;
    struct jw_jsonw w;
    jw_jsonw_init(&w, &out);
    jw_jsonw_obj_open(&w);
    jw_jsonw_kstr(&w, "function", c->function);
    jw_jsonw_key(&w, "result");
    reply_json(&w, r, 0);
    jw_jsonw_obj_close(&w);
    deliver_ok(c, &out);
    jw_buf_free(&out);
}

/* The libraries as they are just before the call: a function of one of
 * jobwheel's (jobwheel_<build>, in any case) is never called, whatever
 * was loaded since the job was saved. Between this answer and the FCALL
 * only whoever may load libraries on this Redis (the operator, never a
 * tenant) could change what the name means; jobwheel's own libraries name
 * every function jobwheel_…, which the name check refuses anyway. A
 * refusal is a failed attempt like any other (the retry policy applies,
 * and each retry asks again). */
static void on_functions(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct jw_runner_call *c = arg;
    if (c->cancelled) {
        jw_args_free(&c->fcall);
        free(c);
        return;
    }
    if (st != JW_STORE_OK) {
        jw_args_free(&c->fcall);
        on_fcall(st, r, c); /* the same failure as the call's own */
        return;
    }
    const char *lib = jw_reply_function_library(r, c->function);
    if (lib && jw_job_reserved_name(lib)) {
        jw_args_free(&c->fcall);
        deliver_error(c,
                      "refused: job_configuration.function \"%s\" is a function of jobwheel's own library "
                      "%.64s; a StoredProcedure job may call only functions outside jobwheel's libraries",
                      c->function, lib);
        return;
    }
    jw_store_cmd(c->r->store, &c->fcall, on_fcall, c);
}

/* Keys live in the tenant's own namespace, so one tenant's function call
 * cannot name another tenant's data or jobwheel's. */
static void start_fcall(struct jw_runner_call *c, const struct jw_runner_attempt *a,
                        const struct jw_json *cfg)
{
    const struct jw_json *keys = jw_json_get(cfg, "keys");
    const struct jw_json *args = jw_json_get(cfg, "args");
    snprintf(c->function, sizeof(c->function), "%s", jw_json_get(cfg, "function")->u.str);
    struct jw_args cmd = JW_ARGS_INIT;
    jw_args_adds(&cmd, "FCALL");
    jw_args_adds(&cmd, c->function);
    size_t nk = keys && keys->type == JW_JSON_ARRAY ? keys->len : 0;
    jw_args_addi(&cmd, (int64_t)nk);
    for (size_t i = 0; i < nk; i++)
        jw_args_addf(&cmd, "jwu:{%s}:%s", a->tenant, keys->u.items[i]->u.str);
    for (size_t i = 0; args && args->type == JW_JSON_ARRAY && i < args->len; i++) {
        const struct jw_json *v = args->u.items[i];
        if (v->type == JW_JSON_BOOL)
            jw_args_adds(&cmd, v->u.b ? "true" : "false");
        else
            jw_args_add(&cmd, v->u.str, v->len);
    }
    c->fcall = cmd; /* sent by on_functions */
    struct jw_args list = JW_ARGS_INIT;
    jw_args_adds(&list, "FUNCTION");
    jw_args_adds(&list, "LIST");
    jw_store_cmd(c->r->store, &list, on_functions, c);
}

/* ---- Builtin ------------------------------------------------------------------------- */

static void on_builtin(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct jw_runner_call *c = arg;
    bool ok = st == JW_STORE_OK && jw_reply_is(jw_reply_at(r, 0), "ok");
    if (ok && c->r->start_members) /* runs it made (startWorkflow) start now, cancelled or not */
        c->r->start_members(c->r->start_arg, r, 2);
    if (c->cancelled) {
        free(c);
        return;
    }
    size_t n;
    const char *json = ok ? jw_reply_str(jw_reply_at(r, 1), &n) : NULL;
    if (json)
        deliver(c, 200, json, n, NULL, false);
    else if (st == JW_STORE_OK && jw_reply_is(jw_reply_at(r, 0), "error"))
        deliver_error(c, "%.300s", jw_reply_str(jw_reply_at(r, 1), NULL));
    else if (st == JW_STORE_OK)
        deliver_error(c, "unknown built-in handler");
    else
        deliver_error(c, "the job store (Redis) is unavailable");
}

static void start_builtin(struct jw_runner_call *c, const struct jw_runner_attempt *a,
                          const struct jw_json *cfg)
{
    const struct jw_json *params = jw_json_get(cfg, "params");
    struct jw_buf p = JW_BUF_INIT;
    if (params && params->type == JW_JSON_OBJECT) {
        struct jw_jsonw w;
        jw_jsonw_init(&w, &p);
        jw_jsonw_value(&w, params);
    }
    struct jw_args args = JW_ARGS_INIT;
    jw_args_adds(&args, jw_json_get(cfg, "handler")->u.str);
    jw_args_add(&args, p.data ? p.data : "", p.len);
    jw_args_adds(&args, a->params ? a->params : "");
    jw_args_addi(&args, jw_time_now_ms());
    jw_args_adds(&args, a->run_id);
    jw_args_addi(&args, c->r->retention_ms);
    jw_buf_free(&p);
    jw_store_eval(c->r->store, JW_LUA_BUILTIN, a->tenant, &args, on_builtin, c);
}

/* ---- child processes: CodeExecution, FileOperation ------------------------------------ */

static void put_text(struct jw_jsonw *w, const char *key, const char *s, size_t n)
{
    jw_jsonw_key(w, key);
    if (jw_utf8_valid(s, n))
        jw_jsonw_strn(w, s, n);
    else
        jw_jsonw_str(w, "(output is not UTF-8 text)");
}

/* stderr's first line(s), for an error message */
static void snippet(char *dst, size_t cap, const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap; i++)
        dst[k++] = (unsigned char)s[i] < 0x20 ? ' ' : s[i];
    dst[k] = '\0';
}

static void on_child(void *arg, const struct jw_child_result *res)
{
    struct jw_runner_call *c = arg;
    c->child = NULL;
    char tail[240];
    snippet(tail, sizeof(tail), res->err, res->err_len);
    if (res->error) {
        deliver_error(c, "%s", res->error);
    } else if (res->timed_out) {
        deliver(c, 0, NULL, 0, "the process did not finish in time and was killed", true);
    } else if (c->file_op) {
        if (res->exit_code == 0)
            deliver(c, 200, res->out, res->out_len, NULL, false);
        else
            deliver_error(c, "%s", tail[0] ? tail : "the file operation failed");
    } else if (res->exit_code != 0) {
        if (res->signal)
            deliver_error(c, "killed by signal %d%s%s", res->signal, tail[0] ? ": " : "", tail);
        else
            deliver_error(c, "exit code %d%s%s", res->exit_code, tail[0] ? ": " : "", tail);
    } else {
        struct jw_buf out = JW_BUF_INIT;
        struct jw_jsonw w;
        jw_jsonw_init(&w, &out);
        jw_jsonw_obj_open(&w);
        jw_jsonw_kint(&w, "exit_code", 0);
        put_text(&w, "stdout", res->out, res->out_len);
        put_text(&w, "stderr", res->err, res->err_len);
        jw_jsonw_kbool(&w, "truncated", res->out_truncated || res->err_truncated);
        jw_jsonw_kint(&w, "duration_ms", res->duration_ms);
        jw_jsonw_obj_close(&w);
        deliver_ok(c, &out);
        jw_buf_free(&out);
    }
}

static void start_command(struct jw_runner_call *c, const struct jw_runner_attempt *a,
                          const struct jw_json *cfg)
{
    const struct jw_json *cmd = jw_json_get(cfg, "command");
    const struct jw_json *args = jw_json_get(cfg, "args");
    const struct jw_json *env = jw_json_get(cfg, "env");
    const struct jw_json *cwd = jw_json_get(cfg, "cwd");
    const struct jw_json *cap = jw_json_get(cfg, "max_output_bytes");
    int64_t max_out = DEFAULT_OUTPUT;
    if (cap && cap->type == JW_JSON_NUMBER && jw_json_int(cap, &max_out) != 0)
        max_out = DEFAULT_OUTPUT;
    size_t na = args && args->type == JW_JSON_ARRAY ? args->len : 0;
    size_t ne = env && env->type == JW_JSON_OBJECT ? env->len : 0;
    char **argv = jw_calloc(na + 2, sizeof(char *));
    char **envp = jw_calloc(ne + 6, sizeof(char *));
    argv[0] = jw_strdup(cmd->u.str);
    for (size_t i = 0; i < na; i++)
        argv[i + 1] = jw_strdup(args->u.items[i]->u.str);
    size_t k = 0;
    bool has_path = false;
    for (size_t i = 0; i < ne; i++) {
        struct jw_buf b = JW_BUF_INIT;
        jw_buf_printf(&b, "%s=%s", env->u.members[i].key, env->u.members[i].val->u.str);
        has_path |= !strcmp(env->u.members[i].key, "PATH");
        envp[k++] = jw_buf_detach(&b);
    }
    /* what the process needs to know of its run (and to report back) */
    struct jw_buf b = JW_BUF_INIT;
    if (!has_path) {
        envp[k++] = jw_strdup("PATH=/usr/local/bin:/usr/bin:/bin");
    }
    jw_buf_printf(&b, "JOBWHEEL_RUN_ID=%s", a->run_id);
    envp[k++] = jw_buf_detach(&b);
    jw_buf_printf(&b, "JOBWHEEL_ATTEMPT=%d", a->attempt);
    envp[k++] = jw_buf_detach(&b);
    jw_buf_printf(&b, "JOBWHEEL_RUN_TOKEN=%s", a->run_token ? a->run_token : "");
    envp[k++] = jw_buf_detach(&b);
    const char *payload = a->payload ? a->payload : "{}";
    struct jw_child_spec spec = {
        .path = cmd->u.str,
        .argv = (const char *const *)argv,
        .env = (const char *const *)envp,
        .cwd = cwd && cwd->type == JW_JSON_STRING ? cwd->u.str : NULL,
        .stdin_data = payload,
        .stdin_len = strlen(payload),
        .timeout_ms = a->timeout_ms,
        .max_output = (size_t)max_out,
    };
    c->child = jw_child_start(c->r->base, &spec, on_child, c);
    for (size_t i = 0; argv[i]; i++)
        free(argv[i]);
    for (size_t i = 0; envp[i]; i++)
        free(envp[i]);
    free(argv);
    free(envp);
    if (!c->child)
        fail_later(c, "the command could not be started");
}

static void start_file_op(struct jw_runner_call *c, const struct jw_runner_attempt *a, const char *cfg_text)
{
    if (!c->r->self_exe[0] || !c->r->file_root[0]) {
        fail_later(c, "file operations are not set up on this server (file_root)");
        return;
    }
    c->file_op = true;
    /* the tenant's own directory under the root, and its quota */
    char max_bytes[24], max_entries[24];
    snprintf(max_bytes, sizeof(max_bytes), "%" PRId64, c->r->file_quota_bytes);
    snprintf(max_entries, sizeof(max_entries), "%" PRId64, c->r->file_quota_entries);
    const char *argv[] = {"jobwheel", "file-op", c->r->file_root, a->tenant, max_bytes, max_entries, NULL};
    const char *envp[] = {"PATH=/usr/bin:/bin", NULL};
    struct jw_child_spec spec = {
        .path = c->r->self_exe,
        .argv = argv,
        .env = envp,
        .stdin_data = cfg_text,
        .stdin_len = strlen(cfg_text),
        .timeout_ms = a->timeout_ms,
        .max_output = 4 * 1024 * 1024,
    };
    c->child = jw_child_start(c->r->base, &spec, on_child, c);
    if (!c->child)
        fail_later(c, "the file operation could not be started");
}

/* ---- dispatch ------------------------------------------------------------------------- */

struct jw_runner_call *jw_runner_start(struct jw_runner *r, const struct jw_runner_attempt *a,
                                       jw_http_response_fn fn, void *arg)
{
    struct jw_runner_call *c = jw_calloc(1, sizeof(*c));
    c->r = r;
    c->fn = fn;
    c->arg = arg;
    c->started_us = jw_time_mono_us();
    const char *type = job_type(a->job);
    const struct jw_fval *cf = &a->job->f[JW_JOB_JOB_CONFIGURATION];
    const char *text = cf->set ? cf->s : "{}";
    char why[128];
    struct jw_json_doc *doc = jw_json_parse(text, strlen(text), JW_JSON_STORED_DEPTH, why, sizeof(why));
    if (!doc) {
        fail_later(c, "job_configuration could not be read");
        return c;
    }
    const struct jw_json *cfg = jw_json_root(doc);
    struct jw_error err;
    /* checked again: the server's rules may have changed since it was stored */
    struct jw_job_rules rules = {.code_execution = r->code_execution, .file_operations = r->file_operations};
    if (jw_job_config_check(type, cfg, &rules, &err) != 0)
        fail_later(c, err.detail);
    else if (!strcmp(type, "StoredProcedure"))
        start_fcall(c, a, cfg);
    else if (!strcmp(type, "Builtin"))
        start_builtin(c, a, cfg);
    else if (!strcmp(type, "CodeExecution"))
        start_command(c, a, cfg);
    else if (!strcmp(type, "FileOperation"))
        start_file_op(c, a, text);
    else
        fail_later(c, "this job type is not run here");
    jw_json_doc_free(doc);
    return c;
}

void jw_runner_cancel(struct jw_runner_call *c)
{
    if (!c)
        return;
    if (c->child) {
        jw_child_cancel(c->child);
        free(c);
        return;
    }
    c->cancelled = true; /* the pending store reply or deferred failure frees it */
}
