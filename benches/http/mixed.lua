-- 80 % GET /api/v1/tasks, 20 % POST /api/v1/tasks, as the seeded user.
dofile(os.getenv("HERE") .. "/report.lua")
local n = 0
local auth = "Bearer " .. os.getenv("TOKEN_MIXED")
local get_headers = { ["Authorization"] = auth }
local post_headers = { ["Authorization"] = auth, ["Content-Type"] = "application/json" }
local body = '{"title": "mixed load task", "tags": ["bench"]}'
request = function()
  n = n + 1
  if n % 5 == 0 then
    return wrk.format("POST", "/api/v1/tasks", post_headers, body)
  end
  return wrk.format("GET", "/api/v1/tasks", get_headers, nil)
end
