/* workflow: what a workflow definition must be — named DAGs of job steps,
 * and the dependency conditions their steps (and job dependencies) take.
 * Pure: validation only; core/workflows stores and runs them. */
#ifndef JOBWHEEL_WORKFLOW_H
#define JOBWHEEL_WORKFLOW_H

#include "jobwheel/error.h"
#include "jobwheel/json.h"

#define JW_WORKFLOW_STEPS_MAX 100

/* Check a workflow as a client sends it: {name, description, steps: [{key,
 * job_id (id or name), depends_on: [keys], condition}]} with unique step
 * keys, prerequisites among the steps, once each, and no cycle. 0, or -1
 * with a 400 naming the field ("steps[2].depends_on"). */
int jw_workflow_check(const struct jw_json *obj, struct jw_error *err) __attribute__((warn_unused_result));

/* A dependency condition as stored (AllSucceeded / AnySucceeded) from its
 * accepted spellings (seed 002's too); NULL when unknown. */
const char *jw_dep_condition(const char *s);

#endif
