//! PKCS#10 certification requests (RFC 2986): the SAM builds one with the
//! signer's new key (proof of possession), the CA checks it and that its
//! key is the one the SAM recorded (JT2A II 3.1.1.4, 2.1.1.2, 2.1.3.1).

use der::{Decode, Encode};
use pki::HashAlg;
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::name::Name;
use x509_cert::request::{CertReq, CertReqInfo, Version};

/// Builds a DER CertificationRequest for `subject` and `public_key_der`,
/// signed (sha256WithRSAEncryption) by `sign_digest_info`.
pub fn build<E: std::fmt::Display>(
    subject: Name,
    public_key_der: &[u8],
    sign_digest_info: impl FnOnce(&[u8]) -> Result<Vec<u8>, E>,
) -> Result<Vec<u8>, String> {
    let info = CertReqInfo {
        version: Version::V1,
        subject,
        public_key: SubjectPublicKeyInfoOwned::from_der(public_key_der).map_err(|e| e.to_string())?,
        attributes: Default::default(),
    };
    let tbs = info.to_der().map_err(|e| e.to_string())?;
    let signature = sign_digest_info(&HashAlg::Sha256.digest_info(&HashAlg::Sha256.digest(&tbs)))
        .map_err(|e| format!("signing the request: {e}"))?;
    let request = CertReq {
        info,
        algorithm: pki::cert::rsa_signature_algorithm(HashAlg::Sha256),
        signature: der::asn1::BitString::from_bytes(&signature).map_err(|e| e.to_string())?,
    };
    request.to_der().map_err(|e| e.to_string())
}

/// A request whose signature verified with its own key.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The requested subject.
    pub subject: Name,
    /// The key to certify (DER `SubjectPublicKeyInfo`).
    pub public_key_der: Vec<u8>,
}

/// Parses `der` and checks its signature (proof of possession).
pub fn verify(der: &[u8]) -> Result<Verified, String> {
    let request = CertReq::from_der(der).map_err(|e| format!("not a PKCS#10 request: {e}"))?;
    let hash = HashAlg::from_rsa_signature_oid(&request.algorithm.oid)
        .ok_or_else(|| format!("signature algorithm {} is not RSA PKCS#1 v1.5", request.algorithm.oid))?;
    let public_key_der = request.info.public_key.to_der().map_err(|e| e.to_string())?;
    let tbs = request.info.to_der().map_err(|e| e.to_string())?;
    let signature = request.signature.as_bytes().ok_or("the signature is not whole bytes")?;
    pki::rsa::verify(&public_key_der, hash, &tbs, signature)
        .map_err(|_| "the request's signature does not verify with its key (altered)".to_string())?;
    Ok(Verified { subject: request.info.subject, public_key_der })
}
