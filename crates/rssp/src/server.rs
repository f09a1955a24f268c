//! The listener: HTTPS (rustls), audit checkpoints every few seconds and
//! once more at shutdown ([`audit_log::checkpoint_every`]).

use crate::config::Config;
use crate::http::{router, AppState};
use crate::instruction::JpkiTrust;
use crate::privileged::PrivilegedUsers;
use crate::sam::Sam;
use std::path::Path;
use std::sync::Arc;
use svc::server::Shutdown;
use tokio::net::TcpListener;

/// Runs the service from the configuration at `config_path` until `shutdown`.
pub async fn run(config_path: &Path, shutdown: Shutdown) -> Result<(), String> {
    let config = Config::load(config_path)?;
    // A changed configuration is refused before anything listens.
    Config::verify_seal(config_path, &*config.open_cm()?)?;
    let listener = TcpListener::bind(config.https_listen).await.map_err(|e| format!("{}: {e}", config.https_listen))?;
    serve(config_path, config, listener, shutdown).await
}

/// Runs the service on a listener the caller bound.
pub async fn serve(
    config_path: &Path,
    config: Config,
    listener: TcpListener,
    shutdown: Shutdown,
) -> Result<(), String> {
    let cm = config.open_cm()?;
    Config::verify_seal(config_path, &*cm)?;
    let privileged = PrivilegedUsers::load(&config.privileged)?;
    let ca = config.open_ca()?;
    let jpki = JpkiTrust {
        sign_ca: Config::read_certificate(&config.jpki_sign_ca)?,
        auth_ca: Config::read_certificate(&config.jpki_auth_ca)?,
        ocsp_url: config.jpki_ocsp_url.clone(),
        http: jlis_api::status::client(),
    };
    let store = store::Store::open(&config.database, crate::schema::MIGRATIONS).await.map_err(|e| e.to_string())?;
    let sam = Sam::open(store, cm, ca, jpki, config.policy()).await?.with_device_trust(config.device_verifier()?);
    let tls = svc::server::server_config(&config.tls_certificate, &config.tls_key, &config.tls_client_ca)?;
    let audit_key = audit_log::AuditKey::load_or_create(&config.audit_key_file)?;
    let state = Arc::new(AppState { sam, privileged });
    let audit_stop = Shutdown::new();
    let audit = tokio::spawn(audit_log::checkpoint_every(
        state.sam.store().clone(),
        audit_key,
        config.audit_checkpoint_file.clone(),
        std::time::Duration::from_secs(config.audit_checkpoint_secs),
        audit_stop.clone(),
    ));
    tracing::info!(https = %config.https_listen, "RSSP listening");
    let served = svc::server::serve_https(listener, tls, router(state.clone()), shutdown.clone()).await;
    shutdown.begin();
    audit_stop.begin();
    let _ = audit.await;
    state.sam.store().close().await.map_err(|e| e.to_string())?;
    tracing::info!("RSSP stopped");
    served.map_err(|e| e.to_string())
}
