-- GET without credentials (the poem ceiling).
dofile(os.getenv("HERE") .. "/report.lua")
