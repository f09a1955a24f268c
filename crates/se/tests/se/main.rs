//! The SE driven as a TSM drives it: SCP03 with KDF3-diversified ISD keys,
//! SSD creation and key handover, ARA-M rules, and every refusal.
#![allow(missing_docs)]

mod content;
mod handover;
mod phone;

use apdu::{Command, Icc, Response, StatusWord};
use gp::crypto::AesKey;
use gp::host::HostHandshake;
use gp::StaticKeys;
use se::SecureElement;

pub const MASTER: [u8; 16] =
    [0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F];
pub use gp::aids::{ISD, SD_MODULE, SD_PACKAGE};
pub use jpki::ap::SP_DOMAIN as SSD;

pub fn new_se() -> SecureElement {
    let state = SecureElement::manufacture(&AesKey::new(&MASTER).unwrap(), [1, 2, 3, 4], [5, 6]);
    let mut se = SecureElement::new(state, Box::new(se::MemoryNvm)).unwrap();
    se.power_on();
    se
}

pub fn send(se: &mut SecureElement, cmd: &Command) -> Response {
    Response::parse(&se.process(&cmd.to_bytes().unwrap())).unwrap()
}

/// The ISD keys as the SEI-TSM derives them: KDF3(master, SE identifier).
pub fn isd_keys(se: &SecureElement) -> StaticKeys {
    StaticKeys::diversify_kdf3(0x01, &AesKey::new(&MASTER).unwrap(), &se.state().se_identifier())
}

/// A TSM's open secure channel to the SD selected on logical channel `ch`.
#[derive(Debug)]
pub struct Session {
    pub channel: gp::Channel,
    pub ch: u8,
}

impl Session {
    pub fn open(se: &mut SecureElement, ch: u8, aid: &[u8], keys: StaticKeys, level: u8) -> Result<Self, String> {
        let select = Command::new(ch, 0xA4, 0x04, 0x00).with_data(aid.to_vec()).with_ne(256);
        let r = send(se, &select);
        if r.sw != StatusWord::Ok {
            return Err(format!("SELECT: {}", r.sw));
        }
        let (hs, mut init) = HostHandshake::start(keys, [0x11; 8], level).map_err(|e| e.to_string())?;
        init[0] |= ch;
        let r = Response::parse(&se.process(&init)).unwrap();
        if r.sw != StatusWord::Ok {
            return Err(format!("INITIALIZE UPDATE: {}", r.sw));
        }
        let (channel, mut ext, _) = hs.expect_sd_aid(aid).authenticate(&r.data).map_err(|e| e.to_string())?;
        ext[0] |= ch;
        let r = Response::parse(&se.process(&ext)).unwrap();
        if r.sw != StatusWord::Ok {
            return Err(format!("EXTERNAL AUTHENTICATE: {}", r.sw));
        }
        Ok(Self { channel, ch })
    }

    pub fn send(&mut self, se: &mut SecureElement, cmd: &Command) -> Response {
        let mut cmd = cmd.clone();
        cmd.cla |= self.ch;
        let wrapped = self.channel.wrap_command(&cmd.to_bytes().unwrap()).unwrap();
        self.channel.unwrap_response(&se.process(&wrapped)).expect("response verifies")
    }
}
