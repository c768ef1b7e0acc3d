/* embedded: start, supervise and stop the embedded redis-server child. */
#include "jobwheel/embedded.h"
#include "jobwheel/fs.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jobwheel/buf.h"
#include "jobwheel/log.h"

struct jw_embedded {
    struct event_base *base;
    char *bin, *dir, *sock, *url, *logfile;
    pid_t pid;
    int lock_fd;
    bool stopping;
    struct event *sigchld;
    struct event *restart;
};

static int spawn(struct jw_embedded *e)
{
    pid_t pid = fork();
    if (pid < 0) {
        jw_error("embedded redis: fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        /* die with jobwheel, even on kill -9; keep out of the terminal's
         * process group so Ctrl-C reaches only jobwheel, which then stops
         * Redis after draining */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        setpgid(0, 0);
        if (getppid() == 1)
            _exit(1);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execlp(e->bin, e->bin, "--port", "0", "--unixsocket", e->sock, "--unixsocketperm", "700", "--dir",
               e->dir, "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--daemonize", "no",
               "--logfile", e->logfile, "--protected-mode", "yes", (char *)NULL);
        fprintf(stderr, "jobwheel: cannot run %s: %s\n", e->bin, strerror(errno));
        _exit(127);
    }
    e->pid = pid;
    jw_info("embedded redis: started %s (pid %d), socket %s", e->bin, (int)pid, e->sock);
    return 0;
}

static void on_restart(evutil_socket_t fd, short what, void *arg)
{
    struct jw_embedded *e = arg;
    if (!e->stopping && e->pid <= 0)
        (void)spawn(e);
}

static void on_sigchld(evutil_socket_t fd, short what, void *arg)
{
    struct jw_embedded *e = arg;
    int status;
    /* only our own child: job processes are reaped by exec/child.c */
    if (e->pid > 0 && waitpid(e->pid, &status, WNOHANG) == e->pid) {
        e->pid = 0;
        if (e->stopping)
            return;
        if (WIFEXITED(status))
            jw_error("embedded redis exited with status %d (see %s); restarting", WEXITSTATUS(status),
                     e->logfile);
        else
            jw_error("embedded redis killed by signal %d; restarting", WTERMSIG(status));
        struct timeval tv = {1, 0};
        event_add(e->restart, &tv);
    }
}

struct jw_embedded *jw_embedded_start(struct event_base *base, const char *redis_server, const char *data_dir,
                                      char *err, size_t errlen)
{
    if (jw_mkdir_p(data_dir, 0700) != 0) {
        snprintf(err, errlen, "data_dir: cannot create %s: %s", data_dir, strerror(errno));
        return NULL;
    }
    char abs[PATH_MAX];
    if (!realpath(data_dir, abs)) {
        snprintf(err, errlen, "data_dir: %s: %s", data_dir, strerror(errno));
        return NULL;
    }
    struct jw_embedded *e = jw_calloc(1, sizeof(*e));
    e->base = base;
    e->lock_fd = -1;
    struct jw_buf b = JW_BUF_INIT;
    jw_buf_printf(&b, "%s/redis.sock", abs);
    e->sock = jw_buf_detach(&b);
    if (strlen(e->sock) >= 100) {
        snprintf(err, errlen, "data_dir: the path %s is too long for a unix socket", abs);
        jw_embedded_stop(e);
        return NULL;
    }
    jw_buf_printf(&b, "unix://%s", e->sock);
    e->url = jw_buf_detach(&b);
    jw_buf_printf(&b, "%s/redis.log", abs);
    e->logfile = jw_buf_detach(&b);
    e->dir = jw_strdup(abs);
    e->bin = jw_strdup(redis_server);

    jw_buf_printf(&b, "%s/jobwheel.lock", abs);
    e->lock_fd = open(jw_buf_str(&b), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    jw_buf_free(&b);
    if (e->lock_fd < 0 || flock(e->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, errlen,
                 "data_dir: %s is in use by another jobwheel with an embedded Redis "
                 "(set redis_url to share one Redis between instances)",
                 abs);
        jw_embedded_stop(e);
        return NULL;
    }
    e->sigchld = evsignal_new(base, SIGCHLD, on_sigchld, e);
    e->restart = evtimer_new(base, on_restart, e);
    if (!e->sigchld || event_add(e->sigchld, NULL) != 0 || spawn(e) != 0) {
        snprintf(err, errlen, "redis_server: cannot start %s", redis_server);
        jw_embedded_stop(e);
        return NULL;
    }
    return e;
}

const char *jw_embedded_url(const struct jw_embedded *e)
{
    return e->url;
}

void jw_embedded_stop(struct jw_embedded *e)
{
    if (!e)
        return;
    e->stopping = true;
    if (e->pid > 0) {
        kill(e->pid, SIGTERM);
        int status;
        for (int i = 0; i < 1000; i++) { /* shutdown time: the loop has stopped */
            pid_t p = waitpid(e->pid, &status, WNOHANG);
            if (p == e->pid || (p < 0 && errno == ECHILD))
                break;
            usleep(10000);
            if (i == 999) {
                jw_warn("embedded redis did not stop in 10 s: killing it");
                kill(e->pid, SIGKILL);
                waitpid(e->pid, &status, 0);
            }
        }
        jw_info("embedded redis: stopped");
    }
    if (e->sigchld)
        event_free(e->sigchld);
    if (e->restart)
        event_free(e->restart);
    if (e->lock_fd >= 0)
        close(e->lock_fd);
    free(e->bin);
    free(e->dir);
    free(e->sock);
    free(e->url);
    free(e->logfile);
    free(e);
}
