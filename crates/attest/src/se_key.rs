//! The SE's on-chip key attestation (docs/device-trust.md "SE key
//! attestation"; model: YubiKey PIV attestation, device-trust.md §7).
//!
//! Chain, leaf first: the **key attestation** certificate (subject key =
//! the RSA key the JPKI applet generated; signed by the SE's attestation
//! key) ← the **SE attestation** certificate (one per SE, made at
//! manufacture, naming the SE identifier) ← the **SE issuer** root (the
//! SEI-TSM's side). The leaf carries [`SeKeyAttestation`], binding the key
//! to the SE, the applet, the key slot and the application's commitment
//! S = SHA-256(R) — the same S the holder's card signed in the application.
//! Imported keys are never attested (there is no import).

use crate::x509::{verify_chain, Authority, CertSpec, ChainError, Parsed, SubjectKey};
use der::asn1::OctetString;
use der::{Decode, Encode, Enumerated, Sequence};
use std::time::SystemTime;

/// Private arc: RFC 5612's documentation enterprise number, `.1` openjpki
/// (docs/device-trust.md says why not `2.25.<UUID>`).
pub const OID_KEY_ATTESTATION: &str = "1.3.6.1.4.1.32473.1.1";
/// The SE identity extension of the SE attestation certificate.
pub const OID_SE_IDENTITY: &str = "1.3.6.1.4.1.32473.1.2";
const ARCS_KEY_ATTESTATION: [u64; 9] = [1, 3, 6, 1, 4, 1, 32473, 1, 1];
const ARCS_SE_IDENTITY: [u64; 9] = [1, 3, 6, 1, 4, 1, 32473, 1, 2];

/// The applet's key slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enumerated)]
#[repr(u8)]
pub enum KeySlot {
    /// The user-authentication key.
    Auth = 1,
    /// The signature key.
    Sign = 2,
}

/// Where the key came from; only on-chip generation exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enumerated)]
#[repr(u8)]
pub enum Origin {
    /// Generated on the chip, never left it.
    Generated = 0,
}

/// ```text
/// SeKeyAttestation ::= SEQUENCE {
///   version        INTEGER (1),
///   seIdentifier   OCTET STRING (SIZE (10)),  -- CPLC fabricator‖type‖serial‖batch
///   appletAid      OCTET STRING,
///   keySlot        ENUMERATED { auth(1), sign(2) },
///   origin         ENUMERATED { generated(0) },
///   commitment     OCTET STRING (SIZE (32)) } -- S = SHA-256(R)
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Sequence)]
pub struct SeKeyAttestation {
    /// 1.
    pub version: i64,
    /// The SE identifier.
    pub se_identifier: OctetString,
    /// The applet instance AID.
    pub applet_aid: OctetString,
    /// The slot.
    pub key_slot: KeySlot,
    /// Generated on chip.
    pub origin: Origin,
    /// The application's commitment S.
    pub commitment: OctetString,
}

/// The SE's attestation key and certificate chain (SE attestation
/// certificate, then the SE issuer root), kept in the SE.
#[derive(Debug, Clone)]
pub struct SeAttestationKey {
    /// The key and its certificate.
    pub authority: Authority,
    /// The SE issuer root (DER).
    pub issuer_root: Vec<u8>,
}

/// Certifies a new SE's attestation key (at manufacture, by the SE issuer).
pub fn certify_se(issuer: &Authority, se_identifier: &[u8; 10]) -> Result<SeAttestationKey, crate::Error> {
    let key = crate::ec::EcKey::generate();
    let name = format!("openjpki SE attestation {}", hex::encode_upper(se_identifier));
    let mut spec = CertSpec::new(&name, 20, true);
    let id = OctetString::new(se_identifier.to_vec()).expect("short").to_der().expect("encodes");
    spec.extensions.push((ARCS_SE_IDENTITY.to_vec(), id));
    let certificate = issuer.issue(&spec, SubjectKey::Ec(&key))?;
    Ok(SeAttestationKey {
        authority: Authority::from_parts(&name, key, certificate),
        issuer_root: issuer.certificate.clone(),
    })
}

impl SeAttestationKey {
    /// Attests a key just generated in `slot` of applet `aid`: the
    /// certificate chain, leaf first (key attestation, SE attestation).
    pub fn attest(
        &self,
        spki: &[u8],
        se_identifier: &[u8; 10],
        aid: &[u8],
        slot: KeySlot,
        commitment: &[u8],
    ) -> Result<Vec<Vec<u8>>, crate::Error> {
        let claims = SeKeyAttestation {
            version: 1,
            se_identifier: OctetString::new(se_identifier.to_vec()).expect("short"),
            applet_aid: OctetString::new(aid.to_vec()).expect("short"),
            key_slot: slot,
            origin: Origin::Generated,
            commitment: OctetString::new(commitment.to_vec()).expect("short"),
        };
        let mut spec = CertSpec::new(&format!("JPKI applet key attestation {slot:?}"), 20, false);
        // Validity copied from the attesting certificate (YubiKey model).
        let at = Parsed::from_der(&self.authority.certificate)?;
        spec.not_before = at.cert.tbs_certificate.validity.not_before.to_system_time();
        spec.not_after = at.cert.tbs_certificate.validity.not_after.to_system_time();
        spec.extensions.push((ARCS_KEY_ATTESTATION.to_vec(), claims.to_der().expect("encodes")));
        let leaf = self.authority.issue(&spec, SubjectKey::Spki(spki))?;
        Ok(vec![leaf, self.authority.certificate.clone()])
    }
}

/// What the key attestation must say.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    /// The key being certified (SubjectPublicKeyInfo).
    pub spki: &'a [u8],
    /// The SE the keys were generated in.
    pub se_identifier: &'a [u8],
    /// The slot (certificate type).
    pub slot: KeySlot,
    /// The commitment S of the card-signed application.
    pub commitment: &'a [u8],
}

/// Why a key attestation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeKeyError {
    /// The chain does not verify to an SE issuer.
    #[error("the SE key attestation does not chain to a trusted SE issuer: {0}")]
    Chain(#[from] ChainError),
    /// A certificate in the chain is on the status list.
    #[error("the SE attestation key {0} is revoked")]
    Revoked(String),
    /// Structure.
    #[error("the SE key attestation is malformed: {0}")]
    Malformed(String),
    /// It attests another key.
    #[error("the SE key attestation is for another key than the one to certify")]
    AnotherKey,
    /// Made by another SE.
    #[error("the key was generated in another SE than the one named")]
    AnotherSe,
    /// For another application.
    #[error("the key is not bound to this application's commitment")]
    AnotherCommitment,
    /// Another slot.
    #[error("the key attestation is for the other key slot")]
    AnotherSlot,
}

/// Checks a key attestation chain (leaf first) against the SE issuer
/// `roots`, the `revoked` serials (status-list keys) and what it must say.
pub fn verify(
    chain: &[Vec<u8>],
    roots: &[Vec<u8>],
    revoked: &dyn Fn(&str) -> bool,
    expected: &Expected<'_>,
    at: SystemTime,
) -> Result<SeKeyAttestation, SeKeyError> {
    if chain.len() != 2 {
        return Err(SeKeyError::Malformed(format!("{} certificates, not 2", chain.len())));
    }
    let (parsed, _) = verify_chain(chain, roots, at)?;
    if let Some(c) = parsed.iter().find(|c| revoked(&c.serial_hex())) {
        return Err(SeKeyError::Revoked(c.serial_hex()));
    }
    let (leaf, attesting) = (&parsed[0], &parsed[1]);
    let claims = leaf
        .extension(OID_KEY_ATTESTATION)
        .ok_or_else(|| SeKeyError::Malformed("no key attestation extension".into()))
        .and_then(|v| SeKeyAttestation::from_der(v).map_err(|e| SeKeyError::Malformed(e.to_string())))?;
    let se_of_key = attesting
        .extension(OID_SE_IDENTITY)
        .and_then(|v| OctetString::from_der(v).ok())
        .ok_or_else(|| SeKeyError::Malformed("the attesting certificate names no SE".into()))?;
    if claims.version != 1 {
        return Err(SeKeyError::Malformed(format!("version {}", claims.version)));
    }
    if leaf.spki() != expected.spki {
        return Err(SeKeyError::AnotherKey);
    }
    if se_of_key.as_bytes() != expected.se_identifier || claims.se_identifier.as_bytes() != expected.se_identifier {
        return Err(SeKeyError::AnotherSe);
    }
    if claims.key_slot != expected.slot {
        return Err(SeKeyError::AnotherSlot);
    }
    if !bool::from(subtle::ConstantTimeEq::ct_eq(claims.commitment.as_bytes(), expected.commitment)) {
        return Err(SeKeyError::AnotherCommitment);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_binding_of_the_key_attestation_is_checked() {
        let issuer = Authority::new_root("openjpki SE issuer", 30).unwrap();
        let (se, other_se) = ([1u8; 10], [2u8; 10]);
        let ak = certify_se(&issuer, &se).unwrap();
        let key = pki::RsaPrivateKey::generate_2048().unwrap().public_key_der();
        let s = [7u8; 32];
        let chain = ak.attest(&key, &se, b"\xD3\x92\xF0\x00\x26\x01\x00\x00\x00\x01", KeySlot::Sign, &s).unwrap();
        let roots = [issuer.certificate.clone()];
        let none = |_: &str| false;
        let now = SystemTime::now();
        let ok = Expected { spki: &key, se_identifier: &se, slot: KeySlot::Sign, commitment: &s };
        let claims = verify(&chain, &roots, &none, &ok, now).unwrap();
        assert_eq!(claims.origin, Origin::Generated);
        let refused = |e: Expected<'_>| verify(&chain, &roots, &none, &e, now).unwrap_err();
        let other_key = pki::RsaPrivateKey::generate_2048().unwrap().public_key_der();
        assert_eq!(refused(Expected { spki: &other_key, ..ok.clone() }), SeKeyError::AnotherKey);
        assert_eq!(refused(Expected { se_identifier: &other_se, ..ok.clone() }), SeKeyError::AnotherSe);
        assert_eq!(refused(Expected { slot: KeySlot::Auth, ..ok.clone() }), SeKeyError::AnotherSlot);
        assert_eq!(refused(Expected { commitment: &[8; 32], ..ok.clone() }), SeKeyError::AnotherCommitment);
        // Another SE's attestation key claiming this SE in its leaf.
        let liar = certify_se(&issuer, &other_se).unwrap();
        let lied = liar.attest(&key, &se, b"a", KeySlot::Sign, &s).unwrap();
        assert_eq!(verify(&lied, &roots, &none, &ok, now).unwrap_err(), SeKeyError::AnotherSe);
        // A self-made "SE issuer".
        let rogue = Authority::new_root("openjpki SE issuer", 30).unwrap();
        let forged = certify_se(&rogue, &se).unwrap().attest(&key, &se, b"a", KeySlot::Sign, &s).unwrap();
        assert!(matches!(verify(&forged, &roots, &none, &ok, now), Err(SeKeyError::Chain(ChainError::UnknownRoot))));
        let serial = Parsed::from_der(&chain[1]).unwrap().serial_hex();
        let revoked = |s: &str| s == serial;
        assert_eq!(verify(&chain, &roots, &revoked, &ok, now).unwrap_err(), SeKeyError::Revoked(serial.clone()));
        assert!(matches!(verify(&chain[..1], &roots, &none, &ok, now), Err(SeKeyError::Malformed(_))));
    }
}
