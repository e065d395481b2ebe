-- GET the URL wrk was given, as the seeded user (TOKEN).
dofile(os.getenv("HERE") .. "/report.lua")
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
