/* buf: a growable byte buffer, and the allocation wrappers everything uses.
 * Out of memory aborts the process (as redis and pgbouncer do): a scheduler
 * that keeps running with half-built state is worse than one that restarts. */
#ifndef JOBWHEEL_BUF_H
#define JOBWHEEL_BUF_H

#include <stdarg.h>
#include <stddef.h>

void *jw_malloc(size_t n) __attribute__((malloc, returns_nonnull));
void *jw_calloc(size_t count, size_t size) __attribute__((malloc, returns_nonnull));
void *jw_realloc(void *p, size_t n) __attribute__((returns_nonnull));
char *jw_strdup(const char *s) __attribute__((malloc, returns_nonnull));
char *jw_strndup(const char *s, size_t n) __attribute__((malloc, returns_nonnull));

/* data is always NUL-terminated after any append (data may be NULL while cap == 0). */
struct jw_buf {
    char *data;
    size_t len;
    size_t cap;
};

#define JW_BUF_INIT                                                                                          \
    {                                                                                                        \
        NULL, 0, 0                                                                                           \
    }

void jw_buf_reserve(struct jw_buf *b, size_t extra);
void jw_buf_append(struct jw_buf *b, const void *p, size_t n);
void jw_buf_puts(struct jw_buf *b, const char *s);
void jw_buf_putc(struct jw_buf *b, char c);
/* v in decimal, without printf (it is on every hot path: Redis arguments,
 * JSON numbers); out needs JW_I64_TEXT bytes. Returns the length. */
#define JW_I64_TEXT 21
#include <stdint.h>
size_t jw_i64_text(int64_t v, char out[JW_I64_TEXT]);
void jw_buf_puti(struct jw_buf *b, int64_t v);
void jw_buf_printf(struct jw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void jw_buf_vprintf(struct jw_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void jw_buf_reset(struct jw_buf *b);
void jw_buf_free(struct jw_buf *b);
/* The string (never NULL: "" when empty); ownership passes to the caller. */
char *jw_buf_detach(struct jw_buf *b);
/* The string without taking ownership ("" when empty). */
const char *jw_buf_str(const struct jw_buf *b);

#endif
