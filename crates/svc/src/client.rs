//! HTTPS clients of the deployment's services: trust only the deployment's
//! TLS CA (never the system store: a phone talking to its TSM must not be
//! redirected to any publicly trusted server), optionally present a client
//! certificate (the SP-TSM towards the JPKI service, mechanism ⑩).

use crate::server::pem_certificates;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;
use std::path::Path;
use std::time::Duration;

/// A client trusting the CA in `ca_pem`, presenting `identity` (certificate
/// and key PEM files) when given.
pub fn https_client(ca_pem: &Path, identity: Option<(&Path, &Path)>) -> Result<reqwest::Client, String> {
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for ca in pem_certificates(ca_pem)? {
        roots.add(ca).map_err(|e| format!("{}: {e}", ca_pem.display()))?;
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let config = match identity {
        Some((cert, key)) => {
            let chain = pem_certificates(cert)?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| e.to_string())?
        }
        None => builder.with_no_client_auth(),
    };
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())
}

/// A client for plain-HTTP services (OCSP, CRLs): it trusts no HTTPS server
/// at all, so it cannot be redirected to one.
pub fn plain_http_client() -> Result<reqwest::Client, String> {
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())
}
