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
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, BaseCrlNumber, CrlNumber, FreshestCrl};
use x509_cert::serial_number::SerialNumber;
use x509_cert::Certificate;

/// Why a certificate was revoked (RFC 5280 §5.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
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

fn freshest(ca: &x509_cert::name::Name) -> FreshestCrl {
    use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
    FreshestCrl(vec![x509_cert::ext::pkix::crl::dp::DistributionPoint {
        distribution_point: Some(DistributionPointName::FullName(vec![GeneralName::DirectoryName(ca.clone())])),
        reasons: None,
        crl_issuer: None,
    }])
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
    match p.delta_base {
        Some(base) => extensions.push(raw_extension(BaseCrlNumber::OID, true, &BaseCrlNumber(uint(base)?))?),
        // A full CRL says where its deltas are (RFC 5280 §5.2.6): in the
        // CA's directory entry (its deltaRevocationList), the same name the
        // certificates' CRL distribution point gives for the full CRL.
        // Relying parties that use deltas (OpenSSL's -use_deltas) look for it.
        None => extensions.push(raw_extension(FreshestCrl::OID, false, &freshest(&ca.tbs_certificate.subject))?),
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

/// One entry of a parsed CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedCert {
    /// The certificate's serial number (its content octets).
    pub serial: Vec<u8>,
    /// The entry's reason (no reasonCode reads as unspecified).
    pub reason: Reason,
}

/// What a relying party reads from a CRL: its number, the base it is a
/// delta of, and its entries. The signature is not checked here (OpenSSL
/// or [`crate::cert`]'s verification does that against the CA).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCrl {
    /// The cRLNumber extension.
    pub number: u64,
    /// The deltaCRLIndicator's base CRL number: `Some` for a delta CRL.
    pub delta_base: Option<u64>,
    /// The revoked certificates, in the CRL's order.
    pub entries: Vec<ListedCert>,
}

/// Parses a DER CRL (RFC 5280 §5.1). A CRL without a cRLNumber, with a
/// number that does not fit 64 bits, or with a reason code RFC 5280 does not
/// define (or aACompromise, which has no place in a certificate CRL) is
/// refused.
pub fn parse(der: &[u8]) -> Result<ParsedCrl, CertError> {
    use der::Decode;
    let crl = CertificateList::from_der(der)?;
    let tbs = &crl.tbs_cert_list;
    let mut number = None;
    let mut delta_base = None;
    for ext in tbs.crl_extensions.iter().flatten() {
        if ext.extn_id == CrlNumber::OID {
            number = Some(to_u64(CrlNumber::from_der(ext.extn_value.as_bytes())?.0)?);
        } else if ext.extn_id == BaseCrlNumber::OID {
            delta_base = Some(to_u64(BaseCrlNumber::from_der(ext.extn_value.as_bytes())?.0)?);
        }
    }
    let number = number.ok_or_else(|| CertError::Invalid("the CRL has no cRLNumber".into()))?;
    let mut entries = Vec::new();
    for revoked in tbs.revoked_certificates.iter().flatten() {
        let mut reason = Reason::Unspecified;
        for ext in revoked.crl_entry_extensions.iter().flatten() {
            if ext.extn_id == CrlReason::OID {
                reason = reason_of(CrlReason::from_der(ext.extn_value.as_bytes())?)?;
            }
        }
        entries.push(ListedCert { serial: revoked.serial_number.as_bytes().to_vec(), reason });
    }
    Ok(ParsedCrl { number, delta_base, entries })
}

fn to_u64(n: Uint) -> Result<u64, CertError> {
    let bytes = n.as_bytes();
    if bytes.len() > 8 {
        return Err(CertError::Invalid("a CRL number longer than 64 bits".into()));
    }
    Ok(bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

fn reason_of(r: CrlReason) -> Result<Reason, CertError> {
    Ok(match r {
        CrlReason::Unspecified => Reason::Unspecified,
        CrlReason::KeyCompromise => Reason::KeyCompromise,
        CrlReason::CaCompromise => Reason::CaCompromise,
        CrlReason::AffiliationChanged => Reason::AffiliationChanged,
        CrlReason::Superseded => Reason::Superseded,
        CrlReason::CessationOfOperation => Reason::CessationOfOperation,
        CrlReason::CertificateHold => Reason::CertificateHold,
        CrlReason::RemoveFromCRL => Reason::RemoveFromCrl,
        CrlReason::PrivilegeWithdrawn => Reason::PrivilegeWithdrawn,
        CrlReason::AaCompromise => return Err(CertError::Invalid("aACompromise in a certificate CRL".into())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What [`build`] writes, [`parse`] reads back; a CRL without a number
    /// and a truncated one are refused.
    #[test]
    fn built_crls_parse_back_and_broken_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cas = crate::ca::LocalCa::open_or_create(dir.path()).unwrap();
        let ca = cas.ca(crate::CaKind::Sign);
        let now = SystemTime::now();
        let entries: Vec<Revoked> = [Reason::Unspecified, Reason::RemoveFromCrl, Reason::CertificateHold]
            .into_iter()
            .enumerate()
            .map(|(i, reason)| Revoked { serial: vec![0x10, i as u8], revoked_at: now, reason, invalidity: None })
            .collect();
        let params = CrlParams {
            this_update: now,
            next_update: now + std::time::Duration::from_secs(60),
            number: 300,
            delta_base: Some(299),
        };
        let der = build(&ca.cert, ca.key(), &entries, &params).unwrap();
        let parsed = parse(&der).unwrap();
        assert_eq!((parsed.number, parsed.delta_base), (300, Some(299)));
        let read: Vec<_> = parsed.entries.iter().map(|e| (e.serial.clone(), e.reason)).collect();
        let written: Vec<_> = entries.iter().map(|e| (e.serial.clone(), e.reason)).collect();
        assert_eq!(read, written);
        let full = build(&ca.cert, ca.key(), &[], &CrlParams { delta_base: None, ..params }).unwrap();
        assert_eq!(parse(&full).unwrap(), ParsedCrl { number: 300, delta_base: None, entries: vec![] });
        assert!(parse(&der[..der.len() - 1]).is_err());
        assert!(parse(b"\x30\x00").is_err());
    }
}
