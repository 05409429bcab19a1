-- POST a new record to the records URL given to wrk; every body differs so
-- the server cannot short-cut identical writes.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local headers = {
  ["Authorization"] = os.getenv("WRK_AUTH"),
  ["Content-Type"] = "application/json",
}
local counter = 0

function request()
  counter = counter + 1
  local body = string.format(
    '{"data": {"title": "wrk task %d", "status": "todo", "n": %d, "tags": ["bench", "wrk"]}}',
    counter, counter)
  return wrk.format("POST", nil, headers, body)
end
