//! The SE's non-volatile state: CPLC, security domains with their key sets
//! and sequence counters, the registry with life cycle states, the ARA-M
//! rules. Kept in one JSON file, written atomically before any answer.

use gp::StaticKeys;
use serde::{Deserialize, Serialize};

/// SE file format tag.
pub const FORMAT: &str = "openjpki-se/1";

/// GP life cycle codings (GPCS §11.1.1).
pub mod lcs {
    /// Card: OP_READY.
    pub const OP_READY: u8 = 0x01;
    /// Card: INITIALIZED; application: SELECTABLE.
    pub const SELECTABLE: u8 = 0x07;
    /// Card: SECURED; SD: PERSONALIZED.
    pub const SECURED: u8 = 0x0F;
    /// Application: INSTALLED.
    pub const INSTALLED: u8 = 0x03;
    /// Locked bit for applications and SDs.
    pub const LOCKED_BIT: u8 = 0x80;
    /// Card: CARD_LOCKED.
    pub const CARD_LOCKED: u8 = 0x7F;
    /// Card: TERMINATED.
    pub const TERMINATED: u8 = 0xFF;
}

/// Built-in executable load files and modules (the SE's ROM).
pub mod rom {
    pub use gp::aids::{ISD as ISD_AID, SD_MODULE, SD_PACKAGE};
    pub use jpki::ap::JPKI_PACKAGE;
    /// The JPKI applet's module (its instances take the JPKI AP's AID).
    pub const JPKI_MODULE: &[u8] = &jpki::ap::AID_JPKI;
}

/// One static key set and its sequence counter.
#[derive(Clone, Serialize, Deserialize)]
pub struct KeySet {
    /// Key version number.
    pub kvn: u8,
    /// Key-ENC, Key-MAC, Key-DEK (base64).
    pub keys: [crate::secret::SecretBytes; 3],
    /// SCP03 pseudo-random challenge sequence counter.
    pub sequence: u32,
}

impl KeySet {
    /// Wraps static keys with a fresh counter.
    pub fn new(keys: &StaticKeys) -> Self {
        use crate::secret::SecretBytes as S;
        Self {
            kvn: keys.kvn,
            keys: [S::new(keys.enc.expose()), S::new(keys.mac.expose()), S::new(keys.dek.expose())],
            sequence: 0,
        }
    }

    /// The keys.
    pub fn static_keys(&self) -> StaticKeys {
        StaticKeys::new(self.kvn, self.keys[0].expose(), self.keys[1].expose(), self.keys[2].expose())
            .expect("stored keys have valid lengths")
    }
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeySet {{ kvn: {:02X}, REDACTED }}", self.kvn)
    }
}

/// What a registry entry is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A security domain (ISD or SSD).
    SecurityDomain,
    /// The ARA-M applet.
    AraM,
    /// An applet instance of a built-in module.
    Applet,
}

/// A registry entry: an application or security domain.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// Instance AID (hex in the file).
    #[serde(with = "crate::secret::hex_bytes")]
    pub aid: Vec<u8>,
    /// What it is.
    pub kind: Kind,
    /// Life cycle state.
    pub life_cycle: u8,
    /// Privileges (3 bytes).
    #[serde(with = "crate::secret::hex_bytes")]
    pub privileges: Vec<u8>,
    /// The associated security domain (the ISD for itself).
    #[serde(with = "crate::secret::hex_bytes")]
    pub security_domain: Vec<u8>,
    /// Key sets (security domains only).
    #[serde(default)]
    pub key_sets: Vec<KeySet>,
    /// The JPKI applet's data (JPKI applet instances only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jpki: Option<PhoneJpki>,
}

/// The phone JPKI applet's non-volatile data: the JPKI AP (token
/// `JPKIAPGPSETOKEN`, auth certificate behind the auth PIN, no text AP) and
/// the committed random R.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PhoneJpki {
    /// The JPKI AP's files, keys and PINs.
    pub card: mynacard::CardState,
    /// R, whose SHA-256 the app sent with the application (empty = none).
    pub commitment: crate::secret::SecretBytes,
}

impl PhoneJpki {
    /// A fresh instance: no keys, no certificates, PINs not set.
    pub fn new() -> Self {
        use mynacard::{PinId, PinState, Secret};
        let jpki = mynacard::state::JpkiState {
            token: mynacard::state::TOKEN_GPSE.into(),
            auth_cert_needs_pin: true,
            auth_cert: vec![],
            auth_ca_cert: vec![],
            sign_cert: vec![],
            sign_ca_cert: vec![],
            auth_key: Secret::default(),
            sign_key: Secret::default(),
            auth_pin: PinState::unset(PinId::Auth),
            sign_pin: PinState::unset(PinId::Sign),
        };
        Self {
            card: mynacard::CardState { format: mynacard::state::FORMAT.into(), jpki, text: None },
            commitment: crate::secret::SecretBytes::default(),
        }
    }
}

impl Default for PhoneJpki {
    fn default() -> Self {
        Self::new()
    }
}

impl Entry {
    /// Whether the entry can be selected now.
    pub fn is_selectable(&self) -> bool {
        self.life_cycle & lcs::LOCKED_BIT == 0 && self.life_cycle & 0x07 == 0x07
    }

    /// The key set with `kvn` (0 = the first).
    pub fn key_set(&self, kvn: u8) -> Option<&KeySet> {
        if kvn == 0 {
            self.key_sets.first()
        } else {
            self.key_sets.iter().find(|k| k.kvn == kvn)
        }
    }
}

/// Everything the SE keeps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeState {
    /// Always [`FORMAT`].
    pub format: String,
    /// CPLC (hex).
    #[serde(with = "crate::secret::hex_bytes")]
    pub cplc: Vec<u8>,
    /// Card life cycle state.
    pub card_life_cycle: u8,
    /// Registry, ISD first.
    pub registry: Vec<Entry>,
    /// ARA-M rules, each an encoded REF-AR-DO (hex).
    #[serde(default)]
    pub ara_rules: Vec<crate::secret::HexBytes>,
    /// ARA-M refresh tag.
    #[serde(with = "crate::secret::hex_bytes")]
    pub refresh_tag: Vec<u8>,
    /// The SE's attestation key, certified by the SE issuer at manufacture
    /// (docs/device-trust.md "SE key attestation"); none on an SE made
    /// without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<SeAttestation>,
}

/// The SE's attestation key (P-256, PKCS#8) and its certificate chain.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeAttestation {
    /// The key (PKCS#8).
    pub key: crate::secret::SecretBytes,
    /// Its certificate, issued by the SE issuer (DER).
    pub certificate: crate::secret::HexBytes,
    /// The SE issuer's root (DER).
    pub issuer_root: crate::secret::HexBytes,
}

impl SeState {
    /// The entry with `aid`.
    pub fn entry(&self, aid: &[u8]) -> Option<&Entry> {
        self.registry.iter().find(|e| e.aid == aid)
    }

    /// The entry with `aid`, mutable.
    pub fn entry_mut(&mut self, aid: &[u8]) -> Option<&mut Entry> {
        self.registry.iter_mut().find(|e| e.aid == aid)
    }

    /// The SE identifier (10 bytes from CPLC), also the ISD's KDD.
    pub fn se_identifier(&self) -> [u8; 10] {
        gp::commands::Cplc::parse(&self.cplc).map(|c| c.se_identifier()).unwrap_or([0; 10])
    }
}

/// `Vec<u8>` → [`crate::secret::HexBytes`].
pub trait HexBytesExt {
    /// Wraps the bytes.
    fn into_hex(self) -> crate::secret::HexBytes;
}

impl HexBytesExt for Vec<u8> {
    fn into_hex(self) -> crate::secret::HexBytes {
        crate::secret::HexBytes(self)
    }
}
