//! The card's non-volatile memory: everything that survives power loss, and
//! how it is written to its card file (atomically: temp file, fsync, rename,
//! fsync of the directory).

use crate::pin::{PinId, PinState};
use crate::secret::{b64, Secret};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Card file format tag, checked on load.
pub const FORMAT: &str = "openjpki-mynacard/1";

pub use jpki::ap::{TOKEN_CARD, TOKEN_GPSE};

/// Everything the card keeps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CardState {
    /// Always [`FORMAT`].
    pub format: String,
    /// 公的個人認証AP.
    pub jpki: JpkiState,
    /// 券面事項入力補助AP (absent on a phone's JPKI applet).
    #[serde(default)]
    pub text: Option<TextState>,
}

/// The JPKI AP's files.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JpkiState {
    /// EF `0006` text before space padding.
    pub token: String,
    /// Smartphone rule: EF `000A` readable only after the auth PIN (§3.5).
    #[serde(default)]
    pub auth_cert_needs_pin: bool,
    /// EF `000A`, DER.
    #[serde(with = "b64")]
    pub auth_cert: Vec<u8>,
    /// EF `000B`, DER.
    #[serde(with = "b64")]
    pub auth_ca_cert: Vec<u8>,
    /// EF `0001`, DER.
    #[serde(with = "b64")]
    pub sign_cert: Vec<u8>,
    /// EF `0002`, DER.
    #[serde(with = "b64")]
    pub sign_ca_cert: Vec<u8>,
    /// EF `0017`: PKCS#8 DER (empty = no key yet).
    pub auth_key: Secret,
    /// EF `001A`: PKCS#8 DER (empty = no key yet).
    pub sign_key: Secret,
    /// EF `0018`.
    pub auth_pin: PinState,
    /// EF `001B`.
    pub sign_pin: PinState,
}

/// The text AP's data (basic four attributes and my number).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TextState {
    /// 個人番号, 12 digits.
    pub my_number: Secret,
    /// 氏名.
    pub name: String,
    /// 住所.
    pub address: String,
    /// 生年月日, `YYYYMMDD`.
    pub birth: String,
    /// 性別, `1` male, `2` female, `9` not applicable.
    pub sex: String,
    /// EF `0011`.
    pub pin: PinState,
    /// EF `0005` DF 41: AP information (4 bytes).
    #[serde(with = "b64")]
    pub ap_info: Vec<u8>,
    /// EF `0005` DF 42: key identifier (16 bytes).
    #[serde(with = "b64")]
    pub key_id: Vec<u8>,
}

impl CardState {
    /// The state of one PIN (`None` for the text PIN of a phone applet).
    pub fn pin(&self, id: PinId) -> Option<&PinState> {
        match id {
            PinId::Auth => Some(&self.jpki.auth_pin),
            PinId::Sign => Some(&self.jpki.sign_pin),
            PinId::Text => self.text.as_ref().map(|t| &t.pin),
        }
    }

    /// The state of one PIN, mutable.
    pub fn pin_mut(&mut self, id: PinId) -> Option<&mut PinState> {
        match id {
            PinId::Auth => Some(&mut self.jpki.auth_pin),
            PinId::Sign => Some(&mut self.jpki.sign_pin),
            PinId::Text => self.text.as_mut().map(|t| &mut t.pin),
        }
    }

    /// Reads and checks a card file.
    pub fn load(path: &Path) -> Result<Self, StateError> {
        let bytes = std::fs::read(path).map_err(|e| StateError::Io(path.to_owned(), e))?;
        let state: CardState =
            serde_json::from_slice(&bytes).map_err(|e| StateError::Parse(path.to_owned(), e.to_string()))?;
        if state.format != FORMAT {
            return Err(StateError::Parse(path.to_owned(), format!("format {:?}, expected {FORMAT:?}", state.format)));
        }
        Ok(state)
    }

    /// Serializes the state.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("card state serializes")
    }
}

/// A card file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// File-system error.
    #[error("{path}: {source}", path = .0.display(), source = .1)]
    Io(PathBuf, #[source] std::io::Error),
    /// Not a card file.
    #[error("{path}: not a card file: {why}", path = .0.display(), why = .1)]
    Parse(PathBuf, String),
    /// A key in the file is not usable.
    #[error("card file holds an unusable {0} key")]
    BadKey(&'static str),
}

/// Where committed state goes: the card's EEPROM.
pub trait Nvm: Send {
    /// Makes `state` durable before returning (or fails, leaving the previous
    /// state durable).
    fn commit(&mut self, state: &CardState) -> std::io::Result<()>;
}

/// Volatile memory only (tests, fuzzing, benchmarks).
#[derive(Debug, Default)]
pub struct MemoryNvm;

impl Nvm for MemoryNvm {
    fn commit(&mut self, _: &CardState) -> std::io::Result<()> {
        Ok(())
    }
}

/// A card file on disk, replaced atomically on each commit.
#[derive(Debug)]
pub struct FileNvm {
    path: PathBuf,
}

impl FileNvm {
    /// Commits go to `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }
}

impl Nvm for FileNvm {
    fn commit(&mut self, state: &CardState) -> std::io::Result<()> {
        pki::fs::write_atomically(&self.path, &state.to_json())
    }
}
