//! Certificate path validation (RFC 5280 §6, the parts JPKI relies on).
//!
//! Several generations of a JPKI CA share one distinguished name
//! (jpki-profiles.md §1.2), so an issuer is chosen by name *and* by whether
//! its key verifies the signature — never by name alone.

use crate::cert::find_extension;
use crate::HashAlg;
use der::Encode;
use std::time::SystemTime;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages};
use x509_cert::Certificate;

/// Longest path accepted (leaf + intermediates + anchor).
const MAX_DEPTH: usize = 6;

/// Why a certificate is not trusted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChainError {
    /// No candidate issuer's key verifies the certificate's signature.
    #[error("no trusted issuer found for {0:?} (wrong CA file, or a forged certificate)")]
    NoIssuer(String),
    /// A certificate of the path is outside its validity period.
    #[error("{subject:?} is not valid at {at}: valid from {not_before} until {not_after}")]
    NotValidAt {
        /// The certificate's subject.
        subject: String,
        /// The time checked.
        at: String,
        /// Validity start.
        not_before: String,
        /// Validity end.
        not_after: String,
    },
    /// An issuer is not a CA (basicConstraints, keyUsage).
    #[error("{0:?} is not allowed to issue certificates")]
    NotCa(String),
    /// Unsupported signature algorithm.
    #[error("unsupported signature algorithm {0}")]
    Algorithm(String),
    /// Path longer than allowed.
    #[error("certificate path longer than {MAX_DEPTH}")]
    TooLong,
    /// Malformed certificate contents.
    #[error("malformed certificate: {0}")]
    Malformed(String),
}

/// Verifies that `issuer`'s key signed `cert`.
pub fn verify_signed_by(cert: &Certificate, issuer: &Certificate) -> Result<(), ChainError> {
    let oid = cert.signature_algorithm.oid;
    let hash = HashAlg::from_rsa_signature_oid(&oid).ok_or_else(|| ChainError::Algorithm(oid.to_string()))?;
    let tbs = cert.tbs_certificate.to_der().map_err(|e| ChainError::Malformed(e.to_string()))?;
    let key =
        issuer.tbs_certificate.subject_public_key_info.to_der().map_err(|e| ChainError::Malformed(e.to_string()))?;
    let sig = cert.signature.as_bytes().ok_or_else(|| ChainError::Malformed("signature has unused bits".into()))?;
    crate::rsa::verify(&key, hash, &tbs, sig).map_err(|_| ChainError::NoIssuer(subject(cert)))
}

/// The subject as RFC 4514 text.
pub fn subject(cert: &Certificate) -> String {
    cert.tbs_certificate.subject.to_string()
}

/// Checks that `cert` is valid at `at`.
pub fn check_validity(cert: &Certificate, at: SystemTime) -> Result<(), ChainError> {
    let v = &cert.tbs_certificate.validity;
    if at < v.not_before.to_system_time() || at > v.not_after.to_system_time() {
        return Err(ChainError::NotValidAt {
            subject: subject(cert),
            at: humantime(at),
            not_before: v.not_before.to_string(),
            not_after: v.not_after.to_string(),
        });
    }
    Ok(())
}

fn humantime(t: SystemTime) -> String {
    time::OffsetDateTime::from(t).format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| "?".into())
}

/// Checks that `cert` may sign certificates: basicConstraints CA:TRUE and, if
/// keyUsage is present, keyCertSign (RFC 5280 §6.1.4 (k), (n)).
pub fn check_is_ca(cert: &Certificate) -> Result<(), ChainError> {
    let malformed = |e: crate::cert::CertError| ChainError::Malformed(e.to_string());
    let bc = find_extension::<BasicConstraints>(cert).map_err(malformed)?;
    if !bc.is_some_and(|(_, bc)| bc.ca) {
        return Err(ChainError::NotCa(subject(cert)));
    }
    if let Some((_, ku)) = find_extension::<KeyUsage>(cert).map_err(malformed)? {
        if !ku.0.contains(KeyUsages::KeyCertSign) {
            return Err(ChainError::NotCa(subject(cert)));
        }
    }
    Ok(())
}

/// Builds and checks a path from `leaf` to one of `anchors`, through
/// `intermediates` if needed, with every certificate valid at `at`. Returns
/// the path, leaf first, anchor last.
pub fn validate_path(
    leaf: &Certificate,
    intermediates: &[Certificate],
    anchors: &[Certificate],
    at: SystemTime,
) -> Result<Vec<Certificate>, ChainError> {
    let mut path = vec![leaf.clone()];
    check_validity(leaf, at)?;
    loop {
        if path.len() > MAX_DEPTH {
            return Err(ChainError::TooLong);
        }
        let current = path.last().expect("path is never empty");
        let by_key = |c: &&Certificate| {
            c.tbs_certificate.subject == current.tbs_certificate.issuer && verify_signed_by(current, c).is_ok()
        };
        if let Some(anchor) = anchors.iter().find(by_key) {
            check_is_ca(anchor)?;
            check_validity(anchor, at)?;
            if anchor != current {
                path.push(anchor.clone());
            }
            return Ok(path);
        }
        let next = intermediates
            .iter()
            .filter(|c| !path.contains(c))
            .find(by_key)
            .ok_or_else(|| ChainError::NoIssuer(subject(current)))?;
        check_is_ca(next)?;
        check_validity(next, at)?;
        path.push(next.clone());
    }
}
