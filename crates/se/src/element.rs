//! The SE as manufactured: its ROM (which applet runs each kind of
//! registry entry — a new applet is one more line here, not a change to
//! the runtime's dispatcher) and its factory state.

use crate::runtime::{Applet, FileNvm, SeNvm, SecureElement};
use crate::state::{lcs, rom, Entry, KeySet, Kind, SeState, FORMAT};
use gp::crypto::AesKey;
use gp::StaticKeys;

/// The ROM: the applet that runs each kind of entry.
fn rom(kind: &Kind) -> &'static dyn Applet {
    match kind {
        Kind::SecurityDomain => &crate::sd::SecurityDomain,
        Kind::AraM => &crate::aram::AraM,
        Kind::Applet => &crate::applet::JpkiApplet,
    }
}

/// Default KVN of the factory ISD key set.
pub const ISD_KVN: u8 = 0x01;

impl SecureElement {
    /// A new SE in state SECURED: an ISD whose static keys are diversified
    /// from `master` with "KDF3" and the SE identifier, and the ARA-M.
    pub fn manufacture(master: &AesKey, serial: [u8; 4], batch: [u8; 2]) -> SeState {
        let cplc = gp::commands::Cplc::new([0x4F, 0x4A], [0x53, 0x45], serial, batch);
        let keys = StaticKeys::diversify_kdf3(ISD_KVN, master, &cplc.se_identifier());
        let isd = Entry {
            aid: rom::ISD_AID.to_vec(),
            kind: Kind::SecurityDomain,
            life_cycle: lcs::SECURED,
            privileges: vec![0x9E, 0xFE, 0x80],
            security_domain: rom::ISD_AID.to_vec(),
            key_sets: vec![KeySet::new(&keys)],
            jpki: None,
        };
        let ara = Entry {
            aid: gp::ara::ARA_M_AID.to_vec(),
            kind: Kind::AraM,
            life_cycle: lcs::SELECTABLE,
            privileges: vec![0, 0, 0],
            security_domain: rom::ISD_AID.to_vec(),
            key_sets: vec![],
            jpki: None,
        };
        SeState {
            format: FORMAT.into(),
            cplc: cplc.raw.to_vec(),
            card_life_cycle: lcs::SECURED,
            registry: vec![isd, ara],
            ara_rules: vec![],
            refresh_tag: vec![0; 8],
            attestation: None,
        }
    }

    /// [`SecureElement::manufacture`] with an attestation key that the SE
    /// issuer `issuer` certifies for this SE's identifier, so the JPKI
    /// applet can attest the keys it generates.
    pub fn manufacture_attested(
        master: &AesKey,
        issuer: &attest::x509::Authority,
        serial: [u8; 4],
        batch: [u8; 2],
    ) -> Result<SeState, attest::Error> {
        let mut state = Self::manufacture(master, serial, batch);
        let key = attest::se_key::certify_se(issuer, &state.se_identifier())?;
        state.attestation = Some(crate::state::SeAttestation {
            key: crate::secret::SecretBytes::new(key.authority.key().pkcs8()),
            certificate: crate::secret::HexBytes(key.authority.certificate.clone()),
            issuer_root: crate::secret::HexBytes(key.issuer_root),
        });
        Ok(state)
    }

    /// An SE with `state`, committing to `nvm`, running the ROM's applets.
    pub fn new(state: SeState, nvm: Box<dyn SeNvm>) -> Result<Self, String> {
        Self::with_rom(state, nvm, rom)
    }

    /// Opens an SE file.
    pub fn open(path: &std::path::Path) -> Result<Self, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let state: SeState = serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::new(state, Box::new(FileNvm(path.to_owned())))
    }
}
