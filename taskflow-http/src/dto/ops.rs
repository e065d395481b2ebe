//! Liveness and readiness answers.

use std::collections::BTreeMap;

use poem_openapi::Object;
use serde::Serialize;

/// Liveness answer.
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename = "Health")]
pub struct HealthOut {
    /// Always `ok`.
    pub status: String,
}

/// Readiness answer.
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename = "Readiness")]
pub struct ReadinessOut {
    /// `ready` or `unavailable`.
    pub status: String,
    /// Each dependency: `up` or `down`.
    pub checks: BTreeMap<String, String>,
}
