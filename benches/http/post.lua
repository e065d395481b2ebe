-- POST /api/v1/tasks with a small task, as the seeded user.
dofile(os.getenv("HERE") .. "/report.lua")
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN_POST")
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"title": "load test task", "priority": "high", "tags": ["bench"]}'
