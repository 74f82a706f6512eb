-- The bench's own wrk script for the loads the peer kit does not cover (cookie-authenticated or
-- form posts). The request comes from the environment:
--   BENCH_THREADS (wrk's -t), BENCH_METHOD (GET or POST), BENCH_HEADERS ("Name: value" lines), BENCH_BODY (sent as is; with
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

-- Each wrk thread takes its own share of the bodies (thread 1: lines 1, 1 + threads, ...), so that
-- with one connection per thread no two requests in flight carry the same body (the same account).
local threads = tonumber(os.getenv("BENCH_THREADS") or "1")
local started = 0
function setup(thread)
  thread:set("share", started)
  started = started + 1
end

local turn = nil
if #bodies > 1 then
  function request()
    local mine = {}
    for index = share + 1, #bodies, threads do
      table.insert(mine, bodies[index])
    end
    turn = (turn or 0) % #mine + 1
    return wrk.format(nil, nil, nil, mine[turn])
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format("BENCH %d %d %d %d %.3f %.3f\n", summary.requests, summary.duration, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
