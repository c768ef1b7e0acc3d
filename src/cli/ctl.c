/* ctl: `jobwheel ctl`, the operator's client of the API from a shell —
 * jobs, runs, a job's schedule, API keys — as tables for people and JSON
 * (--json) for scripts. It is a client like any other: it speaks HTTP to a
 * running jobwheel (--url) with a token (--token, or one it signs itself
 * from --config's HMAC key), so what it may do is what that token may do.
 * A command-line program, not the server: it waits for each answer. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jobwheel/buf.h"
#include "jobwheel/cli.h"
#include "jobwheel/config.h"
#include "jobwheel/json.h"

extern char **environ;

/* Exit codes: what a script can tell apart. */
enum {
    CTL_OK = 0,
    CTL_REFUSED = 1,     /* the server answered 4xx (other than 404): the message says why */
    CTL_USAGE = 2,       /* the command line is wrong */
    CTL_NOT_FOUND = 3,   /* no such job, run or key (404) */
    CTL_UNAVAILABLE = 4, /* the server cannot be reached, or answered 5xx */
};

#define MAX_POS 8

struct opts {
    const char *url, *token, *tenant, *config;
    const char *limit, *status, *job, *count, *from, *payload, *file, *name, *permissions, *expires_at, *tag,
        *max, *interval;
    bool json, soft, help, all;
    const char *pos[MAX_POS];
    int npos;
};

struct ctl {
    struct opts o;
    char host[256];
    int port;
    char *token; /* owned */
    struct event_base *base;
};

/* ---- HTTP ------------------------------------------------------------------------ */

struct answer {
    struct event_base *base;
    int status; /* 0: no answer */
    struct jw_buf body;
    char content_type[64];
};

static void on_answer(struct evhttp_request *req, void *arg)
{
    struct answer *a = arg;
    if (req && evhttp_request_get_response_code(req) > 0) {
        a->status = evhttp_request_get_response_code(req);
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t n = evbuffer_get_length(in);
        if (n)
            jw_buf_append(&a->body, evbuffer_pullup(in, -1), n);
        const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
        snprintf(a->content_type, sizeof(a->content_type), "%s", ct ? ct : "");
    }
    event_base_loopbreak(a->base);
}

/* One request; a->status is 0 when the server could not be reached. */
static void request(struct ctl *c, const char *method, const char *path, const char *body, struct answer *a)
{
    memset(a, 0, sizeof(*a));
    a->base = c->base;
    struct evhttp_connection *conn =
        evhttp_connection_base_new(c->base, NULL, c->host, (unsigned short)c->port);
    struct evhttp_request *req = conn ? evhttp_request_new(on_answer, a) : NULL;
    if (!req) {
        if (conn)
            evhttp_connection_free(conn);
        return;
    }
    evhttp_connection_set_timeout(conn, 60);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char hostport[300];
    snprintf(hostport, sizeof(hostport), "%s:%d", c->host, c->port);
    evhttp_add_header(h, "Host", hostport);
    evhttp_add_header(h, "Accept", "application/json");
    evhttp_add_header(h, "User-Agent", "jobwheel-ctl");
    if (c->token) {
        struct jw_buf auth = JW_BUF_INIT;
        jw_buf_printf(&auth, "Bearer %s", c->token);
        evhttp_add_header(h, "Authorization", jw_buf_str(&auth));
        jw_buf_free(&auth);
    }
    if (c->o.tenant)
        evhttp_add_header(h, "x-tenantid", c->o.tenant);
    if (body) {
        evhttp_add_header(h, "Content-Type", "application/json");
        evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
    }
    enum evhttp_cmd_type type = !strcmp(method, "POST")     ? EVHTTP_REQ_POST
                                : !strcmp(method, "PATCH")  ? EVHTTP_REQ_PATCH
                                : !strcmp(method, "DELETE") ? EVHTTP_REQ_DELETE
                                                            : EVHTTP_REQ_GET;
    if (evhttp_make_request(conn, req, type, path) == 0)
        event_base_dispatch(c->base);
    evhttp_connection_free(conn);
}

/* What a failed answer says, on stderr; the exit code it means. */
static int report_failure(struct ctl *c, const struct answer *a)
{
    if (a->status == 0) {
        fprintf(stderr, "jobwheel ctl: cannot reach http://%s:%d (is jobwheel running? --url sets where)\n",
                c->host, c->port);
        return CTL_UNAVAILABLE;
    }
    char why[128];
    struct jw_json_doc *doc =
        jw_json_parse(a->body.data ? a->body.data : "", a->body.len, 32, why, sizeof(why));
    const struct jw_json *p = doc ? jw_json_root(doc) : NULL;
    const struct jw_json *detail = p ? jw_json_get(p, "detail") : NULL;
    fprintf(stderr, "jobwheel ctl: %d: %s\n", a->status,
            detail && detail->type == JW_JSON_STRING ? detail->u.str : "the server refused the request");
    const struct jw_json *errors = p ? jw_json_get(p, "errors") : NULL;
    for (size_t i = 0; errors && errors->type == JW_JSON_OBJECT && i < errors->len; i++) {
        const struct jw_json *list = errors->u.members[i].val;
        for (size_t k = 0; list->type == JW_JSON_ARRAY && k < list->len; k++)
            if (list->u.items[k]->type == JW_JSON_STRING)
                fprintf(stderr, "  %s: %s\n", errors->u.members[i].key, list->u.items[k]->u.str);
    }
    jw_json_doc_free(doc);
    if (a->status == 404)
        return CTL_NOT_FOUND;
    return a->status >= 500 ? CTL_UNAVAILABLE : CTL_REFUSED;
}

/* A request whose answer must be 2xx: 0 and *doc (NULL for an empty body)
 * or an exit code, the failure reported. */
static int call(struct ctl *c, const char *method, const char *path, const char *body, struct answer *a,
                struct jw_json_doc **doc)
{
    *doc = NULL;
    request(c, method, path, body, a);
    if (a->status < 200 || a->status > 299)
        return report_failure(c, a);
    if (a->body.len) {
        char why[128];
        *doc = jw_json_parse(a->body.data, a->body.len, 64, why, sizeof(why));
        if (!*doc) {
            fprintf(stderr, "jobwheel ctl: the answer is not JSON: %s\n", why);
            return CTL_UNAVAILABLE;
        }
    }
    return CTL_OK;
}

/* ---- output -------------------------------------------------------------------------- */

/* A value as a table cell: strings as they are, times shortened to the
 * second, null as "-", anything else as compact JSON. */
static void cell_text(const struct jw_json *v, struct jw_buf *out)
{
    if (!v || v->type == JW_JSON_NULL) {
        jw_buf_puts(out, "-");
    } else if (v->type == JW_JSON_STRING) {
        const char *s = v->u.str;
        size_t n = strlen(s);
        if (n == 24 && s[10] == 'T' && s[23] == 'Z') /* 2026-01-02T03:04:05.678Z */
            jw_buf_printf(out, "%.10s %.8s", s, s + 11);
        else
            jw_buf_puts(out, s);
    } else {
        struct jw_jsonw w;
        jw_jsonw_init(&w, out);
        jw_jsonw_value(&w, v);
    }
}

/* Computed columns: a job's schedule, a run's duration. */
static void cell(const struct jw_json *row, const char *key, struct jw_buf *out)
{
    if (!strcmp(key, "@schedule")) {
        const struct jw_json *cron = jw_json_get(row, "cron"), *iv = jw_json_get(row, "interval_seconds"),
                             *at = jw_json_get(row, "run_at");
        if (cron && cron->type == JW_JSON_STRING)
            jw_buf_puts(out, cron->u.str);
        else if (iv && iv->type == JW_JSON_NUMBER)
            jw_buf_printf(out, "every %ss", iv->u.str);
        else if (at && at->type == JW_JSON_STRING)
            cell_text(at, out);
        else
            jw_buf_puts(out, "-");
        return;
    }
    if (!strcmp(key, "@duration")) {
        const struct jw_json *s = jw_json_get(row, "started_at"), *f = jw_json_get(row, "finished_at");
        struct tm a = {0}, b = {0};
        int ams = 0, bms = 0;
        if (s && f && s->type == JW_JSON_STRING && f->type == JW_JSON_STRING &&
            sscanf(s->u.str, "%d-%d-%dT%d:%d:%d.%dZ", &a.tm_year, &a.tm_mon, &a.tm_mday, &a.tm_hour,
                   &a.tm_min, &a.tm_sec, &ams) == 7 &&
            sscanf(f->u.str, "%d-%d-%dT%d:%d:%d.%dZ", &b.tm_year, &b.tm_mon, &b.tm_mday, &b.tm_hour,
                   &b.tm_min, &b.tm_sec, &bms) == 7) {
            a.tm_year -= 1900, b.tm_year -= 1900, a.tm_mon -= 1, b.tm_mon -= 1;
            long long ms = ((long long)timegm(&b) - (long long)timegm(&a)) * 1000 + bms - ams;
            jw_buf_printf(out, ms < 10000 ? "%lld ms" : "%lld s", ms < 10000 ? ms : ms / 1000);
        } else {
            jw_buf_puts(out, "-");
        }
        return;
    }
    cell_text(jw_json_get(row, key), out);
}

struct column {
    const char *head, *key;
};

#define CELL_MAX 48

/* rows (a JSON array of objects) as a table with a header line. */
static void print_table(const struct jw_json *rows, const struct column *cols, size_t ncols)
{
    size_t nrows = rows && rows->type == JW_JSON_ARRAY ? rows->len : 0;
    struct jw_buf *cells = calloc((nrows + 1) * ncols, sizeof(struct jw_buf));
    size_t width[16] = {0};
    if (!cells || ncols > 16) {
        free(cells);
        return;
    }
    for (size_t k = 0; k < ncols; k++)
        jw_buf_puts(&cells[k], cols[k].head);
    for (size_t r = 0; r < nrows; r++)
        for (size_t k = 0; k < ncols; k++) {
            struct jw_buf *b = &cells[(r + 1) * ncols + k];
            cell(rows->u.items[r], cols[k].key, b);
            if (b->len > CELL_MAX) { /* long values cut, marked */
                b->len = CELL_MAX - 3;
                jw_buf_puts(b, "...");
            }
        }
    for (size_t i = 0; i < (nrows + 1) * ncols; i++)
        if (cells[i].len > width[i % ncols])
            width[i % ncols] = cells[i].len;
    for (size_t r = 0; r <= nrows; r++) {
        for (size_t k = 0; k < ncols; k++) {
            const struct jw_buf *b = &cells[r * ncols + k];
            if (k + 1 < ncols)
                printf("%-*s  ", (int)width[k], jw_buf_str(b));
            else
                printf("%s\n", jw_buf_str(b));
        }
    }
    for (size_t i = 0; i < (nrows + 1) * ncols; i++)
        jw_buf_free(&cells[i]);
    free(cells);
}

/* An object as "key: value" lines, nulls left out. */
static void print_object(const struct jw_json *obj)
{
    size_t w = 0;
    for (size_t i = 0; obj && obj->type == JW_JSON_OBJECT && i < obj->len; i++)
        if (strlen(obj->u.members[i].key) > w)
            w = strlen(obj->u.members[i].key);
    for (size_t i = 0; obj && obj->type == JW_JSON_OBJECT && i < obj->len; i++) {
        const struct jw_json *v = obj->u.members[i].val;
        if (v->type == JW_JSON_NULL)
            continue;
        struct jw_buf b = JW_BUF_INIT;
        cell_text(v, &b);
        printf("%-*s  %s\n", (int)w + 1, obj->u.members[i].key, jw_buf_str(&b));
        jw_buf_free(&b);
    }
}

/* The answer as the user asked: JSON as the server sent it, or people's form. */
static int show(struct ctl *c, const struct answer *a, const struct jw_json_doc *doc,
                const struct column *cols, size_t ncols)
{
    if (c->o.json) {
        printf("%s\n", a->body.len ? jw_buf_str(&a->body) : "null");
        return CTL_OK;
    }
    const struct jw_json *root = doc ? jw_json_root(doc) : NULL;
    if (root && root->type == JW_JSON_ARRAY && cols)
        print_table(root, cols, ncols);
    else
        print_object(root);
    return CTL_OK;
}

static const struct column job_cols[] = {{"ID", "id"},
                                         {"NAME", "name"},
                                         {"SCHEDULE", "@schedule"},
                                         {"TZ", "timezone"},
                                         {"NEXT RUN", "next_run_at"},
                                         {"ENABLED", "enabled"},
                                         {"PAUSED", "paused"},
                                         {"TYPE", "job_type"}};
static const struct column run_cols[] = {
    {"ID", "id"},           {"JOB", "job_id"},         {"STATUS", "status"},
    {"ATTEMPT", "attempt"}, {"CREATED", "created_at"}, {"DURATION", "@duration"},
    {"ERROR", "error"}};
static const struct column key_cols[] = {{"ID", "id"},
                                         {"NAME", "name"},
                                         {"PREFIX", "prefix"},
                                         {"PERMISSIONS", "permissions"},
                                         {"CREATED", "created_at"},
                                         {"EXPIRES", "expires_at"}};
static const struct column firing_cols[] = {
    {"AT (UTC)", "at"}, {"LOCAL", "local"}, {"SUPPRESSED", "suppressed"}, {"REASON", "reason"}};
#define N(a) (sizeof(a) / sizeof(a[0]))

/* ---- paths and bodies ---------------------------------------------------------------- */

/* before + arg (percent-encoded) + after. */
static char *path_of(const char *before, const char *arg, const char *after)
{
    struct jw_buf b = JW_BUF_INIT;
    char *enc = evhttp_uriencode(arg, -1, 0);
    jw_buf_printf(&b, "%s%s%s", before, enc ? enc : "", after);
    free(enc);
    return jw_buf_detach(&b);
}

/* Add ?key=value (or &key=value) when value is set. */
static void add_query(struct jw_buf *path, const char *key, const char *value)
{
    if (!value)
        return;
    char *enc = evhttp_uriencode(value, -1, 0);
    jw_buf_printf(path, "%c%s=%s", strchr(jw_buf_str(path), '?') ? '&' : '?', key, enc ? enc : "");
    free(enc);
}

/* The text of a file ("-": standard input); NULL with a message. */
static char *read_file(const char *name)
{
    FILE *f = strcmp(name, "-") ? fopen(name, "r") : stdin;
    if (!f) {
        fprintf(stderr, "jobwheel ctl: cannot read %s: %s\n", name, strerror(errno));
        return NULL;
    }
    struct jw_buf b = JW_BUF_INIT;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        jw_buf_append(&b, chunk, n);
    if (f != stdin)
        fclose(f);
    return jw_buf_detach(&b);
}

/* ---- the verbs ------------------------------------------------------------------------ */

static int simple(struct ctl *c, const char *method, char *path, const char *body, const struct column *cols,
                  size_t ncols)
{
    struct answer a;
    struct jw_json_doc *doc;
    int rc = call(c, method, path, body, &a, &doc);
    if (rc == CTL_OK)
        rc = show(c, &a, doc, cols, ncols);
    jw_json_doc_free(doc);
    jw_buf_free(&a.body);
    free(path);
    return rc;
}

static int jobs_list(struct ctl *c)
{
    struct jw_buf p = JW_BUF_INIT;
    jw_buf_puts(&p, "/v1/jobs");
    add_query(&p, "limit", c->o.limit);
    add_query(&p, "tag", c->o.tag);
    return simple(c, "GET", jw_buf_detach(&p), NULL, job_cols, N(job_cols));
}

static int jobs_get(struct ctl *c)
{
    return simple(c, "GET", path_of("/v1/jobs/", c->o.pos[0], ""), NULL, NULL, 0);
}

static int jobs_create(struct ctl *c)
{
    if (!c->o.file) {
        fprintf(stderr, "jobwheel ctl: jobs create needs -f FILE (a job as JSON; - reads standard input)\n");
        return CTL_USAGE;
    }
    char *body = read_file(c->o.file);
    if (!body)
        return CTL_USAGE;
    int rc = simple(c, "POST", jw_strdup("/v1/jobs"), body, NULL, 0);
    free(body);
    return rc;
}

static int jobs_trigger(struct ctl *c)
{
    char *file = c->o.file ? read_file(c->o.file) : NULL;
    if (c->o.file && !file)
        return CTL_USAGE;
    struct jw_buf body = JW_BUF_INIT;
    const char *payload = file ? file : c->o.payload;
    if (payload)
        jw_buf_printf(&body, "{\"payload\":%s}", payload);
    int rc = simple(c, "POST", path_of("/v1/jobs/", c->o.pos[0], "/trigger"),
                    payload ? jw_buf_str(&body) : NULL, NULL, 0);
    jw_buf_free(&body);
    free(file);
    return rc;
}

static int jobs_pause(struct ctl *c)
{
    return simple(c, "POST", path_of("/v1/jobs/", c->o.pos[0], "/pause"), NULL, NULL, 0);
}

static int jobs_resume(struct ctl *c)
{
    return simple(c, "POST", path_of("/v1/jobs/", c->o.pos[0], "/resume"), NULL, NULL, 0);
}

static int jobs_delete(struct ctl *c)
{
    char *path = path_of("/v1/jobs/", c->o.pos[0], c->o.soft ? "?soft=true" : "");
    int rc = simple(c, "DELETE", path, NULL, NULL, 0);
    if (rc == CTL_OK && !c->o.json)
        printf("deleted %s\n", c->o.pos[0]);
    return rc;
}

static void runs_path(struct ctl *c, struct jw_buf *p)
{
    if (c->o.job) {
        char *job = path_of("/v1/jobs/", c->o.job, "/runs");
        jw_buf_puts(p, job);
        free(job);
    } else {
        jw_buf_puts(p, "/v1/runs");
    }
    add_query(p, "status", c->o.status);
}

static int runs_list(struct ctl *c)
{
    struct jw_buf p = JW_BUF_INIT;
    runs_path(c, &p);
    add_query(&p, "limit", c->o.limit);
    return simple(c, "GET", jw_buf_detach(&p), NULL, run_cols, N(run_cols));
}

static int runs_get(struct ctl *c)
{
    return simple(c, "GET", path_of("/v1/runs/", c->o.pos[0], ""), NULL, NULL, 0);
}

static int runs_cancel(struct ctl *c)
{
    return simple(c, "POST", path_of("/v1/runs/", c->o.pos[0], "/cancel"), NULL, NULL, 0);
}

/* A new run of the run's job with its payload, metadata and tags. */
static int runs_retry(struct ctl *c)
{
    struct answer a;
    struct jw_json_doc *doc;
    char *path = path_of("/v1/runs/", c->o.pos[0], "");
    int rc = call(c, "GET", path, NULL, &a, &doc);
    free(path);
    const struct jw_json *run = doc ? jw_json_root(doc) : NULL,
                         *job = run ? jw_json_get(run, "job_id") : NULL;
    if (rc == CTL_OK && (!job || job->type != JW_JSON_STRING)) {
        fprintf(stderr, "jobwheel ctl: the run names no job\n");
        rc = CTL_UNAVAILABLE;
    }
    if (rc == CTL_OK) {
        struct jw_buf body = JW_BUF_INIT;
        struct jw_jsonw w;
        jw_jsonw_init(&w, &body);
        jw_jsonw_obj_open(&w);
        static const char *const keep[] = {"payload", "metadata", "tags", "priority", "concurrency_key"};
        for (size_t i = 0; i < N(keep); i++) {
            const struct jw_json *v = jw_json_get(run, keep[i]);
            if (v && v->type != JW_JSON_NULL) {
                jw_jsonw_key(&w, keep[i]);
                jw_jsonw_value(&w, v);
            }
        }
        jw_jsonw_obj_close(&w);
        rc = simple(c, "POST", path_of("/v1/jobs/", job->u.str, "/trigger"), jw_buf_str(&body), NULL, 0);
        jw_buf_free(&body);
    }
    jw_json_doc_free(doc);
    jw_buf_free(&a.body);
    return rc;
}

static bool ended(const char *status)
{
    static const char *const open[] = {"delayed", "pending", "waiting", "running"};
    for (size_t i = 0; i < N(open); i++)
        if (!strcmp(status, open[i]))
            return false;
    return true;
}

/* Follow runs as they end: one line each (the newest 200 are polled every
 * --interval seconds); --max N stops after N lines. */
static int runs_tail(struct ctl *c)
{
    long interval = c->o.interval ? strtol(c->o.interval, NULL, 10) : 1;
    long max = c->o.max ? strtol(c->o.max, NULL, 10) : 0;
    if (interval < 1 || interval > 3600 || max < 0) {
        fprintf(stderr, "jobwheel ctl: --interval is 1 to 3600 seconds, --max a count\n");
        return CTL_USAGE;
    }
    struct jw_buf p = JW_BUF_INIT;
    runs_path(c, &p);
    add_query(&p, "limit", "200");
    /* ids already shown (or ended before the tail began) */
    size_t nseen = 0, capseen = 0;
    char **seen = NULL;
    bool first = true;
    long shown = 0;
    int rc = CTL_OK;
    while (rc == CTL_OK && (max == 0 || shown < max)) {
        struct answer a;
        struct jw_json_doc *doc;
        rc = call(c, "GET", jw_buf_str(&p), NULL, &a, &doc);
        const struct jw_json *rows = doc ? jw_json_root(doc) : NULL;
        for (size_t i = rows && rows->type == JW_JSON_ARRAY ? rows->len : 0; rc == CTL_OK && i-- > 0;) {
            const struct jw_json *r = rows->u.items[i], *id = jw_json_get(r, "id"),
                                 *st = jw_json_get(r, "status");
            if (!id || id->type != JW_JSON_STRING || !st || st->type != JW_JSON_STRING || !ended(st->u.str))
                continue;
            bool known = false;
            for (size_t k = 0; k < nseen && !known; k++)
                known = !strcmp(seen[k], id->u.str);
            if (known)
                continue;
            if (nseen == capseen) {
                capseen = capseen ? 2 * capseen : 256;
                seen = jw_realloc(seen, capseen * sizeof(*seen));
            }
            seen[nseen++] = jw_strdup(id->u.str);
            if (first && !c->o.all)
                continue; /* what ended before: not news */
            if (max && shown >= max)
                break;
            shown++;
            if (c->o.json) {
                struct jw_buf line = JW_BUF_INIT;
                struct jw_jsonw w;
                jw_jsonw_init(&w, &line);
                jw_jsonw_value(&w, r);
                printf("%s\n", jw_buf_str(&line));
                jw_buf_free(&line);
            } else {
                struct jw_buf d = JW_BUF_INIT, t = JW_BUF_INIT;
                cell(r, "@duration", &d);
                cell(r, "finished_at", &t);
                const struct jw_json *err = jw_json_get(r, "error"), *job = jw_json_get(r, "job_id");
                printf("%s  %s  job %s  %s  %s%s%s\n", jw_buf_str(&t), id->u.str,
                       job && job->type == JW_JSON_STRING ? job->u.str : "-", st->u.str, jw_buf_str(&d),
                       err && err->type == JW_JSON_STRING ? "  " : "",
                       err && err->type == JW_JSON_STRING ? err->u.str : "");
                jw_buf_free(&d);
                jw_buf_free(&t);
            }
        }
        fflush(stdout);
        jw_json_doc_free(doc);
        jw_buf_free(&a.body);
        first = false;
        if (rc == CTL_OK && (max == 0 || shown < max))
            sleep((unsigned)interval);
    }
    for (size_t k = 0; k < nseen; k++)
        free(seen[k]);
    free(seen);
    jw_buf_free(&p);
    return rc;
}

static int schedule(struct ctl *c)
{
    struct jw_buf p = JW_BUF_INIT;
    char *base = path_of("/v1/jobs/", c->o.pos[0], "/schedule");
    jw_buf_puts(&p, base);
    free(base);
    add_query(&p, "count", c->o.count);
    add_query(&p, "from", c->o.from);
    struct answer a;
    struct jw_json_doc *doc;
    int rc = call(c, "GET", jw_buf_str(&p), NULL, &a, &doc);
    jw_buf_free(&p);
    if (rc == CTL_OK && c->o.json) {
        rc = show(c, &a, doc, NULL, 0);
    } else if (rc == CTL_OK) {
        const struct jw_json *root = jw_json_root(doc), *tz = jw_json_get(root, "timezone");
        printf("time zone %s\n", tz && tz->type == JW_JSON_STRING ? tz->u.str : "UTC");
        print_table(jw_json_get(root, "firings"), firing_cols, N(firing_cols));
    }
    jw_json_doc_free(doc);
    jw_buf_free(&a.body);
    return rc;
}

static const struct column instance_cols[] = {
    {"INSTANCE", "id"}, {"THIS", "this"}, {"LAST SEEN", "last_seen"}, {"SHARDS OWNED", "shards_owned"}};

static int instances(struct ctl *c)
{
    struct answer a;
    struct jw_json_doc *doc;
    int rc = call(c, "GET", "/v1/system/instances", NULL, &a, &doc);
    if (rc == CTL_OK && c->o.json) {
        rc = show(c, &a, doc, NULL, 0);
    } else if (rc == CTL_OK) {
        const struct jw_json *root = jw_json_root(doc), *n = jw_json_get(root, "shards"),
                             *free_ = jw_json_get(root, "shards_unowned");
        print_table(jw_json_get(root, "instances"), instance_cols, N(instance_cols));
        struct jw_buf b = JW_BUF_INIT;
        cell_text(free_, &b);
        printf("%s shards; not owned: %s\n", n && n->type == JW_JSON_NUMBER ? n->u.str : "?", jw_buf_str(&b));
        jw_buf_free(&b);
    }
    jw_json_doc_free(doc);
    jw_buf_free(&a.body);
    return rc;
}

static int keys_create(struct ctl *c)
{
    if (!c->o.name) {
        fprintf(stderr, "jobwheel ctl: keys create needs --name NAME\n");
        return CTL_USAGE;
    }
    struct jw_buf body = JW_BUF_INIT;
    struct jw_jsonw w;
    jw_jsonw_init(&w, &body);
    jw_jsonw_obj_open(&w);
    jw_jsonw_kstr(&w, "name", c->o.name);
    if (c->o.permissions) {
        jw_jsonw_key(&w, "permissions");
        jw_jsonw_arr_open(&w);
        for (const char *p = c->o.permissions; *p;) {
            size_t n = strcspn(p, ",");
            if (n)
                jw_jsonw_strn(&w, p, n);
            p += n + (p[n] == ',');
        }
        jw_jsonw_arr_close(&w);
    }
    if (c->o.expires_at)
        jw_jsonw_kstr(&w, "expires_at", c->o.expires_at);
    jw_jsonw_obj_close(&w);
    int rc = simple(c, "POST", jw_strdup("/v1/api-keys"), jw_buf_str(&body), NULL, 0);
    jw_buf_free(&body);
    return rc;
}

static int keys_list(struct ctl *c)
{
    return simple(c, "GET", jw_strdup("/v1/api-keys"), NULL, key_cols, N(key_cols));
}

static int keys_revoke(struct ctl *c)
{
    int rc = simple(c, "DELETE", path_of("/v1/api-keys/", c->o.pos[0], ""), NULL, NULL, 0);
    if (rc == CTL_OK && !c->o.json)
        printf("revoked %s\n", c->o.pos[0]);
    return rc;
}

/* ---- the command line ------------------------------------------------------------------ */

struct verb {
    const char *noun, *verb, *args, *options, *help;
    int nargs;
    int (*fn)(struct ctl *);
};

static const struct verb verbs[] = {
    {"jobs", "list", "", "[--tag KEY[:VALUE]] [--limit N]", "the tenant's jobs, newest first", 0, jobs_list},
    {"jobs", "get", "JOB", "", "one job (by id or name), every field", 1, jobs_get},
    {"jobs", "create", "", "-f FILE", "create a job from JSON (FILE - reads standard input)", 0, jobs_create},
    {"jobs", "trigger", "JOB", "[--payload JSON | -f FILE]", "run a job now; prints the run", 1,
     jobs_trigger},
    {"jobs", "pause", "JOB", "", "stop a job firing", 1, jobs_pause},
    {"jobs", "resume", "JOB", "", "fire again, from now", 1, jobs_resume},
    {"jobs", "delete", "JOB", "[--soft]", "delete a job (--soft keeps its history)", 1, jobs_delete},
    {"runs", "list", "", "[--job JOB] [--status S[,S]] [--limit N]", "runs, newest first", 0, runs_list},
    {"runs", "get", "RUN", "", "one run with its attempts", 1, runs_get},
    {"runs", "tail", "", "[--job JOB] [--status S] [--interval SECS] [--max N] [--all]",
     "print runs as they end (--all: those already ended too), until interrupted or N lines", 0, runs_tail},
    {"runs", "cancel", "RUN", "", "cancel a run that has not ended", 1, runs_cancel},
    {"runs", "retry", "RUN", "", "a new run of the run's job with the same payload, metadata and tags", 1,
     runs_retry},
    {"schedule", NULL, "JOB", "[--count N] [--from TIME]", "a job's next firings, in UTC and local time", 1,
     schedule},
    {"instances", NULL, "", "", "the instances sharing the Redis and the shards each owns (super_admin)", 0,
     instances},
    {"keys", "create", "", "--name NAME [--permissions jobs:read,jobs:write] [--expires-at TIME]",
     "make an API key (admin); the key is shown once", 0, keys_create},
    {"keys", "list", "", "", "the tenant's API keys (admin)", 0, keys_list},
    {"keys", "revoke", "KEY_ID", "", "revoke an API key (admin)", 1, keys_revoke},
};

static const char global_help[] =
    "Connection (each also from the environment):\n"
    "  --url URL         jobwheel's address (JOBWHEEL_URL; default: the config's listen, else\n"
    "                    http://127.0.0.1:8080)\n"
    "  --token TOKEN     a JWT or API key (JOBWHEEL_TOKEN); without one, a 5-minute admin and\n"
    "                    super_admin token is signed with the HMAC key of --config (JOBWHEEL_CONFIG)\n"
    "  --config FILE     jobwheel's config file: its listen address and HMAC key\n"
    "  --tenant UUID     the tenant to act for (x-tenantid; and the signed token's tenant)\n"
    "  --json            print the answer as JSON, for scripts\n"
    "Exit codes: 0 done; 1 refused (4xx: the message says why); 2 bad command line;\n"
    "3 not found (404); 4 jobwheel unreachable or failing (5xx).\n"
    "`jobwheel ctl completion bash` prints a bash completion script; `jobwheel ctl token` (as\n"
    "`jobwheel token`) signs development tokens.\n";

static void usage_of(const struct verb *v, FILE *out)
{
    fprintf(out, "jobwheel ctl %s%s%s%s%s%s%s\n    %s\n", v->noun, v->verb ? " " : "", v->verb ? v->verb : "",
            v->args[0] ? " " : "", v->args, v->options[0] ? " " : "", v->options, v->help);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: jobwheel ctl NOUN VERB [ARGS] [OPTIONS]\n\n");
    for (size_t i = 0; i < N(verbs); i++)
        usage_of(&verbs[i], out);
    fprintf(out, "\n%s", global_help);
}

static void completion(void)
{
    printf("# bash completion for jobwheel ctl: source it, or put it in /etc/bash_completion.d/jobwheel\n"
           "_jobwheel() {\n"
           "    local cur=${COMP_WORDS[COMP_CWORD]} words=\"\"\n"
           "    if [ \"$COMP_CWORD\" -eq 1 ]; then words=\"ctl token --help --version --config\"\n"
           "    elif [ \"${COMP_WORDS[1]}\" = ctl ] && [ \"$COMP_CWORD\" -eq 2 ]; then words=\"jobs runs "
           "schedule keys "
           "instances token completion --help\"\n"
           "    elif [ \"${COMP_WORDS[1]}\" = ctl ] && [ \"$COMP_CWORD\" -eq 3 ]; then\n"
           "        case ${COMP_WORDS[2]} in\n");
    const char *nouns[] = {"jobs", "runs", "keys"};
    for (size_t n = 0; n < N(nouns); n++) {
        printf("            %s) words=\"", nouns[n]);
        for (size_t i = 0; i < N(verbs); i++)
            if (!strcmp(verbs[i].noun, nouns[n]))
                printf("%s ", verbs[i].verb);
        printf("\" ;;\n");
    }
    printf("            completion) words=\"bash\" ;;\n"
           "        esac\n"
           "    else words=\"--url --token --config --tenant --json --help --limit --status --job --count "
           "--from "
           "--payload --file --soft --name --permissions --expires-at --tag --max --interval --all\"\n"
           "    fi\n"
           "    COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
           "}\n"
           "complete -o default -F _jobwheel jobwheel\n");
}

/* Options anywhere on the line; the rest are positional. -1: a bad one. */
static int parse(int argc, char **argv, struct opts *o)
{
    static const struct {
        const char *name;
        size_t off;
    } valued[] = {
        {"--url", offsetof(struct opts, url)},
        {"--token", offsetof(struct opts, token)},
        {"--tenant", offsetof(struct opts, tenant)},
        {"--config", offsetof(struct opts, config)},
        {"--limit", offsetof(struct opts, limit)},
        {"--status", offsetof(struct opts, status)},
        {"--job", offsetof(struct opts, job)},
        {"--count", offsetof(struct opts, count)},
        {"--from", offsetof(struct opts, from)},
        {"--payload", offsetof(struct opts, payload)},
        {"--file", offsetof(struct opts, file)},
        {"-f", offsetof(struct opts, file)},
        {"--name", offsetof(struct opts, name)},
        {"--permissions", offsetof(struct opts, permissions)},
        {"--expires-at", offsetof(struct opts, expires_at)},
        {"--tag", offsetof(struct opts, tag)},
        {"--max", offsetof(struct opts, max)},
        {"--interval", offsetof(struct opts, interval)},
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) {
            o->json = true;
        } else if (!strcmp(a, "--soft")) {
            o->soft = true;
        } else if (!strcmp(a, "--all")) {
            o->all = true;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            o->help = true;
        } else if (a[0] == '-' && a[1]) {
            size_t k = 0;
            while (k < N(valued) && strcmp(valued[k].name, a))
                k++;
            if (k == N(valued)) {
                fprintf(stderr, "jobwheel ctl: unknown option %.60s (see jobwheel ctl --help)\n", a);
                return -1;
            }
            if (i + 1 >= argc) {
                fprintf(stderr, "jobwheel ctl: %s needs a value\n", a);
                return -1;
            }
            *(const char **)((char *)o + valued[k].off) = argv[++i];
        } else if (o->npos < MAX_POS) {
            o->pos[o->npos++] = a;
        } else {
            fprintf(stderr, "jobwheel ctl: too many arguments\n");
            return -1;
        }
    }
    return 0;
}

/* host and port of an http:// URL (or host:port); -1 if it is not one. */
static int parse_url(const char *url, char *host, size_t hostlen, int *port)
{
    if (!strncmp(url, "https://", 8)) {
        fprintf(stderr,
                "jobwheel ctl: https is not spoken here: reach jobwheel over http (or through a tunnel)\n");
        return -1;
    }
    if (!strncmp(url, "http://", 7))
        url += 7;
    const char *colon = strrchr(url, ':');
    size_t n = colon ? (size_t)(colon - url) : strcspn(url, "/");
    char *end = NULL;
    long p = colon ? strtol(colon + 1, &end, 10) : 80;
    if (n == 0 || n >= hostlen || p < 1 || p > 65535 || (end && *end && *end != '/')) {
        fprintf(stderr, "jobwheel ctl: --url: expected http://host:port, got \"%.100s\"\n", url);
        return -1;
    }
    memcpy(host, url, n);
    host[n] = '\0';
    if (!strcmp(host, "0.0.0.0"))
        snprintf(host, hostlen, "127.0.0.1");
    *port = (int)p;
    return 0;
}

/* Where and as whom: --url/--token, the environment, else the config. */
static int connect_settings(struct ctl *c)
{
    const char *url = c->o.url ? c->o.url : getenv("JOBWHEEL_URL");
    const char *token = c->o.token ? c->o.token : getenv("JOBWHEEL_TOKEN");
    const char *file = c->o.config ? c->o.config : getenv("JOBWHEEL_CONFIG");
    struct jw_config cfg;
    bool have_cfg = false;
    if ((file && file[0]) || (!url || !token)) {
        char *args[] = {"jobwheel", "--config", (char *)file, NULL};
        char *none[] = {NULL};
        char err[512];
        int rc = jw_config_load(&cfg, file && file[0] ? 3 : 1, file && file[0] ? args : none, environ, err,
                                sizeof(err));
        if (rc == 0) {
            have_cfg = true;
        } else {
            jw_config_free(&cfg); /* what was read before the mistake */
            if (c->o.config) {
                fprintf(stderr, "jobwheel ctl: %s\n", err);
                return CTL_USAGE;
            }
        }
    }
    int rc = CTL_OK;
    if (url) {
        if (parse_url(url, c->host, sizeof(c->host), &c->port) != 0)
            rc = CTL_USAGE;
    } else if (have_cfg && strncmp(cfg.listen, "unix:", 5) != 0) {
        if (parse_url(cfg.listen, c->host, sizeof(c->host), &c->port) != 0)
            rc = CTL_USAGE;
    } else {
        snprintf(c->host, sizeof(c->host), "127.0.0.1");
        c->port = 8080;
    }
    if (rc == CTL_OK && token) {
        c->token = jw_strdup(token);
    } else if (rc == CTL_OK && have_cfg && cfg.jwt_secret[0] && !strncmp(cfg.jwt_algorithm, "HS", 2)) {
        /* whoever holds the key can sign anything: the token is an operator's */
        struct jw_token_claims claims = {"ctl",
                                         c->o.tenant ? c->o.tenant : JW_CLI_DEMO_TENANT,
                                         "admin,super_admin",
                                         "",
                                         "jobwheel ctl",
                                         "",
                                         "",
                                         300};
        char err[256];
        c->token = jw_cli_token_sign(&cfg, &claims, err, sizeof(err));
        if (!c->token) {
            fprintf(stderr, "jobwheel ctl: %s\n", err);
            rc = CTL_USAGE;
        }
    }
    if (have_cfg)
        jw_config_free(&cfg);
    return rc;
}

int jw_ctl_main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "token")) /* the same as `jobwheel token` */
        return jw_cli_token_main(argc, argv);
    struct ctl c;
    memset(&c, 0, sizeof(c));
    if (parse(argc, argv, &c.o) != 0)
        return CTL_USAGE;
    if (c.o.npos == 0) {
        usage(c.o.help ? stdout : stderr);
        return c.o.help ? CTL_OK : CTL_USAGE;
    }
    if (!strcmp(c.o.pos[0], "completion")) {
        if (c.o.npos != 2 || strcmp(c.o.pos[1], "bash")) {
            fprintf(stderr, "jobwheel ctl: completion bash\n");
            return CTL_USAGE;
        }
        completion();
        return CTL_OK;
    }
    const struct verb *v = NULL;
    bool noun_known = false;
    for (size_t i = 0; i < N(verbs) && !v; i++) {
        if (strcmp(verbs[i].noun, c.o.pos[0]))
            continue;
        noun_known = true;
        if (!verbs[i].verb || (c.o.npos > 1 && !strcmp(verbs[i].verb, c.o.pos[1])))
            v = &verbs[i];
    }
    if (!v) {
        if (noun_known && (c.o.help || c.o.npos == 1)) { /* `jobwheel ctl jobs --help`: that noun's verbs */
            for (size_t i = 0; i < N(verbs); i++)
                if (!strcmp(verbs[i].noun, c.o.pos[0]))
                    usage_of(&verbs[i], c.o.help ? stdout : stderr);
            return c.o.help ? CTL_OK : CTL_USAGE;
        }
        fprintf(stderr, "jobwheel ctl: unknown command \"%s%s%s\" (see jobwheel ctl --help)\n", c.o.pos[0],
                c.o.npos > 1 ? " " : "", c.o.npos > 1 ? c.o.pos[1] : "");
        return CTL_USAGE;
    }
    if (c.o.help) {
        usage_of(v, stdout);
        printf("\n%s", global_help);
        return CTL_OK;
    }
    int skip = v->verb ? 2 : 1; /* the words naming the command */
    c.o.npos -= skip;
    memmove(c.o.pos, c.o.pos + skip, (size_t)c.o.npos * sizeof(c.o.pos[0]));
    if (c.o.npos != v->nargs) {
        fprintf(stderr, "usage: ");
        usage_of(v, stderr);
        return CTL_USAGE;
    }
    int rc = connect_settings(&c);
    if (rc == CTL_OK) {
        c.base = event_base_new();
        rc = c.base ? v->fn(&c) : CTL_UNAVAILABLE;
        if (c.base)
            event_base_free(c.base);
    }
    free(c.token);
    return rc;
}
