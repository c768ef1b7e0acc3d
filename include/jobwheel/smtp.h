/* smtp: mail through a relay, never blocking the loop — plain SMTP
 * (EHLO, MAIL FROM, RCPT TO, DATA) over a bufferevent, one connection per
 * message, with a deadline. For `notify: true` runs. The relay is a host
 * the operator runs (no STARTTLS or AUTH); its name is resolved once, at
 * start-up. */
#ifndef JOBWHEEL_SMTP_H
#define JOBWHEEL_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct jw_smtp;

struct jw_smtp_options {
    const char *relay; /* "host:port" (port 25 when left out) */
    const char *from;  /* the envelope and From: address */
    int64_t timeout_ms;
};

/* NULL + err when the relay cannot be resolved or an address is bad. */
struct jw_smtp *jw_smtp_new(struct event_base *base, const struct jw_smtp_options *o, char *err,
                            size_t errlen);
void jw_smtp_free(struct jw_smtp *s); /* messages in flight are abandoned */

/* A mail address fit for an envelope and a header: local@domain, no
 * spaces, angle brackets or control characters. */
bool jw_smtp_address_ok(const char *addr);

/* Queue one plain-text message; the outcome is logged (never reported).
 * Returns -1 when `to` is not a usable address. */
int jw_smtp_send(struct jw_smtp *s, const char *to, const char *subject, const char *body);

#endif
