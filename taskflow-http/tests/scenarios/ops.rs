//! Probes, metrics, the OpenAPI document and Swagger UI.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::Server;
use taskflow_test_support::http::expect_status;

pub async fn health_metrics_and_docs(s: Server) {
    let r = expect_status(s.req(Method::GET, "/health"), StatusCode::OK).await;
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"status": "ok"}));
    let r = expect_status(s.req(Method::GET, "/health/ready"), StatusCode::OK).await;
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"status": "ready", "checks": {"store": "up"}})
    );

    let ann = s.user("ann").await;
    let task = s.task(&ann, json!({"title": "t"})).await;
    for _ in 0..3 {
        expect_status(
            s.as_user(
                Method::GET,
                &format!("/tasks/{}", task["id"].as_str().unwrap()),
                &ann.access,
            ),
            StatusCode::OK,
        )
        .await;
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
    // The document is as strict as the server (what scripts/test api_fuzz relies on):
    // closed request objects, optional fields that accept null, core's limits and enums.
    let schemas = &spec["components"]["schemas"];
    for body in [
        "Registration",
        "NewTask",
        "TaskPatch",
        "BulkStatus",
        "UserUpdate",
    ] {
        assert_eq!(schemas[body]["additionalProperties"], false, "{body}");
    }
    let new_task = &schemas["NewTask"]["properties"];
    assert_eq!(new_task["description"]["nullable"], true);
    assert_eq!(new_task["description"]["maxLength"], 10_000);
    assert_eq!(
        new_task["status"]["enum"],
        json!(["todo", "in_progress", "done", "cancelled", null])
    );
    assert!(new_task["title"]["pattern"].is_string());
    assert_eq!(
        schemas["UserUpdate"]["properties"]["role"]["enum"],
        json!(["admin", "user", null])
    );
    // References are plain `$ref`s: client generators read `allOf` as object composition and
    // drop schemas that wrap an enum in one (openapi-python-client lost Task and TaskPage).
    assert_eq!(
        schemas["Task"]["properties"]["status"],
        json!({"$ref": "#/components/schemas/StatusOut"})
    );
    assert!(!spec.to_string().contains("\"allOf\""), "no allOf left");
    let limit = spec["paths"]["/tasks"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap();
    assert_eq!(limit["schema"]["minimum"], 1);
    assert_eq!(limit["schema"]["maximum"], 100);
    let docs = expect_status(s.http.get(format!("{}/docs", s.origin)), StatusCode::OK).await;
    let csp = docs.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'unsafe-inline'"), "{csp}");
    let html = docs.text().await.unwrap();
    assert!(html.contains("SwaggerUIBundle"));
    assert!(
        html.contains("\"additionalProperties\":false"),
        "Swagger UI shows the served document"
    );
}
