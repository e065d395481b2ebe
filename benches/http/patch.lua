-- PATCH the tasks of the PATCH user (TASK_IDS, comma separated) round robin, alternating
-- the priority: concurrent updates of different tasks, as real clients make them.
dofile(os.getenv("HERE") .. "/report.lua")
local ids = {}
for id in string.gmatch(os.getenv("TASK_IDS"), "[^,]+") do
  ids[#ids + 1] = id
end
local n = math.random(#ids)
local headers = {
  ["Authorization"] = "Bearer " .. os.getenv("TOKEN_PATCH"),
  ["Content-Type"] = "application/json",
}
local priorities = { "low", "medium", "high", "urgent" }
request = function()
  n = n + 1
  local body = '{"priority": "' .. priorities[n % 4 + 1] .. '"}'
  return wrk.format("PATCH", "/api/v1/tasks/" .. ids[n % #ids + 1], headers, body)
end
