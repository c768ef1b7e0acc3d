/* cluster: the instances that share this Redis and the scheduler shards
 * each owns (cluster_status.lua), for operators. */
#include <stdlib.h>
#include <string.h>

#include "jobwheel/core.h"
#include "jobwheel/exec.h"
#include "jobwheel/json.h"
#include "jobwheel/store.h"

struct cluster_op {
    struct jw_core *c;
    jw_core_cb cb;
    void *arg;
};

static void on_status(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct cluster_op *op = arg;
    size_t count = jw_reply_count(r);
    long long nshards = count >= 2 ? jw_reply_int(jw_reply_at(r, 0)) : -1;
    long long ninst = count >= 2 ? jw_reply_int(jw_reply_at(r, 1)) : -1;
    struct jw_error e;
    if (st != JW_STORE_OK || jw_reply_type(r) != JW_REPLY_ARRAY || nshards < 0 || ninst < 0 ||
        count != 2 + 2 * (size_t)ninst + (size_t)nshards) {
        jw_core_store_error(st, &e); /* 503 when Redis is away, else 500 */
        op->cb(op->arg, &e, NULL);
        free(op);
        return;
    }
    const char *me = op->c->exec ? jw_exec_instance(op->c->exec) : NULL;
    size_t owners = 2 + 2 * (size_t)ninst;
    struct jw_buf body = JW_BUF_INIT;
    struct jw_jsonw w;
    jw_jsonw_init(&w, &body);
    jw_jsonw_obj_open(&w);
    jw_jsonw_kstr(&w, "instance", me);
    jw_jsonw_kint(&w, "shards", nshards);
    jw_jsonw_key(&w, "instances");
    jw_jsonw_arr_open(&w);
    for (long long i = 0; i < ninst; i++) {
        const char *id = jw_reply_str(jw_reply_at(r, 2 + 2 * (size_t)i), NULL);
        jw_jsonw_obj_open(&w);
        jw_jsonw_kstr(&w, "id", id);
        jw_jsonw_kbool(&w, "this", me && id && !strcmp(me, id));
        jw_jsonw_ktime(&w, "last_seen", jw_reply_int(jw_reply_at(r, 3 + 2 * (size_t)i)));
        jw_jsonw_key(&w, "shards_owned");
        jw_jsonw_arr_open(&w);
        for (long long s = 0; id && s < nshards; s++)
            if (jw_reply_is(jw_reply_at(r, owners + (size_t)s), id))
                jw_jsonw_int(&w, s);
        jw_jsonw_arr_close(&w);
        jw_jsonw_obj_close(&w);
    }
    jw_jsonw_arr_close(&w);
    jw_jsonw_key(&w, "shards_unowned"); /* free, or held by an instance whose heartbeat stopped */
    jw_jsonw_arr_open(&w);
    for (long long s = 0; s < nshards; s++) {
        bool held = false;
        for (long long i = 0; i < ninst && !held; i++) {
            const char *id = jw_reply_str(jw_reply_at(r, 2 + 2 * (size_t)i), NULL);
            held = id && jw_reply_is(jw_reply_at(r, owners + (size_t)s), id);
        }
        if (!held)
            jw_jsonw_int(&w, s);
    }
    jw_jsonw_arr_close(&w);
    jw_jsonw_obj_close(&w);
    op->cb(op->arg, NULL, &body);
    jw_buf_free(&body);
    free(op);
}

void jw_cluster_status(struct jw_core *c, jw_core_cb cb, void *arg)
{
    struct cluster_op *op = jw_calloc(1, sizeof(*op));
    *op = (struct cluster_op){c, cb, arg};
    struct jw_args a = JW_ARGS_INIT;
    jw_store_eval(c->store, JW_LUA_CLUSTER_STATUS, "sched", &a, on_status, op);
}
