//! The SP-TSM on its HTTPS listener (`jpki serve sp-tsm`).

use crate::config::SpConfig;
use crate::service::SpTsm;
use std::sync::Arc;
use std::time::Duration;

/// Runs the SP-TSM until the process ends.
pub async fn run(config: SpConfig) -> Result<(), String> {
    let sp = Arc::new(SpTsm::open(&config).await?);
    let listener = tokio::net::TcpListener::bind(config.https_listen).await.map_err(|e| e.to_string())?;
    serve(&config, sp, listener).await
}

/// Runs an opened SP-TSM on a listener the caller bound; pending
/// revocations are retried every minute.
pub async fn serve(config: &SpConfig, sp: Arc<SpTsm>, listener: tokio::net::TcpListener) -> Result<(), String> {
    let tls = svc::server::server_config(&config.tls_certificate, &config.tls_key, &config.sei_tsm_client_ca)?;
    let retry = sp.clone();
    tokio::spawn(async move {
        loop {
            retry.retry_pending_revocations().await;
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
    });
    tracing::info!(https = %config.https_listen, "SP-TSM listening");
    svc::server::serve_https(listener, tls, crate::http::router(sp)).await.map_err(|e| e.to_string())
}
