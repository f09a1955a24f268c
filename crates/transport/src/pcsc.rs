//! Real readers through PC/SC (pcsc-lite on Linux and macOS, WinSCard on
//! Windows) with the `pcsc` crate.

use apdu::{Transport, TransportError};
use pcsc::{Context, Protocols, Scope, ShareMode, State};
use std::ffi::CString;

/// A reader and what is in it.
#[derive(Debug, Clone)]
pub struct ReaderInfo {
    /// The reader's name.
    pub name: String,
    /// Whether a card is present.
    pub card_present: bool,
    /// The card's ATR, when present.
    pub atr: Option<Vec<u8>>,
}

fn backend(context: &str, e: pcsc::Error) -> TransportError {
    match e {
        pcsc::Error::NoService | pcsc::Error::ServiceStopped => TransportError::NoReader(format!(
            "{context}: the PC/SC service is not running (start pcscd, e.g. `sudo systemctl start pcscd`)"
        )),
        pcsc::Error::NoReadersAvailable => TransportError::NoReader(format!("{context}: no reader connected")),
        other => TransportError::backend(context.to_string(), other),
    }
}

/// Lists the readers and whether each holds a card.
pub fn list_readers() -> Result<Vec<ReaderInfo>, TransportError> {
    let ctx = Context::establish(Scope::User).map_err(|e| backend("PC/SC", e))?;
    let names = ctx.list_readers_owned().map_err(|e| backend("listing readers", e))?;
    let mut states: Vec<pcsc::ReaderState> =
        names.iter().map(|n| pcsc::ReaderState::new(n.clone(), State::UNAWARE)).collect();
    if !states.is_empty() {
        ctx.get_status_change(std::time::Duration::from_millis(0), &mut states)
            .or_else(|e| if e == pcsc::Error::Timeout { Ok(()) } else { Err(e) })
            .map_err(|e| backend("reading reader states", e))?;
    }
    Ok(states
        .iter()
        .map(|s| {
            let present = s.event_state().contains(State::PRESENT);
            ReaderInfo {
                name: s.name().to_string_lossy().into_owned(),
                card_present: present,
                atr: present.then(|| s.atr().to_vec()),
            }
        })
        .collect())
}

/// A connected card in a PC/SC reader.
pub struct PcscCard {
    card: pcsc::Card,
    reader: String,
}

impl std::fmt::Debug for PcscCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcscCard").field("reader", &self.reader).finish()
    }
}

impl PcscCard {
    /// Connects to the first reader whose name contains `filter` (case
    /// insensitive), or to the first reader holding a card.
    pub fn connect(filter: Option<&str>) -> Result<Self, TransportError> {
        let readers = list_readers()?;
        let chosen = match filter {
            Some(f) => {
                let f = f.to_lowercase();
                readers.iter().find(|r| r.name.to_lowercase().contains(&f)).ok_or_else(|| {
                    let names: Vec<_> = readers.iter().map(|r| r.name.as_str()).collect();
                    TransportError::NoReader(format!("no reader matches {f:?}; readers: {names:?}"))
                })?
            }
            None => readers.iter().find(|r| r.card_present).ok_or_else(|| {
                if readers.is_empty() {
                    TransportError::NoReader("no reader connected".into())
                } else {
                    TransportError::NoCard("no reader holds a card; insert one or pass --reader".into())
                }
            })?,
        };
        if !chosen.card_present {
            return Err(TransportError::NoCard(chosen.name.clone()));
        }
        let ctx = Context::establish(Scope::User).map_err(|e| backend("PC/SC", e))?;
        let name = CString::new(chosen.name.clone()).map_err(|e| TransportError::backend("reader name", e))?;
        let card = ctx
            .connect(&name, ShareMode::Shared, Protocols::ANY)
            .map_err(|e| backend(&format!("connecting to {}", chosen.name), e))?;
        Ok(Self { card, reader: chosen.name.clone() })
    }

    /// The reader's name.
    pub fn reader(&self) -> &str {
        &self.reader
    }

    /// The card's ATR.
    pub fn atr(&self) -> Result<Vec<u8>, TransportError> {
        let mut buf = [0u8; pcsc::MAX_ATR_SIZE];
        let atr =
            self.card.get_attribute(pcsc::Attribute::AtrString, &mut buf).map_err(|e| backend("reading the ATR", e))?;
        Ok(atr.to_vec())
    }
}

impl Transport for PcscCard {
    fn transmit_raw(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let mut buf = vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
        let n = self
            .card
            .transmit(command, &mut buf)
            .map_err(|e| backend(&format!("transmit to {}", self.reader), e))?
            .len();
        buf.truncate(n);
        Ok(buf)
    }
}
