-- wrk script for bench/load.sh.
--   BENCH_MODE=baseline  GET as given on the command line (e.g. /healthz)
--   BENCH_MODE=viewer    POST the wandb SDK 0.31 Viewer query; BENCH_AUTH holds the
--                        complete Authorization header value ("Basic ...").
-- Every response that is not HTTP 200 is counted, and in viewer mode also every 200 whose
-- body lacks "username":"bench" (a GraphQL error or a null viewer); done() prints one line
--   BENCH_NON200 <count> <first status> <first body, truncated>
-- which bench/bench.py parses (a run with a non-200 is invalid).

local mode = os.getenv("BENCH_MODE") or "baseline"

if mode == "viewer" then
  wrk.method = "POST"
  wrk.body = '{"query":"query Viewer { viewer { id entity username email flags teams { edges { node { name } } } } }","operationName":"Viewer"}'
  wrk.headers["Content-Type"] = "application/json"
  local auth = os.getenv("BENCH_AUTH")
  if auth == nil or auth == "" then
    error("BENCH_MODE=viewer needs BENCH_AUTH")
  end
  wrk.headers["Authorization"] = auth
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non200 = 0
  first_bad = ""
end

local want = '"username":"bench"'

function response(status, headers, body)
  if status ~= 200 or (mode == "viewer" and not string.find(body or "", want, 1, true)) then
    non200 = non200 + 1
    if first_bad == "" then
      first_bad = tostring(status) .. " " .. string.sub(string.gsub(body or "", "%s+", " "), 1, 200)
    end
  end
end

function done(summary, latency, requests)
  local total = 0
  local sample = ""
  for _, t in ipairs(threads) do
    total = total + (t:get("non200") or 0)
    local s = t:get("first_bad") or ""
    if sample == "" and s ~= "" then
      sample = s
    end
  end
  io.write(string.format("BENCH_NON200 %d %s\n", total, sample))
end
