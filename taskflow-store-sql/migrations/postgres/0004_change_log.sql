-- The change log (see taskflow-core's `changes` module). Writes append here in the same
-- transaction. Concurrent transactions commit in any order, so a sequence alone would let
-- a reader see event 7 before event 6 commits and then skip 6. A position is therefore
-- (transaction id, sequence), and readers return only events of transactions older than
-- the oldest one still running (`pg_snapshot_xmin`): that set can no longer grow below
-- what was returned, so resuming after the last position never skips an event.
CREATE TABLE change_log (
    xid      xid8 NOT NULL DEFAULT pg_current_xact_id(),
    seq      bigserial NOT NULL,
    at       timestamptz NOT NULL,
    kind     text NOT NULL,
    subject  uuid NOT NULL,      -- the user the event is about (a task's owner)
    data     text NOT NULL,      -- core's JSON of the event
    PRIMARY KEY (xid, seq)
);
-- One user's events (streams, the task feed), and pruning by age.
CREATE INDEX change_log_subject ON change_log (subject, xid, seq);
CREATE INDEX change_log_at ON change_log (at);

-- The newest pruned position: readers behind it must reset.
CREATE TABLE change_log_horizon (
    id     integer PRIMARY KEY CHECK (id = 1),
    major  bigint NOT NULL,
    minor  bigint NOT NULL
);
INSERT INTO change_log_horizon (id, major, minor) VALUES (1, 0, 0);

-- The wake-up is a NOTIFY on channel taskflow_changes that each store sends after its
-- commits (postgres.rs, announce_changes), outside the writing transaction.
