//! Status words (ISO/IEC 7816-4:2020 §5.6, tables 5 and 6), as a typed enum.
//!
//! One table, [`StatusWord::from_bytes`] and [`StatusWord::to_bytes`], maps
//! `(SW1, SW2)` both ways; anything not named is kept as [`StatusWord::Other`],
//! so the mapping is a bijection over all 65 536 values.

/// A response trailer, named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusWord {
    /// `90 00`: normal processing.
    Ok,
    /// `61 xx`: `xx` more bytes available with GET RESPONSE (`00` = 256).
    BytesAvailable(u8),
    /// `62 82`: end of file reached before `Ne` bytes were read.
    EndOfFile,
    /// `63 Cx`: verification failed or tries queried; `x` tries remain.
    TriesLeft(u8),
    /// `65 81`: memory failure (a write to non-volatile memory failed).
    MemoryFailure,
    /// `67 00`: wrong length (Lc or Le).
    WrongLength,
    /// `68 81`: logical channel not supported.
    ChannelNotSupported,
    /// `68 82`: secure messaging not supported.
    SecureMessagingNotSupported,
    /// `69 81`: command incompatible with file structure.
    IncompatibleFileStructure,
    /// `69 82`: security status not satisfied.
    SecurityStatusNotSatisfied,
    /// `69 83`: authentication method blocked.
    AuthenticationBlocked,
    /// `69 84`: reference data not usable (e.g. a blocked PIN).
    ReferenceDataNotUsable,
    /// `69 85`: conditions of use not satisfied.
    ConditionsNotSatisfied,
    /// `69 86`: command not allowed (no current EF).
    CommandNotAllowed,
    /// `69 88`: incorrect secure messaging data objects.
    IncorrectSecureMessaging,
    /// `6A 80`: incorrect parameters in the command data field.
    IncorrectData,
    /// `6A 81`: function not supported.
    FunctionNotSupported,
    /// `6A 82`: file or application not found.
    FileNotFound,
    /// `6A 84`: not enough memory space in the file.
    NotEnoughMemory,
    /// `6A 86`: incorrect parameters P1-P2.
    IncorrectP1P2,
    /// `6A 88`: referenced data or reference data not found.
    ReferencedDataNotFound,
    /// `6B 00`: wrong parameters P1-P2 (offset outside the EF).
    WrongP1P2,
    /// `6C xx`: wrong Le; `xx` is the exact length available.
    WrongLe(u8),
    /// `6D 00`: instruction code not supported or invalid.
    InsNotSupported,
    /// `6E 00`: class not supported.
    ClaNotSupported,
    /// `6F 00`: no precise diagnosis.
    NoPreciseDiagnosis,
    /// Any other value.
    Other(u16),
}

impl StatusWord {
    /// Names a status word.
    pub fn from_bytes(sw1: u8, sw2: u8) -> Self {
        use StatusWord::*;
        match (sw1, sw2) {
            (0x90, 0x00) => Ok,
            (0x61, n) => BytesAvailable(n),
            (0x62, 0x82) => EndOfFile,
            (0x63, n) if n & 0xF0 == 0xC0 => TriesLeft(n & 0x0F),
            (0x65, 0x81) => MemoryFailure,
            (0x67, 0x00) => WrongLength,
            (0x68, 0x81) => ChannelNotSupported,
            (0x68, 0x82) => SecureMessagingNotSupported,
            (0x69, 0x81) => IncompatibleFileStructure,
            (0x69, 0x82) => SecurityStatusNotSatisfied,
            (0x69, 0x83) => AuthenticationBlocked,
            (0x69, 0x84) => ReferenceDataNotUsable,
            (0x69, 0x85) => ConditionsNotSatisfied,
            (0x69, 0x86) => CommandNotAllowed,
            (0x69, 0x88) => IncorrectSecureMessaging,
            (0x6A, 0x80) => IncorrectData,
            (0x6A, 0x81) => FunctionNotSupported,
            (0x6A, 0x82) => FileNotFound,
            (0x6A, 0x84) => NotEnoughMemory,
            (0x6A, 0x86) => IncorrectP1P2,
            (0x6A, 0x88) => ReferencedDataNotFound,
            (0x6B, 0x00) => WrongP1P2,
            (0x6C, n) => WrongLe(n),
            (0x6D, 0x00) => InsNotSupported,
            (0x6E, 0x00) => ClaNotSupported,
            (0x6F, 0x00) => NoPreciseDiagnosis,
            _ => Other(u16::from_be_bytes([sw1, sw2])),
        }
    }

    /// The two trailer bytes.
    pub fn to_bytes(self) -> [u8; 2] {
        use StatusWord::*;
        match self {
            Ok => [0x90, 0x00],
            BytesAvailable(n) => [0x61, n],
            EndOfFile => [0x62, 0x82],
            TriesLeft(n) => [0x63, 0xC0 | (n & 0x0F)],
            MemoryFailure => [0x65, 0x81],
            WrongLength => [0x67, 0x00],
            ChannelNotSupported => [0x68, 0x81],
            SecureMessagingNotSupported => [0x68, 0x82],
            IncompatibleFileStructure => [0x69, 0x81],
            SecurityStatusNotSatisfied => [0x69, 0x82],
            AuthenticationBlocked => [0x69, 0x83],
            ReferenceDataNotUsable => [0x69, 0x84],
            ConditionsNotSatisfied => [0x69, 0x85],
            CommandNotAllowed => [0x69, 0x86],
            IncorrectSecureMessaging => [0x69, 0x88],
            IncorrectData => [0x6A, 0x80],
            FunctionNotSupported => [0x6A, 0x81],
            FileNotFound => [0x6A, 0x82],
            NotEnoughMemory => [0x6A, 0x84],
            IncorrectP1P2 => [0x6A, 0x86],
            ReferencedDataNotFound => [0x6A, 0x88],
            WrongP1P2 => [0x6B, 0x00],
            WrongLe(n) => [0x6C, n],
            InsNotSupported => [0x6D, 0x00],
            ClaNotSupported => [0x6E, 0x00],
            NoPreciseDiagnosis => [0x6F, 0x00],
            Other(v) => v.to_be_bytes(),
        }
    }

    /// The status word as one number, `SW1 << 8 | SW2`.
    pub fn as_u16(self) -> u16 {
        u16::from_be_bytes(self.to_bytes())
    }

    /// `90 00`, or a warning that still carries valid data (`62 82`).
    pub fn is_success(self) -> bool {
        matches!(self, StatusWord::Ok | StatusWord::EndOfFile)
    }
}

impl std::fmt::Display for StatusWord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [a, b] = self.to_bytes();
        write!(f, "{a:02X} {b:02X} ({self:?})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_word_round_trips() {
        for v in 0..=u16::MAX {
            let [a, b] = v.to_be_bytes();
            let sw = StatusWord::from_bytes(a, b);
            assert_eq!(sw.to_bytes(), [a, b], "{sw:?}");
        }
    }

    #[test]
    fn named_values() {
        assert_eq!(StatusWord::from_bytes(0x63, 0xC3), StatusWord::TriesLeft(3));
        assert_eq!(StatusWord::from_bytes(0x63, 0x00), StatusWord::Other(0x6300));
        assert_eq!(StatusWord::from_bytes(0x6A, 0x82), StatusWord::FileNotFound);
        assert_eq!(StatusWord::from_bytes(0x61, 0x10), StatusWord::BytesAvailable(0x10));
        assert_eq!(StatusWord::FileNotFound.to_string(), "6A 82 (FileNotFound)");
    }
}
