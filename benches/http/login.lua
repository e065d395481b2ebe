-- POST /api/v1/auth/login with the seeded user's credentials (argon2id on every request).
dofile(os.getenv("HERE") .. "/report.lua")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email": "load0@example.com", "password": "correct horse battery"}'
