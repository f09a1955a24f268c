//! The ISD master key, from which every SE's ISD keys are derived (KDF3 of
//! GP Amendment D with the SE identifier): in a file, or in a PKCS#11 token
//! where it was imported at `--init` (the key ceremony with the SE
//! manufacturer, who holds the other copy) and from which it never leaves —
//! only the per-SE keys the CMACs derive come out (issue 15, point 5).

use gp::{AesKey, StaticKeys};
use tsm::TsmError;

/// The label of the key in the token.
pub const TOKEN_LABEL: &str = "isd-master";

/// Where the master key is.
pub enum IsdMaster {
    /// In memory, from a key file.
    Software(AesKey),
    /// In a PKCS#11 token.
    Token(hsm::AesKeyRef),
}

impl std::fmt::Debug for IsdMaster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IsdMaster::Software(_) => f.write_str("IsdMaster::Software(<redacted>)"),
            IsdMaster::Token(k) => write!(f, "IsdMaster::Token({k:?})"),
        }
    }
}

impl IsdMaster {
    /// The ISD keys of the SE `se_identifier` (KVN `kvn`).
    pub fn isd_keys(&self, kvn: u8, se_identifier: &[u8]) -> Result<StaticKeys, TsmError> {
        match self {
            IsdMaster::Software(master) => Ok(StaticKeys::diversify_kdf3(kvn, master, se_identifier)),
            // AES-256, as `--init` imports it.
            IsdMaster::Token(key) => StaticKeys::diversify_kdf3_with(kvn, 32, se_identifier, |block| key.cmac(block))
                .map_err(|e| TsmError::Key(e.to_string())),
        }
    }
}
