/* Unit tests for FileOperation jobs (src/exec/file_op.c): every operation
 * on a fresh temporary tree, every way out of the tenant's directory —
 * symlinks to a directory outside it, to /etc and to a file outside it (as
 * an intermediate directory and as the last component), a dangling
 * symlink, "..", ".", empty components and absolute paths — another
 * tenant's directory (by its id in a path, by a symlink, as the tenant
 * directory itself), tenant ids that are not one, and the quota. */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "jobwheel/buf.h"
#include "jobwheel/file_op.h"
#include "jobwheel/fs.h"
#include "jobwheel/json.h"

/* The tree each test starts from, root being TENANT's directory under the
 * file root base/files:
 *   base/outside/secret.txt      "secret"        (outside the file root)
 *   base/files/TENANT/in/a.txt           "hello"
 *   base/files/TENANT/out      -> base/outside   (absolute link to a dir)
 *   base/files/TENANT/up       -> ../../outside  (relative link to a dir)
 *   base/files/TENANT/etc      -> /etc
 *   base/files/TENANT/link.txt -> base/outside/secret.txt
 *   base/files/TENANT/dangling -> base/outside/created-through-link.txt (absent)
 *   base/files/TENANT/in/deep  -> base/outside   (a link one level down)
 * The quota is as large as it gets unless a test sets it. */
#define TENANT "0190f3a1-7c2e-7d4b-9a10-3f5e8c2b1d0e"
#define OTHER "0190f3a1-7c2e-7d4b-9a10-3f5e8c2b1d0f"

struct fx {
    char base[64];
    char top[128];  /* the file root */
    char root[200]; /* TENANT's directory */
    char outside[128];
    const char *tenant; /* whose operations run_cfg runs (TENANT) */
    int64_t max_bytes, max_entries;
};

static void path_of(char *buf, size_t len, const char *dir, const char *rel)
{
    snprintf(buf, len, "%s/%s", dir, rel);
}

static void put_file(const char *dir, const char *rel, const char *content)
{
    char p[PATH_MAX];
    path_of(p, sizeof(p), dir, rel);
    FILE *fp = fopen(p, "w");
    if (!fp)
        fail_msg("cannot create %s", p);
    fputs(content, fp);
    fclose(fp);
}

/* The file's content, or NULL when it cannot be read (caller frees). */
static char *get_file(const char *dir, const char *rel)
{
    char p[PATH_MAX];
    path_of(p, sizeof(p), dir, rel);
    return jw_read_file(p, SIZE_MAX, NULL);
}

static void expect_content(const char *dir, const char *rel, const char *want)
{
    char *got = get_file(dir, rel);
    if (!got)
        fail_msg("%s/%s does not exist, want \"%s\"", dir, rel, want);
    if (strcmp(got, want) != 0) {
        char g[80];
        snprintf(g, sizeof(g), "%s", got);
        free(got);
        fail_msg("%s/%s holds \"%s\", want \"%s\"", dir, rel, g, want);
    }
    free(got);
}

/* Does rel exist under dir (lstat: a link counts as itself)? */
static bool exists(const char *dir, const char *rel)
{
    char p[PATH_MAX];
    struct stat st;
    path_of(p, sizeof(p), dir, rel);
    return lstat(p, &st) == 0;
}

static void make_link(const struct fx *fx, const char *target, const char *rel)
{
    char p[PATH_MAX];
    path_of(p, sizeof(p), fx->root, rel);
    if (symlink(target, p) != 0)
        fail_msg("symlink %s -> %s failed", p, target);
}

static void make_dir(const char *dir, const char *rel)
{
    char p[PATH_MAX];
    path_of(p, sizeof(p), dir, rel);
    if (mkdir(p, 0755) != 0)
        fail_msg("mkdir %s failed", p);
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    char p[PATH_MAX];
    snprintf(fx->base, sizeof(fx->base), "/tmp/jw-file-op-XXXXXX");
    if (!mkdtemp(fx->base))
        return -1;
    path_of(fx->top, sizeof(fx->top), fx->base, "files");
    path_of(fx->root, sizeof(fx->root), fx->top, TENANT);
    path_of(fx->outside, sizeof(fx->outside), fx->base, "outside");
    fx->tenant = TENANT;
    fx->max_bytes = INT64_MAX;
    fx->max_entries = INT64_MAX;
    make_dir(fx->base, "files");
    make_dir(fx->top, TENANT);
    make_dir(fx->base, "outside");
    make_dir(fx->root, "in");
    put_file(fx->outside, "secret.txt", "secret");
    put_file(fx->root, "in/a.txt", "hello");
    make_link(fx, fx->outside, "out");
    make_link(fx, "../../outside", "up");
    make_link(fx, "/etc", "etc");
    path_of(p, sizeof(p), fx->outside, "secret.txt");
    make_link(fx, p, "link.txt");
    path_of(p, sizeof(p), fx->outside, "created-through-link.txt");
    make_link(fx, p, "dangling");
    make_link(fx, fx->outside, "in/deep");
    *state = fx;
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    int rc = nftw(fx->base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return rc;
}

/* Run the configuration printf(fmt) as fx->tenant's. */
static int run_cfg(const struct fx *fx, struct jw_buf *out, char *err, size_t errlen, const char *fmt,
                   va_list ap) __attribute__((format(printf, 5, 0)));
static int run_cfg(const struct fx *fx, struct jw_buf *out, char *err, size_t errlen, const char *fmt,
                   va_list ap)
{
    struct jw_buf text = JW_BUF_INIT;
    char perr[256];
    jw_buf_vprintf(&text, fmt, ap);
    struct jw_json_doc *doc = jw_json_parse(text.data, text.len, 32, perr, sizeof(perr));
    if (!doc)
        fail_msg("test JSON does not parse (%s): %s", perr, text.data);
    jw_buf_free(&text);
    struct jw_file_op_scope scope = {fx->top, fx->tenant, fx->max_bytes, fx->max_entries};
    int rc = jw_file_op_run(&scope, jw_json_root(doc), out, err, errlen);
    jw_json_doc_free(doc);
    return rc;
}

/* Succeeds; the result is returned (caller frees). */
static char *ok_result_v(const struct fx *fx, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static char *ok_result_v(const struct fx *fx, const char *fmt, va_list ap)
{
    struct jw_buf out = JW_BUF_INIT;
    char err[512];
    if (run_cfg(fx, &out, err, sizeof(err), fmt, ap) != 0)
        fail_msg("refused (%s): %s", err, fmt);
    return jw_buf_detach(&out);
}

static char *ok_result(const struct fx *fx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *ok_result(const struct fx *fx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *r = ok_result_v(fx, fmt, ap);
    va_end(ap);
    return r;
}

/* Succeeds with exactly this result. */
static void expect_ok(const struct fx *fx, const char *want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void expect_ok(const struct fx *fx, const char *want, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *got = ok_result_v(fx, fmt, ap);
    va_end(ap);
    if (strcmp(got, want) != 0)
        fail_msg("result %s, want %s", got, want);
    free(got);
}

/* Fails with a message containing want, that does not give away where the
 * root is, and writes nothing to out. */
static void expect_err(const struct fx *fx, const char *want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void expect_err(const struct fx *fx, const char *want, const char *fmt, ...)
{
    struct jw_buf out = JW_BUF_INIT;
    char err[512] = "";
    va_list ap;
    va_start(ap, fmt);
    int rc = run_cfg(fx, &out, err, sizeof(err), fmt, ap);
    va_end(ap);
    if (rc != -1)
        fail_msg("accepted (result %s), want an error with \"%s\": %s", jw_buf_str(&out), want, fmt);
    if (out.len != 0)
        fail_msg("failed but wrote %s", jw_buf_str(&out));
    if (!strstr(err, want))
        fail_msg("error \"%s\", want one with \"%s\"", err, want);
    if (strstr(err, fx->base) || strchr(err, '\n'))
        fail_msg("error \"%s\" names the root or spans lines", err);
    jw_buf_free(&out);
}

static void expect_outside_untouched(const struct fx *fx)
{
    expect_content(fx->outside, "secret.txt", "secret");
    DIR *d = opendir(fx->outside);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    closedir(d);
    if (n != 1)
        fail_msg("%d entries outside the root, want only secret.txt", n);
}

static int count_entries(const char *dir, const char *rel)
{
    char p[PATH_MAX];
    path_of(p, sizeof(p), dir, rel);
    DIR *d = opendir(p);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    closedir(d);
    return n;
}

/* ---- the operations ---------------------------------------------------- */

static void test_write(void **state)
{
    const struct fx *fx = *state;
    mode_t old = umask(077); /* the mode is 0644 whatever the umask */
    expect_ok(fx, "{\"operation\":\"write\",\"path\":\"in/b.txt\",\"bytes\":5}",
              "{\"operation\":\"write\",\"path\":\"in/b.txt\",\"content\":\"world\"}");
    umask(old);
    expect_content(fx->root, "in/b.txt", "world");
    char p[PATH_MAX];
    struct stat st;
    path_of(p, sizeof(p), fx->root, "in/b.txt");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);

    /* replacing leaves no temporary file behind */
    expect_ok(fx, "{\"operation\":\"write\",\"path\":\"in/b.txt\",\"bytes\":12}",
              "{\"operation\":\"write\",\"path\":\"in/b.txt\",\"content\":\"line\\nline\\n\\u00e9\"}");
    expect_content(fx->root, "in/b.txt", "line\nline\n\xc3\xa9");
    assert_int_equal(count_entries(fx->root, "in"), 3); /* a.txt, b.txt, deep */
    expect_ok(fx, "{\"operation\":\"write\",\"path\":\"empty\",\"bytes\":0}",
              "{\"operation\":\"write\",\"path\":\"empty\",\"content\":\"\"}");
    expect_content(fx->root, "empty", "");

    /* parents: must exist, unless recursive */
    expect_err(fx, "no such directory: x",
               "{\"operation\":\"write\",\"path\":\"x/y/z.txt\",\"content\":\"1\"}");
    assert_false(exists(fx->root, "x"));
    expect_err(fx, "no such directory: in/x",
               "{\"operation\":\"write\",\"path\":\"in/x/z.txt\",\"content\":\"1\"}");
    expect_ok(fx, "{\"operation\":\"write\",\"path\":\"x/y/z.txt\",\"bytes\":1}",
              "{\"operation\":\"write\",\"path\":\"x/y/z.txt\",\"content\":\"1\",\"recursive\":true}");
    expect_content(fx->root, "x/y/z.txt", "1");

    /* not over a directory, nor through a file */
    expect_err(fx, "in is a directory", "{\"operation\":\"write\",\"path\":\"in\",\"content\":\"1\"}");
    expect_err(fx, "in/a.txt is not a directory",
               "{\"operation\":\"write\",\"path\":\"in/a.txt/b\",\"content\":\"1\"}");
    expect_content(fx->root, "in/a.txt", "hello");
}

static void test_copy(void **state)
{
    const struct fx *fx = *state;
    expect_ok(fx, "{\"operation\":\"copy\",\"path\":\"in/a.txt\",\"to\":\"in/c.txt\",\"bytes\":5}",
              "{\"operation\":\"copy\",\"path\":\"in/a.txt\",\"to\":\"in/c.txt\"}");
    expect_content(fx->root, "in/a.txt", "hello");
    expect_content(fx->root, "in/c.txt", "hello");

    /* more than one chunk, over an existing file */
    struct jw_buf big = JW_BUF_INIT;
    for (int i = 0; i < 30000; i++)
        jw_buf_printf(&big, "%07d\n", i);
    put_file(fx->root, "big", big.data);
    char want[160];
    snprintf(want, sizeof(want),
             "{\"operation\":\"copy\",\"path\":\"big\",\"to\":\"in/c.txt\",\"bytes\":%zu}", big.len);
    expect_ok(fx, want, "{\"operation\":\"copy\",\"path\":\"big\",\"to\":\"in/c.txt\"}");
    expect_content(fx->root, "in/c.txt", big.data);
    jw_buf_free(&big);

    expect_err(fx, "no such file: in/missing.txt",
               "{\"operation\":\"copy\",\"path\":\"in/missing.txt\",\"to\":\"in/d.txt\"}");
    expect_err(fx, "no such directory: nope",
               "{\"operation\":\"copy\",\"path\":\"nope/a.txt\",\"to\":\"in/d.txt\"}");
    expect_err(fx, "in is a directory: only regular files are copied",
               "{\"operation\":\"copy\",\"path\":\"in\",\"to\":\"in2\"}");
    expect_err(fx, "no such directory: new",
               "{\"operation\":\"copy\",\"path\":\"in/a.txt\",\"to\":\"new/d/a.txt\"}");
    assert_false(exists(fx->root, "new"));
    expect_ok(fx, "{\"operation\":\"copy\",\"path\":\"in/a.txt\",\"to\":\"new/d/a.txt\",\"bytes\":5}",
              "{\"operation\":\"copy\",\"path\":\"in/a.txt\",\"to\":\"new/d/a.txt\",\"recursive\":true}");
    expect_content(fx->root, "new/d/a.txt", "hello");
    expect_err(fx, "in is a directory", "{\"operation\":\"copy\",\"path\":\"in/a.txt\",\"to\":\"in\"}");

    /* a FIFO is refused before it is opened (opening it would hang) */
    char p[PATH_MAX];
    path_of(p, sizeof(p), fx->root, "fifo");
    assert_int_equal(mkfifo(p, 0644), 0);
    expect_err(fx, "fifo is not a regular file: refused",
               "{\"operation\":\"copy\",\"path\":\"fifo\",\"to\":\"in/f\"}");
    expect_err(fx, "fifo is not a regular file: refused",
               "{\"operation\":\"write\",\"path\":\"fifo\",\"content\":\"x\"}");
}

static void test_move(void **state)
{
    const struct fx *fx = *state;
    expect_ok(fx, "{\"operation\":\"move\",\"path\":\"in/a.txt\",\"to\":\"b.txt\"}",
              "{\"operation\":\"move\",\"path\":\"in/a.txt\",\"to\":\"b.txt\"}");
    assert_false(exists(fx->root, "in/a.txt"));
    expect_content(fx->root, "b.txt", "hello");

    expect_err(fx, "no such file: in/a.txt",
               "{\"operation\":\"move\",\"path\":\"in/a.txt\",\"to\":\"c.txt\"}");

    /* replaces a file; a directory moves whole */
    put_file(fx->root, "c.txt", "old");
    expect_ok(fx, "{\"operation\":\"move\",\"path\":\"b.txt\",\"to\":\"c.txt\"}",
              "{\"operation\":\"move\",\"path\":\"b.txt\",\"to\":\"c.txt\"}");
    expect_content(fx->root, "c.txt", "hello");
    make_dir(fx->root, "d");
    put_file(fx->root, "d/f", "f");
    expect_ok(fx, "{\"operation\":\"move\",\"path\":\"d\",\"to\":\"e/d2\"}",
              "{\"operation\":\"move\",\"path\":\"d\",\"to\":\"e/d2\",\"recursive\":true}");
    expect_content(fx->root, "e/d2/f", "f");
    expect_err(fx, "no such directory: g", "{\"operation\":\"move\",\"path\":\"c.txt\",\"to\":\"g/c.txt\"}");
    expect_err(fx, "into itself", "{\"operation\":\"move\",\"path\":\"e\",\"to\":\"e/d2/e\"}");
    expect_err(fx, "in is a directory", "{\"operation\":\"move\",\"path\":\"c.txt\",\"to\":\"in\"}");
    expect_content(fx->root, "c.txt", "hello");
}

static void test_delete(void **state)
{
    const struct fx *fx = *state;
    expect_ok(fx, "{\"operation\":\"delete\",\"path\":\"in/a.txt\",\"deleted\":1}",
              "{\"operation\":\"delete\",\"path\":\"in/a.txt\"}");
    assert_false(exists(fx->root, "in/a.txt"));
    expect_err(fx, "no such file: in/a.txt", "{\"operation\":\"delete\",\"path\":\"in/a.txt\"}");
    expect_err(fx, "no such directory: zz", "{\"operation\":\"delete\",\"path\":\"zz/a.txt\"}");

    make_dir(fx->root, "empty");
    expect_ok(fx, "{\"operation\":\"delete\",\"path\":\"empty\",\"deleted\":1}",
              "{\"operation\":\"delete\",\"path\":\"empty\"}");
    assert_false(exists(fx->root, "empty"));

    /* a tree: 3 dirs, 3 files, 3 links (absolute and relative to the dir
     * outside, one to a file outside) — 9 entries; the links' targets
     * survive */
    make_dir(fx->root, "t");
    make_dir(fx->root, "t/sub");
    make_dir(fx->root, "t/sub/deeper");
    put_file(fx->root, "t/x", "x");
    put_file(fx->root, "t/sub/y", "y");
    put_file(fx->root, "t/sub/deeper/z", "z");
    make_link(fx, fx->outside, "t/lnk");
    make_link(fx, "../../outside", "t/sub/up");
    make_link(fx, "../../../outside/secret.txt", "t/sub/deeper/s");
    expect_err(fx, "t is a directory that is not empty", "{\"operation\":\"delete\",\"path\":\"t\"}");
    assert_true(exists(fx->root, "t/x"));
    expect_ok(fx, "{\"operation\":\"delete\",\"path\":\"t/\",\"deleted\":9}",
              "{\"operation\":\"delete\",\"path\":\"t/\",\"recursive\":true}");
    assert_false(exists(fx->root, "t"));
    expect_outside_untouched(fx);
}

/* A recursive delete stops at JW_FILE_OP_MAX_DEPTH levels instead of
 * running out of descriptors. */
static void test_delete_too_deep(void **state)
{
    const struct fx *fx = *state;
    struct jw_buf p = JW_BUF_INIT;
    /* a tree just within the limit goes */
    jw_buf_puts(&p, "ok");
    for (int i = 0; i < JW_FILE_OP_MAX_DEPTH - 1; i++)
        jw_buf_puts(&p, "/d");
    char *r = ok_result(fx, "{\"operation\":\"mkdir\",\"path\":\"%s\",\"recursive\":true}", p.data);
    free(r);
    jw_buf_free(&p);
    char want[96];
    snprintf(want, sizeof(want), "{\"operation\":\"delete\",\"path\":\"ok\",\"deleted\":%d}",
             JW_FILE_OP_MAX_DEPTH);
    expect_ok(fx, want, "{\"operation\":\"delete\",\"path\":\"ok\",\"recursive\":true}");
    /* a deeper one does not */
    jw_buf_puts(&p, "deep");
    for (int i = 0; i < JW_FILE_OP_MAX_DEPTH + 5; i++)
        jw_buf_puts(&p, "/d");
    r = ok_result(fx, "{\"operation\":\"mkdir\",\"path\":\"%s\",\"recursive\":true}", p.data);
    free(r);
    jw_buf_free(&p);
    expect_err(fx, "directories nested more than 256 deep under deep: not deleted",
               "{\"operation\":\"delete\",\"path\":\"deep\",\"recursive\":true}");
    /* nor can the tenant's files then be measured for the quota: what adds
     * files is refused until a part of the tree is deleted */
    expect_err(fx, "directories nested more than 256 deep: the files cannot be measured",
               "{\"operation\":\"write\",\"path\":\"x\",\"content\":\"1\"}");
    expect_ok(fx, "{\"operation\":\"delete\",\"path\":\"deep/d/d/d/d/d/d/d/d/d\",\"deleted\":253}",
              "{\"operation\":\"delete\",\"path\":\"deep/d/d/d/d/d/d/d/d/d\",\"recursive\":true}");
    expect_ok(fx, "{\"operation\":\"write\",\"path\":\"x\",\"bytes\":1}",
              "{\"operation\":\"write\",\"path\":\"x\",\"content\":\"1\"}");
}

static void test_mkdir(void **state)
{
    const struct fx *fx = *state;
    expect_ok(fx, "{\"operation\":\"mkdir\",\"path\":\"m\",\"created\":true}",
              "{\"operation\":\"mkdir\",\"path\":\"m\"}");
    assert_int_equal(count_entries(fx->root, "m"), 0);
    expect_err(fx, "m already exists", "{\"operation\":\"mkdir\",\"path\":\"m\"}");
    expect_ok(fx, "{\"operation\":\"mkdir\",\"path\":\"m\",\"created\":false}",
              "{\"operation\":\"mkdir\",\"path\":\"m\",\"recursive\":true}");
    expect_err(fx, "no such directory: p", "{\"operation\":\"mkdir\",\"path\":\"p/q/r\"}");
    assert_false(exists(fx->root, "p"));
    expect_ok(fx, "{\"operation\":\"mkdir\",\"path\":\"p/q/r/\",\"created\":true}",
              "{\"operation\":\"mkdir\",\"path\":\"p/q/r/\",\"recursive\":true}");
    assert_int_equal(count_entries(fx->root, "p/q/r"), 0);
    expect_err(fx, "in/a.txt exists and is not a directory",
               "{\"operation\":\"mkdir\",\"path\":\"in/a.txt\",\"recursive\":true}");
    expect_err(fx, "in/a.txt is not a directory",
               "{\"operation\":\"mkdir\",\"path\":\"in/a.txt/x\",\"recursive\":true}");
}

/* The list result, parsed; fails unless it is valid JSON. */
static struct jw_json_doc *list_doc(const struct fx *fx, const char *path)
{
    char *r = path ? ok_result(fx, "{\"operation\":\"list\",\"path\":\"%s\"}", path)
                   : ok_result(fx, "{\"operation\":\"list\"}");
    char perr[256];
    struct jw_json_doc *doc = jw_json_parse(r, strlen(r), 8, perr, sizeof(perr));
    if (!doc)
        fail_msg("list result is not JSON (%s): %.300s", perr, r);
    free(r);
    return doc;
}

static const char *str_of(const struct jw_json *o, const char *key)
{
    const struct jw_json *v = jw_json_get(o, key);
    if (!v || v->type != JW_JSON_STRING)
        fail_msg("no string %s", key);
    return v->u.str;
}

static int64_t int_of(const struct jw_json *o, const char *key)
{
    int64_t n = -1;
    if (jw_json_int(jw_json_get(o, key), &n) != 0)
        fail_msg("no integer %s", key);
    return n;
}

static void test_list(void **state)
{
    const struct fx *fx = *state;
    put_file(fx->root, "in/b.txt", "abc");
    make_dir(fx->root, "in/sub");
    make_link(fx, "a.txt", "in/z-link");
    char p[PATH_MAX];
    path_of(p, sizeof(p), fx->root, "in/fifo");
    assert_int_equal(mkfifo(p, 0644), 0);
    struct timespec times[2] = {{.tv_sec = 1752158700, .tv_nsec = 123456789},
                                {.tv_sec = 1752158700, .tv_nsec = 123456789}};
    path_of(p, sizeof(p), fx->root, "in/b.txt");
    assert_int_equal(utimensat(AT_FDCWD, p, times, 0), 0);

    struct jw_json_doc *doc = list_doc(fx, "in/");
    const struct jw_json *r = jw_json_root(doc);
    assert_string_equal(str_of(r, "operation"), "list");
    assert_string_equal(str_of(r, "path"), "in/");
    assert_int_equal(jw_json_get(r, "truncated")->u.b, false);
    const struct jw_json *e = jw_json_get(r, "entries");
    assert_int_equal(e->type, JW_JSON_ARRAY);
    static const char *const names[] = {"a.txt", "b.txt", "deep", "fifo", "sub", "z-link"};
    static const char *const types[] = {"file", "file", "symlink", "other", "dir", "symlink"};
    assert_int_equal(e->len, 6);
    for (size_t i = 0; i < 6; i++) {
        assert_string_equal(str_of(e->u.items[i], "name"), names[i]);
        assert_string_equal(str_of(e->u.items[i], "type"), types[i]);
        assert_int_equal(jw_json_get(e->u.items[i], "modified_at")->type, JW_JSON_STRING);
    }
    assert_int_equal(int_of(e->u.items[0], "size"), 5);
    assert_int_equal(int_of(e->u.items[1], "size"), 3);
    assert_int_equal(int_of(e->u.items[5], "size"), 5); /* the link's own size: "a.txt" */
    assert_string_equal(str_of(e->u.items[1], "modified_at"), "2025-07-10T14:45:00.123Z");
    jw_json_doc_free(doc);

    /* the root, when path is absent */
    doc = list_doc(fx, NULL);
    r = jw_json_root(doc);
    assert_string_equal(str_of(r, "path"), "");
    e = jw_json_get(r, "entries");
    static const char *const top[] = {"dangling", "etc", "in", "link.txt", "out", "up"};
    assert_int_equal(e->len, 6);
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(str_of(e->u.items[i], "name"), top[i]);
    assert_string_equal(str_of(e->u.items[2], "type"), "dir");
    assert_string_equal(str_of(e->u.items[4], "type"), "symlink");
    jw_json_doc_free(doc);

    expect_err(fx, "no such directory: nope", "{\"operation\":\"list\",\"path\":\"nope\"}");
    expect_err(fx, "in/a.txt is not a directory", "{\"operation\":\"list\",\"path\":\"in/a.txt\"}");

    /* a name that is not UTF-8 still makes valid JSON */
    put_file(fx->root, "in/sub/bad\xff\xc3.txt", "");
    doc = list_doc(fx, "in/sub");
    e = jw_json_get(jw_json_root(doc), "entries");
    assert_int_equal(e->len, 1);
    assert_string_equal(str_of(e->u.items[0], "name"), "bad\xef\xbf\xbd\xef\xbf\xbd.txt");
    jw_json_doc_free(doc);
}

static void test_list_truncated(void **state)
{
    const struct fx *fx = *state;
    make_dir(fx->root, "many");
    char p[PATH_MAX], name[32];
    /* created in reverse, so directory order is not name order */
    for (int i = JW_FILE_OP_LIST_MAX + 4; i >= 0; i--) {
        snprintf(name, sizeof(name), "many/f%05d", i);
        path_of(p, sizeof(p), fx->root, name);
        int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
        assert_true(fd >= 0);
        close(fd);
    }
    struct jw_json_doc *doc = list_doc(fx, "many");
    const struct jw_json *r = jw_json_root(doc);
    const struct jw_json *e = jw_json_get(r, "entries");
    assert_int_equal(e->len, JW_FILE_OP_LIST_MAX);
    assert_true(jw_json_get(r, "truncated")->u.b);
    for (size_t i = 0; i < e->len; i++) {
        snprintf(name, sizeof(name), "f%05zu", i);
        if (strcmp(str_of(e->u.items[i], "name"), name) != 0)
            fail_msg("entry %zu is %s, want %s", i, str_of(e->u.items[i], "name"), name);
    }
    jw_json_doc_free(doc);

    /* exactly the limit is not truncated */
    for (int i = JW_FILE_OP_LIST_MAX; i <= JW_FILE_OP_LIST_MAX + 4; i++) {
        snprintf(name, sizeof(name), "many/f%05d", i);
        path_of(p, sizeof(p), fx->root, name);
        assert_int_equal(unlink(p), 0);
    }
    doc = list_doc(fx, "many");
    r = jw_json_root(doc);
    assert_int_equal(jw_json_get(r, "entries")->len, JW_FILE_OP_LIST_MAX);
    assert_false(jw_json_get(r, "truncated")->u.b);
    jw_json_doc_free(doc);
}

/* Names that escape to six bytes a character stop a list at
 * JW_FILE_OP_LIST_BYTES of result, well before JW_FILE_OP_LIST_MAX. */
static void test_list_byte_cap(void **state)
{
    const struct fx *fx = *state;
    make_dir(fx->root, "wide");
    char p[PATH_MAX], name[NAME_MAX + 8];
    for (int i = 0; i < 2500; i++) {
        int k = snprintf(name, sizeof(name), "wide/%05d", i);
        memset(name + k, '\x01', NAME_MAX - 5);
        name[k + NAME_MAX - 5] = '\0';
        path_of(p, sizeof(p), fx->root, name);
        int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
        assert_true(fd >= 0);
        close(fd);
    }
    char *r = ok_result(fx, "{\"operation\":\"list\",\"path\":\"wide\"}");
    size_t len = strlen(r);
    char perr[256];
    struct jw_json_doc *doc = jw_json_parse(r, len, 8, perr, sizeof(perr));
    free(r);
    if (!doc)
        fail_msg("list result is not JSON (%s)", perr);
    const struct jw_json *e = jw_json_get(jw_json_root(doc), "entries");
    assert_true(jw_json_get(jw_json_root(doc), "truncated")->u.b);
    assert_in_range(e->len, 1000, 2499);
    assert_in_range(len, JW_FILE_OP_LIST_BYTES, JW_FILE_OP_LIST_BYTES + 4096);
    assert_int_equal(strncmp(str_of(e->u.items[e->len - 1], "name"), "0", 1), 0);
    jw_json_doc_free(doc);
}

/* ---- the ways out ------------------------------------------------------ */

/* A link to a directory outside the root (absolute, relative, and one a
 * level down) used as an intermediate directory: refused by every
 * operation, and nothing outside changes. The link to /etc gets only the
 * operations that could not harm it, were the guard broken. */
static void test_symlink_intermediate(void **state)
{
    const struct fx *fx = *state;
    static const char *const links[] = {"out", "up", "in/deep"};
    char want[96];
    for (size_t i = 0; i < 3; i++) {
        const char *l = links[i];
        snprintf(want, sizeof(want), "%s is a symbolic link: refused", l);
        expect_err(fx, want, "{\"operation\":\"write\",\"path\":\"%s/new.txt\",\"content\":\"x\"}", l);
        expect_err(fx, want,
                   "{\"operation\":\"write\",\"path\":\"%s/n/new.txt\",\"content\":\"x\",\"recursive\":true}",
                   l);
        expect_err(fx, want, "{\"operation\":\"write\",\"path\":\"%s/secret.txt\",\"content\":\"x\"}", l);
        expect_err(fx, want, "{\"operation\":\"copy\",\"path\":\"%s/secret.txt\",\"to\":\"stolen\"}", l);
        expect_err(fx, want, "{\"operation\":\"copy\",\"path\":\"in/a.txt\",\"to\":\"%s/copied\"}", l);
        expect_err(fx, want, "{\"operation\":\"copy\",\"path\":\"in/a.txt\",\"to\":\"%s/secret.txt\"}", l);
        expect_err(fx, want,
                   "{\"operation\":\"copy\",\"path\":\"in/a.txt\",\"to\":\"%s/x/copied\",\"recursive\":true}",
                   l);
        expect_err(fx, want, "{\"operation\":\"move\",\"path\":\"%s/secret.txt\",\"to\":\"stolen\"}", l);
        expect_err(fx, want, "{\"operation\":\"move\",\"path\":\"in/a.txt\",\"to\":\"%s/moved\"}", l);
        expect_err(fx, want, "{\"operation\":\"delete\",\"path\":\"%s/secret.txt\"}", l);
        expect_err(fx, want, "{\"operation\":\"delete\",\"path\":\"%s/secret.txt\",\"recursive\":true}", l);
        expect_err(fx, want, "{\"operation\":\"mkdir\",\"path\":\"%s/newdir\"}", l);
        expect_err(fx, want, "{\"operation\":\"mkdir\",\"path\":\"%s/newdir/x\",\"recursive\":true}", l);
        expect_err(fx, want, "{\"operation\":\"list\",\"path\":\"%s/x\"}", l);
        /* as the last component of list and mkdir */
        expect_err(fx, want, "{\"operation\":\"list\",\"path\":\"%s\"}", l);
        expect_err(fx, want, "{\"operation\":\"list\",\"path\":\"%s/\"}", l);
        expect_err(fx, want, "{\"operation\":\"mkdir\",\"path\":\"%s\",\"recursive\":true}", l);
        expect_err(fx, want, "{\"operation\":\"mkdir\",\"path\":\"%s\"}", l);
    }
    /* the message names the link, however deep the rest goes */
    expect_err(fx, "in/deep is a symbolic link: refused",
               "{\"operation\":\"list\",\"path\":\"in/deep/a/b/c\"}");

    /* /etc: read-only operations only */
    expect_err(fx, "etc is a symbolic link: refused",
               "{\"operation\":\"copy\",\"path\":\"etc/passwd\",\"to\":\"stolen\"}");
    expect_err(fx, "etc is a symbolic link: refused", "{\"operation\":\"list\",\"path\":\"etc\"}");
    expect_err(fx, "etc is a symbolic link: refused", "{\"operation\":\"list\",\"path\":\"etc/ssl\"}");
    expect_err(fx, "etc is a symbolic link: refused",
               "{\"operation\":\"write\",\"path\":\"etc/jw-file-op-test-absent/x\",\"content\":\"x\"}");

    assert_false(exists(fx->root, "stolen"));
    assert_false(exists(fx->root, "n"));
    expect_content(fx->root, "in/a.txt", "hello");
    expect_outside_untouched(fx);
}

/* A link as the last component: write, copy (either end) and move (either
 * end) refuse it; delete removes the link itself, never its target. */
static void test_symlink_final(void **state)
{
    const struct fx *fx = *state;
    static const char *const links[] = {"link.txt", "dangling", "out", "etc"};
    char want[96];
    for (size_t i = 0; i < 4; i++) {
        const char *l = links[i];
        snprintf(want, sizeof(want), "%s is a symbolic link: refused", l);
        expect_err(fx, want, "{\"operation\":\"write\",\"path\":\"%s\",\"content\":\"pwned\"}", l);
        expect_err(fx, want,
                   "{\"operation\":\"write\",\"path\":\"%s\",\"content\":\"pwned\",\"recursive\":true}", l);
        expect_err(fx, want, "{\"operation\":\"copy\",\"path\":\"%s\",\"to\":\"stolen\"}", l);
        expect_err(fx, want, "{\"operation\":\"copy\",\"path\":\"in/a.txt\",\"to\":\"%s\"}", l);
        expect_err(fx, want, "{\"operation\":\"move\",\"path\":\"%s\",\"to\":\"moved\"}", l);
        expect_err(fx, want, "{\"operation\":\"move\",\"path\":\"in/a.txt\",\"to\":\"%s\"}", l);
        expect_err(fx, want, "{\"operation\":\"mkdir\",\"path\":\"%s\",\"recursive\":true}", l);
    }
    assert_false(exists(fx->root, "stolen"));
    assert_false(exists(fx->root, "moved"));
    expect_content(fx->root, "in/a.txt", "hello");
    expect_outside_untouched(fx); /* nothing created through "dangling" */

    /* delete: the link goes, what it points at stays */
    expect_ok(fx, "{\"operation\":\"delete\",\"path\":\"link.txt\",\"deleted\":1}",
              "{\"operation\":\"delete\",\"path\":\"link.txt\"}");
    assert_false(exists(fx->root, "link.txt"));
    expect_ok(fx, "{\"operation\":\"delete\",\"path\":\"out\",\"deleted\":1}",
              "{\"operation\":\"delete\",\"path\":\"out\",\"recursive\":true}");
    assert_false(exists(fx->root, "out"));
    expect_ok(fx, "{\"operation\":\"delete\",\"path\":\"in/deep\",\"deleted\":1}",
              "{\"operation\":\"delete\",\"path\":\"in/deep\"}");
    expect_ok(fx, "{\"operation\":\"delete\",\"path\":\"etc\",\"deleted\":1}",
              "{\"operation\":\"delete\",\"path\":\"etc\"}");
    expect_outside_untouched(fx);
    assert_true(exists("/etc", "passwd") || exists("/etc", "hostname"));
}

/* "..", ".", empty components and absolute paths, in path and in to:
 * refused before anything is touched (validation refuses most of them too,
 * but the runner does not rely on it). */
static void test_dotdot_and_absolute(void **state)
{
    const struct fx *fx = *state;
    static const struct {
        const char *path, *want;
    } bad[] = {
        {"..", "\"..\" component: refused"},
        {"../outside/secret.txt", "\"..\" component: refused"},
        {"in/../../outside/secret.txt", "\"..\" component: refused"},
        {"in/..", "\"..\" component: refused"},
        {".", "\".\" component: refused"},
        {"./in/a.txt", "\".\" component: refused"},
        {"in/./a.txt", "\".\" component: refused"},
        {"in//a.txt", "empty path component: refused"},
        {"in/a.txt//", "empty path component: refused"},
        {"", "empty path: refused"},
        {"/jw-file-op-test-absent", "absolute path refused"},
        {"/jw-file-op-test-absent/x/", "absolute path refused"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *p = bad[i].path, *w = bad[i].want;
        expect_err(fx, w, "{\"operation\":\"write\",\"path\":\"%s\",\"content\":\"x\",\"recursive\":true}",
                   p);
        expect_err(fx, w, "{\"operation\":\"copy\",\"path\":\"%s\",\"to\":\"stolen\"}", p);
        expect_err(fx, w, "{\"operation\":\"copy\",\"path\":\"in/a.txt\",\"to\":\"%s\",\"recursive\":true}",
                   p);
        expect_err(fx, w, "{\"operation\":\"move\",\"path\":\"%s\",\"to\":\"stolen\"}", p);
        expect_err(fx, w, "{\"operation\":\"move\",\"path\":\"in/a.txt\",\"to\":\"%s\"}", p);
        expect_err(fx, w, "{\"operation\":\"delete\",\"path\":\"%s\",\"recursive\":true}", p);
        expect_err(fx, w, "{\"operation\":\"mkdir\",\"path\":\"%s\",\"recursive\":true}", p);
        expect_err(fx, w, "{\"operation\":\"list\",\"path\":\"%s\"}", p);
    }
    /* absolute paths into the directory outside, with every operation;
     * "/" and /etc only with operations that could not harm them */
    char abs_dir[PATH_MAX], abs_file[PATH_MAX];
    snprintf(abs_dir, sizeof(abs_dir), "%s", fx->outside);
    path_of(abs_file, sizeof(abs_file), fx->outside, "secret.txt");
    const char *const abs[] = {abs_dir, abs_file};
    for (size_t i = 0; i < 2; i++) {
        const char *p = abs[i], *w = "absolute path refused";
        expect_err(fx, w, "{\"operation\":\"write\",\"path\":\"%s\",\"content\":\"x\",\"recursive\":true}",
                   p);
        expect_err(fx, w,
                   "{\"operation\":\"write\",\"path\":\"%s/new\",\"content\":\"x\",\"recursive\":true}", p);
        expect_err(fx, w, "{\"operation\":\"copy\",\"path\":\"%s\",\"to\":\"stolen\"}", p);
        expect_err(fx, w, "{\"operation\":\"copy\",\"path\":\"in/a.txt\",\"to\":\"%s\"}", p);
        expect_err(fx, w, "{\"operation\":\"move\",\"path\":\"%s\",\"to\":\"stolen\"}", p);
        expect_err(fx, w, "{\"operation\":\"move\",\"path\":\"in/a.txt\",\"to\":\"%s/moved\"}", p);
        expect_err(fx, w, "{\"operation\":\"delete\",\"path\":\"%s\",\"recursive\":true}", p);
        expect_err(fx, w, "{\"operation\":\"mkdir\",\"path\":\"%s/new\",\"recursive\":true}", p);
        expect_err(fx, w, "{\"operation\":\"list\",\"path\":\"%s\"}", p);
    }
    expect_err(fx, "absolute path refused", "{\"operation\":\"list\",\"path\":\"/\"}");
    expect_err(fx, "absolute path refused", "{\"operation\":\"list\",\"path\":\"/etc\"}");
    expect_err(fx, "absolute path refused",
               "{\"operation\":\"copy\",\"path\":\"/etc/passwd\",\"to\":\"stolen\"}");

    assert_false(exists(fx->root, "stolen"));
    expect_content(fx->root, "in/a.txt", "hello");
    expect_outside_untouched(fx);
    assert_int_equal(count_entries(fx->base, ""), 2);      /* files and outside */
    assert_int_equal(count_entries(fx->base, "files"), 1); /* only the tenant's */
}

static void test_bad_config(void **state)
{
    const struct fx *fx = *state;
    expect_err(fx, "operation is required", "{\"path\":\"in/a.txt\"}");
    expect_err(fx, "operation must be", "{\"operation\":\"chmod\",\"path\":\"in/a.txt\"}");
    expect_err(fx, "path is required", "{\"operation\":\"delete\"}");
    expect_err(fx, "to is required", "{\"operation\":\"copy\",\"path\":\"in/a.txt\"}");
    expect_err(fx, "content is required", "{\"operation\":\"write\",\"path\":\"in/a.txt\"}");
    expect_err(fx, "must be an object", "[1]");

    struct jw_buf out = JW_BUF_INIT;
    char err[256];
    struct jw_json_doc *doc = jw_json_parse("{\"operation\":\"list\"}", 20, 8, err, sizeof(err));
    assert_non_null(doc);
    struct jw_file_op_scope scope = {"/nonexistent/jw-file-op-root", TENANT, INT64_MAX, INT64_MAX};
    assert_int_equal(jw_file_op_run(&scope, jw_json_root(doc), &out, err, sizeof(err)), -1);
    assert_string_equal(err, "cannot open the file root: No such file or directory");
    assert_int_equal(out.len, 0);
    jw_json_doc_free(doc);

    /* a message cut short by errlen never ends in half a UTF-8 character */
    const char *cfg = "{\"operation\":\"delete\",\"path\":\"\u00e9\u00e9\"}";
    doc = jw_json_parse(cfg, strlen(cfg), 8, err, sizeof(err));
    assert_non_null(doc);
    static const size_t kept[] = {13, 14, 14, 16, 16, 18}; /* for errlen 14 to 19 */
    scope = (struct jw_file_op_scope){fx->top, TENANT, INT64_MAX, INT64_MAX};
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(jw_file_op_run(&scope, jw_json_root(doc), &out, err, 14 + i), -1);
        assert_true(jw_utf8_valid(err, strlen(err)));
        assert_int_equal(strlen(err), kept[i]);
    }
    assert_string_equal(err, "no such file: \xc3\xa9\xc3\xa9");
    jw_json_doc_free(doc);
}

/* ---- tenants ------------------------------------------------------------ */

/* Each tenant has its own directory, made on first use; nothing a tenant
 * names reaches another's — not even a path that starts with the other's
 * id. */
static void test_tenant_directories(void **state)
{
    struct fx *fx = *state;
    fx->tenant = OTHER;
    assert_false(exists(fx->top, OTHER));
    expect_ok(fx, "{\"operation\":\"list\",\"path\":\"\",\"entries\":[],\"truncated\":false}",
              "{\"operation\":\"list\"}");
    char p[PATH_MAX];
    struct stat st;
    path_of(p, sizeof(p), fx->top, OTHER);
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0007, 0); /* not for others on the host */

    /* the same paths, another tenant's files */
    expect_ok(fx, "{\"operation\":\"write\",\"path\":\"in/a.txt\",\"bytes\":5}",
              "{\"operation\":\"write\",\"path\":\"in/a.txt\",\"content\":\"other\",\"recursive\":true}");
    expect_content(fx->top, OTHER "/in/a.txt", "other");
    expect_content(fx->root, "in/a.txt", "hello");
    expect_ok(fx, "{\"operation\":\"delete\",\"path\":\"in\",\"deleted\":2}",
              "{\"operation\":\"delete\",\"path\":\"in\",\"recursive\":true}");
    expect_content(fx->root, "in/a.txt", "hello");

    /* the first tenant's id as a path names a directory of OTHER's own */
    expect_err(fx, "no such directory: " TENANT, "{\"operation\":\"list\",\"path\":\"" TENANT "/in\"}");
    expect_err(fx, "no such", "{\"operation\":\"delete\",\"path\":\"" TENANT "/in/a.txt\"}");
    expect_err(fx, "no such", "{\"operation\":\"move\",\"path\":\"" TENANT "/in/a.txt\",\"to\":\"mine\"}");
    expect_err(fx, "no such", "{\"operation\":\"copy\",\"path\":\"" TENANT "/in/a.txt\",\"to\":\"mine\"}");
    expect_ok(fx, "{\"operation\":\"write\",\"path\":\"" TENANT "/in/a.txt\",\"bytes\":6}",
              "{\"operation\":\"write\",\"path\":\"" TENANT
              "/in/a.txt\",\"content\":\"pwned!\",\"recursive\":true}");
    expect_content(fx->top, OTHER "/" TENANT "/in/a.txt", "pwned!");
    expect_content(fx->root, "in/a.txt", "hello");
    assert_false(exists(fx->top, OTHER "/mine"));
    /* and ".." cannot climb out to the file root */
    expect_err(fx, "\"..\" component: refused", "{\"operation\":\"list\",\"path\":\"../" TENANT "\"}");
    expect_err(fx, "\"..\" component: refused",
               "{\"operation\":\"delete\",\"path\":\"../" TENANT "/in\",\"recursive\":true}");
    expect_content(fx->root, "in/a.txt", "hello");
    assert_int_equal(count_entries(fx->top, ""), 2);
}

/* A symlink planted in a tenant's directory to another tenant's is
 * refused as every link is; a tenant directory that is itself a link (to
 * another tenant's directory or outside) or not a directory is refused,
 * whatever the operation, and what it points at is untouched. */
static void test_tenant_directory_links(void **state)
{
    struct fx *fx = *state;
    char p[PATH_MAX];
    make_link(fx, "../" OTHER, "to-other");
    make_dir(fx->top, OTHER);
    put_file(fx->top, OTHER "/secret.txt", "theirs");
    expect_err(fx, "to-other is a symbolic link: refused", "{\"operation\":\"list\",\"path\":\"to-other\"}");
    expect_err(fx, "to-other is a symbolic link: refused",
               "{\"operation\":\"delete\",\"path\":\"to-other/secret.txt\"}");
    expect_err(fx, "to-other is a symbolic link: refused",
               "{\"operation\":\"copy\",\"path\":\"to-other/secret.txt\",\"to\":\"stolen\"}");
    expect_content(fx->top, OTHER "/secret.txt", "theirs");

    static const char *const targets[] = {TENANT, "../outside", NULL};
    const char *const probes[] = {
        "{\"operation\":\"list\"}",
        "{\"operation\":\"list\",\"path\":\"in\"}",
        "{\"operation\":\"write\",\"path\":\"in/a.txt\",\"content\":\"pwned\"}",
        "{\"operation\":\"write\",\"path\":\"new.txt\",\"content\":\"pwned\"}",
        "{\"operation\":\"delete\",\"path\":\"in\",\"recursive\":true}",
        "{\"operation\":\"delete\",\"path\":\"secret.txt\"}",
        "{\"operation\":\"move\",\"path\":\"in/a.txt\",\"to\":\"moved\"}",
        "{\"operation\":\"mkdir\",\"path\":\"newdir\"}",
        "{\"operation\":\"copy\",\"path\":\"secret.txt\",\"to\":\"stolen\"}",
    };
    fx->tenant = OTHER;
    path_of(p, sizeof(p), fx->top, OTHER);
    for (size_t t = 0; targets[t]; t++) {
        char old[PATH_MAX + 8];
        snprintf(old, sizeof(old), "%s.gone", p);
        assert_int_equal(rename(p, old), 0); /* OTHER's real directory out of the way */
        assert_int_equal(symlink(targets[t], p), 0);
        for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
            expect_err(fx, "the tenant's directory is a symbolic link: refused", "%s", probes[i]);
        assert_int_equal(unlink(p), 0);
        assert_int_equal(rename(old, p), 0);
    }
    expect_content(fx->root, "in/a.txt", "hello");
    assert_false(exists(fx->root, "new.txt") || exists(fx->root, "moved") || exists(fx->root, "newdir"));
    expect_outside_untouched(fx);
    /* not a directory */
    char other_dir[PATH_MAX + 8];
    snprintf(other_dir, sizeof(other_dir), "%s.dir", p);
    assert_int_equal(rename(p, other_dir), 0);
    put_file(fx->top, OTHER, "a file");
    expect_err(fx, "the tenant's directory is not a directory: refused", "{\"operation\":\"list\"}");
    expect_err(fx, "the tenant's directory is not a directory: refused",
               "{\"operation\":\"write\",\"path\":\"x\",\"content\":\"1\"}");
    expect_content(fx->top, OTHER, "a file");
}

/* A tenant id that is not a lower-case UUID names no directory at all. */
static void test_tenant_id_refused(void **state)
{
    struct fx *fx = *state;
    static const char *const bad[] = {
        "",
        "0190F3A1-7C2E-7D4B-9A10-3F5E8C2B1D0E", /* the same UUID, another directory */
        "0190f3a17c2e7d4b9a103f5e8c2b1d0e",
        "{0190f3a1-7c2e-7d4b-9a10-3f5e8c2b1d0e}",
        "0190f3a1-7c2e-7d4b-9a10-3f5e8c2b1d0e/",
        "0190f3a1-7c2e-7d4b-9a10-3f5e8c2b1d0",
        "0190f3a1-7c2e-7d4b-9a10-3f5e8c2b1d0ee",
        "0190f3a1-7c2e-7d4b-9a10_3f5e8c2b1d0e",
        "0190f3a1-7c2e-7d4b-9a10-3f5e8c2b1d0g",
        "..",
        ".",
        "../outside",
        "/etc",
        "../../../../../../../../../../../tmp",
        "..-....-....-....-............",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fx->tenant = bad[i];
        expect_err(fx, "the tenant id is not a lower-case UUID: refused", "{\"operation\":\"list\"}");
        expect_err(fx, "the tenant id is not a lower-case UUID: refused",
                   "{\"operation\":\"write\",\"path\":\"x\",\"content\":\"1\",\"recursive\":true}");
    }
    assert_int_equal(count_entries(fx->top, ""), 1);
    expect_outside_untouched(fx);
}

/* ---- the quota ---------------------------------------------------------- */

static void test_quota_bytes(void **state)
{
    struct fx *fx = *state;
    fx->tenant = OTHER;
    fx->max_bytes = 10;
    expect_ok(fx, "{\"operation\":\"write\",\"path\":\"a.txt\",\"bytes\":6}",
              "{\"operation\":\"write\",\"path\":\"a.txt\",\"content\":\"123456\"}");
    expect_ok(fx, "{\"operation\":\"write\",\"path\":\"d/b.txt\",\"bytes\":4}",
              "{\"operation\":\"write\",\"path\":\"d/b.txt\",\"content\":\"1234\",\"recursive\":true}");
    /* full: one byte more is refused, and nothing is made */
    expect_err(fx, "file quota exceeded: the tenant's files would take 11 bytes, more than the 10 allowed",
               "{\"operation\":\"write\",\"path\":\"c.txt\",\"content\":\"x\"}");
    expect_err(fx, "file quota exceeded",
               "{\"operation\":\"write\",\"path\":\"e/f/c.txt\",\"content\":\"x\",\"recursive\":true}");
    expect_err(fx, "file quota exceeded", "{\"operation\":\"copy\",\"path\":\"d/b.txt\",\"to\":\"b2.txt\"}");
    expect_err(fx, "file quota exceeded",
               "{\"operation\":\"write\",\"path\":\"a.txt\",\"content\":\"1234567\"}");
    assert_false(exists(fx->top, OTHER "/c.txt") || exists(fx->top, OTHER "/e") ||
                 exists(fx->top, OTHER "/b2.txt"));
    expect_content(fx->top, OTHER "/a.txt", "123456");
    /* replacing a file by one no larger, an empty file, a directory: fine */
    expect_ok(fx, "{\"operation\":\"write\",\"path\":\"a.txt\",\"bytes\":6}",
              "{\"operation\":\"write\",\"path\":\"a.txt\",\"content\":\"abcdef\"}");
    expect_ok(fx, "{\"operation\":\"write\",\"path\":\"a.txt\",\"bytes\":2}",
              "{\"operation\":\"write\",\"path\":\"a.txt\",\"content\":\"ab\"}");
    expect_ok(fx, "{\"operation\":\"copy\",\"path\":\"d/b.txt\",\"to\":\"b2.txt\",\"bytes\":4}",
              "{\"operation\":\"copy\",\"path\":\"d/b.txt\",\"to\":\"b2.txt\"}");
    expect_ok(fx, "{\"operation\":\"write\",\"path\":\"empty\",\"bytes\":0}",
              "{\"operation\":\"write\",\"path\":\"empty\",\"content\":\"\"}");
    expect_ok(fx, "{\"operation\":\"mkdir\",\"path\":\"m\",\"created\":true}",
              "{\"operation\":\"mkdir\",\"path\":\"m\"}");
    /* removing and renaming are never refused, and free room */
    expect_ok(fx, "{\"operation\":\"move\",\"path\":\"b2.txt\",\"to\":\"m/b3.txt\"}",
              "{\"operation\":\"move\",\"path\":\"b2.txt\",\"to\":\"m/b3.txt\"}");
    expect_ok(fx, "{\"operation\":\"delete\",\"path\":\"m\",\"deleted\":2}",
              "{\"operation\":\"delete\",\"path\":\"m\",\"recursive\":true}");
    expect_ok(fx, "{\"operation\":\"write\",\"path\":\"c.txt\",\"bytes\":4}",
              "{\"operation\":\"write\",\"path\":\"c.txt\",\"content\":\"wxyz\"}");
    /* a link is counted as an entry, what it points at is not measured */
    make_link(fx, fx->outside, "../" OTHER "/out");
    expect_ok(fx, "{\"operation\":\"mkdir\",\"path\":\"n\",\"created\":true}",
              "{\"operation\":\"mkdir\",\"path\":\"n\"}");
    /* another tenant's quota is its own */
    fx->tenant = TENANT;
    expect_ok(fx, "{\"operation\":\"write\",\"path\":\"five.txt\",\"bytes\":5}",
              "{\"operation\":\"write\",\"path\":\"five.txt\",\"content\":\"01234\"}"); /* and in/a.txt */
}

static void test_quota_entries(void **state)
{
    struct fx *fx = *state;
    fx->tenant = OTHER;
    fx->max_entries = 4;
    expect_ok(fx, "{\"operation\":\"mkdir\",\"path\":\"a\",\"created\":true}",
              "{\"operation\":\"mkdir\",\"path\":\"a\"}");
    expect_ok(fx, "{\"operation\":\"write\",\"path\":\"a/b.txt\",\"bytes\":1}",
              "{\"operation\":\"write\",\"path\":\"a/b.txt\",\"content\":\"1\"}");
    /* three entries (c, c/d, c/d/e.txt) would make five */
    expect_err(fx, "file quota exceeded: the tenant's files would number more than 4 entries",
               "{\"operation\":\"write\",\"path\":\"c/d/e.txt\",\"content\":\"1\",\"recursive\":true}");
    expect_err(fx, "file quota exceeded", "{\"operation\":\"mkdir\",\"path\":\"c/d/e\",\"recursive\":true}");
    assert_false(exists(fx->top, OTHER "/c"));
    /* two (a/c, a/c/e.txt) fit exactly */
    expect_ok(fx, "{\"operation\":\"write\",\"path\":\"a/c/e.txt\",\"bytes\":1}",
              "{\"operation\":\"write\",\"path\":\"a/c/e.txt\",\"content\":\"1\",\"recursive\":true}");
    expect_err(fx, "file quota exceeded", "{\"operation\":\"mkdir\",\"path\":\"x\"}");
    expect_err(fx, "file quota exceeded", "{\"operation\":\"copy\",\"path\":\"a/b.txt\",\"to\":\"b2.txt\"}");
    expect_err(fx, "file quota exceeded", "{\"operation\":\"write\",\"path\":\"z\",\"content\":\"\"}");
    /* what is there can be replaced, and mkdir of what exists is no new entry */
    expect_ok(fx, "{\"operation\":\"write\",\"path\":\"a/b.txt\",\"bytes\":2}",
              "{\"operation\":\"write\",\"path\":\"a/b.txt\",\"content\":\"22\"}");
    expect_ok(fx, "{\"operation\":\"copy\",\"path\":\"a/b.txt\",\"to\":\"a/c/e.txt\",\"bytes\":2}",
              "{\"operation\":\"copy\",\"path\":\"a/b.txt\",\"to\":\"a/c/e.txt\"}");
    expect_ok(fx, "{\"operation\":\"mkdir\",\"path\":\"a/c\",\"created\":false}",
              "{\"operation\":\"mkdir\",\"path\":\"a/c\",\"recursive\":true}");
    expect_ok(fx, "{\"operation\":\"delete\",\"path\":\"a/c/e.txt\",\"deleted\":1}",
              "{\"operation\":\"delete\",\"path\":\"a/c/e.txt\"}");
    expect_ok(fx, "{\"operation\":\"mkdir\",\"path\":\"x\",\"created\":true}",
              "{\"operation\":\"mkdir\",\"path\":\"x\"}");
    /* over the quota already (the operator lowered it): only what frees room */
    fx->max_entries = 2;
    expect_err(fx, "file quota exceeded", "{\"operation\":\"write\",\"path\":\"a/b.txt\",\"content\":\"1\"}");
    expect_ok(fx, "{\"operation\":\"delete\",\"path\":\"a\",\"deleted\":3}",
              "{\"operation\":\"delete\",\"path\":\"a\",\"recursive\":true}");
    expect_ok(fx, "{\"operation\":\"write\",\"path\":\"y\",\"bytes\":1}",
              "{\"operation\":\"write\",\"path\":\"y\",\"content\":\"1\"}");
    /* a quota of nothing */
    fx->max_entries = 0;
    expect_err(fx, "file quota exceeded", "{\"operation\":\"mkdir\",\"path\":\"w\"}");
}

/* ---- the child's entry point ------------------------------------------- */

struct main_result {
    int status;
    char out[512];
    char err[512];
};

static void slurp(int fd, char *buf, size_t len)
{
    size_t n = 0;
    ssize_t k;
    lseek(fd, 0, SEEK_SET);
    while (n + 1 < len && (k = read(fd, buf + n, len - 1 - n)) > 0)
        n += (size_t)k;
    buf[n] = '\0';
    close(fd);
}

/* Run jw_file_op_main in a child with input on stdin. */
static void run_main(int argc, char **argv, const char *input, struct main_result *res)
{
    FILE *in = tmpfile(), *out = tmpfile(), *err = tmpfile();
    assert_true(in && out && err);
    fputs(input, in);
    fflush(in);
    rewind(in);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fileno(in), 0);
        dup2(fileno(out), 1);
        dup2(fileno(err), 2);
        int rc = jw_file_op_main(argc, argv);
        fflush(stdout);
        fflush(stderr);
        _exit(rc);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    res->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    slurp(dup(fileno(out)), res->out, sizeof(res->out));
    slurp(dup(fileno(err)), res->err, sizeof(res->err));
    fclose(in);
    fclose(out);
    fclose(err);
}

static void test_main(void **state)
{
    const struct fx *fx = *state;
    char root[128], tenant[] = TENANT, max_bytes[] = "1000000", max_entries[] = "1000";
    snprintf(root, sizeof(root), "%s", fx->top);
    char *argv[] = {"jobwheel", "file-op", root, tenant, max_bytes, max_entries, NULL};
    struct main_result res;

    run_main(6, argv, "{\"operation\":\"write\",\"path\":\"m.txt\",\"content\":\"via main\"}", &res);
    assert_int_equal(res.status, 0);
    assert_string_equal(res.out, "{\"operation\":\"write\",\"path\":\"m.txt\",\"bytes\":8}\n");
    assert_string_equal(res.err, "");
    expect_content(fx->root, "m.txt", "via main");

    run_main(6, argv, "{\"operation\":\"copy\",\"path\":\"link.txt\",\"to\":\"s\"}", &res);
    assert_int_equal(res.status, 1);
    assert_string_equal(res.out, "");
    assert_string_equal(res.err, "link.txt is a symbolic link: refused\n");

    /* validation runs again in the child */
    run_main(6, argv, "{\"operation\":\"delete\",\"path\":\"../outside\",\"recursive\":true}", &res);
    assert_int_equal(res.status, 1);
    assert_non_null(strstr(res.err, "must stay under the file root"));
    expect_outside_untouched(fx);
    run_main(6, argv, "{\"operation\":\"write\",\"path\":\"x\",\"content\":\"1\",\"mode\":777}", &res);
    assert_int_equal(res.status, 1);
    assert_non_null(strstr(res.err, "unknown field"));

    run_main(6, argv, "{\"operation\":", &res);
    assert_int_equal(res.status, 1);
    assert_non_null(strstr(res.err, "JSON"));
    run_main(6, argv, "", &res);
    assert_int_equal(res.status, 1);

    /* the quota comes from the command line */
    strcpy(max_bytes, "10");
    run_main(6, argv, "{\"operation\":\"write\",\"path\":\"big.txt\",\"content\":\"0123456789ab\"}", &res);
    assert_int_equal(res.status, 1);
    assert_non_null(strstr(res.err, "file quota exceeded"));
    assert_false(exists(fx->root, "big.txt"));
    strcpy(max_bytes, "1000000");

    /* the tenant comes from the command line, and must be one */
    strcpy(tenant, OTHER);
    run_main(6, argv, "{\"operation\":\"write\",\"path\":\"m.txt\",\"content\":\"other\"}", &res);
    assert_int_equal(res.status, 0);
    expect_content(fx->top, OTHER "/m.txt", "other");
    expect_content(fx->root, "m.txt", "via main");
    strcpy(tenant, "../outside/../../x/y");
    tenant[36] = '\0';
    run_main(6, argv, "{\"operation\":\"list\"}", &res);
    assert_int_equal(res.status, 1);
    assert_non_null(strstr(res.err, "tenant id is not a lower-case UUID"));

    run_main(2, argv, "{\"operation\":\"list\"}", &res);
    assert_int_equal(res.status, 1);
    assert_non_null(strstr(res.err, "usage: jobwheel file-op ROOT TENANT MAX_BYTES MAX_ENTRIES"));
    run_main(3, argv, "{\"operation\":\"list\"}", &res);
    assert_int_equal(res.status, 1);
    strcpy(max_entries, "-1");
    run_main(6, argv, "{\"operation\":\"list\"}", &res);
    assert_int_equal(res.status, 1);
    assert_non_null(strstr(res.err, "usage:"));
    strcpy(max_entries, "1x");
    run_main(6, argv, "{\"operation\":\"list\"}", &res);
    assert_int_equal(res.status, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_move, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_too_deep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mkdir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_byte_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_intermediate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_final, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dotdot_and_absolute, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tenant_directories, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tenant_directory_links, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tenant_id_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quota_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quota_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_main, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
