//! JSON response bodies serialized straight to bytes.
//!
//! poem-openapi's `Json<T>` first builds a `serde_json::Value` tree (a map and a string
//! allocation per field) and then serializes the tree; for a page of 20 tasks that was most
//! of the request's CPU time. `JsonOut<T>` keeps `T`'s OpenAPI schema for the document and
//! serializes `T` with serde directly. The two must agree: the black-box tests compare
//! bodies field by field, and the schemathesis run checks bodies against the schema.

use std::marker::PhantomData;

use bytes::Bytes;
use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use serde::Serialize;

const JSON_UTF8: &str = "application/json; charset=utf-8";

/// A JSON response body of type `T` (a poem-openapi `Object` that is also `Serialize`).
#[derive(Debug, Clone)]
pub struct JsonOut<T>(pub T);

impl<T: Type> Payload for JsonOut<T> {
    const CONTENT_TYPE: &'static str = JSON_UTF8;

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Serialize + Send> IntoResponse for JsonOut<T> {
    fn into_response(self) -> Response {
        match to_json(&self.0) {
            Ok(body) => Response::builder().content_type(JSON_UTF8).body(body),
            Err(e) => crate::problem::ApiError::internal(Some(e.into())).into_response(),
        }
    }
}

impl<T: Type + Serialize + Send> ApiResponse for JsonOut<T> {
    fn meta() -> MetaResponses {
        json_meta::<T>()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

/// `value` as JSON bytes, written into a buffer sized for a typical page so that a
/// response is not copied through a series of reallocations.
pub(crate) fn to_json<T: Serialize>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut body = Vec::with_capacity(1024);
    serde_json::to_writer(&mut body, value)?;
    Ok(body)
}

/// A JSON body of type `T` that is already serialized (see [`crate::page_memo`]); documented
/// with `T`'s schema like [`JsonOut`].
#[derive(Debug, Clone)]
pub struct JsonBytes<T>(pub Bytes, pub PhantomData<T>);

impl<T: Type> Payload for JsonBytes<T> {
    const CONTENT_TYPE: &'static str = JSON_UTF8;

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Send> IntoResponse for JsonBytes<T> {
    fn into_response(self) -> Response {
        Response::builder().content_type(JSON_UTF8).body(self.0)
    }
}

impl<T: Type + Send> ApiResponse for JsonBytes<T> {
    fn meta() -> MetaResponses {
        json_meta::<T>()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

/// A `200` JSON response of schema `T`.
fn json_meta<T: Type>() -> MetaResponses {
    MetaResponses {
        responses: vec![MetaResponse {
            description: "",
            status: Some(200),
            status_range: None,
            content: vec![MetaMediaType {
                content_type: JSON_UTF8,
                schema: T::schema_ref(),
            }],
            headers: vec![],
        }],
    }
}
