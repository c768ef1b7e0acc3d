/* embedded: the redis-server jobwheel starts for itself when no redis_url
 * is configured — unix socket only, AOF with fsync every second, data under
 * data_dir — restarted if it dies, stopped when jobwheel stops. */
#ifndef JOBWHEEL_EMBEDDED_H
#define JOBWHEEL_EMBEDDED_H

#include <stddef.h>

struct event_base;
struct jw_embedded;

/* Lock data_dir (one jobwheel per directory), start redis-server and return
 * at once; the store's reconnect loop waits for the socket. NULL + err. */
struct jw_embedded *jw_embedded_start(struct event_base *base, const char *redis_server, const char *data_dir,
                                      char *err, size_t errlen);
/* "unix:///abs/path/redis.sock" */
const char *jw_embedded_url(const struct jw_embedded *e);
/* SIGTERM the child and wait for it (up to 10 s, then SIGKILL); frees e. */
void jw_embedded_stop(struct jw_embedded *e);

#endif
