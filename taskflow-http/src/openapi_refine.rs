//! The OpenAPI document as served: poem-openapi's output, made as precise as the server.
//!
//! poem-openapi derives types and shapes from the Rust types, but request fields stay plain
//! strings (core validates them, so one `422` lists every failing field), and it has no way
//! to say `additionalProperties: false` or that an optional field accepts `null`. A client
//! generator, or schemathesis in `scripts/test api_fuzz`, reads the document as a promise:
//! every value it allows must be accepted, and every value it forbids must be refused. So
//! this module adds what core enforces, from core's own constants: lengths, patterns and
//! enums of body fields and query parameters, closed request objects, nullable optional
//! fields, and the roles of the server's RBAC policy.

use serde_json::{Map, Value, json};
use taskflow_core::{Priority, Status};

/// Whitespace as Rust's `char::is_whitespace` (Unicode `White_Space`), which `str::trim`
/// strips; spelled out because regex engines disagree about `\s`.
const WS: &str = r"\t\n\x0B\x0C\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";
/// Control characters as Rust's `char::is_control` (Unicode `Cc`).
const CONTROL: &str = r"\x00-\x1F\x7F-\x9F";
/// Characters whose NFKC form holds whitespace or an `@` (spacing accents such as `´`,
/// `＠`, Arabic ligatures, ...): core folds emails with NFKC, so in an email these become
/// a space or a second `@` and are refused. Listed from Unicode's decomposition data (BMP).
const FOLDS_TO_SPACE_OR_AT: &str = r"\u00A8\u00AF\u00B4\u00B8\u02D8-\u02DD\u037A\u0384-\u0385\u1FBD\u1FBF-\u1FC1\u1FCD-\u1FCF\u1FDD-\u1FDF\u1FED-\u1FEE\u1FFD-\u1FFE\u2017\u203E\u309B-\u309C\uFC5E-\uFC63\uFDFA-\uFDFB\uFE49-\uFE4C\uFE6B\uFE70\uFE72\uFE74\uFE76\uFE78\uFE7A\uFE7C\uFE7E\uFF20\uFFE3";
/// Characters whose NFKC form holds a `.` (`．`, `…`, `⒈`, ...): they may not start or end
/// an email's domain, as a `.` may not.
const FOLDS_TO_DOT: &str = r"\u2024-\u2026\u2488-\u249B\u33C2\u33C7\u33D8\uFE19\uFE30\uFE52\uFF0E";

/// 1 to `max` characters once trimmed, none of them in `banned`: surrounding whitespace,
/// then a non-blank first and last character.
fn trimmed_text(max: usize, banned: &str) -> String {
    format!(
        "^[{WS}]*[^{WS}{banned}]([^{banned}]{{0,{inner}}}[^{WS}{banned}])?[{WS}]*$",
        inner = max - 2
    )
}

/// `todo,in_progress`: a comma list of `values`, blanks around items and empty items
/// ignored (as the server splits it).
fn comma_list(values: &[&str]) -> String {
    let item = format!("[{WS}]*({})?[{WS}]*", values.join("|"));
    format!("^{item}(,{item})*$")
}

/// The enum of the string values `values`.
fn one_of(values: &[&str]) -> Value {
    json!({ "type": "string", "enum": values })
}

/// Refines `spec` (poem-openapi's JSON) for a server whose policy knows `roles`.
pub fn refine(spec: &str, roles: &[String]) -> String {
    let mut doc: Value = serde_json::from_str(spec).expect("poem-openapi emits valid JSON");
    let statuses: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
    let priorities: Vec<&str> = Priority::ALL.iter().map(|p| p.as_str()).collect();
    let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
    let title = json!({
        "pattern": trimmed_text(taskflow_core::TITLE_MAX_CHARS, r"\x00"),
    });
    let description = json!({
        "maxLength": taskflow_core::DESCRIPTION_MAX_CHARS,
        "pattern": r"^[^\x00]*$",
    });
    let name = json!({ "pattern": trimmed_text(taskflow_core::NAME_MAX_CHARS, CONTROL) });
    // The trimmed address has no blank inside, so the lookahead bounds its length alone.
    let email = json!({
        "pattern": format!(
            "^[{WS}]*(?=[^{WS}]{{1,{max}}}[{WS}]*$)[^@{WS}{CONTROL}{FOLDS_TO_SPACE_OR_AT}]+@[^@.{WS}{CONTROL}{FOLDS_TO_SPACE_OR_AT}{FOLDS_TO_DOT}]([^@{WS}{CONTROL}{FOLDS_TO_SPACE_OR_AT}]*[^@.{WS}{CONTROL}{FOLDS_TO_SPACE_OR_AT}{FOLDS_TO_DOT}])?[{WS}]*$",
            max = taskflow_core::EMAIL_MAX_CHARS
        ),
    });
    let password = json!({
        "minLength": taskflow_core::PASSWORD_MIN_CHARS,
        "maxLength": taskflow_core::PASSWORD_MAX_CHARS,
        "pattern": r"^[^\x00]*$",
    });
    let tags = json!({ "items": { "pattern": tag_pattern() } });

    let body_fields: &[(&str, &str, Value)] = &[
        ("Registration", "email", email),
        ("Registration", "password", password.clone()),
        ("Registration", "name", name.clone()),
        ("ProfileUpdate", "name", name),
        ("PasswordChange", "new_password", password),
        ("NewTask", "title", title.clone()),
        ("NewTask", "description", description.clone()),
        ("NewTask", "status", one_of(&statuses)),
        ("NewTask", "priority", one_of(&priorities)),
        ("NewTask", "tags", tags.clone()),
        ("TaskPatch", "title", title),
        ("TaskPatch", "description", description),
        ("TaskPatch", "status", one_of(&statuses)),
        ("TaskPatch", "priority", one_of(&priorities)),
        ("TaskPatch", "tags", tags),
        (
            "BulkStatus",
            "ids",
            json!({ "minItems": 1, "maxItems": taskflow_core::MAX_BULK_IDS }),
        ),
        ("BulkStatus", "status", one_of(&statuses)),
        ("UserUpdate", "role", one_of(&roles)),
    ];
    let sorts: Vec<String> = ["created_at", "updated_at", "due_date", "priority"]
        .iter()
        .flat_map(|k| [k.to_string(), format!("-{k}")])
        .collect();
    let sorts: Vec<&str> = sorts.iter().map(String::as_str).collect();
    let limit = json!({
        "type": "integer",
        "format": "int64",
        "minimum": taskflow_core::query::MIN_LIMIT,
        "maximum": taskflow_core::query::MAX_LIMIT,
    });
    let page = json!({
        "type": "integer",
        "format": "int64",
        "minimum": 1,
        "maximum": taskflow_core::query::MAX_PAGE,
    });
    let date_time = json!({ "type": "string", "format": "date-time" });
    let uuid = json!({ "type": "string", "format": "uuid" });
    // A change-log position as the server writes it (`taskflow_core::LogPosition`).
    let position = json!({ "type": "string", "pattern": "^[0-9a-f]{32}$" });
    let query_params: &[(&str, &str, Value)] = &[
        (
            "/tasks",
            "status",
            json!({ "pattern": comma_list(&statuses) }),
        ),
        (
            "/tasks",
            "priority",
            json!({ "pattern": comma_list(&priorities) }),
        ),
        ("/tasks", "tag", json!({ "pattern": tag_pattern() })),
        ("/tasks", "due_before", date_time.clone()),
        ("/tasks", "due_after", date_time),
        ("/tasks", "owner_id", uuid.clone()),
        ("/tasks", "sort", one_of(&sorts)),
        ("/tasks", "limit", limit.clone()),
        ("/tasks", "page", page.clone()),
        ("/tasks/stats", "owner_id", uuid),
        ("/users", "role", one_of(&roles)),
        (
            "/users",
            "q",
            // Core refuses control characters in the user search (no email or name has one).
            json!({
                "maxLength": taskflow_core::query::MAX_QUERY_CHARS,
                "pattern": format!("^[^{CONTROL}]*$"),
            }),
        ),
        ("/users", "limit", limit),
        ("/users", "page", page),
        ("/tasks/changes", "since", position.clone()),
        (
            "/tasks/changes",
            "limit",
            json!({
                "type": "integer",
                "minimum": 1,
                "maximum": taskflow_core::MAX_CHANGES_LIMIT,
            }),
        ),
        ("/events", "last_event_id", position.clone()),
        ("/events", "Last-Event-ID", position),
    ];

    let request_bodies = request_body_schemas(&doc);
    let schemas = doc["components"]["schemas"]
        .as_object_mut()
        .expect("the document has component schemas");
    for name in &request_bodies {
        if let Some(schema) = schemas.get_mut(name).and_then(Value::as_object_mut) {
            close_and_null_optionals(schema);
        }
    }
    for (schema, field, extra) in body_fields {
        let prop = &mut schemas[*schema]["properties"][*field];
        assert!(prop.is_object(), "{schema}.{field} is in the document");
        merge(prop, extra);
    }
    for name in &request_bodies {
        let props = schemas[name.as_str()]["properties"].as_object_mut();
        for prop in props.into_iter().flat_map(|p| p.values_mut()) {
            // OpenAPI 3.0: `nullable` does not add `null` to an `enum`; list it.
            if prop["nullable"] == true
                && let Some(values) = prop.get_mut("enum").and_then(Value::as_array_mut)
            {
                values.push(Value::Null);
            }
        }
    }
    for (path, param, extra) in query_params {
        let params = doc["paths"][*path]["get"]["parameters"]
            .as_array_mut()
            .expect("the operation has parameters");
        let p = params
            .iter_mut()
            .find(|p| p["name"] == *param)
            .unwrap_or_else(|| panic!("GET {path} has ?{param}"));
        merge(&mut p["schema"], extra);
    }
    sse_event_schema(&mut doc);
    plain_refs(&mut doc);
    nullable_refs(&mut doc);
    doc.to_string()
}

/// A nullable reference is `{nullable: true, allOf: [{$ref}]}` from poem-openapi (OpenAPI 3.0
/// ignores `nullable` beside a bare `$ref`); client generators read `allOf` as object
/// composition, so it becomes `anyOf` of the one reference, which they read as "this or
/// null".
fn nullable_refs(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("nullable") == Some(&Value::Bool(true))
                && map
                    .get("allOf")
                    .and_then(Value::as_array)
                    .is_some_and(|all| all.len() == 1 && all[0].get("$ref").is_some())
                && let Some(all) = map.remove("allOf")
            {
                map.insert("anyOf".to_owned(), all);
            }
            map.values_mut().for_each(nullable_refs);
        }
        Value::Array(items) => items.iter_mut().for_each(nullable_refs),
        _ => {}
    }
}

/// poem-openapi documents a `text/event-stream` response as an array of its items; what
/// arrives is a sequence of Server-Sent Events, and SSE-aware tools (schemathesis) check
/// each event against the schema. Each event is described as what it is: its `id`, its
/// `event` type, and `data`, the JSON text of an `Event`.
fn sse_event_schema(doc: &mut Value) {
    let content = &mut doc["paths"]["/events"]["get"]["responses"]["200"]["content"];
    let Some(stream) = content.get_mut("text/event-stream") else {
        panic!("GET /events answers text/event-stream");
    };
    stream["schema"] = json!({
        "type": "object",
        "description": "One Server-Sent Event: `id` (resume after it with Last-Event-ID), `event` (the type) and `data`, the JSON of an Event (components/schemas/Event).",
        "required": ["id", "event", "data"],
        "properties": {
            "id": { "type": "string", "pattern": "^[0-9a-f]{32}$" },
            "event": {
                "type": "string",
                "enum": ["task.created", "task.updated", "task.deleted", "reset"],
            },
            "data": {
                "type": "string",
                "x-content-schema": { "$ref": "#/components/schemas/Event" },
            },
        },
    });
}

/// Replaces poem-openapi's `{description, allOf: [{$ref}, {description}]}` (how it keeps a
/// field's doc comment beside a reference, which OpenAPI 3.0 ignores next to `$ref`) by the
/// plain `{$ref}`. Client generators take `allOf` as object composition: openapi-python-client
/// drops every schema holding one around an enum ("Cannot take allOf a non-object"), so a
/// generated client could not read a task. The referenced schema keeps its own description.
fn plain_refs(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let reference = map
                .get("allOf")
                .and_then(Value::as_array)
                .and_then(|parts| {
                    let mut refs = parts.iter().filter(|p| p.get("$ref").is_some());
                    let only_docs = parts.iter().all(|p| {
                        p.get("$ref").is_some()
                            || p.as_object()
                                .is_some_and(|o| o.keys().all(|k| k == "description"))
                    });
                    match (refs.next(), refs.next()) {
                        (Some(r), None) if only_docs => Some(r.clone()),
                        _ => None,
                    }
                });
            let wrapper_only = map.keys().all(|k| k == "allOf" || k == "description");
            match reference {
                Some(reference) if wrapper_only => *value = reference,
                _ => map.values_mut().for_each(plain_refs),
            }
        }
        Value::Array(items) => items.iter_mut().for_each(plain_refs),
        _ => {}
    }
}

/// A tag as sent: lower-cased by the server before the `[a-z0-9_-]{1,32}` check.
fn tag_pattern() -> String {
    format!("^[A-Za-z0-9_-]{{1,{}}}$", taskflow_core::TAG_MAX_CHARS)
}

/// Names of the component schemas used as request bodies.
fn request_body_schemas(doc: &Value) -> Vec<String> {
    let mut names = Vec::new();
    for item in doc["paths"].as_object().into_iter().flat_map(Map::values) {
        for op in item.as_object().into_iter().flat_map(Map::values) {
            let content = &op["requestBody"]["content"];
            for media in content.as_object().into_iter().flat_map(Map::values) {
                if let Some(r) = media["schema"]["$ref"].as_str()
                    && let Some(name) = r.strip_prefix("#/components/schemas/")
                {
                    names.push(name.to_owned());
                }
            }
        }
    }
    names
}

/// Unknown fields are refused (`422`), and `null` in an optional field means "absent"
/// (see `body.rs`).
fn close_and_null_optionals(schema: &mut Map<String, Value>) {
    schema.insert("additionalProperties".into(), Value::Bool(false));
    let required: Vec<String> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        for (name, prop) in props.iter_mut() {
            if !required.contains(name)
                && let Some(prop) = prop.as_object_mut()
            {
                prop.insert("nullable".into(), Value::Bool(true));
            }
        }
    }
}

/// Adds the keys of `extra` to the schema object `target` (nested objects merged).
fn merge(target: &mut Value, extra: &Value) {
    match (target, extra) {
        (Value::Object(t), Value::Object(e)) => {
            for (k, v) in e {
                merge(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (t, e) => *t = e.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The code points a regex character class of `\uXXXX` and `\uXXXX-\uXXXX` items holds.
    fn class(items: &str) -> Vec<u32> {
        let parts: Vec<&str> = items.split("\\u").filter(|s| !s.is_empty()).collect();
        let cp = |part: &str| u32::from_str_radix(&part[..4], 16).unwrap();
        let mut out = Vec::new();
        let mut n = 0;
        while n < parts.len() {
            if parts[n].ends_with('-') {
                out.extend(cp(parts[n])..=cp(parts[n + 1]));
                n += 2;
            } else {
                out.push(cp(parts[n]));
                n += 1;
            }
        }
        out
    }

    /// What core's folding turns `c` into inside an email, or `None` when unchanged.
    fn folded(c: char) -> Option<String> {
        let inner = taskflow_core::fold_email(&format!("a{c}b"));
        (inner != format!("a{c}b").to_lowercase()).then_some(inner)
    }

    fn is_ws(c: char) -> bool {
        c.is_whitespace() || c.is_control()
    }

    #[test]
    fn the_email_pattern_excludes_exactly_what_folding_makes_a_space_an_at_or_a_dot() {
        let space_or_at = class(FOLDS_TO_SPACE_OR_AT);
        let dot = class(FOLDS_TO_DOT);
        for c in (0..=0xFFFFu32).filter_map(char::from_u32) {
            if is_ws(c) {
                continue; // excluded as whitespace already
            }
            let Some(inner) = folded(c) else { continue };
            let makes_space_or_at = inner.chars().any(|x| is_ws(x) || x == '@');
            assert_eq!(
                space_or_at.contains(&(c as u32)),
                makes_space_or_at,
                "U+{:04X} folds to {inner:?}",
                c as u32
            );
            if !makes_space_or_at {
                assert_eq!(
                    dot.contains(&(c as u32)),
                    inner.contains('.'),
                    "U+{:04X} folds to {inner:?}",
                    c as u32
                );
            }
        }
    }
}
