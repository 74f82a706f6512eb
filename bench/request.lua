-- The bench's own wrk script for the loads the peer kit does not cover (cookie-authenticated or
-- form posts). The request comes from the environment:
--   BENCH_METHOD (GET or POST), BENCH_HEADERS ("Name: value" lines), BENCH_BODY (sent as is; with
--   several lines, each request sends the next line, round robin).
-- At the end it writes one line the bench parses:
--   BENCH requests duration_us non2xx3xx socket_errors p50_ms p99_ms
wrk.method = os.getenv("BENCH_METHOD") or "GET"
local bodies = {}
for line in string.gmatch(os.getenv("BENCH_BODY") or "", "[^\n]+") do
  table.insert(bodies, line)
end
if #bodies == 1 then
  wrk.body = bodies[1]
end
for line in string.gmatch(os.getenv("BENCH_HEADERS") or "", "[^\n]+") do
  local name, value = string.match(line, "^([^:]+):%s*(.*)$")
  if name then
    wrk.headers[name] = value
  end
end

local turn = 0
if #bodies > 1 then
  function request()
    turn = turn % #bodies + 1
    return wrk.format(nil, nil, nil, bodies[turn])
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format("BENCH %d %d %d %d %.3f %.3f\n", summary.requests, summary.duration, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
