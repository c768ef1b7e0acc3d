/* store: the only owner of hiredis. One async connection on the loop,
 * reconnect with backoff, a stall deadline (commands wait and no answer
 * comes for redis_timeout_ms: the connection is dropped, its waiters get
 * JW_STORE_TIMEOUT, and it reconnects), the Lua scripts loaded at connect
 * as one function library (loaded again when Redis has lost it, and the
 * call re-sent), and fail-fast (JW_STORE_UNAVAILABLE) while Redis is away.
 *
 * The key schema lives in one place: src/store/lua/prelude.lua, which the
 * library starts with. A tenant's keys are "jw:{<tenant>}:…" and a scheduler
 * shard's "jw:{s:<n>}:…": each hash tag is one Redis Cluster slot. */
#ifndef JOBWHEEL_STORE_H
#define JOBWHEEL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lua_scripts.h" /* enum jw_lua_id: one per src/store/lua/<name>.lua */

struct event_base;
struct jw_store;
struct jw_reply; /* a read-only view of one Redis reply, valid during the callback */

enum jw_store_status {
    JW_STORE_OK,          /* reply is a Redis reply (may itself be nil) */
    JW_STORE_ERROR,       /* Redis answered with an error (reply holds it) */
    JW_STORE_UNAVAILABLE, /* not connected, or the connection dropped: reply NULL */
    JW_STORE_TIMEOUT,     /* no answer in time; the connection is being reset: reply NULL */
};

typedef void (*jw_store_cb)(enum jw_store_status st, const struct jw_reply *reply, void *arg);

/* Command arguments; each one is copied in (as the protocol sends it). */
struct jw_args {
    int n;      /* how many */
    char *resp; /* the arguments, encoded */
    size_t len, cap;
};
#define JW_ARGS_INIT                                                                                         \
    {                                                                                                        \
        0, NULL, 0, 0                                                                                        \
    }
void jw_args_add(struct jw_args *a, const char *s, size_t len);
void jw_args_adds(struct jw_args *a, const char *s); /* NULL adds "" */
void jw_args_addi(struct jw_args *a, int64_t v);
void jw_args_addf(struct jw_args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void jw_args_move(struct jw_args *dst, struct jw_args *src); /* appends src's, leaving src empty */
void jw_args_free(struct jw_args *a);

struct jw_store_options {
    const char *url;    /* redis://[:password@]host[:port][/db] or unix:///path[?db=N] */
    int64_t timeout_ms; /* per-command deadline */
    bool just_started;  /* the Redis was started with this process: not listening yet is expected */
};

/* Parse the URL and start connecting (in the background). NULL + err when
 * the URL is malformed. */
struct jw_store *jw_store_new(struct event_base *base, const struct jw_store_options *opt, char *err,
                              size_t errlen);
/* Connected, selected, and every script loaded. */
bool jw_store_ready(const struct jw_store *s);
/* Every build whose library is in use reads a run's long values stored
 * apart (lib_seen.lua says so once a minute; false until it first has):
 * they may be stored so. */
bool jw_store_apart(const struct jw_store *s);

/* Run script `id` with KEYS[1] = "jw:{tenant}" (or "jw:{}" for global data)
 * and ARGV = *args. Takes ownership of args (left empty). cb runs exactly
 * once, always from the loop (never before this call returns). */
void jw_store_eval(struct jw_store *s, enum jw_lua_id id, const char *tenant, struct jw_args *args,
                   jw_store_cb cb, void *arg);
/* Group commit: calls of script `id` for one tenant joined in one turn of
 * the loop go out as one call at the end of the turn (or once GROUP_MAX
 * callers joined). The first caller's prefix(args, prefix_arg) writes the
 * call's leading arguments; each caller then appends its own to the args
 * this returns (valid until the caller returns to the loop). The script
 * answers an array with one element per caller, in the order they joined;
 * cb gets its own element (JW_STORE_ERROR with a NULL reply when the answer
 * lacks it), or the status of the whole call when it failed. cb runs
 * exactly once, from the loop. */
struct jw_args *jw_store_join(struct jw_store *s, enum jw_lua_id id, const char *tenant,
                              void (*prefix)(struct jw_args *args, void *prefix_arg), void *prefix_arg,
                              jw_store_cb cb, void *arg);
/* A plain command (args[0] is the command name). Same rules. */
void jw_store_cmd(struct jw_store *s, struct jw_args *args, jw_store_cb cb, void *arg);

/* Stop reconnecting, let pending replies arrive, then disconnect and call
 * done (from the loop). */
void jw_store_close(struct jw_store *s, void (*done)(void *), void *arg);
void jw_store_free(struct jw_store *s);

/* ---- replies ------------------------------------------------------------- */
enum jw_reply_type {
    JW_REPLY_NIL,
    JW_REPLY_INT,
    JW_REPLY_STR,    /* bulk string */
    JW_REPLY_STATUS, /* +OK */
    JW_REPLY_ARRAY,
    JW_REPLY_ERR,
    JW_REPLY_OTHER,
};
enum jw_reply_type jw_reply_type(const struct jw_reply *r);
long long jw_reply_int(const struct jw_reply *r);
/* STR, STATUS and ERR: the text (NUL-terminated) and its length. */
const char *jw_reply_str(const struct jw_reply *r, size_t *len);
size_t jw_reply_count(const struct jw_reply *r); /* ARRAY */
const struct jw_reply *jw_reply_at(const struct jw_reply *r, size_t i);
/* The pairs of an array reply (HGETALL's name, value, ...): at most max,
 * pointing into the reply; how many. */
size_t jw_reply_pairs(const struct jw_reply *arr, const char **names, const char **values, size_t *lens,
                      size_t max);
/* A bulk string element equal to s? (Convenience for status words.) */
bool jw_reply_is(const struct jw_reply *r, const char *s);
/* In a FUNCTION LIST reply, the name of the library that defines Redis
 * function `function` (names compared regardless of case, as Redis does),
 * or NULL when no library does. Valid while the reply is. */
const char *jw_reply_function_library(const struct jw_reply *list, const char *function);

#endif
