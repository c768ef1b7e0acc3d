/* Unit tests for child processes on a real event loop (src/exec/child.c):
 * output capture and truncation, exit codes and signals, stdin, env, cwd,
 * PATH lookup, start failures, timeouts that kill the whole process group,
 * grandchildren holding the pipes, cancel, and the waitpid polling used
 * where pidfd_open is missing (forced here with a seccomp filter). Run under
 * valgrind and ASan by scripts/test: every test drains its loop, so a leak
 * shows. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

#include "jobwheel/buf.h"
#include "jobwheel/child.h"
#include "jobwheel/time.h"

#define ARGV(...) ((const char *const[]){__VA_ARGS__, NULL})
#define SH(script) .path = "/bin/sh", .argv = ARGV("sh", "-c", script)
#define MIB (1024 * 1024)

/* ---- helpers ------------------------------------------------------------ */

/* A copy of the one result, taken in the callback. */
struct outcome {
    int calls;
    int exit_code, signal;
    bool timed_out;
    char *error;
    char *out, *err;
    size_t out_len, err_len;
    bool out_truncated, err_truncated;
    int64_t duration_ms;
    bool starting; /* set around jw_child_start: the callback must not run inside it */
    bool called_inside_start;
};

static char *copy(const char *s, size_t n)
{
    char *d = jw_malloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static void on_done(void *arg, const struct jw_child_result *r)
{
    struct outcome *o = arg;
    if (o->starting)
        o->called_inside_start = true;
    o->calls++;
    o->exit_code = r->exit_code;
    o->signal = r->signal;
    o->timed_out = r->timed_out;
    free(o->error);
    free(o->out);
    free(o->err);
    o->error = r->error ? jw_strdup(r->error) : NULL;
    assert_non_null(r->out);
    assert_non_null(r->err);
    assert_int_equal(r->out[r->out_len], '\0');
    assert_int_equal(r->err[r->err_len], '\0');
    o->out = copy(r->out, r->out_len);
    o->err = copy(r->err, r->err_len);
    o->out_len = r->out_len;
    o->err_len = r->err_len;
    o->out_truncated = r->out_truncated;
    o->err_truncated = r->err_truncated;
    o->duration_ms = r->duration_ms;
}

static void outcome_free(struct outcome *o)
{
    free(o->error);
    free(o->out);
    free(o->err);
}

static struct jw_child *start(struct event_base *base, const struct jw_child_spec *spec, struct outcome *o)
{
    o->starting = true;
    struct jw_child *c = jw_child_start(base, spec, on_done, o);
    o->starting = false;
    assert_non_null(c);
    return c;
}

/* Run one child on a fresh loop until the loop has nothing left (the child
 * reported, reaped and freed), and check it reported exactly once. */
static void run(const struct jw_child_spec *spec, struct outcome *o)
{
    memset(o, 0, sizeof(*o));
    struct event_base *base = event_base_new();
    assert_non_null(base);
    (void)start(base, spec, o);
    assert_int_equal(o->calls, 0);
    assert_int_equal(event_base_dispatch(base), 1); /* 1: no events left */
    event_base_free(base);
    assert_false(o->called_inside_start);
    assert_int_equal(o->calls, 1);
}

static void expect_clean_exit(const struct outcome *o, int code)
{
    assert_null(o->error);
    assert_int_equal(o->exit_code, code);
    assert_int_equal(o->signal, 0);
    assert_false(o->timed_out);
}

/* Whether a pid is gone (or a zombie nobody reaps yet), waiting up to 2 s. */
static bool pid_dead(long pid)
{
    for (int i = 0; i < 200; i++) {
        char path[64], stat[512];
        snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
        FILE *f = fopen(path, "r");
        if (!f)
            return true;
        size_t n = fread(stat, 1, sizeof(stat) - 1, f);
        fclose(f);
        stat[n] = '\0';
        const char *p = strrchr(stat, ')');
        if (p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'))
            return true;
        usleep(10000);
    }
    return false;
}

static long first_number(const char *s)
{
    long pid = strtol(s, NULL, 10);
    assert_true(pid > 1);
    return pid;
}

/* ---- output, exit codes, signals ----------------------------------------- */

static void test_stdout_and_stderr(void **state)
{
    struct outcome o;
    run(&(struct jw_child_spec){SH("echo out; echo err >&2; echo more"), .max_output = 1024}, &o);
    expect_clean_exit(&o, 0);
    assert_string_equal(o.out, "out\nmore\n");
    assert_string_equal(o.err, "err\n");
    assert_false(o.out_truncated);
    assert_false(o.err_truncated);
    assert_true(o.duration_ms >= 0 && o.duration_ms < 5000);
    outcome_free(&o);
}

static void test_exit_codes(void **state)
{
    static const int codes[] = {0, 1, 3, 127, 255};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        char script[32];
        snprintf(script, sizeof(script), "exit %d", codes[i]);
        struct outcome o;
        run(&(struct jw_child_spec){SH(script)}, &o);
        expect_clean_exit(&o, codes[i]);
        assert_int_equal(o.out_len, 0);
        assert_string_equal(o.out, "");
        outcome_free(&o);
    }
    struct outcome o;
    run(&(struct jw_child_spec){.path = "/bin/false", .argv = ARGV("false")}, &o);
    expect_clean_exit(&o, 1);
    outcome_free(&o);
}

static void test_signal_death(void **state)
{
    struct outcome o;
    run(&(struct jw_child_spec){SH("echo before; kill -TERM $$; echo after"), .max_output = 100}, &o);
    assert_null(o.error);
    assert_int_equal(o.exit_code, -1);
    assert_int_equal(o.signal, SIGTERM);
    assert_false(o.timed_out);
    assert_string_equal(o.out, "before\n");
    outcome_free(&o);

    run(&(struct jw_child_spec){SH("kill -KILL $$")}, &o);
    assert_int_equal(o.exit_code, -1);
    assert_int_equal(o.signal, SIGKILL);
    outcome_free(&o);
}

/* We ignore SIGPIPE; the child must get it back at its default: `yes` dies
 * of it quietly instead of complaining about EPIPE on stderr. */
static void test_child_signals_default(void **state)
{
    struct outcome o;
    run(&(struct jw_child_spec){SH("yes | head -c 4"), .max_output = 100}, &o);
    expect_clean_exit(&o, 0);
    assert_string_equal(o.out, "y\ny\n");
    assert_string_equal(o.err, "");
    outcome_free(&o);
}

static void test_many_at_once(void **state)
{
    enum { N = 24 };
    struct outcome o[N];
    char want[N][16];
    memset(o, 0, sizeof(o));
    struct event_base *base = event_base_new();
    assert_non_null(base);
    for (int i = 0; i < N; i++) {
        snprintf(want[i], sizeof(want[i]), "%d", i);
        struct jw_child_spec spec = {
            .path = "/bin/sh", .argv = ARGV("sh", "-c", "printf %s \"$0\"", want[i]), .max_output = 64};
        (void)start(base, &spec, &o[i]);
    }
    assert_int_equal(event_base_dispatch(base), 1);
    event_base_free(base);
    for (int i = 0; i < N; i++) {
        assert_int_equal(o[i].calls, 1);
        expect_clean_exit(&o[i], 0);
        assert_string_equal(o[i].out, want[i]);
        outcome_free(&o[i]);
    }
}

/* ---- stdin and truncation --------------------------------------------------- */

static char *pattern(size_t n)
{
    char *p = jw_malloc(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (char)('a' + (i * 7 + i / 251) % 26);
    return p;
}

static void test_stdin_round_trip(void **state)
{
    size_t n = MIB;
    char *in = pattern(n);
    struct outcome o;
    run(
        &(struct jw_child_spec){
            .path = "/bin/cat", .argv = ARGV("cat"), .stdin_data = in, .stdin_len = n, .max_output = 2 * MIB},
        &o);
    expect_clean_exit(&o, 0);
    assert_int_equal(o.out_len, n);
    assert_false(o.out_truncated);
    assert_memory_equal(o.out, in, n);
    outcome_free(&o);
    free(in);
}

static void test_truncation(void **state)
{
    size_t n = MIB;
    char *in = pattern(n);
    struct outcome o;
    /* cat must run to its end: what is past the cap is read and dropped */
    run(
        &(struct jw_child_spec){
            .path = "/bin/cat", .argv = ARGV("cat"), .stdin_data = in, .stdin_len = n, .max_output = 1000},
        &o);
    expect_clean_exit(&o, 0);
    assert_int_equal(o.out_len, 1000);
    assert_true(o.out_truncated);
    assert_memory_equal(o.out, in, 1000);
    assert_false(o.err_truncated);
    outcome_free(&o);
    free(in);

    run(&(struct jw_child_spec){SH("head -c 300000 /dev/zero | tr '\\0' e >&2; echo ok"), .max_output = 10},
        &o);
    expect_clean_exit(&o, 0);
    assert_string_equal(o.out, "ok\n");
    assert_false(o.out_truncated);
    assert_string_equal(o.err, "eeeeeeeeee");
    assert_true(o.err_truncated);
    outcome_free(&o);

    run(&(struct jw_child_spec){SH("echo x; echo y >&2"), .max_output = 0}, &o);
    expect_clean_exit(&o, 0);
    assert_int_equal(o.out_len, 0);
    assert_true(o.out_truncated);
    assert_true(o.err_truncated);
    outcome_free(&o);
}

static void test_stdin_empty_and_unread(void **state)
{
    struct outcome o;
    run(&(struct jw_child_spec){.path = "/bin/cat", .argv = ARGV("cat"), .max_output = 10}, &o);
    expect_clean_exit(&o, 0);
    assert_string_equal(o.out, "");
    outcome_free(&o);

    /* a child that never reads 4 MiB of stdin: EPIPE, not SIGPIPE, not a hang */
    size_t n = 4 * MIB;
    char *in = pattern(n);
    run(&(struct jw_child_spec){.path = "/bin/true", .argv = ARGV("true"), .stdin_data = in, .stdin_len = n},
        &o);
    expect_clean_exit(&o, 0);
    outcome_free(&o);

    /* one that reads a little and exits */
    run(&(struct jw_child_spec){.path = "/usr/bin/head",
                                .argv = ARGV("head", "-c", "5"),
                                .stdin_data = in,
                                .stdin_len = n,
                                .max_output = 100},
        &o);
    expect_clean_exit(&o, 0);
    assert_int_equal(o.out_len, 5);
    assert_memory_equal(o.out, in, 5);
    outcome_free(&o);
    free(in);
}

/* ---- env, cwd, PATH ------------------------------------------------------------ */

static void test_env_exact(void **state)
{
    struct outcome o;
    run(&(struct jw_child_spec){.path = "/usr/bin/env",
                                .argv = ARGV("env"),
                                .env = ARGV("FOO=bar baz", "EMPTY=", "X=1=2"),
                                .max_output = 1000},
        &o);
    expect_clean_exit(&o, 0);
    assert_string_equal(o.out, "FOO=bar baz\nEMPTY=\nX=1=2\n");
    outcome_free(&o);

    run(&(struct jw_child_spec){SH("echo \"$FOO\""), .env = ARGV("FOO=hello"), .max_output = 100}, &o);
    expect_clean_exit(&o, 0);
    assert_string_equal(o.out, "hello\n");
    outcome_free(&o);

    /* NULL: nothing at all, not ours */
    assert_int_equal(setenv("JW_TEST_LEAK", "1", 1), 0);
    run(&(struct jw_child_spec){.path = "/usr/bin/env", .argv = ARGV("env"), .max_output = 1000}, &o);
    expect_clean_exit(&o, 0);
    assert_string_equal(o.out, "");
    outcome_free(&o);
    assert_int_equal(unsetenv("JW_TEST_LEAK"), 0);
}

static void test_argv_passed(void **state)
{
    struct outcome o;
    run(&(struct jw_child_spec){.path = "/usr/bin/printf",
                                .argv = ARGV("printf", "[%s]", "a b", "", "c'\"d"),
                                .max_output = 100},
        &o);
    expect_clean_exit(&o, 0);
    assert_string_equal(o.out, "[a b][][c'\"d]");
    outcome_free(&o);
}

static void test_cwd(void **state)
{
    char tmpl[] = "/tmp/jw-child-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    char dir[PATH_MAX];
    assert_non_null(realpath(tmpl, dir));
    char want[PATH_MAX + 16];
    snprintf(want, sizeof(want), "%s\n", dir);

    struct outcome o;
    run(&(struct jw_child_spec){.path = "/bin/pwd", .argv = ARGV("pwd"), .cwd = dir, .max_output = PATH_MAX},
        &o);
    expect_clean_exit(&o, 0);
    assert_string_equal(o.out, want);
    outcome_free(&o);

    /* our own cwd is untouched */
    char here[PATH_MAX];
    assert_non_null(getcwd(here, sizeof(here)));
    assert_string_not_equal(here, dir);

    /* a relative path is taken from the child's cwd */
    char script[PATH_MAX + 16];
    snprintf(script, sizeof(script), "%s/hello", dir);
    FILE *f = fopen(script, "w");
    assert_non_null(f);
    fputs("#!/bin/sh\necho hello from \"$(pwd)\"\n", f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(script, 0700), 0);
    run(&(struct jw_child_spec){.path = "./hello", .argv = ARGV("hello"), .cwd = dir, .max_output = PATH_MAX},
        &o);
    expect_clean_exit(&o, 0);
    snprintf(want, sizeof(want), "hello from %s\n", dir);
    assert_string_equal(o.out, want);
    outcome_free(&o);
    assert_int_equal(unlink(script), 0);
    assert_int_equal(rmdir(dir), 0);
}

static void test_path_lookup(void **state)
{
    struct outcome o;
    /* looked up in our PATH, not in the child's (empty) environment */
    run(&(struct jw_child_spec){.path = "echo", .argv = ARGV("echo", "found"), .max_output = 100}, &o);
    expect_clean_exit(&o, 0);
    assert_string_equal(o.out, "found\n");
    outcome_free(&o);
}

/* Our fds without O_CLOEXEC do not leak into the child either. */
static void test_no_fd_leak(void **state)
{
    int fd = open("/dev/null", O_RDONLY); /* no O_CLOEXEC on purpose */
    assert_true(fd > 2);
    char script[128];
    snprintf(script, sizeof(script), "for n in 0 1 2 %d; do test -e /proc/$$/fd/$n && echo $n; done; exit 0",
             fd);
    struct outcome o;
    run(&(struct jw_child_spec){SH(script), .stdin_data = "x", .stdin_len = 1, .max_output = 100}, &o);
    assert_int_equal(close(fd), 0);
    expect_clean_exit(&o, 0);
    assert_string_equal(o.out, "0\n1\n2\n");
    outcome_free(&o);
}

/* ---- start failures -------------------------------------------------------------- */

/* Under valgrind, posix_spawn runs as a plain fork, so an exec failure is
 * not seen by the parent: the child exits 127 instead. */
static void expect_start_error(const struct outcome *o, const char *want)
{
    if (RUNNING_ON_VALGRIND && !o->error) {
        assert_int_equal(o->exit_code, 127);
        return;
    }
    assert_non_null(o->error);
    assert_string_equal(o->error, want);
    assert_int_equal(o->exit_code, -1);
    assert_int_equal(o->signal, 0);
    assert_false(o->timed_out);
    assert_string_equal(o->out, "");
}

static void test_missing_executable(void **state)
{
    struct outcome o;
    run(
        &(struct jw_child_spec){
            .path = "/nope/missing", .argv = ARGV("missing"), .stdin_data = "x", .stdin_len = 1},
        &o);
    expect_start_error(&o, "cannot run /nope/missing: No such file or directory");
    outcome_free(&o);

    run(&(struct jw_child_spec){.path = "jw-no-such-command", .argv = ARGV("x")}, &o);
    expect_start_error(&o, "cannot run jw-no-such-command: No such file or directory");
    outcome_free(&o);

    run(&(struct jw_child_spec){.path = "/etc/passwd", .argv = ARGV("x")}, &o);
    expect_start_error(&o, "cannot run /etc/passwd: Permission denied");
    outcome_free(&o);

    run(&(struct jw_child_spec){.path = "/bin/pwd", .argv = ARGV("pwd"), .cwd = "/nope/dir"}, &o);
    expect_start_error(&o, "cannot run /bin/pwd in /nope/dir: No such file or directory");
    outcome_free(&o);
}

static void test_programmer_errors(void **state)
{
    struct event_base *base = event_base_new();
    assert_non_null(base);
    struct outcome o;
    memset(&o, 0, sizeof(o));
    struct jw_child_spec ok = {.path = "/bin/true", .argv = ARGV("true")};
    assert_null(jw_child_start(NULL, &ok, on_done, &o));
    assert_null(jw_child_start(base, NULL, on_done, &o));
    assert_null(jw_child_start(base, &ok, NULL, &o));
    assert_null(jw_child_start(base, &(struct jw_child_spec){.argv = ARGV("true")}, on_done, &o));
    assert_null(jw_child_start(base, &(struct jw_child_spec){.path = "/bin/true"}, on_done, &o));
    assert_null(jw_child_start(
        base, &(struct jw_child_spec){.path = "/bin/true", .argv = (const char *const[]){NULL}}, on_done,
        &o));
    jw_child_cancel(NULL);
    assert_int_equal(event_base_dispatch(base), 1);
    event_base_free(base);
    assert_int_equal(o.calls, 0);
}

/* A waitpid(-1) elsewhere in the process steals the status: reported as
 * lost, not waited for forever. */
static void test_reaped_elsewhere(void **state)
{
    struct outcome o;
    memset(&o, 0, sizeof(o));
    struct event_base *base = event_base_new();
    assert_non_null(base);
    (void)start(base, &(struct jw_child_spec){.path = "/bin/true", .argv = ARGV("true")}, &o);
    int status;
    pid_t pid = waitpid(-1, &status, 0);
    assert_true(pid > 0);
    assert_int_equal(event_base_dispatch(base), 1);
    event_base_free(base);
    assert_int_equal(o.calls, 1);
    char want[96];
    snprintf(want, sizeof(want), "exit status of pid %d lost: it was reaped elsewhere", (int)pid);
    assert_non_null(o.error);
    assert_string_equal(o.error, want);
    assert_int_equal(o.exit_code, -1);
    assert_int_equal(o.signal, 0);
    outcome_free(&o);
}

/* ---- timeouts and grandchildren ------------------------------------------------ */

static void test_timeout(void **state)
{
    struct outcome o;
    int64_t t0 = jw_time_mono_ms();
    run(&(struct jw_child_spec){.path = "/bin/sleep", .argv = ARGV("sleep", "10"), .timeout_ms = 200}, &o);
    int64_t took = jw_time_mono_ms() - t0;
    assert_true(o.timed_out);
    assert_null(o.error);
    assert_int_equal(o.exit_code, -1);
    assert_int_equal(o.signal, SIGKILL);
    assert_true(o.duration_ms >= 190);
    assert_true(took < 3000);
    outcome_free(&o);
}

/* The shell's background sleep is in the child's process group: killed too. */
static void test_timeout_kills_grandchildren(void **state)
{
    struct outcome o;
    int64_t t0 = jw_time_mono_ms();
    run(&(struct jw_child_spec){SH("sleep 10 & echo $!; sleep 10"), .timeout_ms = 200, .max_output = 100},
        &o);
    int64_t took = jw_time_mono_ms() - t0;
    assert_true(o.timed_out);
    assert_int_equal(o.signal, SIGKILL);
    assert_true(took < 3000);
    assert_true(pid_dead(first_number(o.out)));
    outcome_free(&o);
}

/* The child exits but a grandchild holds stdout: reported ~200 ms after the
 * exit, with the exit status, and the grandchild is killed. */
static void test_grandchild_holding_pipes(void **state)
{
    struct outcome o;
    int64_t t0 = jw_time_mono_ms();
    run(&(struct jw_child_spec){SH("sleep 10 & echo $!; exit 4"), .max_output = 100}, &o);
    int64_t took = jw_time_mono_ms() - t0;
    expect_clean_exit(&o, 4);
    assert_true(o.duration_ms >= 150);
    assert_true(took < 3000);
    assert_true(pid_dead(first_number(o.out)));
    outcome_free(&o);

    /* one that let go of the pipes is reported at once, and killed as well */
    t0 = jw_time_mono_ms();
    run(&(struct jw_child_spec){SH("sleep 10 >/dev/null 2>&1 & echo $!"), .max_output = 100}, &o);
    took = jw_time_mono_ms() - t0;
    expect_clean_exit(&o, 0);
    assert_true(took < 3000);
    assert_true(pid_dead(first_number(o.out)));
    outcome_free(&o);
}

/* ---- cancel ---------------------------------------------------------------------- */

struct cancel_ctx {
    struct jw_child *child;
};

static void on_cancel_timer(evutil_socket_t fd, short what, void *arg)
{
    struct cancel_ctx *k = arg;
    jw_child_cancel(k->child);
}

static void test_cancel_running(void **state)
{
    char tmpl[] = "/tmp/jw-child-pids-XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    assert_int_equal(close(fd), 0);
    char script[256];
    snprintf(script, sizeof(script), "sleep 10 & echo $$ $! > %s; wait", tmpl);

    struct outcome o;
    memset(&o, 0, sizeof(o));
    struct event_base *base = event_base_new();
    assert_non_null(base);
    struct cancel_ctx k;
    k.child = start(base, &(struct jw_child_spec){SH(script), .timeout_ms = 10000, .max_output = 100}, &o);
    struct event *tick = evtimer_new(base, on_cancel_timer, &k);
    assert_non_null(tick);
    struct timeval tv = {0, 300 * 1000};
    assert_int_equal(evtimer_add(tick, &tv), 0);
    int64_t t0 = jw_time_mono_ms();
    assert_int_equal(event_base_dispatch(base), 1); /* ends once the pid is reaped */
    int64_t took = jw_time_mono_ms() - t0;
    event_free(tick);
    event_base_free(base);
    assert_int_equal(o.calls, 0);
    assert_true(took < 3000);

    long sh = 0, bg = 0;
    FILE *f = fopen(tmpl, "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%ld %ld", &sh, &bg), 2);
    fclose(f);
    assert_int_equal(unlink(tmpl), 0);
    /* our child was reaped by us (no zombie left), its background job killed */
    assert_int_equal(waitpid((pid_t)sh, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
    assert_true(pid_dead(bg));
}

static void test_cancel_at_once(void **state)
{
    struct outcome o;
    memset(&o, 0, sizeof(o));
    struct event_base *base = event_base_new();
    assert_non_null(base);
    char *in = pattern(MIB);
    jw_child_cancel(start(base,
                          &(struct jw_child_spec){.path = "/bin/cat",
                                                  .argv = ARGV("cat"),
                                                  .stdin_data = in,
                                                  .stdin_len = MIB,
                                                  .timeout_ms = 5000,
                                                  .max_output = 100},
                          &o));
    free(in);
    jw_child_cancel(start(base, &(struct jw_child_spec){.path = "/nope/missing", .argv = ARGV("x")}, &o));
    assert_int_equal(event_base_dispatch(base), 1);
    event_base_free(base);
    assert_int_equal(o.calls, 0);
}

/* ---- the waitpid poll where pidfd_open is missing -------------------------------- */

/* In a forked process: make pidfd_open fail with ENOSYS (as on Linux < 5.3),
 * then run children. Exit status: 0 when all went as expected. */
static int poll_fallback_child(void)
{
#if defined(__x86_64__)
    const unsigned arch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
    const unsigned arch = AUDIT_ARCH_AARCH64;
#else
    const unsigned arch = 0;
#endif
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_pidfd_open, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]), .filter = code};
    /* valgrind does not know pidfd_open: ENOSYS there already */
    if (!RUNNING_ON_VALGRIND && (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
                                 syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0))
        return 10;
    if (syscall(SYS_pidfd_open, getpid(), 0) >= 0 || errno != ENOSYS)
        return 11;

    struct outcome o[3];
    memset(o, 0, sizeof(o));
    struct event_base *base = event_base_new();
    if (!base)
        return 12;
    struct jw_child_spec exit5 = {SH("echo hi; exit 5"), .max_output = 100};
    struct jw_child_spec slow = {.path = "/bin/sleep", .argv = ARGV("sleep", "10"), .timeout_ms = 200};
    struct jw_child_spec cancelled = {.path = "/bin/sleep", .argv = ARGV("sleep", "10")};
    if (!jw_child_start(base, &exit5, on_done, &o[0]) || !jw_child_start(base, &slow, on_done, &o[1]))
        return 13;
    struct jw_child *c = jw_child_start(base, &cancelled, on_done, &o[2]);
    if (!c)
        return 14;
    jw_child_cancel(c);
    if (event_base_dispatch(base) != 1)
        return 15;
    event_base_free(base);
    if (o[0].calls != 1 || o[0].exit_code != 5 || o[0].error || strcmp(o[0].out, "hi\n") != 0)
        return 16;
    if (o[1].calls != 1 || !o[1].timed_out || o[1].signal != SIGKILL)
        return 17;
    if (o[2].calls != 0)
        return 18;
    for (int i = 0; i < 3; i++)
        outcome_free(&o[i]);
    return 0;
}

static void test_poll_fallback(void **state)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(poll_fallback_child());
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("the polling child failed: status %#x (exit code %d)", status,
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as main.c does */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stdout_and_stderr),
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_signal_death),
        cmocka_unit_test(test_child_signals_default),
        cmocka_unit_test(test_many_at_once),
        cmocka_unit_test(test_stdin_round_trip),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_stdin_empty_and_unread),
        cmocka_unit_test(test_env_exact),
        cmocka_unit_test(test_argv_passed),
        cmocka_unit_test(test_cwd),
        cmocka_unit_test(test_path_lookup),
        cmocka_unit_test(test_no_fd_leak),
        cmocka_unit_test(test_missing_executable),
        cmocka_unit_test(test_programmer_errors),
        cmocka_unit_test(test_reaped_elsewhere),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_timeout_kills_grandchildren),
        cmocka_unit_test(test_grandchild_holding_pipes),
        cmocka_unit_test(test_cancel_running),
        cmocka_unit_test(test_cancel_at_once),
        cmocka_unit_test(test_poll_fallback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
