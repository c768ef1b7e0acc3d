/* file_op: FileOperation jobs — copy, move, delete, mkdir, write and list
 * in the tenant's own directory under the file root, never anywhere else.
 * Runs only in a short-lived child process (`jobwheel file-op ROOT TENANT
 * MAX_BYTES MAX_ENTRIES`), never on the server's event loop.
 *
 * Tenants: each tenant works in ROOT/<tenant id> (a lower-case UUID, made
 * on first use, mode 0750); every path is relative to it, so no tenant can
 * name another's files, and messages name paths relative to it. A tenant
 * id in any other form is refused, and so is a tenant directory that is a
 * symbolic link (or not a directory).
 *
 * Quota: write, copy and mkdir first measure the tenant's directory (every
 * entry, and the bytes of its regular files, links never followed) and
 * refuse ("file quota exceeded: ...") an operation after which it would
 * hold more than MAX_ENTRIES entries or MAX_BYTES bytes — counting the
 * parent directories it would create and the file it would replace.
 * Operations that only remove or rename are never refused by the quota.
 * These three take an exclusive flock on the tenant's directory from the
 * measure to the end, so two of them cannot both use the same room.
 *
 * Confinement: a path is walked one component at a time from a descriptor
 * of the tenant's directory, each directory opened with openat(O_NOFOLLOW |
 * O_DIRECTORY), and the last component is acted on with the *at() calls
 * relative to its parent's descriptor (never following a symlink). Refused
 * before anything is touched: absolute paths, "..", ".", empty components
 * (one trailing "/" is ignored), and any symbolic link on the way ("a/b is
 * a symbolic link: refused"). A symlink as the last component is refused
 * too — write, copy (either end), move (either end), mkdir and list all
 * refuse it — with one exception: delete removes the link itself
 * (unlinkat, which never follows it) and leaves what it points at alone,
 * as a recursive delete does with every link it meets. Messages never name
 * the root.
 *
 * What each operation does, and its result object:
 *   write  content to path, atomically (a temporary file beside it, renamed
 *          over it), mode 0644: {"operation","path","bytes"}
 *   copy   a regular file to `to`, written as write does (directories are
 *          refused): {"operation","path","to","bytes"}
 *   move   renameat within the tenant's directory, replacing a file at
 *          `to`: {"operation","path","to"}
 *   delete a file, a symlink (the link itself) or an empty directory; with
 *          recursive a whole tree, links in it removed, never followed:
 *          {"operation","path","deleted":<entries removed, path included>}
 *   mkdir  mode 0755; without recursive the parent must exist and path must
 *          not: {"operation","path","created":<false: it was there>}
 *   list   path's entries (the tenant directory's when path is absent,
 *          reported as ""), sorted by name (bytewise), at most
 *          JW_FILE_OP_LIST_MAX of them and as many as fit in about
 *          JW_FILE_OP_LIST_BYTES of result:
 *          {"operation","path","entries":[{"name","type":"file"|"dir"|
 *          "symlink"|"other","size","modified_at"}],"truncated":bool}.
 *          Bytes of a name that are not UTF-8 are shown as U+FFFD.
 * For write, copy and move the missing parent directories of the target
 * (path for write, `to` for copy and move) are created only with recursive
 * true; otherwise they must exist. */
#ifndef JOBWHEEL_FILE_OP_H
#define JOBWHEEL_FILE_OP_H

#include <stddef.h>
#include <stdint.h>

#include "jobwheel/buf.h"
#include "jobwheel/json.h"

#define JW_FILE_OP_LIST_MAX 10000               /* entries a list returns */
#define JW_FILE_OP_INPUT_MAX (4 * 1024 * 1024)  /* config JSON read from stdin, bytes */
#define JW_FILE_OP_MAX_DEPTH 256                /* directory levels a recursive delete descends */
#define JW_FILE_OP_LIST_BYTES (3 * 1024 * 1024) /* a list result's size, about: stdout is kept to 4 MiB */

/* Where one FileOperation works, and how much its tenant may hold there. */
struct jw_file_op_scope {
    const char *root;    /* the file root (an existing directory) */
    const char *tenant;  /* a lower-case UUID: the operation works in root/<tenant> */
    int64_t max_bytes;   /* quota: bytes of regular files under root/<tenant> */
    int64_t max_entries; /* quota: entries (files, directories, links) under it */
};

/* Run one FileOperation of scope's tenant, synchronously. This runs only
 * inside a short-lived child process (`jobwheel file-op ...`, config JSON
 * on stdin), never on the server's event loop. cfg is a job_configuration
 * already validated by jw_job_config_check. On success writes a JSON
 * object describing what was done into out and returns 0; else returns -1
 * with a one-line message fit for an API response in err (out is left as
 * it was). */
int jw_file_op_run(const struct jw_file_op_scope *scope, const struct jw_json *cfg, struct jw_buf *out,
                   char *err, size_t errlen) __attribute__((warn_unused_result));

/* The `jobwheel file-op ROOT TENANT MAX_BYTES MAX_ENTRIES` entry point,
 * given main's argc and argv as they are (argv[1] is "file-op"): read the
 * config JSON from stdin (at most JW_FILE_OP_INPUT_MAX bytes), check it as
 * a FileOperation job_configuration, run it, print the result JSON and a
 * newline on stdout and return 0, or print the message on stderr and
 * return 1. */
int jw_file_op_main(int argc, char **argv);

#endif
