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
        let (hs, init) = HostHandshake::start(keys, challenge(), level)?;
        let select = gp::commands::select(sd_aid).to_bytes().map_err(|_| TsmError::Malformed("SELECT"))?;
        // One round trip: SELECT and INITIALIZE UPDATE together.
        let answers = transport.transmit_script(&[select, init])?;
        let parse = |raw: &[u8], what| Response::parse(raw).ok_or(TsmError::Malformed(what));
        let selected = parse(&answers[0], "SELECT")?;
        if !matches!(selected.sw, StatusWord::Ok | StatusWord::BytesAvailable(_)) {
            return Err(TsmError::Refused { step: "selecting the security domain", sw: selected.sw });
        }
        let r = parse(&answers[1], "INITIALIZE UPDATE")?;
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

    /// Sends a script of commands whose content does not depend on each
    /// other's responses in one exchange (one relay round trip); every
    /// response must be `90 00`, else the error names that command's step.
    /// Returns the response data in order.
    pub fn run_script(&mut self, script: &[(&'static str, Command)]) -> Result<Vec<Vec<u8>>, TsmError> {
        let commands: Vec<&Command> = script.iter().map(|(_, c)| c).collect();
        let mut data = Vec::with_capacity(script.len());
        for ((step, _), r) in script.iter().zip(self.exchange_script(&commands)?) {
            if r.sw != StatusWord::Ok {
                return Err(TsmError::Refused { step, sw: r.sw });
            }
            data.push(r.data);
        }
        Ok(data)
    }

    /// A script in one exchange; the unwrapped responses whatever their
    /// status words (each checked against its own command's MAC chain).
    pub fn exchange_script(&mut self, commands: &[&Command]) -> Result<Vec<Response>, TsmError> {
        let mut wire = Vec::with_capacity(commands.len());
        let mut contexts = Vec::with_capacity(commands.len());
        for cmd in commands {
            wire.push(self.channel.wrap_command(&cmd.to_bytes().map_err(|_| TsmError::Malformed("command"))?)?);
            contexts.push(self.channel.response_context());
        }
        let raw = self.transport.transmit_script(&wire)?;
        if raw.len() != commands.len() {
            return Err(TsmError::Malformed("a script answered with another number of responses"));
        }
        contexts.into_iter().zip(&raw).map(|(context, r)| Ok(self.channel.unwrap_response_to(context, r)?)).collect()
    }

    /// Sends one command through the channel and returns the unwrapped
    /// response whatever its status word.
    pub fn exchange(&mut self, cmd: &Command) -> Result<Response, TsmError> {
        let wrapped = self.channel.wrap_command(&cmd.to_bytes().map_err(|_| TsmError::Malformed("command"))?)?;
        let raw = self.transport.transmit_raw(&wrapped)?;
        Ok(self.channel.unwrap_response(&raw)?)
    }
}
