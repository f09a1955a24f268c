//! Certificate profiles of the JPKI hierarchy (jpki-profiles.md §1): the two
//! self-signed CAs and the card's two end-entity certificates. Each TBS is
//! checked by [`lint_tbs`] before the real signature (boulder's practice).
//! Choices where the sheet says \[open\] are in docs/decisions/cert-profiles.md.

use crate::cert::{raw_extension, sign_tbs, x509_time, CertError};
use crate::names::{name, CaKind, Hierarchy};
use crate::Holder;
use const_oid::db::rfc4519;
use const_oid::{AssociatedOid, ObjectIdentifier};
use der::asn1::{Any, Ia5StringRef, OctetString, Utf8StringRef};
use der::{Decode, Encode};
use spki::SubjectPublicKeyInfoOwned;
use std::time::SystemTime;
use x509_cert::certificate::Version;
use x509_cert::ext::pkix::certpolicy::{PolicyInformation, PolicyQualifierInfo};
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName, OtherName};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, CertificatePolicies, CrlDistributionPoints, KeyUsage, KeyUsages,
    SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::ext::Extension;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;
use x509_cert::{Certificate, TbsCertificate};

/// Signature-certificate policy, production (1.2.392.200149.8.5.1.1.20).
pub const POLICY_SIGN: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.1.1.20");
/// Signature-certificate policy on JPKI-TEST cards (1.2.392.200149.8.5.1.0.20).
pub const POLICY_SIGN_TEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.1.0.20");
/// User-authentication policy, production (1.2.392.200149.8.5.1.3.30).
pub const POLICY_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.1.3.30");
/// User-authentication policy for the test hierarchy (openjpki's choice,
/// parallel to the signature test policy: see docs/decisions/cert-profiles.md).
pub const POLICY_AUTH_TEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.1.2.30");
/// CPS URI qualifier value.
pub const CPS_URI: &str = "http://www.jpki.go.jp/cps.html";

/// subjectAltName otherName types under 1.2.392.200149.8.5.5 (§1.4).
pub mod san {
    use super::ObjectIdentifier;
    /// 氏名.
    pub const NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.5.1");
    /// 氏名代替文字 flags.
    pub const NAME_SUBSTITUTE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.5.2");
    /// 性別.
    pub const SEX: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.5.3");
    /// 生年月日 (`EYYYYMMDD`).
    pub const BIRTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.5.4");
    /// 住所.
    pub const ADDRESS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.5.5");
    /// 住所代替文字 flags.
    pub const ADDRESS_SUBSTITUTE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.5.6");
}

/// The policy OID of an end-entity kind in a hierarchy.
pub fn policy(kind: CaKind, hierarchy: Hierarchy) -> ObjectIdentifier {
    match (kind, hierarchy) {
        (CaKind::Auth, Hierarchy::Production) => POLICY_AUTH,
        (CaKind::Auth, Hierarchy::Test) => POLICY_AUTH_TEST,
        (CaKind::Sign, Hierarchy::Production) => POLICY_SIGN,
        (CaKind::Sign, Hierarchy::Test) => POLICY_SIGN_TEST,
    }
}

/// A positive random serial number of 9 bytes (RFC 5280 §4.1.2.2: ≤ 20
/// octets; CA/B BR 7.1: ≥ 64 bits of randomness).
pub fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 9];
    aws_lc_rs::rand::fill(&mut bytes).expect("system RNG");
    bytes[0] = (bytes[0] & 0x7F) | 0x01;
    SerialNumber::new(&bytes).expect("9-byte serial")
}

/// A random 23-character identifier for the subject CN (§1.3: opaque, no
/// personal data).
pub fn random_subject_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut bytes = [0u8; 23];
    aws_lc_rs::rand::fill(&mut bytes).expect("system RNG");
    bytes.iter().map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()])).collect()
}

/// SubjectKeyIdentifier method 1 of RFC 5280 §4.2.1.2: SHA-1 of the
/// subjectPublicKey bits.
pub fn key_identifier(spki: &SubjectPublicKeyInfoOwned) -> OctetString {
    let digest = crate::HashAlg::Sha1.digest(spki.subject_public_key.raw_bytes());
    OctetString::new(digest).expect("20 bytes")
}

fn crl_distribution_point(ca_dn: &Name) -> Result<Extension, CertError> {
    let dp = DistributionPoint {
        distribution_point: Some(DistributionPointName::FullName(vec![GeneralName::DirectoryName(ca_dn.clone())])),
        reasons: None,
        crl_issuer: None,
    };
    raw_extension(CrlDistributionPoints::OID, false, &CrlDistributionPoints(vec![dp]))
}

fn policies(oid: ObjectIdentifier) -> Result<Extension, CertError> {
    let cps = PolicyQualifierInfo {
        policy_qualifier_id: const_oid::db::rfc5912::ID_QT_CPS,
        qualifier: Some(Any::encode_from(&Ia5StringRef::new(CPS_URI)?)?),
    };
    let info = PolicyInformation { policy_identifier: oid, policy_qualifiers: Some(vec![cps]) };
    raw_extension(CertificatePolicies::OID, true, &CertificatePolicies(vec![info]))
}

/// A self-signed CA certificate (§1.2): keyUsage keyCertSign + cRLSign and
/// basicConstraints CA:TRUE, both critical; SKI; CRL DP = its own DN.
pub fn ca_certificate(
    kind: CaKind,
    hierarchy: Hierarchy,
    key: &dyn crate::keystore::Signer,
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<Certificate, CertError> {
    let dn = kind.dn(hierarchy);
    let spki = SubjectPublicKeyInfoOwned::from_der(&key.public_key_der())?;
    let ski = key_identifier(&spki);
    let extensions = vec![
        raw_extension(BasicConstraints::OID, true, &BasicConstraints { ca: true, path_len_constraint: None })?,
        raw_extension(KeyUsage::OID, true, &KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign))?,
        raw_extension(SubjectKeyIdentifier::OID, false, &SubjectKeyIdentifier(ski))?,
        crl_distribution_point(&dn)?,
    ];
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: random_serial(),
        signature: crate::cert::rsa_signature_algorithm(crate::HashAlg::Sha256),
        issuer: dn.clone(),
        validity: Validity { not_before: x509_time(not_before)?, not_after: x509_time(not_after)? },
        subject: dn,
        subject_public_key_info: spki,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(extensions),
    };
    lint_tbs(&tbs, None)?;
    sign_tbs(tbs, key)
}

/// What an end-entity certificate is for.
#[derive(Debug, Clone)]
pub struct EndEntity<'a> {
    /// Auth or sign.
    pub kind: CaKind,
    /// The holder's key, DER `SubjectPublicKeyInfo`.
    pub public_key_der: &'a [u8],
    /// The holder (only the signature certificate carries personal data).
    pub holder: &'a Holder,
    /// Start of validity.
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
    /// Policy set (production-like or test).
    pub hierarchy: Hierarchy,
}

fn other_name(oid: ObjectIdentifier, value: &str) -> Result<GeneralName, CertError> {
    // otherName value is [0] EXPLICIT; x509-cert's OtherName holds the inner Any.
    Ok(GeneralName::OtherName(OtherName { type_id: oid, value: Any::encode_from(&Utf8StringRef::new(value)?)? }))
}

/// The six otherName entries of the signature certificate, in the order seen
/// on a JPKI test card (1, 4, 3, 5, 2, 6).
fn holder_alt_names(holder: &Holder) -> Result<SubjectAltName, CertError> {
    let flags = |s: &str| "0".repeat(s.chars().count());
    Ok(SubjectAltName(vec![
        other_name(san::NAME, &holder.name)?,
        other_name(san::BIRTH, &holder.birth_with_era().map_err(CertError::Invalid)?)?,
        other_name(san::SEX, &holder.sex.code().to_string())?,
        other_name(san::ADDRESS, &holder.address)?,
        other_name(san::NAME_SUBSTITUTE, &flags(&holder.name))?,
        other_name(san::ADDRESS_SUBSTITUTE, &flags(&holder.address))?,
    ]))
}

/// Issues a card end-entity certificate under `ca`.
///
/// - auth (§1.3): subject `C=JP, CN=<opaque id>`, no personal data,
///   keyUsage digitalSignature (critical).
/// - sign (§1.4): subject `C=JP, L=<prefecture>, L=<municipality>, CN=<id>`,
///   the basic four attributes in subjectAltName otherNames, keyUsage
///   digitalSignature + nonRepudiation (critical).
///
/// Both: certificatePolicies (critical) with the CPS URI, AKI, SKI, CRL DP.
pub fn issue_end_entity(
    ca: &Certificate,
    ca_key: &dyn crate::keystore::Signer,
    ee: &EndEntity<'_>,
) -> Result<Certificate, CertError> {
    let spki = SubjectPublicKeyInfoOwned::from_der(ee.public_key_der)?;
    let id = random_subject_id();
    let subject = match ee.kind {
        CaKind::Auth => name(&[(rfc4519::C, "JP"), (rfc4519::CN, &id)]),
        CaKind::Sign => name(&[
            (rfc4519::C, "JP"),
            (rfc4519::L, &ee.holder.prefecture),
            (rfc4519::L, &ee.holder.municipality),
            (rfc4519::CN, &id),
        ]),
    };
    let ca_spki = &ca.tbs_certificate.subject_public_key_info;
    let usage = match ee.kind {
        CaKind::Auth => KeyUsage(KeyUsages::DigitalSignature.into()),
        CaKind::Sign => KeyUsage(KeyUsages::DigitalSignature | KeyUsages::NonRepudiation),
    };
    let mut extensions = vec![
        raw_extension(KeyUsage::OID, true, &usage)?,
        policies(policy(ee.kind, ee.hierarchy))?,
        raw_extension(
            AuthorityKeyIdentifier::OID,
            false,
            &AuthorityKeyIdentifier {
                key_identifier: Some(key_identifier(ca_spki)),
                authority_cert_issuer: None,
                authority_cert_serial_number: None,
            },
        )?,
        raw_extension(SubjectKeyIdentifier::OID, false, &SubjectKeyIdentifier(key_identifier(&spki)))?,
        crl_distribution_point(&ca.tbs_certificate.subject)?,
    ];
    if ee.kind == CaKind::Sign {
        extensions.insert(1, raw_extension(SubjectAltName::OID, false, &holder_alt_names(ee.holder)?)?);
    }
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: random_serial(),
        signature: crate::cert::rsa_signature_algorithm(crate::HashAlg::Sha256),
        issuer: ca.tbs_certificate.subject.clone(),
        validity: Validity { not_before: x509_time(ee.not_before)?, not_after: x509_time(ee.not_after)? },
        subject,
        subject_public_key_info: spki,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(extensions),
    };
    lint_tbs(&tbs, Some((ca, ee.kind)))?;
    sign_tbs(tbs, ca_key)
}

/// Checks a TBS against the profile before it is signed. `issuer` is `None`
/// for a self-signed CA, else the CA and the end-entity kind.
pub fn lint_tbs(tbs: &TbsCertificate, issuer: Option<(&Certificate, CaKind)>) -> Result<(), CertError> {
    let fail = |m: &str| Err(CertError::Lint(m.to_string()));
    let spki_der = tbs.subject_public_key_info.to_der()?;
    match crate::rsa::public_key_bits(&spki_der) {
        Ok(2048..) => {}
        Ok(bits) => return fail(&format!("RSA key of {bits} bits; at least 2048 required")),
        Err(_) => return fail("subject key is not RSA"),
    }
    if tbs.serial_number.as_bytes().len() > 20 || tbs.serial_number.as_bytes().first().is_some_and(|b| b & 0x80 != 0) {
        return fail("serial number must be positive and at most 20 octets");
    }
    let (nb, na) = (tbs.validity.not_before.to_system_time(), tbs.validity.not_after.to_system_time());
    if nb >= na {
        return fail("notBefore must precede notAfter");
    }
    let exts = tbs.extensions.as_deref().unwrap_or_default();
    let has = |oid: ObjectIdentifier| exts.iter().find(|e| e.extn_id == oid);
    let mut seen = std::collections::HashSet::new();
    if !exts.iter().all(|e| seen.insert(e.extn_id)) {
        return fail("duplicate extension");
    }
    if !has(KeyUsage::OID).is_some_and(|e| e.critical) {
        return fail("keyUsage must be present and critical");
    }
    match issuer {
        None => {
            if tbs.issuer != tbs.subject || !has(BasicConstraints::OID).is_some_and(|e| e.critical) {
                return fail("a CA certificate is self-issued with critical basicConstraints");
            }
        }
        Some((ca, kind)) => {
            if tbs.issuer != ca.tbs_certificate.subject {
                return fail("issuer must equal the CA's subject");
            }
            if na > ca.tbs_certificate.validity.not_after.to_system_time() {
                return fail("end-entity validity must end within the CA's");
            }
            if has(AuthorityKeyIdentifier::OID).is_none() || has(BasicConstraints::OID).is_some() {
                return fail("end entity needs AKI and no basicConstraints");
            }
            let san = has(SubjectAltName::OID);
            match kind {
                CaKind::Auth if san.is_some() || tbs.subject.0.len() != 2 => {
                    return fail("the auth certificate carries no personal data");
                }
                CaKind::Sign => {
                    let Some(san) = san else {
                        return fail("the signature certificate needs the basic four attributes");
                    };
                    let names = SubjectAltName::from_der(san.extn_value.as_bytes())?;
                    if names.0.len() != 6 {
                        return fail("the signature certificate needs six otherName entries");
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Card certificate validity (§1.5): from now until the holder's fifth
/// birthday after issuance, 23:59:59 JST (14:59:59 UTC). A 29 February
/// birthday falls on 28 February in common years.
pub fn card_validity(holder: &Holder, issued: SystemTime) -> Result<(SystemTime, SystemTime), CertError> {
    let birth = holder.birth_date().map_err(CertError::Invalid)?;
    let issued_dt = time::OffsetDateTime::from(issued);
    let today = issued_dt.date();
    let mut year = today.year();
    let birthday_in = |y: i32| {
        time::Date::from_calendar_date(y, birth.month(), birth.day())
            .or_else(|_| time::Date::from_calendar_date(y, birth.month(), birth.day() - 1))
    };
    // First birthday strictly after the issuance day, then four more.
    if birthday_in(year).map_err(|e| CertError::Invalid(e.to_string()))? <= today {
        year += 1;
    }
    let fifth = birthday_in(year + 4).map_err(|e| CertError::Invalid(e.to_string()))?;
    let end = fifth.with_hms(14, 59, 59).expect("valid time").assume_utc();
    Ok((issued, end.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::holder::Sex;

    #[test]
    fn validity_ends_on_fifth_birthday() {
        let holder = Holder {
            name: "n".into(),
            address: "a".into(),
            birth: "19800615".into(),
            sex: Sex::Male,
            prefecture: "Tokyo".into(),
            municipality: "Chiyoda-ku".into(),
        };
        let issued = time::macros::datetime!(2026-11-22 03:00 UTC).into();
        let (_, end) = card_validity(&holder, issued).unwrap();
        assert_eq!(time::OffsetDateTime::from(end), time::macros::datetime!(2031-06-15 14:59:59 UTC));
        let on_birthday = time::macros::datetime!(2026-06-15 03:00 UTC).into();
        let (_, end) = card_validity(&holder, on_birthday).unwrap();
        assert_eq!(time::OffsetDateTime::from(end).year(), 2031);
        let leap = Holder { birth: "20000229".into(), ..holder };
        let (_, end) = card_validity(&leap, issued).unwrap();
        assert_eq!(time::OffsetDateTime::from(end), time::macros::datetime!(2031-02-28 14:59:59 UTC));
    }

    #[test]
    fn serials_and_ids() {
        let s = random_serial();
        assert_eq!(s.as_bytes().len(), 9);
        assert!(s.as_bytes()[0] & 0x80 == 0);
        let id = random_subject_id();
        assert_eq!(id.len(), 23);
        assert_ne!(id, random_subject_id());
    }
}
