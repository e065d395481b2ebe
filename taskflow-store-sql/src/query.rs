//! SQL for listings and stats, shared by both dialects. Every value is bound; the only
//! text pushed into SQL is fixed column names and operators chosen from validated enums.

use sqlx::QueryBuilder;
use taskflow_core::{
    ListRequest, Position, Role, Scope, SortKey, SortValue, StatsRequest, TaskFilter, TaskSort,
    UserListRequest,
};

use crate::dialect::Dialect;

/// Columns of a task row, in the order the row mappers read them.
pub(crate) const TASK_COLUMNS: &str = "t.id, t.owner_id, t.title, t.description, t.status, \
    t.priority, t.due_date, t.tags, t.created_at, t.updated_at, t.completed_at, t.version";

/// Columns of a user row, in the order the row mappers read them.
pub(crate) const USER_COLUMNS: &str =
    "id, email, name, role, disabled, password_hash, created_at, updated_at, version";

/// One page of the admin user listing, sorted by id (creation order).
pub(crate) fn users_page<DB: Dialect>(request: &UserListRequest) -> QueryBuilder<'static, DB> {
    let mut qb = QueryBuilder::new(format!("SELECT {USER_COLUMNS} FROM users WHERE "));
    push_user_filter(&mut qb, request);
    qb.push(" ORDER BY id LIMIT ");
    DB::bind_int(&mut qb, i64::from(request.limit));
    qb.push(" OFFSET ");
    DB::bind_int(&mut qb, i64::try_from(request.offset).unwrap_or(i64::MAX));
    qb
}

/// How many users the listing's filter matches.
pub(crate) fn users_count<DB: Dialect>(request: &UserListRequest) -> QueryBuilder<'static, DB> {
    let mut qb = QueryBuilder::new("SELECT count(*) FROM users WHERE ");
    push_user_filter(&mut qb, request);
    qb
}

/// How many active users with role `admin` there are.
pub(crate) fn active_admins<DB: Dialect>() -> QueryBuilder<'static, DB> {
    let mut qb = QueryBuilder::new("SELECT count(*) FROM users WHERE role = ");
    DB::bind_text(&mut qb, Role::ADMIN.to_owned());
    qb.push(format_args!(" AND disabled = {}", DB::FALSE));
    qb
}

fn push_user_filter<DB: Dialect>(qb: &mut QueryBuilder<'static, DB>, request: &UserListRequest) {
    qb.push("TRUE");
    if let Some(role) = &request.role {
        qb.push(" AND role = ");
        DB::bind_text(qb, role.as_str().to_owned());
    }
    if let Some(q) = &request.q {
        qb.push(" AND (");
        for (i, column) in ["email", "name_lower"].into_iter().enumerate() {
            let or = if i > 0 { " OR " } else { "" };
            qb.push(format_args!("{or}{}({column}, ", DB::POSITION_FN));
            DB::bind_text(qb, q.clone());
            qb.push(") > 0");
        }
        qb.push(")");
    }
}

/// Whether a listing's statement may be prepared and cached. Not with search words: after
/// five executions PostgreSQL switches a prepared statement to a generic plan that assumes
/// an average match count for the `tsquery`, and for a common word that plan is 20× slower
/// than the one planned for the actual words.
pub(crate) fn may_prepare(request: &ListRequest) -> bool {
    request.filter.words.is_empty()
}

/// `SELECT … LIMIT limit + 1` for one page (the extra row tells whether more follow),
/// after `head` (empty, or an `EXPLAIN` prefix).
pub(crate) fn page<DB: Dialect>(head: &str, request: &ListRequest) -> QueryBuilder<'static, DB> {
    let mut qb = QueryBuilder::new(format!("{head}SELECT {TASK_COLUMNS} FROM tasks t WHERE "));
    push_filter(&mut qb, &request.filter);
    if let Some(position) = request.after() {
        qb.push(" AND ");
        push_after(&mut qb, request.sort, position);
    }
    push_order(&mut qb, request.sort);
    qb.push(" LIMIT ");
    DB::bind_int(&mut qb, i64::from(request.limit) + 1);
    let offset = request.offset();
    if offset > 0 {
        qb.push(" OFFSET ");
        DB::bind_int(&mut qb, i64::try_from(offset).unwrap_or(i64::MAX));
    }
    qb
}

/// `SELECT count(*)` of every task the filter matches, after `head`.
pub(crate) fn count<DB: Dialect>(head: &str, filter: &TaskFilter) -> QueryBuilder<'static, DB> {
    let mut qb = QueryBuilder::new(format!("{head}SELECT count(*) FROM tasks t WHERE "));
    push_filter(&mut qb, filter);
    qb
}

/// One row of counts: total, 4 statuses, 4 priority ranks, overdue, completed in 7 days;
/// after `head`.
pub(crate) fn stats<DB: Dialect>(head: &str, request: &StatsRequest) -> QueryBuilder<'static, DB> {
    let mut qb = QueryBuilder::new(format!(
        "{head}SELECT count(*), \
         count(*) FILTER (WHERE t.status = 'todo'), \
         count(*) FILTER (WHERE t.status = 'in_progress'), \
         count(*) FILTER (WHERE t.status = 'done'), \
         count(*) FILTER (WHERE t.status = 'cancelled'), \
         count(*) FILTER (WHERE t.priority = 0), \
         count(*) FILTER (WHERE t.priority = 1), \
         count(*) FILTER (WHERE t.priority = 2), \
         count(*) FILTER (WHERE t.priority = 3), \
         count(*) FILTER (WHERE t.status IN ('todo', 'in_progress') AND t.due_date < "
    ));
    DB::bind_time(&mut qb, request.as_of);
    qb.push("), count(*) FILTER (WHERE t.completed_at >= ");
    DB::bind_time(&mut qb, request.as_of - taskflow_core::COMPLETED_WINDOW);
    qb.push(") FROM tasks t WHERE ");
    push_scope(&mut qb, request.scope);
    qb
}

fn push_scope<DB: Dialect>(qb: &mut QueryBuilder<'static, DB>, scope: Scope) {
    match scope {
        Scope::All => {
            qb.push("TRUE");
        }
        Scope::Owner(owner) => {
            qb.push("t.owner_id = ");
            DB::bind_id(qb, *owner.as_uuid());
        }
    }
}

fn push_filter<DB: Dialect>(qb: &mut QueryBuilder<'static, DB>, filter: &TaskFilter) {
    push_scope(qb, filter.scope);
    if !filter.statuses.is_empty() {
        qb.push(" AND t.status IN (");
        for (i, status) in filter.statuses.iter().enumerate() {
            if i > 0 {
                qb.push(", ");
            }
            DB::bind_text(qb, status.as_str().to_owned());
        }
        qb.push(")");
    }
    if !filter.priorities.is_empty() {
        qb.push(" AND t.priority IN (");
        for (i, priority) in filter.priorities.iter().enumerate() {
            if i > 0 {
                qb.push(", ");
            }
            DB::bind_int(qb, i64::from(priority.rank()));
        }
        qb.push(")");
    }
    if let Some(tag) = &filter.tag {
        let [before, after] = DB::TAG_FILTER;
        qb.push(before);
        DB::bind_text(qb, tag.clone());
        qb.push(after);
    }
    if !filter.words.is_empty() {
        let [before, after] = DB::SEARCH_FILTER;
        qb.push(before);
        DB::bind_text(qb, DB::search_query(&filter.words));
        qb.push(after);
    }
    if let Some(before) = filter.due_before {
        qb.push(" AND t.due_date < ");
        DB::bind_time(qb, before);
    }
    if let Some(after) = filter.due_after {
        qb.push(" AND t.due_date > ");
        DB::bind_time(qb, after);
    }
    if let Some(overdue) = filter.overdue {
        qb.push(if overdue.overdue {
            " AND (t.status IN ('todo', 'in_progress') AND t.due_date < "
        } else {
            " AND NOT (t.status IN ('todo', 'in_progress') AND t.due_date IS NOT NULL AND t.due_date < "
        });
        DB::bind_time(qb, overdue.as_of);
        qb.push(")");
    }
}

fn column(key: SortKey) -> &'static str {
    match key {
        SortKey::CreatedAt => "t.created_at",
        SortKey::UpdatedAt => "t.updated_at",
        SortKey::DueDate => "t.due_date",
        SortKey::Priority => "t.priority",
    }
}

/// Nulls last in both directions, then the key, then the id, in the sort's direction.
fn push_order<DB: Dialect>(qb: &mut QueryBuilder<'static, DB>, sort: TaskSort) {
    let dir = if sort.descending { "DESC" } else { "ASC" };
    let col = column(sort.key);
    qb.push(" ORDER BY ");
    if sort.key == SortKey::DueDate {
        qb.push("(t.due_date IS NULL), ");
    }
    qb.push(format_args!("{col} {dir}, t.id {dir}"));
}

/// Rows strictly after the keyset position in the listing order.
fn push_after<DB: Dialect>(
    qb: &mut QueryBuilder<'static, DB>,
    sort: TaskSort,
    position: &Position,
) {
    let op = if sort.descending { "<" } else { ">" };
    let col = column(sort.key);
    let id = *position.id.as_uuid();
    if position.value.is_null() {
        // Only due dates are nullable, and nulls come last: stay among the nulls.
        qb.push(format_args!("({col} IS NULL AND t.id {op} "));
        DB::bind_id(qb, id);
        qb.push(")");
        return;
    }
    let nullable = sort.key == SortKey::DueDate;
    if nullable {
        qb.push(format_args!("(({col} IS NOT NULL AND "));
    }
    qb.push(format_args!("({col}, t.id) {op} ("));
    bind_sort_value(qb, position.value);
    qb.push(", ");
    DB::bind_id(qb, id);
    qb.push(")");
    if nullable {
        // Every null sorts after every dated task.
        qb.push(format_args!(") OR {col} IS NULL)"));
    }
}

fn bind_sort_value<DB: Dialect>(qb: &mut QueryBuilder<'static, DB>, value: SortValue) {
    match value {
        SortValue::Timestamp(t) => DB::bind_time(qb, t),
        SortValue::Rank(r) => DB::bind_int(qb, i64::from(r)),
        SortValue::Null => {
            qb.push("NULL");
        }
    }
}
