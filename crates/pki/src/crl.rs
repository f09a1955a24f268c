//! Certificate revocation lists (RFC 5280 §5): full and delta CRLs with CRL
//! number, authority key identifier, reason codes and invalidity dates,
//! through `x509-cert`'s `CertificateList` types.

use crate::cert::{raw_extension, rsa_signature_algorithm, x509_time, CertError};
use crate::profile::key_identifier;
use crate::HashAlg;
use const_oid::AssociatedOid;
use der::asn1::{BitString, GeneralizedTime, Uint};
use der::Encode;
use std::time::SystemTime;
use x509_cert::certificate::Version;
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::pkix::crl::CrlReason;
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, BaseCrlNumber, CrlNumber};
use x509_cert::serial_number::SerialNumber;
use x509_cert::Certificate;

/// Why a certificate was revoked (RFC 5280 §5.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// unspecified (0) — written as no reasonCode, as RFC 5280 recommends.
    Unspecified,
    /// keyCompromise (1).
    KeyCompromise,
    /// cACompromise (2).
    CaCompromise,
    /// affiliationChanged (3): e.g. the holder's name or address changed.
    AffiliationChanged,
    /// superseded (4): another phone was provisioned.
    Superseded,
    /// cessationOfOperation (5): the holder stopped using it.
    CessationOfOperation,
    /// certificateHold (6): 一時保留.
    CertificateHold,
    /// removeFromCRL (8): only in delta CRLs, when a hold is released.
    RemoveFromCrl,
    /// privilegeWithdrawn (9).
    PrivilegeWithdrawn,
}

impl Reason {
    /// The `x509-cert` value.
    pub fn crl_reason(self) -> CrlReason {
        match self {
            Reason::Unspecified => CrlReason::Unspecified,
            Reason::KeyCompromise => CrlReason::KeyCompromise,
            Reason::CaCompromise => CrlReason::CaCompromise,
            Reason::AffiliationChanged => CrlReason::AffiliationChanged,
            Reason::Superseded => CrlReason::Superseded,
            Reason::CessationOfOperation => CrlReason::CessationOfOperation,
            Reason::CertificateHold => CrlReason::CertificateHold,
            Reason::RemoveFromCrl => CrlReason::RemoveFromCRL,
            Reason::PrivilegeWithdrawn => CrlReason::PrivilegeWithdrawn,
        }
    }
}

/// One revoked certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// Serial number, big-endian magnitude.
    pub serial: Vec<u8>,
    /// When it was revoked.
    pub revoked_at: SystemTime,
    /// Why.
    pub reason: Reason,
    /// When the key is known or suspected to have become invalid.
    pub invalidity: Option<SystemTime>,
}

/// What kind of CRL, and its times.
#[derive(Debug, Clone)]
pub struct CrlParams {
    /// thisUpdate.
    pub this_update: SystemTime,
    /// nextUpdate.
    pub next_update: SystemTime,
    /// cRLNumber, increasing.
    pub number: u64,
    /// For a delta CRL: the cRLNumber of its base (deltaCRLIndicator).
    pub delta_base: Option<u64>,
}

fn uint(n: u64) -> Result<Uint, CertError> {
    let bytes = n.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count().min(7);
    Ok(Uint::new(&bytes[skip..])?)
}

/// Builds and signs a CRL for `ca`'s certificates. Entries are written in
/// the order given.
pub fn build(
    ca: &Certificate,
    key: &dyn crate::keystore::Signer,
    entries: &[Revoked],
    p: &CrlParams,
) -> Result<Vec<u8>, CertError> {
    let revoked = entries
        .iter()
        .map(|e| {
            let mut exts = Vec::with_capacity(2);
            if e.reason != Reason::Unspecified {
                exts.push(raw_extension(CrlReason::OID, false, &e.reason.crl_reason())?);
            }
            if let Some(t) = e.invalidity {
                let t = GeneralizedTime::from_system_time(t)?;
                exts.push(raw_extension(const_oid::db::rfc5280::ID_CE_INVALIDITY_DATE, false, &t)?);
            }
            Ok(RevokedCert {
                serial_number: SerialNumber::new(&e.serial)?,
                revocation_date: x509_time(e.revoked_at)?,
                crl_entry_extensions: (!exts.is_empty()).then_some(exts),
            })
        })
        .collect::<Result<Vec<_>, CertError>>()?;
    let aki = AuthorityKeyIdentifier {
        key_identifier: Some(key_identifier(&ca.tbs_certificate.subject_public_key_info)),
        authority_cert_issuer: None,
        authority_cert_serial_number: None,
    };
    let mut extensions = vec![
        raw_extension(AuthorityKeyIdentifier::OID, false, &aki)?,
        raw_extension(CrlNumber::OID, false, &CrlNumber(uint(p.number)?))?,
    ];
    if let Some(base) = p.delta_base {
        extensions.push(raw_extension(BaseCrlNumber::OID, true, &BaseCrlNumber(uint(base)?))?);
    }
    let tbs = TbsCertList {
        version: Version::V2,
        signature: rsa_signature_algorithm(HashAlg::Sha256),
        issuer: ca.tbs_certificate.subject.clone(),
        this_update: x509_time(p.this_update)?,
        next_update: Some(x509_time(p.next_update)?),
        revoked_certificates: (!revoked.is_empty()).then_some(revoked),
        crl_extensions: Some(extensions),
    };
    let tbs_der = tbs.to_der()?;
    let signature = key.sign(HashAlg::Sha256, &tbs_der)?;
    let crl = CertificateList {
        signature_algorithm: tbs.signature.clone(),
        tbs_cert_list: tbs,
        signature: BitString::from_bytes(&signature)?,
    };
    Ok(crl.to_der()?)
}
