//! Command APDUs (ISO/IEC 7816-4:2020 §5.1, "Command-response pairs").
//!
//! Encoding picks the short form whenever `Nc ≤ 255` and `Ne ≤ 256`, and the
//! extended form otherwise, as the standard recommends. Parsing accepts both.

use thiserror::Error;
use zeroize::Zeroize;

/// Largest `Ne` a short Le field can express (`Le = 00` means 256).
pub const SHORT_LE_MAX: usize = 256;
/// Largest `Ne` an extended Le field can express (`Le = 00 00` means 65 536).
pub const EXTENDED_LE_MAX: usize = 65_536;

/// A command APDU: header, command data and the expected response length `Ne`.
#[derive(Clone, PartialEq, Eq)]
pub struct Command {
    /// Class byte.
    pub cla: u8,
    /// Instruction byte.
    pub ins: u8,
    /// Parameter 1.
    pub p1: u8,
    /// Parameter 2.
    pub p2: u8,
    /// Command data field (`Nc` bytes, possibly empty).
    pub data: Vec<u8>,
    /// Maximum number of response bytes expected (`Ne`); `None` when absent.
    pub ne: Option<usize>,
}

/// Why bytes are not a well-formed command APDU.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommandError {
    /// Fewer than four header bytes.
    #[error("APDU shorter than its 4-byte header")]
    TooShort,
    /// The length fields disagree with the number of bytes present.
    #[error("APDU length fields do not match its size ({0} bytes)")]
    BadLength(usize),
    /// The command data is longer than an extended Lc can express.
    #[error("command data of {0} bytes exceeds 65535")]
    DataTooLong(usize),
    /// `Ne` larger than 65 536.
    #[error("expected length {0} exceeds 65536")]
    NeTooLarge(usize),
}

impl Command {
    /// A case-1 command (header only).
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8) -> Self {
        Self { cla, ins, p1, p2, data: Vec::new(), ne: None }
    }

    /// Sets the command data (case 3, or case 4 with [`Command::with_ne`]).
    pub fn with_data(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.data = data.into();
        self
    }

    /// Sets the expected response length `Ne` (case 2, or case 4 with data).
    pub fn with_ne(mut self, ne: usize) -> Self {
        self.ne = Some(ne);
        self
    }

    /// Whether this command needs the extended length form.
    pub fn is_extended(&self) -> bool {
        self.data.len() > 255 || self.ne.is_some_and(|ne| ne > SHORT_LE_MAX)
    }

    /// Encodes the command, short form when possible (ISO/IEC 7816-4 §5.1).
    pub fn to_bytes(&self) -> Result<Vec<u8>, CommandError> {
        let nc = self.data.len();
        if nc > 65_535 {
            return Err(CommandError::DataTooLong(nc));
        }
        if let Some(ne) = self.ne {
            if ne > EXTENDED_LE_MAX {
                return Err(CommandError::NeTooLarge(ne));
            }
        }
        let mut out = Vec::with_capacity(4 + 3 + nc + 3);
        out.extend_from_slice(&[self.cla, self.ins, self.p1, self.p2]);
        let extended = self.is_extended();
        if nc > 0 {
            if extended {
                out.push(0);
                out.extend_from_slice(&(nc as u16).to_be_bytes());
            } else {
                out.push(nc as u8);
            }
            out.extend_from_slice(&self.data);
        }
        if let Some(ne) = self.ne {
            if extended {
                if nc == 0 {
                    out.push(0);
                }
                out.extend_from_slice(&((ne % EXTENDED_LE_MAX) as u16).to_be_bytes());
            } else {
                out.push((ne % SHORT_LE_MAX) as u8);
            }
        }
        Ok(out)
    }

    /// Parses a command APDU in any case, short or extended (ISO/IEC 7816-4
    /// §5.1, table "Decoding of the command body"). Rejects every byte string
    /// whose length fields do not account for exactly all its bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, CommandError> {
        let [cla, ins, p1, p2, body @ ..] = bytes else {
            return Err(CommandError::TooShort);
        };
        let mut cmd = Command::new(*cla, *ins, *p1, *p2);
        let bad = || CommandError::BadLength(bytes.len());
        match body {
            // Case 1.
            [] => {}
            // Case 2S.
            [le] => cmd.ne = Some(short_ne(*le)),
            // Extended cases start with a zero byte followed by at least two.
            [0, rest @ ..] if rest.len() >= 2 => {
                let n = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
                let tail = &rest[2..];
                if tail.is_empty() {
                    // Case 2E.
                    cmd.ne = Some(extended_ne(n));
                } else {
                    // Case 3E or 4E; Nc = 0 cannot be written in extended form.
                    if n == 0 {
                        return Err(bad());
                    }
                    match tail.len().checked_sub(n) {
                        Some(0) => cmd.data = tail.to_vec(),
                        Some(2) => {
                            cmd.data = tail[..n].to_vec();
                            cmd.ne = Some(extended_ne(usize::from(u16::from_be_bytes([tail[n], tail[n + 1]]))));
                        }
                        _ => return Err(bad()),
                    }
                }
            }
            // Case 3S or 4S.
            [lc, rest @ ..] if *lc != 0 => {
                let n = usize::from(*lc);
                match rest.len().checked_sub(n) {
                    Some(0) => cmd.data = rest.to_vec(),
                    Some(1) => {
                        cmd.data = rest[..n].to_vec();
                        cmd.ne = Some(short_ne(rest[n]));
                    }
                    _ => return Err(bad()),
                }
            }
            // `Lc = 00` in short form is not a valid encoding (the zero byte is
            // the extended-length marker); an emulator answers `67 00`.
            _ => return Err(bad()),
        }
        Ok(cmd)
    }
}

fn short_ne(le: u8) -> usize {
    if le == 0 {
        SHORT_LE_MAX
    } else {
        usize::from(le)
    }
}

fn extended_ne(le: usize) -> usize {
    if le == 0 {
        EXTENDED_LE_MAX
    } else {
        le
    }
}

impl Drop for Command {
    /// Command data may be a PIN: it is wiped when the command is dropped.
    fn drop(&mut self) {
        self.data.zeroize();
    }
}

impl std::fmt::Debug for Command {
    /// Prints the header and sizes only: command data may hold a PIN.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Command {{ {:02X} {:02X} {:02X} {:02X}, nc: {}, ne: {:?} }}",
            self.cla,
            self.ins,
            self.p1,
            self.p2,
            self.data.len(),
            self.ne
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace().map(|b| u8::from_str_radix(b, 16).unwrap()).collect()
    }

    #[test]
    fn four_cases_short_round_trip() {
        let cases = [
            ("00 20 00 80", Command::new(0, 0x20, 0, 0x80)),
            ("00 B0 00 00 00", Command::new(0, 0xB0, 0, 0).with_ne(256)),
            ("00 B0 00 00 04", Command::new(0, 0xB0, 0, 0).with_ne(4)),
            ("00 A4 02 0C 02 00 18", Command::new(0, 0xA4, 2, 0x0C).with_data(vec![0, 0x18])),
            ("80 2A 00 80 02 AA BB 00", Command::new(0x80, 0x2A, 0, 0x80).with_data(vec![0xAA, 0xBB]).with_ne(256)),
        ];
        for (bytes, cmd) in cases {
            assert_eq!(Command::parse(&hex(bytes)).unwrap(), cmd, "{bytes}");
            assert_eq!(cmd.to_bytes().unwrap(), hex(bytes), "{bytes}");
        }
    }

    #[test]
    fn extended_forms_round_trip() {
        // The real-card trace's extended READ BINARY of 0x061F bytes.
        let read = Command::parse(&hex("00 B0 00 04 00 06 1F")).unwrap();
        assert_eq!(read.ne, Some(0x061F));
        assert_eq!(read.to_bytes().unwrap(), hex("00 B0 00 04 00 06 1F"));
        assert_eq!(Command::parse(&hex("00 B0 00 00 00 00 00")).unwrap().ne, Some(65_536));

        let data = vec![0x5A; 300];
        let c3 = Command::new(0x80, 0xE2, 0, 0).with_data(data.clone());
        let enc = c3.to_bytes().unwrap();
        assert_eq!(&enc[4..7], &[0, 0x01, 0x2C]);
        assert_eq!(Command::parse(&enc).unwrap(), c3);

        let c4 = c3.clone().with_ne(1000);
        let enc = c4.to_bytes().unwrap();
        assert_eq!(&enc[enc.len() - 2..], &[0x03, 0xE8]);
        assert_eq!(Command::parse(&enc).unwrap(), c4);

        // Short data with a large Ne forces extended form for both fields.
        let c = Command::new(0, 0xB0, 0, 0).with_data(vec![1]).with_ne(300);
        assert_eq!(c.to_bytes().unwrap(), hex("00 B0 00 00 00 00 01 01 01 2C"));
    }

    #[test]
    fn malformed_lengths_are_rejected() {
        for bad in [
            "",
            "00",
            "00 A4 04",
            "00 A4 02 0C 02 00",          // Lc says 2, 1 present
            "00 A4 02 0C 02 00 18 00 00", // two trailing bytes
            "00 A4 02 0C 00 12",          // short Lc = 0 with data
            "00 B0 00 00 00 00 00 00",    // extended Lc = 0 followed by bytes
            "00 B0 00 00 00 00 02 01",    // extended Lc 2, one byte
            "00 B0 00 00 00 00 01 01 01", // extended Le truncated
        ] {
            assert!(Command::parse(&hex(bad)).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn debug_hides_command_data() {
        let verify = Command::new(0, 0x20, 0, 0x80).with_data(b"1234".to_vec());
        let shown = format!("{verify:?}");
        assert!(!shown.contains("1234") && !shown.contains("31"), "{shown}");
    }
}
