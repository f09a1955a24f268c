//! The applications and elementary files the card answers for
//! (jpki-card.md §1, §2.1, §5.1), as one lookup.

use crate::pin::PinId;
use crate::state::CardState;
use apdu::tlv;
use std::borrow::Cow;

/// AID of the JPKI AP (公的個人認証AP).
pub const AID_JPKI: [u8; 10] = [0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01];
/// AID of the text AP (券面事項入力補助AP).
pub const AID_TEXT: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x08];

/// JPKI AP EF: token.
pub const EF_TOKEN: u16 = 0x0006;
/// JPKI AP EF: user-authentication certificate.
pub const EF_AUTH_CERT: u16 = 0x000A;
/// JPKI AP EF: user-authentication CA certificate.
pub const EF_AUTH_CA_CERT: u16 = 0x000B;
/// JPKI AP EF: signature certificate.
pub const EF_SIGN_CERT: u16 = 0x0001;
/// JPKI AP EF: signature CA certificate.
pub const EF_SIGN_CA_CERT: u16 = 0x0002;
/// JPKI AP EF: user-authentication private key.
pub const EF_AUTH_KEY: u16 = 0x0017;
/// JPKI AP EF: user-authentication PIN.
pub const EF_AUTH_PIN: u16 = 0x0018;
/// JPKI AP EF: signature private key.
pub const EF_SIGN_KEY: u16 = 0x001A;
/// JPKI AP EF: signature password.
pub const EF_SIGN_PIN: u16 = 0x001B;
/// Text AP EF: my number.
pub const EF_TEXT_MY_NUMBER: u16 = 0x0001;
/// Text AP EF: basic four attributes.
pub const EF_TEXT_ATTRS: u16 = 0x0002;
/// Text AP EF: AP basic information.
pub const EF_TEXT_INFO: u16 = 0x0005;
/// Text AP EF: text-AP PIN.
pub const EF_TEXT_PIN: u16 = 0x0011;

/// An application on the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum App {
    /// 公的個人認証AP.
    Jpki,
    /// 券面事項入力補助AP.
    Text,
}

impl App {
    /// The application with this AID.
    pub fn from_aid(aid: &[u8]) -> Option<Self> {
        match aid {
            a if a == AID_JPKI => Some(App::Jpki),
            a if a == AID_TEXT => Some(App::Text),
            _ => None,
        }
    }
}

/// Which key a key EF holds; the PIN that unlocks it is [`KeyId::pin`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyId {
    /// EF `0017`.
    Auth,
    /// EF `001A`.
    Sign,
}

impl KeyId {
    /// The PIN whose verification authorizes this key.
    pub fn pin(self) -> PinId {
        match self {
            KeyId::Auth => PinId::Auth,
            KeyId::Sign => PinId::Sign,
        }
    }
}

/// What an EF is.
#[derive(Debug)]
pub enum Ef<'a> {
    /// A transparent file and the PIN needed to read it, if any.
    Binary(Cow<'a, [u8]>, Option<PinId>),
    /// A PIN reference (VERIFY / CHANGE REFERENCE DATA target).
    Pin(PinId),
    /// A private key (select, then sign).
    Key(KeyId),
}

/// Looks up EF `fid` in `app`.
pub fn lookup(state: &CardState, app: App, fid: u16) -> Option<Ef<'_>> {
    let j = &state.jpki;
    let t = &state.text;
    Some(match (app, fid) {
        (App::Jpki, EF_TOKEN) => Ef::Binary(Cow::Owned(token_bytes(&j.token)), None),
        (App::Jpki, EF_AUTH_CERT) => {
            Ef::Binary(Cow::Borrowed(&j.auth_cert), j.auth_cert_needs_pin.then_some(PinId::Auth))
        }
        (App::Jpki, EF_AUTH_CA_CERT) => Ef::Binary(Cow::Borrowed(&j.auth_ca_cert), None),
        (App::Jpki, EF_SIGN_CERT) => Ef::Binary(Cow::Borrowed(&j.sign_cert), Some(PinId::Sign)),
        (App::Jpki, EF_SIGN_CA_CERT) => Ef::Binary(Cow::Borrowed(&j.sign_ca_cert), None),
        (App::Jpki, EF_AUTH_KEY) => Ef::Key(KeyId::Auth),
        (App::Jpki, EF_SIGN_KEY) => Ef::Key(KeyId::Sign),
        (App::Jpki, EF_AUTH_PIN) => Ef::Pin(PinId::Auth),
        (App::Jpki, EF_SIGN_PIN) => Ef::Pin(PinId::Sign),
        (App::Text, EF_TEXT_MY_NUMBER) => {
            // FF 10 0C <12 digits> FF FF, as dumped from a real card (§5.2).
            let mut ef = tlv::encode(0xFF10, t.my_number.expose());
            ef.extend_from_slice(&[0xFF, 0xFF]);
            Ef::Binary(Cow::Owned(ef), Some(PinId::Text))
        }
        (App::Text, EF_TEXT_ATTRS) => Ef::Binary(Cow::Owned(basic_four(state)), Some(PinId::Text)),
        (App::Text, EF_TEXT_INFO) => {
            let mut ef = tlv::encode(0xFF40, &[tlv::encode(0xDF41, &t.ap_info), tlv::encode(0xDF42, &t.key_id)].concat());
            ef.resize(256, 0xFF);
            Ef::Binary(Cow::Owned(ef), None)
        }
        (App::Text, EF_TEXT_PIN) => Ef::Pin(PinId::Text),
        _ => return None,
    })
}

/// The token EF: ASCII, space-padded to 32 bytes (§2.1).
pub fn token_bytes(token: &str) -> Vec<u8> {
    let mut out = token.as_bytes().to_vec();
    out.resize(32, b' ');
    out.truncate(32);
    out
}

/// Text AP EF `0002`: `FF 20 { DF 21 header, DF 22 name, DF 23 address,
/// DF 24 birth, DF 25 sex }` (§5.2). DF 21 holds the offsets of the four
/// values within the outer value, as AokiApp decodes it ([open] §8.6).
fn basic_four(state: &CardState) -> Vec<u8> {
    let t = &state.text;
    let fields = [
        tlv::encode(0xDF22, t.name.as_bytes()),
        tlv::encode(0xDF23, t.address.as_bytes()),
        tlv::encode(0xDF24, t.birth.as_bytes()),
        tlv::encode(0xDF25, t.sex.as_bytes()),
    ];
    let mut header = Vec::with_capacity(8);
    let mut offset = 3 + 8; // DF 21 08 + 8 bytes
    for f in &fields {
        header.extend_from_slice(&(offset as u16).to_be_bytes());
        offset += f.len();
    }
    let mut inner = tlv::encode(0xDF21, &header);
    for f in fields {
        inner.extend_from_slice(&f);
    }
    tlv::encode(0xFF20, &inner)
}
