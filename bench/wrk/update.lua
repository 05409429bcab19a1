-- PATCH the record URL given to wrk with a changing field, so every request is
-- a real modification (new timestamp) rather than a no-op.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local headers = {
  ["Authorization"] = os.getenv("WRK_AUTH"),
  ["Content-Type"] = "application/json",
}
local counter = 0

function request()
  counter = counter + 1
  local body = string.format('{"data": {"n": %d, "status": "doing"}}', counter)
  return wrk.format("PATCH", nil, headers, body)
end
