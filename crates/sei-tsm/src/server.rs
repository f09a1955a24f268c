//! The SEI-TSM on its HTTPS listener (`jpki serve sei-tsm`).

use crate::config::SeiConfig;
use crate::service::SeiTsm;
use std::sync::Arc;
use svc::server::Shutdown;

/// Runs the SEI-TSM until `shutdown`.
pub async fn run(config: SeiConfig, shutdown: Shutdown) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(config.https_listen).await.map_err(|e| e.to_string())?;
    serve(config, listener, shutdown).await
}

/// Runs the SEI-TSM on a listener the caller bound until `shutdown`; then
/// answers the requests in flight and closes the store. (A preparation
/// whose phone has not posted yet is dropped: the phone starts it again,
/// as after a lost connection.)
pub async fn serve(config: SeiConfig, listener: tokio::net::TcpListener, shutdown: Shutdown) -> Result<(), String> {
    let tls = svc::server::server_config(&config.tls_certificate, &config.tls_key, &config.sp_tsm_client_ca)?;
    let sei = Arc::new(SeiTsm::from_config(&config).await?);
    tracing::info!(https = %config.https_listen, "SEI-TSM listening");
    let served = svc::server::serve_https(listener, tls, crate::http::router(sei.clone()), shutdown).await;
    sei.records().store().close().await.map_err(|e| e.to_string())?;
    tracing::info!("SEI-TSM stopped");
    served.map_err(|e| e.to_string())
}
