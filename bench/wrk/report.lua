-- Shared by every workload script: prints one machine-readable line that
-- bench/run.py parses, so nothing depends on the layout of wrk's text report.
-- Latencies are in microseconds; "non2xx" counts responses with status >= 400
-- (wrk's own "Non-2xx or 3xx responses").

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"connect": %d, "read": %d, "write": %d, "timeout": %d, "non2xx": %d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.timeout, e.status))
end
