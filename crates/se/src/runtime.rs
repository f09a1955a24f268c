//! The SE's runtime (GPC §3–§6): logical channels, selection, and dispatch
//! of each command to the [`Applet`] that handles the selected entry's
//! kind. The runtime names no applet: the ROM that maps kinds to applets is
//! given at construction (`crate::element`), and each applet instance keeps
//! its running state in a context of its own. Every state change is
//! committed before the answer goes out; a failed commit answers `65 81`
//! and leaves the state as it was.

use crate::state::{lcs, rom, Kind, SeState, FORMAT};
use apdu::{tlv, Command, Icc, Response, StatusWord};
use gp::card::CardSession;
use std::any::Any;
use std::collections::HashMap;

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

/// An application the SE hosts (a security domain, the ARA-M, the JPKI
/// applet): the runtime hands it the commands of channels where one of its
/// instances is selected, and the STORE DATA its security domain forwards.
pub trait Applet: Send + Sync {
    /// A command on channel `ch`, where its instance `aid` is selected.
    fn process(&self, se: &mut SecureElement, ch: usize, aid: &[u8], raw: &[u8], cmd: &Command) -> Response;

    /// Its instance `aid` was selected on a channel.
    fn selected(&self, _se: &mut SecureElement, _aid: &[u8]) {}

    /// STORE DATA for its instance `aid`, forwarded by a security domain
    /// after INSTALL [for personalization] (GPC §11.11), inside a session
    /// at `level`.
    fn personalize(
        &self,
        _se: &mut SecureElement,
        _aid: &[u8],
        _data: &[u8],
        _level: u8,
    ) -> Result<Response, StatusWord> {
        Err(StatusWord::FunctionNotSupported)
    }
}

/// The applets in the SE's ROM, by the kind of registry entry they run.
pub type Rom = fn(&Kind) -> &'static dyn Applet;

/// The SE's NVM, shared with the applets it hosts.
pub(crate) type SharedNvm = std::sync::Arc<std::sync::Mutex<Box<dyn SeNvm>>>;

/// The secure element.
pub struct SecureElement {
    state: SeState,
    nvm: SharedNvm,
    channels: [Option<Chan>; CHANNELS],
    rom: Rom,
    /// Each applet instance's running context (e.g. the JPKI applet's
    /// parsed keys and security state), by AID; dropped on reset and when
    /// the instance's data changes.
    contexts: HashMap<Vec<u8>, Box<dyn Any + Send>>,
}

impl SecureElement {
    /// An SE with `state` committing to `nvm`, running the applets of `rom`.
    pub fn with_rom(state: SeState, nvm: Box<dyn SeNvm>, rom: Rom) -> Result<Self, String> {
        if state.format != FORMAT {
            return Err(format!("not an SE file (format {:?})", state.format));
        }
        Ok(Self {
            state,
            nvm: std::sync::Arc::new(std::sync::Mutex::new(nvm)),
            channels: Default::default(),
            rom,
            contexts: HashMap::new(),
        })
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
        self.contexts.remove(aid);
        Ok(out)
    }

    /// Channel `ch`'s state (an open channel: the runtime dispatches only
    /// commands of open channels).
    pub(crate) fn channel(&self, ch: usize) -> &Chan {
        self.channels[ch].as_ref().expect("an open channel")
    }

    /// Channel `ch`'s state, to change.
    pub(crate) fn channel_mut(&mut self, ch: usize) -> &mut Chan {
        self.channels[ch].as_mut().expect("an open channel")
    }

    /// The NVM, for an applet that commits through its own store.
    pub(crate) fn shared_nvm(&self) -> SharedNvm {
        self.nvm.clone()
    }

    /// Takes `next` as the state: an applet already committed it to NVM.
    pub(crate) fn adopt(&mut self, next: SeState) {
        self.state = next;
    }

    /// Instance `aid`'s running context, if it has one of type `T`.
    pub(crate) fn context_mut<T: Any + Send>(&mut self, aid: &[u8]) -> Option<&mut T> {
        self.contexts.get_mut(aid)?.downcast_mut()
    }

    /// Sets instance `aid`'s running context.
    pub(crate) fn set_context<T: Any + Send>(&mut self, aid: &[u8], context: T) {
        self.contexts.insert(aid.to_vec(), Box::new(context));
    }

    /// Forwards STORE DATA to the applet of instance `target` (GPC §11.11).
    pub(crate) fn personalize(&mut self, target: &[u8], data: &[u8], level: u8) -> Result<Response, StatusWord> {
        let kind = self.state.entry(target).ok_or(StatusWord::ReferencedDataNotFound)?.kind.clone();
        (self.rom)(&kind).personalize(self, target, data, level)
    }

    fn power_cycle(&mut self) {
        self.channels = Default::default();
        self.contexts.clear();
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
        (self.rom)(&entry.kind).process(self, ch, &aid, raw, cmd)
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
        let applet = (self.rom)(&entry.kind);
        let chan = self.channels[ch].as_mut().expect("open");
        *chan = Chan { selected: Some(aid.clone()), ..Default::default() };
        applet.selected(self, &aid);
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
        self.contexts.clear();
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
