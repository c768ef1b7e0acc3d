/* smtp: notify mail through the operator's relay with libcurl's SMTP,
 * driven from the loop by its multi-socket interface: libcurl says which
 * sockets to watch and when to wake it, the loop tells it what happened.
 * libcurl speaks STARTTLS and implicit TLS, AUTH, and resolves names off
 * the loop (its threaded resolver). Owns each message until libcurl is
 * done with it. */
#include "jobwheel/smtp.h"

#include <curl/curl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/event.h>

#include "jobwheel/buf.h"
#include "jobwheel/id.h"
#include "jobwheel/log.h"

struct jw_smtp {
    struct event_base *base;
    CURLM *multi;
    struct event *timer; /* libcurl's wake-up */
    char *url;           /* smtp[s]://host:port/<our name for EHLO> */
    char *from;
    char host[256]; /* the From domain: our name in EHLO and Message-IDs */
    long use_ssl;   /* CURLUSESSL_* */
    char *user, *password, *ca_file;
    int64_t timeout_ms;
    struct msg *live; /* messages in flight */
};

struct msg {
    struct jw_smtp *s;
    struct msg *next;
    CURL *easy;
    struct curl_slist *rcpt;
    char *to;
    struct jw_buf data; /* the message, lines of at most 76 with CRLF (libcurl dot-stuffs and ends it) */
    size_t sent;
    size_t heard;    /* bytes of the relay's replies */
    const char *why; /* our reason to stop it (libcurl's error buffer says its own) */
    char error[CURL_ERROR_SIZE];
};

/* What the relay may send, in all, for one message: replies are short (a
 * line is at most 512 bytes, RFC 5321 4.5.3.1.5), even multi-line EHLO
 * ones. More is a broken relay, not mail: the message fails. (libcurl
 * itself refuses a reply line over 300 KB.) */
#define MAX_REPLY_BYTES (64 * 1024)

static int curl_users; /* curl_global_init once, for as long as a jw_smtp lives */

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

static void msg_free(struct msg *m)
{
    for (struct msg **p = &m->s->live; *p; p = &(*p)->next)
        if (*p == m) {
            *p = m->next;
            break;
        }
    if (m->easy) {
        curl_multi_remove_handle(m->s->multi, m->easy);
        curl_easy_cleanup(m->easy);
    }
    curl_slist_free_all(m->rcpt);
    free(m->to);
    jw_buf_free(&m->data);
    free(m);
}

/* Messages libcurl finished: logged and freed. */
static void reap(struct jw_smtp *s)
{
    CURLMsg *cm;
    int left;
    while ((cm = curl_multi_info_read(s->multi, &left))) {
        if (cm->msg != CURLMSG_DONE)
            continue;
        char *priv = NULL;
        curl_easy_getinfo(cm->easy_handle, CURLINFO_PRIVATE, &priv);
        struct msg *m = (struct msg *)priv;
        if (!m)
            continue;
        if (cm->data.result == CURLE_OK)
            jw_info("smtp: mail to %s accepted", m->to);
        else
            jw_warn("smtp: mail to %s not sent: %s", m->to,
                    m->why        ? m->why
                    : m->error[0] ? m->error
                                  : curl_easy_strerror(cm->data.result));
        msg_free(m);
    }
}

static void on_fd(evutil_socket_t fd, short what, void *arg)
{
    struct jw_smtp *s = arg;
    int action = ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    int running;
    curl_multi_socket_action(s->multi, fd, action, &running);
    reap(s);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct jw_smtp *s = arg;
    int running;
    curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    reap(s);
}

/* libcurl: watch fd for `what` (or no more); the socket's event is its pointer. */
static int watch_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    struct jw_smtp *s = userp;
    struct event *ev = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (ev) {
            event_free(ev);
            curl_multi_assign(s->multi, fd, NULL);
        }
        return 0;
    }
    short kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) | ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
    if (ev) {
        event_del(ev);
        event_assign(ev, s->base, fd, kind, on_fd, s);
    } else {
        ev = event_new(s->base, fd, kind, on_fd, s);
        if (!ev)
            return -1;
        curl_multi_assign(s->multi, fd, ev);
    }
    return event_add(ev, NULL) == 0 ? 0 : -1;
}

/* libcurl: wake it in timeout_ms (-1: no wake-up needed). */
static int set_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct jw_smtp *s = userp;
    if (timeout_ms < 0)
        return evtimer_del(s->timer);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    return evtimer_add(s->timer, &tv);
}

struct jw_smtp *jw_smtp_new(struct event_base *base, const struct jw_smtp_options *o, char *err,
                            size_t errlen)
{
    char host[256], port[16] = "25";
    const char *colon = strrchr(o->relay, ':');
    size_t hl = colon ? (size_t)(colon - o->relay) : strlen(o->relay);
    if (hl == 0 || hl >= sizeof(host) ||
        (colon && (!colon[1] || strlen(colon + 1) >= sizeof(port) ||
                   strspn(colon + 1, "0123456789") != strlen(colon + 1)))) {
        snprintf(err, errlen, "smtp_relay: expected host:port, got \"%.100s\"", o->relay);
        return NULL;
    }
    memcpy(host, o->relay, hl);
    host[hl] = '\0';
    if (strcspn(host, "/@?#[] ") != hl) {
        snprintf(err, errlen, "smtp_relay: expected host:port, got \"%.100s\"", o->relay);
        return NULL;
    }
    if (colon)
        snprintf(port, sizeof(port), "%s", colon + 1);
    else if (o->tls && !strcmp(o->tls, "tls"))
        snprintf(port, sizeof(port), "465");
    if (!jw_smtp_address_ok(o->from)) {
        snprintf(err, errlen, "smtp_from: not a mail address: \"%.100s\"", o->from);
        return NULL;
    }
    /* a relay that does not resolve is a mistake in the configuration: said
     * at start-up (the loop is not running yet); libcurl resolves again for
     * each message, off the loop */
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "smtp_relay: cannot resolve %s: %s", host, gai_strerror(rc));
        return NULL;
    }
    freeaddrinfo(res);
    if (curl_users++ == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        curl_users--;
        snprintf(err, errlen, "smtp_relay: libcurl cannot start");
        return NULL;
    }
    struct jw_smtp *s = jw_calloc(1, sizeof(*s));
    s->base = base;
    s->from = jw_strdup(o->from);
    snprintf(s->host, sizeof(s->host), "%s", strchr(o->from, '@') + 1);
    const char *tls = o->tls ? o->tls : "try";
    s->use_ssl = !strcmp(tls, "off")   ? CURLUSESSL_NONE
                 : !strcmp(tls, "try") ? CURLUSESSL_TRY
                                       : CURLUSESSL_ALL;
    struct jw_buf url = JW_BUF_INIT;
    bool v6 = strchr(host, ':') != NULL;
    jw_buf_printf(&url, "%s://%s%s%s:%s/%s", !strcmp(tls, "tls") ? "smtps" : "smtp", v6 ? "[" : "", host,
                  v6 ? "]" : "", port, s->host);
    s->url = jw_buf_detach(&url);
    s->user = o->user && o->user[0] ? jw_strdup(o->user) : NULL;
    s->password = o->password ? jw_strdup(o->password) : NULL;
    s->ca_file = o->ca_file && o->ca_file[0] ? jw_strdup(o->ca_file) : NULL;
    s->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 30000;
    s->multi = curl_multi_init();
    s->timer = evtimer_new(base, on_timer, s);
    if (!s->multi || !s->timer) {
        jw_smtp_free(s);
        snprintf(err, errlen, "smtp_relay: libcurl cannot start");
        return NULL;
    }
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, watch_socket);
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, set_timer);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERDATA, s);
    return s;
}

void jw_smtp_free(struct jw_smtp *s)
{
    if (!s)
        return;
    while (s->live)
        msg_free(s->live); /* abandoned: each removal gives its sockets' events back */
    if (s->multi)
        curl_multi_cleanup(s->multi);
    if (s->timer)
        event_free(s->timer);
    free(s->url);
    free(s->from);
    free(s->user);
    if (s->password) {
        memset(s->password, 0, strlen(s->password));
        free(s->password);
    }
    free(s->ca_file);
    free(s);
    if (--curl_users == 0)
        curl_global_cleanup();
}

/* libcurl hands each reply line of the relay here: counted, and a relay
 * that talks on past MAX_REPLY_BYTES ends the transfer (a short count). */
static size_t heard_reply(char *line, size_t size, size_t n, void *arg)
{
    (void)line;
    struct msg *m = arg;
    m->heard += size * n;
    if (m->heard > MAX_REPLY_BYTES) {
        m->why = "the relay's replies are longer than any SMTP reply";
        return 0;
    }
    return size * n;
}

static size_t read_body(char *out, size_t size, size_t n, void *arg)
{
    struct msg *m = arg;
    size_t left = m->data.len - m->sent, give = size * n < left ? size * n : left;
    memcpy(out, m->data.data + m->sent, give);
    m->sent += give;
    return give;
}

/* A header's text as RFC 2047 encoded words when it is not plain ASCII:
 * "=?UTF-8?B?...?=" words of at most 45 bytes each (60 in base64), split
 * between UTF-8 characters, joined by folding white space. Control
 * characters become spaces either way: one header line, whatever the text. */
static void put_header_text(struct jw_buf *b, const char *text)
{
    bool ascii = true;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        ascii = ascii && *p < 0x80;
    if (ascii) {
        for (const char *p = text; *p; p++)
            jw_buf_putc(b, (unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p);
        return;
    }
    size_t len = strlen(text), at = 0;
    while (at < len) {
        size_t n = len - at < 45 ? len - at : 45;
        while (n > 0 && at + n < len && ((unsigned char)text[at + n] & 0xC0) == 0x80)
            n--; /* not inside a character */
        if (n == 0)
            n = 1;
        char word[46], b64[64];
        for (size_t i = 0; i < n; i++)
            word[i] = (unsigned char)text[at + i] < 0x20 ? ' ' : text[at + i];
        jw_base64_encode((const unsigned char *)word, n, b64);
        jw_buf_printf(b, "%s=?UTF-8?B?%s?=", at ? "\r\n " : "", b64);
        at += n;
    }
}

/* Text as quoted-printable (RFC 2045 6.7): lines of at most 76 characters
 * whatever the text (a run's JSON is one long line; relays refuse lines
 * over 998), non-ASCII and "=" as =XX, CRLF line ends. */
static void put_text(struct jw_buf *b, const char *text)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t col = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '\r')
            continue;
        if (*p == '\n') {
            jw_buf_puts(b, "\r\n");
            col = 0;
            continue;
        }
        bool at_end = p[1] == '\n' || p[1] == '\0' || (p[1] == '\r' && p[2] == '\n');
        bool plain = (*p >= 33 && *p <= 126 && *p != '=') || ((*p == ' ' || *p == '\t') && !at_end);
        size_t w = plain ? 1 : 3;
        if (col + w > 75) { /* a soft line break: "=" ends the line, 76 in all */
            jw_buf_puts(b, "=\r\n");
            col = 0;
        }
        if (plain) {
            jw_buf_putc(b, (char)*p);
        } else {
            char q[4] = {'=', hex[*p >> 4], hex[*p & 15], 0};
            jw_buf_puts(b, q);
        }
        col += w;
    }
    if (col)
        jw_buf_puts(b, "\r\n");
}

int jw_smtp_send(struct jw_smtp *s, const char *to, const char *subject, const char *body)
{
    if (!s || !jw_smtp_address_ok(to))
        return -1;
    struct msg *m = jw_calloc(1, sizeof(*m));
    m->s = s;
    m->to = jw_strdup(to);
    char date[64], id[JW_UUID_SIZE], addr[300];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    jw_id_new(id);
    jw_buf_printf(&m->data,
                  "From: jobwheel <%s>\r\nTo: <%s>\r\nDate: %s\r\nMessage-ID: <%s@%s>\r\nSubject: ", s->from,
                  to, date, id, s->host);
    put_header_text(&m->data, subject);
    jw_buf_puts(&m->data, "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                          "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
    put_text(&m->data, body);
    snprintf(addr, sizeof(addr), "<%s>", to);
    m->rcpt = curl_slist_append(NULL, addr);
    m->easy = curl_easy_init();
    if (!m->rcpt || !m->easy) {
        msg_free(m);
        return -1;
    }
    char from[300];
    snprintf(from, sizeof(from), "<%s>", s->from);
    CURL *e = m->easy;
    bool ok = curl_easy_setopt(e, CURLOPT_URL, s->url) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps") == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_MAIL_FROM, from) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_MAIL_RCPT, m->rcpt) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_UPLOAD, 1L) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_READFUNCTION, read_body) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_READDATA, m) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, heard_reply) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_HEADERDATA, m) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)m->data.len) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_USE_SSL, s->use_ssl) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_ERRORBUFFER, m->error) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_PRIVATE, m) == CURLE_OK;
    if (ok && s->ca_file)
        ok = curl_easy_setopt(e, CURLOPT_CAINFO, s->ca_file) == CURLE_OK;
    if (ok && s->user)
        ok = curl_easy_setopt(e, CURLOPT_USERNAME, s->user) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_PASSWORD, s->password ? s->password : "") == CURLE_OK;
    if (!ok || curl_multi_add_handle(s->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        m->easy = NULL;
        msg_free(m);
        return -1;
    }
    m->next = s->live;
    s->live = m;
    return 0;
}
