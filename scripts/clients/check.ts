// Type-checked by scripts/test clients against the types openapi-typescript generated from
// `taskflow openapi` (written beside this file as api.d.ts): what a TypeScript frontend
// writes must compile, and what the document forbids must not.
import type { components, operations, paths } from "./api";

type Task = components["schemas"]["Task"];
type NewTask = components["schemas"]["NewTask"];
type TaskPage = components["schemas"]["TaskPage"];

const task: Task = {
  id: "0190b5e4-0000-7000-8000-000000000000",
  owner_id: "0190b5e4-0000-7000-8000-000000000001",
  title: "Write the report",
  description: null,
  status: "in_progress",
  priority: "high",
  due_date: null,
  tags: ["work"],
  created_at: "2026-11-23T08:00:00.000Z",
  updated_at: "2026-11-23T08:00:00.000Z",
  completed_at: null,
  version: 1,
};
const page: TaskPage = {
  items: [task],
  page: { limit: 20, page: 1, total: 1, next_cursor: null },
};
const draft: NewTask = { title: "Water the plants", priority: null };
const query: paths["/tasks"]["get"]["parameters"]["query"] = { q: "%'_\"", limit: 20 };
type Created = operations["create_task"]["responses"][201]["content"]["application/json; charset=utf-8"];
const created: Created = task;

// @ts-expect-error: a status outside the enum
const wrong: Task = { ...task, status: "open" };
// @ts-expect-error: a task without its version
const partial: Task = { ...task, version: undefined };

export const used = [page, draft, query, created, wrong, partial];
