//! `/health` and `/health/ready`: liveness and readiness probes (no authentication).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::response::JsonOut;
use poem::web::Data;
use poem_openapi::{ApiResponse, OpenApi};
use taskflow_core::TaskFlow;

use super::ApiTags;
use crate::dto::{HealthOut, ReadinessOut};
use crate::problem::ApiResult;

/// Probes.
pub struct OpsApi {
    /// Bound on the store ping, so the probe answers even when the database hangs.
    pub ready_timeout: Duration,
}

#[derive(ApiResponse)]
enum Readiness {
    /// Every dependency is up.
    #[oai(status = 200)]
    Ready(JsonOut<ReadinessOut>),
    /// A dependency is down (its check says `down`).
    #[oai(status = 503)]
    NotReady(
        JsonOut<ReadinessOut>,
        /// Seconds before asking again.
        #[oai(header = "Retry-After")]
        u64,
    ),
}

#[OpenApi(prefix_path = "/health", tag = "ApiTags::Operations")]
impl OpsApi {
    /// `200` while the process runs.
    #[oai(path = "/", method = "get", operation_id = "health")]
    async fn health(&self) -> ApiResult<JsonOut<HealthOut>> {
        Ok(JsonOut(HealthOut {
            status: "ok".to_owned(),
        }))
    }

    /// `200` when the store answers a ping within the bound, `503` otherwise.
    #[oai(path = "/ready", method = "get", operation_id = "ready")]
    async fn ready(&self, tf: Data<&TaskFlow>) -> ApiResult<Readiness> {
        let up = match tokio::time::timeout(self.ready_timeout, tf.ping()).await {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "readiness: store ping failed");
                false
            }
            Err(_) => {
                tracing::warn!(timeout = ?self.ready_timeout, "readiness: store ping timed out");
                false
            }
        };
        let checks = BTreeMap::from([(
            "store".to_owned(),
            if up { "up" } else { "down" }.to_owned(),
        )]);
        Ok(if up {
            Readiness::Ready(JsonOut(ReadinessOut {
                status: "ready".to_owned(),
                checks,
            }))
        } else {
            Readiness::NotReady(
                JsonOut(ReadinessOut {
                    status: "unavailable".to_owned(),
                    checks,
                }),
                5,
            )
        })
    }
}
