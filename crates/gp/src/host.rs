//! The host (TSM) side of the SCP03 handshake, as a state machine that
//! consumes itself: [`HostHandshake::start`] gives INITIALIZE UPDATE,
//! [`HostHandshake::authenticate`] checks the card's answer and gives
//! EXTERNAL AUTHENTICATE with the open [`Channel`] (GPCS §D.4, Amd D §7.1).

use crate::channel::{level, Channel};
use crate::crypto::{constant, kdf};
use crate::keys::StaticKeys;
use crate::{InitUpdateResponse, Scp03Error};
use apdu::Command;

/// INITIALIZE UPDATE sent, waiting for the card's answer.
#[derive(Debug)]
pub struct HostHandshake {
    keys: StaticKeys,
    host_challenge: [u8; 8],
    security_level: u8,
    expected_sd_aid: Option<Vec<u8>>,
}

/// What the host learned from the card during the handshake.
#[derive(Debug, Clone)]
pub struct CardInfo {
    /// The parsed INITIALIZE UPDATE response.
    pub init: InitUpdateResponse,
}

impl HostHandshake {
    /// Starts a handshake: returns the state and the INITIALIZE UPDATE APDU
    /// `80 50 KVN 00 08 <host challenge> 00`. `keys.kvn = 0` lets the card pick
    /// its default key set.
    pub fn start(keys: StaticKeys, host_challenge: [u8; 8], security_level: u8) -> Result<(Self, Vec<u8>), Scp03Error> {
        if !level::VALID.contains(&security_level) {
            return Err(Scp03Error::InvalidLevel(security_level));
        }
        let cmd = Command::new(0x80, 0x50, keys.kvn, 0x00).with_data(host_challenge.to_vec()).with_ne(256);
        let bytes = cmd.to_bytes().expect("short APDU");
        Ok((Self { keys, host_challenge, security_level, expected_sd_aid: None }, bytes))
    }

    /// Also checks a pseudo-random card challenge against the security
    /// domain's AID (Amd D §6.2.2.1), when the card says it uses one.
    pub fn expect_sd_aid(mut self, aid: &[u8]) -> Self {
        self.expected_sd_aid = Some(aid.to_vec());
        self
    }

    /// Checks the INITIALIZE UPDATE response data (SW already `90 00`),
    /// derives the session keys, verifies the card cryptogram and returns the
    /// EXTERNAL AUTHENTICATE APDU and the channel it opens.
    pub fn authenticate(self, response_data: &[u8]) -> Result<(Channel, Vec<u8>, CardInfo), Scp03Error> {
        let init = InitUpdateResponse::parse(response_data)?;
        if self.keys.kvn != 0 && init.kvn != self.keys.kvn {
            return Err(Scp03Error::KeyVersion { expected: self.keys.kvn, card: init.kvn });
        }
        let context = [&self.host_challenge[..], &init.card_challenge].concat();
        let session = self.keys.session_keys(&context);
        let card_cryptogram = kdf(&session.s_mac, constant::CARD_CRYPTOGRAM, &context, 64);
        if card_cryptogram != init.card_cryptogram {
            return Err(Scp03Error::CardCryptogram);
        }
        // Checked after the cryptogram, so wrong keys are reported as such.
        if let (Some(aid), Some(seq)) = (&self.expected_sd_aid, init.sequence_counter) {
            let expected = kdf(&self.keys.enc, constant::CARD_CHALLENGE, &[&seq[..], aid].concat(), 64);
            if expected != init.card_challenge {
                return Err(Scp03Error::CardChallenge);
            }
        }
        let host_cryptogram = kdf(&session.s_mac, constant::HOST_CRYPTOGRAM, &context, 64);
        // EXTERNAL AUTHENTICATE is MACed from a zero chaining value and is
        // never encrypted; the counter starts after it.
        let mut auth = Channel::new(session.clone(), level::C_MAC, [0; 16]);
        let plain =
            Command::new(0x80, 0x82, self.security_level, 0x00).with_data(host_cryptogram).to_bytes().expect("short");
        let wrapped = auth.wrap_command(&plain)?;
        let channel = Channel::new(session, self.security_level, auth.chaining_value());
        Ok((channel, wrapped, CardInfo { init }))
    }
}
