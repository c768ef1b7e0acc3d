/* smtp: one message per connection to the relay, as a small state machine
 * driven by the relay's replies (see smtp.h). Owns each message until its
 * conversation ends, fails or times out. */
#include "jobwheel/smtp.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "jobwheel/buf.h"
#include "jobwheel/id.h"
#include "jobwheel/log.h"

struct jw_smtp {
    struct event_base *base;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char *from;
    char host[256]; /* our name in EHLO: the From domain */
    int64_t timeout_ms;
    struct msg *live; /* messages in flight, for jw_smtp_free */
};

/* What the relay may send, in all, for one message: replies are short (a
 * line is at most 512 bytes, RFC 5321 4.5.3.1.5), even multi-line EHLO
 * ones. More is a broken relay, not mail: the message fails. */
#define MAX_REPLY_LINE 1024
#define MAX_REPLY_BYTES (64 * 1024)

/* Where a conversation is: the reply we wait for says what to send next. */
enum step { S_GREETING, S_EHLO, S_MAIL, S_RCPT, S_DATA, S_BODY, S_QUIT };

struct msg {
    struct jw_smtp *s;
    struct msg *next;
    struct bufferevent *bev;
    enum step step;
    struct event *deadline; /* the whole conversation's (the bufferevent's are idle timeouts) */
    size_t got;             /* bytes the relay sent */
    char *to;
    struct jw_buf data; /* the message, dot-stuffed, ending in CRLF.CRLF */
};

bool jw_smtp_address_ok(const char *a)
{
    const char *at = strchr(a, '@');
    size_t n = strlen(a);
    if (!at || at == a || !at[1] || strchr(at + 1, '@') || n > 254)
        return false;
    for (const unsigned char *p = (const unsigned char *)a; *p; p++)
        if (*p <= 0x20 || *p == 0x7f || *p == '<' || *p == '>' || *p == '(' || *p == ')' || *p == ',' ||
            *p == ';' || *p == '"' || *p == '\\')
            return false;
    return true;
}

struct jw_smtp *jw_smtp_new(struct event_base *base, const struct jw_smtp_options *o, char *err,
                            size_t errlen)
{
    char host[256], port[16] = "25";
    const char *colon = strrchr(o->relay, ':');
    size_t hl = colon ? (size_t)(colon - o->relay) : strlen(o->relay);
    if (hl == 0 || hl >= sizeof(host) || (colon && (!colon[1] || strlen(colon + 1) >= sizeof(port)))) {
        snprintf(err, errlen, "smtp_relay: expected host:port, got \"%.100s\"", o->relay);
        return NULL;
    }
    memcpy(host, o->relay, hl);
    host[hl] = '\0';
    if (colon)
        snprintf(port, sizeof(port), "%s", colon + 1);
    if (!jw_smtp_address_ok(o->from)) {
        snprintf(err, errlen, "smtp_from: not a mail address: \"%.100s\"", o->from);
        return NULL;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res); /* start-up: the loop is not running yet */
    if (rc != 0 || !res) {
        snprintf(err, errlen, "smtp_relay: cannot resolve %s: %s", host, gai_strerror(rc));
        return NULL;
    }
    struct jw_smtp *s = jw_calloc(1, sizeof(*s));
    s->base = base;
    memcpy(&s->addr, res->ai_addr, res->ai_addrlen);
    s->addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    s->from = jw_strdup(o->from);
    snprintf(s->host, sizeof(s->host), "%s", strchr(o->from, '@') + 1);
    s->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 30000;
    return s;
}

static void msg_free(struct msg *m)
{
    for (struct msg **p = &m->s->live; *p; p = &(*p)->next)
        if (*p == m) {
            *p = m->next;
            break;
        }
    if (m->bev)
        bufferevent_free(m->bev);
    if (m->deadline)
        event_free(m->deadline);
    free(m->to);
    jw_buf_free(&m->data);
    free(m);
}

void jw_smtp_free(struct jw_smtp *s)
{
    if (!s)
        return;
    while (s->live)
        msg_free(s->live);
    free(s->from);
    free(s);
}

static void send_line(struct msg *m, const char *verb, const char *arg, const char *end)
{
    evbuffer_add_printf(bufferevent_get_output(m->bev), "%s%s%s\r\n", verb, arg, end);
}

/* The relay's reply to the current step arrived: code is its status. */
static bool advance(struct msg *m, int code)
{
    int want = m->step == S_GREETING ? 220 : m->step == S_DATA ? 354 : m->step == S_QUIT ? 221 : 250;
    if (code != want)
        return false;
    switch (m->step) {
    case S_GREETING: send_line(m, "EHLO ", m->s->host, ""); break;
    case S_EHLO: send_line(m, "MAIL FROM:<", m->s->from, ">"); break;
    case S_MAIL: send_line(m, "RCPT TO:<", m->to, ">"); break;
    case S_RCPT: send_line(m, "DATA", "", ""); break;
    case S_DATA: bufferevent_write(m->bev, m->data.data, m->data.len); break;
    case S_BODY: send_line(m, "QUIT", "", ""); break;
    case S_QUIT: break;
    }
    m->step++;
    return true;
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct msg *m = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    char *line;
    size_t n;
    while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF))) {
        m->got += n + 2;
        if (n > MAX_REPLY_LINE || m->got > MAX_REPLY_BYTES) {
            jw_warn("smtp: mail to %s not sent: the relay's replies are longer than any SMTP reply", m->to);
            free(line);
            msg_free(m);
            return;
        }
        /* "250-..." continues a multi-line reply; "250 ..." ends it */
        bool last = n < 4 || line[3] != '-';
        int code = n >= 3 ? atoi(line) : 0;
        if (!last) {
            free(line);
            continue;
        }
        if (m->step == S_QUIT && code == 221) {
            free(line);
            msg_free(m);
            return;
        }
        if (m->step == S_BODY && code == 250)
            jw_info("smtp: mail to %s accepted", m->to);
        if (!advance(m, code)) {
            jw_warn("smtp: mail to %s refused at step %d: %.200s", m->to, (int)m->step, line);
            free(line);
            msg_free(m);
            return;
        }
        free(line);
    }
    if (evbuffer_get_length(in) > MAX_REPLY_LINE) { /* a line that does not end */
        jw_warn("smtp: mail to %s not sent: the relay's replies are longer than any SMTP reply", m->to);
        msg_free(m);
    }
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct msg *m = arg;
    jw_warn("smtp: mail to %s not sent: the relay did not finish in time", m->to);
    msg_free(m);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct msg *m = arg;
    if (what & BEV_EVENT_CONNECTED)
        return;
    if (m->step < S_QUIT)
        jw_warn("smtp: mail to %s not sent: %s", m->to,
                (what & BEV_EVENT_TIMEOUT) ? "the relay did not answer in time" : "the connection failed");
    msg_free(m);
}

/* Lines starting with "." get another (RFC 5321 4.5.2); bare LF becomes CRLF. */
static void put_text(struct jw_buf *b, const char *text)
{
    bool bol = true;
    for (const char *p = text; *p; p++) {
        if (bol && *p == '.')
            jw_buf_putc(b, '.');
        if (*p == '\n') {
            jw_buf_puts(b, "\r\n");
            bol = true;
        } else if (*p != '\r') {
            jw_buf_putc(b, *p);
            bol = false;
        }
    }
    if (!bol)
        jw_buf_puts(b, "\r\n");
}

int jw_smtp_send(struct jw_smtp *s, const char *to, const char *subject, const char *body)
{
    if (!s || !jw_smtp_address_ok(to))
        return -1;
    struct msg *m = jw_calloc(1, sizeof(*m));
    m->s = s;
    m->to = jw_strdup(to);
    char date[64], id[JW_UUID_SIZE];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    jw_id_new(id);
    jw_buf_printf(&m->data, "From: jobwheel <%s>\r\nTo: <%s>\r\nDate: %s\r\nMessage-ID: <%s@%s>\r\n", s->from,
                  to, date, id, s->host);
    jw_buf_puts(&m->data, "Subject: ");
    for (const char *p = subject; *p; p++) /* one header line, whatever the text */
        jw_buf_putc(&m->data, (unsigned char)*p < 0x20 ? ' ' : *p);
    jw_buf_puts(&m->data, "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                          "Content-Transfer-Encoding: 8bit\r\n\r\n");
    put_text(&m->data, body);
    jw_buf_puts(&m->data, ".\r\n");
    m->bev = bufferevent_socket_new(s->base, -1, BEV_OPT_CLOSE_ON_FREE);
    m->deadline = evtimer_new(s->base, on_deadline, m);
    struct timeval tv = {s->timeout_ms / 1000, (s->timeout_ms % 1000) * 1000};
    if (!m->bev || !m->deadline || evtimer_add(m->deadline, &tv) != 0) {
        msg_free(m);
        return -1;
    }
    m->next = s->live;
    s->live = m;
    bufferevent_setcb(m->bev, on_read, NULL, on_event, m);
    bufferevent_set_timeouts(m->bev, &tv, &tv);
    bufferevent_enable(m->bev, EV_READ | EV_WRITE);
    if (bufferevent_socket_connect(m->bev, (struct sockaddr *)&s->addr, (int)s->addr_len) != 0) {
        jw_warn("smtp: mail to %s not sent: cannot connect to the relay", to);
        msg_free(m);
        return -1;
    }
    return 0;
}
