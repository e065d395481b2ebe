-- Stats read only these columns of one owner's tasks: an index-only scan answers them
-- without visiting heap pages scattered among other owners' rows.
CREATE INDEX tasks_owner_stats ON tasks (owner_id) INCLUDE (status, priority, due_date, completed_at);
