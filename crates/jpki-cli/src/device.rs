//! Opening the card a command works on: an emulated card file in-process,
//! or a card in a PC/SC reader.

use crate::args::DeviceArgs;
use anyhow::{Context, Result};
use apdu::{Icc, Transport, TransportError};
use jpki::JpkiCard;
use mynacard::MynaCard;
use transport::pcsc::PcscCard;
use transport::InProcess;

/// A card, its reader and ATR.
pub struct Device {
    /// The client over the transport.
    pub card: JpkiCard<Box<dyn Transport>>,
    /// Reader name (or "emulator: FILE").
    pub reader: String,
    /// Answer to reset.
    pub atr: Vec<u8>,
}

/// Logs every APDU at trace level (`-vvv`), with VERIFY and PIN-change data
/// hidden.
struct Traced<T>(T);

impl<T: Transport> Transport for Traced<T> {
    fn transmit_raw(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let secret = matches!(command.get(1), Some(0x20 | 0x24)) && command.len() > 5;
        let shown = if secret {
            format!("{} <PIN REDACTED>", hex::encode_upper(&command[..4]))
        } else {
            hex::encode_upper(command)
        };
        tracing::trace!(target: "apdu", "> {shown}");
        let response = self.0.transmit_raw(command)?;
        tracing::trace!(target: "apdu", "< {}", hex::encode_upper(&response));
        Ok(response)
    }
}

/// Opens the device named by the arguments.
pub fn open(args: &DeviceArgs) -> Result<Device> {
    if let Some(path) = &args.card {
        let card = MynaCard::open(path)
            .with_context(|| format!("cannot open card file {} (make one with `jpki card new`)", path.display()))?;
        let atr = card.atr();
        let transport: Box<dyn Transport> = Box::new(Traced(InProcess::new(card)));
        return Ok(Device { card: JpkiCard::new(transport), reader: format!("emulator: {}", path.display()), atr });
    }
    let pcsc = PcscCard::connect(args.reader.as_deref()).context(
        "no card to use: insert a card, name a reader with --reader, or use an emulated card with --card FILE",
    )?;
    let reader = pcsc.reader().to_string();
    let atr = pcsc.atr().unwrap_or_default();
    Ok(Device { card: JpkiCard::new(Box::new(Traced(pcsc))), reader, atr })
}
