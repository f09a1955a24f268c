//! The listeners: HTTPS for the API (rustls; client certificates optional at
//! the TLS layer and required by the phone-certificate route) and plain HTTP
//! for OCSP and CRLs.

use crate::config::Config;
use crate::http::{router, AppState, CrlCache, Peer};
use crate::{Jlis, JlisError};
use axum::Extension;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;
use tokio::net::TcpListener;

fn internal(e: impl std::fmt::Display) -> JlisError {
    JlisError::Internal(e.to_string())
}

fn tls_config(c: &Config) -> Result<rustls::ServerConfig, JlisError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&c.tls_certificate)
        .map_err(internal)?
        .collect::<Result<_, _>>()
        .map_err(internal)?;
    let key = PrivateKeyDer::from_pem_file(&c.tls_key).map_err(internal)?;
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(&c.sp_tsm_ca).map_err(internal)? {
        roots.add(ca.map_err(internal)?).map_err(internal)?;
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
        .allow_unauthenticated()
        .build()
        .map_err(internal)?;
    rustls::ServerConfig::builder().with_client_cert_verifier(verifier).with_single_cert(certs, key).map_err(internal)
}

/// Runs the service until the process ends.
pub async fn run(config: Config) -> Result<(), JlisError> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let jlis = Jlis::open(&config.database, config.open_ca()?).await?;
    let token = std::fs::read_to_string(&config.operator_token_file).map_err(internal)?.trim().to_string();
    let crls = CrlCache { interval: std::time::Duration::from_secs(config.crl_interval_secs), ..Default::default() };
    let state = Arc::new(AppState { jlis, operator_token: token, crls: tokio::sync::Mutex::new(crls) });
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls_config(&config)?));
    let https = TcpListener::bind(config.https_listen).await.map_err(internal)?;
    let http = TcpListener::bind(config.http_listen).await.map_err(internal)?;
    tracing::info!(https = %config.https_listen, http = %config.http_listen, "JPKI service listening");

    let status_routes = router(state.clone()).layer(Extension(Peer::default()));
    let plain = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = http.accept().await else { continue };
            let svc = TowerToHyperService::new(status_routes.clone());
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    let api = router(state);
    loop {
        let Ok((stream, addr)) = https.accept().await else { continue };
        let acceptor = acceptor.clone();
        let api = api.clone();
        tokio::spawn(async move {
            let tls = match acceptor.accept(stream).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::debug!(%addr, error = %e, "TLS handshake failed");
                    return;
                }
            };
            let peer = Peer { sp_tsm: tls.get_ref().1.peer_certificates().is_some_and(|c| !c.is_empty()) };
            let svc = TowerToHyperService::new(api.layer(Extension(peer)));
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), svc)
                .await;
        });
        if plain.is_finished() {
            return Err(internal("the HTTP listener stopped"));
        }
    }
}
