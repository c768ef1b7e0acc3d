/* child: run a child process from the loop without ever blocking it, and
 * report its outcome by callback. Used for CodeExecution jobs (a user
 * command) and FileOperation jobs (`jobwheel file-op ROOT`, config on stdin).
 *
 * The child runs in its own process group, so a timeout or a cancel kills
 * everything it started. stdin is fed from memory, stdout and stderr are
 * captured up to a cap each. Exit is watched through a pidfd (a 20 ms
 * waitpid(pid, WNOHANG) poll where the kernel has none): this module never
 * installs a SIGCHLD handler and never reaps a pid it did not start. (A
 * waitpid(-1) elsewhere would steal the status: reported as an error.)
 * The process must ignore SIGPIPE (main.c does); the child gets every signal
 * back at its default disposition and an empty signal mask. */
#ifndef JOBWHEEL_CHILD_H
#define JOBWHEEL_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct jw_child;

/* Everything here is copied by jw_child_start: it may be freed right after. */
struct jw_child_spec {
    const char *path;        /* an absolute path, or a name looked up in our PATH (posix_spawnp) */
    const char *const *argv; /* argv[0..], NULL-terminated, argv[0] required */
    const char *const *env;  /* "K=V", NULL-terminated: the child gets exactly these (NULL: none) */
    const char *cwd;         /* working directory, or NULL to inherit ours */
    const char *stdin_data;  /* written to the child's stdin, then closed; NULL: empty stdin */
    size_t stdin_len;
    int64_t timeout_ms; /* for everything; then the process group is killed (<= 0: no limit) */
    size_t max_output;  /* bytes kept per stream; the rest is read and dropped */
};

struct jw_child_result {
    int exit_code;     /* 0..255 when it exited; -1 when killed by a signal, never started or lost */
    int signal;        /* the signal that ended it, or 0 */
    bool timed_out;    /* the timeout passed and the process group was killed */
    const char *error; /* why it could not be started, or why its status is unknown; else NULL */
    const char *out;   /* stdout, NUL-terminated (never NULL) */
    size_t out_len;
    bool out_truncated;
    const char *err; /* stderr, NUL-terminated (never NULL) */
    size_t err_len;
    bool err_truncated;
    int64_t duration_ms; /* from jw_child_start to the report */
};

/* Called exactly once, from the loop (never inside jw_child_start, also not
 * when the start failed), unless the child is cancelled first. The result
 * is valid during the call only; after it the jw_child is gone. It is called
 * once the process has exited and stdout and stderr reached end-of-file, or
 * at most 200 ms after the exit if something it started holds them open;
 * then, or after the timeout, the whole process group is killed. */
typedef void (*jw_child_fn)(void *arg, const struct jw_child_result *r);

/* Start the child. Returns NULL only on a programmer error (a NULL base,
 * spec, path, argv, argv[0] or fn); a child that cannot be started is
 * reported through fn with error set. */
struct jw_child *jw_child_start(struct event_base *base, const struct jw_child_spec *spec, jw_child_fn fn,
                                void *arg);

/* Kill the process group (SIGKILL) and free everything; fn is not called.
 * The pid is reaped from the loop a moment later, never by blocking. Not to
 * be called from fn or after fn was called. NULL is ignored. */
void jw_child_cancel(struct jw_child *c);

#endif
