/* api_internal: the per-request call context and helpers shared by the
 * surface files. Not a public interface. */
#ifndef JOBWHEEL_API_INTERNAL_H
#define JOBWHEEL_API_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "jobwheel/api.h"
#include "jobwheel/core.h"
#include "jobwheel/json.h"

struct jw_call;
struct jw_error;
typedef void (*jw_handler_fn)(struct jw_call *c);
/* How a surface words its errors; NULL: application/problem+json. */
typedef void (*jw_problem_fn)(struct jw_call *c, const struct jw_error *err);

struct jw_api_route {
    unsigned methods;
    const char *pattern;
    enum jw_access access;
    jw_handler_fn handler;
    const char *tenant_param; /* path parameter naming the tenant, or NULL */
    jw_problem_fn problem;    /* every error of the route, the pipeline's too */
};

/* One API request: lives from dispatch until its reply (freed with it). */
struct jw_call {
    struct jw_req *req;
    struct jw_api *api;
    const struct jw_api_route *route;
    struct jw_principal principal;
    char tenant[40];
    char actor[200];         /* "user:<sub>" / "apikey:<id>" */
    struct jw_json_doc *doc; /* the parsed body, when read */
    struct jw_buf out;       /* the reply being written (jw_call_writer) */
    struct jw_jsonw w;
    /* the core request a surface translated the body into (freed with the call) */
    struct jw_json_doc *made;
};

void jw_api_add_routes(struct jw_router *r, const struct jw_api_route *routes, size_t n);

/* The request body as JSON. Returns NULL after replying 400/415 — or, when
 * optional and the body is empty, an empty object. */
const struct jw_json *jw_call_body(struct jw_call *c, bool optional);
/* The body as a JSON object whose members are all in known (NULL-ended;
 * NULL: any), or NULL after replying 400/415. */
const struct jw_json *jw_call_object(struct jw_call *c, bool optional, const char *const *known);
/* An integer query parameter; -1 after replying 400. */
int jw_call_query_int(struct jw_call *c, const char *name, int64_t def, int64_t min, int64_t max,
                      int64_t *out);
struct jw_actor jw_call_actor(const struct jw_call *c);

/* Reply from a core result: problem+json on error, else the body with
 * ok_status (204 sends no body). */
void jw_call_reply(struct jw_call *c, const struct jw_error *err, struct jw_buf *body, int ok_status);
void jw_call_problem(struct jw_call *c, const struct jw_error *err);
void jw_call_problemf(struct jw_call *c, int status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A core answer as a JSON tree for an adapter to reshape — or NULL after
 * replying: err as the route words it, or 500 when the body is unreadable.
 * Free with jw_json_doc_free. */
struct jw_json_doc *jw_call_answer(struct jw_call *c, const struct jw_error *err, const struct jw_buf *body);
/* The reply's JSON writer (it lives in the call); jw_call_send sends what
 * it wrote with status. */
struct jw_jsonw *jw_call_writer(struct jw_call *c);
void jw_call_send(struct jw_call *c, int status);
/* A native list page: 200 with the body, X-Has-More, and when there is
 * more X-Next-Cursor and a Link to the next page keeping the keep[]
 * query parameters. */
void jw_call_reply_page(struct jw_call *c, const struct jw_error *err, struct jw_buf *body, const char *next,
                        const char *const *keep, size_t nkeep);
/* jw_core_cb-shaped: reply 200 / 201 / 204 (arg = the call). */
void jw_call_done_200(void *arg, const struct jw_error *err, struct jw_buf *body);
void jw_call_done_201(void *arg, const struct jw_error *err, struct jw_buf *body);
void jw_call_done_204(void *arg, const struct jw_error *err, struct jw_buf *body);

/* The surfaces. */
void jw_api_native_jobs_register(struct jw_router *r);
void jw_api_native_keys_register(struct jw_router *r);
void jw_api_native_runs_register(struct jw_router *r);
void jw_api_native_workflows_register(struct jw_router *r);
void jw_api_native_tenants_register(struct jw_router *r);
void jw_api_admin_register(struct jw_router *r);
void jw_api_teams_register(struct jw_router *r);
/* GET /v1/jobs/:id when :id names a run, not a job (seed 001's job_run). */
void jw_api_teams_get_run(struct jw_call *c);
void jw_api_scheduler_register(struct jw_router *r);
void jw_api_ops_register(struct jw_router *r);
void jw_api_ui_register(struct jw_router *r);

/* Seed 004 ("nightly") on seed 003's paths (SPEC §4): the scheduler
 * surface hands over a request on /api/v1/scheduler/jobs… whose body has
 * job_name or whose :id is not a UUID, after authentication; the nightly
 * surface (nightly.c) replies to it. */
void jw_api_nightly_dispatch(struct jw_call *c);
void jw_api_nightly_register(struct jw_router *r);

#endif
