//! GlobalPlatform secure channel protocol '03' and friends, sans-IO.
//!
//! - [`crypto`]: AES, CBC, CMAC, the SCP03 KDF, KCVs, "KDF3" diversification.
//! - [`keys`]: static key sets and the session keys derived from them.
//! - [`host::HostHandshake`] → [`Channel`]: the TSM's side; [`card::CardSession`]:
//!   the security domain's side. Both follow GP Card Spec v2.2 Amendment D
//!   v1.1.1 (S8 mode, i = `10`/`60`/`70`, levels `00 01 03 11 13 33`); the
//!   published vectors (osmocom pySim, GlobalPlatformPro) pass on both sides.
#![forbid(unsafe_code)]

pub mod aids;
pub mod ara;
pub mod card;
pub mod channel;
pub mod commands;
pub mod crypto;
pub mod host;
pub mod keys;
pub mod session;

pub use channel::{level, Channel};
pub use crypto::AesKey;
pub use keys::{SessionKeys, StaticKeys};

/// An SCP03 failure. Every one ends the secure channel session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Scp03Error {
    /// Bytes that are not what the protocol requires here.
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// The card does not speak SCP03.
    #[error("card answered SCP {0:02X}, not 03")]
    NotScp03(u8),
    /// The card used another key version than requested.
    #[error("card uses key version {card:02X}, {expected:02X} was requested")]
    KeyVersion {
        /// Requested KVN.
        expected: u8,
        /// The card's KVN.
        card: u8,
    },
    /// The card cryptogram is wrong: wrong keys, or the wrong diversification.
    #[error(
        "card cryptogram invalid: wrong static keys or key diversification (check the KDD, KVN and the derivation)"
    )]
    CardCryptogram,
    /// A pseudo-random card challenge does not match the SD AID and counter.
    #[error("card challenge does not match the security domain's AID and sequence counter")]
    CardChallenge,
    /// A security level Amd D does not define.
    #[error("security level {0:02X} is not one of 00, 01, 03, 11, 13, 33")]
    InvalidLevel(u8),
    /// A C-MAC or R-MAC does not verify.
    #[error("MAC verification failed")]
    BadMac,
    /// A command lacks the protection the session's level requires.
    #[error("command below the session's security level")]
    SecurityLevel,
    /// A normal response without its R-MAC.
    #[error("response has no R-MAC")]
    MissingResponseMac,
    /// No secure channel session is open.
    #[error("no secure channel session")]
    NoSession,
}

/// The INITIALIZE UPDATE response data, S8 mode (GPCS §D.4.1, Amd D §7.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitUpdateResponse {
    /// Key diversification data.
    pub kdd: [u8; 10],
    /// Key version number of the key set used.
    pub kvn: u8,
    /// The "i" parameter.
    pub i: u8,
    /// Card challenge.
    pub card_challenge: Vec<u8>,
    /// Card cryptogram.
    pub card_cryptogram: Vec<u8>,
    /// Sequence counter (pseudo-random challenge).
    pub sequence_counter: Option<[u8; 3]>,
}

impl InitUpdateResponse {
    /// Parses 29 bytes, or 32 when i says the challenge is pseudo-random.
    pub fn parse(data: &[u8]) -> Result<Self, Scp03Error> {
        if data.len() < 13 {
            return Err(Scp03Error::Malformed("INITIALIZE UPDATE response"));
        }
        if data[11] != 0x03 {
            return Err(Scp03Error::NotScp03(data[11]));
        }
        let i = data[12];
        let expected = if i & 0x10 != 0 { 32 } else { 29 };
        if data.len() != expected {
            return Err(Scp03Error::Malformed("INITIALIZE UPDATE response length"));
        }
        Ok(Self {
            kdd: data[..10].try_into().expect("10 bytes"),
            kvn: data[10],
            i,
            card_challenge: data[13..21].to_vec(),
            card_cryptogram: data[21..29].to_vec(),
            sequence_counter: (expected == 32).then(|| data[29..32].try_into().expect("3 bytes")),
        })
    }
}
