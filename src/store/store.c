/* store: hiredis on the loop — connect, handshake (AUTH, SELECT, FUNCTION
 * LOAD of the scripts' library), command deadlines, re-load and re-send when
 * Redis lost the library, reconnect with backoff. */
#include "jobwheel/store.h"

#include <adapters/libevent.h>
#include <arpa/inet.h>
#include <async.h>
#include <ctype.h>
#include <event2/event.h>
#include <hiredis.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jobwheel/buf.h"
#include "jobwheel/log.h"
#include "jobwheel/metrics.h"
#include "jobwheel/time.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define TICK_MS 100
#define IDLE_PING_MS 1000
/* Every build loads its own function library (named after its scripts'
 * hash) and says it uses it at connect and this often; the libraries of
 * builds no instance has named for LIBRARY_KEEP_MS are deleted. */
#define LIBRARY_SEEN_MS 60000
#define REFUSED_TELL_MS 10000 /* refusals are logged at most this often */
#define QUIET_START_MS 10000 /* how long an embedded Redis may take to listen, unremarked */
#define LIBRARY_KEEP_MS 86400000

/* One command on its way: in send order on the store's pending list, so the
 * oldest is always at the head (Redis answers in order). */
struct pending {
    struct pending *prev, *next;
    struct jw_store *s;
    jw_store_cb cb; /* NULL for internal commands */
    void *arg;
    struct jw_args args; /* user arguments (for a script: ARGV only) */
    int script;          /* enum jw_lua_id, or -1 */
    char *key;           /* KEYS[1] for scripts */
    int64_t sent_ms;
    int64_t sent_us; /* monotonic: its round trip is measured */
    bool resent;    /* "Function not found" already answered once */
    bool handshake; /* part of connection set-up */
    bool library;   /* a FUNCTION LOAD of the library */
    bool linked;
};

struct jw_store {
    struct event_base *base;
    redisAsyncContext *ac;
    /* target */
    char host[256];
    int port;
    char unix_path[256];
    char password[256];
    int db;
    int64_t timeout_ms;
    /* state */
    bool ready;
    bool setting_up; /* connected, the handshake sent: calls sent now follow it (see submit) */
    bool closing;
    bool resetting; /* we are dropping a stalled connection */
    bool reloading; /* a FUNCTION LOAD is on its way: calls sent now find the library */
    bool apart;     /* jw_store_apart */
    int handshake_left;
    size_t npending; /* on the pending list */
    struct pending *failed, *failed_tail; /* refused before sending, to be told (on_failed) */
    struct event *fail_ev;
    int64_t quiet_until_ms; /* monotonic: connect failures before it are expected (see connect_level) */
    uint64_t refused;        /* calls Redis refused for now (refused_for_now) */
    int64_t refused_told_ms; /* when that was last logged */
    int64_t backoff_ms;
    int64_t last_send_ms;
    int64_t last_reply_ms; /* Redis is making progress while replies come */
    int64_t library_seen_ms; /* when lib_seen last went out (0: not since connecting) */
    struct pending *head, *tail;
    struct event *tick;
    struct event *reconnect;
    struct group **groups; /* calls gathering callers this turn (jw_store_join) */
    size_t ngroups;
    struct event *flush;
    void (*close_done)(void *);
    void *close_arg;
};

/* ---- args ---------------------------------------------------------------- */

/* Arguments are kept as the protocol sends them, each a RESP bulk string
 * ("$<len>\r\n<bytes>\r\n") one after the other: adding one is a copy,
 * and sending a call is one more (no string per argument). */
static void args_put(struct jw_args *a, const char *s, size_t len)
{
    if (a->len + len + JW_I64_TEXT + 8 > a->cap) { /* $, the length (and its NUL), CRLF, bytes, CRLF */
        a->cap = (a->len + len + JW_I64_TEXT + 8) * 2;
        a->resp = jw_realloc(a->resp, a->cap);
    }
    a->resp[a->len++] = '$';
    a->len += jw_i64_text((int64_t)len, a->resp + a->len);
    memcpy(a->resp + a->len, "\r\n", 2);
    a->len += 2;
    if (len)
        memcpy(a->resp + a->len, s, len);
    a->len += len;
    memcpy(a->resp + a->len, "\r\n", 2);
    a->len += 2;
    a->n++;
}

void jw_args_add(struct jw_args *a, const char *s, size_t len)
{
    args_put(a, s ? s : "", s ? len : 0);
}

void jw_args_adds(struct jw_args *a, const char *s)
{
    jw_args_add(a, s, s ? strlen(s) : 0);
}

void jw_args_addi(struct jw_args *a, int64_t v)
{
    char b[JW_I64_TEXT];
    jw_args_add(a, b, jw_i64_text(v, b));
}

void jw_args_addf(struct jw_args *a, const char *fmt, ...)
{
    struct jw_buf b = JW_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    jw_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    jw_args_add(a, jw_buf_str(&b), b.len);
    jw_buf_free(&b);
}

void jw_args_move(struct jw_args *dst, struct jw_args *src)
{
    if (dst->len + src->len > dst->cap) {
        dst->cap = (dst->len + src->len) * 2;
        dst->resp = jw_realloc(dst->resp, dst->cap);
    }
    if (src->len)
        memcpy(dst->resp + dst->len, src->resp, src->len);
    dst->len += src->len;
    dst->n += src->n;
    jw_args_free(src);
}

void jw_args_free(struct jw_args *a)
{
    free(a->resp);
    memset(a, 0, sizeof(*a));
}

/* The first argument's text (a plain command's name), for a log line. */
static void args_first(const struct jw_args *a, char *out, size_t size)
{
    const char *crlf = a->n ? memchr(a->resp, '\r', a->len) : NULL;
    size_t n = crlf ? (size_t)strtoull(a->resp + 1, NULL, 10) : 0;
    if (crlf && (size_t)(crlf + 2 - a->resp) + n <= a->len)
        snprintf(out, size, "%.*s", (int)n, crlf + 2);
    else
        snprintf(out, size, "command");
}

/* ---- pending list ---------------------------------------------------------- */

static void link_tail(struct jw_store *s, struct pending *p)
{
    p->prev = s->tail;
    p->next = NULL;
    if (s->tail)
        s->tail->next = p;
    else
        s->head = p;
    s->tail = p;
    p->linked = true;
    s->npending++;
}

static void unlink_(struct jw_store *s, struct pending *p)
{
    if (!p->linked)
        return;
    if (p->prev)
        p->prev->next = p->next;
    else
        s->head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        s->tail = p->prev;
    p->linked = false;
    s->npending--;
}

/* ---- metrics --------------------------------------------------------------- */

static struct {
    jw_metric calls, up, pending;
} M;

static double up_now(void *arg) { return ((struct jw_store *)arg)->ready; }
static double pending_now(void *arg) { return (double)((struct jw_store *)arg)->npending; }

static void metrics_register(struct jw_store *s)
{
    static char labels[JW_LUA_COUNT][48];
    static const char *label[JW_LUA_COUNT];
    for (int i = 0; i < JW_LUA_COUNT; i++) {
        snprintf(labels[i], sizeof(labels[i]), "script=\"%s\"", jw_lua_scripts[i].name);
        label[i] = labels[i];
    }
    M.calls = jw_metrics_histogram("jobwheel_redis_call_duration_seconds",
                                   "Round trip of each script call to Redis, by script", label, JW_LUA_COUNT);
    M.up = jw_metrics_gauge("jobwheel_redis_up", "1 while the Redis connection is set up and its library loaded",
                            up_now, s);
    M.pending = jw_metrics_gauge("jobwheel_redis_pending_commands", "Commands sent to Redis and not answered yet",
                                 pending_now, s);
}

static void pending_free(struct pending *p)
{
    jw_args_free(&p->args);
    free(p->key);
    free(p);
}

/* ---- connection ------------------------------------------------------------ */

static void schedule_reconnect(struct jw_store *s);
static enum jw_log_level connect_level(const struct jw_store *s);
static void on_failed(evutil_socket_t fd, short what, void *arg);
static void check_eviction(struct jw_store *s);
static bool refused_for_now(const char *err);
static int send_pending(struct jw_store *s, struct pending *p);
static int load_library(struct jw_store *s, bool handshake);

static void drop_connection(struct jw_store *s, const char *why)
{
    if (!s->ac)
        return;
    jw_warn("redis: %s: reconnecting", why);
    s->resetting = true;
    redisAsyncContext *ac = s->ac;
    redisAsyncFree(ac); /* runs every pending callback with NULL, then on_disconnect */
    s->resetting = false;
    s->ac = NULL;
    s->ready = s->setting_up = false;
    schedule_reconnect(s);
}

static void deliver(struct pending *p, enum jw_store_status st, const redisReply *reply)
{
    if (p->cb)
        p->cb(st, (const struct jw_reply *)reply, p->arg);
}

static void on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    struct pending *p = privdata;
    struct jw_store *s = p->s;
    redisReply *reply = r;
    unlink_(s, p);
    int64_t now_us = jw_time_mono_us();
    s->last_reply_ms = now_us / 1000;
    if (reply && p->script >= 0)
        jw_metrics_observe(M.calls, (size_t)p->script, (double)(now_us - p->sent_us) / 1e6);
    if (p->library)
        s->reloading = false;

    if (!reply) { /* the connection is going away */
        s->ready = s->setting_up = false;
        deliver(p, s->resetting ? JW_STORE_TIMEOUT : JW_STORE_UNAVAILABLE, NULL);
        pending_free(p);
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR && p->script >= 0 && !p->resent &&
        strstr(reply->str, "Function not found")) {
        /* Redis restarted without its data or had its functions flushed:
         * load the library again, then send the call once more (Redis
         * answers in order, so the library is there when the call comes). */
        p->resent = true;
        if ((s->reloading || load_library(s, false) == 0) && send_pending(s, p) == 0)
            return;
        deliver(p, JW_STORE_UNAVAILABLE, NULL);
        pending_free(p);
        return;
    }
    if (p->handshake) {
        if (reply->type == REDIS_REPLY_ERROR) {
            jw_error("redis: connection set-up failed: %s", reply->str);
            pending_free(p);
            /* cannot free the context inside its own callback: mark it */
            redisAsyncDisconnect(ac);
            return;
        }
        pending_free(p);
        if (--s->handshake_left == 0) {
            s->ready = true;
            s->setting_up = false;
            s->library_seen_ms = 0;
            s->backoff_ms = BACKOFF_MIN_MS;
            jw_info("redis: ready (%d scripts loaded)", JW_LUA_COUNT);
            check_eviction(s);
        }
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        char name[64];
        args_first(&p->args, name, sizeof(name));
        const char *what = p->script >= 0 ? jw_lua_scripts[p->script].name : name;
        if (refused_for_now(reply->str)) { /* nothing was run: the caller may try again (503) */
            int64_t now = jw_time_mono_ms();
            s->refused++;
            if (now - s->refused_told_ms >= REFUSED_TELL_MS) {
                jw_warn("redis: %s refused (%llu refused so far): %.200s", what, (unsigned long long)s->refused,
                        reply->str);
                s->refused_told_ms = now;
            }
            deliver(p, JW_STORE_UNAVAILABLE, NULL);
        } else {
            jw_error("redis: %s answered: %.300s", what, reply->str);
            deliver(p, JW_STORE_ERROR, reply);
        }
    } else {
        deliver(p, JW_STORE_OK, reply);
    }
    pending_free(p);
}

/* An error by which Redis refused to run a command at all, for a while:
 * full under maxmemory noeviction, busy with a long script, loading its
 * data, a replica, no master, or a cluster slot moving. */
static bool refused_for_now(const char *err)
{
    static const char *const codes[] = {"OOM ", "BUSY ", "LOADING ", "READONLY ", "MASTERDOWN ", "TRYAGAIN ",
                                        "CLUSTERDOWN "};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (!strncmp(err, codes[i], strlen(codes[i])))
            return true;
    return false;
}

/* Write p's command to the connection and append it to the pending list. */
static int send_pending(struct jw_store *s, struct pending *p)
{
    if (!s->ac)
        return -1;
    struct jw_buf cmd = JW_BUF_INIT;
    if (p->script >= 0) { /* FCALL <function> 1 <key> <ARGV...> */
        struct jw_args head = JW_ARGS_INIT;
        jw_args_adds(&head, "FCALL");
        jw_args_adds(&head, jw_lua_scripts[p->script].function);
        jw_args_adds(&head, "1");
        jw_args_adds(&head, p->key);
        jw_buf_printf(&cmd, "*%d\r\n", head.n + p->args.n);
        jw_buf_append(&cmd, head.resp, head.len);
        jw_args_free(&head);
    } else {
        jw_buf_printf(&cmd, "*%d\r\n", p->args.n);
    }
    jw_buf_append(&cmd, p->args.resp, p->args.len);
    int rc = redisAsyncFormattedCommand(s->ac, on_reply, p, cmd.data, cmd.len);
    jw_buf_free(&cmd);
    if (rc != REDIS_OK)
        return -1;
    p->sent_us = jw_time_mono_us();
    p->sent_ms = s->last_send_ms = p->sent_us / 1000;
    link_tail(s, p);
    return 0;
}

static struct pending *pending_new(struct jw_store *s, struct jw_args *args, jw_store_cb cb, void *arg)
{
    struct pending *p = jw_calloc(1, sizeof(*p));
    p->s = s;
    p->cb = cb;
    p->arg = arg;
    p->script = -1;
    if (args) {
        p->args = *args;
        memset(args, 0, sizeof(*args));
    }
    return p;
}

/* An internal command (no callback; an error answer is logged): part of the
 * connection's set-up when `handshake` (an error there drops the
 * connection), or on its own. */
static struct pending *internal_cmd(struct jw_store *s, bool handshake, int argc, ...)
{
    struct jw_args a = JW_ARGS_INIT;
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < argc; i++)
        jw_args_adds(&a, va_arg(ap, const char *));
    va_end(ap);
    struct pending *p = pending_new(s, &a, NULL, NULL);
    p->handshake = handshake;
    if (send_pending(s, p) != 0) {
        pending_free(p);
        return NULL;
    }
    if (handshake)
        s->handshake_left++;
    return p;
}

/* The scripts' library, as FUNCTION LOAD REPLACE. */
static int load_library(struct jw_store *s, bool handshake)
{
    struct pending *p = internal_cmd(s, handshake, 4, "FUNCTION", "LOAD", "REPLACE", jw_lua_library);
    if (!p)
        return -1;
    p->library = true;
    s->reloading = true;
    return 0;
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct jw_store *s = ac->data;
    if (status != REDIS_OK) {
        jw_log(connect_level(s), "redis: cannot connect: %s", ac->errstr[0] ? ac->errstr : "error");
        s->ac = NULL; /* hiredis frees it */
        schedule_reconnect(s);
        return;
    }
    jw_info("redis: connected");
    s->quiet_until_ms = 0;
    s->handshake_left = 0;
    s->setting_up = true;
    if (s->password[0])
        internal_cmd(s, true, 2, "AUTH", s->password);
    if (s->db) {
        char db[16];
        snprintf(db, sizeof(db), "%d", s->db);
        internal_cmd(s, true, 2, "SELECT", db);
    }
    load_library(s, true);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct jw_store *s = ac->data;
    if (s->ac == ac)
        s->ac = NULL;
    s->ready = s->setting_up = false;
    if (s->closing) {
        if (s->close_done) {
            void (*done)(void *) = s->close_done;
            s->close_done = NULL;
            done(s->close_arg);
        }
        return;
    }
    if (!s->resetting) {
        jw_warn("redis: disconnected%s%s", status == REDIS_OK ? "" : ": ",
                status == REDIS_OK ? "" : (ac->errstr[0] ? ac->errstr : "error"));
        schedule_reconnect(s);
    }
}

/* A Redis started with this process (embedded) takes a moment to listen:
 * failing to reach it then is no news (debug); later, or any other, is. */
static enum jw_log_level connect_level(const struct jw_store *s)
{
    return s->quiet_until_ms && jw_time_mono_ms() < s->quiet_until_ms ? JW_LOG_DEBUG : JW_LOG_WARN;
}

static void connect_now(struct jw_store *s)
{
    redisAsyncContext *ac =
        s->unix_path[0] ? redisAsyncConnectUnix(s->unix_path) : redisAsyncConnect(s->host, s->port);
    if (!ac || ac->err) {
        jw_log(connect_level(s), "redis: cannot connect to %s: %s", s->unix_path[0] ? s->unix_path : s->host,
               ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        schedule_reconnect(s);
        return;
    }
    ac->data = s;
    if (redisLibeventAttach(ac, s->base) != REDIS_OK) {
        redisAsyncFree(ac);
        schedule_reconnect(s);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    s->ac = ac;
}

static void on_reconnect_timer(evutil_socket_t fd, short what, void *arg)
{
    struct jw_store *s = arg;
    if (!s->closing && !s->ac)
        connect_now(s);
}

static void schedule_reconnect(struct jw_store *s)
{
    if (s->closing)
        return;
    /* full jitter keeps a fleet of instances from reconnecting in step */
    uint32_t r;
    r = (uint32_t)random();
    int64_t wait = s->backoff_ms / 2 + (int64_t)(r % (uint32_t)(s->backoff_ms / 2 + 1));
    struct timeval tv = {.tv_sec = wait / 1000, .tv_usec = (wait % 1000) * 1000};
    event_add(s->reconnect, &tv);
    s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff_ms * 2;
}

/* A Redis that may evict keys when it is full may drop any of jobwheel's
 * (a run, a queue, a lease, the fire ledger): say so once a connection,
 * as a warning. A Redis that will not tell (CONFIG renamed or refused, as
 * managed services do) is not second-guessed. */
static void on_eviction_policy(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    const char *policy = st == JW_STORE_OK ? jw_reply_str(jw_reply_at(r, 1), NULL) : NULL;
    if (!policy)
        jw_debug("redis: cannot read maxmemory-policy (CONFIG GET refused?)");
    else if (strcmp(policy, "noeviction") != 0)
        jw_warn("redis: maxmemory-policy is %s: when Redis is full it may evict jobwheel's keys (runs, queues, "
                "leases, the fire ledger) and lose work; set maxmemory-policy noeviction",
                policy);
}

static void check_eviction(struct jw_store *s)
{
    struct jw_args a = JW_ARGS_INIT;
    jw_args_adds(&a, "CONFIG");
    jw_args_adds(&a, "GET");
    jw_args_adds(&a, "maxmemory-policy");
    jw_store_cmd(s, &a, on_eviction_policy, NULL);
}

/* Delete the libraries of builds no instance uses any more. */
static void on_library_seen(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct jw_store *s = arg;
    if (st != JW_STORE_OK)
        return;
    s->apart = jw_reply_int(jw_reply_at(r, 0)) == 1;
    for (size_t i = 1; i < jw_reply_count(r); i++) {
        const char *name = jw_reply_str(jw_reply_at(r, i), NULL);
        if (name && !strncmp(name, "jobwheel_", 9)) {
            jw_info("redis: deleting function library %s (no instance has used it for a day)", name);
            internal_cmd(s, false, 3, "FUNCTION", "DELETE", name);
        }
    }
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct jw_store *s = arg;
    if (!s->ac)
        return;
    int64_t now = jw_time_mono_ms();
    /* stalled: commands wait and no answer came for the whole timeout (a
     * long pipeline that is being answered is not a stall) */
    int64_t since = s->head ? (s->head->sent_ms > s->last_reply_ms ? s->head->sent_ms : s->last_reply_ms) : now;
    if (s->head && now - since > s->timeout_ms) {
        char why[96];
        snprintf(why, sizeof(why), "no answer within %" PRId64 " ms", s->timeout_ms);
        drop_connection(s, why);
        return;
    }
    if (s->ready && (!s->library_seen_ms || now - s->library_seen_ms > LIBRARY_SEEN_MS)) {
        s->library_seen_ms = now;
        struct jw_args a = JW_ARGS_INIT;
        jw_args_adds(&a, jw_lua_library_name);
        jw_args_addi(&a, jw_time_now_ms());
        jw_args_addi(&a, LIBRARY_KEEP_MS);
        jw_store_eval(s, JW_LUA_LIB_SEEN, "sched", &a, on_library_seen, s);
    }
    if (s->ready && !s->head && now - s->last_send_ms > IDLE_PING_MS) {
        struct jw_args a = JW_ARGS_INIT;
        jw_args_adds(&a, "PING");
        struct pending *p = pending_new(s, &a, NULL, NULL);
        if (send_pending(s, p) != 0)
            pending_free(p);
    }
}

/* ---- URL ---------------------------------------------------------------------- */

static int parse_url(struct jw_store *s, const char *url, char *err, size_t errlen)
{
    s->port = 6379;
    if (!strncmp(url, "unix://", 7)) {
        const char *p = url + 7;
        size_t n = strcspn(p, "?");
        if (p[0] != '/' || n >= sizeof(s->unix_path)) {
            snprintf(err, errlen, "redis_url: expected unix:///absolute/path.sock");
            return -1;
        }
        memcpy(s->unix_path, p, n);
        s->unix_path[n] = '\0';
        if (p[n] == '?') {
            if (strncmp(p + n + 1, "db=", 3) != 0) {
                snprintf(err, errlen, "redis_url: only ?db=N is understood after a unix path");
                return -1;
            }
            s->db = atoi(p + n + 4);
        }
        return 0;
    }
    if (strncmp(url, "redis://", 8) != 0) {
        snprintf(err, errlen, "redis_url: expected redis://host:port/db or unix:///path.sock");
        return -1;
    }
    const char *p = url + 8;
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon ? colon + 1 : p;
        size_t n = (size_t)(at - pw);
        if (n >= sizeof(s->password)) {
            snprintf(err, errlen, "redis_url: password too long");
            return -1;
        }
        memcpy(s->password, pw, n);
        s->password[n] = '\0';
        p = at + 1;
    }
    size_t hl;
    if (*p == '[') {
        const char *close = strchr(p, ']');
        if (!close) {
            snprintf(err, errlen, "redis_url: unterminated IPv6 address");
            return -1;
        }
        hl = (size_t)(close - p - 1);
        if (hl >= sizeof(s->host))
            hl = sizeof(s->host) - 1;
        memcpy(s->host, p + 1, hl);
        s->host[hl] = '\0';
        p = close + 1;
    } else {
        hl = strcspn(p, ":/");
        if (hl == 0 || hl >= sizeof(s->host)) {
            snprintf(err, errlen, "redis_url: missing host");
            return -1;
        }
        memcpy(s->host, p, hl);
        s->host[hl] = '\0';
        p += hl;
    }
    if (*p == ':') {
        char *end;
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port < 1 || port > 65535) {
            snprintf(err, errlen, "redis_url: invalid port");
            return -1;
        }
        s->port = (int)port;
        p = end;
    }
    if (*p == '/' && p[1]) {
        char *end;
        long db = strtol(p + 1, &end, 10);
        if (end == p + 1 || *end || db < 0 || db > 1000) {
            snprintf(err, errlen, "redis_url: invalid database number");
            return -1;
        }
        s->db = (int)db;
    } else if (*p && strcmp(p, "/") != 0) {
        snprintf(err, errlen, "redis_url: unexpected \"%.32s\"", p);
        return -1;
    }
    /* hiredis resolves names with a blocking getaddrinfo on every connect:
     * resolve once here, at start-up, and connect to the address after. */
    struct in6_addr a6;
    struct in_addr a4;
    if (inet_pton(AF_INET, s->host, &a4) != 1 && inet_pton(AF_INET6, s->host, &a6) != 1) {
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
        int rc = getaddrinfo(s->host, NULL, &hints, &res);
        if (rc != 0 || !res) {
            snprintf(err, errlen, "redis_url: cannot resolve %s: %s", s->host, gai_strerror(rc));
            return -1;
        }
        char ip[INET6_ADDRSTRLEN];
        const void *src = res->ai_family == AF_INET6
                              ? (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr
                              : (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr;
        inet_ntop(res->ai_family, src, ip, sizeof(ip));
        freeaddrinfo(res);
        snprintf(s->host, sizeof(s->host), "%s", ip);
    }
    return 0;
}

/* ---- group commit ------------------------------------------------------------------ */

#define GROUP_MAX 64        /* callers in one call */
#define GROUP_ARGS_MAX 8192 /* arguments in one call, beyond which the next caller starts another */

struct group_caller {
    jw_store_cb cb;
    void *arg;
};

struct group {
    enum jw_lua_id id;
    char tenant[64];
    struct jw_args args;
    size_t n;
    struct group_caller callers[GROUP_MAX];
};

static void on_group(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct group *g = arg;
    bool whole = st == JW_STORE_OK && jw_reply_type(r) == JW_REPLY_ARRAY;
    for (size_t i = 0; i < g->n; i++) {
        const struct jw_reply *item = whole && i < jw_reply_count(r) ? jw_reply_at(r, i) : NULL;
        if (st == JW_STORE_OK && !item)
            g->callers[i].cb(JW_STORE_ERROR, NULL, g->callers[i].arg);
        else
            g->callers[i].cb(st, st == JW_STORE_OK ? item : r, g->callers[i].arg);
    }
    free(g);
}

static void group_send(struct jw_store *s, size_t i)
{
    struct group *g = s->groups[i];
    s->groups[i] = s->groups[--s->ngroups];
    jw_store_eval(s, g->id, g->tenant, &g->args, on_group, g);
}

static void flush_groups(struct jw_store *s)
{
    while (s->ngroups)
        group_send(s, s->ngroups - 1);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    flush_groups(arg);
}

struct jw_args *jw_store_join(struct jw_store *s, enum jw_lua_id id, const char *tenant,
                              void (*prefix)(struct jw_args *args, void *prefix_arg), void *prefix_arg,
                              jw_store_cb cb, void *arg)
{
    struct group *g = NULL;
    for (size_t i = 0; i < s->ngroups && !g; i++) {
        if (s->groups[i]->id != id || strcmp(s->groups[i]->tenant, tenant))
            continue;
        if (s->groups[i]->n < GROUP_MAX && s->groups[i]->args.n < GROUP_ARGS_MAX)
            g = s->groups[i];
        else
            group_send(s, i); /* full: it goes now, and a new one starts */
    }
    if (!g) {
        g = jw_calloc(1, sizeof(*g));
        g->id = id;
        snprintf(g->tenant, sizeof(g->tenant), "%s", tenant);
        if (prefix)
            prefix(&g->args, prefix_arg);
        s->groups = jw_realloc(s->groups, (s->ngroups + 1) * sizeof(*s->groups));
        s->groups[s->ngroups++] = g;
        event_active(s->flush, EV_TIMEOUT, 0);
    }
    g->callers[g->n].cb = cb;
    g->callers[g->n].arg = arg;
    g->n++;
    return &g->args;
}

/* ---- public --------------------------------------------------------------------- */

struct jw_store *jw_store_new(struct event_base *base, const struct jw_store_options *opt, char *err,
                              size_t errlen)
{
    struct jw_store *s = jw_calloc(1, sizeof(*s));
    s->base = base;
    s->quiet_until_ms = opt->just_started ? jw_time_mono_ms() + QUIET_START_MS : 0;
    s->timeout_ms = opt->timeout_ms;
    s->backoff_ms = BACKOFF_MIN_MS;
    if (parse_url(s, opt->url, err, errlen) != 0) {
        free(s);
        return NULL;
    }
    s->tick = event_new(base, -1, EV_PERSIST, on_tick, s);
    s->reconnect = evtimer_new(base, on_reconnect_timer, s);
    s->flush = event_new(base, -1, 0, on_flush, s);
    s->fail_ev = event_new(base, -1, 0, on_failed, s);
    struct timeval tv = {.tv_sec = 0, .tv_usec = TICK_MS * 1000};
    if (!s->tick || !s->reconnect || !s->flush || !s->fail_ev || event_add(s->tick, &tv) != 0) {
        snprintf(err, errlen, "redis: cannot set up the connection's events");
        jw_store_free(s);
        return NULL;
    }
    metrics_register(s); /* (its gauges read s: only once it is made) */
    connect_now(s);
    return s;
}

bool jw_store_ready(const struct jw_store *s)
{
    return s->ready;
}

bool jw_store_apart(const struct jw_store *s)
{
    return s->apart;
}

/* Failures found before anything was sent are delivered from the loop,
 * in order; the store holds them until then (and frees any left when it
 * is freed, so an early exit leaks none). */
static void on_failed(evutil_socket_t fd, short what, void *arg)
{
    struct jw_store *s = arg;
    struct pending *p = s->failed;
    s->failed = s->failed_tail = NULL;
    while (p) {
        struct pending *next = p->next;
        deliver(p, JW_STORE_UNAVAILABLE, NULL);
        pending_free(p);
        p = next;
    }
}

/* A call made while the connection is being set up goes out after the
 * handshake (Redis answers in order, so it finds the library loaded): a
 * request that comes as an instance starts, or as it reconnects, waits
 * for Redis (at most redis_timeout_ms, see on_tick) instead of failing. */
static void submit(struct jw_store *s, struct pending *p)
{
    if ((!s->ready && !s->setting_up) || s->closing || send_pending(s, p) != 0) {
        p->next = NULL;
        if (s->failed_tail)
            s->failed_tail->next = p;
        else
            s->failed = p;
        s->failed_tail = p;
        event_active(s->fail_ev, EV_TIMEOUT, 0);
    }
}

void jw_store_eval(struct jw_store *s, enum jw_lua_id id, const char *tenant, struct jw_args *args,
                   jw_store_cb cb, void *arg)
{
    struct pending *p = pending_new(s, args, cb, arg);
    p->script = (int)id;
    struct jw_buf k = JW_BUF_INIT;
    jw_buf_printf(&k, "jw:{%s}", tenant ? tenant : "");
    p->key = jw_buf_detach(&k);
    submit(s, p);
}

void jw_store_cmd(struct jw_store *s, struct jw_args *args, jw_store_cb cb, void *arg)
{
    submit(s, pending_new(s, args, cb, arg));
}

void jw_store_close(struct jw_store *s, void (*done)(void *), void *arg)
{
    flush_groups(s); /* what callers joined goes out before the connection closes */
    s->closing = true;
    event_del(s->reconnect);
    event_del(s->tick);
    if (s->ac) {
        s->close_done = done;
        s->close_arg = arg;
        redisAsyncDisconnect(s->ac); /* on_disconnect calls done */
    } else if (done) {
        done(arg);
    }
}

void jw_store_free(struct jw_store *s)
{
    if (!s)
        return;
    s->closing = true;
    s->close_done = NULL;
    if (s->ac) {
        redisAsyncContext *ac = s->ac;
        s->ac = NULL;
        redisAsyncFree(ac);
    }
    if (s->tick)
        event_free(s->tick);
    if (s->reconnect)
        event_free(s->reconnect);
    flush_groups(s); /* (closing: each caller is told the store is unavailable) */
    if (s->flush)
        event_free(s->flush);
    if (s->fail_ev)
        event_free(s->fail_ev);
    while (s->failed) { /* (their callers are gone: only freed) */
        struct pending *next = s->failed->next;
        pending_free(s->failed);
        s->failed = next;
    }
    free(s->groups);
    free(s);
}

/* ---- replies ---------------------------------------------------------------------- */

#define R(r) ((const redisReply *)(r))

enum jw_reply_type jw_reply_type(const struct jw_reply *r)
{
    if (!r)
        return JW_REPLY_NIL;
    switch (R(r)->type) {
    case REDIS_REPLY_NIL: return JW_REPLY_NIL;
    case REDIS_REPLY_INTEGER: return JW_REPLY_INT;
    case REDIS_REPLY_STRING: return JW_REPLY_STR;
    case REDIS_REPLY_STATUS: return JW_REPLY_STATUS;
    case REDIS_REPLY_ARRAY: return JW_REPLY_ARRAY;
    case REDIS_REPLY_ERROR: return JW_REPLY_ERR;
    default: return JW_REPLY_OTHER;
    }
}

long long jw_reply_int(const struct jw_reply *r)
{
    return r && R(r)->type == REDIS_REPLY_INTEGER ? R(r)->integer : 0;
}

const char *jw_reply_str(const struct jw_reply *r, size_t *len)
{
    if (!r || (R(r)->type != REDIS_REPLY_STRING && R(r)->type != REDIS_REPLY_STATUS &&
               R(r)->type != REDIS_REPLY_ERROR)) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = R(r)->len;
    return R(r)->str;
}

size_t jw_reply_count(const struct jw_reply *r)
{
    return r && R(r)->type == REDIS_REPLY_ARRAY ? R(r)->elements : 0;
}

const struct jw_reply *jw_reply_at(const struct jw_reply *r, size_t i)
{
    if (!r || R(r)->type != REDIS_REPLY_ARRAY || i >= R(r)->elements)
        return NULL;
    return (const struct jw_reply *)R(r)->element[i];
}

bool jw_reply_is(const struct jw_reply *r, const char *s)
{
    size_t n;
    const char *t = jw_reply_str(r, &n);
    return t && n == strlen(s) && memcmp(t, s, n) == 0;
}

/* The value of `name` in a map of RESP2's form: a flat array of pairs. */
static const struct jw_reply *map_get(const struct jw_reply *map, const char *name)
{
    for (size_t i = 0; i + 1 < jw_reply_count(map); i += 2)
        if (jw_reply_is(jw_reply_at(map, i), name))
            return jw_reply_at(map, i + 1);
    return NULL;
}

/* FUNCTION LIST answers per library {library_name, engine, functions: per
 * function {name, description, flags}} (functions.c functionListCommand). */
size_t jw_reply_pairs(const struct jw_reply *arr, const char **names, const char **values, size_t *lens,
                      size_t max)
{
    size_t n = jw_reply_count(arr) / 2;
    if (n > max)
        n = max;
    for (size_t i = 0; i < n; i++) {
        names[i] = jw_reply_str(jw_reply_at(arr, 2 * i), NULL);
        values[i] = jw_reply_str(jw_reply_at(arr, 2 * i + 1), &lens[i]);
        if (!names[i])
            names[i] = "";
        if (!values[i]) {
            values[i] = "";
            lens[i] = 0;
        }
    }
    return n;
}

const char *jw_reply_function_library(const struct jw_reply *list, const char *function)
{
    for (size_t l = 0; l < jw_reply_count(list); l++) {
        const struct jw_reply *lib = jw_reply_at(list, l);
        const struct jw_reply *fns = map_get(lib, "functions");
        for (size_t f = 0; f < jw_reply_count(fns); f++) {
            const char *name = jw_reply_str(map_get(jw_reply_at(fns, f), "name"), NULL);
            if (name && !strcasecmp(name, function))
                return jw_reply_str(map_get(lib, "library_name"), NULL);
        }
    }
    return NULL;
}
