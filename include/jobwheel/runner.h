/* runner: the job types other than HttpCall — StoredProcedure (a Redis
 * function, FCALL), CodeExecution (a child process), FileOperation (a
 * child `jobwheel file-op ROOT`, so file I/O never stalls the loop) and
 * Builtin (a housekeeping handler, one Lua script). Each attempt's outcome
 * is reported in the HTTP call's terms, so one retry policy serves every
 * type: status 200 with a JSON body (the run's result) is success; status
 * 0 with an error, or timed_out, is a failed attempt. */
#ifndef JOBWHEEL_RUNNER_H
#define JOBWHEEL_RUNNER_H

#include <stdbool.h>
#include <stdint.h>

#include "jobwheel/http_client.h"
#include "jobwheel/job.h"

struct event_base;
struct jw_store;
struct jw_runner;
struct jw_runner_call;
struct jw_reply;

struct jw_runner_options {
    const char *file_root; /* FileOperation paths live under it, a directory per tenant */
    const char *self_exe;  /* this program, for `file-op` children */
    bool code_execution;   /* CodeExecution allowed (else its runs fail) */
    bool file_operations;  /* FileOperation allowed (else its runs fail) */
    int64_t file_quota_bytes, file_quota_entries; /* per tenant, for FileOperation */
    int64_t retention_ms;  /* history retention, for runs a handler makes */
    /* start the runs "<tenant>:<run>" a reply names from index `from` on
     * (those a startWorkflow handler made) */
    void (*start_members)(void *arg, const struct jw_reply *r, size_t from);
    void *start_arg;
};

struct jw_runner_attempt {
    const char *tenant, *run_id;
    int attempt;
    const struct jw_job *job;
    const char *payload;   /* JSON text, or NULL */
    const char *params;    /* the run's params (JSON object text), or NULL */
    const char *run_token; /* for CodeExecution's environment */
    int64_t timeout_ms;
};

struct jw_runner *jw_runner_new(struct event_base *base, struct jw_store *store,
                                const struct jw_runner_options *o);
void jw_runner_free(struct jw_runner *r);

/* Is this job type run here (not by the HTTP client)? */
bool jw_runner_handles(const struct jw_job *job);

/* Start one attempt; fn is called once from the loop (never inside this
 * call) unless the call is cancelled first. The response is valid during
 * the callback only. */
struct jw_runner_call *jw_runner_start(struct jw_runner *r, const struct jw_runner_attempt *a,
                                       jw_http_response_fn fn, void *arg);
/* Abandon an attempt (a child process is killed); fn will not be called. */
void jw_runner_cancel(struct jw_runner_call *c);

#endif
