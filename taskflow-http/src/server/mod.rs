//! Serving an app on a socket with graceful shutdown.

use std::future::Future;
use std::time::Duration;

use poem::listener::TcpAcceptor;
use poem::{Endpoint, Response, Server};

/// Serves `app` on `listener` until `shutdown` resolves; then stops accepting and gives
/// in-flight requests up to `grace` to finish.
pub async fn serve<E>(
    listener: tokio::net::TcpListener,
    app: E,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> std::io::Result<()>
where
    E: Endpoint<Output = Response> + 'static,
{
    Server::new_with_acceptor(TcpAcceptor::from_tokio(listener)?)
        .idle_timeout(Duration::from_secs(60))
        .run_with_graceful_shutdown(app, shutdown, Some(grace))
        .await
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("SIGINT received: shutting down"),
        _ = term => tracing::info!("SIGTERM received: shutting down"),
    }
}
