//! A secure channel to one security domain through the relay.

use crate::TsmError;
use apdu::{Command, Response, StatusWord, Transport};
use gp::host::HostHandshake;
use gp::StaticKeys;

/// An open SCP03 session with a security domain.
#[derive(Debug)]
pub struct SecureSession<'t, T: Transport> {
    transport: &'t mut T,
    channel: gp::Channel,
}

/// A fresh host challenge.
fn challenge() -> [u8; 8] {
    let mut c = [0u8; 8];
    pki::fill_random(&mut c);
    c
}

impl<'t, T: Transport> SecureSession<'t, T> {
    /// Selects `sd_aid` and opens SCP03 at `level` with `keys`, checking the
    /// card cryptogram and the pseudo-random challenge against the SD's AID.
    pub fn open(transport: &'t mut T, sd_aid: &[u8], keys: StaticKeys, level: u8) -> Result<Self, TsmError> {
        let r = transport.send(&gp::commands::select(sd_aid))?;
        if r.sw != StatusWord::Ok {
            return Err(TsmError::Refused { step: "selecting the security domain", sw: r.sw });
        }
        let (hs, init) = HostHandshake::start(keys, challenge(), level)?;
        let r = Response::parse(&transport.transmit_raw(&init)?).ok_or(TsmError::Malformed("INITIALIZE UPDATE"))?;
        if r.sw != StatusWord::Ok {
            return Err(TsmError::Refused { step: "INITIALIZE UPDATE", sw: r.sw });
        }
        let (channel, ext, _) = hs.expect_sd_aid(sd_aid).authenticate(&r.data)?;
        let r = Response::parse(&transport.transmit_raw(&ext)?).ok_or(TsmError::Malformed("EXTERNAL AUTHENTICATE"))?;
        if r.sw != StatusWord::Ok {
            return Err(TsmError::Refused { step: "EXTERNAL AUTHENTICATE", sw: r.sw });
        }
        Ok(Self { transport, channel })
    }

    /// Sends one command through the channel; anything but `90 00` is an
    /// error naming `step`.
    pub fn run(&mut self, step: &'static str, cmd: &Command) -> Result<Vec<u8>, TsmError> {
        let r = self.exchange(cmd)?;
        if r.sw != StatusWord::Ok {
            return Err(TsmError::Refused { step, sw: r.sw });
        }
        Ok(r.data)
    }

    /// Sends one command through the channel and returns the unwrapped
    /// response whatever its status word.
    pub fn exchange(&mut self, cmd: &Command) -> Result<Response, TsmError> {
        let wrapped = self.channel.wrap_command(&cmd.to_bytes().map_err(|_| TsmError::Malformed("command"))?)?;
        let raw = self.transport.transmit_raw(&wrapped)?;
        Ok(self.channel.unwrap_response(&raw)?)
    }
}
