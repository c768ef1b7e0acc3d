/* fs: small file-system helpers for start-up (they block: never call them
 * from the loop once it runs). */
#ifndef JOBWHEEL_FS_H
#define JOBWHEEL_FS_H

#include <sys/types.h>

/* mkdir -p: 0, or -1 with errno. */
int jw_mkdir_p(const char *path, mode_t mode);

#endif
