-- POST to the /batch URL given to wrk: $WRK_BATCH_SIZE record creations into
-- $WRK_BATCH_PATH (a records path without the /v1 prefix).  One wrk "request"
-- is one whole batch.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local headers = {
  ["Authorization"] = os.getenv("WRK_AUTH"),
  ["Content-Type"] = "application/json",
}
local path = os.getenv("WRK_BATCH_PATH")
local size = tonumber(os.getenv("WRK_BATCH_SIZE") or "25")
local counter = 0

function request()
  local parts = {}
  for i = 1, size do
    counter = counter + 1
    parts[i] = string.format(
      '{"body": {"data": {"title": "wrk batch %d", "status": "todo", "n": %d}}}',
      counter, counter)
  end
  local body = string.format(
    '{"defaults": {"method": "POST", "path": "%s"}, "requests": [%s]}',
    path, table.concat(parts, ", "))
  return wrk.format("POST", nil, headers, body)
end
