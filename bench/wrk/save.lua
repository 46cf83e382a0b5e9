-- Answer saves for wrk: each request saves one answer of a learner's open attempt.
-- Learners come from the file named by the LEARNERS environment variable, one
-- "<token> <attempt id>" per line; each thread takes every Nth learner and cycles through
-- them, with a fresh op_id and an increasing op_seq per request. PATH_PREFIX switches to the
-- floor server (the same body, one upsert, nothing else).
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

function init(args)
  local path = os.getenv("LEARNERS")
  local nthreads = tonumber(os.getenv("THREADS") or "2")
  prefix = os.getenv("PATH_PREFIX") or "/api/v1/attempts"
  learners = {}
  local n = 0
  for line in io.lines(path) do
    if n % nthreads == tid - 1 then
      local token, attempt = line:match("^(%S+)%s+(%S+)$")
      table.insert(learners, {token = token, attempt = attempt})
    end
    n = n + 1
  end
  seq = 0
  math.randomseed(tid * 7919)
end

function request()
  seq = seq + 1
  local learner = learners[(seq % #learners) + 1]
  local position = math.random(1, 100)
  local body = string.format(
    '{"op_id":"w%d-%d","op_seq":%d,"answer":{"choices":["%d"]},"elapsed_ms":1200}',
    tid, seq, 1000000 + seq, math.random(1, 4))
  return wrk.format("PUT", string.format("%s/%s/answers/%d", prefix, learner.attempt, position),
    {["Authorization"] = "Bearer " .. learner.token, ["Content-Type"] = "application/json"},
    body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, ' ..
    '"p99_us": %d, "max_us": %d, "status_errors": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, e.status, e.connect + e.read + e.write + e.timeout))
end
