//! Probes, metrics, the OpenAPI document and Swagger UI.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::Server;

pub async fn health_metrics_and_docs(s: Server) {
    let r = s.req(Method::GET, "/health").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"status": "ok"}));
    let r = s.req(Method::GET, "/health/ready").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"status": "ready", "checks": {"store": "up"}})
    );

    let ann = s.user("ann").await;
    let task = s.task(&ann, json!({"title": "t"})).await;
    for _ in 0..3 {
        let r = s
            .as_user(
                Method::GET,
                &format!("/tasks/{}", task["id"].as_str().unwrap()),
                &ann.access,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let metrics = s
        .http
        .get(format!("{}/metrics", s.origin))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            r#"taskflow_http_requests_total{route="/api/v1/tasks/{id}",method="GET",status="200"} 3"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"taskflow_http_request_duration_seconds_bucket{le="#),
        "{metrics}"
    );
    assert!(metrics.contains("taskflow_cache_hits_total"));
    assert!(metrics.contains("taskflow_cache_misses_total"));

    let spec: Value = s
        .http
        .get(s.api("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    assert!(spec["paths"]["/tasks/{id}"]["patch"]["responses"]["412"].is_object());
    let docs = s
        .http
        .get(format!("{}/docs", s.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    let csp = docs.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'unsafe-inline'"), "{csp}");
    assert!(docs.text().await.unwrap().contains("SwaggerUIBundle"));
}
