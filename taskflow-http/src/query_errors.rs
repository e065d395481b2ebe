//! Collects every bad query parameter of a request, so a `400` lists them all at once.

use std::collections::BTreeMap;
use std::str::FromStr;

use poem_openapi::types::ParseFromParameter;

use crate::problem::ApiError;

/// Parse failures by parameter name.
#[derive(Debug, Default)]
pub struct QueryErrors(BTreeMap<String, Vec<String>>);

impl QueryErrors {
    /// Parses an optional parameter, recording a failure under `name`.
    pub fn parse<T: ParseQuery>(&mut self, name: &str, raw: Option<String>) -> Option<T> {
        let raw = raw?;
        match T::parse_query(&raw) {
            Ok(v) => Some(v),
            Err(message) => {
                self.0.entry(name.to_owned()).or_default().push(message);
                None
            }
        }
    }

    /// `400 malformed_request` listing every failure, if any.
    pub fn into_result(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::bad_query(self.0))
        }
    }
}

/// A query value type with a client-facing parse message.
pub trait ParseQuery: Sized {
    /// Parses the raw value.
    fn parse_query(raw: &str) -> Result<Self, String>;
}

impl ParseQuery for crate::dto::Timestamp {
    fn parse_query(raw: &str) -> Result<Self, String> {
        Self::parse_from_parameter(raw).map_err(|_| "must be an RFC 3339 date-time".to_owned())
    }
}

impl ParseQuery for taskflow_core::UserId {
    fn parse_query(raw: &str) -> Result<Self, String> {
        Self::from_str(raw).map_err(|_| "must be a user id (UUID)".to_owned())
    }
}
