/* map: a string-keyed hash table of pointers (open addressing). The map
 * borrows its keys: each key must stay valid, unchanged, while its entry is
 * in the map (typically the key lives inside the value). */
#ifndef JOBWHEEL_MAP_H
#define JOBWHEEL_MAP_H

#include <stddef.h>

struct jw_map;

struct jw_map *jw_map_new(void);
void jw_map_free(struct jw_map *m); /* frees the table, not the values */
void *jw_map_get(const struct jw_map *m, const char *key);
/* Insert or replace; returns the value replaced, or NULL. */
void *jw_map_put(struct jw_map *m, const char *key, void *value);
/* Remove; returns the value removed, or NULL. */
void *jw_map_del(struct jw_map *m, const char *key);
size_t jw_map_count(const struct jw_map *m);
/* Call fn for every value; fn may not change the map. */
void jw_map_each(const struct jw_map *m, void (*fn)(void *value, void *arg), void *arg);

#endif
