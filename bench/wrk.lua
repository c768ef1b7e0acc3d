-- wrk script for scripts/bench: sets the method, path, headers and body from
-- the environment, makes each POST body unique, and prints one RESULT line
-- of JSON (requests/s, latency percentiles) for scripts/bench to read.
local method = os.getenv("BENCH_METHOD") or "GET"
local path = os.getenv("BENCH_PATH") or "/"
local token = os.getenv("BENCH_TOKEN")
local fixed_body = os.getenv("BENCH_BODY") -- a POST with this body, the same every time
if fixed_body == "" then fixed_body = nil end
local counter = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function request()
  local headers = {}
  if token then headers["Authorization"] = "Bearer " .. token end
  if method == "POST" and fixed_body then
    headers["Content-Type"] = "application/json"
    return wrk.format("POST", path, headers, fixed_body)
  end
  if method == "POST" then
    counter = counter + 1
    headers["Content-Type"] = "application/json"
    local body = string.format(
      '{"name":"bench-%d-%d-%d","endpoint_url":"https://example.com/hook","cron":"0 0 1 1 *"}',
      os.time(), tid, counter)
    return wrk.format("POST", path, headers, body)
  end
  return wrk.format(method, path, headers)
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.status + summary.errors.timeout
  io.write(string.format(
    'RESULT {"rps": %.1f, "p50_ms": %.3f, "p99_ms": %.3f, "requests": %d, "errors": %d}\n',
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests, errors))
end
