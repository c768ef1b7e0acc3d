/* log: text or JSON-lines logging to stderr. A line is written whole by one
 * write(2); request lines are held and written together (jw_log_flush). */
#include "jobwheel/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobwheel/buf.h"
#include "jobwheel/json.h"
#include "jobwheel/time.h"

static bool log_json;
static enum jw_log_level log_min = JW_LOG_INFO;

static const char *level_name[] = {"debug", "info", "warn", "error"};

void jw_log_init(const char *format, const char *level)
{
    static bool once;
    if (!once)
        atexit(jw_log_flush); /* what is held is written at exit too */
    once = true;
    log_json = format && !strcmp(format, "json");
    for (int i = 0; i < 4; i++)
        if (level && !strcmp(level, level_name[i]))
            log_min = (enum jw_log_level)i;
}

/* Request lines not written yet: the HTTP server flushes them once a turn
 * of the loop, so a busy instance writes its access log in few calls. */
static struct jw_buf held = JW_BUF_INIT;
#define HELD_MAX (64 * 1024)
static void (*held_cb)(void *);
static void *held_arg;

void jw_log_on_held(void (*cb)(void *arg), void *arg)
{
    held_cb = cb;
    held_arg = arg;
}

/* Line b (without its newline) joins those held. */
static void hold(struct jw_buf *b)
{
    bool first = held.len == 0;
    jw_buf_putc(b, '\n');
    jw_buf_append(&held, b->data, b->len);
    jw_buf_free(b);
    if (held.len >= HELD_MAX)
        jw_log_flush();
    else if (first && held_cb)
        held_cb(held_arg);
}

static void write_all(const char *p, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(STDERR_FILENO, p + off, len - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
}

void jw_log_flush(void)
{
    if (held.len)
        write_all(held.data, held.len);
    jw_buf_reset(&held);
}

bool jw_log_held(void)
{
    return held.len > 0;
}

/* Every line but a request's is written at once, after those held. */
static void emit(struct jw_buf *b)
{
    jw_buf_putc(b, '\n');
    jw_log_flush();
    write_all(b->data, b->len);
    jw_buf_free(b);
}

static void begin(struct jw_buf *b, struct jw_jsonw *w, enum jw_log_level level)
{
    char ts[JW_TIME_ISO_SIZE];
    jw_time_format(jw_time_now_ms(), ts);
    if (log_json) {
        jw_jsonw_init(w, b);
        jw_jsonw_obj_open(w);
        jw_jsonw_kstr(w, "ts", ts);
        jw_jsonw_kstr(w, "level", level_name[level]);
    } else {
        static const char *const padded[] = {"debug ", "info  ", "warn  ", "error "}; /* %-5s, by hand */
        jw_buf_puts(b, ts);
        jw_buf_putc(b, ' ');
        jw_buf_puts(b, padded[level]);
    }
}

void jw_log(enum jw_log_level level, const char *fmt, ...)
{
    if (level < log_min)
        return;
    struct jw_buf b = JW_BUF_INIT, msg = JW_BUF_INIT;
    struct jw_jsonw w;
    va_list ap;
    va_start(ap, fmt);
    jw_buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    /* one event, one line: newlines in messages would forge log lines */
    for (size_t i = 0; i < msg.len; i++)
        if (msg.data[i] == '\n' || msg.data[i] == '\r')
            msg.data[i] = ' ';
    begin(&b, &w, level);
    if (log_json) {
        jw_jsonw_kstr(&w, "msg", jw_buf_str(&msg));
        jw_jsonw_obj_close(&w);
    } else {
        jw_buf_puts(&b, jw_buf_str(&msg));
    }
    jw_buf_free(&msg);
    emit(&b);
}

static void text_field(struct jw_buf *b, const char *k, const char *v)
{
    if (!v)
        return;
    size_t kn = strlen(k), vn = strlen(v);
    jw_buf_reserve(b, kn + vn + 2);
    char *p = b->data + b->len;
    *p++ = ' ';
    memcpy(p, k, kn);
    p += kn;
    *p++ = '=';
    for (size_t i = 0; i < vn; i++) /* values come from clients: keep one line, no spaces */
        *p++ = ((unsigned char)v[i] <= ' ' || v[i] == 0x7f) ? '_' : v[i];
    *p = '\0';
    b->len = (size_t)(p - b->data);
}

void jw_log_request(const struct jw_log_request *r)
{
    if (JW_LOG_INFO < log_min)
        return;
    struct jw_buf b = JW_BUF_INIT;
    struct jw_jsonw w;
    begin(&b, &w, JW_LOG_INFO);
    double ms = (double)r->duration_us / 1000.0;
    if (log_json) {
        jw_jsonw_kstr(&w, "msg", "request");
        jw_jsonw_kstr(&w, "method", r->method);
        jw_jsonw_kstr(&w, "path", r->path);
        jw_jsonw_kint(&w, "status", r->status);
        jw_jsonw_key(&w, "duration_ms");
        jw_jsonw_double(&w, ms, 3);
        jw_jsonw_kstr(&w, "tenant", r->tenant);
        jw_jsonw_kstr(&w, "request_id", r->request_id);
        jw_jsonw_kstr(&w, "principal", r->principal);
        jw_jsonw_obj_close(&w);
    } else {
        jw_buf_puts(&b, "request");
        text_field(&b, "method", r->method);
        text_field(&b, "path", r->path);
        /* " status=%d duration_ms=%.3f", by hand: a line per request */
        int64_t us = r->duration_us < 0 ? 0 : r->duration_us;
        char frac[4] = {(char)('0' + us / 100 % 10), (char)('0' + us / 10 % 10), (char)('0' + us % 10), '\0'};
        jw_buf_puts(&b, " status=");
        jw_buf_puti(&b, r->status);
        jw_buf_puts(&b, " duration_ms=");
        jw_buf_puti(&b, us / 1000);
        jw_buf_putc(&b, '.');
        jw_buf_puts(&b, frac);
        text_field(&b, "tenant", r->tenant);
        text_field(&b, "request_id", r->request_id);
        text_field(&b, "principal", r->principal);
    }
    hold(&b);
}

void jw_log_event(enum jw_log_level level, const char *msg, const struct jw_log_field *fields, size_t n)
{
    if (level < log_min)
        return;
    struct jw_buf b = JW_BUF_INIT;
    struct jw_jsonw w;
    begin(&b, &w, level);
    if (log_json)
        jw_jsonw_kstr(&w, "msg", msg);
    else
        jw_buf_puts(&b, msg);
    for (size_t i = 0; i < n; i++) {
        const struct jw_log_field *f = &fields[i];
        if (!f->str && !f->is_num)
            continue;
        if (log_json && f->str) {
            jw_jsonw_kstr(&w, f->key, f->str);
        } else if (log_json) {
            jw_jsonw_kint(&w, f->key, f->num);
        } else if (f->str) {
            text_field(&b, f->key, f->str);
        } else {
            jw_buf_putc(&b, ' ');
            jw_buf_puts(&b, f->key);
            jw_buf_putc(&b, '=');
            jw_buf_puti(&b, f->num);
        }
    }
    if (log_json)
        jw_jsonw_obj_close(&w);
    hold(&b);
}
