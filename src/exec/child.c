/* child: one child process and everything it owns — its pipes and their
 * events, the stdin copy, the captured output, the timers and the exit
 * watcher (pidfd or poll timer) — from jw_child_start until it has been
 * reported (or cancelled) and its pid reaped (see include/jobwheel/child.h).
 *
 * Life of a child: spawned in its own process group with pipes on 0, 1, 2;
 * stdin is written as the pipe accepts it, stdout/stderr read as they come.
 * When the exit watcher reaps the pid and both output pipes are at EOF, the
 * group is killed (nothing a run started outlives it) and the result is
 * reported. A timeout kills the group and waits for the exit; a grandchild
 * holding the pipes, or a pid that will not die, gets LINGER_MS, then the
 * report goes out anyway. A child reported or cancelled before its pid was
 * reaped is "detached": everything but the exit watcher is freed, and the
 * watcher frees the rest once the pid is reaped. */
#include "jobwheel/child.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jobwheel/buf.h"
#include "jobwheel/log.h"
#include "jobwheel/time.h"

#define LINGER_MS 200 /* after the exit (or timeout), how long pipes may stay open */
#define POLL_MS 20    /* exit polling period when the kernel has no pidfd_open */
#define READ_CHUNK 16384
#define DRAIN_READS 64 /* reads at most per stream when the report goes out */

struct stream {
    int fd; /* our read end; -1 once at EOF */
    struct event *ev;
    struct jw_buf buf; /* at most max_output bytes of it */
    bool truncated;
};

struct jw_child {
    struct event_base *base;
    jw_child_fn fn;
    void *arg;
    pid_t pid;             /* also the process group id; 0 when never started */
    int pidfd;             /* -1 when polling (or closed) */
    struct event *exit_ev; /* pidfd readable, or the poll timer */
    bool reaped;           /* the pid is no longer ours: status collected, lost, or never started */
    bool detached;         /* reported or cancelled: waits only for the reap, then frees itself */
    int exit_code, signal;
    char *error;
    bool timed_out;
    size_t max_output;
    struct stream out, err;
    int in_fd; /* our write end of the child's stdin; -1 once closed */
    struct event *in_ev;
    char *in_data; /* our copy of stdin_data */
    size_t in_len, in_off;
    struct event *timeout; /* spec->timeout_ms */
    struct event *linger;  /* LINGER_MS after the exit or the timeout */
    bool linger_armed;
    struct event *later; /* reports a failed start from the loop */
    int64_t t0_us;
};

static bool no_pidfd; /* pidfd_open said ENOSYS once: poll from then on */

static void on_exit_ev(evutil_socket_t fd, short what, void *arg);

/* ---- small helpers ------------------------------------------------------------ */

/* Event allocation fails only when memory does: abort, as jw_malloc does. */
static struct event *new_event(struct event_base *base, int fd, short what, event_callback_fn cb, void *arg)
{
    struct event *ev = event_new(base, fd, what, cb, arg);
    if (!ev)
        abort();
    return ev;
}

static void add_event(struct event *ev, int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000 * 1000)};
    if (event_add(ev, ms >= 0 ? &tv : NULL) != 0)
        abort();
}

static void free_event(struct event **ev)
{
    if (*ev)
        event_free(*ev);
    *ev = NULL;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        (void)close(*fd); /* a pipe end: nothing to flush, nothing to learn */
    *fd = -1;
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* The child's ends must not be 0, 1 or 2 (possible when ours are closed):
 * the dup2 onto one of them would clobber another end before its turn. */
static int above_stdio(int *fd)
{
    if (*fd > 2)
        return 0;
    int moved = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
    if (moved < 0)
        return -1;
    close_fd(fd);
    *fd = moved;
    return 0;
}

/* SIGKILL everything in the child's process group. After the reap the group
 * is normally empty (ESRCH); its id cannot be reused while a member lives. */
static void kill_group(struct jw_child *c)
{
    if (c->pid > 0 && killpg(c->pid, SIGKILL) != 0 && errno != ESRCH)
        jw_warn("child %d: cannot kill its process group: %s", (int)c->pid, strerror(errno));
}

/* ---- the exit watcher ------------------------------------------------------------- */

/* Collect the exit status without blocking. True when the pid is gone. */
static bool reap(struct jw_child *c)
{
    if (c->reaped)
        return true;
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    int rc = c->pidfd >= 0 ? waitid(P_PIDFD, (id_t)c->pidfd, &si, WEXITED | WNOHANG)
                           : waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOHANG);
    if (rc != 0) {
        if (errno == EINTR)
            return false;
        /* ECHILD: someone else reaped it (a waitpid(-1) elsewhere) */
        c->reaped = true;
        c->exit_code = -1;
        if (!c->error) {
            struct jw_buf b = JW_BUF_INIT;
            jw_buf_printf(&b, "exit status of pid %d lost: %s", (int)c->pid,
                          errno == ECHILD ? "it was reaped elsewhere" : strerror(errno));
            c->error = jw_buf_detach(&b);
        }
        return true;
    }
    if (si.si_pid == 0)
        return false; /* still running */
    c->reaped = true;
    if (si.si_code == CLD_EXITED) {
        c->exit_code = si.si_status;
    } else { /* CLD_KILLED, CLD_DUMPED */
        c->exit_code = -1;
        c->signal = si.si_status;
    }
    return true;
}

static void watch_exit(struct jw_child *c)
{
    if (!no_pidfd) {
        c->pidfd = pidfd_open(c->pid, 0); /* O_CLOEXEC by itself */
        if (c->pidfd < 0 && errno == ENOSYS)
            no_pidfd = true;
    }
    if (c->pidfd >= 0) {
        c->exit_ev = new_event(c->base, c->pidfd, EV_READ, on_exit_ev, c);
        add_event(c->exit_ev, -1);
    } else { /* no pidfd (old kernel, or out of fds): poll waitid(P_PID, WNOHANG) */
        c->exit_ev = new_event(c->base, -1, EV_PERSIST, on_exit_ev, c);
        add_event(c->exit_ev, POLL_MS);
    }
}

static void stop_exit_watch(struct jw_child *c)
{
    free_event(&c->exit_ev);
    close_fd(&c->pidfd);
}

/* ---- freeing ---------------------------------------------------------------------- */

static void close_stdin(struct jw_child *c)
{
    free_event(&c->in_ev);
    close_fd(&c->in_fd);
    free(c->in_data);
    c->in_data = NULL;
}

static void close_stream(struct stream *s)
{
    free_event(&s->ev);
    close_fd(&s->fd);
}

/* Everything but the exit watcher; may run twice. */
static void release(struct jw_child *c)
{
    close_stdin(c);
    close_stream(&c->out);
    close_stream(&c->err);
    jw_buf_free(&c->out.buf);
    jw_buf_free(&c->err.buf);
    free_event(&c->timeout);
    free_event(&c->linger);
    free_event(&c->later);
    free(c->error);
    c->error = NULL;
}

static void child_free(struct jw_child *c)
{
    release(c);
    stop_exit_watch(c);
    free(c);
}

/* Reported or cancelled: free now if the pid is reaped, else when it is. */
static void retire(struct jw_child *c)
{
    if (c->reaped) {
        child_free(c);
        return;
    }
    release(c);
    c->detached = true;
}

/* ---- output ----------------------------------------------------------------------- */

/* One read: 1 when data came, 0 at EOF (or an error: nothing more will come),
 * -1 when the pipe is empty for now. Bytes past max_output are dropped. */
static int read_stream(struct jw_child *c, struct stream *s)
{
    char chunk[READ_CHUNK];
    ssize_t n = read(s->fd, chunk, sizeof(chunk));
    if (n > 0) {
        size_t room = c->max_output > s->buf.len ? c->max_output - s->buf.len : 0;
        size_t keep = (size_t)n < room ? (size_t)n : room;
        if (keep > 0)
            jw_buf_append(&s->buf, chunk, keep);
        if (keep < (size_t)n)
            s->truncated = true;
        return 1;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return -1;
    close_stream(s);
    return 0;
}

/* What is already in the pipe, without waiting for more. */
static void drain(struct jw_child *c, struct stream *s)
{
    for (int i = 0; i < DRAIN_READS && s->fd >= 0; i++)
        if (read_stream(c, s) != 1)
            break;
}

/* ---- reporting -------------------------------------------------------------------- */

static void finish(struct jw_child *c)
{
    kill_group(c);
    drain(c, &c->out);
    drain(c, &c->err);
    (void)reap(c); /* one last chance, when the report goes out before the exit */
    int64_t us = jw_time_mono_us() - c->t0_us;
    struct jw_child_result r = {
        .exit_code = c->reaped ? c->exit_code : -1,
        .signal = c->signal,
        .timed_out = c->timed_out,
        .error = c->error,
        .out = jw_buf_str(&c->out.buf),
        .out_len = c->out.buf.len,
        .out_truncated = c->out.truncated,
        .err = jw_buf_str(&c->err.buf),
        .err_len = c->err.buf.len,
        .err_truncated = c->err.truncated,
        .duration_ms = us > 0 ? (us + 500) / 1000 : 0,
    };
    c->fn(c->arg, &r);
    retire(c);
}

static void arm_linger(struct jw_child *c)
{
    if (c->linger_armed)
        return; /* the first deadline stands */
    c->linger_armed = true;
    add_event(c->linger, LINGER_MS);
}

/* Something changed: report when the pid is reaped and both pipes are at EOF. */
static void progress(struct jw_child *c)
{
    if (!c->reaped)
        return;
    if (c->out.fd < 0 && c->err.fd < 0)
        finish(c);
    else
        arm_linger(c);
}

/* ---- event callbacks -------------------------------------------------------------- */

static void on_exit_ev(evutil_socket_t fd, short what, void *arg)
{
    struct jw_child *c = arg;
    if (!reap(c)) {
        if (c->pidfd >= 0)
            add_event(c->exit_ev, -1); /* spurious: watch again (the poll timer persists) */
        return;
    }
    stop_exit_watch(c);
    if (c->detached)
        child_free(c);
    else
        progress(c);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    struct jw_child *c = arg;
    struct stream *s = fd == c->out.fd ? &c->out : &c->err;
    if (read_stream(c, s) == 0)
        progress(c);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    struct jw_child *c = arg;
    ssize_t n = write(c->in_fd, c->in_data + c->in_off, c->in_len - c->in_off);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n < 0) { /* EPIPE: the child closed its stdin (SIGPIPE is ignored) */
        close_stdin(c);
        return;
    }
    c->in_off += (size_t)n;
    if (c->in_off == c->in_len)
        close_stdin(c);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct jw_child *c = arg;
    c->timed_out = true;
    kill_group(c);
    close_stdin(c);
    if (c->reaped)
        finish(c); /* exited already, and something holds the pipes */
    else
        arm_linger(c); /* the exit follows the SIGKILL at once, normally */
}

static void on_linger(evutil_socket_t fd, short what, void *arg)
{
    finish(arg);
}

static void on_later(evutil_socket_t fd, short what, void *arg)
{
    finish(arg);
}

/* ---- starting --------------------------------------------------------------------- */

/* Spawn the child with pipes on 0, 1, 2 and our ends in c. 0, or -1 with c->error. */
static int spawn(struct jw_child *c, const struct jw_child_spec *spec)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
    const char *what = "pipe";
    int rc = 0;
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0 ||
        above_stdio(&in[0]) != 0 || above_stdio(&out[1]) != 0 || above_stdio(&err[1]) != 0 ||
        set_nonblock(in[1]) != 0 || set_nonblock(out[0]) != 0 || set_nonblock(err[0]) != 0)
        rc = errno;

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    bool have_fa = false, have_at = false;
    if (rc == 0) {
        what = "posix_spawn setup";
        rc = posix_spawn_file_actions_init(&fa);
        have_fa = rc == 0;
    }
    if (rc == 0) {
        rc = posix_spawnattr_init(&at);
        have_at = rc == 0;
    }
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    if (rc == 0 && spec->cwd)
        rc = posix_spawn_file_actions_addchdir_np(&fa, spec->cwd);
    if (rc == 0) /* fds someone opened without O_CLOEXEC must not leak into jobs */
        rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    sigset_t all, none; /* signals we ignore (SIGPIPE) must not stay ignored in the child */
    if (rc == 0 && (sigfillset(&all) != 0 || sigemptyset(&none) != 0))
        rc = errno;
    if (rc == 0)
        rc = posix_spawnattr_setflags(&at,
                                      POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    if (rc == 0)
        rc = posix_spawnattr_setpgroup(&at, 0);
    if (rc == 0)
        rc = posix_spawnattr_setsigdefault(&at, &all);
    if (rc == 0)
        rc = posix_spawnattr_setsigmask(&at, &none);
    if (rc == 0) {
        static char *const no_env[] = {NULL};
        what = NULL;
        /* posix_spawnp takes argv and envp as char *const[] but does not write them */
        rc = posix_spawnp(&c->pid, spec->path, &fa, &at, (char *const *)spec->argv,
                          spec->env ? (char *const *)spec->env : no_env);
        if (rc != 0)
            c->pid = 0;
    }
    if (have_fa)
        (void)posix_spawn_file_actions_destroy(&fa); /* only frees */
    if (have_at)
        (void)posix_spawnattr_destroy(&at);
    close_fd(&in[0]);
    close_fd(&out[1]);
    close_fd(&err[1]);
    if (rc != 0) {
        close_fd(&in[1]);
        close_fd(&out[0]);
        close_fd(&err[0]);
        struct jw_buf b = JW_BUF_INIT;
        jw_buf_printf(&b, "cannot run %s", spec->path);
        if (spec->cwd)
            jw_buf_printf(&b, " in %s", spec->cwd);
        if (what)
            jw_buf_printf(&b, " (%s)", what);
        jw_buf_printf(&b, ": %s", strerror(rc));
        c->error = jw_buf_detach(&b);
        return -1;
    }
    c->in_fd = in[1];
    c->out.fd = out[0];
    c->err.fd = err[0];
    return 0;
}

struct jw_child *jw_child_start(struct event_base *base, const struct jw_child_spec *spec, jw_child_fn fn,
                                void *arg)
{
    if (!base || !spec || !spec->path || !spec->argv || !spec->argv[0] || !fn)
        return NULL;
    struct jw_child *c = jw_calloc(1, sizeof(*c));
    c->base = base;
    c->fn = fn;
    c->arg = arg;
    c->pidfd = c->in_fd = c->out.fd = c->err.fd = -1;
    c->max_output = spec->max_output;
    c->t0_us = jw_time_mono_us();
    c->linger = new_event(base, -1, 0, on_linger, c);
    c->later = new_event(base, -1, 0, on_later, c);

    if (spawn(c, spec) != 0) {
        c->reaped = true; /* nothing to reap */
        c->exit_code = -1;
        add_event(c->later, 0);
        return c;
    }
    c->out.ev = new_event(base, c->out.fd, EV_READ | EV_PERSIST, on_read, c);
    c->err.ev = new_event(base, c->err.fd, EV_READ | EV_PERSIST, on_read, c);
    add_event(c->out.ev, -1);
    add_event(c->err.ev, -1);
    if (spec->stdin_data && spec->stdin_len > 0) {
        c->in_data = jw_malloc(spec->stdin_len);
        memcpy(c->in_data, spec->stdin_data, spec->stdin_len);
        c->in_len = spec->stdin_len;
        c->in_ev = new_event(base, c->in_fd, EV_WRITE | EV_PERSIST, on_write, c);
        add_event(c->in_ev, -1);
    } else {
        close_fd(&c->in_fd); /* empty stdin: EOF at once */
    }
    watch_exit(c);
    if (spec->timeout_ms > 0) {
        c->timeout = new_event(base, -1, 0, on_timeout, c);
        add_event(c->timeout, spec->timeout_ms);
    }
    return c;
}

void jw_child_cancel(struct jw_child *c)
{
    if (!c)
        return;
    kill_group(c);
    retire(c);
}
