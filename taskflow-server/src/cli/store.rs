//! Opening the store the database URL names, with errors and logs fit for a terminal.

use std::sync::Arc;

use taskflow_http::{PoolSource, PoolUsage};
use taskflow_stores::AnyStore;

/// The URL without its password, for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Opens the store `url` names (see `taskflow-stores`), with CLI-ready errors.
pub async fn open(url: &str) -> Result<AnyStore, String> {
    AnyStore::open(url).await.map_err(|e| match e {
        taskflow_core::Error::Validation(v) => v
            .fields()
            .values()
            .flatten()
            .cloned()
            .collect::<Vec<_>>()
            .join("; "),
        other => format!("cannot open {}: {other}", redact(url)),
    })
}

/// Pool usage for `/metrics`, read from the store at scrape time.
pub fn pool_source(store: &AnyStore) -> Option<PoolSource> {
    let AnyStore::Sql(sql) = store else {
        return None;
    };
    let sql = sql.clone();
    Some(Arc::new(move || {
        sql.pool_stats()
            .into_iter()
            .map(|p| PoolUsage {
                pool: p.name.to_owned(),
                size: p.size.into(),
                idle: p.idle.into(),
                max: p.max.into(),
            })
            .collect()
    }))
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://taskflow.db"), "sqlite://taskflow.db");
    }
}
