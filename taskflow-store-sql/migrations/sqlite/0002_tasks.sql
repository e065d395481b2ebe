-- Tasks. `seq` is an explicit rowid alias so the full-text index's rowids survive VACUUM.
CREATE TABLE tasks (
    seq           INTEGER PRIMARY KEY,
    id            BLOB NOT NULL UNIQUE,
    owner_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title         TEXT NOT NULL,
    description   TEXT,
    status        TEXT NOT NULL,
    priority      INTEGER NOT NULL,       -- rank: 0 low .. 3 urgent
    due_date      INTEGER,
    tags          TEXT NOT NULL DEFAULT '[]',   -- JSON array of normalised tags
    search_words  TEXT NOT NULL DEFAULT '',     -- core's index_words(), space-separated
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    completed_at  INTEGER,
    version       INTEGER NOT NULL
);
-- Owner-scoped listings: filter by status, keyset on (sort key, id), due dates.
CREATE INDEX tasks_owner_status_created ON tasks (owner_id, status, created_at);
CREATE INDEX tasks_owner_created_id ON tasks (owner_id, created_at, id);
CREATE INDEX tasks_owner_updated_id ON tasks (owner_id, updated_at, id);
CREATE INDEX tasks_owner_due ON tasks (owner_id, due_date, id);
CREATE INDEX tasks_owner_priority_id ON tasks (owner_id, priority, id);
-- Admin listings over every owner.
CREATE INDEX tasks_created_id ON tasks (created_at, id);

-- Full-text search over the words core extracted. The ascii tokenizer splits only on ASCII
-- non-alphanumerics, i.e. on the spaces between core's words, so tokens are exactly those
-- words (already lower-cased); prefix indexes serve short word-prefix queries.
CREATE VIRTUAL TABLE tasks_fts USING fts5(
    search_words,
    content = 'tasks',
    content_rowid = 'seq',
    tokenize = 'ascii',
    prefix = '1 2 3'
);
CREATE TRIGGER tasks_fts_insert AFTER INSERT ON tasks BEGIN
    INSERT INTO tasks_fts (rowid, search_words) VALUES (new.seq, new.search_words);
END;
CREATE TRIGGER tasks_fts_delete AFTER DELETE ON tasks BEGIN
    INSERT INTO tasks_fts (tasks_fts, rowid, search_words) VALUES ('delete', old.seq, old.search_words);
END;
CREATE TRIGGER tasks_fts_update AFTER UPDATE OF search_words ON tasks BEGIN
    INSERT INTO tasks_fts (tasks_fts, rowid, search_words) VALUES ('delete', old.seq, old.search_words);
    INSERT INTO tasks_fts (rowid, search_words) VALUES (new.seq, new.search_words);
END;
