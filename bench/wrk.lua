-- wrk script for bench/load.sh.
--   BENCH_MODE=baseline  GET as given on the command line (e.g. /healthz)
--   BENCH_MODE=viewer    POST the wandb SDK 0.31 Viewer query; BENCH_AUTH holds the
--                        complete Authorization header value ("Basic ...").
--   BENCH_MODE=profile   POST, anonymously (no Authorization, no cookie), the query the web
--                        UI's public profile page sends for user "bench" (same body as
--                        PROFILE_QUERY in bench/bench.py).
-- Every response that is not HTTP 200 is counted, and in viewer mode also every 200 whose
-- body lacks "username":"bench" (a GraphQL error or a null viewer), in profile mode every 200
-- whose body lacks "username":"bench" or the rendered intro ("introHtml":"<h1>Ada Bench,
-- see intro_markdown() in bench/bench.py); done() prints one line
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
elseif mode == "profile" then
  wrk.method = "POST"
  wrk.body = '{"query":"query PublicUser($username: String!) { user(username: $username) { username name photoUrl institution bio location website intro introHtml } }","variables":{"username":"bench"}}'
  wrk.headers["Accept"] = "application/json"
  wrk.headers["Content-Type"] = "application/json"
elseif mode ~= "baseline" then
  error("unknown BENCH_MODE " .. mode)
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
local want_html = '"introHtml":"<h1>Ada Bench'

local function bad(status, body)
  if status ~= 200 then
    return true
  end
  if mode == "viewer" then
    return not string.find(body or "", want, 1, true)
  elseif mode == "profile" then
    return not (string.find(body or "", want, 1, true) and string.find(body or "", want_html, 1, true))
  end
  return false
end

function response(status, headers, body)
  if bad(status, body) then
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
