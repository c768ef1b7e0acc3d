/* log: one line per event on stderr, as text or JSON lines. Lines are
 * written whole (never split across write(2) calls), so lines from
 * concurrent processes never interleave. Request lines are held until
 * jw_log_flush (the HTTP server calls it once a turn of the loop, and it
 * runs at exit); any other line writes those held first, keeping the order.
 * Callers must never pass secrets. */
#ifndef JOBWHEEL_LOG_H
#define JOBWHEEL_LOG_H

#include <stdbool.h>
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
/* Write the request lines held; are some held? */
void jw_log_flush(void);
bool jw_log_held(void);

#endif
