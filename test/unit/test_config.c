/* Unit tests for configuration loading (src/util/config.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "jobwheel/config.h"

#define SECRET32 "0123456789abcdef0123456789abcdef"
#define SECRET31 "0123456789abcdef0123456789abcde"
#define ENV_SECRET "JOBWHEEL_JWT_SECRET=" SECRET32

#define MAXV 32

/* Load with argv = "jobwheel" + args and envp = env (both NULL-terminated lists). */
static int load(struct jw_config *cfg, const char *const *args, const char *const *env, char *err,
                size_t errlen)
{
    char *argv[MAXV + 2];
    char *envp[MAXV + 1];
    int argc = 0;
    argv[argc++] = (char *)"jobwheel";
    for (size_t i = 0; args && args[i]; i++) {
        assert_true(argc <= MAXV);
        argv[argc++] = (char *)args[i];
    }
    argv[argc] = NULL;
    size_t ne = 0;
    for (size_t i = 0; env && env[i]; i++) {
        assert_true(ne < MAXV);
        envp[ne++] = (char *)env[i];
    }
    envp[ne] = NULL;
    err[0] = '\0';
    return jw_config_load(cfg, argc, argv, envp, err, errlen);
}

/* Expect success; the caller frees. */
static void load_ok(struct jw_config *cfg, const char *const *args, const char *const *env)
{
    char err[512];
    int rc = load(cfg, args, env, err, sizeof(err));
    if (rc != 0) {
        jw_config_free(cfg);
        fail_msg("jw_config_load returned %d: %s", rc, err);
    }
}

/* Expect -1 with an error mentioning every one of want1/want2 (NULL to skip). */
static void load_fails(const char *const *args, const char *const *env, const char *want1, const char *want2)
{
    struct jw_config cfg;
    char err[512];
    int rc = load(&cfg, args, env, err, sizeof(err));
    jw_config_free(&cfg);
    if (rc != -1)
        fail_msg("jw_config_load returned %d, want -1 (%s)", rc, want1 ? want1 : "");
    assert_true(err[0] != '\0');
    if (want1 && !strstr(err, want1))
        fail_msg("error \"%s\" does not name \"%s\"", err, want1);
    if (want2 && !strstr(err, want2))
        fail_msg("error \"%s\" does not name \"%s\"", err, want2);
}

/* A temporary file with the given content; returns its path (caller unlinks and frees). */
static char *temp_file(const char *content)
{
    char *path = strdup("/tmp/jobwheel_test_config_XXXXXX");
    assert_non_null(path);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(content);
    assert_int_equal(write(fd, content, n), (ssize_t)n);
    assert_int_equal(close(fd), 0);
    return path;
}

static void remove_file(char *path)
{
    unlink(path);
    free(path);
}

/* ---- defaults --------------------------------------------------------------- */

static void test_defaults(void **state)
{
    (void)state;
    struct jw_config cfg;
    const char *env[] = {ENV_SECRET, "HOME=/root", "PATH=/usr/bin", NULL};
    load_ok(&cfg, NULL, env);
    assert_null(cfg.config_file);
    assert_string_equal(cfg.listen, "127.0.0.1:8080");
    assert_string_equal(cfg.redis_url, "");
    assert_string_equal(cfg.redis_server, "redis-server");
    assert_string_equal(cfg.data_dir, "./var");
    assert_string_equal(cfg.instance_id, "");
    assert_string_equal(cfg.jwt_secret, SECRET32);
    assert_string_equal(cfg.jwt_secret_file, "");
    assert_string_equal(cfg.jwt_public_key_file, "");
    assert_string_equal(cfg.jwt_algorithm, "HS256"); /* from the key given */
    assert_string_equal(cfg.jwt_issuer, "");
    assert_string_equal(cfg.jwt_audience, "");
    assert_false(cfg.allow_private_targets);
    assert_false(cfg.code_execution);
    assert_true(cfg.file_operations);
    assert_int_equal(cfg.file_quota_bytes, 100 * 1024 * 1024);
    assert_int_equal(cfg.file_quota_entries, 10000);
    assert_string_equal(cfg.log_format, "text");
    assert_string_equal(cfg.log_level, "info");
    assert_string_equal(cfg.zoneinfo_dir, "/usr/share/zoneinfo");
    assert_int_equal(cfg.max_body_bytes, 1048576);
    assert_int_equal(cfg.max_header_bytes, 16384);
    assert_int_equal(cfg.max_connections, 4096);
    assert_int_equal(cfg.http_timeout_secs, 30);
    assert_int_equal(cfg.json_max_depth, 32);
    assert_int_equal(cfg.redis_timeout_ms, 2000);
    assert_int_equal(cfg.shutdown_timeout_secs, 10);
    assert_int_equal(cfg.max_response_bytes, 1048576);
    assert_int_equal(cfg.max_response_header_bytes, 65536);
    assert_int_equal(cfg.max_response_headers, 256);
    assert_int_equal(cfg.max_inflight_response_bytes, 268435456);
    assert_int_equal(cfg.max_inflight, 1024);
    assert_int_equal(cfg.max_inflight_per_tenant, 512); /* half of max_inflight */
    jw_config_free(&cfg);
    /* free resets the strings, so a second free is harmless */
    assert_null(cfg.listen);
    assert_null(cfg.jwt_secret);
    jw_config_free(&cfg);
}

/* ---- the JWT key ------------------------------------------------------------ */

static void test_secret_required(void **state)
{
    (void)state;
    load_fails(NULL, NULL, "jwt_secret", NULL);
    const char *env_empty[] = {"JOBWHEEL_JWT_SECRET=", NULL};
    load_fails(NULL, env_empty, "jwt_secret", NULL);
    const char *hs512[] = {"--jwt-algorithm", "HS512", NULL};
    load_fails(hs512, NULL, "jwt_secret", "HS512");
}

static void test_secret_length(void **state)
{
    (void)state;
    const char *env31[] = {"JOBWHEEL_JWT_SECRET=" SECRET31, NULL};
    load_fails(NULL, env31, "jwt_secret", "32");
    const char *flag31[] = {"--jwt-secret", SECRET31, NULL};
    load_fails(flag31, NULL, "jwt_secret", NULL);
    const char *flag1[] = {"--jwt-secret=x", NULL};
    load_fails(flag1, NULL, "jwt_secret", NULL);
    char *path = temp_file("jwt_secret = " SECRET31 "\n");
    const char *file31[] = {"--config", path, NULL};
    load_fails(file31, NULL, "jwt_secret", NULL);
    remove_file(path);

    struct jw_config cfg;
    const char *flag32[] = {"--jwt-secret", SECRET32, NULL};
    load_ok(&cfg, flag32, NULL);
    assert_string_equal(cfg.jwt_secret, SECRET32);
    jw_config_free(&cfg);
    const char *hs384[] = {"--jwt-secret", SECRET32 "more", "--jwt-algorithm", "HS384", NULL};
    load_ok(&cfg, hs384, NULL);
    assert_string_equal(cfg.jwt_algorithm, "HS384");
    jw_config_free(&cfg);
}

static void test_secret_file(void **state)
{
    (void)state;
    char *secret = temp_file(SECRET32 "XYZ\r\n\n");
    struct jw_config cfg;
    const char *args[] = {"--jwt-secret-file", secret, NULL};
    load_ok(&cfg, args, NULL);
    assert_string_equal(cfg.jwt_secret, SECRET32 "XYZ"); /* trailing newlines trimmed */
    assert_string_equal(cfg.jwt_secret_file, secret);
    assert_string_equal(cfg.jwt_algorithm, "HS256");
    jw_config_free(&cfg);

    /* from the environment as well */
    char envvar[256];
    snprintf(envvar, sizeof(envvar), "JOBWHEEL_JWT_SECRET_FILE=%s", secret);
    const char *env[] = {envvar, NULL};
    load_ok(&cfg, NULL, env);
    assert_string_equal(cfg.jwt_secret, SECRET32 "XYZ");
    jw_config_free(&cfg);
    remove_file(secret);

    /* a short key in the file is refused like a short jwt_secret */
    char *shortf = temp_file("tooshort\n");
    const char *args2[] = {"--jwt-secret-file", shortf, NULL};
    load_fails(args2, NULL, "jwt_secret", NULL);
    remove_file(shortf);

    /* an unreadable file is refused, naming the key and the file */
    const char *args3[] = {"--jwt-secret-file", "/nonexistent/jobwheel/secret", NULL};
    load_fails(args3, NULL, "jwt_secret_file", "/nonexistent/jobwheel/secret");
}

static void test_public_key_algorithms(void **state)
{
    (void)state;
    const char *rs[] = {"--jwt-algorithm", "RS256", NULL};
    load_fails(rs, NULL, "jwt_public_key_file", "RS256");
    const char *es[] = {"--jwt-algorithm=ES256", "--jwt-secret", SECRET32, NULL};
    load_fails(es, NULL, "jwt_public_key_file", "ES256");

    struct jw_config cfg;
    const char *rs_ok[] = {"--jwt-algorithm", "RS256", "--jwt-public-key-file", "/etc/jw/key.pem", NULL};
    load_ok(&cfg, rs_ok, NULL);
    assert_string_equal(cfg.jwt_algorithm, "RS256");
    assert_string_equal(cfg.jwt_public_key_file, "/etc/jw/key.pem");
    jw_config_free(&cfg);

    /* a public key without a secret picks RS256 */
    const char *pk_only[] = {"--jwt-public-key-file", "/etc/jw/key.pem", NULL};
    load_ok(&cfg, pk_only, NULL);
    assert_string_equal(cfg.jwt_algorithm, "RS256");
    jw_config_free(&cfg);

    /* unknown algorithms, "none" above all, are refused */
    const char *none[] = {"--jwt-algorithm", "none", "--jwt-secret", SECRET32, NULL};
    load_fails(none, NULL, "jwt_algorithm", NULL);
    const char *lower[] = {"--jwt-algorithm", "hs256", "--jwt-secret", SECRET32, NULL};
    load_fails(lower, NULL, "jwt_algorithm", NULL);
}

/* ---- the file ------------------------------------------------------------------- */

static void test_file_values(void **state)
{
    (void)state;
    char *path = temp_file("# a comment\n"
                           "; another comment\n"
                           "\n"
                           "   \t\n"
                           "listen = 0.0.0.0:9000\n"
                           "redis_url=\"redis://127.0.0.1:6379/2\"\n"
                           "data_dir = '/tmp/jw data'\n"
                           "jwt_secret = " SECRET32 "#not-a-comment=x\n"
                           "allow_private_targets = yes\n"
                           "code_execution=on\n"
                           "log_format = json\n"
                           "   log_level   =   debug   \n"
                           "max_body_bytes = 2048\n"
                           "json_max_depth = 10\n"
                           "jwt_issuer = \"\"\n"
                           "jwt_audience = \"it's\"\n"
                           "instance_id = 'node \"1\"'\n");
    struct jw_config cfg;
    const char *args[] = {"--config", path, NULL};
    load_ok(&cfg, args, NULL);
    assert_string_equal(cfg.config_file, path);
    assert_string_equal(cfg.listen, "0.0.0.0:9000");
    assert_string_equal(cfg.redis_url, "redis://127.0.0.1:6379/2");
    assert_string_equal(cfg.data_dir, "/tmp/jw data");
    assert_string_equal(cfg.jwt_secret, SECRET32 "#not-a-comment=x");
    assert_true(cfg.allow_private_targets);
    assert_true(cfg.code_execution);
    assert_string_equal(cfg.log_format, "json");
    assert_string_equal(cfg.log_level, "debug");
    assert_int_equal(cfg.max_body_bytes, 2048);
    assert_int_equal(cfg.json_max_depth, 10);
    assert_string_equal(cfg.jwt_issuer, "");
    assert_string_equal(cfg.jwt_audience, "it's");
    assert_string_equal(cfg.instance_id, "node \"1\"");
    /* untouched keys keep their defaults */
    assert_int_equal(cfg.max_connections, 4096);
    assert_string_equal(cfg.zoneinfo_dir, "/usr/share/zoneinfo");
    jw_config_free(&cfg);
    remove_file(path);
}

static void test_file_selection(void **state)
{
    (void)state;
    char *a = temp_file("listen = 127.0.0.1:1111\njwt_secret = " SECRET32 "\n");
    char *b = temp_file("listen = 127.0.0.1:2222\njwt_secret = " SECRET32 "\n");
    struct jw_config cfg;

    const char *eq[] = {NULL, NULL};
    char opt[300];
    snprintf(opt, sizeof(opt), "--config=%s", a);
    eq[0] = opt;
    load_ok(&cfg, eq, NULL);
    assert_string_equal(cfg.listen, "127.0.0.1:1111");
    assert_string_equal(cfg.config_file, a);
    jw_config_free(&cfg);

    char envvar[300];
    snprintf(envvar, sizeof(envvar), "JOBWHEEL_CONFIG=%s", b);
    const char *env[] = {envvar, NULL};
    load_ok(&cfg, NULL, env);
    assert_string_equal(cfg.listen, "127.0.0.1:2222");
    jw_config_free(&cfg);

    /* --config wins over JOBWHEEL_CONFIG, wherever it stands */
    const char *args[] = {"--log-level", "warn", "--config", a, NULL};
    load_ok(&cfg, args, env);
    assert_string_equal(cfg.listen, "127.0.0.1:1111");
    assert_string_equal(cfg.log_level, "warn");
    jw_config_free(&cfg);

    /* a missing file is an error naming it */
    const char *missing[] = {"--config", "/nonexistent/jobwheel.conf", NULL};
    load_fails(missing, NULL, "/nonexistent/jobwheel.conf", NULL);
    const char *dangling[] = {"--config", NULL};
    load_fails(dangling, NULL, "--config", NULL);
    remove_file(a);
    remove_file(b);
}

static void test_file_syntax_errors(void **state)
{
    (void)state;
    char *path = temp_file("# fine\nlisten = 127.0.0.1:1\nthis line has no equals sign\n");
    const char *args[] = {"--config", path, NULL};
    char where[300];
    snprintf(where, sizeof(where), "%s:3", path);
    load_fails(args, NULL, where, "key = value");
    remove_file(path);
}

/* A line longer than the reader's 4095-byte buffer used to be cut there and
 * its tail read as a line of its own, so a long value could set another key
 * (found by test/fuzz/fuzz_config.c: a long instance_id given as a flag was
 * not the same when written as a file line). Lines are read whole; a NUL
 * byte, after which the rest of a line used to be ignored, is refused. */
static void test_file_long_line(void **state)
{
    (void)state;
    /* "jwt_issuer = aaa…" filling the old buffer, then what was its tail */
    char cut[4200], text[4400];
    int n = snprintf(cut, sizeof(cut), "jwt_issuer = ");
    memset(cut + n, 'a', 4095 - (size_t)n);
    strcpy(cut + 4095, "code_execution = true");
    snprintf(text, sizeof(text), "jwt_secret = %s\n%s\nlog_level = warn\n", SECRET32, cut);
    char *path = temp_file(text);
    const char *args[] = {"--config", path, NULL};
    struct jw_config cfg;
    load_ok(&cfg, args, NULL);
    assert_false(cfg.code_execution);
    assert_int_equal(strlen(cfg.jwt_issuer), 4095 - 13 + 21);
    assert_string_equal(cfg.log_level, "warn");
    jw_config_free(&cfg);
    remove_file(path);

    /* the same text from memory reads the same */
    char err[512];
    char *argv[] = {(char *)"jobwheel", NULL};
    assert_int_equal(jw_config_load_text(&cfg, text, strlen(text), 1, argv, NULL, err, sizeof(err)), 0);
    assert_false(cfg.code_execution);
    assert_int_equal(strlen(cfg.jwt_issuer), 4095 - 13 + 21);
    jw_config_free(&cfg);

    static const char nul[] = "jwt_secret = " SECRET32 "\njwt_issuer = x\0code_execution = true\n";
    assert_int_equal(jw_config_load_text(&cfg, nul, sizeof(nul) - 1, 1, argv, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "(text):2"));
    assert_non_null(strstr(err, "NUL"));
    jw_config_free(&cfg);
}

/* ---- precedence: file < environment < flags -------------------------------------- */

static void test_precedence(void **state)
{
    (void)state;
    char *path = temp_file("listen = 127.0.0.1:1000\n"
                           "allow_private_targets = true\n"
                           "max_connections = 10\n"
                           "log_level = debug\n"
                           "jwt_secret = " SECRET32 "\n");
    struct jw_config cfg;
    const char *file_only[] = {"--config", path, NULL};
    load_ok(&cfg, file_only, NULL);
    assert_string_equal(cfg.listen, "127.0.0.1:1000");
    assert_true(cfg.allow_private_targets);
    assert_int_equal(cfg.max_connections, 10);
    jw_config_free(&cfg);

    const char *env[] = {"JOBWHEEL_LISTEN=127.0.0.1:2000", "JOBWHEEL_ALLOW_PRIVATE_TARGETS=false",
                         "JOBWHEEL_MAX_CONNECTIONS=20", NULL};
    load_ok(&cfg, file_only, env);
    assert_string_equal(cfg.listen, "127.0.0.1:2000");
    assert_false(cfg.allow_private_targets);
    assert_int_equal(cfg.max_connections, 20);
    assert_string_equal(cfg.log_level, "debug"); /* only in the file */
    jw_config_free(&cfg);

    const char *all[] = {
        "--config", path, "--listen", "127.0.0.1:3000", "--allow-private-targets", "--max-connections=30",
        NULL};
    load_ok(&cfg, all, env);
    assert_string_equal(cfg.listen, "127.0.0.1:3000");
    assert_true(cfg.allow_private_targets);
    assert_int_equal(cfg.max_connections, 30);
    assert_string_equal(cfg.log_level, "debug");
    jw_config_free(&cfg);

    /* flags placed before --config still win over the file */
    const char *before[] = {"--listen=127.0.0.1:4000", "--config", path, NULL};
    load_ok(&cfg, before, NULL);
    assert_string_equal(cfg.listen, "127.0.0.1:4000");
    jw_config_free(&cfg);

    /* the last flag of a key wins */
    const char *twice[] = {
        "--listen=127.0.0.1:5000", "--listen", "127.0.0.1:6000", "--jwt-secret", SECRET32, NULL};
    load_ok(&cfg, twice, NULL);
    assert_string_equal(cfg.listen, "127.0.0.1:6000");
    jw_config_free(&cfg);
    remove_file(path);
}

static void test_flag_forms(void **state)
{
    (void)state;
    struct jw_config cfg;
    const char *args[] = {"--jwt-secret",
                          SECRET32,
                          "--data-dir=/srv/jw",
                          "--code-execution", /* alone: true */
                          "--allow-private-targets",
                          "false",
                          "--redis-url",
                          "redis://localhost:6379/0",
                          "--json-max-depth",
                          "8",
                          "--redis-timeout-ms=500",
                          "--log-format=json",
                          NULL};
    load_ok(&cfg, args, NULL);
    assert_string_equal(cfg.jwt_secret, SECRET32);
    assert_string_equal(cfg.data_dir, "/srv/jw");
    assert_true(cfg.code_execution);
    assert_false(cfg.allow_private_targets);
    assert_string_equal(cfg.redis_url, "redis://localhost:6379/0");
    assert_int_equal(cfg.json_max_depth, 8);
    assert_int_equal(cfg.redis_timeout_ms, 500);
    assert_string_equal(cfg.log_format, "json");
    jw_config_free(&cfg);

    /* a boolean flag at the very end, and one followed by another flag */
    const char *bools[] = {"--jwt-secret", SECRET32, "--allow-private-targets", "--code-execution", NULL};
    load_ok(&cfg, bools, NULL);
    assert_true(cfg.allow_private_targets);
    assert_true(cfg.code_execution);
    jw_config_free(&cfg);

    /* boolean spellings */
    static const struct {
        const char *v;
        bool want;
    } spell[] = {{"true", true},   {"TRUE", true}, {"yes", true},  {"on", true}, {"1", true},
                 {"false", false}, {"No", false},  {"off", false}, {"0", false}};
    for (size_t i = 0; i < sizeof(spell) / sizeof(spell[0]); i++) {
        char flag[64], envv[64];
        snprintf(flag, sizeof(flag), "--code-execution=%s", spell[i].v);
        const char *f[] = {"--jwt-secret", SECRET32, flag, NULL};
        load_ok(&cfg, f, NULL);
        assert_int_equal(cfg.code_execution, spell[i].want);
        jw_config_free(&cfg);
        snprintf(envv, sizeof(envv), "JOBWHEEL_CODE_EXECUTION=%s", spell[i].v);
        const char *e[] = {ENV_SECRET, envv, NULL};
        load_ok(&cfg, NULL, e);
        assert_int_equal(cfg.code_execution, spell[i].want);
        jw_config_free(&cfg);
    }

    /* a value flag without its value, and a stray word */
    const char *noval[] = {"--jwt-secret", SECRET32, "--listen", NULL};
    load_fails(noval, NULL, "listen", NULL);
    const char *stray[] = {"--jwt-secret", SECRET32, "serve", NULL};
    load_fails(stray, NULL, "serve", NULL);
    const char *single_dash[] = {"--jwt-secret", SECRET32, "-listen", "x", NULL};
    load_fails(single_dash, NULL, "-listen", NULL);
}

/* ---- unknown keys and bad values --------------------------------------------------- */

static void test_unknown_keys(void **state)
{
    (void)state;
    char *path = temp_file("listen = 127.0.0.1:1\njwt_secret = " SECRET32 "\nbogus_key = 1\n");
    const char *args[] = {"--config", path, NULL};
    char where[300];
    snprintf(where, sizeof(where), "%s:3", path);
    load_fails(args, NULL, "bogus_key", where);
    remove_file(path);

    const char *flag[] = {"--jwt-secret", SECRET32, "--bogus-key", "1", NULL};
    load_fails(flag, NULL, "bogus-key", NULL);
    const char *flag_eq[] = {"--jwt-secret", SECRET32, "--bogus-key=1", NULL};
    load_fails(flag_eq, NULL, "bogus-key", NULL);
    /* keys are not case-insensitive in files, nor do flags take underscores of other keys */
    char *upper = temp_file("LISTEN = 127.0.0.1:1\n");
    const char *args2[] = {"--config", upper, "--jwt-secret", SECRET32, NULL};
    load_fails(args2, NULL, "LISTEN", NULL);
    remove_file(upper);

    /* variables outside the JOBWHEEL_ prefix are none of our business, and
     * JOBWHEEL_ names that are no setting belong to others (JOBWHEEL_BIN of
     * the test suite, say): both are ignored */
    struct jw_config cfg;
    const char *other[] = {
        ENV_SECRET, "JOBWHEELX=1", "LISTEN=bad", "jobwheel_listen=bad", "JOBWHEEL_BOGUS_KEY=1", NULL};
    load_ok(&cfg, NULL, other);
    assert_string_equal(cfg.listen, "127.0.0.1:8080");
    jw_config_free(&cfg);
}

static void test_bad_values(void **state)
{
    (void)state;
    static const struct {
        const char *key;
        const char *val;
    } bad[] = {
        {"max_connections", "abc"},
        {"max_connections", ""},
        {"max_connections", "0"},
        {"max_connections", "12x"},
        {"max_connections", "1.5"},
        {"max_body_bytes", "99999999999999999999999"},
        {"max_body_bytes", "1023"},
        {"json_max_depth", "61"},
        {"json_max_depth", "1"},
        {"http_timeout_secs", "-5"},
        {"http_timeout_secs", "3601"},
        {"shutdown_timeout_secs", " 5x"},
        {"allow_private_targets", "maybe"},
        {"allow_private_targets", ""},
        {"code_execution", "2"},
        {"code_execution", "enabled"},
        {"max_response_header_bytes", "1023"},
        {"max_response_header_bytes", "1048577"},
        {"max_response_header_bytes", "-1"},
        {"max_response_headers", "7"},
        {"max_response_headers", "100001"},
        {"max_inflight_response_bytes", "1048575"},
        {"max_inflight_response_bytes", "1099511627777"},
        {"max_inflight_response_bytes", "1e9"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *key = bad[i].key, *val = bad[i].val;
        /* as a flag */
        char flag[128], dashed[64];
        snprintf(dashed, sizeof(dashed), "%s", key);
        for (char *c = dashed; *c; c++)
            if (*c == '_')
                *c = '-';
        snprintf(flag, sizeof(flag), "--%s=%s", dashed, val);
        const char *args[] = {"--jwt-secret", SECRET32, flag, NULL};
        load_fails(args, NULL, key, NULL);
        /* in the environment */
        char envv[128], upper[64];
        snprintf(upper, sizeof(upper), "%s", key);
        for (char *c = upper; *c; c++)
            *c = (char)(*c - ('a' <= *c && *c <= 'z' ? 'a' - 'A' : 0));
        snprintf(envv, sizeof(envv), "JOBWHEEL_%s=%s", upper, val);
        const char *env[] = {ENV_SECRET, envv, NULL};
        load_fails(NULL, env, key, NULL);
        /* in the file */
        char content[256];
        snprintf(content, sizeof(content), "jwt_secret = %s\n%s = %s\n", SECRET32, key, val);
        char *path = temp_file(content);
        const char *fargs[] = {"--config", path, NULL};
        load_fails(fargs, NULL, key, NULL);
        remove_file(path);
    }
    /* integer bounds are inclusive */
    struct jw_config cfg;
    const char *edges[] = {"--jwt-secret",
                           SECRET32,
                           "--json-max-depth",
                           "60",
                           "--max-body-bytes",
                           "1024",
                           "--shutdown-timeout-secs",
                           "0",
                           NULL};
    load_ok(&cfg, edges, NULL);
    assert_int_equal(cfg.json_max_depth, 60);
    assert_int_equal(cfg.max_body_bytes, 1024);
    assert_int_equal(cfg.shutdown_timeout_secs, 0);
    jw_config_free(&cfg);
}

/* The budget for answers in flight must hold one whole answer. */
static void test_response_bounds(void **state)
{
    (void)state;
    const char *small[] = {"--jwt-secret", SECRET32, "--max-inflight-response-bytes", "1048576", NULL};
    load_fails(small, NULL, "max_inflight_response_bytes", "1114112"); /* 1 MiB + 64 KiB */
    const char *env[] = {ENV_SECRET, "JOBWHEEL_MAX_RESPONSE_BYTES=4194304",
                         "JOBWHEEL_MAX_INFLIGHT_RESPONSE_BYTES=4194304", NULL};
    load_fails(NULL, env, "max_inflight_response_bytes", "max_response_bytes");

    struct jw_config cfg;
    const char *edge[] = {"--jwt-secret",
                          SECRET32,
                          "--max-response-bytes",
                          "1024",
                          "--max-response-header-bytes",
                          "1024",
                          "--max-response-headers",
                          "8",
                          "--max-inflight-response-bytes",
                          "1048576",
                          NULL};
    load_ok(&cfg, edge, NULL);
    assert_int_equal(cfg.max_response_bytes, 1024);
    assert_int_equal(cfg.max_response_header_bytes, 1024);
    assert_int_equal(cfg.max_response_headers, 8);
    assert_int_equal(cfg.max_inflight_response_bytes, 1048576);
    jw_config_free(&cfg);
    const char *exact[] = {"--jwt-secret", SECRET32, "--max-inflight-response-bytes", "1114112", NULL};
    load_ok(&cfg, exact, NULL);
    assert_int_equal(cfg.max_inflight_response_bytes, 1114112);
    jw_config_free(&cfg);
    const char *wide[] = {"--jwt-secret",
                          SECRET32,
                          "--max-response-header-bytes",
                          "1048576",
                          "--max-response-headers",
                          "100000",
                          "--max-inflight-response-bytes",
                          "1099511627776",
                          NULL};
    load_ok(&cfg, wide, NULL);
    assert_int_equal(cfg.max_inflight_response_bytes, (int64_t)1 << 40);
    jw_config_free(&cfg);
}

static void test_other_validation(void **state)
{
    (void)state;
    const char *fmt[] = {"--jwt-secret", SECRET32, "--log-format", "xml", NULL};
    load_fails(fmt, NULL, "log_format", "xml");
    const char *lvl[] = {"--jwt-secret", SECRET32, "--log-level", "verbose", NULL};
    load_fails(lvl, NULL, "log_level", NULL);
    const char *redis[] = {"--jwt-secret", SECRET32, "--redis-url", "http://localhost:6379", NULL};
    load_fails(redis, NULL, "redis_url", NULL);
    const char *dd[] = {"--jwt-secret", SECRET32, "--data-dir=", NULL};
    load_fails(dd, NULL, "data_dir", NULL);
    const char *lst[] = {"--jwt-secret", SECRET32, "--listen", "nonsense", NULL};
    load_fails(lst, NULL, "listen", "nonsense");
    const char *port[] = {"--jwt-secret", SECRET32, "--listen", "127.0.0.1:70000", NULL};
    load_fails(port, NULL, "listen", NULL);
    /* an instance id is what the Redis scripts take: printable ASCII, 200 at most */
    const char *inst_ctl[] = {"--jwt-secret", SECRET32, "--instance-id", "node\r\n1", NULL};
    load_fails(inst_ctl, NULL, "instance_id", NULL);
    char long_id[202];
    memset(long_id, 'n', 201);
    long_id[201] = '\0';
    const char *inst_long[] = {"--jwt-secret", SECRET32, "--instance-id", long_id, NULL};
    load_fails(inst_long, NULL, "instance_id", NULL);
    const char *inst_utf8[] = {"--jwt-secret", SECRET32, "--instance-id", "n\xc3\xb6" "de", NULL};
    load_fails(inst_utf8, NULL, "instance_id", NULL);

    struct jw_config cfg;
    const char *ok[] = {"--jwt-secret",
                        SECRET32,
                        "--redis-url",
                        "unix:///run/redis.sock",
                        "--listen",
                        "unix:/run/jobwheel.sock",
                        NULL};
    load_ok(&cfg, ok, NULL);
    assert_string_equal(cfg.redis_url, "unix:///run/redis.sock");
    assert_string_equal(cfg.listen, "unix:/run/jobwheel.sock");
    jw_config_free(&cfg);
    const char *v6[] = {"--jwt-secret", SECRET32, "--listen", "[::1]:8080", NULL};
    load_ok(&cfg, v6, NULL);
    assert_string_equal(cfg.listen, "[::1]:8080");
    jw_config_free(&cfg);
}

/* A tenant's share of the attempt slots: half of max_inflight unless set,
 * never above max_inflight. */
static void test_max_inflight_per_tenant(void **state)
{
    (void)state;
    struct jw_config cfg;
    const char *twenty[] = {"--jwt-secret", SECRET32, "--max-inflight", "20", NULL};
    load_ok(&cfg, twenty, NULL);
    assert_int_equal(cfg.max_inflight_per_tenant, 10);
    jw_config_free(&cfg);
    const char *one[] = {"--jwt-secret", SECRET32, "--max-inflight", "1", NULL};
    load_ok(&cfg, one, NULL);
    assert_int_equal(cfg.max_inflight_per_tenant, 1);
    jw_config_free(&cfg);
    const char *three[] = {"--jwt-secret", SECRET32, "--max-inflight", "3", NULL};
    load_ok(&cfg, three, NULL);
    assert_int_equal(cfg.max_inflight_per_tenant, 1);
    jw_config_free(&cfg);
    const char *set[] = {"--jwt-secret", SECRET32, "--max-inflight=20", "--max-inflight-per-tenant=20", NULL};
    load_ok(&cfg, set, NULL);
    assert_int_equal(cfg.max_inflight_per_tenant, 20);
    jw_config_free(&cfg);
    const char *env[] = {ENV_SECRET, "JOBWHEEL_MAX_INFLIGHT_PER_TENANT=7", NULL};
    load_ok(&cfg, NULL, env);
    assert_int_equal(cfg.max_inflight_per_tenant, 7);
    jw_config_free(&cfg);
    const char *above[] = {"--jwt-secret", SECRET32, "--max-inflight=20", "--max-inflight-per-tenant=21",
                           NULL};
    load_fails(above, NULL, "max_inflight_per_tenant", "max_inflight (20)");
    const char *above_default[] = {"--jwt-secret", SECRET32, "--max-inflight-per-tenant", "1025", NULL};
    load_fails(above_default, NULL, "max_inflight_per_tenant", "1025");
    const char *neg[] = {"--jwt-secret", SECRET32, "--max-inflight-per-tenant", "-1", NULL};
    load_fails(neg, NULL, "max_inflight_per_tenant", "-1");
    const char *word[] = {"--jwt-secret", SECRET32, "--max-inflight-per-tenant", "half", NULL};
    load_fails(word, NULL, "max_inflight_per_tenant", "half");
    const char *huge[] = {"--jwt-secret", SECRET32, "--max-inflight-per-tenant=99999999999999999999", NULL};
    load_fails(huge, NULL, "max_inflight_per_tenant", NULL);
}

/* Run load() with stdout captured into out (NUL-terminated). */
static int load_capturing_stdout(struct jw_config *cfg, const char *const *args, char *out, size_t outlen)
{
    char path[] = "/tmp/jobwheel_test_stdout_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fd, STDOUT_FILENO) >= 0);
    char err[256];
    int rc = load(cfg, args, NULL, err, sizeof(err));
    fflush(stdout);
    assert_true(dup2(saved, STDOUT_FILENO) >= 0);
    close(saved);
    ssize_t n = pread(fd, out, outlen - 1, 0);
    assert_true(n >= 0);
    out[n] = '\0';
    close(fd);
    unlink(path);
    return rc;
}

static void test_help_and_version(void **state)
{
    (void)state;
    struct jw_config cfg;
    static char out[16384];
    const char *help[] = {"--help", NULL};
    assert_int_equal(load_capturing_stdout(&cfg, help, out, sizeof(out)), 1);
    jw_config_free(&cfg);
    /* the usage lists every setting as a dashed flag */
    static const char *const flags[] = {
        "--config",         "--listen",          "--redis-url",           "--data-dir",
        "--jwt-secret",     "--jwt-secret-file", "--jwt-public-key-file", "--allow-private-targets",
        "--code-execution", "--log-format",      "--json-max-depth"};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        if (!strstr(out, flags[i]))
            fail_msg("--help does not mention %s", flags[i]);
    assert_null(strstr(out, "--jwt_secret"));

    const char *h[] = {"-h", NULL};
    assert_int_equal(load_capturing_stdout(&cfg, h, out, sizeof(out)), 1);
    jw_config_free(&cfg);
    assert_non_null(strstr(out, "usage"));
    /* --help answers even when the rest would be an error */
    const char *late[] = {"--bogus", "--help", NULL};
    assert_int_equal(load_capturing_stdout(&cfg, late, out, sizeof(out)), 1);
    jw_config_free(&cfg);
    const char *ver[] = {"--version", NULL};
    assert_int_equal(load_capturing_stdout(&cfg, ver, out, sizeof(out)), 1);
    jw_config_free(&cfg);
    assert_non_null(strstr(out, "jobwheel"));
}

/* A long HMAC key in jwt_secret_file must be used whole (or refused), never
 * silently cut: tokens signed with the full key would all fail. */
static void test_secret_file_long_key(void **state)
{
    (void)state;
    char key[1501];
    for (int i = 0; i < 1500; i++)
        key[i] = (char)('a' + i % 26);
    key[1500] = '\0';
    char *path = temp_file(key);
    const char *args[] = {"--jwt-secret-file", path, NULL};
    struct jw_config cfg;
    char err[512];
    int rc = load(&cfg, args, NULL, err, sizeof(err));
    if (rc == 0) {
        size_t got = strlen(cfg.jwt_secret);
        int same = strcmp(cfg.jwt_secret, key) == 0;
        jw_config_free(&cfg);
        remove_file(path);
        if (!same)
            fail_msg("jwt_secret_file with a 1500-byte key loaded %zu bytes of it", got);
    } else {
        jw_config_free(&cfg);
        remove_file(path);
        assert_non_null(strstr(err, "jwt_secret"));
    }
}

/* ---- listen addresses ----------------------------------------------------------------- */

static void test_split_listen(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *host;
        int port;
        const char *path;
    } good[] = {
        {"127.0.0.1:8080", "127.0.0.1", 8080, ""},
        {"0.0.0.0:1", "0.0.0.0", 1, ""},
        {"localhost:65535", "localhost", 65535, ""},
        {"[::1]:8080", "::1", 8080, ""},
        {"[::]:443", "::", 443, ""},
        {"[fe80::1:2]:9", "fe80::1:2", 9, ""},
        {"unix:/tmp/jw.sock", "", 0, "/tmp/jw.sock"},
        {"unix:/run/jobwheel/api.sock", "", 0, "/run/jobwheel/api.sock"},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char host[64], path[128];
        int port = -1;
        memset(host, 'X', sizeof(host));
        memset(path, 'X', sizeof(path));
        if (jw_config_split_listen(good[i].in, host, sizeof(host), &port, path, sizeof(path)) != 0)
            fail_msg("split_listen(\"%s\") refused", good[i].in);
        assert_string_equal(host, good[i].host);
        assert_int_equal(port, good[i].port);
        assert_string_equal(path, good[i].path);
    }
    static const char *const bad[] = {
        "",
        "127.0.0.1",
        "127.0.0.1:",
        ":8080",
        "127.0.0.1:65536",
        "127.0.0.1:-1",
        "127.0.0.1:80x",
        "127.0.0.1:x80",
        "localhost:http",
        "[::1]",
        "[::1:8080",
        "[]:80",
        "[::1]x:80",
        "unix:",
        "unix:relative/path.sock",
        "host:99999999999999999999",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char host[64], path[128];
        int port = -1;
        if (jw_config_split_listen(bad[i], host, sizeof(host), &port, path, sizeof(path)) == 0)
            fail_msg("split_listen(\"%s\") accepted (host \"%s\", port %d)", bad[i], host, port);
    }
    /* too long for the caller's buffers */
    char host[8], path[8];
    int port;
    assert_int_equal(
        jw_config_split_listen("averylonghostname:80", host, sizeof(host), &port, path, sizeof(path)), -1);
    assert_int_equal(
        jw_config_split_listen("unix:/a/long/path", host, sizeof(host), &port, path, sizeof(path)), -1);
    /* unix socket paths beyond sun_path (108 bytes) are refused */
    char longpath[200] = "unix:/";
    memset(longpath + 6, 'p', 150);
    longpath[156] = '\0';
    char bighost[256], bigpath[256];
    assert_int_equal(
        jw_config_split_listen(longpath, bighost, sizeof(bighost), &port, bigpath, sizeof(bigpath)), -1);
}

/* Relative paths in a file name places next to the file, wherever the
 * process was started; from the environment or a flag they stay as given. */
static void test_paths_relative_to_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/jobwheel_test_config_dir_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char real[PATH_MAX];
    assert_non_null(realpath(dir, real));
    char conf[PATH_MAX + 32], secret[PATH_MAX + 32], want[PATH_MAX + 64];
    snprintf(secret, sizeof(secret), "%s/jwt.secret", dir);
    FILE *f = fopen(secret, "w");
    assert_non_null(f);
    fputs(SECRET32 "\n", f);
    fclose(f);
    snprintf(conf, sizeof(conf), "%s/jobwheel.conf", dir);
    f = fopen(conf, "w");
    assert_non_null(f);
    fputs("data_dir = ./var\njwt_secret_file = jwt.secret\nfile_root = ../files\n"
          "redis_server = redis-server\nzoneinfo_dir = /usr/share/zoneinfo\n",
          f);
    fclose(f);

    /* a relative --config is found from the working directory, its paths from its own */
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir("/tmp"), 0);
    const char *args[] = {"--config", conf + strlen("/tmp/"), NULL};
    struct jw_config cfg;
    load_ok(&cfg, args, NULL);
    snprintf(want, sizeof(want), "%s/var", real);
    assert_string_equal(cfg.data_dir, want);
    snprintf(want, sizeof(want), "%s/jwt.secret", real);
    assert_string_equal(cfg.jwt_secret_file, want);
    assert_string_equal(cfg.jwt_secret, SECRET32);
    snprintf(want, sizeof(want), "%s/../files", real);
    assert_string_equal(cfg.file_root, want);
    assert_string_equal(cfg.redis_server, "redis-server");
    assert_string_equal(cfg.zoneinfo_dir, "/usr/share/zoneinfo");
    jw_config_free(&cfg);

    const char *env[] = {"JOBWHEEL_DATA_DIR=./here", NULL};
    const char *flags[] = {"--config", conf, "--file-root", "there", NULL};
    load_ok(&cfg, flags, env);
    assert_string_equal(cfg.data_dir, "./here");
    assert_string_equal(cfg.file_root, "there");
    jw_config_free(&cfg);

    assert_int_equal(chdir(cwd), 0);
    unlink(secret);
    unlink(conf);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_secret_required),
        cmocka_unit_test(test_secret_length),
        cmocka_unit_test(test_secret_file),
        cmocka_unit_test(test_public_key_algorithms),
        cmocka_unit_test(test_file_values),
        cmocka_unit_test(test_file_selection),
        cmocka_unit_test(test_file_syntax_errors),
        cmocka_unit_test(test_file_long_line),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_flag_forms),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_other_validation),
        cmocka_unit_test(test_response_bounds),
        cmocka_unit_test(test_max_inflight_per_tenant),
        cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_secret_file_long_key),
        cmocka_unit_test(test_split_listen),
        cmocka_unit_test(test_paths_relative_to_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
