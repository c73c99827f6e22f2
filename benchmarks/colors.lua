-- wrk script (after components-measured.md, appendix A): counts blue/green/other bodies and
-- non-200s, and records a color timeline as segments of consecutive same-color responses with
-- wall-clock times (LuaJIT FFI gettimeofday, the same clock as Python's time.time()).
-- done() prints one line: "COLORS_JSON {...}".
local ffi = require("ffi")
pcall(ffi.cdef, [[ typedef struct { long tv_sec; long tv_usec; } colors_timeval;
                   int gettimeofday(colors_timeval *tv, void *tz); ]])
local tv = ffi.new("colors_timeval")
local function now() ffi.C.gettimeofday(tv, nil); return tonumber(tv.tv_sec) + tonumber(tv.tv_usec) / 1e6 end

local threads = {}
function setup(thread) table.insert(threads, thread) end

function init(args)
  blue, green, other, non200 = 0, 0, 0, 0
  segs, nsegs = {}, 0
  cur, seg_start, seg_end, seg_n = nil, 0, 0, 0
end

local function close_segment()
  if cur then
    nsegs = nsegs + 1
    segs[nsegs] = string.format("[\"%s\",%.6f,%.6f,%d]", cur, seg_start, seg_end, seg_n)
  end
end

function response(status, headers, body)
  local t = now()
  local color
  if status ~= 200 then non200 = non200 + 1 end
  if body == "blue\n" then blue = blue + 1; color = "blue"
  elseif body == "green\n" then green = green + 1; color = "green"
  else other = other + 1; return end
  if color ~= cur then close_segment(); cur, seg_start, seg_n = color, t, 0 end
  seg_end, seg_n = t, seg_n + 1
end

function done(summary, latency, requests)
  local b, g, o, n, parts = 0, 0, 0, 0, {}
  for _, thread in ipairs(threads) do
    b = b + thread:get("blue"); g = g + thread:get("green")
    o = o + thread:get("other"); n = n + thread:get("non200")
    -- the open segment is closed here, in the thread's own state, via its globals
    local cur_t = thread:get("cur")
    local segs_t = thread:get("segs")
    for i = 1, thread:get("nsegs") do parts[#parts + 1] = segs_t[i] end
    if cur_t then
      parts[#parts + 1] = string.format("[\"%s\",%.6f,%.6f,%d]", cur_t, thread:get("seg_start"),
                                        thread:get("seg_end"), thread:get("seg_n"))
    end
  end
  local e = summary.errors
  io.write(string.format(
    "COLORS_JSON {\"requests\":%d,\"duration_us\":%d,\"blue\":%d,\"green\":%d,\"other\":%d,\"non200\":%d," ..
    "\"errors\":{\"connect\":%d,\"read\":%d,\"write\":%d,\"status\":%d,\"timeout\":%d}," ..
    "\"p50_us\":%d,\"p99_us\":%d,\"segments\":[%s]}\n",
    summary.requests, summary.duration, b, g, o, n, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), table.concat(parts, ",")))
end
