//! JSON request bodies with the status codes of `docs/http-api.md`.
//!
//! poem-openapi's own `Json<T>` answers every failure with `400`. The contract separates
//! them: a content type other than JSON is `415`, a body over the limit `413`, bytes that
//! are not JSON or values of the wrong JSON type or format `400`, and unknown or missing
//! fields `422` (no mass assignment). The field lists come from the type's own OpenAPI
//! schema, so the document and the check cannot drift apart.

use std::any::TypeId;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use poem::{Request, RequestBody};
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{ParseFromJSON, Type};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::BODY_LIMIT;
use crate::expected;
use crate::problem::ApiError;

/// When a request's body must have arrived: set by the envelope for every request.
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadline {
    at: tokio::time::Instant,
    limit: Duration,
}

impl BodyDeadline {
    /// `limit` after the request's head arrived at `started`.
    pub fn after(started: std::time::Instant, limit: Duration) -> Self {
        Self {
            at: tokio::time::Instant::from_std(started) + limit,
            limit,
        }
    }
}

/// A JSON object body of type `T` (a poem-openapi `Object`).
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<T: Type> Payload for JsonBody<T> {
    const CONTENT_TYPE: &'static str = "application/json";

    fn check_content_type(content_type: &str) -> bool {
        is_json(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

/// `application/json`, optionally with parameters (`; charset=utf-8`).
pub fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
}

impl<T: ParseFromJSON + 'static> ParsePayload for JsonBody<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let declared = request
            .headers()
            .get(poem::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let body = body.take()?;
        let bytes = match request.data::<BodyDeadline>() {
            Some(deadline) => tokio::time::timeout_at(deadline.at, read_limited(body, declared))
                .await
                .map_err(|_| ApiError::body_timeout(deadline.limit))??,
            None => read_limited(body, declared).await?,
        };
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::malformed(format!("the body is not valid JSON: {e}")))?;
        let Value::Object(object) = &value else {
            return Err(ApiError::malformed("the body must be a JSON object").into());
        };
        let fields = fields_of::<T>();
        let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for key in object.keys() {
            if !fields.known.iter().any(|k| k == key) {
                errors
                    .entry(key.clone())
                    .or_default()
                    .push("unknown field".to_owned());
            }
        }
        for required in &fields.required {
            if !object.contains_key(required.as_str()) {
                errors
                    .entry(required.clone())
                    .or_default()
                    .push("is required".to_owned());
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::validation(errors).into());
        }
        // Each value is checked against its field's type and format here, so a `400` names
        // every unreadable field in the words of `expected.rs`; poem-openapi's parser below
        // would stop at the first and describe it by its own type names.
        let mut wrong_types: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (key, value) in object {
            let field = fields.types.iter().find(|f| &f.name == key);
            if let Some(field) = field
                && let Err(message) = field.check(value)
            {
                wrong_types.entry(key.clone()).or_default().push(message);
            }
        }
        if !wrong_types.is_empty() {
            let detail = format!(
                "wrong JSON type or format: {}",
                wrong_types.keys().cloned().collect::<Vec<_>>().join(", ")
            );
            return Err(ApiError::malformed(detail).with_errors(wrong_types).into());
        }
        T::parse_from_json(Some(value)).map(JsonBody).map_err(|e| {
            // Not reached while the checks above cover every field type; poem-openapi's
            // message names its own types, so it goes to the log, not to the client.
            tracing::warn!(
                error = %e.into_message(),
                "a body passed the field checks but did not parse"
            );
            ApiError::malformed(format!(
                "the body does not match the {} schema of the OpenAPI document",
                T::name()
            ))
            .into()
        })
    }
}

/// After refusing a body as too large, at most this much more of it is read off and dropped
/// before answering, for at most [`DISCARD_TIME`]: closing a connection with unread request
/// bytes resets it, and the client would see the reset instead of the `413`.
const DISCARD_BYTES: usize = 1 << 20;
/// See [`DISCARD_BYTES`].
const DISCARD_TIME: Duration = Duration::from_secs(1);

/// Reads the body, up to [`BODY_LIMIT`] bytes. A declared length over the limit is refused
/// without waiting for the bytes (a client announcing more than it sends would otherwise
/// hold the request until its timeout).
async fn read_limited(body: poem::Body, declared: Option<u64>) -> Result<Vec<u8>, ApiError> {
    let mut reader = body.into_async_read();
    if declared.is_some_and(|n| n > BODY_LIMIT as u64) {
        discard(&mut reader).await;
        return Err(ApiError::payload_too_large(BODY_LIMIT));
    }
    let mut data = Vec::with_capacity(declared.map_or(0, |n| n as usize));
    let mut buf = [0u8; 8192];
    loop {
        let n = reader
            .read(&mut buf)
            .await
            .map_err(|e| ApiError::malformed(format!("the body could not be read: {e}")))?;
        if n == 0 {
            return Ok(data);
        }
        if data.len() + n > BODY_LIMIT {
            discard(&mut reader).await;
            return Err(ApiError::payload_too_large(BODY_LIMIT));
        }
        data.extend_from_slice(&buf[..n]);
    }
}

async fn discard(reader: &mut (impl AsyncRead + Unpin)) {
    let mut buf = [0u8; 8192];
    let mut left = DISCARD_BYTES;
    let _ = tokio::time::timeout(DISCARD_TIME, async {
        while left > 0 {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    })
    .await;
}

poem_openapi::impl_apirequest_for_payload!(JsonBody<T>, T: ParseFromJSON + 'static);

/// The property names of an object type, read once from its schema.
struct Fields {
    known: Vec<String>,
    required: Vec<String>,
    types: Vec<FieldType>,
}

/// The JSON type (and format) a property must have. poem-openapi's parsers are lenient (a
/// number is accepted for a string), while the contract says a wrong JSON type is `400`.
struct FieldType {
    name: String,
    ty: &'static str,
    /// The OpenAPI format of a string (`date-time`), checked as the server parses it.
    format: Option<&'static str>,
    /// `null` is accepted (nullable, or an optional field where null means absent).
    null_ok: bool,
    /// JSON type and format of array items, when known.
    items: Option<(&'static str, Option<&'static str>)>,
}

/// Whether `value` is of the JSON type `ty` and, for a string, has the `format`.
fn matches(ty: &str, format: Option<&str>, value: &Value) -> bool {
    match ty {
        "string" => value
            .as_str()
            .is_some_and(|s| format.is_none_or(|f| expected::has_format(f, s))),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    }
}

impl FieldType {
    fn check(&self, value: &Value) -> Result<(), String> {
        if value.is_null() {
            return if self.null_ok {
                Ok(())
            } else {
                Err("must not be null".to_owned())
            };
        }
        if !matches(self.ty, self.format, value) {
            return Err(expected::expected(self.ty, self.format).must_be());
        }
        if let (Some((ty, format)), Value::Array(values)) = (self.items, value)
            && values.iter().any(|v| !matches(ty, format, v))
        {
            return Err(expected::expected(ty, format).must_be_array_of());
        }
        Ok(())
    }
}

fn inline(schema: &MetaSchemaRef) -> Option<&poem_openapi::registry::MetaSchema> {
    match schema {
        MetaSchemaRef::Inline(s) => Some(s),
        MetaSchemaRef::Reference(_) => None,
    }
}

fn fields_of<T: Type + 'static>() -> &'static Fields {
    static CACHE: OnceLock<Mutex<HashMap<TypeId, &'static Fields>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
    cache.entry(TypeId::of::<T>()).or_insert_with(|| {
        let mut registry = Registry::new();
        T::register(&mut registry);
        let schema = registry.schemas.get(T::name().as_ref());
        // Leaked once per request type: a handful of small vectors for the process lifetime.
        Box::leak(Box::new(Fields {
            known: schema
                .map(|s| s.properties.iter().map(|(k, _)| (*k).to_owned()).collect())
                .unwrap_or_default(),
            required: schema
                .map(|s| s.required.iter().map(|k| (*k).to_owned()).collect())
                .unwrap_or_default(),
            types: schema
                .map(|s| {
                    s.properties
                        .iter()
                        .filter_map(|(name, prop)| {
                            let prop = inline(prop)?;
                            Some(FieldType {
                                name: (*name).to_owned(),
                                ty: prop.ty,
                                format: prop.format,
                                null_ok: prop.nullable || !s.required.contains(name),
                                items: prop
                                    .items
                                    .as_deref()
                                    .and_then(inline)
                                    .map(|i| (i.ty, i.format)),
                            })
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }))
    })
}
