//! Where tokens come from: a card in a PC/SC reader, or an emulated card
//! or phone (the phone as an NFC reader sees it).

use crate::config::Emulated;
use apdu::{Transport, TransportError};
use std::ffi::CString;

/// A connection to a token.
pub type Link = Box<dyn Transport + Send>;

/// A slot's source of tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An emulated token, always present.
    Emulated(Emulated),
    /// A PC/SC reader, by name.
    Reader(String),
}

impl Source {
    /// `slotDescription`.
    pub fn describe(&self) -> String {
        match self {
            Source::Emulated(e) => e.describe(),
            Source::Reader(name) => name.clone(),
        }
    }

    /// Whether the slot is a removable device (a reader).
    pub fn removable(&self) -> bool {
        matches!(self, Source::Reader(_))
    }
}

/// Opens the token in `source`. `Ok(None)`: no card in the reader.
pub fn connect(source: &Source, pcsc: Option<&pcsc::Context>) -> Result<Option<Link>, String> {
    match source {
        Source::Emulated(Emulated::Card(path)) => {
            let card = mynacard::MynaCard::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(Some(Box::new(transport::InProcess::new(card))))
        }
        Source::Emulated(Emulated::Phone(dir)) => {
            let se = phone::PhoneDir::new(dir).open_se().map_err(|e| e.to_string())?;
            let nfc = phone::NfcEmulation::new(&phone::SeService::new(se));
            Ok(Some(Box::new(transport::InProcess::new(nfc))))
        }
        Source::Reader(name) => {
            let Some(ctx) = pcsc else { return Err("PC/SC is not available".into()) };
            let cname = CString::new(name.as_str()).map_err(|e| e.to_string())?;
            match ctx.connect(&cname, pcsc::ShareMode::Shared, pcsc::Protocols::ANY) {
                Ok(card) => Ok(Some(Box::new(ReaderLink { card, reader: name.clone() }))),
                Err(pcsc::Error::NoSmartcard | pcsc::Error::RemovedCard) => Ok(None),
                Err(e) => Err(format!("connecting to {name}: {e}")),
            }
        }
    }
}

/// Card presence in each of `readers` (no connection is made).
pub fn cards_present(ctx: &pcsc::Context, readers: &[String]) -> Vec<bool> {
    let mut states: Vec<pcsc::ReaderState> = readers
        .iter()
        .filter_map(|n| CString::new(n.as_str()).ok())
        .map(|n| pcsc::ReaderState::new(n, pcsc::State::UNAWARE))
        .collect();
    if states.len() != readers.len() || states.is_empty() {
        return vec![false; readers.len()];
    }
    match ctx.get_status_change(std::time::Duration::ZERO, &mut states) {
        Ok(()) | Err(pcsc::Error::Timeout) => {
            states.iter().map(|s| s.event_state().contains(pcsc::State::PRESENT)).collect()
        }
        Err(_) => vec![false; readers.len()],
    }
}

/// A card in a PC/SC reader, shared with other programs.
struct ReaderLink {
    card: pcsc::Card,
    reader: String,
}

impl Transport for ReaderLink {
    fn transmit_raw(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let mut buf = vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
        let n = self
            .card
            .transmit(command, &mut buf)
            .map_err(|e| TransportError::backend(format!("transmit to {}", self.reader), e))?
            .len();
        buf.truncate(n);
        Ok(buf)
    }
}

/// Whether a transport failure means the card is gone, or was reset by
/// another program (its PIN state is then lost too): the token's sessions
/// end with `CKR_DEVICE_REMOVED`.
pub fn is_removal(e: &TransportError) -> bool {
    let TransportError::Backend { source, .. } = e else { return matches!(e, TransportError::NoCard(_)) };
    matches!(
        source.downcast_ref::<pcsc::Error>(),
        Some(
            pcsc::Error::RemovedCard
                | pcsc::Error::NoSmartcard
                | pcsc::Error::ResetCard
                | pcsc::Error::UnknownReader
                | pcsc::Error::ReaderUnavailable
                | pcsc::Error::UnpoweredCard
                | pcsc::Error::UnresponsiveCard
        )
    )
}
