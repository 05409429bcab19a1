-- GET the URL given to wrk, authenticated with $WRK_AUTH (a full header value).
-- A constant request lets wrk build it once: the client costs almost nothing.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

wrk.method = "GET"
wrk.headers["Authorization"] = os.getenv("WRK_AUTH")
