#!/bin/sh
# build-and-run: builds jobwheel's libFuzzer targets with clang (ASan, UBSan)
# from the server's own sources, then runs each in turn for a while.
#
# Usage: test/fuzz/build-and-run.sh [seconds per target, default 10] [target ...]
#   test/fuzz/build-and-run.sh               every target, 10 s each (what CI runs)
#   test/fuzz/build-and-run.sh 600 json url  ten minutes each on two of them
#   test/fuzz/build-and-run.sh 0             build only
# Environment: FUZZ_OUT    work folder (default $TMPDIR/jobwheel-fuzz): the
#                          binaries, corpus/<target>/ (kept, so runs add up),
#                          artifacts/<target>/ (crashing inputs), logs/;
#              JW_ZONEINFO tz database (default /usr/share/zoneinfo).
# Needs clang and libclang-rt-14-dev, pkg-config, openssl (the command, for
# the JWT target's keys) and the -dev packages the server builds with.
#
# It stops at the first target that fails (a crash, a sanitizer report, a
# leak, a timeout or a broken property: each target aborts on one), prints
# the input that did it and the command that reproduces it, and exits 1.
set -eu

# One target per line: test/fuzz/fuzz_<name>.c with the pure modules (the
# jwpure library of meson.build) linked in, plus the server sources and
# pkg-config libraries listed (comma-separated, - for none); its seeds
# (files, each one input) and libFuzzer dictionary under test/fuzz/.
# A target whose fuzz_<name>.c, seeds or dictionary is absent is skipped, or
# runs without them.
targets='
# name     max_len  pkg-config  extra sources   seeds           dictionary
cron       128      -           -               seeds/cron      dict/cron.dict
json       8192     -           -               seeds/json      dict/json.dict
time       256      -           -               seeds/time      dict/time.dict
url        2200     -           -               seeds/url       dict/url.dict
jwt        4096     libjwt      src/auth/jwt.c  seeds/jwt       dict/jwt.dict
config     8192     -           -               seeds/config    dict/config.dict
run_token  512      -           -               seeds/run_token dict/run_token.dict
'

secs="${1:-10}"
case "$secs" in
    '' | *[!0-9]*) echo "usage: $0 [seconds per target] [target ...]" >&2; exit 2 ;;
esac
[ $# -gt 0 ] && shift
only="$*"
root="$(cd "$(dirname "$0")/../.." && pwd)"
here="$root/test/fuzz"
out="${FUZZ_OUT:-${TMPDIR:-/tmp}/jobwheel-fuzz}"
case "$out" in /*) ;; *) out="$(pwd)/$out" ;; esac
zoneinfo="${JW_ZONEINFO:-/usr/share/zoneinfo}"
if [ ! -d "$zoneinfo" ]; then
    echo "$0: no tz database at $zoneinfo" >&2
    exit 1
fi
for name in $only; do
    echo "$targets" | grep -q "^$name " || { echo "$0: no target named $name" >&2; exit 2; }
done
mkdir -p "$out/obj" "$out/logs" "$out/keys"

cflags="-std=c17 -D_GNU_SOURCE -g -O1 -fno-sanitize-recover=all -Werror -Wall -Wextra -Wshadow
        -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter -I$root/include"
libs="$(pkg-config --libs yajl uuid libcrypto) -lm"

# The pure modules, as meson.build lists them, instrumented once for all.
pure="$(sed -n '/^pure_sources = files(/,/^)/p' "$root/meson.build" | grep -o "'src/[^']*'" | tr -d "'")"
[ -n "$pure" ] || { echo "$0: no pure_sources in meson.build" >&2; exit 1; }
echo "building the pure modules (work folder $out)"
rm -f "$out/obj/"*.o "$out/libjwpure.a"
for src in $pure; do
    # shellcheck disable=SC2086
    clang $cflags -fsanitize=fuzzer-no-link,address,undefined -c "$root/$src" \
        -o "$out/obj/$(echo "$src" | tr / _).o"
done
ar rcs "$out/libjwpure.a" "$out/obj/"*.o

# The JWT target verifies RS256 and ES256 tokens: keys made once and kept,
# so the corpus stays meaningful from run to run.
if [ ! -s "$out/keys/es256-other.pem" ]; then
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$out/keys/rs256.pem" 2>/dev/null
    openssl pkey -in "$out/keys/rs256.pem" -pubout -out "$out/keys/rs256.pub"
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$out/keys/es256.pem" 2>/dev/null
    openssl pkey -in "$out/keys/es256.pem" -pubout -out "$out/keys/es256.pub"
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -out "$out/keys/es256-other.pem" 2>/dev/null
fi

# Build every chosen target first, so a compile error shows before any run.
chosen=""
echo "$targets" | grep -v '^#' | grep -v '^$' > "$out/targets"
while read -r name max_len pkgs extra seeds dict; do
    [ -z "$only" ] || case " $only " in *" $name "*) ;; *) continue ;; esac
    if [ ! -f "$here/fuzz_$name.c" ]; then
        echo "skipping $name: test/fuzz/fuzz_$name.c is not there"
        continue
    fi
    tlibs="$libs"
    [ "$pkgs" = - ] || tlibs="$tlibs $(pkg-config --libs $(echo "$pkgs" | tr , ' '))"
    srcs="$here/fuzz_$name.c"
    [ "$extra" = - ] || for s in $(echo "$extra" | tr , ' '); do srcs="$srcs $root/$s"; done
    echo "building fuzz_$name"
    # shellcheck disable=SC2086
    clang $cflags -fsanitize=fuzzer,address,undefined $srcs "$out/libjwpure.a" $tlibs -o "$out/fuzz_$name"
    chosen="$chosen $name"
done < "$out/targets"

[ "$secs" -gt 0 ] || { echo "built:$chosen (in $out)"; exit 0; }

export JW_ZONEINFO="$zoneinfo" JW_FUZZ_KEYS="$out/keys"
while read -r name max_len pkgs extra seeds dict; do
    case " $chosen " in *" $name "*) ;; *) continue ;; esac
    corpus="$out/corpus/$name"
    art="$out/artifacts/$name"
    log="$out/logs/$name.log"
    mkdir -p "$corpus" "$art"
    set -- -max_total_time="$secs" -timeout=10 -max_len="$max_len" -print_final_stats=1 \
        -artifact_prefix="$art/"
    [ ! -f "$here/$dict" ] || set -- "$@" -dict="$here/$dict"
    set -- "$@" "$corpus"
    [ ! -d "$here/$seeds" ] || set -- "$@" "$here/$seeds"
    touch "$out/logs/.started"
    if "$out/fuzz_$name" "$@" </dev/null >"$log" 2>&1; then
        runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
        echo "fuzz_$name: ${runs:-?} inputs in ${secs} s, no failure; corpus $(ls "$corpus" | wc -l) inputs"
        continue
    fi
    tail -n 60 "$log"
    found="$(find "$art" -type f -newer "$out/logs/.started" | head -n 1)"
    echo
    echo "FAILED: fuzz_$name (full log: $log)"
    if [ -n "$found" ]; then
        echo "input: $found"
        echo "reproduce: JW_ZONEINFO=$zoneinfo JW_FUZZ_KEYS=$out/keys $out/fuzz_$name $found"
    fi
    exit 1
done < "$out/targets"
