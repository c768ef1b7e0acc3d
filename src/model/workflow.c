/* workflow: validation of workflow definitions and dependency conditions. */
#include "jobwheel/workflow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobwheel/buf.h"

#define KEY_MAX 64
#define NAME_MAX_LEN 200
#define DESCRIPTION_MAX 2000

const char *jw_dep_condition(const char *s)
{
    static const struct {
        const char *in, *out;
    } map[] = {
        {"AllSucceeded", "AllSucceeded"}, {"all_succeeded", "AllSucceeded"},
        {"success", "AllSucceeded"},      {"succeeded", "AllSucceeded"},
        {"AnySucceeded", "AnySucceeded"}, {"any_succeeded", "AnySucceeded"},
        {"any_success", "AnySucceeded"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (!strcmp(map[i].in, s))
            return map[i].out;
    return NULL;
}

static bool key_chars(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              *s == '-'))
            return false;
    return true;
}

static bool text_ok(const struct jw_json *v, size_t max)
{
    if (v->type != JW_JSON_STRING || v->len == 0 || v->len > max)
        return false;
    for (size_t i = 0; i < v->len; i++)
        if ((unsigned char)v->u.str[i] < 0x20 || v->u.str[i] == 0x7f)
            return false;
    return true;
}

static int unknown_fields(const struct jw_json *obj, const char *const *known, const char *prefix,
                          struct jw_error *err)
{
    for (size_t i = 0; i < obj->len; i++) {
        const char *k = obj->u.members[i].key;
        bool ok = false;
        for (const char *const *n = known; *n && !ok; n++)
            ok = !strcmp(*n, k);
        if (!ok)
            return jw_fail(err, 400, k, "unknown field \"%s%.60s\"", prefix, k);
    }
    return 0;
}

static int step_index(const struct jw_json *steps, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(jw_json_get(steps->u.items[i], "key")->u.str, key))
            return (int)i;
    return -1;
}

/* One step: its own fields, then its prerequisites among steps[0..n). */
static int check_step(const struct jw_json *steps, size_t i, struct jw_error *err)
{
    static const char *const known[] = {"key", "job_id", "depends_on", "condition", NULL};
    const struct jw_json *s = steps->u.items[i];
    if (s->type != JW_JSON_OBJECT)
        return jw_fail(err, 400, "", "a step must be an object {key, job_id, depends_on, condition}");
    if (unknown_fields(s, known, "", err) != 0)
        return -1;
    const struct jw_json *key = jw_json_get(s, "key");
    if (!key || key->type != JW_JSON_STRING || key->len == 0 || key->len > KEY_MAX || !key_chars(key->u.str))
        return jw_fail(err, 400, "key", "key is required: 1 to %d letters, digits, _ or -", KEY_MAX);
    if (step_index(steps, i, key->u.str) >= 0)
        return jw_fail(err, 400, "key", "two steps have the key \"%s\"", key->u.str);
    const struct jw_json *job = jw_json_get(s, "job_id");
    if (!job || !text_ok(job, NAME_MAX_LEN))
        return jw_fail(err, 400, "job_id", "job_id is required: the id or name of a job");
    const struct jw_json *cond = jw_json_get(s, "condition");
    if (cond && cond->type != JW_JSON_NULL &&
        (cond->type != JW_JSON_STRING || !jw_dep_condition(cond->u.str)))
        return jw_fail(err, 400, "condition", "condition must be AllSucceeded or AnySucceeded");
    const struct jw_json *deps = jw_json_get(s, "depends_on");
    if (deps && deps->type != JW_JSON_NULL && deps->type != JW_JSON_ARRAY)
        return jw_fail(err, 400, "depends_on", "depends_on must be an array of step keys");
    return 0;
}

/* Prerequisites name other steps, once each, and the steps make no cycle
 * (Kahn: repeatedly settle the steps whose prerequisites are settled). */
static int check_graph(const struct jw_json *steps, struct jw_error *err)
{
    size_t n = steps->len;
    int *left = jw_calloc(n, sizeof(int));
    bool *done = jw_calloc(n, sizeof(bool));
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct jw_json *deps = jw_json_get(steps->u.items[i], "depends_on");
        for (size_t d = 0; deps && deps->type == JW_JSON_ARRAY && d < deps->len && rc == 0; d++) {
            const struct jw_json *k = deps->u.items[d];
            int at = k->type == JW_JSON_STRING ? step_index(steps, n, k->u.str) : -1;
            if (at < 0)
                rc = jw_fail(err, 400, "depends_on", "depends_on[%zu] is not the key of a step", d);
            else if ((size_t)at == i)
                rc = jw_fail(err, 400, "depends_on", "a step cannot depend on itself");
            for (size_t e = 0; e < d && rc == 0; e++)
                if (deps->u.items[e]->type == JW_JSON_STRING && !strcmp(deps->u.items[e]->u.str, k->u.str))
                    rc = jw_fail(err, 400, "depends_on", "depends_on names \"%s\" twice", k->u.str);
            left[i]++;
        }
        if (rc != 0) {
            char f[sizeof(err->field)];
            snprintf(f, sizeof(f), "steps[%zu].%.40s", i, err->field);
            memcpy(err->field, f, sizeof(f));
        }
    }
    for (size_t settled = 0, progress = 1; rc == 0 && progress;) {
        progress = 0;
        for (size_t i = 0; i < n; i++) {
            if (done[i] || left[i] > 0)
                continue;
            done[i] = true;
            settled++;
            progress = 1;
            const char *key = jw_json_get(steps->u.items[i], "key")->u.str;
            for (size_t j = 0; j < n; j++) {
                const struct jw_json *deps = jw_json_get(steps->u.items[j], "depends_on");
                for (size_t d = 0; deps && deps->type == JW_JSON_ARRAY && d < deps->len; d++)
                    if (!strcmp(deps->u.items[d]->u.str, key))
                        left[j]--;
            }
        }
        if (!progress && settled < n)
            rc = jw_fail(err, 400, "steps", "the steps' depends_on make a cycle");
    }
    free(left);
    free(done);
    return rc;
}

int jw_workflow_check(const struct jw_json *obj, struct jw_error *err)
{
    static const char *const known[] = {"name", "description", "steps", NULL};
    if (!obj || obj->type != JW_JSON_OBJECT)
        return jw_fail(err, 400, "", "the body must be a JSON object");
    if (unknown_fields(obj, known, "", err) != 0)
        return -1;
    const struct jw_json *name = jw_json_get(obj, "name");
    if (!name || !text_ok(name, NAME_MAX_LEN))
        return jw_fail(err, 400, "name", "name is required: 1 to %d characters, no control characters",
                       NAME_MAX_LEN);
    const struct jw_json *desc = jw_json_get(obj, "description");
    if (desc && desc->type != JW_JSON_NULL && (desc->type != JW_JSON_STRING || desc->len > DESCRIPTION_MAX))
        return jw_fail(err, 400, "description", "description must be a string of at most %d characters",
                       DESCRIPTION_MAX);
    const struct jw_json *steps = jw_json_get(obj, "steps");
    if (!steps || steps->type != JW_JSON_ARRAY || steps->len == 0 || steps->len > JW_WORKFLOW_STEPS_MAX)
        return jw_fail(err, 400, "steps", "steps is required: an array of 1 to %d steps",
                       JW_WORKFLOW_STEPS_MAX);
    for (size_t i = 0; i < steps->len; i++)
        if (check_step(steps, i, err) != 0) {
            char f[sizeof(err->field)];
            snprintf(f, sizeof(f), "steps[%zu]%s%.40s", i, err->field[0] ? "." : "", err->field);
            memcpy(err->field, f, sizeof(f));
            return -1;
        }
    return check_graph(steps, err);
}
