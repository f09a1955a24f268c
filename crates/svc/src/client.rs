//! HTTPS clients of the deployment's services: trust only the deployment's
//! TLS CA (never the system store: a phone talking to its TSM must not be
//! redirected to any publicly trusted server), **pin the service they
//! expect** by the name its certificate carries (so the JPKI service's key
//! cannot pose as the SP-TSM, nor the reverse: attack patterns 3 and 5),
//! and optionally present a client certificate (the SP-TSM towards the
//! JPKI service, mechanism ⑩).

use crate::tls::pem_certificates;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::DigitallySignedStruct;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Checks the server's chain against the trust anchors with WebPKI, and
/// its name against the service the client expects — not against the
/// address in the URL, which says nothing about which service answers
/// (every service of a deployment may listen on 127.0.0.1).
#[derive(Debug)]
struct PinnedService {
    webpki: Arc<WebPkiServerVerifier>,
    expected: ServerName<'static>,
}

impl ServerCertVerifier for PinnedService {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _address: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.webpki.verify_server_cert(end_entity, intermediates, &self.expected, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// A client of the service named `service` (its certificate's DNS name,
/// [`crate::tls::Service::server_name`]), trusting the CA in `ca_pem`,
/// presenting `identity` (certificate and key PEM files) when given.
pub fn https_client(ca_pem: &Path, service: &str, identity: Option<(&Path, &Path)>) -> Result<reqwest::Client, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for ca in pem_certificates(ca_pem)? {
        roots.add(ca).map_err(|e| format!("{}: {e}", ca_pem.display()))?;
    }
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("{}: {e}", ca_pem.display()))?;
    let expected =
        ServerName::try_from(service.to_string()).map_err(|e| format!("TLS server name {service:?}: {e}"))?;
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedService { webpki, expected }));
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
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
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

/// An error and its causes on one line: reqwest's own text ("error sending
/// request") hides the reason (a TLS certificate refused, a refused
/// connection) in its source chain.
pub fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = c.source();
    }
    text
}

/// Sends `request` to `service` (named in errors) and returns the JSON
/// body of its 200 answer.
pub async fn call_json(service: &str, request: reqwest::RequestBuilder) -> Result<serde_json::Value, ServiceError> {
    let transport = |e: reqwest::Error| ServiceError::transport(service, with_causes(&e));
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
