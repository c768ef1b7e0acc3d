/* cron: parses cron expressions into per-field bitmasks and computes their
 * next firing in a time zone, with the Vixie cron daylight-saving rules. */
#include "jobwheel/cron.h"

#include "jobwheel/tz.h"
#include "jobwheel/time.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CRON_MAX_LEN 1024
#define CRON_LIMIT_YEAR 2200
/* Nothing is searched before 0001-01-01T00:00:00Z. */
#define CRON_MIN_S INT64_C(-62135596800)

enum cron_field { F_SEC, F_MIN, F_HOUR, F_DOM, F_MON, F_DOW, F_COUNT };

static const struct field_info {
    const char *name;
    int min, max; /* accepted values (day-of-week takes 7 for Sunday too) */
    int span;     /* largest step */
} fields[F_COUNT] = {
    {"second", 0, 59, 60},       {"minute", 0, 59, 60}, {"hour", 0, 23, 24},
    {"day-of-month", 1, 31, 31}, {"month", 1, 12, 12},  {"day-of-week", 0, 7, 7},
};

static const char *const month_names[12] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                            "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const day_names[7] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

/* A parsed expression: one bit per allowed value. */
struct jw_cron {
    uint64_t sec, min;  /* bit n: second / minute n */
    uint32_t hour;      /* bit n: hour n */
    uint32_t dom;       /* bit d: day d of the month */
    uint32_t dom_w;     /* bit d: the weekday nearest day d (dW) */
    uint32_t dom_last;  /* bit n: n days before the last day (L = L-0, L-n) */
    uint16_t mon;       /* bit m: month m (1..12) */
    uint8_t dow;        /* bit w: weekday w (0 = Sunday) */
    uint8_t dow_last;   /* bit w: the last weekday w of the month (wL) */
    uint8_t dow_nth[7]; /* dow_nth[w] bit n: the n-th weekday w (w#n) */
    bool dom_lw;        /* LW: the last Monday-to-Friday of the month */
    bool dom_star;      /* day-of-month starts with '*' or is '?' (Vixie) */
    bool dow_star;      /* likewise for day-of-week */
    bool fixed_time;    /* minute and hour both without a leading '*' */
    bool has_seconds;
};

/* ---- calendar arithmetic (proleptic Gregorian) ---- */

static int lowest_bit(uint64_t v)
{
    return __builtin_ctzll(v);
}

/* ---- parsing ---- */

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(err, errlen, fmt, ap); /* truncating is fine */
        va_end(ap);
    }
    return -1;
}

/* The message for a special character used in a field that does not take it,
 * or NULL when the field takes it. */
static const char *misplaced(enum cron_field f, char ch)
{
    switch (ch) {
    case 'L':
    case 'l': return f == F_DOM || f == F_DOW ? NULL : "'L' is only allowed in day-of-month and day-of-week";
    case 'W':
    case 'w': return f == F_DOM ? NULL : "'W' is only allowed in day-of-month";
    case '#': return f == F_DOW ? NULL : "'#' is only allowed in day-of-week";
    case '?':
        return f == F_DOM || f == F_DOW ? "'?' must be the whole field"
                                        : "'?' is only allowed in day-of-month and day-of-week";
    default: return NULL;
    }
}

static bool is_alpha(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static char upper(char ch)
{
    return ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
}

/* Parse one number or name at *p into *out (not range-checked) and its text
 * into tok. range_end: a day-of-week name closing a range, where SUN is 7. */
static int parse_value(enum cron_field f, const char **p, bool range_end, int *out, char *tok, size_t toklen,
                       char *err, size_t errlen)
{
    const struct field_info *fi = &fields[f];
    const char *s = *p;
    size_t n = 0;
    if (is_digit(*s)) {
        long v = 0;
        while (is_digit(s[n])) {
            if (v < 1000000)
                v = v * 10 + (s[n] - '0');
            n++;
        }
        *out = (int)v;
    } else if (is_alpha(*s)) {
        const char *const *names = f == F_MON ? month_names : f == F_DOW ? day_names : NULL;
        int count = f == F_MON ? 12 : 7;
        for (int i = 0; names && i < count; i++) {
            if (is_alpha(s[1]) && is_alpha(s[2]) && upper(s[0]) == names[i][0] &&
                upper(s[1]) == names[i][1] && upper(s[2]) == names[i][2]) {
                n = 3;
                *out = f == F_MON ? i + 1 : (range_end && i == 0 ? 7 : i);
                break;
            }
        }
        if (n == 0) {
            while (is_alpha(s[n]))
                n++;
            if (n == 1 && misplaced(f, *s))
                return fail(err, errlen, "%s: %s", fi->name, misplaced(f, *s));
            if (names)
                return fail(err, errlen, "%s: unknown name '%.*s'", fi->name, (int)n, s);
            return fail(err, errlen, "%s: '%.*s' is not a number", fi->name, (int)n, s);
        }
    } else {
        if (*s && misplaced(f, *s))
            return fail(err, errlen, "%s: %s", fi->name, misplaced(f, *s));
        if (*s == '\0')
            return fail(err, errlen, "%s: a value is missing", fi->name);
        return fail(err, errlen, "%s: unexpected '%c'", fi->name, *s);
    }
    (void)snprintf(tok, toklen, "%.*s", (int)(n < 20 ? n : 20), s); /* for messages */
    *p = s + n;
    return 0;
}

static int check_range(enum cron_field f, int v, const char *tok, char *err, size_t errlen)
{
    const struct field_info *fi = &fields[f];
    if (v < fi->min || v > fi->max)
        return fail(err, errlen, "%s: %s is out of range %d-%d", fi->name, tok, fi->min, fi->max);
    return 0;
}

/* Parse a step "/N" at *p (p at the '/'). */
static int parse_step(enum cron_field f, const char **p, int *step, char *err, size_t errlen)
{
    const struct field_info *fi = &fields[f];
    char tok[24];
    (*p)++;
    if (!is_digit(**p))
        return fail(err, errlen, "%s: a step must be a number", fi->name);
    if (parse_value(f, p, false, step, tok, sizeof(tok), err, errlen) != 0)
        return -1;
    if (*step < 1 || *step > fi->span)
        return fail(err, errlen, "%s: step %s is out of range 1-%d", fi->name, tok, fi->span);
    return 0;
}

/* The rest of an item after its values must be empty. */
static int check_end(enum cron_field f, const char *p, const char *item, char *err, size_t errlen)
{
    if (*p == '\0')
        return 0;
    if (misplaced(f, *p))
        return fail(err, errlen, "%s: %s", fields[f].name, misplaced(f, *p));
    return fail(err, errlen, "%s: invalid value '%.40s'", fields[f].name, item);
}

/* Day-of-month items of their own: L, L-n, LW, nW. Returns 1 when the item
 * was one of them, 0 when it is an ordinary item, -1 on error. */
static int parse_dom_special(struct jw_cron *c, const char *item, char *err, size_t errlen)
{
    const char *p = item;
    const char *fname = fields[F_DOM].name;
    if (upper(*p) == 'L') {
        p++;
        if (*p == '\0') {
            c->dom_last |= 1u;
            return 1;
        }
        if (upper(*p) == 'W' && p[1] == '\0') {
            c->dom_lw = true;
            return 1;
        }
        if (*p == '-' && is_digit(p[1])) {
            int n;
            char tok[24];
            p++;
            if (parse_value(F_DOM, &p, false, &n, tok, sizeof(tok), err, errlen) != 0)
                return -1;
            if (*p != '\0')
                return fail(err, errlen, "%s: invalid value '%.40s'", fname, item);
            if (n > 30)
                return fail(err, errlen, "%s: offset %s in '%.40s' is out of range 0-30", fname, tok, item);
            c->dom_last |= 1u << n;
            return 1;
        }
        return fail(err, errlen, "%s: invalid value '%.40s'", fname, item);
    }
    size_t n = 0;
    while (is_digit(p[n]))
        n++;
    if (n == 0 || upper(p[n]) != 'W')
        return 0;
    if (p[n + 1] != '\0')
        return fail(err, errlen, "%s: invalid value '%.40s'", fname, item);
    int d;
    char tok[24];
    if (parse_value(F_DOM, &p, false, &d, tok, sizeof(tok), err, errlen) != 0 ||
        check_range(F_DOM, d, tok, err, errlen) != 0)
        return -1;
    c->dom_w |= 1u << d;
    return 1;
}

/* Parse one comma-separated item of field f, adding to bits and c. */
static int parse_item(struct jw_cron *c, enum cron_field f, const char *item, uint64_t *bits, char *err,
                      size_t errlen)
{
    const struct field_info *fi = &fields[f];
    const char *p = item;
    int lo, hi, step = 1;
    char tok_lo[24], tok_hi[24];
    if (*item == '\0')
        return fail(err, errlen, "%s: empty list item", fi->name);
    if (f == F_DOM) {
        int r = parse_dom_special(c, item, err, errlen);
        if (r != 0)
            return r < 0 ? -1 : 0;
    }
    if (*p == '*') {
        p++;
        lo = fi->min;
        hi = f == F_DOW ? 6 : fi->max;
        if (*p == '/' && parse_step(f, &p, &step, err, errlen) != 0)
            return -1;
        if (check_end(f, p, item, err, errlen) != 0)
            return -1;
    } else {
        if (f == F_DOW && upper(*p) == 'L')
            return fail(err, errlen, "%s: 'L' needs a weekday before it, as in 5L", fi->name);
        if (parse_value(f, &p, false, &lo, tok_lo, sizeof(tok_lo), err, errlen) != 0 ||
            check_range(f, lo, tok_lo, err, errlen) != 0)
            return -1;
        hi = lo;
        if (f == F_DOW && (upper(*p) == 'L' || *p == '#')) {
            /* wL, w#L: the last weekday w; w#n: the n-th weekday w */
            int w = lo % 7;
            if (upper(*p) == 'L' || (p[0] == '#' && upper(p[1]) == 'L')) {
                p += *p == '#' ? 2 : 1;
                if (check_end(f, p, item, err, errlen) != 0)
                    return -1;
                c->dow_last |= (uint8_t)(1u << w);
                return 0;
            }
            int nth;
            char tok[24];
            p++;
            if (!is_digit(*p))
                return fail(err, errlen, "%s: '#' must be followed by 1-5 or L in '%.40s'", fi->name, item);
            if (parse_value(f, &p, false, &nth, tok, sizeof(tok), err, errlen) != 0)
                return -1;
            if (check_end(f, p, item, err, errlen) != 0)
                return -1;
            if (nth < 1 || nth > 5)
                return fail(err, errlen, "%s: occurrence %s in '%.40s' is out of range 1-5", fi->name, tok,
                            item);
            c->dow_nth[w] |= (uint8_t)(1u << nth);
            return 0;
        }
        if (*p == '-') {
            p++;
            if (parse_value(f, &p, true, &hi, tok_hi, sizeof(tok_hi), err, errlen) != 0 ||
                check_range(f, hi, tok_hi, err, errlen) != 0)
                return -1;
            if (f == F_DOW && lo == 0 && hi == 7 && is_alpha(tok_hi[0]))
                hi = 0; /* SUN-SUN is Sunday, not the whole week (0-7 is) */
            if (lo > hi)
                return fail(err, errlen, "%s: range %s-%s has its start after its end", fi->name, tok_lo,
                            tok_hi);
        } else if (*p == '/') {
            hi = f == F_DOW && lo < 7 ? 6 : fi->max; /* "a/n": from a to the end */
        }
        if (*p == '/' && parse_step(f, &p, &step, err, errlen) != 0)
            return -1;
        if (check_end(f, p, item, err, errlen) != 0)
            return -1;
    }
    for (int v = lo; v <= hi; v += step)
        *bits |= UINT64_C(1) << (f == F_DOW ? v % 7 : v);
    return 0;
}

/* Parse field f from text (NUL-terminated, no whitespace). */
static int parse_field(struct jw_cron *c, enum cron_field f, char *text, uint64_t *bits, char *err,
                       size_t errlen)
{
    const struct field_info *fi = &fields[f];
    if (strcmp(text, "?") == 0) {
        if (f != F_DOM && f != F_DOW)
            return fail(err, errlen, "%s: %s", fi->name, misplaced(f, '?'));
        for (int v = fi->min; v <= (f == F_DOW ? 6 : fi->max); v++)
            *bits |= UINT64_C(1) << v;
        return 0;
    }
    if (strchr(text, '?'))
        return fail(err, errlen, "%s: %s", fi->name, misplaced(f, '?'));
    char *item = text;
    for (;;) {
        char *comma = strchr(item, ',');
        if (comma)
            *comma = '\0';
        if (parse_item(c, f, item, bits, err, errlen) != 0)
            return -1;
        if (!comma)
            return 0;
        item = comma + 1;
    }
}

/* The days of month m of year y that the day fields select, as bits 1..31. */
static uint32_t day_mask(const struct jw_cron *c, int64_t y, int m)
{
    int dim = jw_days_in_month(y, m);
    uint32_t all = ((UINT32_C(1) << dim) - 1) << 1;
    int wd1 = jw_weekday_from_days(jw_days_from_civil(y, m, 1));
    uint32_t dom = c->dom & all;
    for (uint32_t b = c->dom_last; b; b &= b - 1) {
        int n = lowest_bit(b);
        if (n < dim)
            dom |= UINT32_C(1) << (dim - n);
    }
    for (uint32_t b = c->dom_w; b; b &= b - 1) {
        int d = lowest_bit(b);
        if (d > dim)
            continue; /* 31W in a 30-day month: no such day, no firing */
        int wd = (wd1 + d - 1) % 7;
        if (wd == 6)
            d = d == 1 ? 3 : d - 1; /* Saturday: Friday, or Monday the 3rd */
        else if (wd == 0)
            d = d == dim ? d - 2 : d + 1; /* Sunday: Monday, or Friday */
        dom |= UINT32_C(1) << d;
    }
    if (c->dom_lw) {
        int wd = (wd1 + dim - 1) % 7;
        dom |= UINT32_C(1) << (wd == 6 ? dim - 1 : wd == 0 ? dim - 2 : dim);
    }
    uint32_t dow = 0;
    for (int w = 0; w < 7; w++) {
        int first = 1 + (w - wd1 + 7) % 7;
        if (c->dow >> w & 1)
            for (int d = first; d <= dim; d += 7)
                dow |= UINT32_C(1) << d;
        if (c->dow_last >> w & 1)
            dow |= UINT32_C(1) << (first + (dim - first) / 7 * 7);
        for (int n = 1; n <= 5; n++)
            if ((c->dow_nth[w] >> n & 1) && first + 7 * (n - 1) <= dim)
                dow |= UINT32_C(1) << (first + 7 * (n - 1));
    }
    /* Vixie: if either field starts with '*', a day must match both (a bare
     * '*' matches every day); when both are restricted, either one will do */
    if (c->dom_star || c->dow_star)
        return dom & dow;
    return dom | dow;
}

/* True when some day of some selected month matches: 28 consecutive years
 * hold every combination of leap year and weekday of January 1st. */
static bool can_fire(const struct jw_cron *c)
{
    for (int64_t y = 2000; y < 2028; y++)
        for (int m = 1; m <= 12; m++)
            if ((c->mon >> m & 1) && day_mask(c, y, m) != 0)
                return true;
    return false;
}

static const struct {
    const char *name;
    const char *expansion;
} macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},  {"@midnight", "0 0 * * *"}, {"@hourly", "0 * * * *"},
};

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* Splits buf in place into at most max fields; returns how many there are
 * (possibly more than max, which are then not stored). */
static int split_fields(char *buf, char **out, int max)
{
    int n = 0;
    char *p = buf;
    for (;;) {
        while (is_space(*p))
            *p++ = '\0';
        if (*p == '\0')
            return n;
        if (n < max)
            out[n] = p;
        n++;
        while (*p && !is_space(*p))
            p++;
    }
}

/* Expands a macro in buf (which starts with '@') in place. */
static int expand_macro(char *buf, size_t bufsize, char *err, size_t errlen)
{
    char *f[2];
    int n = split_fields(buf, f, 2);
    if (n != 1)
        return fail(err, errlen, "%.40s takes no other fields", f[0]);
    for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++) {
        if (strcasecmp(f[0], macros[i].name) == 0) {
            (void)snprintf(buf, bufsize, "%s", macros[i].expansion); /* always fits */
            return 0;
        }
    }
    if (strcasecmp(f[0], "@reboot") == 0)
        return fail(err, errlen, "@reboot is not supported");
    return fail(err, errlen, "unknown macro '%.40s'", f[0]);
}

struct jw_cron *jw_cron_parse(const char *expr, char *err, size_t errlen)
{
    char buf[CRON_MAX_LEN + 1];
    if (err && errlen)
        err[0] = '\0';
    if (!expr) {
        fail(err, errlen, "expected 5 or 6 fields, got 0");
        return NULL;
    }
    size_t len = strlen(expr);
    if (len > CRON_MAX_LEN) {
        fail(err, errlen, "expression is too long (at most %d characters)", CRON_MAX_LEN);
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)expr[i];
        if ((ch < 0x20 || ch > 0x7e) && !is_space((char)ch)) {
            fail(err, errlen, "unexpected character 0x%02x", ch);
            return NULL;
        }
    }
    memcpy(buf, expr, len + 1);
    char *start = buf;
    while (is_space(*start))
        start++;
    if (*start == '@') {
        memmove(buf, start, strlen(start) + 1);
        if (expand_macro(buf, sizeof(buf), err, errlen) != 0)
            return NULL;
    }
    char *text[6];
    int n = split_fields(buf, text, 6);
    if (n != 5 && n != 6) {
        fail(err, errlen, "expected 5 or 6 fields, got %d", n);
        return NULL;
    }
    struct jw_cron *c = calloc(1, sizeof(*c));
    if (!c) {
        fail(err, errlen, "out of memory");
        return NULL;
    }
    c->has_seconds = n == 6;
    char zero[] = "0"; /* the seconds field of a 5-field expression */
    uint64_t bits[F_COUNT] = {0};
    for (int f = 0; f < F_COUNT; f++) {
        char *t = c->has_seconds ? text[f] : f == F_SEC ? zero : text[f - 1];
        if (f == F_MIN)
            c->fixed_time = t[0] != '*';
        else if (f == F_HOUR)
            c->fixed_time = c->fixed_time && t[0] != '*';
        else if (f == F_DOM)
            c->dom_star = t[0] == '*' || strcmp(t, "?") == 0;
        else if (f == F_DOW)
            c->dow_star = t[0] == '*' || strcmp(t, "?") == 0;
        if (parse_field(c, (enum cron_field)f, t, &bits[f], err, errlen) != 0) {
            free(c);
            return NULL;
        }
    }
    c->sec = bits[F_SEC];
    c->min = bits[F_MIN];
    c->hour = (uint32_t)bits[F_HOUR];
    c->dom = (uint32_t)bits[F_DOM];
    c->mon = (uint16_t)bits[F_MON];
    c->dow = (uint8_t)bits[F_DOW];
    if (!can_fire(c)) {
        fail(err, errlen,
             "expression never fires: no day in the selected months matches "
             "day-of-month and day-of-week");
        free(c);
        return NULL;
    }
    return c;
}

void jw_cron_free(struct jw_cron *c)
{
    free(c);
}

bool jw_cron_has_seconds(const struct jw_cron *c)
{
    return c && c->has_seconds;
}

/* ---- next firing ---- */

#define NO_MATCH INT64_MAX

static int64_t compose(int64_t y, int m, int d, int h, int mi, int s)
{
    return jw_days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60 + s;
}

/* The first wall-clock time >= from (seconds, local time read as UTC) that
 * the expression matches, or NO_MATCH when there is none before limit. Skips
 * whole months, days, hours and minutes at a time using the bitmasks. */
static int64_t next_match(const struct jw_cron *c, int64_t from, int64_t limit)
{
    if (from >= limit)
        return NO_MATCH;
    int64_t days = jw_floor_div(from, 86400);
    int64_t sod = from - days * 86400;
    int64_t y, cached_y = INT64_MIN;
    int m, d, cached_m = 0;
    uint32_t dm = 0;
    jw_civil_from_days(days, &y, &m, &d);
    int h = (int)(sod / 3600), mi = (int)(sod / 60 % 60), s = (int)(sod % 60);
    for (;;) {
        if (y > CRON_LIMIT_YEAR + 1 || compose(y, m, d, h, mi, s) >= limit)
            return NO_MATCH;
        if (!(c->mon >> m & 1)) {
            uint32_t later = c->mon & ~((UINT32_C(2) << m) - 1);
            if (later) {
                m = lowest_bit(later);
            } else {
                y++;
                m = lowest_bit(c->mon);
            }
            d = 1;
            h = mi = s = 0;
            continue;
        }
        if (y != cached_y || m != cached_m) {
            dm = day_mask(c, y, m);
            cached_y = y;
            cached_m = m;
        }
        uint32_t days_left = (uint32_t)(dm & ~((UINT64_C(1) << d) - 1));
        if (!days_left) {
            if (++m > 12) {
                m = 1;
                y++;
            }
            d = 1;
            h = mi = s = 0;
            continue;
        }
        if (lowest_bit(days_left) != d) {
            d = lowest_bit(days_left);
            h = mi = s = 0;
        }
        uint32_t hours_left = c->hour & ~((UINT32_C(1) << h) - 1);
        if (!hours_left) {
            d++;
            h = mi = s = 0;
            continue;
        }
        if (lowest_bit(hours_left) != h) {
            h = lowest_bit(hours_left);
            mi = s = 0;
        }
        uint64_t mins_left = c->min & ~((UINT64_C(1) << mi) - 1);
        if (!mins_left) {
            h++;
            mi = s = 0;
            continue;
        }
        if (lowest_bit(mins_left) != mi) {
            mi = lowest_bit(mins_left);
            s = 0;
        }
        uint64_t secs_left = c->sec & ~((UINT64_C(1) << s) - 1);
        if (!secs_left) {
            mi++;
            s = 0;
            continue;
        }
        s = lowest_bit(secs_left);
        int64_t t = compose(y, m, d, h, mi, s);
        return t < limit ? t : NO_MATCH;
    }
}

/* The walk goes through UTC one stretch of constant offset at a time: in the
 * stretch [seg, end) with offset off, the wall-clock times [seg+off, end+off)
 * map one-to-one onto real time. A wildcard pattern looks exactly there. A
 * fixed-time pattern also looks at the wall-clock times skipped just before
 * seg (a gap: they fire at seg), and skips the ones already lived through
 * before seg (an overlap: they fired in the first pass). Finding the wall
 * time in a stretch is one next_match() bounded by the stretch's end. */
int64_t jw_cron_next(const struct jw_cron *c, const struct jw_tz *tz, int64_t after_ms)
{
    if (!c)
        return -1;
    const int64_t limit = jw_days_from_civil(CRON_LIMIT_YEAR, 1, 1) * 86400;
    int64_t u = after_ms < CRON_MIN_S * 1000 ? CRON_MIN_S : jw_floor_div(after_ms, 1000) + 1;
    if (u >= limit)
        return -1;
    int64_t seg = jw_tz_prev_transition(tz, u); /* INT64_MIN: none before */
    int32_t prev_off = seg == INT64_MIN ? 0 : jw_tz_offset_at(tz, seg - 1);
    for (;;) {
        int32_t off = jw_tz_offset_at(tz, u);
        int64_t end = jw_tz_next_transition(tz, u);
        int64_t stop = end < limit ? end : limit;
        int64_t from = u + off;
        if (c->fixed_time && seg != INT64_MIN) {
            int64_t resume = seg + prev_off; /* wall time when the offset changed */
            if (u == seg || resume > from)
                from = resume;
        }
        int64_t w = next_match(c, from, stop + off);
        if (w != NO_MATCH) {
            int64_t at = w - off;
            if (at < seg && seg != INT64_MIN)
                at = seg; /* in the gap before seg: fire when it ends */
            return at * 1000;
        }
        if (end >= limit)
            return -1;
        seg = end;
        prev_off = off;
        u = end;
    }
}
