//! The attestation certificates: built with rcgen (ES256), checked here —
//! signatures over the received TBS bytes (device-trust.md §2.6: never over
//! a re-encoding), issuer names, validity, CA flags, a pinned root.

use crate::ec::{self, EcKey};
use crate::Error;
use der07::{Decode, Encode};
use std::time::{Duration, SystemTime};
use x509_cert::Certificate;

/// OID ecdsa-with-SHA256.
const ECDSA_SHA256: der07::asn1::ObjectIdentifier = der07::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");

/// A certification authority of ours (device vendor, SE issuer, a device's
/// attestation key): its name, key and certificate.
#[derive(Debug, Clone)]
pub struct Authority {
    name: String,
    key: EcKey,
    /// Its certificate (DER).
    pub certificate: Vec<u8>,
}

/// The subject key of a certificate to issue.
pub enum SubjectKey<'a> {
    /// A P-256 key.
    Ec(&'a EcKey),
    /// Another key by its SubjectPublicKeyInfo (the JPKI applet's RSA key).
    Spki(&'a [u8]),
}

/// What a certificate says besides its key.
#[derive(Debug, Clone)]
pub struct CertSpec {
    /// Subject common name.
    pub common_name: String,
    /// Serial number (positive; DER INTEGER content without sign byte).
    pub serial: Vec<u8>,
    /// Validity.
    pub not_before: SystemTime,
    /// Validity.
    pub not_after: SystemTime,
    /// A CA (may certify keys).
    pub ca: bool,
    /// Private extensions: OID arcs and DER content (non-critical).
    pub extensions: Vec<(Vec<u64>, Vec<u8>)>,
}

impl CertSpec {
    /// A certificate valid from now for `years`, with a random serial.
    pub fn new(common_name: &str, years: u64, ca: bool) -> Self {
        let mut serial = vec![0u8; 16];
        pki::fill_random(&mut serial);
        serial[0] = (serial[0] & 0x7f) | 0x01;
        let now = SystemTime::now();
        Self {
            common_name: common_name.into(),
            serial,
            not_before: now - Duration::from_secs(3600),
            not_after: now + Duration::from_secs(years * 365 * 86_400),
            ca,
            extensions: vec![],
        }
    }

    fn params(&self) -> Result<rcgen::CertificateParams, Error> {
        let mut p = rcgen::CertificateParams::default();
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name.push(rcgen::DnType::CommonName, self.common_name.clone());
        p.serial_number = Some(rcgen::SerialNumber::from_slice(&self.serial));
        p.not_before = self.not_before.into();
        p.not_after = self.not_after.into();
        if self.ca {
            p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            p.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
        } else {
            p.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        }
        p.use_authority_key_identifier_extension = true;
        p.custom_extensions =
            self.extensions.iter().map(|(oid, v)| rcgen::CustomExtension::from_oid_content(oid, v.clone())).collect();
        Ok(p)
    }
}

/// A foreign SubjectPublicKeyInfo for rcgen (RSA: rsaEncryption, NULL).
struct ForeignKey {
    bits: Vec<u8>,
}

impl rcgen::PublicKeyData for ForeignKey {
    fn der_bytes(&self) -> &[u8] {
        &self.bits
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}

fn rsa_key_bits(spki: &[u8]) -> Result<Vec<u8>, Error> {
    let info = spki::SubjectPublicKeyInfoOwned::from_der(spki).map_err(|_| Error::Malformed("not a key".into()))?;
    if info.algorithm.oid != const_oid::db::rfc5912::RSA_ENCRYPTION {
        return Err(Error::Malformed("only RSA keys are certified by SubjectPublicKeyInfo".into()));
    }
    Ok(info.subject_public_key.raw_bytes().to_vec())
}

impl Authority {
    /// A new self-signed root named `name`.
    pub fn new_root(name: &str, years: u64) -> Result<Self, Error> {
        let key = EcKey::generate();
        let spec = CertSpec::new(name, years, true);
        let cert = spec.params()?.self_signed(&key.rcgen()).map_err(build)?;
        Ok(Self { name: name.into(), key, certificate: cert.der().to_vec() })
    }

    /// The authority named `name` with `key` and `certificate` (as stored).
    pub fn from_parts(name: &str, key: EcKey, certificate: Vec<u8>) -> Self {
        Self { name: name.into(), key, certificate }
    }

    /// Its name (subject CN).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its key.
    pub fn key(&self) -> &EcKey {
        &self.key
    }

    /// Issues a certificate for `subject` as `spec` says.
    pub fn issue(&self, spec: &CertSpec, subject: SubjectKey<'_>) -> Result<Vec<u8>, Error> {
        let mut me = rcgen::CertificateParams::default();
        me.distinguished_name.push(rcgen::DnType::CommonName, self.name.clone());
        let signer = self.key.rcgen();
        let issuer = rcgen::Issuer::new(me, &signer);
        let params = spec.params()?;
        let cert = match subject {
            SubjectKey::Ec(k) => params.signed_by(&k.rcgen(), &issuer),
            SubjectKey::Spki(spki) => params.signed_by(&ForeignKey { bits: rsa_key_bits(spki)? }, &issuer),
        }
        .map_err(build)?;
        Ok(cert.der().to_vec())
    }

    /// A subordinate authority named `name`, certified by this one.
    pub fn subordinate(&self, name: &str, years: u64, serial: Option<Vec<u8>>) -> Result<Self, Error> {
        let key = EcKey::generate();
        let mut spec = CertSpec::new(name, years, true);
        if let Some(s) = serial {
            spec.serial = s;
        }
        let certificate = self.issue(&spec, SubjectKey::Ec(&key))?;
        Ok(Self { name: name.into(), key, certificate })
    }
}

fn build(e: rcgen::Error) -> Error {
    Error::Malformed(format!("certificate: {e}"))
}

/// A parsed certificate with the exact bytes its signature covers.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The certificate.
    pub cert: Certificate,
    /// The DER it came in.
    pub der: Vec<u8>,
    tbs: Vec<u8>,
}

impl Parsed {
    /// Parses DER (strict: no trailing bytes).
    pub fn from_der(der: &[u8]) -> Result<Self, Error> {
        let cert = Certificate::from_der(der).map_err(|e| Error::Malformed(format!("certificate: {e}")))?;
        // The TBS as received: the first element inside the outer SEQUENCE.
        let mut reader = der07::SliceReader::new(der).map_err(|e| Error::Malformed(e.to_string()))?;
        let tbs = der07::Reader::sequence(&mut reader, |inner| {
            let any: der07::asn1::AnyRef<'_> = der07::Decode::decode(inner)?;
            let bytes = any.to_der()?;
            // Skip the rest (algorithm, signature).
            let _: der07::asn1::AnyRef<'_> = der07::Decode::decode(inner)?;
            let _: der07::asn1::AnyRef<'_> = der07::Decode::decode(inner)?;
            Ok(bytes)
        })
        .map_err(|e: der07::Error| Error::Malformed(e.to_string()))?;
        Ok(Self { cert, der: der.to_vec(), tbs })
    }

    /// Its SubjectPublicKeyInfo (DER).
    pub fn spki(&self) -> Vec<u8> {
        self.cert.tbs_certificate.subject_public_key_info.to_der().expect("it was decoded")
    }

    /// The serial number in lowercase hex without leading zeros (the
    /// status list's key, device-trust.md §2.5).
    pub fn serial_hex(&self) -> String {
        let s = hex::encode(self.cert.tbs_certificate.serial_number.as_bytes());
        let t = s.trim_start_matches('0');
        if t.is_empty() {
            "0".into()
        } else {
            t.into()
        }
    }

    /// The content of extension `oid`, if present.
    pub fn extension(&self, oid: &str) -> Option<&[u8]> {
        let oid = der07::asn1::ObjectIdentifier::new(oid).ok()?;
        self.cert
            .tbs_certificate
            .extensions
            .as_ref()?
            .iter()
            .find(|e| e.extn_id == oid)
            .map(|e| e.extn_value.as_bytes())
    }

    fn is_ca(&self) -> bool {
        use x509_cert::ext::pkix::BasicConstraints;
        self.extension("2.5.29.19").and_then(|v| BasicConstraints::from_der(v).ok()).is_some_and(|b| b.ca)
    }

    /// Whether `issuer`'s key signed this certificate.
    pub fn signed_by(&self, issuer_spki: &[u8]) -> bool {
        self.cert.signature_algorithm.oid == ECDSA_SHA256
            && ec::verify_der(issuer_spki, &self.tbs, self.cert.signature.raw_bytes())
    }

    fn valid_at(&self, at: SystemTime) -> bool {
        let v = &self.cert.tbs_certificate.validity;
        v.not_before.to_system_time() <= at && at <= v.not_after.to_system_time()
    }
}

/// Splits concatenated DER certificates (as the applet answers ATTEST KEY)
/// into their exact bytes; `None` if anything is not a DER SEQUENCE.
pub fn split_concatenated(bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let mut reader = der07::SliceReader::new(rest).ok()?;
        let any: der07::asn1::AnyRef<'_> = der07::Decode::decode(&mut reader).ok()?;
        if der07::Tagged::tag(&any) != der07::Tag::Sequence {
            return None;
        }
        let len = usize::try_from(der07::Reader::position(&reader)).ok()?;
        out.push(rest[..len].to_vec());
        rest = &rest[len..];
    }
    (!out.is_empty()).then_some(out)
}

/// Why a chain was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// A certificate could not be parsed.
    #[error("certificate {0} of the chain is not a certificate")]
    Malformed(usize),
    /// The chain is empty.
    #[error("the chain is empty")]
    Empty,
    /// A signature does not verify, or a name does not match.
    #[error("certificate {0} is not signed by the next one")]
    BadSignature(usize),
    /// An issuer is not a CA.
    #[error("certificate {0} certifies keys but is not a CA")]
    NotCa(usize),
    /// Outside its validity.
    #[error("certificate {0} is not valid now")]
    Expired(usize),
    /// No pinned root.
    #[error("the chain does not end at a trusted root")]
    UnknownRoot,
}

/// Checks `chain` (leaf first, the root last or left out) up to one of the
/// pinned `roots` at `at`; returns the parsed chain (root not included
/// unless it was sent) and the index of the root it ends at.
pub fn verify_chain(chain: &[Vec<u8>], roots: &[Vec<u8>], at: SystemTime) -> Result<(Vec<Parsed>, usize), ChainError> {
    if chain.is_empty() {
        return Err(ChainError::Empty);
    }
    let parsed: Vec<Parsed> = chain
        .iter()
        .enumerate()
        .map(|(i, d)| Parsed::from_der(d).map_err(|_| ChainError::Malformed(i)))
        .collect::<Result<_, _>>()?;
    for (i, c) in parsed.iter().enumerate() {
        if !c.valid_at(at) {
            return Err(ChainError::Expired(i));
        }
        if let Some(issuer) = parsed.get(i + 1) {
            if c.cert.tbs_certificate.issuer != issuer.cert.tbs_certificate.subject || !c.signed_by(&issuer.spki()) {
                return Err(ChainError::BadSignature(i));
            }
            if !issuer.is_ca() {
                return Err(ChainError::NotCa(i + 1));
            }
        }
    }
    let last = parsed.last().expect("not empty");
    for (r, root_der) in roots.iter().enumerate() {
        if *root_der == last.der {
            return Ok((parsed, r));
        }
        let Ok(root) = Parsed::from_der(root_der) else { continue };
        if last.cert.tbs_certificate.issuer == root.cert.tbs_certificate.subject && last.signed_by(&root.spki()) {
            return Ok((parsed, r));
        }
    }
    Err(ChainError::UnknownRoot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_are_checked_link_by_link_up_to_a_pinned_root() {
        let root = Authority::new_root("Vendor Root", 20).unwrap();
        let inter = root.subordinate("Vendor Attestation 1", 10, None).unwrap();
        let leaf_key = EcKey::generate();
        let leaf = inter.issue(&CertSpec::new("Android Keystore Key", 1, false), SubjectKey::Ec(&leaf_key)).unwrap();
        let now = SystemTime::now();
        let chain = vec![leaf.clone(), inter.certificate.clone(), root.certificate.clone()];
        let (parsed, r) = verify_chain(&chain, std::slice::from_ref(&root.certificate), now).unwrap();
        assert_eq!((parsed.len(), r), (3, 0));
        assert_eq!(parsed[0].spki(), leaf_key.spki());
        // Without the root, it is found among the pinned ones.
        assert!(verify_chain(&chain[..2], std::slice::from_ref(&root.certificate), now).is_ok());
        let other = Authority::new_root("Vendor Root", 20).unwrap();
        assert_eq!(
            verify_chain(&chain, std::slice::from_ref(&other.certificate), now).unwrap_err(),
            ChainError::UnknownRoot
        );
        // A leaf certified by another intermediate with the same name.
        let twin = other.subordinate("Vendor Attestation 1", 10, None).unwrap();
        let forged = twin.issue(&CertSpec::new("Android Keystore Key", 1, false), SubjectKey::Ec(&leaf_key)).unwrap();
        let spliced = vec![forged, inter.certificate.clone(), root.certificate.clone()];
        assert_eq!(
            verify_chain(&spliced, std::slice::from_ref(&root.certificate), now).unwrap_err(),
            ChainError::BadSignature(0)
        );
        // A leaf used as an issuer.
        let below = Authority::from_parts("Android Keystore Key", leaf_key.clone(), leaf.clone());
        let grand = below.issue(&CertSpec::new("x", 1, false), SubjectKey::Ec(&EcKey::generate())).unwrap();
        let chain2 = vec![grand, leaf.clone(), inter.certificate.clone()];
        assert_eq!(
            verify_chain(&chain2, std::slice::from_ref(&root.certificate), now).unwrap_err(),
            ChainError::NotCa(1)
        );
        let late = now + Duration::from_secs(2 * 365 * 86_400);
        assert_eq!(
            verify_chain(&chain, std::slice::from_ref(&root.certificate), late).unwrap_err(),
            ChainError::Expired(0)
        );
        assert_eq!(verify_chain(&[b"x".to_vec()], &[], now).unwrap_err(), ChainError::Malformed(0));
        assert_eq!(verify_chain(&[], &[], now).unwrap_err(), ChainError::Empty);
        assert_eq!(split_concatenated(&chain.concat()).unwrap(), chain);
        assert_eq!(split_concatenated(&[chain.concat(), vec![0x30]].concat()), None);
        assert_eq!(split_concatenated(&[0x04, 0x00]), None);
    }

    #[test]
    fn a_foreign_rsa_key_is_certified_as_it_is() {
        let root = Authority::new_root("SE Issuer", 20).unwrap();
        let rsa = pki::RsaPrivateKey::generate_2048().unwrap().public_key_der();
        let cert = root.issue(&CertSpec::new("k", 1, false), SubjectKey::Spki(&rsa)).unwrap();
        assert_eq!(Parsed::from_der(&cert).unwrap().spki(), rsa);
        assert!(root.issue(&CertSpec::new("k", 1, false), SubjectKey::Spki(&EcKey::generate().spki())).is_err());
    }
}
