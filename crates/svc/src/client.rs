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

/// A call to one of the deployment's services that failed. Every service
/// answers errors as JSON `{code, message}`; the code is kept for callers
/// that act on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// The service answered an error (code `http` and the body when the
    /// answer was not the JSON error shape).
    #[error("{service} refused ({status} {code}): {message}")]
    Refused {
        /// Which service (its name and URL).
        service: String,
        /// HTTP status.
        status: u16,
        /// Machine-readable code.
        code: String,
        /// Human message.
        message: String,
    },
    /// The service could not be reached or answered nonsense.
    #[error("{service}: {message}")]
    Transport {
        /// Which service.
        service: String,
        /// What went wrong.
        message: String,
    },
    /// Local configuration (TLS files).
    #[error("{0}")]
    Config(String),
}

impl ServiceError {
    /// The service's error code, if it answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ServiceError::Refused { code, .. } => Some(code),
            _ => None,
        }
    }

    /// A transport error: `service` answered something unusable.
    pub fn transport(service: &str, message: impl Into<String>) -> Self {
        ServiceError::Transport { service: service.into(), message: message.into() }
    }
}

/// Sends `request` to `service` (named in errors) and returns the JSON
/// body of its 200 answer.
pub async fn call_json(service: &str, request: reqwest::RequestBuilder) -> Result<serde_json::Value, ServiceError> {
    let transport = |e: reqwest::Error| ServiceError::transport(service, e.to_string());
    let answer = request.send().await.map_err(transport)?;
    let status = answer.status().as_u16();
    let bytes = answer.bytes().await.map_err(transport)?;
    let json = serde_json::from_slice::<serde_json::Value>(&bytes);
    if status == 200 {
        return json.map_err(|e| ServiceError::transport(service, format!("an answer that is not JSON: {e}")));
    }
    let field = |v: &serde_json::Value, f: &str| v[f].as_str().map(str::to_string);
    let (code, message) = json
        .ok()
        .and_then(|v| Some((field(&v, "code")?, field(&v, "message")?)))
        .unwrap_or_else(|| ("http".into(), String::from_utf8_lossy(&bytes).into()));
    Err(ServiceError::Refused { service: service.into(), status, code, message })
}
