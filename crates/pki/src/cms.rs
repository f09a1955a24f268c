//! CMS SignedData (RFC 5652 §5) made with a JPKI key that lives elsewhere (a
//! card, a phone's SE): the caller supplies a function that signs a PKCS#1
//! `DigestInfo`, exactly what the card's `80 2A` command takes.
//!
//! Verification checks what the 2026 myna advisory (GHSA-58hw-cg5m-88rp)
//! showed to be needed: the signer is found by its SignerIdentifier
//! (issuer + serial, or subject key identifier), the message digest and the
//! signature verify, the chain reaches a given CA by key, every certificate
//! is valid at the signing time, the signer's keyUsage allows signing, and
//! the CA's basicConstraints allow issuing.

use crate::cert::{find_extension, public_key_der, x509_time};
use crate::chain::{validate_path, ChainError};
use crate::HashAlg;
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedAttributes, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use const_oid::db::{rfc5911, rfc5912};
use der::asn1::{Any, OctetString, SetOfVec};
use der::{Decode, Encode};
use spki::AlgorithmIdentifierOwned;
use std::time::SystemTime;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::{KeyUsage, KeyUsages, SubjectKeyIdentifier};
use x509_cert::time::Time;
use x509_cert::Certificate;

/// A CMS failure.
#[derive(Debug, thiserror::Error)]
pub enum CmsError {
    /// Not DER, or not the expected structure.
    #[error("malformed CMS: {0}")]
    Malformed(String),
    /// The signer (card) failed.
    #[error("signing failed: {0}")]
    Signer(String),
    /// A check failed; the message says which.
    #[error("verification failed: {0}")]
    Invalid(String),
    /// The signer's certificate is not trusted.
    #[error("signer certificate not trusted: {0}")]
    Chain(#[from] ChainError),
}

impl From<der::Error> for CmsError {
    fn from(e: der::Error) -> Self {
        CmsError::Malformed(e.to_string())
    }
}

/// How to sign.
#[derive(Debug, Clone)]
pub struct SignOptions {
    /// Digest algorithm.
    pub hash: HashAlg,
    /// Leave the content out of the SignedData (a detached signature).
    pub detached: bool,
    /// The signingTime attribute.
    pub signing_time: SystemTime,
}

fn attribute(oid: const_oid::ObjectIdentifier, value: Any) -> Result<Attribute, CmsError> {
    Ok(Attribute { oid, values: SetOfVec::try_from(vec![value])? })
}

fn algorithm(oid: const_oid::ObjectIdentifier) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned { oid, parameters: Some(der::asn1::Null.into()) }
}

/// Makes a DER `ContentInfo` holding SignedData over `content`, with signed
/// attributes contentType, signingTime and messageDigest, the signer
/// identified by issuer and serial number, and `signer_cert` plus `extra`
/// (the CA) in the certificate set. `sign_digest_info` receives the PKCS#1
/// DigestInfo of the signed attributes and returns the RSA signature.
pub fn sign<E: std::fmt::Display>(
    content: &[u8],
    signer_cert: &Certificate,
    extra: &[Certificate],
    options: &SignOptions,
    sign_digest_info: impl FnOnce(&[u8]) -> Result<Vec<u8>, E>,
) -> Result<Vec<u8>, CmsError> {
    let hash = options.hash;
    let signed_attrs: SignedAttributes = SetOfVec::try_from(vec![
        attribute(rfc5911::ID_CONTENT_TYPE, Any::encode_from(&rfc5911::ID_DATA)?)?,
        attribute(
            rfc5911::ID_SIGNING_TIME,
            Any::encode_from(&x509_time(options.signing_time).map_err(|e| CmsError::Malformed(e.to_string()))?)?,
        )?,
        attribute(rfc5911::ID_MESSAGE_DIGEST, Any::encode_from(&OctetString::new(hash.digest(content))?)?)?,
    ])?;
    let econtent = (!options.detached).then_some(content);
    assemble(econtent, hash, signed_attrs, signer_cert, extra, sign_digest_info)
}

/// CAdES-baseline signed attributes for a detached signature (ETSI EN
/// 319 122-1 §5.2, as PAdES B-B uses them, EN 319 142-1 §5.3): contentType,
/// messageDigest and signingCertificateV2 (RFC 5035, SHA-256 of the signer's
/// certificate with its issuer and serial); no signingTime — the claimed
/// time goes in the PDF's `/M`.
pub fn sign_cades_detached<E: std::fmt::Display>(
    content: &[u8],
    signer_cert: &Certificate,
    extra: &[Certificate],
    hash: HashAlg,
    sign_digest_info: impl FnOnce(&[u8]) -> Result<Vec<u8>, E>,
) -> Result<Vec<u8>, CmsError> {
    let signed_attrs: SignedAttributes = SetOfVec::try_from(vec![
        attribute(rfc5911::ID_CONTENT_TYPE, Any::encode_from(&rfc5911::ID_DATA)?)?,
        attribute(rfc5911::ID_MESSAGE_DIGEST, Any::encode_from(&OctetString::new(hash.digest(content))?)?)?,
        attribute(rfc5911::ID_AA_SIGNING_CERTIFICATE_V_2, Any::encode_from(&signing_certificate_v2(signer_cert)?)?)?,
    ])?;
    assemble(None, hash, signed_attrs, signer_cert, extra, sign_digest_info)
}

/// RFC 5035 `ESSCertIDv2` with the default hash (SHA-256, so no
/// `hashAlgorithm`) and `issuerSerial`.
#[derive(der::Sequence)]
struct EssCertIdV2 {
    cert_hash: OctetString,
    issuer_serial: IssuerSerial,
}

/// RFC 5035 `IssuerSerial`.
#[derive(der::Sequence)]
struct IssuerSerial {
    issuer: Vec<x509_cert::ext::pkix::name::GeneralName>,
    serial_number: x509_cert::serial_number::SerialNumber,
}

/// RFC 5035 `SigningCertificateV2` (no policies).
#[derive(der::Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
}

fn signing_certificate_v2(cert: &Certificate) -> Result<SigningCertificateV2, CmsError> {
    let tbs = &cert.tbs_certificate;
    Ok(SigningCertificateV2 {
        certs: vec![EssCertIdV2 {
            cert_hash: OctetString::new(HashAlg::Sha256.digest(&cert.to_der()?))?,
            issuer_serial: IssuerSerial {
                issuer: vec![x509_cert::ext::pkix::name::GeneralName::DirectoryName(tbs.issuer.clone())],
                serial_number: tbs.serial_number.clone(),
            },
        }],
    })
}

/// The SHA-256 certificate hash a `signingCertificateV2` attribute names,
/// if `attrs` has one (for checking it names the signer).
pub fn signing_certificate_v2_hash(attrs: &SignedAttributes) -> Result<Option<Vec<u8>>, CmsError> {
    let Some(attr) = attrs.iter().find(|a| a.oid == rfc5911::ID_AA_SIGNING_CERTIFICATE_V_2) else { return Ok(None) };
    let value = attr.values.iter().next().ok_or_else(|| CmsError::Invalid("empty signingCertificateV2".into()))?;
    let v2: SigningCertificateV2 = value.decode_as()?;
    Ok(v2.certs.first().map(|c| c.cert_hash.as_bytes().to_vec()))
}

/// Signs the DER of `signed_attrs` and wraps everything in a ContentInfo.
fn assemble<E: std::fmt::Display>(
    econtent: Option<&[u8]>,
    hash: HashAlg,
    signed_attrs: SignedAttributes,
    signer_cert: &Certificate,
    extra: &[Certificate],
    sign_digest_info: impl FnOnce(&[u8]) -> Result<Vec<u8>, E>,
) -> Result<Vec<u8>, CmsError> {
    let digest_info = hash.digest_info(&hash.digest(&signed_attrs.to_der()?));
    let signature = sign_digest_info(&digest_info).map_err(|e| CmsError::Signer(e.to_string()))?;
    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: signer_cert.tbs_certificate.issuer.clone(),
            serial_number: signer_cert.tbs_certificate.serial_number.clone(),
        }),
        digest_alg: algorithm(hash.oid()),
        signed_attrs: Some(signed_attrs),
        signature_algorithm: algorithm(rfc5912::RSA_ENCRYPTION),
        signature: OctetString::new(signature)?,
        unsigned_attrs: None,
    };
    let certs = std::iter::once(signer_cert)
        .chain(extra)
        .map(|c| CertificateChoices::Certificate(c.clone()))
        .collect::<Vec<_>>();
    let signed_data = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::try_from(vec![algorithm(hash.oid())])?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: rfc5911::ID_DATA,
            econtent: match econtent {
                Some(content) => Some(Any::encode_from(&OctetString::new(content)?)?),
                None => None,
            },
        },
        certificates: Some(CertificateSet(SetOfVec::try_from(certs)?)),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(vec![signer_info])?),
    };
    let ci = ContentInfo { content_type: rfc5911::ID_SIGNED_DATA, content: Any::encode_from(&signed_data)? };
    Ok(ci.to_der()?)
}

/// How to verify.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions<'a> {
    /// Trust anchors (the JPKI CA certificates).
    pub anchors: &'a [Certificate],
    /// The content of a detached signature.
    pub detached_content: Option<&'a [u8]>,
    /// Check validity at this time instead of the signing time (or now).
    pub at: Option<SystemTime>,
}

/// A verified signature.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The signer's certificate.
    pub signer: Certificate,
    /// The path from the signer to its anchor.
    pub path: Vec<Certificate>,
    /// The signingTime attribute, if present.
    pub signing_time: Option<SystemTime>,
    /// The digest algorithm.
    pub hash: HashAlg,
    /// The signed content.
    pub content: Vec<u8>,
}

/// Verifies a DER `ContentInfo` with SignedData (see the module comment for
/// every check). All signer infos must verify; there must be at least one.
pub fn verify(der: &[u8], options: &VerifyOptions<'_>) -> Result<Verified, CmsError> {
    let ci = ContentInfo::from_der(der)?;
    if ci.content_type != rfc5911::ID_SIGNED_DATA {
        return Err(CmsError::Malformed(format!("content type {} is not signedData", ci.content_type)));
    }
    let sd: SignedData = ci.content.decode_as()?;
    let embedded = match &sd.encap_content_info.econtent {
        Some(any) => Some(any.decode_as::<OctetString>()?.into_bytes()),
        None => None,
    };
    let content = match (embedded, options.detached_content) {
        (Some(c), None) => c,
        (None, Some(c)) => c.to_vec(),
        (Some(_), Some(_)) => return Err(CmsError::Invalid("content is embedded; do not pass --content".into())),
        (None, None) => {
            return Err(CmsError::Invalid("detached signature: the signed content is needed (--content)".into()))
        }
    };
    let certs: Vec<Certificate> = sd
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|c| match c {
            CertificateChoices::Certificate(c) => Some(c.clone()),
            CertificateChoices::Other(_) => None,
        })
        .collect();
    let mut result = None;
    for si in sd.signer_infos.0.iter() {
        result = Some(verify_signer(si, &sd.encap_content_info.econtent_type, &content, &certs, options)?);
    }
    result.ok_or_else(|| CmsError::Invalid("no signer info".into()))
}

fn find_signer<'a>(sid: &SignerIdentifier, certs: &'a [Certificate]) -> Result<&'a Certificate, CmsError> {
    let found = match sid {
        SignerIdentifier::IssuerAndSerialNumber(ias) => certs.iter().find(|c| {
            c.tbs_certificate.issuer == ias.issuer && c.tbs_certificate.serial_number == ias.serial_number
        }),
        SignerIdentifier::SubjectKeyIdentifier(ski) => certs.iter().find(|c| {
            matches!(find_extension::<SubjectKeyIdentifier>(c), Ok(Some((_, SubjectKeyIdentifier(k)))) if k == ski.0)
        }),
    };
    found.ok_or_else(|| CmsError::Invalid("the signer's certificate is not in the SignedData".into()))
}

fn verify_signer(
    si: &SignerInfo,
    econtent_type: &const_oid::ObjectIdentifier,
    content: &[u8],
    certs: &[Certificate],
    options: &VerifyOptions<'_>,
) -> Result<Verified, CmsError> {
    let hash = HashAlg::from_oid(&si.digest_alg.oid)
        .ok_or_else(|| CmsError::Invalid(format!("unsupported digest algorithm {}", si.digest_alg.oid)))?;
    let sig_oid = si.signature_algorithm.oid;
    if sig_oid != rfc5912::RSA_ENCRYPTION && HashAlg::from_rsa_signature_oid(&sig_oid) != Some(hash) {
        return Err(CmsError::Invalid(format!("unsupported signature algorithm {sig_oid}")));
    }
    let signer = find_signer(&si.sid, certs)?;
    let mut signing_time = None;
    let signed_bytes = match &si.signed_attrs {
        None => content.to_vec(),
        Some(attrs) => {
            let single = |oid| -> Result<&Any, CmsError> {
                let mut found = attrs.iter().filter(|a| a.oid == oid);
                match (found.next(), found.next()) {
                    (Some(a), None) if a.values.len() == 1 => Ok(a.values.get(0).expect("one value")),
                    (None, _) => Err(CmsError::Invalid(format!("signed attribute {oid} missing"))),
                    _ => Err(CmsError::Invalid(format!("signed attribute {oid} repeated"))),
                }
            };
            let ct: const_oid::ObjectIdentifier = single(rfc5911::ID_CONTENT_TYPE)?.decode_as()?;
            if ct != *econtent_type {
                return Err(CmsError::Invalid("contentType attribute differs from the content's type".into()));
            }
            let md: OctetString = single(rfc5911::ID_MESSAGE_DIGEST)?.decode_as()?;
            if md.as_bytes() != hash.digest(content).as_slice() {
                return Err(CmsError::Invalid("message digest does not match the content".into()));
            }
            if attrs.iter().any(|a| a.oid == rfc5911::ID_SIGNING_TIME) {
                let t = Time::from_der(&single(rfc5911::ID_SIGNING_TIME)?.to_der()?)?;
                signing_time = Some(t.to_system_time());
            }
            attrs.to_der()?
        }
    };
    let key = public_key_der(signer).map_err(|e| CmsError::Malformed(e.to_string()))?;
    crate::rsa::verify(&key, hash, &signed_bytes, si.signature.as_bytes())
        .map_err(|_| CmsError::Invalid("the signature does not verify with the signer's key".into()))?;
    if let Some((_, ku)) = find_extension::<KeyUsage>(signer).map_err(|e| CmsError::Malformed(e.to_string()))? {
        if !ku.0.contains(KeyUsages::DigitalSignature) && !ku.0.contains(KeyUsages::NonRepudiation) {
            return Err(CmsError::Invalid("the signer's keyUsage does not allow signatures".into()));
        }
    }
    let at = options.at.or(signing_time).unwrap_or_else(SystemTime::now);
    let path = validate_path(signer, certs, options.anchors, at)?;
    Ok(Verified { signer: signer.clone(), path, signing_time, hash, content: content.to_vec() })
}
