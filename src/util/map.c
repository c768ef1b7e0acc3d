/* map: open-addressing string map with tombstones, FNV-1a hashed; each
 * slot keeps its key's hash, so a probe compares strings only when the
 * hashes agree (keys of one tenant share a long prefix). */
#include "jobwheel/map.h"

#include <stdbool.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jobwheel/buf.h"

#define TOMB ((const char *)1)

struct slot {
    const char *key; /* NULL empty, TOMB deleted */
    void *value;
    uint64_t hash;
};

struct jw_map {
    struct slot *slots;
    size_t cap, count, tombs;
};

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

struct jw_map *jw_map_new(void)
{
    struct jw_map *m = jw_calloc(1, sizeof(*m));
    m->cap = 64;
    m->slots = jw_calloc(m->cap, sizeof(struct slot));
    return m;
}

void jw_map_free(struct jw_map *m)
{
    if (!m)
        return;
    free(m->slots);
    free(m);
}

/* The slot holding key, or (when absent) the first free slot on its path. */
static struct slot *find(const struct jw_map *m, const char *key, uint64_t h, bool *found)
{
    size_t i = (size_t)h & (m->cap - 1);
    struct slot *first_tomb = NULL;
    for (;;) {
        struct slot *s = &m->slots[i];
        if (!s->key) {
            *found = false;
            return first_tomb ? first_tomb : s;
        }
        if (s->key == TOMB) {
            if (!first_tomb)
                first_tomb = s;
        } else if (s->hash == h && strcmp(s->key, key) == 0) {
            *found = true;
            return s;
        }
        i = (i + 1) & (m->cap - 1);
    }
}

static void grow(struct jw_map *m)
{
    struct slot *old = m->slots;
    size_t oldcap = m->cap;
    if (m->count * 4 >= m->cap)
        m->cap *= 2;
    m->slots = jw_calloc(m->cap, sizeof(struct slot));
    m->count = m->tombs = 0;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].key && old[i].key != TOMB)
            jw_map_put(m, old[i].key, old[i].value);
    free(old);
}

void *jw_map_get(const struct jw_map *m, const char *key)
{
    bool found;
    struct slot *s = find(m, key, hash(key), &found);
    return found ? s->value : NULL;
}

void *jw_map_put(struct jw_map *m, const char *key, void *value)
{
    if ((m->count + m->tombs + 1) * 2 > m->cap)
        grow(m);
    bool found;
    uint64_t h = hash(key);
    struct slot *s = find(m, key, h, &found);
    if (found) {
        void *old = s->value;
        s->key = key;
        s->value = value;
        return old;
    }
    if (s->key == TOMB)
        m->tombs--;
    s->key = key;
    s->hash = h;
    s->value = value;
    m->count++;
    return NULL;
}

void *jw_map_del(struct jw_map *m, const char *key)
{
    bool found;
    struct slot *s = find(m, key, hash(key), &found);
    if (!found)
        return NULL;
    void *old = s->value;
    s->key = TOMB;
    s->value = NULL;
    m->count--;
    m->tombs++;
    return old;
}

size_t jw_map_count(const struct jw_map *m)
{
    return m->count;
}

void jw_map_each(const struct jw_map *m, void (*fn)(void *value, void *arg), void *arg)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key && m->slots[i].key != TOMB)
            fn(m->slots[i].value, arg);
}
