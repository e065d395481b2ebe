//! `/tasks`: CRUD with ETags, listing, bulk status and stats.

use std::marker::PhantomData;

use crate::page_memo::PageMemo;
use crate::response::{JsonBytes, JsonOut};
use poem::Request;
use poem::web::Data;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::{ApiResponse, OpenApi};
use taskflow_core::{TaskFlow, TaskId, TaskQuery, UserId};
use uuid::Uuid;

use super::{ApiTags, path_id};
use crate::auth::BearerAuth;
use crate::body::JsonBody;
use crate::dto::{
    BulkStatusIn, BulkStatusOut, NewTaskIn, StatsOut, TaskOut, TaskPage, TaskPatchIn, Timestamp,
};
use crate::etag::{self, IfMatch};
use crate::problem::{ApiError, ApiResult};
use crate::query_errors::{QueryErrors, QueryValue};

/// Task operations.
pub struct TasksApi;

#[derive(ApiResponse)]
enum Created {
    /// The task was created.
    #[oai(status = 201)]
    Created(
        JsonOut<TaskOut>,
        /// URL of the new task.
        #[oai(header = "Location")]
        String,
        /// `"<version>"`.
        #[oai(header = "ETag")]
        String,
    ),
}

#[derive(ApiResponse)]
enum Fetched {
    /// The task.
    #[oai(status = 200)]
    Ok(
        JsonOut<TaskOut>,
        /// `"<version>"`.
        #[oai(header = "ETag")]
        String,
    ),
    /// `If-None-Match` matched the current version.
    #[oai(status = 304)]
    NotModified(
        /// `"<version>"`.
        #[oai(header = "ETag")]
        String,
    ),
}

#[derive(ApiResponse)]
enum Updated {
    /// The task after the change.
    #[oai(status = 200)]
    Ok(
        JsonOut<TaskOut>,
        /// `"<version>"`.
        #[oai(header = "ETag")]
        String,
    ),
}

#[derive(ApiResponse)]
enum Deleted {
    /// The task is gone.
    #[oai(status = 204)]
    NoContent,
}

fn split_list(raw: Option<String>) -> Vec<String> {
    raw.map(|s| {
        s.split(',')
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

#[OpenApi(prefix_path = "/tasks", tag = "ApiTags::Tasks")]
impl TasksApi {
    /// Create a task owned by the caller.
    #[oai(path = "/", method = "post", operation_id = "create_task")]
    async fn create(
        &self,
        tf: Data<&TaskFlow>,
        auth: BearerAuth,
        body: JsonBody<NewTaskIn>,
    ) -> ApiResult<Created> {
        let task = tf.create_task(&auth.0, body.0.into()).await?;
        let location = format!("/api/v1/tasks/{}", task.id);
        let tag = etag::format(task.version);
        Ok(Created::Created(JsonOut(task.into()), location, tag))
    }

    /// List tasks: the caller's own, or all for admins (one owner's with `owner_id`).
    ///
    /// Ties in the sort are broken by id in the same direction; tasks without a due date
    /// sort last in both directions. Use either `page` or `cursor`, not both.
    #[oai(path = "/", method = "get", operation_id = "list_tasks")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        tf: Data<&TaskFlow>,
        memo: Data<&PageMemo>,
        req: &Request,
        auth: BearerAuth,
        /// Comma list of `todo`, `in_progress`, `done`, `cancelled`.
        status: Query<Option<String>>,
        /// Comma list of `low`, `medium`, `high`, `urgent`.
        priority: Query<Option<String>>,
        /// Only tasks with this tag.
        tag: Query<Option<String>>,
        /// Words that must all match as word prefixes of the title or description.
        q: Query<Option<String>>,
        /// Due strictly before this instant (RFC 3339).
        due_before: Query<Option<QueryValue<Timestamp>>>,
        /// Due strictly after this instant (RFC 3339).
        due_after: Query<Option<QueryValue<Timestamp>>>,
        /// `true`: due date passed and not done/cancelled; `false`: the others.
        overdue: Query<Option<QueryValue<bool>>>,
        /// Admins only: one owner's tasks.
        owner_id: Query<Option<QueryValue<Uuid>>>,
        /// `created_at`, `updated_at`, `due_date` or `priority`, `-` prefix for descending;
        /// default `-created_at`.
        sort: Query<Option<String>>,
        /// 1-100, default 20.
        limit: Query<Option<QueryValue<i64>>>,
        /// 1-based page number (page mode).
        page: Query<Option<QueryValue<i64>>>,
        /// Opaque cursor from `next_cursor` (cursor mode).
        cursor: Query<Option<String>>,
    ) -> ApiResult<JsonBytes<TaskPage>> {
        let mut errors = QueryErrors::default();
        let query = TaskQuery {
            status: split_list(status.0),
            priority: split_list(priority.0),
            tag: tag.0,
            q: q.0,
            due_before: errors.take("due_before", due_before.0).map(|t| t.0),
            due_after: errors.take("due_after", due_after.0).map(|t| t.0),
            overdue: errors.take("overdue", overdue.0),
            owner_id: errors.take("owner_id", owner_id.0).map(UserId::from),
            sort: sort.0,
            limit: errors.take("limit", limit.0),
            page: errors.take("page", page.0),
            cursor: cursor.0,
        };
        errors.into_result()?;
        let page = tf
            .list_tasks(&auth.0, query)
            .await
            .map_err(ApiError::from_query)?;
        let listing = req.uri().query().unwrap_or_default();
        let body = memo
            .body(auth.0.user_id, listing, page)
            .map_err(|e| ApiError::internal(Some(e.into())))?;
        Ok(JsonBytes(body, PhantomData))
    }

    /// Counts by status and priority, overdue and recently completed: over the caller's
    /// tasks, or all (one owner's with `owner_id`) for admins.
    #[oai(path = "/stats", method = "get", operation_id = "task_stats")]
    async fn stats(
        &self,
        tf: Data<&TaskFlow>,
        auth: BearerAuth,
        /// Admins only: one owner's stats.
        owner_id: Query<Option<QueryValue<Uuid>>>,
    ) -> ApiResult<JsonOut<StatsOut>> {
        let mut errors = QueryErrors::default();
        let owner = errors.take("owner_id", owner_id.0).map(UserId::from);
        errors.into_result()?;
        let stats = tf
            .task_stats(&auth.0, owner)
            .await
            .map_err(ApiError::from_query)?;
        Ok(JsonOut(stats.into()))
    }

    /// Set the status of up to 100 tasks, all or nothing: if any id is not visible to the
    /// caller, nothing changes and the answer is `404`.
    #[oai(
        path = "/bulk-status",
        method = "post",
        operation_id = "bulk_set_status"
    )]
    async fn bulk_status(
        &self,
        tf: Data<&TaskFlow>,
        auth: BearerAuth,
        body: JsonBody<BulkStatusIn>,
    ) -> ApiResult<JsonOut<BulkStatusOut>> {
        let BulkStatusIn { ids, status } = body.0;
        let ids = ids
            .iter()
            .map(|id| path_id::<TaskId>(id, "task"))
            .collect::<Result<Vec<_>, _>>()?;
        let updated = tf.bulk_set_status(&auth.0, &ids, &status).await?;
        Ok(JsonOut(BulkStatusOut { updated }))
    }

    /// One task; `304` when `If-None-Match` names its current version.
    #[oai(path = "/:id", method = "get", operation_id = "get_task")]
    async fn get(
        &self,
        tf: Data<&TaskFlow>,
        auth: BearerAuth,
        /// Task id.
        id: Path<String>,
        /// ETags the client has; `*` matches any.
        #[oai(name = "If-None-Match")]
        if_none_match: Header<Option<String>>,
    ) -> ApiResult<Fetched> {
        let task = tf.get_task(&auth.0, path_id(&id.0, "task")?).await?;
        let tag = etag::format(task.version);
        if let Some(header) = if_none_match.0.as_deref()
            && etag::none_match_hits(header, task.version)
        {
            return Ok(Fetched::NotModified(tag));
        }
        Ok(Fetched::Ok(JsonOut(task.into()), tag))
    }

    /// Change some fields; `null` clears `description` or `due_date`. With `If-Match`, only
    /// when the task is still at that version (`412` otherwise).
    #[oai(path = "/:id", method = "patch", operation_id = "update_task")]
    async fn update(
        &self,
        tf: Data<&TaskFlow>,
        auth: BearerAuth,
        /// Task id.
        id: Path<String>,
        /// `"<version>"` the change is based on.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
        body: JsonBody<TaskPatchIn>,
        req: &Request,
    ) -> ApiResult<Updated> {
        let id: TaskId = path_id(&id.0, "task")?;
        let if_match = etag::if_match_of(if_match.0, req);
        let expected = self.expected_version(&tf, &auth, id, if_match).await?;
        let task = tf.update_task(&auth.0, id, body.0.into(), expected).await?;
        let tag = etag::format(task.version);
        Ok(Updated::Ok(JsonOut(task.into()), tag))
    }

    /// Delete a task; with `If-Match`, only at that version.
    #[oai(path = "/:id", method = "delete", operation_id = "delete_task")]
    async fn delete(
        &self,
        tf: Data<&TaskFlow>,
        auth: BearerAuth,
        /// Task id.
        id: Path<String>,
        /// `"<version>"` the deletion is based on.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
        req: &Request,
    ) -> ApiResult<Deleted> {
        let id: TaskId = path_id(&id.0, "task")?;
        let if_match = etag::if_match_of(if_match.0, req);
        let expected = self.expected_version(&tf, &auth, id, if_match).await?;
        tf.delete_task(&auth.0, id, expected).await?;
        Ok(Deleted::NoContent)
    }
}

impl TasksApi {
    /// The version an `If-Match` header requires, `None` without one (or with `*`).
    /// A list of several ETags needs the current version to pick the one that applies.
    async fn expected_version(
        &self,
        tf: &TaskFlow,
        auth: &BearerAuth,
        id: TaskId,
        header: Option<String>,
    ) -> ApiResult<Option<u64>> {
        let Some(header) = header else {
            return Ok(None);
        };
        match etag::parse_if_match(&header) {
            IfMatch::Any => Ok(None),
            IfMatch::Versions(versions) if versions.len() == 1 => Ok(Some(versions[0])),
            IfMatch::Versions(versions) => {
                let current = tf.get_task(&auth.0, id).await?.version;
                if versions.contains(&current) {
                    Ok(Some(current))
                } else {
                    Err(ApiError::precondition_failed(format!(
                        "If-Match does not match the current version ({current})"
                    ))
                    .with_header(
                        poem::http::header::ETAG,
                        crate::problem::etag_value(current),
                    ))
                }
            }
            // Versions start at 1, so 0 matches none, and core still answers in its order:
            // invalid body (422), then unknown task (404), then version mismatch (412).
            IfMatch::Nothing => Ok(Some(0)),
        }
    }
}
