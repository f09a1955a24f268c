//! The applications and elementary files the card answers for
//! (jpki-card.md §1, §2.1, §5.1), as one lookup.

use crate::pin::PinId;
use crate::state::CardState;
use apdu::tlv;
use std::borrow::Cow;

pub use jpki::ap::*;

/// An application on the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardApp {
    /// 公的個人認証AP.
    Jpki,
    /// 券面事項入力補助AP.
    Text,
}

impl CardApp {
    /// The application with this AID.
    pub fn from_aid(aid: &[u8]) -> Option<Self> {
        match aid {
            a if a == AID_JPKI => Some(CardApp::Jpki),
            a if a == AID_TEXT => Some(CardApp::Text),
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

/// Looks up EF `fid` in `app`. Certificates and keys not written yet (a
/// phone applet before provisioning) do not exist.
pub fn lookup(state: &CardState, app: CardApp, fid: u16) -> Option<Ef<'_>> {
    let j = &state.jpki;
    let present = |b: &[u8]| !b.is_empty();
    let ef = match (app, fid) {
        (CardApp::Jpki, EF_AUTH_CERT) if !present(&j.auth_cert) => return None,
        (CardApp::Jpki, EF_AUTH_CA_CERT) if !present(&j.auth_ca_cert) => return None,
        (CardApp::Jpki, EF_SIGN_CERT) if !present(&j.sign_cert) => return None,
        (CardApp::Jpki, EF_SIGN_CA_CERT) if !present(&j.sign_ca_cert) => return None,
        (CardApp::Jpki, EF_AUTH_KEY) if !present(j.auth_key.expose()) => return None,
        (CardApp::Jpki, EF_SIGN_KEY) if !present(j.sign_key.expose()) => return None,
        (CardApp::Jpki, _) => jpki_ef(state, fid)?,
        (CardApp::Text, _) => text_ef(state.text.as_ref()?, fid)?,
    };
    Some(ef)
}

fn jpki_ef(state: &CardState, fid: u16) -> Option<Ef<'_>> {
    let j = &state.jpki;
    Some(match (CardApp::Jpki, fid) {
        (CardApp::Jpki, EF_TOKEN) => Ef::Binary(Cow::Owned(token_bytes(&j.token)), None),
        (CardApp::Jpki, EF_AUTH_CERT) => {
            Ef::Binary(Cow::Borrowed(&j.auth_cert), j.auth_cert_needs_pin.then_some(PinId::Auth))
        }
        (CardApp::Jpki, EF_AUTH_CA_CERT) => Ef::Binary(Cow::Borrowed(&j.auth_ca_cert), None),
        (CardApp::Jpki, EF_SIGN_CERT) => Ef::Binary(Cow::Borrowed(&j.sign_cert), Some(PinId::Sign)),
        (CardApp::Jpki, EF_SIGN_CA_CERT) => Ef::Binary(Cow::Borrowed(&j.sign_ca_cert), None),
        (CardApp::Jpki, EF_AUTH_KEY) => Ef::Key(KeyId::Auth),
        (CardApp::Jpki, EF_SIGN_KEY) => Ef::Key(KeyId::Sign),
        (CardApp::Jpki, EF_AUTH_PIN) => Ef::Pin(PinId::Auth),
        (CardApp::Jpki, EF_SIGN_PIN) => Ef::Pin(PinId::Sign),
        _ => return None,
    })
}

fn text_ef(t: &crate::state::TextState, fid: u16) -> Option<Ef<'_>> {
    Some(match (CardApp::Text, fid) {
        (CardApp::Text, EF_TEXT_MY_NUMBER) => {
            // FF 10 0C <12 digits> FF FF, as dumped from a real card (§5.2).
            let mut ef = tlv::encode(0xFF10, t.my_number.expose());
            ef.extend_from_slice(&[0xFF, 0xFF]);
            Ef::Binary(Cow::Owned(ef), Some(PinId::Text))
        }
        (CardApp::Text, EF_TEXT_ATTRS) => Ef::Binary(Cow::Owned(basic_four(t)), Some(PinId::Text)),
        (CardApp::Text, EF_TEXT_INFO) => {
            let mut ef =
                tlv::encode(0xFF40, &[tlv::encode(0xDF41, &t.ap_info), tlv::encode(0xDF42, &t.key_id)].concat());
            ef.resize(256, 0xFF);
            Ef::Binary(Cow::Owned(ef), None)
        }
        (CardApp::Text, EF_TEXT_PIN) => Ef::Pin(PinId::Text),
        _ => return None,
    })
}

/// Text AP EF `0002`: `FF 20 { DF 21 header, DF 22 name, DF 23 address,
/// DF 24 birth, DF 25 sex }` (§5.2). DF 21 holds the offsets of the four
/// values within the outer value, as AokiApp decodes it (\[open\] §8.6).
fn basic_four(t: &crate::state::TextState) -> Vec<u8> {
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
