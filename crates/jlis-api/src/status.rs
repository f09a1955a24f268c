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

/// An HTTP client for OCSP (plain HTTP, as relying parties use it).
pub fn client() -> reqwest::Client {
    svc::client::plain_http_client().expect("an HTTP client with the default TLS provider")
}

/// Asks `url` for the status of `cert` (DER), issued by one of `cas`.
pub async fn ocsp(http: &reqwest::Client, url: &str, cert: &[u8], cas: &[Certificate]) -> Result<Status, String> {
    let cert = Certificate::from_der(cert).map_err(|e| format!("certificate: {e}"))?;
    let issuer = cas
        .iter()
        .find(|ca| pki::chain::verify_signed_by(&cert, ca).is_ok())
        .ok_or("the certificate was not issued by a JPKI CA")?;
    ocsp_serial(http, url, issuer, cert.tbs_certificate.serial_number.as_bytes()).await
}

/// Asks `url` for the status of the certificate `serial` of `issuer` —
/// for a holder who kept the serial but not the certificate.
pub async fn ocsp_serial(
    http: &reqwest::Client,
    url: &str,
    issuer: &Certificate,
    serial: &[u8],
) -> Result<Status, String> {
    let id = pki::ocsp::cert_id(issuer, serial, pki::HashAlg::Sha1).map_err(|e| e.to_string())?;
    let mut nonce = [0u8; 16];
    pki::fill_random(&mut nonce);
    let request = pki::ocsp::build_request(std::slice::from_ref(&id), Some(&nonce)).map_err(|e| e.to_string())?;
    let answer = http
        .post(url)
        .header("content-type", "application/ocsp-request")
        .body(request)
        .send()
        .await
        .map_err(|e| format!("OCSP responder {url}: {}", svc::client::with_causes(&e)))?;
    if !answer.status().is_success() {
        return Err(format!("OCSP responder {url} answered {}", answer.status()));
    }
    let der = answer.bytes().await.map_err(|e| format!("OCSP responder {url}: {e}"))?;
    let verified = pki::ocsp::verify_response(&der, issuer).map_err(|e| format!("OCSP answer: {e}"))?;
    // The extension's value is the nonce as a DER OCTET STRING (RFC 8954).
    let echoed = der::asn1::OctetString::new(&nonce[..]).and_then(|o| o.to_der()).map_err(|e| e.to_string())?;
    if verified.nonce.as_deref() != Some(&echoed[..]) {
        return Err("the OCSP answer does not echo our nonce (replayed answer?)".into());
    }
    let wanted = id.to_der().map_err(|e| e.to_string())?;
    let (_, status) = verified
        .statuses
        .into_iter()
        .find(|(i, _)| i.to_der().ok().as_deref() == Some(&wanted[..]))
        .ok_or("the OCSP answer is about another certificate")?;
    Ok(match status {
        CertStatus::Good(_) => Status::Good,
        CertStatus::Unknown(_) => Status::Unknown,
        CertStatus::Revoked(info) => match info.revocation_reason {
            Some(x509_cert::ext::pkix::CrlReason::CertificateHold) => Status::OnHold,
            r => Status::Revoked { reason: r.map(|r| format!("{r:?}")) },
        },
    })
}
