#!/bin/sh
# build-and-run: builds the cron fuzzer with clang (libFuzzer, ASan, UBSan)
# from the server's own sources and runs it.
# Usage: test/fuzz/build-and-run.sh [seconds, default 20]
# Environment: FUZZ_OUT (work folder, default $TMPDIR/jobwheel-fuzz),
#              JW_ZONEINFO (tz database, default /usr/share/zoneinfo).
set -eu

secs="${1:-20}"
case "$secs" in
    '' | *[!0-9]*) echo "usage: $0 [seconds]" >&2; exit 2 ;;
esac
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${FUZZ_OUT:-${TMPDIR:-/tmp}/jobwheel-fuzz}"
zoneinfo="${JW_ZONEINFO:-/usr/share/zoneinfo}"
if [ ! -d "$zoneinfo" ]; then
    echo "$0: no tz database at $zoneinfo" >&2
    exit 1
fi
mkdir -p "$out/corpus" "$out/artifacts"

clang -std=c17 -D_GNU_SOURCE -g -O1 \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
    -I"$root/include" \
    "$root/src/sched/cron.c" "$root/src/sched/tz.c" "$root/src/util/time.c" \
    "$root/test/fuzz/fuzz_cron.c" \
    -o "$out/fuzz_cron"

# Seeds: one expression per file, covering every syntax element.
i=0
while IFS= read -r line; do
    i=$((i + 1))
    printf '%s' "$line" > "$out/corpus/seed-$i"
done <<'SEEDS'
* * * * *
*/15 * * * *
0 0 * * *
30 2 * * *
0 * * * *
30 * * * *
5/10 * * * *
10-50/5 * * * *
0 9-17 * * MON-FRI
0 0 1 JAN,JUL *
0 0 29 2 *
0 0 L * *
0 0 L-3 * *
0 0 LW * *
0 0 15W * *
0 0 * * 5L
0 0 * * 1#2
0 0 ? * SUN
0 0 13 * 5
*/10 30 2 * * *
0 0 0 1 1 *
@yearly
@hourly
@weekly
SEEDS

cat > "$out/cron.dict" <<'DICT'
"*"
"*/"
"/"
"-"
","
"?"
"L"
"W"
"LW"
"L-"
"#"
"#L"
" "
"@yearly"
"@annually"
"@monthly"
"@weekly"
"@daily"
"@midnight"
"@hourly"
"JAN"
"FEB"
"DEC"
"SUN"
"MON"
"FRI"
"SAT"
"59"
"31"
"29"
"23"
"12"
"7"
DICT

export JW_ZONEINFO="$zoneinfo"
echo "fuzzing for ${secs}s (work folder $out)"
"$out/fuzz_cron" -max_total_time="$secs" -timeout=10 -max_len=128 \
    -dict="$out/cron.dict" -artifact_prefix="$out/artifacts/" -print_final_stats=1 \
    "$out/corpus"
