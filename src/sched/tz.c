/* tz: the in-memory IANA time zone database (TZif v1-v4 files plus their POSIX
 * TZ footer rules) and every UTC <-> local conversion; owns the one global db. */
#include "jobwheel/tz.h"
#include "jobwheel/time.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Largest TZif file we accept (real ones are under 4 KiB) and deepest folder. */
#define TZ_MAX_FILE (1024 * 1024)
#define TZ_MAX_DEPTH 8
/* Offsets beyond +-26 h do not exist; local_to_utc searches this window. */
#define TZ_MAX_OFFSET (26 * 3600)
/* Instants are clamped to roughly +-290 billion years before any calendar
 * arithmetic, so no intermediate value can overflow. */
#define TZ_CLAMP ((int64_t)1 << 53)

/* One day of a POSIX TZ rule: Jn, n or Mm.w.d, at a local time. */
struct tz_rule {
    char kind;    /* 'J' (1..365, no Feb 29), 'D' (0..365 zero-based), 'M' */
    int day;      /* for 'J' and 'D' */
    int mon;      /* for 'M': 1..12 */
    int week;     /* for 'M': 1..5, 5 = last */
    int wday;     /* for 'M': 0 = Sunday */
    int32_t time; /* seconds after local midnight, -167 h..167 h */
};

/* The footer: the rule for every instant after the last transition. */
struct tz_footer {
    bool present;
    bool has_dst;    /* false: std_off all year */
    int32_t std_off; /* UTC offsets, east positive (POSIX signs flipped) */
    int32_t dst_off;
    struct tz_rule start; /* DST begins (given in standard local time) */
    struct tz_rule end;   /* DST ends (given in daylight local time) */
};

/* A zone's data, shared by every name linking to the same file. Transitions
 * that do not change the UTC offset are dropped at load time. */
struct tz_data {
    int64_t *times; /* ascending UTC instants where the offset changes */
    int32_t *offs;  /* offs[i]: offset from times[i] on */
    size_t n;
    int32_t init_off; /* offset before times[0] (and always, if n == 0) */
    struct tz_footer ft;
};

struct jw_tz {
    char *name; /* "Europe/Berlin" */
    const struct tz_data *data;
};

/* The database: zones sorted by name for bsearch; datas owns the tz_data. */
static struct {
    struct jw_tz *zones;
    size_t nzones;
    struct tz_data **datas;
    size_t ndatas;
} g_db;

static const struct tz_data utc_data = {NULL, NULL, 0, 0, {false, false, 0, 0, {0}, {0}}};

/* ---- calendar arithmetic (proleptic Gregorian) ---- */

static int64_t year_of_days(int64_t z)
{
    int64_t y;
    int m, d;
    jw_civil_from_days(z, &y, &m, &d);
    return y;
}

static int64_t clamp_instant(int64_t t)
{
    if (t > TZ_CLAMP)
        return TZ_CLAMP;
    if (t < -TZ_CLAMP)
        return -TZ_CLAMP;
    return t;
}

/* ---- POSIX TZ footer ---- */

/* Day (since the epoch) on which rule r falls in year y. */
static int64_t rule_day(const struct tz_rule *r, int64_t y)
{
    int64_t jan1 = jw_days_from_civil(y, 1, 1);
    if (r->kind == 'J')
        return jan1 + r->day - 1 + (jw_is_leap(y) && r->day >= 60);
    if (r->kind == 'D')
        return jan1 + r->day;
    int64_t first = jw_days_from_civil(y, r->mon, 1);
    int d = 1 + (r->wday - jw_weekday_from_days(first) + 7) % 7 + 7 * (r->week - 1);
    while (d > jw_days_in_month(y, r->mon))
        d -= 7;
    return first + d - 1;
}

/* One offset change of the footer rule. */
struct tz_event {
    int64_t at;
    int32_t off; /* offset from `at` on */
};

/* The footer's DST start and end events of years y0..y1 (at most 8 years), in
 * time order; events at the same instant keep year order, so the later
 * year's event wins (this makes all-year DST rules come out right). */
static size_t footer_events(const struct tz_footer *ft, int64_t y0, int64_t y1, struct tz_event *ev)
{
    size_t n = 0;
    for (int64_t y = y0; y <= y1; y++) {
        ev[n].at = rule_day(&ft->start, y) * 86400 + ft->start.time - ft->std_off;
        ev[n++].off = ft->dst_off;
        ev[n].at = rule_day(&ft->end, y) * 86400 + ft->end.time - ft->dst_off;
        ev[n++].off = ft->std_off;
    }
    for (size_t i = 1; i < n; i++) { /* insertion sort: stable, n <= 16 */
        struct tz_event e = ev[i];
        size_t j = i;
        while (j > 0 && ev[j - 1].at > e.at) {
            ev[j] = ev[j - 1];
            j--;
        }
        ev[j] = e;
    }
    return n;
}

static int64_t footer_year(const struct tz_footer *ft, int64_t t)
{
    return year_of_days(jw_floor_div(t + ft->std_off, 86400));
}

static int32_t footer_offset_at(const struct tz_footer *ft, int64_t t)
{
    if (!ft->has_dst)
        return ft->std_off;
    struct tz_event ev[16];
    int64_t y = footer_year(ft, t);
    size_t n = footer_events(ft, y - 1, y + 1, ev);
    int32_t off = ft->std_off;
    for (size_t i = 0; i < n && ev[i].at <= t; i++)
        off = ev[i].off;
    return off;
}

/* First instant > t (and > floor) where the footer changes the offset. */
static int64_t footer_next(const struct tz_footer *ft, int64_t t)
{
    if (!ft->has_dst)
        return INT64_MAX;
    struct tz_event ev[16];
    int64_t y = footer_year(ft, t);
    size_t n = footer_events(ft, y - 2, y + 2, ev);
    int32_t off = footer_offset_at(ft, ev[0].at - 1);
    for (size_t i = 0; i < n; i++) {
        /* collapse events at one instant: the last one holds from then on */
        if (i + 1 < n && ev[i + 1].at == ev[i].at)
            continue;
        if (ev[i].off != off && ev[i].at > t)
            return ev[i].at;
        off = ev[i].off;
    }
    return INT64_MAX;
}

/* Last instant <= t where the footer changed the offset, or INT64_MIN. */
static int64_t footer_prev(const struct tz_footer *ft, int64_t t)
{
    if (!ft->has_dst)
        return INT64_MIN;
    struct tz_event ev[16];
    int64_t y = footer_year(ft, t);
    size_t n = footer_events(ft, y - 2, y + 1, ev);
    int32_t off = footer_offset_at(ft, ev[0].at - 1);
    int64_t best = INT64_MIN;
    for (size_t i = 0; i < n && ev[i].at <= t; i++) {
        if (i + 1 < n && ev[i + 1].at == ev[i].at)
            continue;
        if (ev[i].off != off)
            best = ev[i].at;
        off = ev[i].off;
    }
    return best;
}

/* Footer parsing. p advances over what was consumed; false on bad syntax. */
static bool parse_tz_name(const char **p)
{
    const char *s = *p;
    if (*s == '<') {
        s++;
        const char *b = s;
        while (*s && *s != '>')
            s++;
        if (*s != '>' || s - b < 3)
            return false;
        *p = s + 1;
        return true;
    }
    const char *b = s;
    while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z'))
        s++;
    if (s - b < 3)
        return false;
    *p = s;
    return true;
}

static bool parse_tz_num(const char **p, int lo, int hi, int *out)
{
    const char *s = *p;
    int v = 0;
    if (*s < '0' || *s > '9')
        return false;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (*s++ - '0');
        if (v > hi)
            return false;
    }
    if (v < lo)
        return false;
    *out = v;
    *p = s;
    return true;
}

/* [+-]hh[:mm[:ss]] with hh up to max_h; result in seconds. */
static bool parse_tz_time(const char **p, int max_h, int32_t *out)
{
    const char *s = *p;
    int sign = 1, h = 0, m = 0, sec = 0;
    if (*s == '+' || *s == '-')
        sign = *s++ == '-' ? -1 : 1;
    if (!parse_tz_num(&s, 0, max_h, &h))
        return false;
    if (*s == ':') {
        s++;
        if (!parse_tz_num(&s, 0, 59, &m))
            return false;
        if (*s == ':') {
            s++;
            if (!parse_tz_num(&s, 0, 59, &sec))
                return false;
        }
    }
    *out = sign * (h * 3600 + m * 60 + sec);
    *p = s;
    return true;
}

static bool parse_tz_rule(const char **p, struct tz_rule *r)
{
    const char *s = *p;
    memset(r, 0, sizeof(*r));
    if (*s == 'J') {
        s++;
        r->kind = 'J';
        if (!parse_tz_num(&s, 1, 365, &r->day))
            return false;
    } else if (*s == 'M') {
        s++;
        r->kind = 'M';
        if (!parse_tz_num(&s, 1, 12, &r->mon) || *s++ != '.' || !parse_tz_num(&s, 1, 5, &r->week) ||
            *s++ != '.' || !parse_tz_num(&s, 0, 6, &r->wday))
            return false;
    } else {
        r->kind = 'D';
        if (!parse_tz_num(&s, 0, 365, &r->day))
            return false;
    }
    r->time = 7200;
    if (*s == '/') {
        s++;
        if (!parse_tz_time(&s, 167, &r->time))
            return false;
    }
    *p = s;
    return true;
}

static bool parse_footer(const char *s, struct tz_footer *ft)
{
    int32_t posix_off;
    memset(ft, 0, sizeof(*ft));
    if (*s == '\0')
        return true; /* empty footer: the last transition holds forever */
    if (!parse_tz_name(&s) || !parse_tz_time(&s, 24, &posix_off))
        return false;
    ft->present = true;
    ft->std_off = -posix_off;
    ft->dst_off = ft->std_off;
    if (*s == '\0')
        return true;
    if (!parse_tz_name(&s))
        return false;
    ft->has_dst = true;
    ft->dst_off = ft->std_off + 3600;
    if (*s != ',' && *s != '\0') {
        if (!parse_tz_time(&s, 24, &posix_off))
            return false;
        ft->dst_off = -posix_off;
    }
    if (*s == '\0') {
        /* no rule given: POSIX leaves it to the implementation; use the US one */
        const char *dflt = "M3.2.0";
        if (!parse_tz_rule(&dflt, &ft->start))
            return false;
        dflt = "M11.1.0";
        return parse_tz_rule(&dflt, &ft->end);
    }
    if (*s++ != ',' || !parse_tz_rule(&s, &ft->start) || *s++ != ',' || !parse_tz_rule(&s, &ft->end) ||
        *s != '\0')
        return false;
    if (ft->dst_off == ft->std_off)
        ft->has_dst = false;
    return true;
}

/* ---- TZif parsing ---- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_counts {
    uint32_t isut, isstd, leap, time, type, chr;
};

static bool read_counts(const unsigned char *p, size_t len, struct tzif_counts *c)
{
    if (len < 44 || memcmp(p, "TZif", 4) != 0)
        return false;
    c->isut = be32(p + 20);
    c->isstd = be32(p + 24);
    c->leap = be32(p + 28);
    c->time = be32(p + 32);
    c->type = be32(p + 36);
    c->chr = be32(p + 40);
    /* bounds keep every size computation below far from overflow */
    return c->type >= 1 && c->type <= 256 && c->time <= 1000000 && c->chr <= 100000 && c->leap <= 100000 &&
           c->isut <= 256 && c->isstd <= 256;
}

static size_t body_size(const struct tzif_counts *c, size_t tsize)
{
    return (size_t)c->time * (tsize + 1) + (size_t)c->type * 6 + c->chr + (size_t)c->leap * (tsize + 4) +
           c->isstd + c->isut;
}

/* Parse one TZif image into d. Returns NULL or a short reason. */
static const char *parse_tzif(const unsigned char *buf, size_t len, struct tz_data *d)
{
    struct tzif_counts c;
    size_t tsize = 4;
    const unsigned char *p = buf;
    memset(d, 0, sizeof(*d));
    if (!read_counts(p, len, &c))
        return "bad header";
    char version = (char)p[4];
    if (version >= '2') {
        size_t skip = 44 + body_size(&c, 4);
        if (skip > len)
            return "truncated v1 data";
        p += skip;
        len -= skip;
        if (!read_counts(p, len, &c))
            return "bad v2 header";
        tsize = 8;
    }
    size_t need = 44 + body_size(&c, tsize);
    if (need > len)
        return "truncated data";
    const unsigned char *times = p + 44;
    const unsigned char *idx = times + (size_t)c.time * tsize;
    const unsigned char *types = idx + c.time;
    int32_t type_off[256];
    for (uint32_t i = 0; i < c.type; i++) {
        int32_t off = (int32_t)be32(types + 6 * i);
        if (off < -TZ_MAX_OFFSET || off > TZ_MAX_OFFSET)
            return "UTC offset out of range";
        type_off[i] = off;
    }
    if (version >= '2') {
        const char *ft = (const char *)p + need;
        size_t ftlen = len - need;
        if (ftlen < 2 || ft[0] != '\n')
            return "missing footer";
        const char *nl = memchr(ft + 1, '\n', ftlen - 1);
        if (!nl || nl - ft - 1 >= 256)
            return "bad footer";
        char tzstr[256];
        memcpy(tzstr, ft + 1, (size_t)(nl - ft - 1));
        tzstr[nl - ft - 1] = '\0';
        if (!parse_footer(tzstr, &d->ft))
            return "bad footer TZ string";
    }
    d->init_off = type_off[0];
    if (c.time > 0) {
        d->times = malloc(sizeof(*d->times) * c.time);
        d->offs = malloc(sizeof(*d->offs) * c.time);
        if (!d->times || !d->offs)
            return "out of memory";
    }
    int32_t cur = d->init_off;
    int64_t prev = INT64_MIN;
    for (uint32_t i = 0; i < c.time; i++) {
        int64_t t = tsize == 8 ? be64(times + 8 * i) : (int32_t)be32(times + 4 * i);
        if (idx[i] >= c.type)
            return "transition type out of range";
        if (t <= prev)
            return "transitions not ascending";
        prev = t;
        if (type_off[idx[i]] == cur)
            continue; /* only the abbreviation or isdst changed */
        cur = type_off[idx[i]];
        d->times[d->n] = clamp_instant(t);
        d->offs[d->n++] = cur;
    }
    return NULL;
}

/* ---- lookups on one zone ---- */

static const struct tz_data *data_of(const struct jw_tz *tz)
{
    return tz ? tz->data : &utc_data;
}

/* Index of the last transition <= t, or -1. */
static ptrdiff_t last_le(const struct tz_data *d, int64_t t)
{
    size_t lo = 0, hi = d->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->times[mid] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (ptrdiff_t)lo - 1;
}

/* True when the footer rather than the table governs instant t. */
static bool footer_governs(const struct tz_data *d, int64_t t)
{
    return d->ft.present && (d->n == 0 || t > d->times[d->n - 1]);
}

int32_t jw_tz_offset_at(const struct jw_tz *tz, int64_t utc_s)
{
    const struct tz_data *d = data_of(tz);
    int64_t t = clamp_instant(utc_s);
    if (footer_governs(d, t))
        return footer_offset_at(&d->ft, t);
    ptrdiff_t i = last_le(d, t);
    return i < 0 ? d->init_off : d->offs[i];
}

int64_t jw_tz_next_transition(const struct jw_tz *tz, int64_t utc_s)
{
    const struct tz_data *d = data_of(tz);
    int64_t t = clamp_instant(utc_s);
    if (utc_s >= TZ_CLAMP)
        return INT64_MAX;
    ptrdiff_t i = last_le(d, t);
    if ((size_t)(i + 1) < d->n)
        return d->times[i + 1];
    if (!d->ft.present)
        return INT64_MAX;
    int64_t from = d->n > 0 && t < d->times[d->n - 1] ? d->times[d->n - 1] : t;
    return footer_next(&d->ft, from);
}

int64_t jw_tz_prev_transition(const struct jw_tz *tz, int64_t utc_s)
{
    const struct tz_data *d = data_of(tz);
    int64_t t = clamp_instant(utc_s);
    if (utc_s <= -TZ_CLAMP)
        return INT64_MIN;
    if (footer_governs(d, t)) {
        int64_t p = footer_prev(&d->ft, t);
        if (d->n == 0 || p > d->times[d->n - 1])
            return p;
        return d->times[d->n - 1];
    }
    ptrdiff_t i = last_le(d, t);
    return i < 0 ? INT64_MIN : d->times[i];
}

/* The candidate offsets for local time local_s: the one in force at the start
 * of the +-26 h window, and the one after each transition inside it. */
static size_t window_offsets(const struct jw_tz *tz, int64_t local_s, int64_t *trans, int32_t *offs,
                             size_t max)
{
    int64_t t = local_s - TZ_MAX_OFFSET - 1;
    size_t n = 0;
    trans[n] = INT64_MIN;
    offs[n++] = jw_tz_offset_at(tz, t);
    while (n < max) {
        t = jw_tz_next_transition(tz, t);
        if (t == INT64_MAX || t > local_s + TZ_MAX_OFFSET)
            break;
        trans[n] = t;
        offs[n++] = jw_tz_offset_at(tz, t);
    }
    return n;
}

int jw_tz_local_to_utc(const struct jw_tz *tz, int64_t local_s, int64_t out[2])
{
    int64_t trans[8];
    int32_t offs[8];
    int64_t local = clamp_instant(local_s);
    size_t n = window_offsets(tz, local, trans, offs, 8);
    int count = 0;
    /* offset i holds on [trans[i], trans[i+1]); local - offs[i] is a valid
     * answer when it lies in that interval. Intervals ascend, so do answers. */
    for (size_t i = 0; i < n && count < 2; i++) {
        int64_t u = local - offs[i];
        if (u >= trans[i] && (i + 1 == n || u < trans[i + 1]))
            out[count++] = u;
    }
    return count;
}

int64_t jw_tz_gap_end(const struct jw_tz *tz, int64_t local_s)
{
    int64_t trans[8];
    int32_t offs[8];
    int64_t local = clamp_instant(local_s);
    size_t n = window_offsets(tz, local, trans, offs, 8);
    for (size_t i = 1; i < n; i++) {
        if (local >= trans[i] + offs[i - 1] && local < trans[i] + offs[i])
            return trans[i];
    }
    return INT64_MIN;
}

const char *jw_tz_name(const struct jw_tz *tz)
{
    return tz ? tz->name : "UTC";
}

/* ---- the database ---- */

static int cmp_zone_name(const void *a, const void *b)
{
    return strcmp(((const struct jw_tz *)a)->name, ((const struct jw_tz *)b)->name);
}

static int cmp_key_zone(const void *key, const void *z)
{
    return strcmp((const char *)key, ((const struct jw_tz *)z)->name);
}

const struct jw_tz *jw_tz_get(const char *name)
{
    if (!name || !g_db.zones)
        return NULL;
    return bsearch(name, g_db.zones, g_db.nzones, sizeof(*g_db.zones), cmp_key_zone);
}

static void free_data(struct tz_data *d)
{
    if (!d)
        return;
    free(d->times);
    free(d->offs);
    free(d);
}

void jw_tz_db_free(void)
{
    for (size_t i = 0; i < g_db.nzones; i++)
        free(g_db.zones[i].name);
    for (size_t i = 0; i < g_db.ndatas; i++)
        free_data(g_db.datas[i]);
    free(g_db.zones);
    free(g_db.datas);
    memset(&g_db, 0, sizeof(g_db));
}

/* A file found while walking the directory; datas are shared per inode. */
struct tz_file {
    char *name;
    dev_t dev;
    ino_t ino;
    struct tz_data *data;
};

/* The loader's working state; everything here is freed by load_free(). */
struct tz_loader {
    const char *root;
    struct tz_file *files;
    size_t nfiles, cap;
    struct tz_data **datas;
    size_t ndatas;
    char *err;
    size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int load_fail(struct tz_loader *ld, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (ld->err && ld->errlen)
        (void)vsnprintf(ld->err, ld->errlen, fmt, ap); /* truncating is fine */
    va_end(ap);
    return -1;
}

static void load_free(struct tz_loader *ld)
{
    for (size_t i = 0; i < ld->nfiles; i++)
        free(ld->files[i].name);
    for (size_t i = 0; i < ld->ndatas; i++)
        free_data(ld->datas[i]);
    free(ld->files);
    free(ld->datas);
}

/* Reads the start of path; returns 1 when it is a TZif file, 0 when not. */
static int is_tzif(const char *path)
{
    unsigned char magic[4];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t r = read(fd, magic, sizeof(magic));
    if (close(fd) != 0)
        return 0;
    return r == 4 && memcmp(magic, "TZif", 4) == 0;
}

static int add_file(struct tz_loader *ld, const char *rel, const struct stat *st)
{
    if (ld->nfiles == ld->cap) {
        size_t cap = ld->cap ? ld->cap * 2 : 1024;
        struct tz_file *f = realloc(ld->files, cap * sizeof(*f));
        if (!f)
            return load_fail(ld, "zoneinfo: out of memory");
        ld->files = f;
        ld->cap = cap;
    }
    char *name = strdup(rel);
    if (!name)
        return load_fail(ld, "zoneinfo: out of memory");
    ld->files[ld->nfiles++] = (struct tz_file){name, st->st_dev, st->st_ino, NULL};
    return 0;
}

/* Walks dir (relative to root: rel, "" at the top) collecting TZif files.
 * Symlinks to files are followed (UTC -> Etc/UTC); symlinks to folders are
 * not, so no loop is possible. */
static int walk(struct tz_loader *ld, const char *rel, int depth)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/%s", ld->root, rel) >= (int)sizeof(path))
        return load_fail(ld, "zoneinfo: path too long: %s", rel);
    DIR *dir = opendir(path);
    if (!dir)
        return load_fail(ld, "zoneinfo: cannot open %s: %s", path, strerror(errno));
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(dir);
        if (!de) {
            if (errno != 0)
                rc = load_fail(ld, "zoneinfo: reading %s/%s: %s", ld->root, rel, strerror(errno));
            break;
        }
        const char *nm = de->d_name;
        if (nm[0] == '.')
            continue;
        if (depth == 0 && (strcmp(nm, "posix") == 0 || strcmp(nm, "right") == 0 ||
                           strcmp(nm, "localtime") == 0 || strcmp(nm, "posixrules") == 0))
            continue;
        char child[4096];
        int w = rel[0] ? snprintf(child, sizeof(child), "%s/%s", rel, nm)
                       : snprintf(child, sizeof(child), "%s", nm);
        if (w < 0 || w >= (int)sizeof(child) ||
            snprintf(path, sizeof(path), "%s/%s", ld->root, child) >= (int)sizeof(path)) {
            rc = load_fail(ld, "zoneinfo: path too long: %s", nm);
            break;
        }
        struct stat lst, st;
        if (lstat(path, &lst) != 0 || stat(path, &st) != 0)
            continue; /* vanished, or a dangling symlink */
        if (S_ISDIR(st.st_mode)) {
            if (!S_ISLNK(lst.st_mode) && depth + 1 < TZ_MAX_DEPTH)
                rc = walk(ld, child, depth + 1);
        } else if (S_ISREG(st.st_mode) && is_tzif(path)) {
            rc = add_file(ld, child, &st);
        }
        if (rc != 0)
            break;
    }
    if (closedir(dir) != 0 && rc == 0)
        rc = load_fail(ld, "zoneinfo: closing %s: %s", rel, strerror(errno));
    return rc;
}

static int cmp_file_inode(const void *a, const void *b)
{
    const struct tz_file *x = a, *y = b;
    if (x->dev != y->dev)
        return x->dev < y->dev ? -1 : 1;
    if (x->ino != y->ino)
        return x->ino < y->ino ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int read_whole(struct tz_loader *ld, const char *rel, unsigned char **out, size_t *len)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/%s", ld->root, rel) >= (int)sizeof(path))
        return load_fail(ld, "zoneinfo: path too long: %s", rel);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return load_fail(ld, "zoneinfo: cannot open %s: %s", rel, strerror(errno));
    struct stat st;
    size_t cap = 0, n = 0;
    unsigned char *buf = NULL;
    int rc = 0;
    if (fstat(fd, &st) != 0)
        rc = load_fail(ld, "zoneinfo: %s: %s", rel, strerror(errno));
    else if (st.st_size >= TZ_MAX_FILE)
        rc = load_fail(ld, "zoneinfo: %s is too large", rel);
    else if (!(buf = malloc(cap = (size_t)st.st_size + 1)))
        rc = load_fail(ld, "zoneinfo: out of memory");
    /* read one byte more than the size, to notice a file that grew */
    while (rc == 0 && n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = load_fail(ld, "zoneinfo: reading %s: %s", rel, strerror(errno));
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    if (close(fd) != 0 && rc == 0)
        rc = load_fail(ld, "zoneinfo: closing %s: %s", rel, strerror(errno));
    if (rc == 0 && n == cap)
        rc = load_fail(ld, "zoneinfo: %s changed while being read", rel);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* Parses each distinct file (by inode) once; links share its data. */
static int parse_all(struct tz_loader *ld)
{
    if (ld->nfiles == 0)
        return 0;
    qsort(ld->files, ld->nfiles, sizeof(*ld->files), cmp_file_inode);
    ld->datas = calloc(ld->nfiles, sizeof(*ld->datas));
    if (!ld->datas)
        return load_fail(ld, "zoneinfo: out of memory");
    for (size_t i = 0; i < ld->nfiles; i++) {
        struct tz_file *f = &ld->files[i];
        if (i > 0 && f->dev == f[-1].dev && f->ino == f[-1].ino) {
            f->data = f[-1].data;
            continue;
        }
        unsigned char *buf;
        size_t len;
        if (read_whole(ld, f->name, &buf, &len) != 0)
            return -1;
        struct tz_data *d = calloc(1, sizeof(*d));
        if (!d) {
            free(buf);
            return load_fail(ld, "zoneinfo: out of memory");
        }
        ld->datas[ld->ndatas++] = d;
        const char *why = parse_tzif(buf, len, d);
        free(buf);
        if (why)
            return load_fail(ld, "zoneinfo: %s: %s", f->name, why);
        f->data = d;
    }
    return 0;
}

int jw_tz_db_load(const char *zoneinfo_dir, char *err, size_t errlen)
{
    struct tz_loader ld = {0};
    ld.root = zoneinfo_dir;
    ld.err = err;
    ld.errlen = errlen;
    if (err && errlen)
        err[0] = '\0';
    if (!zoneinfo_dir || walk(&ld, "", 0) != 0 || parse_all(&ld) != 0) {
        if (!zoneinfo_dir)
            load_fail(&ld, "zoneinfo: no directory given");
        load_free(&ld);
        return -1;
    }
    /* "UTC" is always there; it needs no data of its own (utc_data). */
    bool has_utc = false;
    for (size_t i = 0; i < ld.nfiles && !has_utc; i++)
        has_utc = strcmp(ld.files[i].name, "UTC") == 0;
    struct jw_tz *zones = calloc(ld.nfiles + 1, sizeof(*zones));
    char *utc_name = has_utc ? NULL : strdup("UTC");
    if (!zones || (!has_utc && !utc_name)) {
        free(zones);
        free(utc_name);
        load_fail(&ld, "zoneinfo: out of memory");
        load_free(&ld);
        return -1;
    }
    size_t nz = 0;
    for (size_t i = 0; i < ld.nfiles; i++) {
        zones[nz].name = ld.files[i].name; /* ownership moves to the db */
        zones[nz++].data = ld.files[i].data;
        ld.files[i].name = NULL;
    }
    if (utc_name) {
        zones[nz].name = utc_name;
        zones[nz++].data = &utc_data;
    }
    qsort(zones, nz, sizeof(*zones), cmp_zone_name);
    jw_tz_db_free();
    g_db.zones = zones;
    g_db.nzones = nz;
    g_db.datas = ld.datas; /* ownership of every tz_data moves to the db */
    g_db.ndatas = ld.ndatas;
    ld.datas = NULL;
    ld.ndatas = 0;
    load_free(&ld);
    return 0;
}
