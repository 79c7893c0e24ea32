-- wrk script for bench/file_stream.sh: every request is one file_stream post of BENCH_ROWS
-- history rows to one of BENCH_RUNS runs, at the next unused offset of that run, as a live
-- wandb run posts. Threads own disjoint runs, so every (run, offset) is posted once.
-- done() prints "BENCH_NON200 <count> <first status> <first body>" for bench/file_stream.py.

local runs = tonumber(os.getenv("BENCH_RUNS") or "64")
local rows = tonumber(os.getenv("BENCH_ROWS") or "10")
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "2")
-- Each round starts past the offsets of the rounds before it (a replay would store nothing).
local seq_base = tonumber(os.getenv("BENCH_SEQ_BASE") or "0")
local prefix = os.getenv("BENCH_PREFIX") or error("BENCH_PREFIX (/files/<entity>/<project>/) is required")
local auth = os.getenv("BENCH_AUTH") or error("BENCH_AUTH is required")

local threads = {}
local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  non200 = 0
  first_bad = ""
  per_thread = math.floor(runs / nthreads)
  headers = { ["Content-Type"] = "application/json", ["Authorization"] = auth }
end

function request()
  local run = tid + nthreads * (counter % per_thread)
  local seq = seq_base + math.floor(counter / per_thread)
  counter = counter + 1
  local offset = seq * rows
  local lines = {}
  for i = 0, rows - 1 do
    local step = offset + i
    lines[#lines + 1] = string.format(
      '"{\\"_step\\":%d,\\"loss\\":%.6f,\\"acc\\":%.4f,\\"_runtime\\":%.3f,\\"_timestamp\\":1796280000.5}"',
      step, 1 / (step + 1), step / 1e6, step * 0.1)
  end
  local body = '{"files":{"wandb-history.jsonl":{"offset":' .. offset .. ',"content":[' ..
    table.concat(lines, ",") .. ']}}}'
  return wrk.format("POST", prefix .. "r" .. run .. "/file_stream", headers, body)
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
    if first_bad == "" then
      first_bad = status .. " " .. string.sub(body or "", 1, 200)
    end
  end
end

function done(summary, latency, requests)
  local total, first = 0, ""
  for _, t in ipairs(threads) do
    total = total + (t:get("non200") or 0)
    local fb = t:get("first_bad") or ""
    if first == "" and fb ~= "" then first = fb end
  end
  io.write(string.format("BENCH_NON200 %d %s\n", total, first))
  io.write(string.format("BENCH_P99_US %d\n", latency:percentile(99)))
  io.write(string.format("BENCH_P50_US %d\n", latency:percentile(50)))
end
