//! The listeners: HTTPS for the API (client certificates optional at the TLS
//! layer and required by the phone-certificate route) and plain HTTP for
//! OCSP and CRLs.

use crate::config::Config;
use crate::http::{public_router, router, AppState, CrlCache};
use crate::{Jlis, JlisError};
use std::sync::Arc;
use svc::server::Shutdown;
use tokio::net::TcpListener;

fn cannot_run(e: impl std::fmt::Display) -> JlisError {
    JlisError::Service(e.to_string())
}

/// Runs the service until `shutdown`.
pub async fn run(config: Config, shutdown: Shutdown) -> Result<(), JlisError> {
    let https = TcpListener::bind(config.https_listen).await.map_err(cannot_run)?;
    let http = TcpListener::bind(config.http_listen).await.map_err(cannot_run)?;
    serve(config, https, http, shutdown).await
}

/// Runs the service on listeners the caller bound until `shutdown`; then
/// answers the requests in flight, signs a last audit checkpoint and
/// closes the store.
pub async fn serve(config: Config, https: TcpListener, http: TcpListener, shutdown: Shutdown) -> Result<(), JlisError> {
    let ca = config.open_ca()?;
    serve_with_ca(config, ca, https, http, shutdown).await
}

/// [`serve`] with the CAs already opened (their keys decrypted once).
pub async fn serve_with_ca(
    config: Config,
    ca: pki::ca::LocalCa,
    https: TcpListener,
    http: TcpListener,
    shutdown: Shutdown,
) -> Result<(), JlisError> {
    let tls =
        svc::server::server_config(&config.tls_certificate, &config.tls_key, &config.sp_tsm_ca).map_err(cannot_run)?;
    let operators =
        crate::operators::Operators::load(&config.operator_token_file, &config.operators).map_err(cannot_run)?;
    if config.dual_control_key_compromise && operators.count(crate::operators::Role::Operator) < 2 {
        return Err(cannot_run(
            "dual_control_key_compromise needs two operators with the `operator` role: add one under [[operators]]",
        ));
    }
    let mut jlis = Jlis::open(&config.database, ca).await?;
    jlis.require_dual_control(config.dual_control_key_compromise);
    if let Some(d) = &config.device_trust {
        jlis.require_device_trust(d.check().map_err(cannot_run)?);
    }
    let audit_key = crate::audit::AuditKey::load_or_create(&config.audit_key_file).map_err(cannot_run)?;
    let crls = CrlCache { interval: std::time::Duration::from_secs(config.crl_interval_secs), ..Default::default() };
    let state = Arc::new(AppState { jlis, operators, crls: tokio::sync::Mutex::new(crls) });
    // Its own signal: the last checkpoint waits for the listeners.
    let audit_stop = Shutdown::new();
    let audit = tokio::spawn(audit_log::checkpoint_every(
        state.jlis.store().clone(),
        audit_key,
        config.audit_checkpoint_file.clone(),
        std::time::Duration::from_secs(config.audit_checkpoint_secs),
        audit_stop.clone(),
    ));
    tracing::info!(https = %config.https_listen, http = %config.http_listen, "JPKI service listening");
    // Either listener ending ends the other: the service stops as a whole.
    let (public, api) = tokio::join!(
        async {
            let r = svc::server::serve_http(http, public_router(state.clone()), shutdown.clone()).await;
            shutdown.begin();
            r
        },
        async {
            let r = svc::server::serve_https(https, tls, router(state.clone()), shutdown.clone()).await;
            shutdown.begin();
            r
        },
    );
    audit_stop.begin();
    let _ = audit.await;
    state.jlis.store().close().await?;
    tracing::info!("JPKI service stopped");
    public.and(api).map_err(cannot_run)
}
