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
/// hidden, and what is read from the files holding personal data (the My
/// Number, the four basic attributes and the card's other text, and the
/// signature certificate, which carries them) replaced by its length
/// unless `--trace-personal-data` asks for it (issue 15).
struct Traced<T> {
    inner: T,
    /// The application and file the card has selected, as far as the
    /// commands sent show it.
    app: Option<Vec<u8>>,
    file: Option<u16>,
    personal_data: bool,
}

impl<T> Traced<T> {
    fn new(inner: T, personal_data: bool) -> Self {
        Self { inner, app: None, file: None, personal_data }
    }

    /// The command as the trace shows it; follows SELECTs.
    fn shown_command(&mut self, command: &[u8]) -> String {
        match (command.get(1), command.get(2), command.get(4)) {
            (Some(0xA4), Some(0x04), Some(&lc)) => {
                self.app = command.get(5..5 + lc as usize).map(<[u8]>::to_vec);
                self.file = None;
            }
            (Some(0xA4), Some(0x02), Some(2)) => {
                self.file = command.get(5..7).map(|id| u16::from_be_bytes([id[0], id[1]]));
            }
            _ => {}
        }
        let secret = matches!(command.get(1), Some(0x20 | 0x24)) && command.len() > 5;
        if secret {
            format!("{} <PIN REDACTED>", hex::encode_upper(&command[..4]))
        } else {
            hex::encode_upper(command)
        }
    }

    /// The response as the trace shows it.
    fn shown_response(&self, command: &[u8], response: &[u8]) -> String {
        let read = command.get(1) == Some(&0xB0) && response.len() > 2;
        if read && !self.personal_data && self.holds_personal_data() {
            let (data, status) = response.split_at(response.len() - 2);
            return format!(
                "<{} bytes of personal data; --trace-personal-data shows them> {}",
                data.len(),
                hex::encode_upper(status)
            );
        }
        hex::encode_upper(response)
    }

    fn holds_personal_data(&self) -> bool {
        use jpki::ap::{AID_JPKI, AID_TEXT, EF_SIGN_CERT, EF_TEXT_ATTRS, EF_TEXT_INFO, EF_TEXT_MY_NUMBER};
        match (self.app.as_deref(), self.file) {
            (Some(app), Some(file)) if app == AID_TEXT => {
                [EF_TEXT_MY_NUMBER, EF_TEXT_ATTRS, EF_TEXT_INFO].contains(&file)
            }
            (Some(app), Some(file)) if app == AID_JPKI => file == EF_SIGN_CERT,
            // A file read before any application was seen: assume the worst.
            (None, Some(_)) => true,
            _ => false,
        }
    }
}

impl<T: Transport> Transport for Traced<T> {
    fn transmit_raw(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let shown = self.shown_command(command);
        tracing::trace!(target: "apdu", "> {shown}");
        let response = self.inner.transmit_raw(command)?;
        tracing::trace!(target: "apdu", "< {}", self.shown_response(command, &response));
        Ok(response)
    }
}

/// Opens the device named by the arguments.
pub fn open(args: &DeviceArgs) -> Result<Device> {
    if let Some(path) = &args.card {
        let card = MynaCard::open(path)
            .with_context(|| format!("cannot open card file {} (make one with `jpki card new`)", path.display()))?;
        let atr = card.atr();
        let transport: Box<dyn Transport> = Box::new(Traced::new(InProcess::new(card), args.trace_personal_data));
        return Ok(Device { card: JpkiCard::new(transport), reader: format!("emulator: {}", path.display()), atr });
    }
    let pcsc = PcscCard::connect(args.reader.as_deref()).context(
        "no card to use: insert a card, name a reader with --reader, or use an emulated card with --card FILE",
    )?;
    let reader = pcsc.reader().to_string();
    let atr = pcsc.atr().unwrap_or_default();
    Ok(Device { card: JpkiCard::new(Box::new(Traced::new(pcsc, args.trace_personal_data))), reader, atr })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The trace of reading the My Number, the basic attributes and the
    /// signature certificate shows their length, not their bytes; the auth
    /// certificate (no personal data) and status words show in full; with
    /// `--trace-personal-data` everything shows.
    #[test]
    fn personal_data_is_replaced_by_its_length_in_the_trace() {
        use jpki::ap::{AID_JPKI, AID_TEXT};
        let select_app = |aid: &[u8]| [&[0x00, 0xA4, 0x04, 0x0C, aid.len() as u8][..], aid].concat();
        let select_file = |id: u16| [&[0x00, 0xA4, 0x02, 0x0C, 0x02][..], &id.to_be_bytes()].concat();
        let read = [0x00, 0xB0, 0x00, 0x00, 0x00];
        let my_number = b"123456789018\x90\x00";
        let mut t = Traced::new((), false);
        t.shown_command(&select_app(&AID_TEXT));
        t.shown_command(&select_file(0x0001));
        let shown = t.shown_response(&read, my_number);
        assert_eq!(shown, "<12 bytes of personal data; --trace-personal-data shows them> 9000");
        t.shown_command(&select_file(0x0002));
        assert!(t.shown_response(&read, b"name address\x90\x00").starts_with("<12 bytes"));
        t.shown_command(&select_app(&AID_JPKI));
        t.shown_command(&select_file(0x0001));
        assert!(t.shown_response(&read, b"sign cert\x90\x00").starts_with("<9 bytes"));
        t.shown_command(&select_file(0x000A));
        assert_eq!(t.shown_response(&read, b"\x30\x82\x90\x00"), "30829000", "the auth certificate");
        assert_eq!(t.shown_response(&[0x00, 0x20, 0x00, 0x80], b"\x63\xC3"), "63C3");
        let verify = t.shown_command(&[0x00, 0x20, 0x00, 0x80, 0x04, b'1', b'2', b'3', b'4']);
        assert_eq!(verify, "00200080 <PIN REDACTED>");

        let mut asked = Traced::new((), true);
        asked.shown_command(&select_app(&AID_TEXT));
        asked.shown_command(&select_file(0x0001));
        assert_eq!(asked.shown_response(&read, my_number), hex::encode_upper(my_number));
    }
}
