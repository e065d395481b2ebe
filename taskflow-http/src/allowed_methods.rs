//! The `Allow` header of a `405` (RFC 9110 §15.5.6 requires it): the methods the OpenAPI
//! document lists for the path, so the header and the document cannot disagree.

use serde_json::Value;

use crate::API_BASE;

/// Path templates of the API with their methods, read once from the document.
#[derive(Debug, Clone, Default)]
pub struct AllowedMethods {
    /// (`["tasks", "{id}"]`, `"DELETE, GET, PATCH"`)
    routes: Vec<(Vec<String>, String)>,
}

impl AllowedMethods {
    /// Reads every path of `spec` (an OpenAPI document served under [`API_BASE`]).
    pub fn from_spec(spec: &str) -> Self {
        let doc: Value = serde_json::from_str(spec).unwrap_or_default();
        let routes = doc["paths"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(path, item)| {
                let mut methods: Vec<String> = item
                    .as_object()
                    .into_iter()
                    .flat_map(|ops| ops.keys())
                    .map(|m| m.to_ascii_uppercase())
                    .collect();
                methods.sort();
                (segments(path), methods.join(", "))
            })
            .collect();
        Self { routes }
    }

    /// The `Allow` value for a request path, if it names an API route.
    pub fn for_path(&self, path: &str) -> Option<&str> {
        let rest = path.strip_prefix(API_BASE)?;
        let wanted = segments(rest);
        // `/tasks/stats` is a route of its own, not `/tasks/{id}`: fewest parameters wins.
        self.routes
            .iter()
            .filter(|(template, _)| {
                template.len() == wanted.len()
                    && template
                        .iter()
                        .zip(&wanted)
                        .all(|(t, w)| t == w || is_param(t))
            })
            .min_by_key(|(template, _)| template.iter().filter(|t| is_param(t)).count())
            .map(|(_, methods)| methods.as_str())
    }
}

fn is_param(segment: &str) -> bool {
    segment.starts_with('{') && segment.ends_with('}')
}

fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::AllowedMethods;

    #[test]
    fn methods_of_the_matching_template() {
        let allowed = AllowedMethods::from_spec(
            r#"{"paths": {"/tasks": {"get": {}, "post": {}},
                          "/tasks/stats": {"get": {}},
                          "/tasks/{id}": {"get": {}, "patch": {}, "delete": {}}}}"#,
        );
        assert_eq!(allowed.for_path("/api/v1/tasks"), Some("GET, POST"));
        assert_eq!(allowed.for_path("/api/v1/tasks/"), Some("GET, POST"));
        assert_eq!(allowed.for_path("/api/v1/tasks/stats"), Some("GET"));
        assert_eq!(
            allowed.for_path("/api/v1/tasks/0190-x"),
            Some("DELETE, GET, PATCH")
        );
        assert_eq!(allowed.for_path("/api/v1/nope"), None);
        assert_eq!(allowed.for_path("/elsewhere"), None);
    }
}
