-- The change log (see taskflow-core's `changes` module). Writes append here in the same
-- transaction. SQLite has one writer at a time across every process on the file, so
-- AUTOINCREMENT order is commit order: a reader never sees a later event before an earlier
-- one. AUTOINCREMENT (not a plain rowid) so pruned positions are never reused.
CREATE TABLE change_log (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    at       INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    subject  BLOB NOT NULL,      -- the user the event is about (a task's owner)
    data     TEXT NOT NULL       -- core's JSON of the event
);
-- One user's events (streams, the task feed), and pruning by age.
CREATE INDEX change_log_subject ON change_log (subject, seq);
CREATE INDEX change_log_at ON change_log (at);

-- The newest pruned position: readers behind it must reset.
CREATE TABLE change_log_horizon (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    major  INTEGER NOT NULL,
    minor  INTEGER NOT NULL
);
INSERT INTO change_log_horizon (id, major, minor) VALUES (1, 0, 0);
