/* apikeys: API keys — made once and shown once, kept only as a SHA-256,
 * each bound to one tenant and a set of permissions.
 *
 * A key reads "jw_<tenant uuid as 32 hex>_<43 characters of base64url>":
 * the tenant part says which tenant's keys to look in (every key stays
 * under that tenant's hash tag), the random part is the secret. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "jobwheel/core.h"
#include "jobwheel/id.h"
#include "jobwheel/store.h"
#include "jobwheel/time.h"

#define KEY_SECRET_BYTES 32
#define KEY_LEN (3 + 32 + 1 + 43)

struct keyop {
    struct jw_core *c;
    jw_core_cb cb;
    jw_apikey_auth_cb auth_cb;
    void *arg;
    char tenant[40];
    char *key; /* a new key in clear (create) */
    char *id;
    struct jw_buf record; /* create: the stored record */
    struct jw_buf body;
};

static struct keyop *keyop_new(struct jw_core *c, const char *tenant, jw_core_cb cb, void *arg)
{
    struct keyop *k = jw_calloc(1, sizeof(*k));
    k->c = c;
    k->cb = cb;
    k->arg = arg;
    snprintf(k->tenant, sizeof(k->tenant), "%s", tenant);
    return k;
}

static void keyop_free(struct keyop *k)
{
    if (k->key) {
        memset(k->key, 0, strlen(k->key));
        free(k->key);
    }
    free(k->id);
    jw_buf_free(&k->record);
    jw_buf_free(&k->body);
    free(k);
}

static void keyop_done(struct keyop *k, const struct jw_error *err)
{
    k->cb(k->arg, err, err ? NULL : &k->body);
    keyop_free(k);
}

static void keyop_fail(struct keyop *k, int status, const char *field, const char *msg)
{
    struct jw_error e;
    jw_fail(&e, status, field, "%s", msg);
    keyop_done(k, &e);
}

static void keyop_store_fail(struct keyop *k, enum jw_store_status st)
{
    struct jw_error e;
    jw_core_store_error(st, &e);
    if (k->auth_cb) {
        k->auth_cb(k->arg, &e, NULL);
        keyop_free(k);
    } else {
        keyop_done(k, &e);
    }
}

/* The public view of a stored record: everything but the hash. */
static void write_public(struct jw_jsonw *w, const struct jw_json *rec, const char *clear_key)
{
    jw_jsonw_obj_open(w);
    for (size_t i = 0; i < rec->len; i++) {
        const char *name = rec->u.members[i].key;
        if (!strcmp(name, "sha256"))
            continue;
        jw_jsonw_key(w, name);
        jw_jsonw_value(w, rec->u.members[i].val);
        if (clear_key && !strcmp(name, "name"))
            jw_jsonw_kstr(w, "key", clear_key);
    }
    jw_jsonw_obj_close(w);
}

/* ---- create ------------------------------------------------------------------ */

static void on_created(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct keyop *k = arg;
    if (st != JW_STORE_OK) {
        keyop_store_fail(k, st);
        return;
    }
    char why[64];
    struct jw_json_doc *doc = jw_json_parse(k->record.data, k->record.len, 8, why, sizeof(why));
    struct jw_jsonw w;
    jw_jsonw_init(&w, &k->body);
    write_public(&w, jw_json_root(doc), k->key);
    jw_json_doc_free(doc);
    keyop_done(k, NULL);
}

void jw_apikeys_create(struct jw_core *c, const struct jw_actor *a, const struct jw_json *obj, jw_core_cb cb,
                       void *arg)
{
    struct keyop *k = keyop_new(c, a->tenant, cb, arg);
    if (!obj || obj->type != JW_JSON_OBJECT) {
        keyop_fail(k, 400, "", "the body must be a JSON object");
        return;
    }
    for (size_t i = 0; i < obj->len; i++) {
        const char *f = obj->u.members[i].key;
        if (strcmp(f, "name") && strcmp(f, "permissions") && strcmp(f, "expires_at")) {
            struct jw_error e;
            jw_fail(&e, 400, f, "unknown field \"%.60s\" (expected name, permissions, expires_at)", f);
            keyop_done(k, &e);
            return;
        }
    }
    const struct jw_json *name = jw_json_get(obj, "name");
    const struct jw_json *perms = jw_json_get(obj, "permissions");
    const struct jw_json *exp = jw_json_get(obj, "expires_at");
    if (!name || name->type != JW_JSON_STRING || name->len == 0 || name->len > 100) {
        keyop_fail(k, 400, "name", "name is required: 1 to 100 characters");
        return;
    }
    for (size_t i = 0; i < name->len; i++)
        if ((unsigned char)name->u.str[i] < 0x20) {
            keyop_fail(k, 400, "name", "name must not contain control characters");
            return;
        }
    if (!perms || perms->type != JW_JSON_ARRAY || perms->len == 0) {
        keyop_fail(k, 400, "permissions",
                   "permissions is required: an array of \"jobs:read\", \"jobs:write\"");
        return;
    }
    unsigned mask = 0;
    for (size_t i = 0; i < perms->len; i++) {
        const struct jw_json *p = perms->u.items[i];
        unsigned bit = p->type == JW_JSON_STRING ? jw_perm_from_name(p->u.str) : 0;
        if (!bit) {
            keyop_fail(k, 400, "permissions", "permissions may hold only \"jobs:read\" and \"jobs:write\"");
            return;
        }
        mask |= bit;
    }
    int64_t now = jw_time_now_ms(), expires = -1;
    if (exp && exp->type != JW_JSON_NULL) {
        if (exp->type != JW_JSON_STRING || jw_time_parse(exp->u.str, &expires) != 0) {
            keyop_fail(k, 400, "expires_at", "expires_at must be an ISO 8601 date-time");
            return;
        }
        if (expires <= now) {
            keyop_fail(k, 400, "expires_at", "expires_at must be in the future");
            return;
        }
    }

    /* the key: tenant hex + random secret */
    unsigned char raw[KEY_SECRET_BYTES];
    char secret[64], hex[33], id[JW_UUID_SIZE], sha[65];
    jw_random_bytes(raw, sizeof(raw));
    jw_base64url_encode(raw, sizeof(raw), secret);
    memset(raw, 0, sizeof(raw));
    size_t h = 0;
    for (const char *t = k->tenant; *t; t++)
        if (*t != '-')
            hex[h++] = *t;
    hex[h] = '\0';
    struct jw_buf key = JW_BUF_INIT;
    jw_buf_printf(&key, "jw_%s_%s", hex, secret);
    memset(secret, 0, sizeof(secret));
    k->key = jw_buf_detach(&key);
    jw_sha256_hex(k->key, strlen(k->key), sha);
    jw_id_new(id);

    struct jw_jsonw w;
    jw_jsonw_init(&w, &k->record);
    jw_jsonw_obj_open(&w);
    jw_jsonw_kstr(&w, "id", id);
    jw_jsonw_kstr(&w, "name", name->u.str);
    char prefix[16];
    snprintf(prefix, sizeof(prefix), "%.11s", k->key);
    jw_jsonw_kstr(&w, "prefix", prefix);
    jw_jsonw_key(&w, "permissions");
    jw_jsonw_arr_open(&w);
    if (mask & JW_PERM_JOBS_READ)
        jw_jsonw_str(&w, "jobs:read");
    if (mask & JW_PERM_JOBS_WRITE)
        jw_jsonw_str(&w, "jobs:write");
    jw_jsonw_arr_close(&w);
    jw_jsonw_kstr(&w, "tenant_id", k->tenant);
    jw_jsonw_kstr(&w, "created_by", a->who);
    jw_jsonw_ktime(&w, "created_at", now);
    jw_jsonw_ktime(&w, "expires_at", expires);
    jw_jsonw_kstr(&w, "sha256", sha);
    jw_jsonw_obj_close(&w);

    struct jw_args args = JW_ARGS_INIT;
    jw_args_adds(&args, id);
    jw_args_adds(&args, sha);
    jw_args_add(&args, k->record.data, k->record.len);
    jw_store_eval(c->store, JW_LUA_APIKEY_CREATE, k->tenant, &args, on_created, k);
}

/* ---- list / delete ------------------------------------------------------------ */

static void on_listed(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct keyop *k = arg;
    if (st != JW_STORE_OK) {
        keyop_store_fail(k, st);
        return;
    }
    struct jw_jsonw w;
    jw_jsonw_init(&w, &k->body);
    jw_jsonw_arr_open(&w);
    for (size_t i = 0; i < jw_reply_count(r); i++) {
        size_t n;
        const char *json = jw_reply_str(jw_reply_at(r, i), &n);
        char why[64];
        struct jw_json_doc *doc = json ? jw_json_parse(json, n, 8, why, sizeof(why)) : NULL;
        if (doc)
            write_public(&w, jw_json_root(doc), NULL);
        jw_json_doc_free(doc);
    }
    jw_jsonw_arr_close(&w);
    keyop_done(k, NULL);
}

void jw_apikeys_list(struct jw_core *c, const char *tenant, jw_core_cb cb, void *arg)
{
    struct keyop *k = keyop_new(c, tenant, cb, arg);
    struct jw_args a = JW_ARGS_INIT;
    jw_store_eval(c->store, JW_LUA_APIKEY_LIST, tenant, &a, on_listed, k);
}

static void on_deleted(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct keyop *k = arg;
    if (st != JW_STORE_OK) {
        keyop_store_fail(k, st);
        return;
    }
    if (jw_reply_int(r) != 1) {
        keyop_fail(k, 404, "", "no such API key");
        return;
    }
    keyop_done(k, NULL);
}

void jw_apikeys_delete(struct jw_core *c, const char *tenant, const char *id, jw_core_cb cb, void *arg)
{
    struct keyop *k = keyop_new(c, tenant, cb, arg);
    if (!jw_id_is_uuid(id)) {
        keyop_fail(k, 404, "", "no such API key");
        return;
    }
    char lower[JW_UUID_SIZE];
    jw_id_lower(id, lower);
    struct jw_args a = JW_ARGS_INIT;
    jw_args_adds(&a, lower);
    jw_store_eval(c->store, JW_LUA_APIKEY_DELETE, tenant, &a, on_deleted, k);
}

/* ---- authentication ---------------------------------------------------------------- */

bool jw_apikey_looks_like(const char *token)
{
    return strncmp(token, "jw_", 3) == 0;
}

static void auth_fail(struct keyop *k, const char *msg)
{
    struct jw_error e;
    jw_fail(&e, 401, "", "%s", msg);
    k->auth_cb(k->arg, &e, NULL);
    keyop_free(k);
}

static void on_auth(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct keyop *k = arg;
    if (st != JW_STORE_OK) {
        keyop_store_fail(k, st);
        return;
    }
    size_t n;
    const char *json = jw_reply_str(r, &n);
    char why[64];
    struct jw_json_doc *doc = json ? jw_json_parse(json, n, 8, why, sizeof(why)) : NULL;
    if (!doc) {
        auth_fail(k, "invalid API key");
        return;
    }
    const struct jw_json *rec = jw_json_root(doc);
    const struct jw_json *id = jw_json_get(rec, "id");
    const struct jw_json *name = jw_json_get(rec, "name");
    const struct jw_json *perms = jw_json_get(rec, "permissions");
    const struct jw_json *exp = jw_json_get(rec, "expires_at");
    int64_t expires;
    if (exp && exp->type == JW_JSON_STRING && jw_time_parse(exp->u.str, &expires) == 0 &&
        expires <= jw_time_now_ms()) {
        jw_json_doc_free(doc);
        auth_fail(k, "API key expired");
        return;
    }
    struct jw_principal p;
    memset(&p, 0, sizeof(p));
    p.is_apikey = true;
    if (id && id->type == JW_JSON_STRING)
        snprintf(p.sub, sizeof(p.sub), "%s", id->u.str);
    if (name && name->type == JW_JSON_STRING)
        snprintf(p.name, sizeof(p.name), "%s", name->u.str);
    for (size_t i = 0; perms && perms->type == JW_JSON_ARRAY && i < perms->len; i++)
        if (perms->u.items[i]->type == JW_JSON_STRING)
            p.perms |= jw_perm_from_name(perms->u.items[i]->u.str);
    memcpy(p.tenants[0], k->tenant, 37);
    p.ntenants = 1;
    jw_json_doc_free(doc);
    k->auth_cb(k->arg, NULL, &p);
    keyop_free(k);
}

void jw_apikeys_authenticate(struct jw_core *c, const char *key, jw_apikey_auth_cb cb, void *arg)
{
    struct keyop *k = keyop_new(c, "", NULL, arg);
    k->auth_cb = cb;
    size_t n = strlen(key);
    bool ok = n == KEY_LEN && key[35] == '_';
    for (size_t i = 3; ok && i < 35; i++)
        ok = isxdigit((unsigned char)key[i]) && !isupper((unsigned char)key[i]);
    if (!ok) {
        auth_fail(k, "invalid API key");
        return;
    }
    /* rebuild the tenant UUID from its 32 hex digits */
    const char *h = key + 3;
    snprintf(k->tenant, sizeof(k->tenant), "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
    char sha[65];
    jw_sha256_hex(key, n, sha);
    struct jw_args a = JW_ARGS_INIT;
    jw_args_adds(&a, sha);
    jw_store_eval(c->store, JW_LUA_APIKEY_AUTH, k->tenant, &a, on_auth, k);
}
