/* tenants: a tenant's quotas and what it uses of them (tenant_quota.lua);
 * the quotas themselves are enforced by the scripts that make jobs and
 * runs (see store/lua/prelude.lua, "Quotas"). */
#include <stdlib.h>
#include <string.h>

#include "jobwheel/core.h"
#include "jobwheel/exec.h"
#include "jobwheel/store.h"
#include "jobwheel/time.h"

struct quota_op {
    struct jw_core *c;
    jw_core_cb cb;
    void *arg;
    char tenant[40];
};

static void on_quotas(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct quota_op *q = arg;
    struct jw_error e;
    size_t want = 3 * JW_QUOTA_COUNT + 1;
    if (st != JW_STORE_OK || jw_reply_type(r) != JW_REPLY_ARRAY || jw_reply_count(r) < want) {
        jw_core_store_error(st, &e); /* 503 when Redis is away, else 500 */
        q->cb(q->arg, &e, NULL);
        free(q);
        return;
    }
    jw_exec_start_members(q->c->exec, r, want); /* runs a raised inflight limit let go */
    struct jw_buf body = JW_BUF_INIT;
    struct jw_jsonw w;
    jw_jsonw_init(&w, &body);
    jw_jsonw_obj_open(&w);
    jw_jsonw_kstr(&w, "tenant_id", q->tenant);
    jw_jsonw_key(&w, "quotas");
    jw_jsonw_obj_open(&w);
    for (size_t i = 0; i < JW_QUOTA_COUNT; i++) {
        long long limit = jw_reply_int(jw_reply_at(r, 3 * i));
        jw_jsonw_key(&w, jw_quota_names[i]);
        jw_jsonw_obj_open(&w);
        if (limit > 0)
            jw_jsonw_kint(&w, "limit", limit);
        else
            jw_jsonw_knull(&w, "limit"); /* no limit */
        jw_jsonw_kint(&w, "used", jw_reply_int(jw_reply_at(r, 3 * i + 2)));
        jw_jsonw_kstr(&w, "source", jw_reply_is(jw_reply_at(r, 3 * i + 1), "tenant") ? "tenant" : "default");
        jw_jsonw_obj_close(&w);
    }
    jw_jsonw_obj_close(&w);
    jw_jsonw_kint(&w, "runs_held_by_inflight", jw_reply_int(jw_reply_at(r, 3 * JW_QUOTA_COUNT)));
    jw_jsonw_obj_close(&w);
    q->cb(q->arg, NULL, &body);
    jw_buf_free(&body);
    free(q);
}

void jw_tenants_quotas(struct jw_core *c, const char *tenant, const int64_t *settings, jw_core_cb cb, void *arg)
{
    struct quota_op *q = jw_calloc(1, sizeof(*q));
    q->c = c;
    q->cb = cb;
    q->arg = arg;
    snprintf(q->tenant, sizeof(q->tenant), "%s", tenant);
    struct jw_args a = JW_ARGS_INIT;
    jw_args_addi(&a, jw_time_now_ms());
    for (size_t i = 0; i < JW_QUOTA_COUNT; i++)
        jw_args_addi(&a, c->quotas.limit[i]);
    for (size_t i = 0; settings && i < JW_QUOTA_COUNT; i++) {
        if (settings[i] == JW_QUOTA_KEEP)
            continue;
        jw_args_adds(&a, jw_quota_names[i]);
        if (settings[i] == JW_QUOTA_DEFAULT)
            jw_args_adds(&a, "");
        else
            jw_args_addi(&a, settings[i]);
    }
    jw_store_eval(c->store, JW_LUA_TENANT_QUOTA, tenant, &a, on_quotas, q);
}
