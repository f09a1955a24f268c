//! The secure element: logical channels, selection, and dispatch to the
//! selected security domain or applet. Every state change is committed
//! before the answer goes out; a failed commit answers `65 81` and leaves
//! the state as it was.

use crate::state::{lcs, rom, Entry, KeySet, Kind, SeState, FORMAT};
use apdu::{tlv, Command, Icc, Response, StatusWord};
use gp::card::CardSession;
use gp::crypto::AesKey;
use gp::StaticKeys;

/// The SE's ATR (T=1, no historical bytes of significance).
pub const ATR: [u8; 10] = [0x3B, 0x88, 0x80, 0x01, 0x4F, 0x4A, 0x50, 0x4B, 0x49, 0x53];

/// Number of logical channels (0–3, first interindustry class).
pub const CHANNELS: usize = 4;

/// Where the SE's state is committed.
pub trait SeNvm: Send {
    /// Makes `state` durable, or fails leaving the previous state durable.
    fn commit(&mut self, state: &SeState) -> std::io::Result<()>;
}

/// Volatile only.
#[derive(Debug, Default)]
pub struct MemoryNvm;

impl SeNvm for MemoryNvm {
    fn commit(&mut self, _: &SeState) -> std::io::Result<()> {
        Ok(())
    }
}

/// An SE file, replaced atomically.
#[derive(Debug)]
pub struct FileNvm(pub std::path::PathBuf);

impl SeNvm for FileNvm {
    fn commit(&mut self, state: &SeState) -> std::io::Result<()> {
        pki::fs::write_atomically(&self.0, &serde_json::to_vec_pretty(state).expect("serializes"))
    }
}

/// A logical channel's volatile state.
#[derive(Debug, Default)]
pub(crate) struct Chan {
    pub selected: Option<Vec<u8>>,
    pub scp: CardSession,
    pub perso_target: Option<Vec<u8>>,
    pub pending: Vec<u8>,
}

/// The SE's NVM, shared with the applets it hosts.
pub(crate) type SharedNvm = std::sync::Arc<std::sync::Mutex<Box<dyn SeNvm>>>;

/// The secure element.
pub struct SecureElement {
    pub(crate) state: SeState,
    pub(crate) nvm: SharedNvm,
    pub(crate) channels: [Option<Chan>; CHANNELS],
    /// Running JPKI applet instances (parsed keys, security state), by AID.
    pub(crate) applets: std::collections::HashMap<Vec<u8>, mynacard::MynaCard>,
}

/// Default KVN of the factory ISD key set.
pub const ISD_KVN: u8 = 0x01;

impl SecureElement {
    /// A new SE in state SECURED: an ISD whose static keys are diversified
    /// from `master` with "KDF3" and the SE identifier, and the ARA-M.
    pub fn manufacture(master: &AesKey, serial: [u8; 4], batch: [u8; 2]) -> SeState {
        let cplc = gp::commands::Cplc::new([0x4F, 0x4A], [0x53, 0x45], serial, batch);
        let keys = StaticKeys::diversify_kdf3(ISD_KVN, master, &cplc.se_identifier());
        let isd = Entry {
            aid: rom::ISD_AID.to_vec(),
            kind: Kind::SecurityDomain,
            life_cycle: lcs::SECURED,
            privileges: vec![0x9E, 0xFE, 0x80],
            security_domain: rom::ISD_AID.to_vec(),
            key_sets: vec![KeySet::new(&keys)],
            jpki: None,
        };
        let ara = Entry {
            aid: gp::ara::ARA_M_AID.to_vec(),
            kind: Kind::AraM,
            life_cycle: lcs::SELECTABLE,
            privileges: vec![0, 0, 0],
            security_domain: rom::ISD_AID.to_vec(),
            key_sets: vec![],
            jpki: None,
        };
        SeState {
            format: FORMAT.into(),
            cplc: cplc.raw.to_vec(),
            card_life_cycle: lcs::SECURED,
            registry: vec![isd, ara],
            ara_rules: vec![],
            refresh_tag: vec![0; 8],
        }
    }

    /// An SE with `state`, committing to `nvm`.
    pub fn new(state: SeState, nvm: Box<dyn SeNvm>) -> Result<Self, String> {
        if state.format != FORMAT {
            return Err(format!("not an SE file (format {:?})", state.format));
        }
        Ok(Self {
            state,
            nvm: std::sync::Arc::new(std::sync::Mutex::new(nvm)),
            channels: Default::default(),
            applets: Default::default(),
        })
    }

    /// Opens an SE file.
    pub fn open(path: &std::path::Path) -> Result<Self, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let state: SeState = serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::new(state, Box::new(FileNvm(path.to_owned())))
    }

    /// The AID selected on logical channel `channel`, if it is open and
    /// something is selected (the phone OS's view, for its relay).
    pub fn selected_on(&self, channel: usize) -> Option<&[u8]> {
        self.channels.get(channel)?.as_ref()?.selected.as_deref()
    }

    /// The SE's state.
    pub fn state(&self) -> &SeState {
        &self.state
    }

    /// Applies `change` to a copy of the state and commits it; on success
    /// the copy becomes the state. The SE's state never diverges from NVM.
    pub(crate) fn transact<T>(
        &mut self,
        change: impl FnOnce(&mut SeState) -> Result<T, StatusWord>,
    ) -> Result<T, StatusWord> {
        let mut next = self.state.clone();
        let out = change(&mut next)?;
        let mut nvm = self.nvm.lock().map_err(|_| StatusWord::MemoryFailure)?;
        nvm.commit(&next).map_err(|_| StatusWord::MemoryFailure)?;
        drop(nvm);
        self.state = next;
        Ok(out)
    }

    /// A transaction on one applet's data; its running instance is
    /// rebuilt from the new data on next use.
    pub(crate) fn transact_applet<T>(
        &mut self,
        aid: &[u8],
        change: impl FnOnce(&mut crate::state::PhoneJpki) -> Result<T, StatusWord>,
    ) -> Result<T, StatusWord> {
        let out = self.transact(|s| {
            let applet = s.entry_mut(aid).and_then(|e| e.jpki.as_mut()).ok_or(StatusWord::FileNotFound)?;
            change(applet)
        })?;
        self.applets.remove(aid);
        Ok(out)
    }

    fn power_cycle(&mut self) {
        self.channels = Default::default();
        self.applets.clear();
        self.channels[0] = Some(Chan { selected: Some(rom::ISD_AID.to_vec()), ..Default::default() });
    }

    fn handle(&mut self, raw: &[u8], cmd: &Command) -> Response {
        if !matches!(cmd.cla & !0x03, 0x00 | 0x04 | 0x80 | 0x84) {
            return StatusWord::ClaNotSupported.into();
        }
        let ch = usize::from(cmd.cla & 0x03);
        if self.channels[ch].is_none() {
            return StatusWord::ChannelNotSupported.into();
        }
        match (cmd.cla & 0x80, cmd.ins) {
            (0x00, 0x70) => return self.manage_channel(cmd),
            (0x00, 0xA4) if cmd.p1 == 0x04 => return self.select(ch, cmd),
            _ => {}
        }
        let chan = self.channels[ch].as_ref().expect("open");
        let Some(aid) = chan.selected.clone() else { return StatusWord::CommandNotAllowed.into() };
        let Some(entry) = self.state.entry(&aid) else { return StatusWord::CommandNotAllowed.into() };
        match entry.kind {
            Kind::SecurityDomain => crate::sd::handle(self, ch, &aid, raw, cmd),
            Kind::AraM => crate::aram::handle(self, ch, cmd),
            Kind::Applet => crate::applet::handle(self, &aid, raw, cmd),
        }
    }

    /// MANAGE CHANNEL (ISO/IEC 7816-4 §11.1.2): `00 70 00 00 01` opens the
    /// next free channel, `00 70 80 ch` closes one.
    fn manage_channel(&mut self, cmd: &Command) -> Response {
        match (cmd.p1, cmd.p2) {
            (0x00, 0x00) => match (1..CHANNELS).find(|i| self.channels[*i].is_none()) {
                Some(i) => {
                    self.channels[i] = Some(Chan::default());
                    Response::new(vec![i as u8], StatusWord::Ok)
                }
                None => StatusWord::ChannelNotSupported.into(),
            },
            (0x80, n) => {
                let n = usize::from(n);
                if n == 0 || n >= CHANNELS || self.channels[n].is_none() {
                    return StatusWord::ChannelNotSupported.into();
                }
                self.channels[n] = None;
                StatusWord::Ok.into()
            }
            _ => StatusWord::IncorrectP1P2.into(),
        }
    }

    /// SELECT by AID (`00 A4 04 00|0C`): ends the channel's secure session.
    fn select(&mut self, ch: usize, cmd: &Command) -> Response {
        if cmd.p1 != 0x04 || !matches!(cmd.p2, 0x00 | 0x0C) {
            return StatusWord::IncorrectP1P2.into();
        }
        let aid = if cmd.data.is_empty() { rom::ISD_AID.to_vec() } else { cmd.data.clone() };
        let locked = self.state.card_life_cycle == lcs::CARD_LOCKED && aid != rom::ISD_AID;
        if locked || self.state.card_life_cycle == lcs::TERMINATED {
            return StatusWord::FileNotFound.into();
        }
        let found = self.state.registry.iter().find(|e| e.aid.starts_with(&aid) && e.is_selectable());
        let Some(entry) = found else { return StatusWord::FileNotFound.into() };
        let aid = entry.aid.clone();
        let is_applet = entry.kind == Kind::Applet;
        let chan = self.channels[ch].as_mut().expect("open");
        *chan = Chan { selected: Some(aid.clone()), ..Default::default() };
        if is_applet {
            crate::applet::selected(self, &aid);
        }
        if cmd.p2 == 0x0C {
            return StatusWord::Ok.into();
        }
        Response::new(tlv::encode(0x6F, &tlv::encode(0x84, &aid)), StatusWord::Ok)
    }
}

impl Icc for SecureElement {
    fn atr(&self) -> Vec<u8> {
        ATR.to_vec()
    }
    fn power_on(&mut self) {
        self.power_cycle();
    }
    fn power_off(&mut self) {
        self.channels = Default::default();
        self.applets.clear();
    }
    fn reset(&mut self) {
        self.power_cycle();
    }
    fn process(&mut self, raw: &[u8]) -> Vec<u8> {
        if self.channels[0].is_none() {
            self.power_cycle();
        }
        let response = match Command::parse(raw) {
            Ok(cmd) => self.handle(raw, &cmd),
            Err(_) => StatusWord::WrongLength.into(),
        };
        response.to_bytes()
    }
}

impl std::fmt::Debug for SecureElement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecureElement").field("se_id", &self.state.se_identifier()).finish_non_exhaustive()
    }
}
