//! The SEI-TSM on its HTTPS listener (`jpki serve sei-tsm`).

use crate::config::SeiConfig;
use crate::service::SeiTsm;
use std::sync::Arc;

/// Runs the SEI-TSM until the process ends.
pub async fn run(config: SeiConfig) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(config.https_listen).await.map_err(|e| e.to_string())?;
    serve(config, listener).await
}

/// Runs the SEI-TSM on a listener the caller bound.
pub async fn serve(config: SeiConfig, listener: tokio::net::TcpListener) -> Result<(), String> {
    let tls = svc::server::server_config(&config.tls_certificate, &config.tls_key, &config.sp_tsm_client_ca)?;
    let sei = SeiTsm::from_config(&config).await?;
    tracing::info!(https = %config.https_listen, "SEI-TSM listening");
    svc::server::serve_https(listener, tls, crate::http::router(Arc::new(sei))).await.map_err(|e| e.to_string())
}
