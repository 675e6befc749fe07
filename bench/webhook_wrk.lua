-- wrk script for bench/webhook_bench.sh: POSTs pre-signed deliveries (lines
-- "<signature>\t<body>" written by bench/make_webhooks.py), each at most once.
--   wrk -t T -c C -d D -s webhook_wrk.lua URL -- FILE T [cycle]
-- Thread i (0-based) of T sends lines i+1, i+1+T, i+1+2T, ... so no delivery is sent
-- twice. A thread that has sent all its lines stops, and done() says so (the rate wrk
-- prints is then over the shorter time the threads ran); requests it still has to
-- produce before it stops are GETs, which the daemon answers 405 and never stores.
-- With "cycle" the threads start their lines over instead (for the nginx ceiling).

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local requests = {}
local next_index = 1
local cycle = false
local after_last = nil
exhausted = false

function init(args)
  local file, nthreads = args[1], tonumber(args[2])
  cycle = args[3] == "cycle"
  after_last = wrk.format("GET", wrk.path)
  local n = 0
  for line in io.lines(file) do
    if n % nthreads == tid then
      local tab = line:find("\t", 1, true)
      local headers = {
        ["Content-Type"] = "application/x-ndjson",
        ["X-Replywatch-Signature"] = line:sub(1, tab - 1),
      }
      requests[#requests + 1] = wrk.format("POST", wrk.path, headers, line:sub(tab + 1))
    end
    n = n + 1
  end
  if #requests == 0 then
    error("no delivery for thread " .. tid .. " in " .. file)
  end
end

function request()
  if exhausted then return after_last end
  local r = requests[next_index]
  if next_index < #requests then
    next_index = next_index + 1
  elseif cycle then
    next_index = 1
  else
    exhausted = true
    wrk.thread:stop()
  end
  return r
end

function done(summary, latency, requests)
  local n = 0
  for _, thread in ipairs(threads) do
    if thread:get("exhausted") then n = n + 1 end
  end
  io.write(string.format("threads_exhausted %d\n", n))
end
