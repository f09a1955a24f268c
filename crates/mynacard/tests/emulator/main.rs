//! Emulator tests: every status word of jpki-card.md, driven through the raw
//! `Icc::process` entry point the transports use.
#![allow(missing_docs)]

mod durability;
mod jpki_ap;
mod protocol;
mod text_ap;

use apdu::Icc;
use mynacard::personalize::{new_card, InitialPins};
use mynacard::{CardState, MynaCard};
use std::sync::OnceLock;

pub const SELECT_JPKI: &str = "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01";
pub const SELECT_TEXT: &str = "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 08";

pub fn holder() -> pki::Holder {
    pki::Holder {
        name: "公的 太郎".into(),
        address: "東京都千代田区霞が関2-1-2".into(),
        birth: "19850401".into(),
        sex: pki::Sex::Male,
        prefecture: "Tokyo".into(),
        municipality: "Chiyoda-ku".into(),
    }
}

/// One personalized card state shared by all tests (key generation is slow).
pub fn fixture() -> CardState {
    static STATE: OnceLock<CardState> = OnceLock::new();
    STATE
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let ca = pki::ca::LocalCa::open_or_create(dir.path()).unwrap();
            new_card(&ca, &holder(), "123456789018", InitialPins::test_card()).unwrap()
        })
        .clone()
}

pub fn card() -> MynaCard {
    let mut c = MynaCard::in_memory(fixture()).unwrap();
    c.power_on();
    c
}

pub fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace().map(|b| u8::from_str_radix(b, 16).unwrap()).collect()
}

/// Sends hex, returns (data, SW as u16).
pub fn send(card: &mut impl Icc, apdu: &str) -> (Vec<u8>, u16) {
    send_bytes(card, &hex(apdu))
}

pub fn send_bytes(card: &mut impl Icc, apdu: &[u8]) -> (Vec<u8>, u16) {
    let mut r = card.process(apdu);
    assert!(r.len() >= 2, "response shorter than SW");
    let sw = r.split_off(r.len() - 2);
    (r, u16::from_be_bytes([sw[0], sw[1]]))
}

pub fn sw(card: &mut impl Icc, apdu: &str) -> u16 {
    send(card, apdu).1
}

pub fn verify_apdu(pin: &[u8]) -> Vec<u8> {
    let mut v = vec![0x00, 0x20, 0x00, 0x80, pin.len() as u8];
    v.extend_from_slice(pin);
    v
}
