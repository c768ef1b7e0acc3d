/* time: clocks, ISO 8601 formatting/parsing, durations, civil dates. */
#include "jobwheel/time.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t jw_time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t jw_time_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t jw_time_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t jw_time_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t jw_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

bool jw_is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int jw_days_in_month(int64_t y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && jw_is_leap(y) ? 29 : dim[m - 1];
}

/* Howard Hinnant's days_from_civil / civil_from_days: 400-year eras that
 * start on March 1st. */
int64_t jw_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = jw_floor_div(y, 400);
    int64_t yoe = y - era * 400;                         /* 0..399 */
    int64_t mp = (m + 9) % 12;                           /* March = 0 */
    int64_t doy = (153 * mp + 2) / 5 + d - 1;            /* 0..365 */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* 0..146096 */
    return era * 146097 + doe - 719468;
}

void jw_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = jw_floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

int jw_weekday_from_days(int64_t z)
{
    return (int)(((z % 7) + 11) % 7); /* 1970-01-01 was a Thursday */
}

void jw_time_format(int64_t ms, char out[JW_TIME_ISO_SIZE])
{
    int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    int msec = (int)(ms - secs * 1000);
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    int64_t rem = secs - days * 86400;
    int64_t y;
    int m, d;
    jw_civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999) {
        snprintf(out, JW_TIME_ISO_SIZE, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)y, m, d,
                 (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), msec);
        return;
    }
    /* by hand: this is in every run and job shown, and snprintf is slow */
    int parts[6] = {m, d, (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), msec};
    static const char seps[] = "--T::.";
    char *p = out;
    int yy = (int)y;
    *p++ = (char)('0' + yy / 1000);
    *p++ = (char)('0' + yy / 100 % 10);
    *p++ = (char)('0' + yy / 10 % 10);
    *p++ = (char)('0' + yy % 10);
    for (int i = 0; i < 6; i++) {
        *p++ = seps[i];
        if (i == 5)
            *p++ = (char)('0' + parts[i] / 100);
        *p++ = (char)('0' + parts[i] / 10 % 10);
        *p++ = (char)('0' + parts[i] % 10);
    }
    *p++ = 'Z';
    *p = '\0';
}

static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

int jw_time_parse_date(const char *s, int *y, int *m, int *d)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    if (!digits(s, 4, y) || !digits(s + 5, 2, m) || !digits(s + 8, 2, d))
        return -1;
    if (*y < 1970 || *m < 1 || *m > 12 || *d < 1 || *d > jw_days_in_month(*y, *m))
        return -1;
    return 0;
}

int jw_time_parse(const char *s, int64_t *out_ms)
{
    int y, mo, d, h, mi, sec = 0, ms = 0;
    if (strlen(s) < 16 || strlen(s) > 40)
        return -1;
    char date[11];
    memcpy(date, s, 10);
    date[10] = '\0';
    if (jw_time_parse_date(date, &y, &mo, &d) != 0)
        return -1;
    if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
        return -1;
    const char *p = s + 11;
    if (!digits(p, 2, &h) || p[2] != ':' || !digits(p + 3, 2, &mi))
        return -1;
    p += 5;
    if (*p == ':') {
        if (!digits(p + 1, 2, &sec))
            return -1;
        p += 3;
        if (*p == '.' || *p == ',') {
            p++;
            int n = 0;
            while (isdigit((unsigned char)*p)) {
                if (n < 3)
                    ms = ms * 10 + (*p - '0');
                n++;
                p++;
            }
            if (n == 0 || n > 9)
                return -1;
            for (; n < 3; n++)
                ms *= 10;
        }
    }
    if (h > 23 || mi > 59 || sec > 60)
        return -1;
    if (sec == 60) /* a leap second reads as the next instant */
        sec = 59, ms = 999;
    int off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (!digits(p, 2, &oh))
            return -1;
        p += 2;
        if (*p == ':')
            p++;
        if (!digits(p, 2, &om))
            return -1;
        p += 2;
        if (oh > 23 || om > 59)
            return -1;
        off = sign * (oh * 3600 + om * 60);
    } else {
        return -1;
    }
    if (*p != '\0')
        return -1;
    int64_t days = jw_days_from_civil(y, mo, d);
    int64_t t = days * 86400 + h * 3600 + mi * 60 + sec - off;
    if (t < 0)
        return -1;
    *out_ms = t * 1000 + ms;
    return 0;
}

int jw_time_parse_duration(const char *s, int64_t *out_ms)
{
    size_t n = strlen(s);
    if (n < 2 || n > 12)
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    int64_t unit;
    switch (s[n - 1]) {
    case 's': unit = 1000; break;
    case 'm': unit = 60 * 1000; break;
    case 'h': unit = 3600 * 1000; break;
    case 'd': unit = 86400 * 1000; break;
    case 'w': unit = 7 * 86400 * 1000LL; break;
    default: return -1;
    }
    if (v <= 0 || v > 100LL * 366 * 86400 * 1000 / unit)
        return -1;
    *out_ms = v * unit;
    return 0;
}

int jw_time_parse_point(const char *s, int64_t now_ms, int64_t *out_ms)
{
    int64_t d;
    if (jw_time_parse_duration(s, &d) == 0) {
        *out_ms = now_ms - d;
        return 0;
    }
    return jw_time_parse(s, out_ms);
}
