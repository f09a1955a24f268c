//! Certificate status as a relying party asks for it: an OCSP request (with
//! a nonce) to the JPKI service's responder, the answer's signature checked
//! against the issuing CA and the nonce checked — for the SP-TSM before it
//! provisions and for the JPKI app's `status`.

use der::{Decode, Encode};
use pki::Certificate;
use x509_ocsp::CertStatus;

/// A certificate's status.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum Status {
    /// Not revoked.
    Good,
    /// Suspended (certificateHold, 一時保留).
    OnHold,
    /// Revoked, with the reason's name when one was given.
    Revoked {
        /// RFC 5280 reason (`superseded`, `cessationOfOperation`, …).
        reason: Option<String>,
    },
    /// The responder does not know it.
    Unknown,
}

/// Why a status could not be learned (the answer, when there is one, was
/// not trustworthy or not about the certificate).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    /// The certificate does not parse.
    #[error("certificate: {0}")]
    Certificate(String),
    /// No JPKI CA issued it.
    #[error("the certificate was not issued by a JPKI CA")]
    NotJpki,
    /// The request could not be built.
    #[error("OCSP request: {0}")]
    Request(String),
    /// The responder could not be reached.
    #[error("OCSP responder {url}: {cause}")]
    Unreachable {
        /// The responder.
        url: String,
        /// Why, with its causes.
        cause: String,
    },
    /// The responder answered an HTTP error.
    #[error("OCSP responder {url} answered {status}")]
    Http {
        /// The responder.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// The answer does not verify against the issuing CA.
    #[error("OCSP answer: {0}")]
    Answer(String),
    /// The answer does not echo the request's nonce.
    #[error("the OCSP answer does not echo our nonce (replayed answer?)")]
    Replayed,
    /// The answer is about another certificate.
    #[error("the OCSP answer is about another certificate")]
    OtherCertificate,
}

impl From<StatusError> for String {
    fn from(e: StatusError) -> String {
        e.to_string()
    }
}

/// The HTTP client type [`client`] makes.
pub type HttpClient = reqwest::Client;

/// An HTTP client for OCSP (plain HTTP, as relying parties use it).
pub fn client() -> reqwest::Client {
    svc::client::plain_http_client().expect("an HTTP client with the default TLS provider")
}

/// Asks `url` for the status of `cert` (DER), issued by one of `cas`.
pub async fn ocsp(http: &reqwest::Client, url: &str, cert: &[u8], cas: &[Certificate]) -> Result<Status, StatusError> {
    let cert = Certificate::from_der(cert).map_err(|e| StatusError::Certificate(e.to_string()))?;
    let issuer = cas.iter().find(|ca| pki::chain::verify_signed_by(&cert, ca).is_ok()).ok_or(StatusError::NotJpki)?;
    ocsp_serial(http, url, issuer, cert.tbs_certificate.serial_number.as_bytes()).await
}

/// Asks `url` for the status of the certificate `serial` of `issuer` —
/// for a holder who kept the serial but not the certificate.
pub async fn ocsp_serial(
    http: &reqwest::Client,
    url: &str,
    issuer: &Certificate,
    serial: &[u8],
) -> Result<Status, StatusError> {
    let request_error = |e: &dyn std::fmt::Display| StatusError::Request(e.to_string());
    let id = pki::ocsp::cert_id(issuer, serial, pki::HashAlg::Sha1).map_err(|e| request_error(&e))?;
    let mut nonce = [0u8; 16];
    pki::fill_random(&mut nonce);
    let request = pki::ocsp::build_request(std::slice::from_ref(&id), Some(&nonce)).map_err(|e| request_error(&e))?;
    let unreachable = |cause: String| StatusError::Unreachable { url: url.to_string(), cause };
    let answer = http
        .post(url)
        .header("content-type", "application/ocsp-request")
        .body(request)
        .send()
        .await
        .map_err(|e| unreachable(svc::client::with_causes(&e)))?;
    if !answer.status().is_success() {
        return Err(StatusError::Http { url: url.to_string(), status: answer.status().as_u16() });
    }
    let der = answer.bytes().await.map_err(|e| unreachable(e.to_string()))?;
    let verified = pki::ocsp::verify_response(&der, issuer).map_err(|e| StatusError::Answer(e.to_string()))?;
    // The extension's value is the nonce as a DER OCTET STRING (RFC 8954).
    let echoed = der::asn1::OctetString::new(&nonce[..]).and_then(|o| o.to_der()).map_err(|e| request_error(&e))?;
    if verified.nonce.as_deref() != Some(&echoed[..]) {
        return Err(StatusError::Replayed);
    }
    let wanted = id.to_der().map_err(|e| request_error(&e))?;
    let (_, status) = verified
        .statuses
        .into_iter()
        .find(|(i, _)| i.to_der().ok().as_deref() == Some(&wanted[..]))
        .ok_or(StatusError::OtherCertificate)?;
    Ok(match status {
        CertStatus::Good(_) => Status::Good,
        CertStatus::Unknown(_) => Status::Unknown,
        CertStatus::Revoked(info) => match info.revocation_reason {
            Some(x509_cert::ext::pkix::CrlReason::CertificateHold) => Status::OnHold,
            r => Status::Revoked { reason: r.map(|r| format!("{r:?}")) },
        },
    })
}
