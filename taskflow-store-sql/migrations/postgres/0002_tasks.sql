-- Tasks.
CREATE TABLE tasks (
    id            uuid PRIMARY KEY,
    owner_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title         text NOT NULL,
    description   text,
    status        text NOT NULL,
    priority      smallint NOT NULL,      -- rank: 0 low .. 3 urgent
    due_date      timestamptz,
    tags          text[] NOT NULL DEFAULT '{}',
    -- core's index_words() as lexemes, built with array_to_tsvector: no text-search parser
    -- or locale is involved, so matching is identical to the other stores.
    search_tsv    tsvector NOT NULL DEFAULT ''::tsvector,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    completed_at  timestamptz,
    version       bigint NOT NULL
);
-- Owner-scoped listings: filter by status, keyset on (sort key, id), due dates.
CREATE INDEX tasks_owner_status_created ON tasks (owner_id, status, created_at);
CREATE INDEX tasks_owner_created_id ON tasks (owner_id, created_at, id);
CREATE INDEX tasks_owner_updated_id ON tasks (owner_id, updated_at, id);
CREATE INDEX tasks_owner_due ON tasks (owner_id, due_date, id);
CREATE INDEX tasks_owner_priority_id ON tasks (owner_id, priority, id);
-- Admin listings over every owner.
CREATE INDEX tasks_created_id ON tasks (created_at, id);
-- Tag filter (tags @> ARRAY[tag]) and full-text search (search_tsv @@ tsquery).
CREATE INDEX tasks_tags ON tasks USING gin (tags);
CREATE INDEX tasks_search ON tasks USING gin (search_tsv);
