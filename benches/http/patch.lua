-- PATCH one task of the seeded user (its id in TASK_ID), alternating the priority.
dofile(os.getenv("HERE") .. "/report.lua")
local n = 0
local headers = {
  ["Authorization"] = "Bearer " .. os.getenv("TOKEN"),
  ["Content-Type"] = "application/json",
}
local priorities = { "low", "medium", "high", "urgent" }
request = function()
  n = n + 1
  local body = '{"priority": "' .. priorities[n % 4 + 1] .. '"}'
  return wrk.format("PATCH", "/api/v1/tasks/" .. os.getenv("TASK_ID"), headers, body)
end
