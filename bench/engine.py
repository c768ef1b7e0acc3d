#!/usr/bin/env python3
"""Scheduling and dispatch benchmarks for scripts/bench (numbers, not pass/fail).

  firings SPREAD_S N   N one-off jobs due over SPREAD_S seconds (0: all at
                       one instant), calling BENCH_SINK (bench/hello.c);
                       prints their lateness (arrival at the sink minus the
                       nominal time, as the sink records it) p50/p99/max,
                       and when the runs were made (created_at minus nominal)
  schedules N          register N cron schedules through the batch endpoint;
                       prints registration rate, Redis bytes per schedule,
                       jobwheel idle CPU over 10 s and RSS
  dispatch N URL       trigger N runs of a job calling URL (bulk, 1000 at a
                       time) and time until every one has completed; prints
                       runs/s and Redis script calls per run
  delayed SPREAD_S N   N runs of one job triggered in bulk with scheduled_at
                       over SPREAD_S seconds (0: all at one instant); prints
                       their lateness as the sink records it, and the Redis
                       time per run of each script while they ran (SLOWLOG)

Needs: BENCH_BASE (http://127.0.0.1:port), BENCH_TOKEN, BENCH_REDIS_PORT,
BENCH_PID (jobwheel's pid)."""
import base64
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime, timezone

BASE = os.environ["BENCH_BASE"]
TOKEN = os.environ["BENCH_TOKEN"]
REDIS_PORT = os.environ["BENCH_REDIS_PORT"]
PID = int(os.environ["BENCH_PID"])
SINK = os.environ.get("BENCH_SINK", "https://example.com/hook")  # where benchmark jobs' runs go


def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(BASE + path, data=data, method=method,
                                 headers={"Authorization": "Bearer " + TOKEN,
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read() or b"null"), dict(r.headers)


def iso(ms):
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def ms(s):
    return int(datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000)


def redis_info(field):
    out = subprocess.run(["redis-cli", "-p", REDIS_PORT, "info", "memory"], capture_output=True,
                         text=True).stdout
    for line in out.splitlines():
        if line.startswith(field + ":"):
            return int(line.split(":")[1])
    return 0


def cpu_ticks():
    with open(f"/proc/{PID}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return int(parts[11]) + int(parts[12])  # utime + stime


def rss_kb():
    with open(f"/proc/{PID}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def batch_create(jobs, threads=2):
    chunks = [jobs[i:i + 1000] for i in range(0, len(jobs), 1000)]
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                if not chunks:
                    return
                chunk = chunks.pop()
            call("POST", "/v1/jobs/batch", chunk)

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def all_runs():
    runs, cursor = [], None
    while True:
        q = "/v1/runs?limit=200" + (f"&cursor={urllib.request.quote(cursor)}" if cursor else "")
        page, headers = call("GET", q)
        runs += page
        if headers.get("X-Has-More") != "true":
            return runs
        cursor = headers["X-Next-Cursor"]


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))]


def firings(spread_s, n):
    start = int(time.time() * 1000) + 8000 + (n // 2000) * 1000
    step = spread_s * 1000 / n if spread_s else 0
    sink = SINK.rstrip("/")
    urllib.request.urlopen(sink + "/late-report", timeout=30).read()  # forget earlier arrivals
    jobs = [{"name": f"once-{spread_s}-{i}-{start}", "endpoint_url": sink + "/late", "max_attempts": 1,
             "run_at": iso(int(start + i * step))} for i in range(n)]
    t0 = time.time()
    batch_create(jobs)
    made = time.time() - t0
    if time.time() * 1000 > start - 1000:
        print(f"  (registering took {made:.1f} s: too close to the first firing)")
    time.sleep(max(0, (start + spread_s * 1000) / 1000 - time.time()) + 3)
    runs = [r for r in all_runs() if r["triggered_by"] == "schedule"]
    made_late = [ms(r["created_at"]) - ms(r["scheduled_at"]) for r in runs]
    late = json.loads(urllib.request.urlopen(sink + "/late-report", timeout=30).read())
    label = f"{n} one-off firings over {spread_s} s" if spread_s else f"{n} firings at one instant"
    print(f"  {label:38s} arrived {len(late):6d}  lateness p50 {pct(late, 50):4d} ms  "
          f"p99 {pct(late, 99):4d} ms  max {max(late):4d} ms  (runs {len(runs)} made: "
          f"p50 {pct(made_late, 50)} p99 {pct(made_late, 99)} ms)")


def memory_by_kind(tenant):
    """Redis bytes (MEMORY USAGE) of the tenant's job keys and of the shards'
    due sets, by kind of key."""
    keys = [k for pattern in (f"jw:{{{tenant}}}:jobs*", f"jw:{{{tenant}}}:names*")
            for k in subprocess.run(["redis-cli", "-p", REDIS_PORT, "--scan", "--pattern", pattern],
                                    capture_output=True, text=True).stdout.split()]
    keys += subprocess.run(["redis-cli", "-p", REDIS_PORT, "--scan", "--pattern", "jw:{s:*}:due"],
                           capture_output=True, text=True).stdout.split()
    cmds = "".join(f"MEMORY USAGE {k} SAMPLES 0\n" for k in keys)
    out = subprocess.run(["redis-cli", "-p", REDIS_PORT], input=cmds, capture_output=True,
                         text=True).stdout.split()
    kinds = {}
    for k, v in zip(keys, out):
        kind = "due sets" if k.endswith(":due") else k.split("}:", 1)[1].split(":")
        if kind != "due sets":
            kind = "names" if kind[0] == "names" else ":".join(kind[:2])  # the names index and its buckets
        kinds[kind] = kinds.get(kind, 0) + int(v or 0)
    return kinds


def schedules(n):
    claims = json.loads(base64.urlsafe_b64decode(TOKEN.split(".")[1] + "=="))
    tenant = claims["tenants"][0]
    kinds0 = memory_by_kind(tenant)
    before = redis_info("used_memory")
    jobs = [{"name": f"cron-{n}-{i}", "endpoint_url": SINK,
             "cron": f"{i % 60} {i % 24} 1 1 *"} for i in range(n)]
    t0 = time.time()
    batch_create(jobs)
    secs = time.time() - t0
    after = redis_info("used_memory")
    time.sleep(2)
    c0, w0 = cpu_ticks(), time.time()
    time.sleep(10)
    cpu = (cpu_ticks() - c0) / os.sysconf("SC_CLK_TCK") / (time.time() - w0) * 100
    print(f"  {n:8d} cron schedules: registered at {n / secs:8.0f}/s  "
          f"Redis {(after - before) / n:6.0f} bytes/schedule  idle CPU {cpu:4.2f}%  RSS {rss_kb() // 1024} MiB")
    kinds = memory_by_kind(tenant)
    print("      bytes/schedule by key: " + "  ".join(
        f"{k} {(v - kinds0.get(k, 0)) / n:.0f}" for k, v in sorted(kinds.items())))


def commandstats():
    out = subprocess.run(["redis-cli", "-p", REDIS_PORT, "info", "commandstats"], capture_output=True,
                         text=True).stdout
    calls = {}
    for line in out.splitlines():
        if line.startswith("cmdstat_"):
            name, rest = line[8:].split(":", 1)
            calls[name] = int(rest.split(",")[0].split("=")[1])
    return calls


def dispatch(n, url):
    job, _ = call("POST", "/v1/jobs", {"name": f"dispatch-{time.time()}", "endpoint_url": url,
                                       "max_attempts": 1})
    tenant = None
    before = commandstats()
    t0 = time.time()
    batches = [{"items": [{"payload": {"i": i}} for i in range(k, min(n, k + 1000))]} for k in range(0, n, 1000)]
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                if not batches:
                    return
                b = batches.pop()
            call("POST", f"/v1/jobs/{job['id']}/trigger/bulk", b)

    ts = [threading.Thread(target=worker) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    triggered = time.time() - t0
    # done when no run of the job is open any more
    claims = json.loads(base64.urlsafe_b64decode(TOKEN.split(".")[1] + "=="))
    open_key = f"jw:{{{claims['tenants'][0]}}}:job:{job['id']}:open"
    while True:
        left = subprocess.run(["redis-cli", "-p", REDIS_PORT, "scard", open_key], capture_output=True,
                              text=True).stdout.strip()
        if left == "0":
            break
        if time.time() - t0 > 300:
            print(f"  dispatch: gave up waiting ({left} runs still open)")
            break
        time.sleep(0.02)
    secs = time.time() - t0
    after = commandstats()
    scripts = sum(after.get(k, 0) - before.get(k, 0) for k in ("fcall", "evalsha", "eval"))
    print(f"  {n} runs triggered in bulk and dispatched: {n / secs:8.0f} runs/s end to end "
          f"(triggering alone {n / triggered:8.0f}/s); Redis script calls per run {scripts / n:.2f}")


def redis_cli(*args):
    return subprocess.run(["redis-cli", "-p", REDIS_PORT, *map(str, args)], capture_output=True, text=True).stdout


def script_times():
    """Redis microseconds and calls per jobwheel function since the SLOWLOG
    was reset (every command is logged while slowlog-log-slower-than is 0)."""
    out = redis_cli("--no-raw", "slowlog", "get", "-1").splitlines()
    times, calls = {}, {}
    for i, line in enumerate(out):  # an entry: id, time, microseconds, then its arguments
        if line.strip().endswith('"FCALL"') or line.strip().endswith('"fcall"'):
            us = int(out[i - 1].split(")")[-1].strip().split()[-1])
            name = out[i + 1].split('"')[1].split("_", 2)[-1]
            times[name] = times.get(name, 0) + us
            calls[name] = calls.get(name, 0) + 1
    return times, calls


def fcall_usec():
    for line in redis_cli("info", "commandstats").splitlines():
        if line.startswith("cmdstat_fcall:"):
            return int(line.split("usec=")[1].split(",")[0])
    return 0


def delayed(spread_s, n):
    sink = SINK.rstrip("/")
    job, _ = call("POST", "/v1/jobs", {"name": f"delayed-{time.time()}", "endpoint_url": sink + "/late",
                                       "max_attempts": 1})
    urllib.request.urlopen(sink + "/late-report", timeout=30).read()  # forget earlier arrivals
    start = int(time.time() * 1000) + 5000 + (n // 2000) * 1000
    step = spread_s * 1000 / n if spread_s else 0
    for k in range(0, n, 500):
        call("POST", f"/v1/jobs/{job['id']}/trigger/bulk",
             {"items": [{"scheduled_at": iso(int(start + i * step)), "payload": {"i": i}}
                        for i in range(k, min(n, k + 500))]})
    if time.time() * 1000 > start - 1000:
        print("  (triggering took too long: too close to the first due time)")
    redis_cli("config", "set", "slowlog-log-slower-than", 0)
    redis_cli("config", "set", "slowlog-max-len", 50 * n)
    time.sleep(max(0, start / 1000 - time.time() - 0.5))
    redis_cli("slowlog", "reset")
    used0 = fcall_usec()
    time.sleep(max(0, (start + spread_s * 1000) / 1000 - time.time()) + 3)
    used = fcall_usec() - used0
    redis_cli("config", "set", "slowlog-log-slower-than", 10000)
    times, calls = script_times()
    late = json.loads(urllib.request.urlopen(sink + "/late-report", timeout=30).read())
    label = f"{n} delayed runs over {spread_s} s" if spread_s else f"{n} delayed runs due at one instant"
    print(f"  {label:38s} arrived {len(late):6d}  lateness p50 {pct(late, 50):4d} ms  "
          f"p99 {pct(late, 99):4d} ms  max {max(late):4d} ms")
    print(f"      Redis us per run while they ran: {used / n:.1f} in all (INFO commandstats; SLOWLOG's share: "
          + "  ".join(
        f"{k} {100 * v / max(sum(times.values()), 1):.0f}% ({calls[k]} calls)"
        for k, v in sorted(times.items(), key=lambda kv: -kv[1])) + ")")


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "firings":
        firings(int(sys.argv[2]), int(sys.argv[3]))
    elif what == "schedules":
        schedules(int(sys.argv[2]))
    elif what == "dispatch":
        dispatch(int(sys.argv[2]), sys.argv[3])
    elif what == "delayed":
        delayed(int(sys.argv[2]), int(sys.argv[3]))
