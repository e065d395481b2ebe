-- Stats read only these columns of one owner's tasks: a covering index answers them
-- without touching table pages scattered among other owners' rows.
CREATE INDEX tasks_owner_stats ON tasks (owner_id, status, priority, due_date, completed_at);
