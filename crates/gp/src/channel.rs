//! Secure messaging of an open SCP03 channel, both directions, both sides
//! (Amd D §6.2.4–6.2.7): C-MAC with chaining, C-DECRYPTION with the
//! encryption counter, R-MAC and R-ENCRYPTION.

use crate::crypto::{pad80, unpad80};
use crate::keys::SessionKeys;
use crate::Scp03Error;
use apdu::{Command, Response, StatusWord};

/// Security level bits (Amd D Table 7-3).
pub mod level {
    /// C-MAC.
    pub const C_MAC: u8 = 0x01;
    /// C-DECRYPTION.
    pub const C_DEC: u8 = 0x02;
    /// R-MAC.
    pub const R_MAC: u8 = 0x10;
    /// R-ENCRYPTION.
    pub const R_ENC: u8 = 0x20;
    /// The levels a card accepts in EXTERNAL AUTHENTICATE.
    pub const VALID: [u8; 6] = [0x00, 0x01, 0x03, 0x11, 0x13, 0x33];
}

/// Length of the MAC on the wire (S8 mode).
pub const MAC_LEN: usize = 8;

/// The MAC chaining value and encryption counter of one command, against
/// which its response is checked.
#[derive(Clone, Copy)]
pub struct ResponseContext {
    chaining: [u8; 16],
    counter: u128,
}

impl std::fmt::Debug for ResponseContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseContext").field("counter", &self.counter).finish_non_exhaustive()
    }
}

/// An authenticated SCP03 channel. The host calls [`Channel::wrap_command`]
/// and [`Channel::unwrap_response`]; the card calls [`Channel::unwrap_command`]
/// and [`Channel::wrap_response`]. Any error means the session is over.
#[derive(Debug, Clone)]
pub struct Channel {
    keys: SessionKeys,
    level: u8,
    chaining: [u8; 16],
    counter: u128,
}

/// How the CLA byte carries the logical channel and the SM indication.
fn sm_class(cla: u8) -> (u8, u8) {
    if cla & 0x40 == 0 {
        ((cla & 0xFC) | 0x04, cla & 0x03)
    } else {
        ((cla & 0xF0) | 0x20, cla & 0x0F)
    }
}

/// Whether a status word carries data and an R-MAC (Amd D §6.2.5).
fn is_normal(sw: StatusWord) -> bool {
    let [sw1, _] = sw.to_bytes();
    matches!(sw1, 0x90 | 0x62 | 0x63) && (sw1 != 0x90 || sw == StatusWord::Ok)
}

impl Channel {
    /// A channel right after EXTERNAL AUTHENTICATE: chaining value = the
    /// EXTERNAL AUTHENTICATE's full CMAC, counter 0.
    pub(crate) fn new(keys: SessionKeys, level: u8, chaining: [u8; 16]) -> Self {
        Self { keys, level, chaining, counter: 0 }
    }

    /// The security level in force.
    pub fn level(&self) -> u8 {
        self.level
    }

    /// The current MAC chaining value.
    pub fn chaining_value(&self) -> [u8; 16] {
        self.chaining
    }

    fn icv(&self, response: bool) -> [u8; 16] {
        self.icv_at(self.counter, response)
    }

    fn icv_at(&self, counter: u128, response: bool) -> [u8; 16] {
        let mut block = counter.to_be_bytes();
        if response {
            block[0] = 0x80;
        }
        self.keys.enc.encrypt_block(block)
    }

    /// C-MAC over a command whose data field is final; returns the full CMAC.
    fn command_mac(&self, encoded_without_mac: &[u8], mac_cla: u8) -> [u8; 16] {
        self.keys.mac.mac(&[&self.chaining, &[mac_cla], &encoded_without_mac[1..]])
    }

    /// Host: protects a plain command at the session's level. Increments the
    /// encryption counter, encrypts the data (C-DEC), appends the C-MAC.
    pub fn wrap_command(&mut self, plain: &[u8]) -> Result<Vec<u8>, Scp03Error> {
        let cmd = Command::parse(plain).map_err(|_| Scp03Error::Malformed("command APDU"))?;
        self.counter += 1;
        if self.level & level::C_MAC == 0 {
            return Ok(plain.to_vec());
        }
        let data = if self.level & level::C_DEC != 0 && !cmd.data.is_empty() {
            self.keys.enc.cbc_encrypt(self.icv(false), &pad80(&cmd.data))
        } else {
            cmd.data.clone()
        };
        let (mac_cla, channel) = sm_class(cmd.cla);
        let mut out = Command::new(mac_cla | channel, cmd.ins, cmd.p1, cmd.p2);
        out.data = [data.as_slice(), &[0; MAC_LEN]].concat();
        out.ne = cmd.ne;
        let mut encoded = out.to_bytes().map_err(|_| Scp03Error::Malformed("command too long"))?;
        let mac_at = mac_offset(&encoded, out.data.len());
        let full = self.command_mac(&encoded[..mac_at], mac_cla);
        encoded[mac_at..mac_at + MAC_LEN].copy_from_slice(&full[..MAC_LEN]);
        self.chaining = full;
        Ok(encoded)
    }

    /// Card: checks and removes the protection of a received command. A
    /// missing or wrong MAC, or a bad cryptogram, is an error (the caller
    /// answers `69 82` and ends the session).
    pub fn unwrap_command(&mut self, wrapped: &[u8]) -> Result<Command, Scp03Error> {
        let cmd = Command::parse(wrapped).map_err(|_| Scp03Error::Malformed("command APDU"))?;
        self.counter += 1;
        if self.level & level::C_MAC == 0 {
            return Ok(cmd);
        }
        let (mac_cla, channel) = sm_class(cmd.cla);
        let sm_flag = if cmd.cla & 0x40 == 0 { 0x04 } else { 0x20 };
        if cmd.cla & sm_flag == 0 || cmd.data.len() < MAC_LEN {
            return Err(Scp03Error::SecurityLevel);
        }
        let mac_at = mac_offset(wrapped, cmd.data.len());
        let full = self.command_mac(&wrapped[..mac_at], mac_cla);
        let received = &wrapped[mac_at..mac_at + MAC_LEN];
        if !constant_time_eq(&full[..MAC_LEN], received) {
            return Err(Scp03Error::BadMac);
        }
        self.chaining = full;
        let body = &cmd.data[..cmd.data.len() - MAC_LEN];
        let data = if self.level & level::C_DEC != 0 && !body.is_empty() {
            let plain =
                self.keys.enc.cbc_decrypt(self.icv(false), body).ok_or(Scp03Error::Malformed("ciphertext length"))?;
            unpad80(&plain).ok_or(Scp03Error::Malformed("padding"))?.to_vec()
        } else {
            body.to_vec()
        };
        let mut plain = Command::new((cmd.cla & !sm_flag) | channel, cmd.ins, cmd.p1, cmd.p2);
        plain.data = data;
        plain.ne = cmd.ne;
        Ok(plain)
    }

    /// Card: protects a response (R-ENC, then R-MAC). Error status words go
    /// out bare.
    pub fn wrap_response(&self, response: &Response) -> Vec<u8> {
        if self.level & level::R_MAC == 0 {
            return response.to_bytes();
        }
        if !is_normal(response.sw) {
            return response.sw.to_bytes().to_vec();
        }
        let data = if self.level & level::R_ENC != 0 && !response.data.is_empty() {
            self.keys.enc.cbc_encrypt(self.icv(true), &pad80(&response.data))
        } else {
            response.data.clone()
        };
        let sw = response.sw.to_bytes();
        let mac = self.keys.rmac.mac(&[&self.chaining, &data, &sw]);
        [data.as_slice(), &mac[..MAC_LEN], &sw].concat()
    }

    /// Host: what the response to the command just wrapped is checked
    /// against (its MAC chaining value and encryption counter) — for a host
    /// that sends several commands before reading their responses, as a GP
    /// Amd B script does.
    pub fn response_context(&self) -> ResponseContext {
        ResponseContext { chaining: self.chaining, counter: self.counter }
    }

    /// Host: checks the R-MAC and decrypts (R-ENC) the response to the
    /// command wrapped last.
    pub fn unwrap_response(&self, wrapped: &[u8]) -> Result<Response, Scp03Error> {
        self.unwrap_response_to(self.response_context(), wrapped)
    }

    /// Host: checks and decrypts the response to the command whose
    /// [`Channel::response_context`] was taken right after wrapping it.
    pub fn unwrap_response_to(&self, context: ResponseContext, wrapped: &[u8]) -> Result<Response, Scp03Error> {
        let response = Response::parse(wrapped).ok_or(Scp03Error::Malformed("response shorter than SW"))?;
        if self.level & level::R_MAC == 0 {
            return Ok(response);
        }
        if !is_normal(response.sw) {
            // Amd D §6.2.5: an error response is the bare status word.
            if !response.data.is_empty() {
                return Err(Scp03Error::Malformed("data with an error status word"));
            }
            return Ok(response);
        }
        if response.data.len() < MAC_LEN {
            return Err(Scp03Error::MissingResponseMac);
        }
        let (data, mac) = response.data.split_at(response.data.len() - MAC_LEN);
        let sw = response.sw.to_bytes();
        let expected = self.keys.rmac.mac(&[&context.chaining, data, &sw]);
        if !constant_time_eq(&expected[..MAC_LEN], mac) {
            return Err(Scp03Error::BadMac);
        }
        let plain = if self.level & level::R_ENC != 0 && !data.is_empty() {
            let icv = self.icv_at(context.counter, true);
            let p = self.keys.enc.cbc_decrypt(icv, data).ok_or(Scp03Error::Malformed("ciphertext length"))?;
            unpad80(&p).ok_or(Scp03Error::Malformed("padding"))?.to_vec()
        } else {
            data.to_vec()
        };
        Ok(Response::new(plain, response.sw))
    }
}

/// Offset of the MAC in an encoded command whose data field (ending with
/// the MAC) is `data_len` bytes long: header, Lc field, data before the MAC.
fn mac_offset(encoded: &[u8], data_len: usize) -> usize {
    let lc_len = if encoded[4] == 0 { 3 } else { 1 };
    4 + lc_len + data_len - MAC_LEN
}

use secret::ct_eq as constant_time_eq;
