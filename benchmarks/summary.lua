-- wrk script for throughput workloads: no per-response callback (bodies are not buffered), one JSON line.
-- With UPLOAD set in the environment every request is a POST of that many bytes.
local size = tonumber(os.getenv("UPLOAD") or "0")
if size > 0 then
  wrk.method = "POST"
  wrk.body = string.rep("u", size)
  wrk.headers["Content-Type"] = "application/octet-stream"
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "SUMMARY_JSON {\"requests\":%d,\"duration_us\":%d,\"bytes\":%d,\"errors\":{\"connect\":%d,\"read\":%d," ..
    "\"write\":%d,\"status\":%d,\"timeout\":%d},\"p50_us\":%d,\"p99_us\":%d}\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
