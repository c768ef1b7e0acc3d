/* nightly: seed 004's surface on /api/v1/scheduler/jobs… (SPEC §4). A
 * placeholder until that surface is written: every request handed over
 * by the scheduler surface is answered 404. */
#include "api_internal.h"

void jw_api_nightly_dispatch(struct jw_call *c)
{
    jw_reply_problemf(c->req, 404, "", "no such resource: %.200s", jw_req_path(c->req));
}
