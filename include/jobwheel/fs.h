/* fs: small file-system helpers for start-up (they block: never call them
 * from the loop once it runs). */
#ifndef JOBWHEEL_FS_H
#define JOBWHEEL_FS_H

#include <stddef.h>
#include <sys/types.h>

/* mkdir -p: 0, or -1 with errno. */
int jw_mkdir_p(const char *path, mode_t mode);

/* A whole file, up to about max bytes (what is past them is left unread), as
 * a NUL-terminated string the caller frees; *len (when not NULL) gets its
 * length. NULL (errno set) when it cannot be opened. */
char *jw_read_file(const char *path, size_t max, size_t *len);

#endif
