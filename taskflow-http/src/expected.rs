//! What a client should send, in words: the one mapping from a wire type to the phrase of
//! every parse error the HTTP layer answers (a query parameter that is not an integer, a body
//! field that is not an RFC 3339 date-time, ...).
//!
//! A wire type is known by its OpenAPI schema, `type` plus `format`, the same pair the
//! document shows the client. Query parameters take it from the Rust type of the parameter
//! ([`of`]), body fields from the request object's schema (`body.rs`), so a value of one type
//! is described the same way wherever it is sent, and never by poem-openapi's internal type
//! names (`integer_int64`, `optional_string_date-time`).
//!
//! Rules over the value (ranges, enumerations, patterns) are core's, and core's messages say
//! them ("must be 1-100", "must be one of todo, in_progress, done, cancelled").

use chrono::{DateTime, Utc};
use poem_openapi::registry::MetaSchemaRef;
use poem_openapi::types::Type;

/// The example instant every date-time message shows.
macro_rules! date_time_example {
    () => {
        "2026-12-01T09:00:00Z"
    };
}
/// The example id every UUID message shows (a UUIDv7, as the server issues them).
macro_rules! uuid_example {
    () => {
        "0193b2c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d"
    };
}

/// How to name the values of one wire type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    /// One value, after "must be": `an integer`.
    pub one: &'static str,
    /// Values in a list, after "an array of": `integers`.
    pub many: &'static str,
}

impl Expected {
    /// `must be an integer`.
    pub fn must_be(self) -> String {
        format!("must be {}", self.one)
    }

    /// `must be an array of integers`.
    pub fn must_be_array_of(self) -> String {
        format!("must be an array of {}", self.many)
    }
}

/// The phrase for an OpenAPI `type` and `format`. Every type and format the document uses
/// has its own entry (the HTTP tests walk the document to hold this); anything else falls
/// back to its JSON type.
pub fn expected(ty: &str, format: Option<&str>) -> Expected {
    let (one, many) = match (ty, format) {
        ("string", Some("date-time")) => (
            concat!("an RFC 3339 date-time such as ", date_time_example!()),
            concat!("RFC 3339 date-times such as ", date_time_example!()),
        ),
        ("string", Some("uuid")) => (
            concat!("a UUID such as ", uuid_example!()),
            concat!("UUIDs such as ", uuid_example!()),
        ),
        ("string", _) => ("a string", "strings"),
        ("integer", _) => ("an integer", "integers"),
        ("number", _) => ("a number", "numbers"),
        ("boolean", _) => ("true or false", "booleans (true or false)"),
        ("array", _) => ("an array", "arrays"),
        ("object", _) => ("a JSON object", "JSON objects"),
        _ => (
            "a value of the type the OpenAPI document gives",
            "such values",
        ),
    };
    Expected { one, many }
}

/// The phrase for the Rust wire type `T`, from its own schema.
pub fn of<T: Type>() -> Expected {
    match T::schema_ref() {
        MetaSchemaRef::Inline(schema) => expected(schema.ty, schema.format),
        // Named schemas are objects (poem-openapi `Object`s).
        MetaSchemaRef::Reference(_) => expected("object", None),
    }
}

/// Whether the string `value` has the OpenAPI `format`: the formats the server parses
/// (`date-time`, `uuid`) are checked as the server parses them; any other format is not
/// checked here.
pub fn has_format(format: &str, value: &str) -> bool {
    match format {
        "date-time" => parse_date_time(value).is_some(),
        "uuid" => uuid::Uuid::parse_str(value).is_ok(),
        _ => true,
    }
}

/// An RFC 3339 date-time, in UTC: the one parser of instants the clients send.
pub fn parse_date_time(value: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_types_of_the_api_have_their_own_phrases() {
        assert_eq!(of::<i64>().must_be(), "must be an integer");
        assert_eq!(of::<bool>().must_be(), "must be true or false");
        assert_eq!(
            of::<crate::dto::Timestamp>().must_be(),
            concat!(
                "must be an RFC 3339 date-time such as ",
                date_time_example!()
            )
        );
        assert_eq!(
            of::<uuid::Uuid>().must_be(),
            concat!("must be a UUID such as ", uuid_example!())
        );
        assert_eq!(
            of::<String>().must_be_array_of(),
            "must be an array of strings"
        );
        // The examples the messages show are themselves valid.
        assert!(has_format("date-time", date_time_example!()));
        assert!(has_format("uuid", uuid_example!()));
        assert!(!has_format("date-time", "2026-12-01"));
        assert!(!has_format("uuid", "nope"));
    }
}
