/* fuzz_config: libFuzzer target for the configuration parser (util/config.c):
 * the conf file's `key = value` syntax (through jw_config_load_text, which
 * reads text exactly as a file), JOBWHEEL_<KEY> environment variables and
 * --key value flags, and the validation of every value.
 *
 * The input is the file's text, then optionally a NUL byte and one line per
 * environment variable (a line starting JOBWHEEL_) or argument (any other
 * line). Inputs that would read another file (jwt_secret_file) or print
 * help are skipped.
 * Beyond "does not crash or leak", it checks:
 * - a refusal carries a message; an accepted listen address splits;
 * - whatever configuration is accepted is the same when each of its
 *   settings is given instead as a file line `key = "value"`, as an
 *   environment variable or as a flag --key=value: the three syntaxes can
 *   say the same thing (any value without a line break fits a file line). */
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jobwheel/buf.h"
#include "jobwheel/config.h"

#define MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The settings of util/config.c's table, as struct jw_config holds them. */
enum kind { STR, BOOL, INT };
static const struct {
    const char *name;
    enum kind kind;
    size_t off;
} settings[] = {
#define S(f)                                                                                                 \
    {                                                                                                        \
#f, STR, offsetof(struct jw_config, f)                                                               \
    }
#define B(f)                                                                                                 \
    {                                                                                                        \
#f, BOOL, offsetof(struct jw_config, f)                                                              \
    }
#define I(f)                                                                                                 \
    {                                                                                                        \
#f, INT, offsetof(struct jw_config, f)                                                               \
    }
    S(listen),
    S(redis_url),
    S(redis_server),
    S(data_dir),
    S(instance_id),
    S(jwt_secret),
    S(jwt_public_key_file),
    S(jwt_algorithm),
    S(jwt_issuer),
    S(jwt_audience),
    B(allow_private_targets),
    B(code_execution),
    S(smtp_relay),
    S(smtp_from),
    S(file_root),
    S(log_format),
    S(log_level),
    S(zoneinfo_dir),
    I(max_body_bytes),
    I(max_header_bytes),
    I(max_connections),
    I(http_timeout_secs),
    I(json_max_depth),
    I(redis_timeout_ms),
    I(shutdown_timeout_secs),
    I(schedule_shards),
    I(schedule_window_ms),
    I(schedule_poll_ms),
    I(schedule_lease_ms),
    I(misfire_threshold_secs),
    I(run_retention_days),
    I(run_lease_ms),
    I(max_response_bytes),
    I(max_inflight),
    S(tls_ca_file),
#undef S
#undef B
#undef I
};
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz_config: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

static const char *str_of(const struct jw_config *c, size_t i)
{
    return *(char *const *)((const char *)c + settings[i].off);
}

/* The setting's value as text, into b. */
static void value_of(const struct jw_config *c, size_t i, struct jw_buf *b)
{
    const char *base = (const char *)c;
    switch (settings[i].kind) {
    case STR: jw_buf_puts(b, str_of(c, i)); break;
    case BOOL: jw_buf_puts(b, *(const bool *)(base + settings[i].off) ? "true" : "false"); break;
    case INT: jw_buf_puti(b, *(const int64_t *)(base + settings[i].off)); break;
    }
}

/* The name of the first setting on which a and b differ, or NULL. */
static const char *differs(const struct jw_config *a, const struct jw_config *b)
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        const char *x = (const char *)a + settings[i].off, *y = (const char *)b + settings[i].off;
        bool same = settings[i].kind == STR    ? !strcmp(str_of(a, i), str_of(b, i))
                    : settings[i].kind == BOOL ? *(const bool *)x == *(const bool *)y
                                               : *(const int64_t *)x == *(const int64_t *)y;
        if (!same)
            return settings[i].name;
    }
    return NULL;
}

/* Load text + argv + envp; 0 or -1 with err. */
static int load(struct jw_config *c, const char *text, size_t len, char **args, int nargs, char **env,
                char *err, size_t errlen)
{
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = (char *)"jobwheel";
    for (int i = 0; i < nargs; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    err[0] = '\0';
    int rc = jw_config_load_text(c, text, len, argc, argv, env, err, errlen);
    if (rc == 1)
        die("answered --help or --version");
    if (rc != 0 && !err[0])
        die("refused without a message");
    return rc;
}

/* The configuration given again in each syntax must come out the same. */
static void check_syntaxes(const struct jw_config *cfg)
{
    struct jw_buf file = JW_BUF_INIT, v = JW_BUF_INIT;
    char *args[NSETTINGS], *env[NSETTINGS + 1];
    bool one_line = true; /* every value fits a file line */
    for (size_t i = 0; i < NSETTINGS; i++) {
        jw_buf_reset(&v);
        value_of(cfg, i, &v);
        const char *s = jw_buf_str(&v);
        if (strpbrk(s, "\n\r"))
            one_line = false;
        jw_buf_printf(&file, "%s = \"%s\"\n", settings[i].name, s);
        struct jw_buf a = JW_BUF_INIT, e = JW_BUF_INIT;
        jw_buf_printf(&a, "--%s=%s", settings[i].name, s);
        for (char *c = a.data + 2; *c != '='; c++)
            if (*c == '_')
                *c = '-';
        jw_buf_puts(&e, "JOBWHEEL_");
        for (const char *c = settings[i].name; *c; c++)
            jw_buf_putc(&e, (char)toupper((unsigned char)*c));
        jw_buf_printf(&e, "=%s", s);
        args[i] = jw_buf_detach(&a);
        env[i] = jw_buf_detach(&e);
    }
    env[NSETTINGS] = NULL;
    char err[512];
    struct jw_config c;
    const char *d;

    if (load(&c, "", 0, args, NSETTINGS, NULL, err, sizeof(err)) != 0)
        die("the same settings as flags are refused: %s", err);
    if ((d = differs(cfg, &c)))
        die("%s differs when given as a flag", d);
    jw_config_free(&c);

    if (load(&c, "", 0, NULL, 0, env, err, sizeof(err)) != 0)
        die("the same settings as environment variables are refused: %s", err);
    if ((d = differs(cfg, &c)))
        die("%s differs when given in the environment", d);
    jw_config_free(&c);

    if (one_line) {
        if (load(&c, file.data, file.len, NULL, 0, NULL, err, sizeof(err)) != 0)
            die("the same settings as a file are refused: %s\n%s", err, file.data);
        if ((d = differs(cfg, &c)))
            die("%s differs when given in a file:\n%s", d, file.data);
        jw_config_free(&c);
    }
    for (size_t i = 0; i < NSETTINGS; i++) {
        free(args[i]);
        free(env[i]);
    }
    jw_buf_free(&file);
    jw_buf_free(&v);
}

/* Settings that read another file or print help are not for fuzzing. */
static bool skipped(const char *s, size_t n)
{
    for (size_t i = 0; i + 11 <= n; i++)
        if (!strncasecmp(s + i, "secret", 6) && (s[i + 6] == '_' || s[i + 6] == '-') &&
            !strncasecmp(s + i + 7, "file", 4))
            return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (skipped((const char *)data, size))
        return 0;
    char *copy = malloc(size + 1);
    memcpy(copy, data, size);
    copy[size] = '\0';
    const char *nul = memchr(copy, '\0', size);
    size_t tlen = nul ? (size_t)(nul - copy) : size;
    char *args[MAX_ARGS], *env[MAX_ARGS + 1];
    int nargs = 0, nenv = 0;
    for (char *line = nul ? copy + tlen + 1 : NULL; line && *line && nargs < MAX_ARGS && nenv < MAX_ARGS;) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        if (!strcmp(line, "--help") || !strcmp(line, "-h") || !strcmp(line, "--version")) {
            free(copy);
            return 0;
        }
        if (!strncmp(line, "JOBWHEEL_", 9))
            env[nenv++] = line;
        else
            args[nargs++] = line;
        line = end ? end + 1 : NULL;
    }
    env[nenv] = NULL;

    struct jw_config cfg;
    char err[512];
    if (load(&cfg, copy, tlen, args, nargs, env, err, sizeof(err)) == 0) {
        char host[256], path[256];
        int port;
        if (jw_config_split_listen(cfg.listen, host, sizeof(host), &port, path, sizeof(path)) != 0)
            die("listen \"%s\" was accepted but does not split", cfg.listen);
        check_syntaxes(&cfg);
    }
    jw_config_free(&cfg);
    free(copy);
    return 0;
}
