-- wrk script that replays one pre-signed HTTP request.
--
-- Usage: wrk ... -s replay.lua URL -- REQUEST_FILE
--
-- REQUEST_FILE is written by kms_http.py: the method on the first line, the
-- path on the second, then one "Name: value" header per line, an empty line,
-- and the body as raw bytes up to the end of the file.
--
-- The script sets wrk.method, wrk.path, wrk.headers and wrk.body in init()
-- and defines no request() function, so wrk formats the request once per
-- thread and sends the same bytes every time (its fast, static path).
-- wrk.format() adds Content-Length from the body, so the file carries none.

local function read_request(path)
  local file = assert(io.open(path, "rb"), "cannot open request file " .. path)
  local text = file:read("*a")
  file:close()

  local head_end = assert(text:find("\n\n", 1, true), "request file has no empty line")
  local head = text:sub(1, head_end - 1)
  local body = text:sub(head_end + 2)

  local lines = {}
  for line in (head .. "\n"):gmatch("(.-)\n") do
    lines[#lines + 1] = line
  end

  local headers = {}
  for i = 3, #lines do
    local name, value = lines[i]:match("^([^:]+): (.*)$")
    assert(name, "malformed header line in request file: " .. lines[i])
    headers[name] = value
  end
  return lines[1], lines[2], headers, body
end

function init(args)
  local method, path, headers, body = read_request(args[1])
  wrk.method = method
  wrk.path = path
  wrk.headers = headers
  wrk.body = body
end

-- Runs once, in the main thread, after every thread has stopped. Latencies
-- are in microseconds. errors.status counts responses with a status >= 400,
-- the same count that wrk prints as "Non-2xx or 3xx responses".
function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    "REPLAY_RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d"
      .. " connect=%d read=%d write=%d status=%d timeout=%d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    errors.connect, errors.read, errors.write, errors.status, errors.timeout
  ))
end
