-- GET with the bearer token of the seeded user (TOKEN in the environment).
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
