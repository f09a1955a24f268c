//! The SP-TSM on its HTTPS listener (`jpki serve sp-tsm`).

use crate::config::SpConfig;
use crate::service::SpTsm;
use std::sync::Arc;
use std::time::Duration;
use svc::server::Shutdown;

/// Runs the SP-TSM until `shutdown`.
pub async fn run(config: SpConfig, shutdown: Shutdown) -> Result<(), String> {
    let sp = Arc::new(SpTsm::open(&config).await?);
    let listener = tokio::net::TcpListener::bind(config.https_listen).await.map_err(|e| e.to_string())?;
    serve(&config, sp, listener, shutdown).await
}

/// Runs an opened SP-TSM on a listener the caller bound until `shutdown`
/// (then answers the requests in flight and closes the store); pending
/// revocations are retried after 1 s, 2 s, 4 s … up to every minute.
pub async fn serve(
    config: &SpConfig,
    sp: Arc<SpTsm>,
    listener: tokio::net::TcpListener,
    shutdown: Shutdown,
) -> Result<(), String> {
    let tls = svc::server::server_config(&config.tls_certificate, &config.tls_key, &config.sei_tsm_client_ca)?;
    sp.recover_interrupted().await?;
    let retry = sp.clone();
    let retries = tokio::spawn(async move {
        // Soon again while some are pending (the JPKI service may be
        // starting too), every minute otherwise.
        let mut pause = Duration::from_secs(1);
        loop {
            if retry.retry_pending_revocations().await == 0 {
                pause = Duration::from_secs(1);
                tokio::time::sleep(Duration::from_secs(60)).await;
            } else {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(60));
            }
        }
    });
    tracing::info!(https = %config.https_listen, "SP-TSM listening");
    let served = svc::server::serve_https(listener, tls, crate::http::router(sp.clone()), shutdown).await;
    retries.abort();
    sp.records().store().close().await.map_err(|e| e.to_string())?;
    tracing::info!("SP-TSM stopped");
    served.map_err(|e| e.to_string())
}
