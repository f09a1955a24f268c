//! Signing a `TBSCertificate` into a certificate, and small helpers over
//! `x509-cert` types (RFC 5280 §4.1).

use crate::HashAlg;
use der::asn1::{BitString, GeneralizedTime, UtcTime};
use der::{Decode, Encode};
use spki::AlgorithmIdentifierOwned;
use std::time::{Duration, SystemTime};
use x509_cert::ext::Extension;
use x509_cert::time::Time;
use x509_cert::{Certificate, TbsCertificate};

/// A failure building or reading a certificate.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// DER encoding or decoding failed.
    #[error("DER: {0}")]
    Der(#[from] der::Error),
    /// RSA failure.
    #[error(transparent)]
    Rsa(#[from] crate::RsaError),
    /// The TBS breaks the profile (found by the pre-signing lint).
    #[error("profile check failed: {0}")]
    Lint(String),
    /// Anything else, explained.
    #[error("{0}")]
    Invalid(String),
}

/// `sha256WithRSAEncryption` (or another hash) with NULL parameters
/// (RFC 4055 §5).
pub fn rsa_signature_algorithm(hash: HashAlg) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned { oid: hash.rsa_signature_oid(), parameters: Some(der::asn1::Null.into()) }
}

/// Signs `tbs` with `key` (sha256WithRSAEncryption).
pub fn sign_tbs(tbs: TbsCertificate, key: &dyn crate::keystore::Signer) -> Result<Certificate, CertError> {
    let sig = key.sign(HashAlg::Sha256, &tbs.to_der()?)?;
    Ok(Certificate {
        signature_algorithm: tbs.signature.clone(),
        tbs_certificate: tbs,
        signature: BitString::from_bytes(&sig)?,
    })
}

/// An X.509 time: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280
/// §4.1.2.5), whole seconds.
pub fn x509_time(t: SystemTime) -> Result<Time, CertError> {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).map_err(|_| CertError::Invalid("time before 1970".into()))?;
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(secs.as_secs());
    let year_2050 = SystemTime::UNIX_EPOCH + Duration::from_secs(2_524_608_000);
    Ok(if t < year_2050 {
        Time::UtcTime(UtcTime::from_system_time(t)?)
    } else {
        Time::GeneralTime(GeneralizedTime::from_system_time(t)?)
    })
}

/// Builds an extension from its OID, criticality and value.
pub fn raw_extension<E: Encode>(
    oid: const_oid::ObjectIdentifier,
    critical: bool,
    value: &E,
) -> Result<Extension, CertError> {
    Ok(Extension { extn_id: oid, critical, extn_value: der::asn1::OctetString::new(value.to_der()?)? })
}

/// Finds and decodes the extension of type `E`, with its criticality.
pub fn find_extension<'a, E: Decode<'a> + const_oid::AssociatedOid>(
    cert: &'a Certificate,
) -> Result<Option<(bool, E)>, CertError> {
    let Some(exts) = &cert.tbs_certificate.extensions else { return Ok(None) };
    match exts.iter().find(|e| e.extn_id == E::OID) {
        Some(e) => Ok(Some((e.critical, E::from_der(e.extn_value.as_bytes())?))),
        None => Ok(None),
    }
}

/// The `SubjectPublicKeyInfo` of `cert`, as DER.
pub fn public_key_der(cert: &Certificate) -> Result<Vec<u8>, CertError> {
    Ok(cert.tbs_certificate.subject_public_key_info.to_der()?)
}

/// Parses DER or PEM (`-----BEGIN CERTIFICATE-----`) certificates; a PEM file
/// may hold several.
pub fn parse_certificates(bytes: &[u8]) -> Result<Vec<Certificate>, CertError> {
    use der::DecodePem;
    // DER certificates start with a SEQUENCE tag; anything else is read as PEM.
    if bytes.first() != Some(&0x30) {
        let text = std::str::from_utf8(bytes).map_err(|_| CertError::Invalid("PEM is not UTF-8".into()))?;
        let mut out = Vec::new();
        for block in text.split_inclusive("-----END CERTIFICATE-----") {
            let Some(start) = block.find("-----BEGIN CERTIFICATE-----") else { continue };
            out.push(Certificate::from_pem(&block[start..])?);
        }
        if out.is_empty() {
            return Err(CertError::Invalid("no CERTIFICATE block in PEM".into()));
        }
        Ok(out)
    } else {
        Ok(vec![Certificate::from_der(bytes)?])
    }
}

/// PEM text of a certificate.
pub fn to_pem(cert: &Certificate) -> Result<String, CertError> {
    use der::EncodePem;
    Ok(cert.to_pem(der::pem::LineEnding::LF)?)
}
