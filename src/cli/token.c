/* token: `jobwheel token`, a development JWT signed with the configured
 * HMAC key (also what `jobwheel ctl` signs for itself when given a config). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobwheel/auth.h"
#include "jobwheel/buf.h"
#include "jobwheel/cli.h"
#include "jobwheel/json.h"
#include "jobwheel/time.h"

extern char **environ;

#define EXIT_CONFIG 2
#define TOKEN_TTL_MAX (10L * 366 * 86400) /* --ttl, seconds */

char *jw_cli_token_sign(const struct jw_config *cfg, const struct jw_token_claims *c, char *err,
                        size_t errlen)
{
    struct jw_buf claims = JW_BUF_INIT;
    struct jw_jsonw w;
    jw_jsonw_init(&w, &claims);
    jw_jsonw_obj_open(&w);
    jw_jsonw_kstr(&w, "sub", c->sub);
    jw_jsonw_kstr(&w, "name", c->name);
    if (c->email && c->email[0])
        jw_jsonw_kstr(&w, "email", c->email);
    if (c->realm && c->realm[0])
        jw_jsonw_kstr(&w, "realm", c->realm);
    int64_t now = jw_time_now_ms() / 1000;
    jw_jsonw_kint(&w, "iat", now);
    jw_jsonw_kint(&w, "exp", now + c->ttl_s);
    if (cfg->jwt_issuer[0])
        jw_jsonw_kstr(&w, "iss", cfg->jwt_issuer);
    if (cfg->jwt_audience[0])
        jw_jsonw_kstr(&w, "aud", cfg->jwt_audience);
    const char *lists[][2] = {{"roles", c->roles}, {"permissions", c->permissions}, {"tenants", c->tenants}};
    for (int l = 0; l < 3; l++) {
        jw_jsonw_key(&w, lists[l][0]);
        jw_jsonw_arr_open(&w);
        const char *p = lists[l][1] ? lists[l][1] : "";
        while (*p) {
            size_t n = strcspn(p, ",");
            if (n)
                jw_jsonw_strn(&w, p, n);
            p += n;
            if (*p == ',')
                p++;
        }
        jw_jsonw_arr_close(&w);
    }
    jw_jsonw_obj_close(&w);
    char *tok = jw_jwt_sign_hmac(cfg->jwt_algorithm, cfg->jwt_secret, jw_buf_str(&claims), err, errlen);
    jw_buf_free(&claims);
    return tok;
}

int jw_cli_token_main(int argc, char **argv)
{
    struct jw_token_claims c = {"dev", JW_CLI_DEMO_TENANT, "admin", "", "Developer", "", "", 3600};
    char **rest = calloc((size_t)argc + 1, sizeof(char *));
    if (!rest)
        return 1;
    int nrest = 0;
    rest[nrest++] = argv[0];
    for (int i = 2; i < argc; i++) {
        const char **slot = NULL;
        if (!strcmp(argv[i], "--sub"))
            slot = &c.sub;
        else if (!strcmp(argv[i], "--tenant"))
            slot = &c.tenants;
        else if (!strcmp(argv[i], "--roles"))
            slot = &c.roles;
        else if (!strcmp(argv[i], "--permissions"))
            slot = &c.permissions;
        else if (!strcmp(argv[i], "--name"))
            slot = &c.name;
        else if (!strcmp(argv[i], "--email"))
            slot = &c.email;
        else if (!strcmp(argv[i], "--realm"))
            slot = &c.realm;
        if (slot && i + 1 < argc) {
            *slot = argv[++i];
        } else if (!strcmp(argv[i], "--ttl") && i + 1 < argc) {
            /* whole seconds, 1 s to 10 years: anything else is a mistake said so */
            const char *v = argv[++i];
            char *end;
            errno = 0;
            c.ttl_s = strtol(v, &end, 10);
            if (!*v || *end || errno || c.ttl_s < 1 || c.ttl_s > TOKEN_TTL_MAX) {
                fprintf(stderr, "jobwheel token: --ttl: a number of seconds from 1 to %ld, got \"%.40s\"\n",
                        (long)TOKEN_TTL_MAX, v);
                free(rest);
                return EXIT_CONFIG;
            }
        } else {
            rest[nrest++] = argv[i];
        }
    }
    struct jw_config cfg;
    char err[512];
    int rc = jw_config_load(&cfg, nrest, rest, environ, err, sizeof(err));
    free(rest);
    if (rc != 0) {
        jw_config_free(&cfg);
        if (rc < 0)
            fprintf(stderr, "jobwheel token: %s\n", err);
        return rc < 0 ? EXIT_CONFIG : 0;
    }
    char *tok = jw_cli_token_sign(&cfg, &c, err, sizeof(err));
    jw_config_free(&cfg);
    if (!tok) {
        fprintf(stderr, "jobwheel token: %s\n", err);
        return 1;
    }
    printf("%s\n", tok);
    free(tok);
    return 0;
}
