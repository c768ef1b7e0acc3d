/* fs: small file-system helpers for start-up. */
#include "jobwheel/fs.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

#include "jobwheel/buf.h"

int jw_mkdir_p(const char *path, mode_t mode)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, mode) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    if (mkdir(tmp, mode) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

char *jw_read_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct jw_buf b = JW_BUF_INIT;
    char chunk[4096];
    size_t n;
    while (b.len < max && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        jw_buf_append(&b, chunk, n);
    fclose(f);
    if (len)
        *len = b.len;
    return jw_buf_detach(&b);
}
