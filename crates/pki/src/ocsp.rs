//! OCSP (RFC 6960) through `x509-ocsp`'s types: parse requests (DER, from
//! POST bodies or base64 GET paths), and build basic responses signed by the
//! CA itself, with the nonce echoed (RFC 8954) when the request has one.

use crate::cert::{rsa_signature_algorithm, CertError};
use crate::crl::Reason;
use crate::HashAlg;
use der::asn1::{BitString, GeneralizedTime, Null, OctetString};
use der::{Decode, Encode};
use spki::AlgorithmIdentifierOwned;
use std::time::SystemTime;
use x509_cert::ext::Extension;
use x509_cert::Certificate;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspGeneralizedTime, OcspRequest, OcspResponse, OcspResponseStatus,
    ResponderId, ResponseBytes, ResponseData, RevokedInfo, SingleResponse, Version,
};

/// The status of one certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Not revoked.
    Good,
    /// Revoked (or on hold: reason certificateHold).
    Revoked {
        /// When.
        at: SystemTime,
        /// Why.
        reason: Reason,
    },
    /// Not issued by this CA, or unknown serial.
    Unknown,
}

/// The most certificates one request may ask about (each costs a look-up;
/// a relying party asks about one).
pub const MAX_CERT_IDS: usize = 16;

/// A parsed request: the certificates asked about and the nonce.
#[derive(Debug, Clone)]
pub struct Request {
    /// The CertIDs in order.
    pub cert_ids: Vec<CertId>,
    /// The nonce extension value, if present.
    pub nonce: Option<Vec<u8>>,
}

/// Why a request cannot be answered normally.
#[derive(Debug, thiserror::Error)]
pub enum OcspError {
    /// Not an OCSPRequest (→ malformedRequest).
    #[error("malformed OCSP request: {0}")]
    Malformed(String),
}

/// Parses a DER OCSPRequest.
pub fn parse_request(der: &[u8]) -> Result<Request, OcspError> {
    let req = OcspRequest::from_der(der).map_err(|e| OcspError::Malformed(e.to_string()))?;
    let asked = req.tbs_request.request_list.len();
    if asked == 0 {
        return Err(OcspError::Malformed("no certificate asked about".into()));
    }
    if asked > MAX_CERT_IDS {
        return Err(OcspError::Malformed(format!("{asked} certificates asked about; at most {MAX_CERT_IDS}")));
    }
    let nonce = nonce_of(req.tbs_request.request_extensions.as_deref());
    if let Some(n) = &nonce {
        // RFC 8954 §2.1: the nonce is 1 to 32 octets (inside its OCTET
        // STRING; a bare value, as older clients send, counts as it is).
        let length = OctetString::from_der(n).map(|o| o.as_bytes().len()).unwrap_or(n.len());
        if !(1..=32).contains(&length) {
            return Err(OcspError::Malformed(format!("a nonce of {length} octets; RFC 8954 allows 1 to 32")));
        }
    }
    Ok(Request { cert_ids: req.tbs_request.request_list.into_iter().map(|r| r.req_cert).collect(), nonce })
}

/// The value of the nonce extension (RFC 8954) among `extensions`.
fn nonce_of(extensions: Option<&[Extension]>) -> Option<Vec<u8>> {
    extensions?
        .iter()
        .find(|e| e.extn_id == const_oid::db::rfc6960::ID_PKIX_OCSP_NONCE)
        .map(|e| e.extn_value.as_bytes().to_vec())
}

/// The CertID hash algorithm of a request, if it is one we answer for.
pub fn cert_id_hash(id: &CertId) -> Option<HashAlg> {
    HashAlg::from_oid(&id.hash_algorithm.oid)
}

/// Whether `id` names a certificate issued by `ca` (issuer name and key
/// hashes match, RFC 6960 §4.1.1).
pub fn issued_by(id: &CertId, ca: &Certificate) -> bool {
    let Some(h) = cert_id_hash(id) else { return false };
    let Ok(name) = ca.tbs_certificate.subject.to_der() else { return false };
    let key = ca.tbs_certificate.subject_public_key_info.subject_public_key.raw_bytes();
    id.issuer_name_hash.as_bytes() == h.digest(&name).as_slice()
        && id.issuer_key_hash.as_bytes() == h.digest(key).as_slice()
}

/// The CertID of `serial` under `ca` with SHA-1 (what `openssl ocsp` sends).
pub fn cert_id(ca: &Certificate, serial: &[u8], hash: HashAlg) -> Result<CertId, CertError> {
    let name = ca.tbs_certificate.subject.to_der()?;
    let key = ca.tbs_certificate.subject_public_key_info.subject_public_key.raw_bytes();
    Ok(CertId {
        hash_algorithm: AlgorithmIdentifierOwned { oid: hash.oid(), parameters: Some(Null.into()) },
        issuer_name_hash: OctetString::new(hash.digest(&name))?,
        issuer_key_hash: OctetString::new(hash.digest(key))?,
        serial_number: x509_cert::serial_number::SerialNumber::new(serial)?,
    })
}

fn gtime(t: SystemTime) -> Result<OcspGeneralizedTime, CertError> {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).map_err(|_| CertError::Invalid("time before 1970".into()))?;
    let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs.as_secs());
    Ok(OcspGeneralizedTime(GeneralizedTime::from_system_time(t)?))
}

/// Builds a successful OCSPResponse with one SingleResponse per entry,
/// signed by `ca`'s key (the CA is its own responder, responder ID by key).
pub fn build_response(
    ca: &Certificate,
    key: &dyn crate::keystore::Signer,
    entries: &[(CertId, Status)],
    produced_at: SystemTime,
    next_update: SystemTime,
    nonce: Option<&[u8]>,
) -> Result<Vec<u8>, CertError> {
    build(ca, key, None, entries, produced_at, next_update, nonce)
}

/// Builds a successful OCSPResponse signed by the CA's delegated
/// `responder` (RFC 6960 §4.2.2.2), its certificate in the answer's
/// `certs` so a relying party can check it was issued by the CA.
pub fn build_delegated_response(
    responder: &crate::ca::Responder,
    entries: &[(CertId, Status)],
    produced_at: SystemTime,
    next_update: SystemTime,
    nonce: Option<&[u8]>,
) -> Result<Vec<u8>, CertError> {
    build(&responder.cert, responder.key(), Some(&responder.cert), entries, produced_at, next_update, nonce)
}

fn build(
    signer: &Certificate,
    key: &dyn crate::keystore::Signer,
    include: Option<&Certificate>,
    entries: &[(CertId, Status)],
    produced_at: SystemTime,
    next_update: SystemTime,
    nonce: Option<&[u8]>,
) -> Result<Vec<u8>, CertError> {
    let responses = entries
        .iter()
        .map(|(id, status)| {
            let cert_status = match status {
                Status::Good => CertStatus::Good(Null),
                Status::Unknown => CertStatus::Unknown(Null),
                Status::Revoked { at, reason } => CertStatus::Revoked(RevokedInfo {
                    revocation_time: gtime(*at)?,
                    revocation_reason: (*reason != Reason::Unspecified).then(|| reason.crl_reason()),
                }),
            };
            Ok(SingleResponse {
                cert_id: id.clone(),
                cert_status,
                this_update: gtime(produced_at)?,
                next_update: Some(gtime(next_update)?),
                single_extensions: None,
            })
        })
        .collect::<Result<Vec<_>, CertError>>()?;
    let response_extensions = match nonce {
        Some(n) => Some(vec![Extension {
            extn_id: const_oid::db::rfc6960::ID_PKIX_OCSP_NONCE,
            critical: false,
            extn_value: OctetString::new(n)?,
        }]),
        None => None,
    };
    let ski = crate::profile::key_identifier(&signer.tbs_certificate.subject_public_key_info);
    let data = ResponseData {
        version: Version::V1,
        responder_id: ResponderId::ByKey(ski),
        produced_at: gtime(produced_at)?,
        responses,
        response_extensions,
    };
    let signature = key.sign(HashAlg::Sha256, &data.to_der()?)?;
    let basic = BasicOcspResponse {
        tbs_response_data: data,
        signature_algorithm: rsa_signature_algorithm(HashAlg::Sha256),
        signature: BitString::from_bytes(&signature)?,
        certs: include.map(|c| vec![c.clone()]),
    };
    let response = OcspResponse {
        response_status: OcspResponseStatus::Successful,
        response_bytes: Some(ResponseBytes {
            response_type: const_oid::db::rfc6960::ID_PKIX_OCSP_BASIC,
            response: OctetString::new(basic.to_der()?)?,
        }),
    };
    Ok(response.to_der()?)
}

/// An unsuccessful response (malformedRequest, internalError, tryLater,
/// unauthorized) — no signature, no body (RFC 6960 §4.2.1).
pub fn error_response(status: OcspResponseStatus) -> Vec<u8> {
    OcspResponse { response_status: status, response_bytes: None }.to_der().expect("tiny response encodes")
}

/// A response whose signature checked out.
#[derive(Debug, Clone)]
pub struct VerifiedResponse {
    /// Each certificate's status.
    pub statuses: Vec<(CertId, CertStatus)>,
    /// The nonce the responder echoed.
    pub nonce: Option<Vec<u8>>,
}

/// Parses a response and returns its statuses after checking the signature
/// (a relying party's view, used by tests and `jpki`): made by `ca` itself,
/// or by a responder whose certificate, in the answer, `ca` issued with
/// id-kp-OCSPSigning and which is valid now (RFC 6960 §4.2.2.2).
pub fn verify_response(der: &[u8], ca: &Certificate) -> Result<VerifiedResponse, CertError> {
    let r = OcspResponse::from_der(der)?;
    if r.response_status != OcspResponseStatus::Successful {
        return Err(CertError::Invalid(format!("OCSP status {:?}", r.response_status)));
    }
    let bytes = r.response_bytes.ok_or_else(|| CertError::Invalid("no response bytes".into()))?;
    let basic = BasicOcspResponse::from_der(bytes.response.as_bytes())?;
    let by_key = |c: &Certificate| match &basic.tbs_response_data.responder_id {
        ResponderId::ByKey(hash) => crate::profile::key_identifier(&c.tbs_certificate.subject_public_key_info) == *hash,
        ResponderId::ByName(name) => c.tbs_certificate.subject == *name,
    };
    let signer = if by_key(ca) {
        ca
    } else {
        let delegated = basic.certs.iter().flatten().find(|c| by_key(c));
        let delegated = delegated.ok_or_else(|| CertError::Invalid("the answer's signer is not in it".into()))?;
        crate::responder::authorized(delegated, ca, SystemTime::now())?;
        delegated
    };
    let spki = signer.tbs_certificate.subject_public_key_info.to_der()?;
    let sig = basic.signature.as_bytes().ok_or_else(|| CertError::Invalid("signature bits".into()))?;
    crate::rsa::verify(&spki, HashAlg::Sha256, &basic.tbs_response_data.to_der()?, sig)?;
    let nonce = nonce_of(basic.tbs_response_data.response_extensions.as_deref());
    let statuses = basic.tbs_response_data.responses.into_iter().map(|s| (s.cert_id, s.cert_status)).collect();
    Ok(VerifiedResponse { statuses, nonce })
}

pub use x509_ocsp::OcspResponseStatus as ResponseStatus;

/// Builds an unsigned OCSPRequest for `ids`, with a nonce if given (what a
/// relying party sends).
pub fn build_request(ids: &[CertId], nonce: Option<&[u8]>) -> Result<Vec<u8>, CertError> {
    let request_extensions = match nonce {
        Some(n) => Some(vec![Extension {
            extn_id: const_oid::db::rfc6960::ID_PKIX_OCSP_NONCE,
            critical: false,
            extn_value: OctetString::new(OctetString::new(n)?.to_der()?)?,
        }]),
        None => None,
    };
    let request = OcspRequest {
        tbs_request: x509_ocsp::TbsRequest {
            version: Version::V1,
            requestor_name: None,
            request_list: ids
                .iter()
                .map(|id| x509_ocsp::Request { req_cert: id.clone(), single_request_extensions: None })
                .collect(),
            request_extensions,
        },
        optional_signature: None,
    };
    Ok(request.to_der()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<CertId> {
        let dir = tempfile::tempdir().unwrap();
        let ca = crate::ca::LocalCa::open_or_create(dir.path()).unwrap();
        (0..n).map(|i| cert_id(&ca.ca(crate::CaKind::Auth).cert, &[1, i as u8], HashAlg::Sha1).unwrap()).collect()
    }

    #[test]
    fn nonces_of_1_to_32_octets_and_up_to_16_certificates_are_accepted() {
        let one = ids(MAX_CERT_IDS + 1);
        assert!(parse_request(&build_request(&one[..1], Some(&[7; 32])).unwrap()).is_ok());
        assert!(parse_request(&build_request(&one[..1], Some(&[7; 1])).unwrap()).is_ok());
        assert!(parse_request(&build_request(&one[..MAX_CERT_IDS], None).unwrap()).is_ok());
        let refused = |der: Vec<u8>| parse_request(&der).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(refused(build_request(&one[..1], Some(&[7; 33])).unwrap()).contains("33 octets"));
        assert!(refused(build_request(&one[..1], Some(&[])).unwrap()).contains("0 octets"));
        assert!(refused(build_request(&one, None).unwrap()).contains("17 certificates"));
    }
}
