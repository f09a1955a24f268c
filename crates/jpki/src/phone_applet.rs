//! What the phone's JPKI applet answers beyond the card's JPKI AP — the
//! contract between the applet in the SE, the JPKI app and the SP-TSM
//! (DESIGN.md "Provisioning", docs/decisions/se-provisioning.md), as pure
//! constructors and parsers:
//!
//! - the app's own commands: the commitment (`80 C0`) and setting a PIN
//!   once, offline (`80 C2`);
//! - [`provision`]: the data objects the SP-TSM sends by STORE DATA through
//!   the SP domain's level-33 channel.

use crate::PinId;
use apdu::Command;

/// Proprietary class of the applet's own commands.
pub const CLA: u8 = 0x80;
/// INS: draw R, answer S = SHA-256(R).
pub const INS_COMMITMENT: u8 = 0xC0;
/// INS: set a PIN once.
pub const INS_SET_PIN: u8 = 0xC2;
/// P2 of SET PIN: the value is the PIN in clear (normalized).
const P2_PLAIN: u8 = 0x80;

/// `80 C0 00 00 20`: draw R in the SE, answer the commitment S (32 bytes).
pub fn commitment() -> Command {
    Command::new(CLA, INS_COMMITMENT, 0x00, 0x00).with_ne(32)
}

/// `80 C2 P1 80 <value>`: sets `pin` (authentication or signature) once;
/// `None` for the text AP's PIN, which the phone does not hold.
pub fn set_pin(pin: PinId, value: &[u8]) -> Option<Command> {
    let p1 = match pin {
        PinId::Auth => 0x01,
        PinId::Sign => 0x02,
        PinId::Text => return None,
    };
    Some(Command::new(CLA, INS_SET_PIN, p1, P2_PLAIN).with_data(value.to_vec()))
}

/// Which PIN a SET PIN's P1 and P2 name.
pub fn set_pin_target(p1: u8, p2: u8) -> Option<PinId> {
    match (p1, p2) {
        (0x01, P2_PLAIN) => Some(PinId::Auth),
        (0x02, P2_PLAIN) => Some(PinId::Sign),
        _ => None,
    }
}

/// Provisioning data objects in STORE DATA (openjpki's choice).
pub mod provision {
    use crate::KeyType;

    /// Read the SE identifier and R: response `SE id (10) ‖ R (32)`.
    pub const READ_IDENTITY: u32 = 0xDF01;
    /// Generate a key pair: value = type; response = the public key as a
    /// DER SubjectPublicKeyInfo.
    pub const GENERATE_KEY: u32 = 0xDF02;
    /// Write a certificate: value = type ‖ DER.
    pub const WRITE_CERT: u32 = 0xDF03;
    /// Write a CA certificate: value = type ‖ DER.
    pub const WRITE_CA_CERT: u32 = 0xDF04;
    /// Delete keys, certificates, PINs and R (revocation).
    pub const DELETE_ALL: u32 = 0xDF05;
    /// Attest the key generated in a slot: value = type; response = the
    /// key attestation certificate ‖ the SE attestation certificate (DER,
    /// docs/device-trust.md "SE key attestation").
    pub const ATTEST_KEY: u32 = 0xDF06;
    /// Type byte: user authentication.
    pub const TYPE_AUTH: u8 = 0x01;
    /// Type byte: signature.
    pub const TYPE_SIGN: u8 = 0x02;

    /// The type byte of a key.
    pub fn type_byte(key: KeyType) -> u8 {
        match key {
            KeyType::Auth => TYPE_AUTH,
            KeyType::Sign => TYPE_SIGN,
        }
    }

    /// The key a type byte names.
    pub fn key_of(type_byte: u8) -> Option<KeyType> {
        match type_byte {
            TYPE_AUTH => Some(KeyType::Auth),
            TYPE_SIGN => Some(KeyType::Sign),
            _ => None,
        }
    }

    /// The READ IDENTITY data object.
    pub fn read_identity() -> Vec<u8> {
        apdu::tlv::encode(READ_IDENTITY, &[])
    }

    /// The ATTEST KEY data object for `key`.
    pub fn attest_key(key: KeyType) -> Vec<u8> {
        apdu::tlv::encode(ATTEST_KEY, &[type_byte(key)])
    }

    /// The GENERATE KEY data object for `key`.
    pub fn generate_key(key: KeyType) -> Vec<u8> {
        apdu::tlv::encode(GENERATE_KEY, &[type_byte(key)])
    }

    /// The WRITE CERT data object: `key`'s certificate (DER).
    pub fn write_certificate(key: KeyType, der: &[u8]) -> Vec<u8> {
        apdu::tlv::encode(WRITE_CERT, &[&[type_byte(key)][..], der].concat())
    }

    /// The WRITE CA CERT data object: the CA certificate of `key`'s (DER).
    pub fn write_ca_certificate(key: KeyType, der: &[u8]) -> Vec<u8> {
        apdu::tlv::encode(WRITE_CA_CERT, &[&[type_byte(key)][..], der].concat())
    }

    /// The DELETE ALL data object.
    pub fn delete_all() -> Vec<u8> {
        apdu::tlv::encode(DELETE_ALL, &[])
    }

    /// READ IDENTITY's answer: the SE identifier and R.
    pub fn parse_identity(data: &[u8]) -> Option<([u8; 10], &[u8])> {
        if data.len() != 42 {
            return None;
        }
        Some((data[..10].try_into().ok()?, &data[10..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KeyType;

    #[test]
    fn commands_encode_as_the_applet_expects_and_parse_back() {
        assert_eq!(commitment().to_bytes().unwrap(), [0x80, 0xC0, 0x00, 0x00, 0x20]);
        let set = set_pin(PinId::Sign, b"PHONE1").unwrap();
        assert_eq!((set.p1, set.p2), (0x02, 0x80));
        assert_eq!(set_pin_target(set.p1, set.p2), Some(PinId::Sign));
        assert_eq!(set_pin_target(0x01, 0x00), None);
        assert!(set_pin(PinId::Text, b"1234").is_none());
        assert_eq!(provision::generate_key(KeyType::Auth), [0xDF, 0x02, 0x01, 0x01]);
        assert_eq!(provision::key_of(provision::type_byte(KeyType::Sign)), Some(KeyType::Sign));
        let identity = [[7u8; 10].to_vec(), [9u8; 32].to_vec()].concat();
        let (id, r) = provision::parse_identity(&identity).unwrap();
        assert_eq!((id, r.len()), ([7; 10], 32));
        assert!(provision::parse_identity(&identity[1..]).is_none());
    }
}
