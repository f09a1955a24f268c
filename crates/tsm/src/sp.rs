//! The SP-TSM's provisioning of the JPKI applet (DESIGN.md steps 5–9).

use jpki::ap::SP_DOMAIN;
const JPKI_APPLET: &[u8] = &jpki::ap::AID_JPKI;
use crate::relay::SecureSession;
use crate::sei::SP_KVN;
use crate::TsmError;
use apdu::{tlv, Transport};
use gp::commands;
use gp::StaticKeys;

/// Certificate types (the JPKI service's names).
pub use jlis::PhoneCertType as CertType;

/// The applet's P2 for a certificate type.
fn type_byte(t: CertType) -> u8 {
    match t {
        CertType::Auth => 0x01,
        CertType::Sign => 0x02,
    }
}

/// Replaces the SP domain's handed-over keys with keys only the SP-TSM knows
/// (first contact); afterwards the SEI-TSM cannot open the domain.
pub fn take_over<T: Transport>(transport: &mut T, handed_over: StaticKeys) -> Result<StaticKeys, TsmError> {
    let own = fresh_domain_keys();
    take_over_with(transport, handed_over, own.clone())?;
    Ok(own)
}

/// A new random AES-128 key set for the SP domain.
pub fn fresh_domain_keys() -> StaticKeys {
    let mut fresh = zeroize::Zeroizing::new([[0u8; 16]; 3]);
    for k in fresh.iter_mut() {
        pki::fill_random(k);
    }
    StaticKeys::new(SP_KVN, &fresh[0], &fresh[1], &fresh[2]).expect("16-byte keys")
}

/// [`take_over`] with keys the caller chose (and stored before the PUT KEY
/// leaves, so an answer lost on the way back does not lose the domain).
pub fn take_over_with<T: Transport>(
    transport: &mut T,
    handed_over: StaticKeys,
    own: StaticKeys,
) -> Result<(), TsmError> {
    let dek = handed_over.dek.clone();
    let mut s = SecureSession::open(transport, SP_DOMAIN, handed_over, 0x33)?;
    let response = s.run("replacing the domain keys", &commands::put_key(SP_KVN, &own, &dek))?;
    let expected = [vec![own.kvn], own.enc.kcv().to_vec(), own.mac.kcv().to_vec(), own.dek.kcv().to_vec()].concat();
    if response != expected {
        return Err(TsmError::Malformed("PUT KEY key check values"));
    }
    Ok(())
}

/// What provisioning produced.
#[derive(Debug, Clone)]
pub struct Provisioned {
    /// The SE identifier read inside the secure channel.
    pub se_identifier: [u8; 10],
    /// Per type: the certificate written (DER).
    pub certificates: Vec<(CertType, Vec<u8>)>,
}

/// Provisions the applet in one level-33 session: reads the SE identifier
/// and R and checks SHA-256(R) = `commitment`, generates each type's key on
/// chip (one relay round trip each: a key generation is the slow step, and
/// each step is bounded by the relay's timeout), has `issue` certify them
/// all at once (given each type with its public key, returns certificate
/// and CA certificate per type, DER, in order), and writes them all in one
/// script.
pub fn provision<T: Transport>(
    transport: &mut T,
    keys: StaticKeys,
    commitment: &[u8],
    types: &[CertType],
    issue: impl FnOnce(&[(CertType, Vec<u8>)], &[u8; 10]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, String>,
) -> Result<Provisioned, TsmError> {
    let mut s = SecureSession::open(transport, SP_DOMAIN, keys, 0x33)?;
    let store = |data: Vec<u8>| commands::store_data(0x81, 0, &data).with_ne(256);
    let identity = s
        .run_script(&[
            ("addressing the JPKI applet", commands::install_for_personalization(JPKI_APPLET).expect("AID")),
            ("reading the SE identifier and R", store(tlv::encode(0xDF01, &[]))),
        ])?
        .remove(1);
    if identity.len() != 42 {
        return Err(TsmError::Malformed("identity"));
    }
    let se_identifier: [u8; 10] = identity[..10].try_into().expect("10 bytes");
    let r = zeroize::Zeroizing::new(identity[10..].to_vec());
    if !secret::ct_eq(&pki::HashAlg::Sha256.digest(&r), commitment) {
        return Err(TsmError::CommitmentMismatch);
    }
    let mut public_keys = Vec::with_capacity(types.len());
    for &t in types {
        public_keys.push((t, s.run("generating the key on chip", &store(tlv::encode(0xDF02, &[type_byte(t)])))?));
    }
    let issued = issue(&public_keys, &se_identifier).map_err(TsmError::Issuance)?;
    if issued.len() != types.len() {
        return Err(TsmError::Issuance(format!("{} certificates for {} keys", issued.len(), types.len())));
    }
    let mut writes = Vec::with_capacity(2 * types.len());
    for (&t, (cert, ca)) in types.iter().zip(&issued) {
        let with_type = |der: &[u8]| [&[type_byte(t)][..], der].concat();
        writes.push(("writing the certificate", store(tlv::encode(0xDF03, &with_type(cert)))));
        writes.push(("writing the CA certificate", store(tlv::encode(0xDF04, &with_type(ca)))));
    }
    s.run_script(&writes)?;
    let certificates = types.iter().copied().zip(issued.into_iter().map(|(cert, _)| cert)).collect();
    Ok(Provisioned { se_identifier, certificates })
}

/// Deletes the applet's keys, certificates and PINs (revocation).
pub fn wipe<T: Transport>(transport: &mut T, keys: StaticKeys) -> Result<(), TsmError> {
    let mut s = SecureSession::open(transport, SP_DOMAIN, keys, 0x33)?;
    s.run_script(&[
        ("addressing the JPKI applet", commands::install_for_personalization(JPKI_APPLET).expect("AID")),
        ("deleting keys and certificates", commands::store_data(0x80, 0, &tlv::encode(0xDF05, &[]))),
    ])?;
    Ok(())
}
