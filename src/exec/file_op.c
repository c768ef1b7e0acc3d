/* file_op: FileOperation jobs, each tenant's in its own directory under the
 * file root — the path walk that never follows a symlink, the tenant's
 * quota, the six operations, and the `jobwheel file-op` child's entry
 * point (see include/jobwheel/file_op.h). */
#include "jobwheel/file_op.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "jobwheel/error.h"
#include "jobwheel/job.h"

#define COPY_CHUNK (64 * 1024)

/* A path in messages: "%.*s", P(p). Without its trailing "/", if any. */
#define P(p) (p)->len, (p)->rel

/* One operation's context: the tenant's directory, its quota, and where
 * messages go. */
struct fo {
    int rootfd; /* the tenant's directory: every path starts here */
    int64_t max_bytes, max_entries;
    char *err;
    size_t errlen;
};

/* A path split into its parent directory, opened by the walk, and its last
 * component, on which the operation acts with the *at() calls. */
struct fo_path {
    const char *rel;         /* as configured, for results ("" for the root) */
    int len;                 /* rel's length without a trailing "/", for messages */
    int dirfd;               /* the parent directory (owned); -1 once closed */
    char name[NAME_MAX + 1]; /* the last component; "" when rel names the root */
};

static int fo_fail(struct fo *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fo_fail(struct fo *f, const char *fmt, ...)
{
    if (f->errlen == 0)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(f->err, f->errlen, fmt, ap);
    va_end(ap);
    if (n >= (int)f->errlen) {
        /* cut short (a long path): do not leave half a UTF-8 character */
        size_t end = f->errlen - 1, i = end;
        while (i > 0 && ((unsigned char)f->err[i - 1] & 0xC0) == 0x80)
            i--;
        if (i > 0 && (unsigned char)f->err[i - 1] >= 0xC0) {
            unsigned char c = (unsigned char)f->err[i - 1];
            size_t want = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
            if (end - (i - 1) < want)
                f->err[i - 1] = '\0';
        }
    }
    return -1;
}

/* A failed system call on the first n bytes of rel, said for a client. */
static int fo_errno(struct fo *f, int e, const char *verb, const char *rel, int n)
{
    switch (e) {
    case ENOENT: return fo_fail(f, "no such file: %.*s", n, rel);
    case EACCES:
    case EPERM: return fo_fail(f, "permission denied: %.*s", n, rel);
    case ENOSPC:
    case EDQUOT: return fo_fail(f, "no space left to %s %.*s", verb, n, rel);
    case EROFS: return fo_fail(f, "read-only file system: cannot %s %.*s", verb, n, rel);
    case ENAMETOOLONG: return fo_fail(f, "name too long: %.*s", n, rel);
    default: return fo_fail(f, "cannot %s %.*s: %s", verb, n, rel, strerror(e));
    }
}

static int fo_errno_path(struct fo *f, int e, const char *verb, const struct fo_path *p)
{
    return fo_errno(f, e, verb, p->rel, p->len);
}

/* ---- the walk ---------------------------------------------------------- */

/* Re-check what validation already did, and what it lets through: the path
 * is relative, and every component is a plain name. One trailing "/" is
 * ignored; *len is the length without it. */
static int fo_check_rel(struct fo *f, const char *rel, size_t *len)
{
    size_t n = strlen(rel);
    if (n == 0)
        return fo_fail(f, "empty path: refused");
    if (rel[0] == '/')
        return fo_fail(f, "absolute path refused: paths are relative to the file root"); /* not echoed */
    if (n > 1 && rel[n - 1] == '/')
        n--;
    for (size_t start = 0; start <= n;) {
        const char *s = rel + start;
        const char *e = memchr(s, '/', n - start);
        size_t k = e ? (size_t)(e - s) : n - start;
        if (k == 0)
            return fo_fail(f, "%s has an empty path component: refused", rel);
        if (k == 2 && s[0] == '.' && s[1] == '.')
            return fo_fail(f, "%s has a \"..\" component: refused", rel);
        if (k == 1 && s[0] == '.')
            return fo_fail(f, "%s has a \".\" component: refused", rel);
        if (k > NAME_MAX)
            return fo_fail(f, "name too long: %s", rel);
        start += k + 1;
    }
    *len = n;
    return 0;
}

/* Why name, under dirfd, could not be opened as a directory (e is errno);
 * the first n bytes of rel name it for the client. */
static int fo_not_dir(struct fo *f, int dirfd, const char *name, int e, const char *rel, int n)
{
    struct stat st;
    if (e == ENOENT)
        return fo_fail(f, "no such directory: %.*s", n, rel);
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISLNK(st.st_mode))
            return fo_fail(f, "%.*s is a symbolic link: refused", n, rel);
        if (!S_ISDIR(st.st_mode))
            return fo_fail(f, "%.*s is not a directory", n, rel);
    }
    return fo_errno(f, e, "open directory", rel, n);
}

/* Walk rel (NULL: the root itself) from the root to its last component's
 * parent, one openat(O_NOFOLLOW | O_DIRECTORY) per component, so that no
 * symlink is ever followed and ".." never appears. make_parents creates
 * missing directories on the way. On success p owns the parent's
 * descriptor (fo_path_close); on failure nothing is left open. */
static int fo_resolve(struct fo *f, const char *rel, bool make_parents, struct fo_path *p)
{
    size_t len = 0;
    p->rel = rel ? rel : "";
    p->len = 0;
    p->dirfd = -1;
    p->name[0] = '\0';
    if (rel && fo_check_rel(f, rel, &len) != 0)
        return -1;
    p->len = (int)len;
    int dfd = fcntl(f->rootfd, F_DUPFD_CLOEXEC, 0);
    if (dfd < 0)
        return fo_fail(f, "cannot open the file root: %s", strerror(errno));
    for (size_t start = 0; rel;) {
        const char *s = rel + start;
        const char *e = memchr(s, '/', len - start);
        size_t k = e ? (size_t)(e - s) : len - start;
        if (!e) {
            memcpy(p->name, s, k);
            p->name[k] = '\0';
            break;
        }
        char comp[NAME_MAX + 1];
        memcpy(comp, s, k);
        comp[k] = '\0';
        int next = openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0 && errno == ENOENT && make_parents) {
            if (mkdirat(dfd, comp, 0755) != 0 && errno != EEXIST) {
                int err = errno;
                close(dfd);
                return fo_errno(f, err, "create directory", rel, (int)(start + k));
            }
            next = openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (next < 0) {
            int rc = fo_not_dir(f, dfd, comp, errno, rel, (int)(start + k));
            close(dfd);
            return rc;
        }
        close(dfd);
        dfd = next;
        start += k + 1;
    }
    p->dirfd = dfd;
    return 0;
}

static void fo_path_close(struct fo_path *p)
{
    if (p->dirfd >= 0)
        close(p->dirfd);
    p->dirfd = -1;
}

/* lstat of the last component: 1 when it exists, 0 when it does not, -1
 * (with the message) when it is a symlink or cannot be looked at. */
static int fo_stat_last(struct fo *f, const struct fo_path *p, struct stat *st)
{
    if (fstatat(p->dirfd, p->name, st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT)
            return 0;
        return fo_errno_path(f, errno, "inspect", p);
    }
    if (S_ISLNK(st->st_mode))
        return fo_fail(f, "%.*s is a symbolic link: refused", P(p));
    return 1;
}

/* ---- writing a file atomically ------------------------------------------ */

/* A new temporary file in dirfd, mode 0644 whatever the umask; its name
 * goes to tmp. Short, so that it fits whatever the target's name. */
static int fo_tmp_open(int dirfd, char *tmp, size_t tmplen)
{
    for (int i = 0; i < 64; i++) {
        uint32_t r;
        if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
            r = (uint32_t)getpid() * 2654435761u + (uint32_t)time(NULL) + (uint32_t)i;
        snprintf(tmp, tmplen, ".jw-tmp-%08x", (unsigned)r);
        int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd >= 0) {
            if (fchmod(fd, 0644) != 0) {
                int e = errno;
                close(fd);
                unlinkat(dirfd, tmp, 0);
                errno = e;
                return -1;
            }
            return fd;
        }
        if (errno != EEXIST)
            return -1;
    }
    errno = EEXIST;
    return -1;
}

static int fo_write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Replace p's last component with data (or, when src >= 0, everything read
 * from src, named src_rel in messages): a temporary file beside it, renamed
 * over it, so readers see the old file or the new one, never half of it. */
static int fo_replace(struct fo *f, const struct fo_path *p, const char *data, size_t len, int src,
                      const char *src_rel, int64_t *bytes)
{
    char tmp[32];
    int fd = fo_tmp_open(p->dirfd, tmp, sizeof(tmp));
    if (fd < 0)
        return fo_errno_path(f, errno, "write", p);
    int rc = 0;
    int64_t total = 0;
    if (src < 0) {
        if (fo_write_all(fd, data, len) != 0)
            rc = fo_errno_path(f, errno, "write", p);
        total = (int64_t)len;
    } else {
        char *buf = jw_malloc(COPY_CHUNK);
        for (;;) {
            ssize_t n = read(src, buf, COPY_CHUNK);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                rc = fo_errno(f, errno, "read", src_rel, (int)strlen(src_rel));
                break;
            }
            if (n == 0)
                break;
            if (fo_write_all(fd, buf, (size_t)n) != 0) {
                rc = fo_errno_path(f, errno, "write", p);
                break;
            }
            total += n;
        }
        free(buf);
    }
    if (close(fd) != 0 && rc == 0)
        rc = fo_errno_path(f, errno, "write", p);
    if (rc == 0 && renameat(p->dirfd, tmp, p->dirfd, p->name) != 0)
        rc =
            errno == EISDIR ? fo_fail(f, "%.*s is a directory", P(p)) : fo_errno_path(f, errno, "replace", p);
    if (rc != 0)
        unlinkat(p->dirfd, tmp, 0);
    else
        *bytes = total;
    return rc;
}

/* The target of write or copy: absent, or a regular file to replace. */
static int fo_check_target(struct fo *f, const struct fo_path *p)
{
    struct stat st;
    int rc = fo_stat_last(f, p, &st);
    if (rc <= 0)
        return rc;
    if (S_ISDIR(st.st_mode))
        return fo_fail(f, "%.*s is a directory", P(p));
    if (!S_ISREG(st.st_mode))
        return fo_fail(f, "%.*s is not a regular file: refused", P(p));
    return 0;
}

/* ---- the tenant's quota ------------------------------------------------- */

/* What a tree holds: its entries (files, directories, links, ...) and the
 * bytes of its regular files. */
struct fo_usage {
    int64_t entries, bytes;
};

/* Add what the directory fd (owned: closed here) holds to u, descending
 * into directories (opened with O_NOFOLLOW: a link is counted, never
 * followed), one descriptor per level. Stops once u->entries passes
 * f->max_entries: the tree is over its quota already. */
static int fo_measure(struct fo *f, int fd, int depth, struct fo_usage *u)
{
    if (depth >= JW_FILE_OP_MAX_DEPTH) {
        close(fd);
        return fo_fail(f,
                       "directories nested more than %d deep: the files cannot be measured against the "
                       "quota; delete some",
                       JW_FILE_OP_MAX_DEPTH);
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return fo_fail(f, "cannot measure the files against the quota: %s", strerror(e));
    }
    int rc = 0;
    struct dirent *de;
    errno = 0;
    while (rc == 0 && u->entries <= f->max_entries && (de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        u->entries++;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno != ENOENT) /* else gone since readdir */
                rc = fo_fail(f, "cannot measure the files against the quota: %s", strerror(errno));
        } else if (S_ISREG(st.st_mode)) {
            u->bytes += (int64_t)st.st_size;
        } else if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                rc = fo_measure(f, sub, depth + 1, u);
            else if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP) /* else changed meanwhile */
                rc = fo_fail(f, "cannot measure the files against the quota: %s", strerror(errno));
        }
        errno = 0;
    }
    if (rc == 0 && errno != 0)
        rc = fo_fail(f, "cannot measure the files against the quota: %s", strerror(errno));
    closedir(d);
    return rc;
}

/* What creating (or replacing) rel would add, before anything is touched:
 * *entries the new entries (rel itself, when absent, and with make_parents
 * its missing parent directories), *old_bytes the size of the regular file
 * it would replace. A path the operation will refuse anyway counts as
 * adding rel alone: the operation says why. */
static int fo_probe(struct fo *f, const char *rel, bool make_parents, int64_t *entries, int64_t *old_bytes)
{
    size_t len;
    *entries = 1;
    *old_bytes = 0;
    if (fo_check_rel(f, rel, &len) != 0)
        return -1;
    int dfd = fcntl(f->rootfd, F_DUPFD_CLOEXEC, 0);
    if (dfd < 0)
        return fo_fail(f, "cannot open the tenant's directory: %s", strerror(errno));
    char comp[NAME_MAX + 1];
    for (size_t start = 0;;) {
        const char *s = rel + start;
        const char *e = memchr(s, '/', len - start);
        size_t k = e ? (size_t)(e - s) : len - start;
        memcpy(comp, s, k);
        comp[k] = '\0';
        if (!e)
            break;
        int next = openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0) {
            if (errno == ENOENT && make_parents) /* this one and every parent after it */
                for (const char *p = s; p < rel + len; p++)
                    *entries += *p == '/';
            close(dfd);
            return 0;
        }
        close(dfd);
        dfd = next;
        start += k + 1;
    }
    struct stat st;
    if (fstatat(dfd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        *entries = 0;
        *old_bytes = S_ISREG(st.st_mode) ? (int64_t)st.st_size : 0;
    }
    close(dfd);
    return 0;
}

/* Refuse an operation that would take the tenant's directory over its
 * quota: creating rel (see fo_probe) and writing `bytes` bytes there. The
 * caller holds the tenant's lock, so no other operation of the tenant's
 * that adds files runs between this measure and the change. */
static int fo_quota(struct fo *f, const char *rel, bool make_parents, int64_t bytes)
{
    int64_t entries, old_bytes;
    if (fo_probe(f, rel, make_parents, &entries, &old_bytes) != 0)
        return -1;
    struct fo_usage u = {0, 0};
    int fd = fcntl(f->rootfd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
        return fo_fail(f, "cannot measure the files against the quota: %s", strerror(errno));
    if (fo_measure(f, fd, 0, &u) != 0)
        return -1;
    if (u.entries > f->max_entries || (entries > 0 && u.entries + entries > f->max_entries))
        return fo_fail(f, "file quota exceeded: the tenant's files would number more than %lld entries",
                       (long long)f->max_entries);
    if (bytes > old_bytes && u.bytes + (bytes - old_bytes) > f->max_bytes)
        return fo_fail(f,
                       "file quota exceeded: the tenant's files would take %lld bytes, more than the %lld "
                       "allowed",
                       (long long)(u.bytes + (bytes - old_bytes)), (long long)f->max_bytes);
    return 0;
}

/* ---- the operations ---------------------------------------------------- */

static int op_write(struct fo *f, const struct jw_json *cfg, const char *path, bool recursive,
                    struct jw_jsonw *w)
{
    const struct jw_json *c = jw_json_get(cfg, "content");
    if (!c || c->type != JW_JSON_STRING)
        return fo_fail(f, "job_configuration.content is required");
    struct fo_path p;
    if (fo_quota(f, path, recursive, (int64_t)c->len) != 0 || fo_resolve(f, path, recursive, &p) != 0)
        return -1;
    int64_t bytes = 0;
    int rc = fo_check_target(f, &p);
    if (rc == 0)
        rc = fo_replace(f, &p, c->u.str, c->len, -1, NULL, &bytes);
    fo_path_close(&p);
    if (rc != 0)
        return -1;
    jw_jsonw_obj_open(w);
    jw_jsonw_kstr(w, "operation", "write");
    jw_jsonw_kstr(w, "path", path);
    jw_jsonw_kint(w, "bytes", bytes);
    jw_jsonw_obj_close(w);
    return 0;
}

/* Open p's last component for reading: a regular file, not a link. */
static int fo_open_source(struct fo *f, const struct fo_path *p, int *out)
{
    struct stat st, st2;
    int rc = fo_stat_last(f, p, &st);
    if (rc < 0)
        return -1;
    if (rc == 0)
        return fo_fail(f, "no such file: %.*s", P(p));
    if (S_ISDIR(st.st_mode))
        return fo_fail(f, "%.*s is a directory: only regular files are copied", P(p));
    if (!S_ISREG(st.st_mode))
        return fo_fail(f, "%.*s is not a regular file: refused", P(p));
    /* O_NONBLOCK: should it have become a FIFO since, opening must not hang. */
    int fd = openat(p->dirfd, p->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ELOOP)
            return fo_fail(f, "%.*s is a symbolic link: refused", P(p));
        return fo_errno_path(f, errno, "open", p);
    }
    if (fstat(fd, &st2) != 0 || !S_ISREG(st2.st_mode) || st2.st_ino != st.st_ino || st2.st_dev != st.st_dev) {
        close(fd);
        return fo_fail(f, "%.*s changed while being opened: refused", P(p));
    }
    *out = fd;
    return 0;
}

static int op_copy(struct fo *f, const char *path, const char *to, bool recursive, struct jw_jsonw *w)
{
    struct fo_path s, d;
    int src = -1;
    if (fo_resolve(f, path, false, &s) != 0)
        return -1;
    if (fo_open_source(f, &s, &src) != 0) {
        fo_path_close(&s);
        return -1;
    }
    int64_t bytes = 0;
    struct stat sst;
    int rc = fstat(src, &sst) != 0 ? fo_errno_path(f, errno, "inspect", &s)
                                   : fo_quota(f, to, recursive, (int64_t)sst.st_size);
    if (rc == 0)
        rc = fo_resolve(f, to, recursive, &d);
    if (rc == 0) {
        rc = fo_check_target(f, &d);
        if (rc == 0)
            rc = fo_replace(f, &d, NULL, 0, src, path, &bytes);
        fo_path_close(&d);
    }
    close(src);
    fo_path_close(&s);
    if (rc != 0)
        return -1;
    jw_jsonw_obj_open(w);
    jw_jsonw_kstr(w, "operation", "copy");
    jw_jsonw_kstr(w, "path", path);
    jw_jsonw_kstr(w, "to", to);
    jw_jsonw_kint(w, "bytes", bytes);
    jw_jsonw_obj_close(w);
    return 0;
}

static int op_move(struct fo *f, const char *path, const char *to, bool recursive, struct jw_jsonw *w)
{
    struct fo_path s, d;
    struct stat st;
    if (fo_resolve(f, path, false, &s) != 0)
        return -1;
    int rc = fo_stat_last(f, &s, &st);
    if (rc == 0)
        rc = fo_fail(f, "no such file: %.*s", P(&s));
    if (rc < 0) {
        fo_path_close(&s);
        return -1;
    }
    rc = fo_resolve(f, to, recursive, &d);
    if (rc == 0) {
        rc = fo_stat_last(f, &d, &st) < 0 ? -1 : 0;
        if (rc == 0 && renameat(s.dirfd, s.name, d.dirfd, d.name) != 0) {
            int e = errno;
            if (e == ENOTEMPTY || e == EEXIST)
                rc = fo_fail(f, "%.*s is a directory that is not empty", P(&d));
            else if (e == EISDIR)
                rc = fo_fail(f, "%.*s is a directory", P(&d));
            else if (e == ENOTDIR)
                rc = fo_fail(f, "%.*s is not a directory", P(&d));
            else if (e == EINVAL)
                rc = fo_fail(f, "cannot move %.*s into itself (%.*s)", P(&s), P(&d));
            else if (e == EXDEV)
                rc = fo_fail(f, "cannot move %.*s to %.*s: they are on different file systems", P(&s), P(&d));
            else
                rc = fo_errno_path(f, e, "move", &s);
        }
        fo_path_close(&d);
    }
    fo_path_close(&s);
    if (rc != 0)
        return -1;
    jw_jsonw_obj_open(w);
    jw_jsonw_kstr(w, "operation", "move");
    jw_jsonw_kstr(w, "path", path);
    jw_jsonw_kstr(w, "to", to);
    jw_jsonw_obj_close(w);
    return 0;
}

/* The path of the entry being deleted, relative to the root, for messages. */
static int fo_rel_errno(struct fo *f, int e, const char *verb, const struct jw_buf *rel)
{
    return fo_errno(f, e, verb, jw_buf_str(rel), (int)rel->len);
}

/* Delete the directory name under parent and everything in it. Entries are
 * looked at with lstat and directories opened with O_NOFOLLOW, so a link is
 * removed as itself and never followed; a directory swapped for a link
 * meanwhile is unlinked as the link it now is. rel holds name's path, its
 * first top bytes the path the delete was given. */
static int fo_rmtree(struct fo *f, int parent, const char *name, struct jw_buf *rel, int top, int depth,
                     int64_t *count)
{
    if (depth >= JW_FILE_OP_MAX_DEPTH)
        return fo_fail(f, "directories nested more than %d deep under %.*s: not deleted",
                       JW_FILE_OP_MAX_DEPTH, top, jw_buf_str(rel));
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ELOOP && errno != ENOTDIR)
            return fo_rel_errno(f, errno, "open directory", rel);
        if (unlinkat(parent, name, 0) != 0)
            return fo_rel_errno(f, errno, "delete", rel);
        (*count)++;
        return 0;
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return fo_rel_errno(f, e, "open directory", rel);
    }
    /* Names first, removals after: what readdir returns while entries
     * vanish under it is unspecified. */
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            names = jw_realloc(names, cap * sizeof(*names));
        }
        names[n++] = jw_strdup(de->d_name);
        errno = 0;
    }
    if (errno != 0)
        rc = fo_rel_errno(f, errno, "read directory", rel);
    size_t base = rel->len;
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct stat st;
        jw_buf_putc(rel, '/');
        jw_buf_puts(rel, names[i]);
        if (fstatat(dirfd(d), names[i], &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno != ENOENT)
                rc = fo_rel_errno(f, errno, "inspect", rel);
        } else if (S_ISDIR(st.st_mode)) {
            rc = fo_rmtree(f, dirfd(d), names[i], rel, top, depth + 1, count);
        } else if (unlinkat(dirfd(d), names[i], 0) == 0) {
            (*count)++;
        } else if (errno != ENOENT) {
            rc = fo_rel_errno(f, errno, "delete", rel);
        }
        rel->len = base;
        rel->data[base] = '\0';
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    if (rc != 0)
        return -1;
    if (unlinkat(parent, name, AT_REMOVEDIR) != 0) {
        if (errno == ENOTEMPTY || errno == EEXIST)
            return fo_fail(f, "%s changed while being deleted", jw_buf_str(rel));
        return fo_rel_errno(f, errno, "delete", rel);
    }
    (*count)++;
    return 0;
}

static int op_delete(struct fo *f, const char *path, bool recursive, struct jw_jsonw *w)
{
    struct fo_path p;
    struct stat st;
    int64_t count = 0;
    if (fo_resolve(f, path, false, &p) != 0)
        return -1;
    int rc = 0;
    /* lstat: a symlink here is deleted as itself (see file_op.h). */
    if (fstatat(p.dirfd, p.name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        rc = errno == ENOENT ? fo_fail(f, "no such file: %.*s", P(&p))
                             : fo_errno_path(f, errno, "inspect", &p);
    } else if (S_ISDIR(st.st_mode) && recursive) {
        struct jw_buf rel = JW_BUF_INIT;
        jw_buf_puts(&rel, path);
        if (rel.len > 1 && rel.data[rel.len - 1] == '/')
            rel.data[--rel.len] = '\0';
        rc = fo_rmtree(f, p.dirfd, p.name, &rel, (int)rel.len, 0, &count);
        jw_buf_free(&rel);
    } else if (S_ISDIR(st.st_mode)) {
        if (unlinkat(p.dirfd, p.name, AT_REMOVEDIR) == 0)
            count = 1;
        else if (errno == ENOTEMPTY || errno == EEXIST)
            rc = fo_fail(f, "%.*s is a directory that is not empty (recursive deletes it and its contents)",
                         P(&p));
        else
            rc = fo_errno_path(f, errno, "delete", &p);
    } else if (unlinkat(p.dirfd, p.name, 0) == 0) {
        count = 1;
    } else {
        rc = errno == EISDIR ? fo_fail(f, "%.*s changed while being deleted", P(&p))
                             : fo_errno_path(f, errno, "delete", &p);
    }
    fo_path_close(&p);
    if (rc != 0)
        return -1;
    jw_jsonw_obj_open(w);
    jw_jsonw_kstr(w, "operation", "delete");
    jw_jsonw_kstr(w, "path", path);
    jw_jsonw_kint(w, "deleted", count);
    jw_jsonw_obj_close(w);
    return 0;
}

static int op_mkdir(struct fo *f, const char *path, bool recursive, struct jw_jsonw *w)
{
    struct fo_path p;
    struct stat st;
    bool created = false;
    if (fo_quota(f, path, recursive, 0) != 0 || fo_resolve(f, path, recursive, &p) != 0)
        return -1;
    int rc = 0;
    if (mkdirat(p.dirfd, p.name, 0755) == 0) {
        created = true;
    } else if (errno != EEXIST) {
        rc = fo_errno_path(f, errno, "create directory", &p);
    } else if ((rc = fo_stat_last(f, &p, &st)) >= 0) {
        if (rc == 0)
            rc = fo_fail(f, "%.*s changed while being created", P(&p));
        else if (!S_ISDIR(st.st_mode))
            rc = fo_fail(f, "%.*s exists and is not a directory", P(&p));
        else if (!recursive)
            rc = fo_fail(f, "%.*s already exists", P(&p));
        else
            rc = 0;
    }
    fo_path_close(&p);
    if (rc != 0)
        return -1;
    jw_jsonw_obj_open(w);
    jw_jsonw_kstr(w, "operation", "mkdir");
    jw_jsonw_kstr(w, "path", path);
    jw_jsonw_kbool(w, "created", created);
    jw_jsonw_obj_close(w);
    return 0;
}

static int fo_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Keep the first `keep` names in order, free the rest. */
static size_t fo_names_trim(char **names, size_t n, size_t keep)
{
    qsort(names, n, sizeof(*names), fo_name_cmp);
    for (size_t i = keep; i < n; i++)
        free(names[i]);
    return n < keep ? n : keep;
}

/* A file name as a JSON string: bytes that are not UTF-8 become U+FFFD, so
 * the result is always valid JSON. */
static void fo_write_name(struct jw_jsonw *w, const char *s)
{
    size_t n = strlen(s);
    if (jw_utf8_valid(s, n)) {
        jw_jsonw_str(w, s);
        return;
    }
    struct jw_buf b = JW_BUF_INIT;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c < 0x80             ? 1
                   : (c & 0xE0) == 0xC0 ? 2
                   : (c & 0xF0) == 0xE0 ? 3
                   : (c & 0xF8) == 0xF0 ? 4
                                        : 0;
        if (k && i + k <= n && jw_utf8_valid(s + i, k)) {
            jw_buf_append(&b, s + i, k);
            i += k;
        } else {
            jw_buf_puts(&b, "\xEF\xBF\xBD");
            i++;
        }
    }
    jw_jsonw_strn(w, b.data, b.len);
    jw_buf_free(&b);
}

static const char *fo_type_name(mode_t m)
{
    if (S_ISREG(m))
        return "file";
    if (S_ISDIR(m))
        return "dir";
    if (S_ISLNK(m))
        return "symlink";
    return "other";
}

static int op_list(struct fo *f, const char *path, struct jw_jsonw *w)
{
    struct fo_path p;
    if (fo_resolve(f, path, false, &p) != 0)
        return -1;
    int fd = path ? openat(p.dirfd, p.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                  : fcntl(p.dirfd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        int rc = fo_not_dir(f, p.dirfd, p.name, errno, p.rel, p.len);
        fo_path_close(&p);
        return rc;
    }
    fo_path_close(&p);
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return fo_errno(f, e, "open directory", p.rel, p.len);
    }
    /* The first JW_FILE_OP_LIST_MAX names in order, in bounded memory:
     * whenever twice as many have been read, sort and drop the excess. */
    char **names = jw_malloc(2 * JW_FILE_OP_LIST_MAX * sizeof(*names));
    size_t n = 0;
    bool truncated = false;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (n == 2 * JW_FILE_OP_LIST_MAX) {
            n = fo_names_trim(names, n, JW_FILE_OP_LIST_MAX);
            truncated = true;
        }
        names[n++] = jw_strdup(de->d_name);
        errno = 0;
    }
    int rc = 0;
    if (errno != 0)
        rc = fo_errno(f, errno, "read directory", p.rel, p.len);
    if (n > JW_FILE_OP_LIST_MAX)
        truncated = true;
    n = fo_names_trim(names, n, JW_FILE_OP_LIST_MAX);
    if (rc == 0) {
        jw_jsonw_obj_open(w);
        jw_jsonw_kstr(w, "operation", "list");
        jw_jsonw_kstr(w, "path", p.rel);
        jw_jsonw_key(w, "entries");
        jw_jsonw_arr_open(w);
        for (size_t i = 0; i < n; i++) {
            struct stat st;
            if (w->out->len > JW_FILE_OP_LIST_BYTES) {
                truncated = true; /* long, escaped names: the output has a cap */
                break;
            }
            if (fstatat(dirfd(d), names[i], &st, AT_SYMLINK_NOFOLLOW) != 0)
                continue; /* gone since readdir */
            jw_jsonw_obj_open(w);
            jw_jsonw_key(w, "name");
            fo_write_name(w, names[i]);
            jw_jsonw_kstr(w, "type", fo_type_name(st.st_mode));
            jw_jsonw_kint(w, "size", (int64_t)st.st_size);
            jw_jsonw_ktime(w, "modified_at",
                           (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000);
            jw_jsonw_obj_close(w);
        }
        jw_jsonw_arr_close(w);
        jw_jsonw_kbool(w, "truncated", truncated);
        jw_jsonw_obj_close(w);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return rc;
}

/* ---- entry points ------------------------------------------------------ */

/* A string member, or NULL (also when it holds a NUL, which no path may). */
static const char *fo_str(const struct jw_json *cfg, const char *key)
{
    const struct jw_json *v = jw_json_get(cfg, key);
    if (!v || v->type != JW_JSON_STRING || strlen(v->u.str) != v->len)
        return NULL;
    return v->u.str;
}

/* A tenant id as jobwheel writes it: 8-4-4-4-12 lower-case hex digits. Any
 * other spelling of a UUID would name another directory. */
static bool fo_tenant_ok(const char *t)
{
    if (!t || strlen(t) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? t[i] != '-' : !((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f')))
            return false;
    }
    return true;
}

/* Open the tenant's directory under the root (made on first use), never
 * through a symlink: its descriptor, or -1 with the message. */
static int fo_open_tenant(struct fo *f, const char *root, const char *tenant)
{
    int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return fo_fail(f, "cannot open the file root: %s", strerror(errno));
    int fd = openat(rootfd, tenant, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        if (mkdirat(rootfd, tenant, 0750) != 0 && errno != EEXIST) {
            int e = errno;
            close(rootfd);
            return fo_fail(f, "cannot create the tenant's directory: %s", strerror(e));
        }
        fd = openat(rootfd, tenant, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
        int e = errno;
        struct stat st;
        bool link = fstatat(rootfd, tenant, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
        close(rootfd);
        if (link || e == ELOOP)
            return fo_fail(f, "the tenant's directory is a symbolic link: refused");
        if (e == ENOTDIR)
            return fo_fail(f, "the tenant's directory is not a directory: refused");
        return fo_fail(f, "cannot open the tenant's directory: %s", strerror(e));
    }
    close(rootfd);
    return fd;
}

int jw_file_op_run(const struct jw_file_op_scope *scope, const struct jw_json *cfg, struct jw_buf *out,
                   char *err, size_t errlen)
{
    struct fo f = {.rootfd = -1,
                   .max_bytes = scope->max_bytes,
                   .max_entries = scope->max_entries,
                   .err = err,
                   .errlen = errlen};
    if (errlen)
        err[0] = '\0';
    if (!cfg || cfg->type != JW_JSON_OBJECT)
        return fo_fail(&f, "job_configuration must be an object");
    const char *op = fo_str(cfg, "operation");
    const char *path = fo_str(cfg, "path");
    const char *to = fo_str(cfg, "to");
    const struct jw_json *r = jw_json_get(cfg, "recursive");
    bool recursive = r && r->type == JW_JSON_BOOL && r->u.b;
    if (!op)
        return fo_fail(&f, "job_configuration.operation is required");
    bool two = !strcmp(op, "copy") || !strcmp(op, "move");
    if (!two && strcmp(op, "delete") && strcmp(op, "mkdir") && strcmp(op, "write") && strcmp(op, "list"))
        return fo_fail(&f, "job_configuration.operation must be copy, move, delete, mkdir, write or list");
    if (!path && strcmp(op, "list") != 0)
        return fo_fail(&f, "job_configuration.path is required");
    if (!to && two)
        return fo_fail(&f, "job_configuration.to is required");

    if (!fo_tenant_ok(scope->tenant))
        return fo_fail(&f, "the tenant id is not a lower-case UUID: refused");
    f.rootfd = fo_open_tenant(&f, scope->root, scope->tenant);
    if (f.rootfd < 0)
        return -1;
    /* The operations that add files take the tenant's lock, so that the
     * quota is measured and used by one of them at a time; the lock goes
     * with the descriptor (close, or this process's end). */
    bool adds = !strcmp(op, "write") || !strcmp(op, "copy") || !strcmp(op, "mkdir");
    while (adds && flock(f.rootfd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            int e = errno;
            close(f.rootfd);
            return fo_fail(&f, "cannot lock the tenant's directory: %s", strerror(e));
        }
    }
    struct jw_buf res = JW_BUF_INIT;
    struct jw_jsonw w;
    jw_jsonw_init(&w, &res);
    int rc;
    if (!strcmp(op, "write"))
        rc = op_write(&f, cfg, path, recursive, &w);
    else if (!strcmp(op, "copy"))
        rc = op_copy(&f, path, to, recursive, &w);
    else if (!strcmp(op, "move"))
        rc = op_move(&f, path, to, recursive, &w);
    else if (!strcmp(op, "delete"))
        rc = op_delete(&f, path, recursive, &w);
    else if (!strcmp(op, "mkdir"))
        rc = op_mkdir(&f, path, recursive, &w);
    else
        rc = op_list(&f, path, &w);
    close(f.rootfd);
    if (rc == 0)
        jw_buf_append(out, res.data, res.len);
    jw_buf_free(&res);
    return rc == 0 ? 0 : -1;
}

/* A quota from the command line: a decimal number from 0. */
static bool fo_arg_count(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!s[0] || *end || errno != 0 || v < 0 || s[0] == '-' || s[0] == '+' || s[0] == ' ')
        return false;
    *out = v;
    return true;
}

int jw_file_op_main(int argc, char **argv)
{
    struct jw_file_op_scope scope;
    if (argc != 6 || !argv[2][0] || !fo_arg_count(argv[4], &scope.max_bytes) ||
        !fo_arg_count(argv[5], &scope.max_entries)) {
        fprintf(stderr,
                "usage: jobwheel file-op ROOT TENANT MAX_BYTES MAX_ENTRIES < job_configuration.json\n");
        return 1;
    }
    scope.root = argv[2];
    scope.tenant = argv[3];
    struct jw_buf in = JW_BUF_INIT;
    char chunk[COPY_CHUNK];
    for (;;) {
        ssize_t n = read(STDIN_FILENO, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "cannot read the job configuration: %s\n", strerror(errno));
            jw_buf_free(&in);
            return 1;
        }
        if (n == 0)
            break;
        if (in.len + (size_t)n > JW_FILE_OP_INPUT_MAX) {
            fprintf(stderr, "the job configuration is larger than %d bytes\n", JW_FILE_OP_INPUT_MAX);
            jw_buf_free(&in);
            return 1;
        }
        jw_buf_append(&in, chunk, (size_t)n);
    }
    char err[512];
    struct jw_json_doc *doc = jw_json_parse(jw_buf_str(&in), in.len, JW_JSON_STORED_DEPTH, err, sizeof(err));
    jw_buf_free(&in);
    if (!doc) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    /* The server checked it when the job was saved; check again here, as
     * this process is what touches the disk. */
    struct jw_error jerr = {0};
    struct jw_job_rules rules = {.file_operations = true};
    const struct jw_json *cfg = jw_json_root(doc);
    if (jw_job_config_check("FileOperation", cfg, &rules, &jerr) != 0) {
        fprintf(stderr, "%s\n", jerr.detail);
        jw_json_doc_free(doc);
        return 1;
    }
    struct jw_buf out = JW_BUF_INIT;
    int rc = jw_file_op_run(&scope, cfg, &out, err, sizeof(err));
    jw_json_doc_free(doc);
    if (rc != 0) {
        fprintf(stderr, "%s\n", err);
        jw_buf_free(&out);
        return 1;
    }
    jw_buf_putc(&out, '\n');
    bool ok = fwrite(out.data, 1, out.len, stdout) == out.len && fflush(stdout) == 0;
    jw_buf_free(&out);
    if (!ok) {
        fprintf(stderr, "cannot write the result: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}
