//! The JPKI client over any [`Transport`]: select, read files, PIN status and
//! VERIFY, signing, PIN change, and the text AP (spec/jpki-card.md §2–§5).

use crate::ap::*;
use crate::error::{Error, Result};
use crate::pin::PinId;
use apdu::{tlv, Command, StatusWord, Transport};
use zeroize::Zeroizing;

/// Which certificate to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CertType {
    /// User-authentication certificate (EF 000A).
    Auth,
    /// User-authentication CA (EF 000B).
    AuthCa,
    /// Signature certificate (EF 0001; needs the signature password).
    Sign,
    /// Signature CA (EF 0002).
    SignCa,
}

impl CertType {
    /// The EF holding it.
    pub fn fid(self) -> u16 {
        match self {
            CertType::Auth => EF_AUTH_CERT,
            CertType::AuthCa => EF_AUTH_CA_CERT,
            CertType::Sign => EF_SIGN_CERT,
            CertType::SignCa => EF_SIGN_CA_CERT,
        }
    }
}

/// Which key signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyType {
    /// User-authentication key (EF 0017, auth PIN).
    Auth,
    /// Signature key (EF 001A, signature password).
    Sign,
}

impl KeyType {
    /// The key EF.
    pub fn fid(self) -> u16 {
        match self {
            KeyType::Auth => EF_AUTH_KEY,
            KeyType::Sign => EF_SIGN_KEY,
        }
    }

    /// The PIN that unlocks it.
    pub fn pin(self) -> PinId {
        match self {
            KeyType::Auth => PinId::Auth,
            KeyType::Sign => PinId::Sign,
        }
    }

    /// Its certificate.
    pub fn cert(self) -> CertType {
        match self {
            KeyType::Auth => CertType::Auth,
            KeyType::Sign => CertType::Sign,
        }
    }

    /// Its CA certificate.
    pub fn ca_cert(self) -> CertType {
        match self {
            KeyType::Auth => CertType::AuthCa,
            KeyType::Sign => CertType::SignCa,
        }
    }
}

/// Which application is selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ap {
    Jpki,
    Text,
}

/// A JPKI token (card or phone) behind a transport.
#[derive(Debug)]
pub struct JpkiCard<T: Transport> {
    transport: T,
    selected: Option<Ap>,
}

/// Largest chunk read with one short READ BINARY.
const CHUNK: usize = 256;

impl<T: Transport> JpkiCard<T> {
    /// Wraps a transport; nothing is sent yet.
    pub fn new(transport: T) -> Self {
        Self { transport, selected: None }
    }

    /// The transport.
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    fn send(&mut self, cmd: &Command) -> Result<apdu::Response> {
        Ok(self.transport.send(cmd)?)
    }

    fn expect_ok(&mut self, cmd: &Command, context: &str) -> Result<Vec<u8>> {
        let r = self.send(cmd)?;
        match r.sw {
            StatusWord::Ok => Ok(r.data),
            sw => Err(Error::Card { context: context.into(), sw }),
        }
    }

    fn select_ap(&mut self, ap: Ap) -> Result<()> {
        if self.selected == Some(ap) {
            return Ok(());
        }
        let aid = match ap {
            Ap::Jpki => AID_JPKI,
            Ap::Text => AID_TEXT,
        };
        // SELECT by DF name, no response data (§1).
        let r = self.send(&Command::new(0x00, 0xA4, 0x04, 0x0C).with_data(aid.to_vec()))?;
        match r.sw {
            StatusWord::Ok => {
                self.selected = Some(ap);
                Ok(())
            }
            sw if ap == Ap::Jpki => Err(Error::NotJpki(sw)),
            sw => Err(Error::Card { context: "selecting the text AP".into(), sw }),
        }
    }

    /// Selects the JPKI AP afresh; this clears the card's verified PINs
    /// (OpenSC ≥ 0.24's logout).
    pub fn reselect(&mut self) -> Result<()> {
        self.selected = None;
        self.select_ap(Ap::Jpki)
    }

    fn select_ef(&mut self, fid: u16) -> Result<()> {
        let r = self.send(&Command::new(0x00, 0xA4, 0x02, 0x0C).with_data(fid.to_be_bytes().to_vec()))?;
        match r.sw {
            StatusWord::Ok => Ok(()),
            sw => Err(Error::Card { context: format!("selecting EF {fid:04X}"), sw }),
        }
    }

    fn read_range(&mut self, offset: usize, len: usize, pin: Option<PinId>) -> Result<Vec<u8>> {
        let [p1, p2] =
            u16::try_from(offset).map_err(|_| Error::Malformed("file larger than 32 KiB".into()))?.to_be_bytes();
        let r = self.send(&Command::new(0x00, 0xB0, p1, p2).with_ne(len))?;
        match r.sw {
            StatusWord::Ok | StatusWord::EndOfFile => Ok(r.data),
            StatusWord::SecurityStatusNotSatisfied => {
                Err(pin.map_or(Error::Card { context: "reading".into(), sw: r.sw }, Error::NeedsPin))
            }
            sw => Err(Error::Card { context: format!("reading at offset {offset}"), sw }),
        }
    }

    /// Reads a whole BER-TLV object from the selected EF: a few header bytes
    /// first, then exactly the rest, in ≤ 256-byte chunks (myna's method,
    /// which also works for non-minimal lengths).
    fn read_tlv_object(&mut self, pin: Option<PinId>) -> Result<Vec<u8>> {
        let mut data = self.read_range(0, 8, pin)?;
        let header = tlv::header(&data).map_err(|e| Error::Malformed(e.to_string()))?;
        let total = header.total_len();
        data.truncate(total);
        while data.len() < total {
            let want = (total - data.len()).min(CHUNK);
            let chunk = self.read_range(data.len(), want, pin)?;
            if chunk.is_empty() {
                return Err(Error::Malformed(format!("file ends at {} of {total} bytes", data.len())));
            }
            data.extend_from_slice(&chunk);
        }
        Ok(data)
    }

    /// The token EF, classified.
    pub fn token(&mut self) -> Result<TokenKind> {
        self.select_ap(Ap::Jpki)?;
        self.select_ef(EF_TOKEN)?;
        Ok(TokenKind::from_token(&self.read_range(0, 32, None)?))
    }

    fn pin_ap(pin: PinId) -> (Ap, u16) {
        match pin {
            PinId::Auth => (Ap::Jpki, EF_AUTH_PIN),
            PinId::Sign => (Ap::Jpki, EF_SIGN_PIN),
            PinId::Text => (Ap::Text, EF_TEXT_PIN),
        }
    }

    /// Tries left for `pin`, with the empty VERIFY, which never consumes a
    /// try (§3.2).
    pub fn pin_tries_left(&mut self, pin: PinId) -> Result<u8> {
        let (ap, ef) = Self::pin_ap(pin);
        self.select_ap(ap)?;
        self.select_ef(ef)?;
        let r = self.send(&Command::new(0x00, 0x20, 0x00, 0x80))?;
        match r.sw {
            StatusWord::TriesLeft(n) => Ok(n),
            sw => Err(Error::Card { context: format!("querying the {}", pin.describe()), sw }),
        }
    }

    /// VERIFY `pin` with `value` as entered (the signature password is
    /// upper-cased; the format is checked before anything is sent).
    pub fn verify(&mut self, pin: PinId, value: &str) -> Result<()> {
        let normalized = pin.normalize(value).map_err(Error::PinFormat)?;
        let (ap, ef) = Self::pin_ap(pin);
        self.select_ap(ap)?;
        self.select_ef(ef)?;
        let r = self.send(&Command::new(0x00, 0x20, 0x00, 0x80).with_data(normalized.to_vec()))?;
        match r.sw {
            StatusWord::Ok => Ok(()),
            StatusWord::TriesLeft(0) | StatusWord::ReferenceDataNotUsable | StatusWord::AuthenticationBlocked => {
                Err(Error::PinBlocked { pin })
            }
            StatusWord::TriesLeft(n) => Err(Error::WrongPin { pin, tries_left: n }),
            sw => Err(Error::Card { context: format!("verifying the {}", pin.describe()), sw }),
        }
    }

    /// Changes `pin` from `old` to `new` (VERIFY, then CHANGE REFERENCE DATA
    /// `00 24 01 80`, §3.4).
    pub fn change_pin(&mut self, pin: PinId, old: &str, new: &str) -> Result<()> {
        let new = pin.normalize(new).map_err(Error::PinFormat)?;
        self.verify(pin, old)?;
        let cmd = Command::new(0x00, 0x24, 0x01, 0x80).with_data(new.to_vec());
        self.expect_ok(&cmd, &format!("changing the {}", pin.describe()))?;
        Ok(())
    }

    /// Reads a certificate (DER). The signature certificate needs
    /// [`JpkiCard::verify`] of the signature password first, and on a phone
    /// the auth certificate needs the auth PIN.
    pub fn read_certificate(&mut self, which: CertType) -> Result<Vec<u8>> {
        self.select_ap(Ap::Jpki)?;
        self.select_ef(which.fid())?;
        let pin = match which {
            CertType::Sign => Some(PinId::Sign),
            CertType::Auth => Some(PinId::Auth),
            _ => None,
        };
        self.read_tlv_object(pin)
    }

    /// Signs `data` (normally a PKCS#1 DigestInfo, ≤ 245 bytes) with `key`;
    /// the key's PIN must have been verified. `80 2A 00 80` (§4).
    pub fn sign(&mut self, key: KeyType, data: &[u8]) -> Result<Vec<u8>> {
        self.select_ap(Ap::Jpki)?;
        self.select_ef(key.fid())?;
        let r = self.send(&Command::new(0x80, 0x2A, 0x00, 0x80).with_data(data.to_vec()).with_ne(256))?;
        match r.sw {
            StatusWord::Ok => Ok(r.data),
            StatusWord::SecurityStatusNotSatisfied => Err(Error::NeedsPin(key.pin())),
            sw => Err(Error::Card { context: "signing".into(), sw }),
        }
    }

    /// The my number (text AP EF 0001; verify [`PinId::Text`] first).
    pub fn my_number(&mut self) -> Result<Zeroizing<String>> {
        self.select_ap(Ap::Text)?;
        self.select_ef(EF_TEXT_MY_NUMBER)?;
        let raw = Zeroizing::new(self.read_tlv_object(Some(PinId::Text))?);
        let obj = tlv::parse_one(&raw).map_err(|e| Error::Malformed(e.to_string()))?.0;
        let digits =
            String::from_utf8(obj.value.to_vec()).map_err(|_| Error::Malformed("my number is not ASCII".into()))?;
        if digits.len() != 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::Malformed("my number is not 12 digits".into()));
        }
        Ok(Zeroizing::new(digits))
    }

    /// The basic four attributes (text AP EF 0002; verify [`PinId::Text`]
    /// first).
    pub fn attributes(&mut self) -> Result<Attributes> {
        self.select_ap(Ap::Text)?;
        self.select_ef(EF_TEXT_ATTRS)?;
        let raw = self.read_tlv_object(Some(PinId::Text))?;
        let outer = tlv::parse_one(&raw).map_err(|e| Error::Malformed(e.to_string()))?.0;
        let field = |tag: u32| -> Result<String> {
            let v = outer
                .find(tag)
                .map_err(|e| Error::Malformed(e.to_string()))?
                .ok_or_else(|| Error::Malformed(format!("attribute {tag:04X} missing")))?;
            String::from_utf8(v.value.to_vec())
                .map_err(|_| Error::Malformed(format!("attribute {tag:04X} is not UTF-8")))
        };
        Ok(Attributes { name: field(0xDF22)?, address: field(0xDF23)?, birth: field(0xDF24)?, sex: field(0xDF25)? })
    }
}

/// 基本4情報 as read from the text AP.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Attributes {
    /// 氏名.
    pub name: String,
    /// 住所.
    pub address: String,
    /// 生年月日 `YYYYMMDD`.
    pub birth: String,
    /// 性別 code.
    pub sex: String,
}
