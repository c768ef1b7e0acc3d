/* smtp: mail through the operator's relay, never blocking the loop —
 * libcurl's SMTP on its multi-socket interface (STARTTLS or implicit TLS,
 * AUTH), one transfer per message, with a deadline. For `notify: true`
 * runs. The relay's name is checked at start-up and resolved for each
 * message off the loop. */
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
    const char *tls;   /* off | try (STARTTLS when offered; the default) | starttls | tls (implicit) */
    const char *user;  /* AUTH user ("" or NULL: no AUTH) */
    const char *password;
    const char *ca_file; /* an extra trusted CA for the relay's certificate (or NULL) */
    int64_t timeout_ms;
};

/* NULL + err when the relay cannot be resolved or an address is bad. */
struct jw_smtp *jw_smtp_new(struct event_base *base, const struct jw_smtp_options *o, char *err,
                            size_t errlen);
void jw_smtp_free(struct jw_smtp *s); /* messages in flight are abandoned */

/* A mail address fit for an envelope and a header: local@domain, no
 * spaces, angle brackets or control characters. */
bool jw_smtp_address_ok(const char *addr);

/* Queue one plain-text message (a subject that is not ASCII goes as RFC
 * 2047 encoded words); the outcome is logged (never reported).
 * Returns -1 when `to` is not a usable address. */
int jw_smtp_send(struct jw_smtp *s, const char *to, const char *subject, const char *body);

#endif
