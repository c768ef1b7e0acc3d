/* log: one line per event on stderr, as text or JSON lines. Lines are
 * written whole (never split across write(2) calls), so lines from
 * concurrent processes never interleave. Request lines are held until
 * jw_log_flush (the HTTP server calls it once a turn of the loop, and it
 * runs at exit); any other line writes those held first, keeping the order.
 * Callers must never pass secrets. */
#ifndef JOBWHEEL_LOG_H
#define JOBWHEEL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum jw_log_level { JW_LOG_DEBUG, JW_LOG_INFO, JW_LOG_WARN, JW_LOG_ERROR };

/* format "text" or "json"; level "debug" … "error". */
void jw_log_init(const char *format, const char *level);

void jw_log(enum jw_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define jw_debug(...) jw_log(JW_LOG_DEBUG, __VA_ARGS__)
#define jw_info(...) jw_log(JW_LOG_INFO, __VA_ARGS__)
#define jw_warn(...) jw_log(JW_LOG_WARN, __VA_ARGS__)
#define jw_error(...) jw_log(JW_LOG_ERROR, __VA_ARGS__)

/* The access-log line of one HTTP request. tenant and request_id may be NULL. */
struct jw_log_request {
    const char *method;
    const char *path; /* without the query string */
    int status;
    int64_t duration_us;
    const char *tenant;
    const char *request_id;
    const char *principal; /* "user:<sub>" / "apikey:<id>", or NULL */
};
void jw_log_request(const struct jw_log_request *r);

/* What a job does (an attempt's outcome, a firing missed, a lease lost):
 * one line of msg and fields, key=value in text, members in JSON, held
 * with the request lines. A field of a NULL string is left out. */
struct jw_log_field {
    const char *key;
    const char *str; /* NULL: num, when is_num */
    int64_t num;
    bool is_num;
};
#define JW_LOG_S(k, v) ((struct jw_log_field){(k), (v), 0, false})
#define JW_LOG_I(k, v) ((struct jw_log_field){(k), NULL, (v), true})
void jw_log_event(enum jw_log_level level, const char *msg, const struct jw_log_field *fields, size_t n);

/* Write the lines held; are some held? held(arg) is called when a line
 * is held and none was: the owner of the loop flushes at the end of the
 * turn (NULL: nobody; lines wait for the next one written at once). */
void jw_log_flush(void);
bool jw_log_held(void);
void jw_log_on_held(void (*held)(void *arg), void *arg);

#endif
