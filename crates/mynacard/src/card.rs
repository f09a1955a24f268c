//! The card: command dispatch, security state, PIN counting, signing.
//!
//! Status words follow jpki-card.md: unknown AID or FID `6A 82`, unknown INS
//! `6D 00`, unknown CLA `6E 00`, wrong P1/P2 `6A 86`, malformed length `67 00`,
//! missing VERIFY `69 82`, blocked PIN `69 84`. The decisions taken where the
//! sheet says \[open\] are in docs/decisions/card-status-words.md.

use crate::files::{self, CardApp, Ef, KeyId};
use crate::pin::PinId;
use crate::state::{CardState, MemoryNvm, Nvm, StateError};
use apdu::{Command, Icc, Response, StatusWord};
use pki::RsaPrivateKey;

/// ATR of the My Number card, the one OpenSC's `jpki` driver matches (§6.1).
pub const ATR: [u8; 9] = [0x3B, 0xE0, 0x00, 0xFF, 0x81, 0x31, 0xFE, 0x45, 0x14];

/// Longest input the signing command accepts: `k − 11` for RSA-2048.
pub const MAX_SIGN_INPUT: usize = 245;

/// A deliberate crash point for durability tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    /// Run normally.
    #[default]
    None,
    /// Abort the process right after a VERIFY's try was counted and made
    /// durable, before the PIN is compared — the "power cut mid-VERIFY" attack.
    AbortAfterPinCount,
}

/// What power-on clears: the current AP and EF and the verified PINs.
#[derive(Debug, Default, Clone)]
struct Volatile {
    app: Option<CardApp>,
    ef: Option<u16>,
    verified: [bool; 3],
}

impl Volatile {
    fn is_verified(&self, pin: PinId) -> bool {
        self.verified[pin_index(pin)]
    }
    fn set_verified(&mut self, pin: PinId, value: bool) {
        self.verified[pin_index(pin)] = value;
    }
}

fn pin_index(pin: PinId) -> usize {
    match pin {
        PinId::Auth => 0,
        PinId::Sign => 1,
        PinId::Text => 2,
    }
}

/// A My Number card: state, keys, and the command interpreter.
pub struct MynaCard {
    state: CardState,
    auth_key: Option<RsaPrivateKey>,
    sign_key: Option<RsaPrivateKey>,
    nvm: Box<dyn Nvm>,
    volatile: Volatile,
    fault: Fault,
}

impl MynaCard {
    /// A card with `state`, committing changes to `nvm`.
    pub fn new(state: CardState, nvm: Box<dyn Nvm>) -> Result<Self, StateError> {
        let parse = |key: &crate::Secret, which| match key.expose() {
            [] => Ok(None),
            der => RsaPrivateKey::from_pkcs8_der(der).map(Some).map_err(|_| StateError::BadKey(which)),
        };
        let auth_key = parse(&state.jpki.auth_key, "auth")?;
        let sign_key = parse(&state.jpki.sign_key, "sign")?;
        Ok(Self { state, auth_key, sign_key, nvm, volatile: Volatile::default(), fault: Fault::None })
    }

    /// A card that keeps its state in memory only.
    pub fn in_memory(state: CardState) -> Result<Self, StateError> {
        Self::new(state, Box::new(MemoryNvm))
    }

    /// Opens a card file; every change is committed back to it atomically.
    pub fn open(path: &std::path::Path) -> Result<Self, StateError> {
        let state = CardState::load(path)?;
        Self::new(state, Box::new(crate::state::FileNvm::new(path)))
    }

    /// Replaces where commits go (the SE hosting a phone applet hands each
    /// command a fresh view of its file).
    pub fn set_nvm(&mut self, nvm: Box<dyn Nvm>) {
        self.nvm = nvm;
    }

    /// Arms a crash point (durability tests only).
    pub fn with_fault(mut self, fault: Fault) -> Self {
        self.fault = fault;
        self
    }

    /// Replaces the whole non-volatile state (re-personalization) and powers
    /// the card down. Keys are parsed again only if they changed, so test
    /// harnesses can restore a state cheaply. Not committed to the NVM.
    pub fn set_state(&mut self, state: CardState) -> Result<(), StateError> {
        if state.jpki.auth_key != self.state.jpki.auth_key || state.jpki.sign_key != self.state.jpki.sign_key {
            let fresh = Self::new(state, Box::new(MemoryNvm))?;
            (self.state, self.auth_key, self.sign_key) = (fresh.state, fresh.auth_key, fresh.sign_key);
        } else {
            self.state = state;
        }
        self.volatile = Volatile::default();
        Ok(())
    }

    /// The card's current state.
    pub fn state(&self) -> &CardState {
        &self.state
    }

    /// Interprets one command.
    pub fn handle(&mut self, cmd: &Command) -> Response {
        use StatusWord as Sw;
        let sw_only = |sw: Sw| Response::status(sw);
        match cmd.cla {
            0x00 | 0x80 => {}
            0x01..=0x03 => return sw_only(Sw::ChannelNotSupported),
            0x04..=0x0F => return sw_only(Sw::SecureMessagingNotSupported),
            _ => return sw_only(Sw::ClaNotSupported),
        }
        let expected_cla = match cmd.ins {
            0xA4 | 0xB0 | 0x20 | 0x24 => 0x00,
            0x2A => 0x80,
            _ => return sw_only(Sw::InsNotSupported),
        };
        if cmd.cla != expected_cla {
            return sw_only(Sw::ClaNotSupported);
        }
        match cmd.ins {
            0xA4 => sw_only(self.select(cmd)),
            0xB0 => self.read_binary(cmd),
            0x20 => sw_only(self.verify(cmd)),
            0x24 => sw_only(self.change_reference_data(cmd)),
            _ => self.sign(cmd),
        }
    }

    /// SELECT (ISO/IEC 7816-4 §11.2.2): by DF name `00 A4 04 0C`, by EF
    /// identifier `00 A4 02 0C`. Any SELECT by DF name clears every verified
    /// PIN, found or not (§2.4).
    fn select(&mut self, cmd: &Command) -> StatusWord {
        if cmd.p2 != 0x0C || !matches!(cmd.p1, 0x02 | 0x04) {
            return StatusWord::IncorrectP1P2;
        }
        if cmd.data.is_empty() || cmd.ne.is_some() {
            return StatusWord::WrongLength;
        }
        if cmd.p1 == 0x04 {
            self.volatile.verified = [false; 3];
            let available = |app: &CardApp| *app == CardApp::Jpki || self.state.text.is_some();
            return match CardApp::from_aid(&cmd.data).filter(available) {
                Some(app) => {
                    self.volatile.app = Some(app);
                    self.volatile.ef = None;
                    StatusWord::Ok
                }
                None => StatusWord::FileNotFound,
            };
        }
        let [hi, lo] = cmd.data[..] else {
            return StatusWord::WrongLength;
        };
        let fid = u16::from_be_bytes([hi, lo]);
        match self.volatile.app {
            Some(app) if files::lookup(&self.state, app, fid).is_some() => {
                self.volatile.ef = Some(fid);
                StatusWord::Ok
            }
            _ => StatusWord::FileNotFound,
        }
    }

    fn current_ef(&self) -> Option<Ef<'_>> {
        files::lookup(&self.state, self.volatile.app?, self.volatile.ef?)
    }

    /// READ BINARY `00 B0 P1 P2 Le` with a 15-bit offset (ISO/IEC 7816-4
    /// §11.3.3). Like the real card, a read past the end returns the bytes
    /// that exist with `90 00`; an offset at or past the end is `6B 00`.
    fn read_binary(&self, cmd: &Command) -> Response {
        use StatusWord as Sw;
        if cmd.p1 & 0x80 != 0 {
            return Sw::IncorrectP1P2.into();
        }
        let Some(ne) = cmd.ne.filter(|_| cmd.data.is_empty()) else {
            return Sw::WrongLength.into();
        };
        let (data, needs) = match self.current_ef() {
            None => return Sw::CommandNotAllowed.into(),
            Some(Ef::Binary(data, needs)) => (data, needs),
            Some(_) => return Sw::IncompatibleFileStructure.into(),
        };
        if needs.is_some_and(|pin| !self.volatile.is_verified(pin)) {
            return Sw::SecurityStatusNotSatisfied.into();
        }
        let offset = usize::from(u16::from_be_bytes([cmd.p1, cmd.p2]));
        if offset >= data.len() {
            return Sw::WrongP1P2.into();
        }
        let end = data.len().min(offset + ne);
        Response::new(data[offset..end].to_vec(), Sw::Ok)
    }

    fn current_pin(&self) -> Option<PinId> {
        match self.current_ef()? {
            Ef::Pin(pin) => Some(pin),
            _ => None,
        }
    }

    /// VERIFY `00 20 00 80` on the selected PIN EF (§3). Without data it
    /// reports the tries left as `63 Cn` whatever the state (§3.2). With data
    /// the try is counted and committed *before* the comparison (DESIGN.md).
    fn verify(&mut self, cmd: &Command) -> StatusWord {
        use StatusWord as Sw;
        if cmd.p1 != 0x00 || cmd.p2 != 0x80 {
            return Sw::IncorrectP1P2;
        }
        let Some(pin) = self.current_pin() else {
            return Sw::ReferencedDataNotFound;
        };
        let Some(stored) = self.state.pin(pin) else {
            return Sw::ReferencedDataNotFound;
        };
        let (tries, max, is_set) = (stored.tries_left, stored.max_tries, stored.is_set());
        if cmd.data.is_empty() {
            return Sw::TriesLeft(tries);
        }
        if tries == 0 || !is_set {
            return Sw::ReferenceDataNotUsable;
        }
        self.volatile.set_verified(pin, false);
        self.set_tries(pin, tries - 1);
        if self.nvm.commit(&self.state).is_err() {
            self.set_tries(pin, tries);
            return Sw::MemoryFailure;
        }
        if self.fault == Fault::AbortAfterPinCount {
            std::process::abort();
        }
        if !self.state.pin(pin).is_some_and(|p| p.value.ct_eq(&cmd.data)) {
            return Sw::TriesLeft(tries - 1);
        }
        self.set_tries(pin, max);
        if self.nvm.commit(&self.state).is_err() {
            self.set_tries(pin, tries - 1);
            return Sw::MemoryFailure;
        }
        self.volatile.set_verified(pin, true);
        Sw::Ok
    }

    fn set_tries(&mut self, pin: PinId, n: u8) {
        if let Some(p) = self.state.pin_mut(pin) {
            p.tries_left = n;
        }
    }

    /// CHANGE REFERENCE DATA `00 24 01 80 Lc <new PIN>` (ISO/IEC 7816-4
    /// §11.5.7, P1 = 01: new value only, the old one verified just before).
    fn change_reference_data(&mut self, cmd: &Command) -> StatusWord {
        use StatusWord as Sw;
        if cmd.p1 != 0x01 || cmd.p2 != 0x80 {
            return Sw::IncorrectP1P2;
        }
        if cmd.data.is_empty() || cmd.ne.is_some() {
            return Sw::WrongLength;
        }
        let Some(pin) = self.current_pin() else {
            return Sw::ReferencedDataNotFound;
        };
        if !self.volatile.is_verified(pin) {
            return Sw::SecurityStatusNotSatisfied;
        }
        let Ok(text) = std::str::from_utf8(&cmd.data) else {
            return Sw::IncorrectData;
        };
        let new_value = match pin.normalize(text) {
            Ok(v) if v.as_slice() == cmd.data.as_slice() => crate::Secret::new(v.to_vec()),
            _ => return Sw::IncorrectData,
        };
        let Some(stored) = self.state.pin_mut(pin) else {
            return Sw::ReferencedDataNotFound;
        };
        let old = std::mem::replace(&mut stored.value, new_value);
        if self.nvm.commit(&self.state).is_err() {
            if let Some(p) = self.state.pin_mut(pin) {
                p.value = old;
            }
            return Sw::MemoryFailure;
        }
        Sw::Ok
    }

    /// COMPUTE DIGITAL SIGNATURE, JPKI form `80 2A 00 80 Lc <data> 00` (§4):
    /// PKCS#1 v1.5 type-1 padding of whatever arrives (≤ 245 bytes), then the
    /// private key of the selected key EF.
    fn sign(&mut self, cmd: &Command) -> Response {
        use StatusWord as Sw;
        if cmd.p1 != 0x00 || cmd.p2 != 0x80 {
            return Sw::IncorrectP1P2.into();
        }
        if cmd.data.is_empty() || cmd.data.len() > MAX_SIGN_INPUT {
            return Sw::WrongLength.into();
        }
        let key_id = match self.current_ef() {
            Some(Ef::Key(k)) => k,
            None => return Sw::CommandNotAllowed.into(),
            Some(_) => return Sw::IncompatibleFileStructure.into(),
        };
        if !self.volatile.is_verified(key_id.pin()) {
            return Sw::SecurityStatusNotSatisfied.into();
        }
        let key = match key_id {
            KeyId::Auth => self.auth_key.as_ref(),
            KeyId::Sign => self.sign_key.as_ref(),
        };
        let Some(key) = key else {
            return Sw::ReferencedDataNotFound.into();
        };
        match key.sign_raw(&cmd.data) {
            Ok(sig) => Response::new(sig, Sw::Ok),
            Err(_) => Sw::NoPreciseDiagnosis.into(),
        }
    }
}

impl Icc for MynaCard {
    fn atr(&self) -> Vec<u8> {
        ATR.to_vec()
    }

    fn power_on(&mut self) {
        self.volatile = Volatile::default();
    }

    fn power_off(&mut self) {
        self.volatile = Volatile::default();
    }

    fn reset(&mut self) {
        self.volatile = Volatile::default();
    }

    fn process(&mut self, command: &[u8]) -> Vec<u8> {
        let response = match Command::parse(command) {
            Ok(cmd) => self.handle(&cmd),
            Err(_) => StatusWord::WrongLength.into(),
        };
        response.to_bytes()
    }
}

impl std::fmt::Debug for MynaCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MynaCard").field("token", &self.state.jpki.token).finish_non_exhaustive()
    }
}
