//! Fake services: an HTTPS server the attacker runs, either with a TLS
//! certificate it made itself for the name of the service it poses as, or
//! with the certificate and key stolen from another service of the
//! deployment (a compromised neighbour).

use crate::lab::Lab;
use std::net::SocketAddr;
use svc::tls::Service;

/// The TLS identity a fake service shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    /// A self-signed certificate naming the service it poses as.
    SelfMade(Service),
    /// The real certificate and key of another service of the deployment.
    Stolen(Service),
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> Result<std::path::PathBuf, String> {
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// Starts `router` over HTTPS on a free loopback port with `identity`;
/// returns its address. It runs until the lab's runtime ends.
pub async fn start(lab: &Lab, identity: Identity, router: axum::Router) -> Result<SocketAddr, String> {
    let tls = lab.dir().join("tls");
    let attacker = lab.dir().join("attacker");
    std::fs::create_dir_all(&attacker).map_err(|e| e.to_string())?;
    let (cert, key) = match identity {
        Identity::Stolen(service) => {
            (tls.join(format!("{}-server.pem", service.stem())), tls.join(format!("{}-server.key", service.stem())))
        }
        Identity::SelfMade(service) => {
            let e = |e: rcgen::Error| e.to_string();
            let key = rcgen::KeyPair::generate().map_err(e)?;
            let mut params = rcgen::CertificateParams::new(vec![service.server_name().to_string()]).map_err(e)?;
            params.subject_alt_names.push(rcgen::SanType::IpAddress([127, 0, 0, 1].into()));
            let cert = params.self_signed(&key).map_err(e)?;
            let stem = format!("fake-{}", service.stem());
            (
                write(&attacker, &format!("{stem}.pem"), &cert.pem())?,
                write(&attacker, &format!("{stem}.key"), &key.serialize_pem())?,
            )
        }
    };
    let config = svc::server::server_config(&cert, &key, &tls.join("sp-tsm-ca.pem"))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(svc::server::serve_https(listener, config, router, svc::server::Shutdown::new()));
    Ok(addr)
}

/// Opens TLS to `service` at `addr` presenting the client certificate and
/// key in `cert`/`key` (PEM files), sends one request and reads the answer:
/// what a client whose certificate the server refuses sees, without an
/// HTTP client's connection pool blurring it (in TLS 1.3 the server's
/// refusal arrives after the client finished its handshake).
pub async fn client_certificate_refusal(
    lab: &Lab,
    addr: SocketAddr,
    service: Service,
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<String, String> {
    use rustls::pki_types::pem::PemObject;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut roots = rustls::RootCertStore::empty();
    for ca in svc::server::pem_certificates(&lab.deployment.tls_ca)? {
        roots.add(ca).map_err(|e| e.to_string())?;
    }
    let chain = svc::server::pem_certificates(cert)?;
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(key).map_err(|e| e.to_string())?;
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| e.to_string())?;
    let name = rustls::pki_types::ServerName::try_from(service.server_name().to_string()).map_err(|e| e.to_string())?;
    let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let mut tls = connector.connect(name, tcp).await.map_err(|e| format!("TLS handshake: {e}"))?;
    let request = format!("GET /healthz HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n\r\n", service.server_name());
    tls.write_all(request.as_bytes()).await.map_err(|e| format!("TLS write: {e}"))?;
    let mut answer = Vec::new();
    match tls.read_to_end(&mut answer).await {
        Ok(_) => Ok(String::from_utf8_lossy(&answer).into_owned()),
        Err(e) => Err(format!("TLS read: {e}")),
    }
}
