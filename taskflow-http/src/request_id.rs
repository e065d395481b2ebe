//! `X-Request-Id`: echoed when the client sent a sane one, generated otherwise.

use poem::http::HeaderMap;

/// Response and request header name.
pub const HEADER: &str = "x-request-id";

/// The id of the current request, attached to it as data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// The client's id when it is 1-128 characters of `[A-Za-z0-9._:-]`, else a new UUIDv7.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        headers
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|v| is_sane(v))
            .map(|v| RequestId(v.to_owned()))
            .unwrap_or_else(|| RequestId(uuid::Uuid::now_v7().to_string()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Short and free of anything that could forge a log line or a header.
fn is_sane(v: &str) -> bool {
    (1..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}
