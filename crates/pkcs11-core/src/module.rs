//! The module's state behind the C functions: slots, tokens, sessions,
//! searches and signature operations. Every method is what one `C_*`
//! function does, with Rust types; the C layer only converts.

use crate::config::{Config, Emulated};
use crate::device::{self, Source};
use crate::mechanism::{self, Input, Mechanism};
use crate::objects::{Kind, Lookup, Object, Role};
use crate::rv::{Result, Rv};
use crate::token::Card;
use cryptoki_sys::*;
use std::collections::BTreeMap;

/// One reader or emulated token and the card bound to it.
struct Device {
    source: Source,
    card: Option<Card>,
    /// Presence as last reported by [`Module::slot_event`].
    reported_present: bool,
}

/// A signature in progress.
#[derive(Debug)]
struct SignOp {
    role: Role,
    input: Input,
    /// `C_SignUpdate` was called: only `C_SignFinal` may end it.
    multi_part: bool,
    /// The signature key's signature is authorised (grant of a fresh
    /// login, or `CKU_CONTEXT_SPECIFIC`).
    authorised: bool,
}

#[derive(Debug)]
struct Session {
    slot: CK_SLOT_ID,
    rw: bool,
    found: Option<Vec<CK_OBJECT_HANDLE>>,
    sign: Option<SignOp>,
}

/// `C_GetSlotInfo`.
#[derive(Debug, Clone)]
pub struct SlotInfo {
    /// `slotDescription`.
    pub description: String,
    /// `flags`.
    pub flags: CK_FLAGS,
}

/// `C_GetTokenInfo`.
#[derive(Debug, Clone)]
pub struct TokenInfo {
    /// `label`.
    pub label: String,
    /// `model` (the EF 0006 name).
    pub model: String,
    /// `flags`.
    pub flags: CK_FLAGS,
    /// Sessions open on the token, all and read/write.
    pub sessions: (usize, usize),
    /// PIN length limits.
    pub pin_len: (usize, usize),
}

/// `C_GetSessionInfo`.
#[derive(Debug, Clone, Copy)]
pub struct SessionInfo {
    /// The slot.
    pub slot: CK_SLOT_ID,
    /// `CKS_*`.
    pub state: CK_STATE,
    /// `CKF_SERIAL_SESSION` and maybe `CKF_RW_SESSION`.
    pub flags: CK_FLAGS,
}

/// A signature call's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signed {
    /// Size query (`pSignature` NULL): the length; the operation goes on.
    Length(usize),
    /// The buffer is too small for this length; the operation goes on.
    TooSmall(usize),
    /// The signature; the operation is over.
    Done(Vec<u8>),
}

/// The module: everything between `C_Initialize` and `C_Finalize`.
pub struct Module {
    config: Config,
    devices: Vec<Device>,
    pcsc: Option<pcsc::Context>,
    sessions: BTreeMap<CK_SESSION_HANDLE, Session>,
    next_session: CK_SESSION_HANDLE,
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module").field("config", &self.config).field("sessions", &self.sessions.len()).finish()
    }
}

fn role_of(slot: CK_SLOT_ID) -> Role {
    if slot.is_multiple_of(2) {
        Role::Auth
    } else {
        Role::Sign
    }
}

fn object_handle(slot: CK_SLOT_ID, index: usize) -> CK_OBJECT_HANDLE {
    ((slot + 1) << 8) | index as CK_OBJECT_HANDLE
}

impl Module {
    /// A module offering the tokens `config` names.
    pub fn new(config: Config) -> Self {
        let devices = config
            .emulated
            .iter()
            .cloned()
            .map(|e: Emulated| Device { source: Source::Emulated(e), card: None, reported_present: false })
            .collect();
        let mut m = Self { config, devices, pcsc: None, sessions: BTreeMap::new(), next_session: 1 };
        m.refresh_readers();
        let presence = m.presence();
        for (device, present) in m.devices.iter_mut().zip(presence) {
            device.reported_present = present;
        }
        m
    }

    /// Looks for new readers and cards that left (PC/SC).
    fn refresh_readers(&mut self) {
        if !self.config.readers {
            return;
        }
        if self.pcsc.is_none() {
            self.pcsc = pcsc::Context::establish(pcsc::Scope::User).ok();
        }
        let names = match self.pcsc.as_ref().map(|ctx| ctx.list_readers_owned()) {
            Some(Ok(n)) => n,
            Some(Err(pcsc::Error::NoReadersAvailable)) | None => Vec::new(),
            Some(Err(_)) => {
                // pcscd restarted: a new context next time.
                self.pcsc = None;
                Vec::new()
            }
        };
        for name in names {
            let name = name.to_string_lossy().into_owned();
            if !self.config.offers_reader(&name) {
                continue;
            }
            if !self.devices.iter().any(|d| d.source == Source::Reader(name.clone())) {
                self.devices.push(Device { source: Source::Reader(name), card: None, reported_present: false });
            }
        }
        let readers: Vec<(usize, String)> = self
            .devices
            .iter()
            .enumerate()
            .filter_map(|(i, d)| match &d.source {
                Source::Reader(n) => Some((i, n.clone())),
                _ => None,
            })
            .collect();
        let present = match &self.pcsc {
            Some(ctx) => device::cards_present(ctx, &readers.iter().map(|(_, n)| n.clone()).collect::<Vec<_>>()),
            None => vec![false; readers.len()],
        };
        for ((index, _), present) in readers.into_iter().zip(present) {
            if !present && self.devices[index].card.is_some() {
                self.card_gone(index);
            }
        }
    }

    /// The card in device `index` is gone: its sessions end.
    fn card_gone(&mut self, index: usize) {
        self.devices[index].card = None;
        let slots = [2 * index as CK_SLOT_ID, 2 * index as CK_SLOT_ID + 1];
        self.sessions.retain(|_, s| !slots.contains(&s.slot));
    }

    fn device_index(&self, slot: CK_SLOT_ID) -> Result<usize> {
        let index = usize::try_from(slot / 2).map_err(|_| Rv::SLOT_ID_INVALID)?;
        if index >= self.devices.len() || (self.config.hide_sign_token && role_of(slot) == Role::Sign) {
            return Err(Rv::SLOT_ID_INVALID);
        }
        Ok(index)
    }

    /// The card in `slot`, bound on first use.
    fn card(&mut self, slot: CK_SLOT_ID) -> Result<&mut Card> {
        let index = self.device_index(slot)?;
        if self.devices[index].card.is_none() {
            let link = device::connect(&self.devices[index].source, self.pcsc.as_ref())
                .map_err(|_| Rv::DEVICE_ERROR)?
                .ok_or(Rv::TOKEN_NOT_PRESENT)?;
            self.devices[index].card = Some(Card::bind(link)?);
        }
        Ok(self.devices[index].card.as_mut().expect("bound above"))
    }

    /// Runs `f` on the card of `slot`; a lost card ends its sessions.
    fn with_card<T>(&mut self, slot: CK_SLOT_ID, f: impl FnOnce(&mut Card) -> Result<T>) -> Result<T> {
        let card = self.card(slot)?;
        let result = f(card);
        if card.removed {
            let index = self.device_index(slot)?;
            self.card_gone(index);
            return Err(Rv::DEVICE_REMOVED);
        }
        result
    }

    /// `C_GetSlotList`.
    pub fn slot_list(&mut self, token_present: bool) -> Vec<CK_SLOT_ID> {
        self.refresh_readers();
        let mut slots = Vec::new();
        for index in 0..self.devices.len() {
            let auth = 2 * index as CK_SLOT_ID;
            if token_present && self.card(auth).is_err() {
                continue;
            }
            slots.push(auth);
            if !self.config.hide_sign_token {
                slots.push(auth + 1);
            }
        }
        slots
    }

    /// `C_GetSlotInfo`.
    pub fn slot_info(&mut self, slot: CK_SLOT_ID) -> Result<SlotInfo> {
        let index = self.device_index(slot)?;
        let source = self.devices[index].source.clone();
        let mut flags = CKF_HW_SLOT;
        if source.removable() {
            flags |= CKF_REMOVABLE_DEVICE;
        }
        if self.card(slot).is_ok() {
            flags |= CKF_TOKEN_PRESENT;
        }
        Ok(SlotInfo { description: source.describe(), flags })
    }

    /// `C_GetTokenInfo`: the flags follow the card's try counter at each
    /// call, as OpenSC does.
    pub fn token_info(&mut self, slot: CK_SLOT_ID) -> Result<TokenInfo> {
        let role = role_of(slot);
        let (model, tries) = self.with_card(slot, |card| Ok((card.model(), card.tries_left(role)?)))?;
        let max = role.pin().max_tries();
        let mut flags = CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED | CKF_LOGIN_REQUIRED;
        match tries {
            Some(0) => flags |= CKF_USER_PIN_LOCKED,
            Some(1) => flags |= CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_COUNT_LOW,
            Some(n) if n < max => flags |= CKF_USER_PIN_COUNT_LOW,
            _ => {}
        }
        let on_slot: Vec<&Session> = self.sessions.values().filter(|s| s.slot == slot).collect();
        let rw = on_slot.iter().filter(|s| s.rw).count();
        let label = if self.config.hide_sign_token { "JPKI".to_string() } else { role.token_label().to_string() };
        Ok(TokenInfo { label, model, flags, sessions: (on_slot.len(), rw), pin_len: role.pin_len() })
    }

    /// `C_GetMechanismList`.
    pub fn mechanisms(&mut self, slot: CK_SLOT_ID) -> Result<Vec<CK_MECHANISM_TYPE>> {
        self.device_index(slot)?;
        Ok(mechanism::SUPPORTED.to_vec())
    }

    /// `C_GetMechanismInfo`: (min bits, max bits, flags).
    pub fn mechanism_info(
        &mut self,
        slot: CK_SLOT_ID,
        ty: CK_MECHANISM_TYPE,
    ) -> Result<(CK_ULONG, CK_ULONG, CK_FLAGS)> {
        self.device_index(slot)?;
        Mechanism::info(ty)
    }

    /// `C_OpenSession`.
    pub fn open_session(&mut self, slot: CK_SLOT_ID, flags: CK_FLAGS) -> Result<CK_SESSION_HANDLE> {
        self.device_index(slot)?;
        if flags & CKF_SERIAL_SESSION == 0 {
            return Err(Rv(CKR_SESSION_PARALLEL_NOT_SUPPORTED));
        }
        self.card(slot)?;
        let handle = self.next_session;
        self.next_session += 1;
        self.sessions.insert(handle, Session { slot, rw: flags & CKF_RW_SESSION != 0, found: None, sign: None });
        Ok(handle)
    }

    fn session(&mut self, h: CK_SESSION_HANDLE) -> Result<&mut Session> {
        self.sessions.get_mut(&h).ok_or(Rv::SESSION_HANDLE_INVALID)
    }

    /// `C_CloseSession`; the token's last session logs it out.
    pub fn close_session(&mut self, h: CK_SESSION_HANDLE) -> Result<()> {
        let slot = self.sessions.remove(&h).ok_or(Rv::SESSION_HANDLE_INVALID)?.slot;
        if !self.sessions.values().any(|s| s.slot == slot) {
            let role = role_of(slot);
            // Best effort: the card may be gone already.
            let _ = self.with_card(slot, |card| if card.logged_in(role) { card.logout(role) } else { Ok(()) });
        }
        Ok(())
    }

    /// `C_CloseAllSessions`.
    pub fn close_all_sessions(&mut self, slot: CK_SLOT_ID) -> Result<()> {
        self.device_index(slot)?;
        let handles: Vec<_> = self.sessions.iter().filter(|(_, s)| s.slot == slot).map(|(h, _)| *h).collect();
        for h in handles {
            self.close_session(h)?;
        }
        Ok(())
    }

    /// `C_GetSessionInfo`.
    pub fn session_info(&mut self, h: CK_SESSION_HANDLE) -> Result<SessionInfo> {
        let s = self.session(h)?;
        let (slot, rw) = (s.slot, s.rw);
        let role = role_of(slot);
        let user = self.devices[self.device_index(slot)?].card.as_ref().is_some_and(|c| c.logged_in(role));
        let state = match (rw, user) {
            (false, false) => CKS_RO_PUBLIC_SESSION,
            (false, true) => CKS_RO_USER_FUNCTIONS,
            (true, false) => CKS_RW_PUBLIC_SESSION,
            (true, true) => CKS_RW_USER_FUNCTIONS,
        };
        let flags = CKF_SERIAL_SESSION | if rw { CKF_RW_SESSION } else { 0 };
        Ok(SessionInfo { slot, state, flags })
    }

    /// `C_Login`. `pin` is `None` for a protected authentication path,
    /// which no JPKI reader of ours has.
    pub fn login(&mut self, h: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: Option<&[u8]>) -> Result<()> {
        let slot = self.session(h)?.slot;
        let role = role_of(slot);
        let pin = pin.ok_or(Rv::ARGUMENTS_BAD)?;
        match user {
            CKU_USER => self.with_card(slot, |card| card.login(role, pin)),
            CKU_CONTEXT_SPECIFIC => {
                let op = self.session(h)?.sign.as_ref().ok_or(Rv::OPERATION_NOT_INITIALIZED)?;
                if op.role != Role::Sign {
                    return Err(Rv::OPERATION_NOT_INITIALIZED);
                }
                let result = self.with_card(slot, |card| card.context_login(pin));
                if result.is_ok() {
                    if let Some(op) = self.session(h)?.sign.as_mut() {
                        op.authorised = true;
                    }
                }
                result
            }
            CKU_SO => Err(Rv(CKR_USER_TYPE_INVALID)),
            _ => Err(Rv(CKR_USER_TYPE_INVALID)),
        }
    }

    /// `C_Logout`.
    pub fn logout(&mut self, h: CK_SESSION_HANDLE) -> Result<()> {
        let slot = self.session(h)?.slot;
        let role = role_of(slot);
        self.with_card(slot, |card| card.logout(role))
    }

    /// The object behind a handle, if the session may see it now.
    fn object(&mut self, h: CK_SESSION_HANDLE, object: CK_OBJECT_HANDLE) -> Result<Object> {
        let slot = self.session(h)?.slot;
        if object >> 8 != slot + 1 {
            return Err(Rv(CKR_OBJECT_HANDLE_INVALID));
        }
        let index = (object & 0xFF) as usize;
        let role = role_of(slot);
        let objects = self.with_card(slot, |card| card.objects(role))?;
        objects.into_iter().find(|(i, _)| *i == index).map(|(_, o)| o).ok_or(Rv(CKR_OBJECT_HANDLE_INVALID))
    }

    /// `C_GetAttributeValue`: one answer per requested type.
    pub fn attributes(
        &mut self,
        h: CK_SESSION_HANDLE,
        object: CK_OBJECT_HANDLE,
        types: &[CK_ATTRIBUTE_TYPE],
    ) -> Result<Vec<Lookup>> {
        let o = self.object(h, object)?;
        Ok(types.iter().map(|t| o.lookup(*t)).collect())
    }

    /// `C_GetObjectSize`: the sum of the attribute values' lengths.
    pub fn object_size(&mut self, h: CK_SESSION_HANDLE, object: CK_OBJECT_HANDLE) -> Result<CK_ULONG> {
        let o = self.object(h, object)?;
        let size = [CKA_VALUE, CKA_MODULUS, CKA_LABEL, CKA_ID, CKA_SUBJECT]
            .iter()
            .filter_map(|t| match o.lookup(*t) {
                Lookup::Found(b) => Some(b.len()),
                _ => None,
            })
            .sum::<usize>();
        Ok(size as CK_ULONG)
    }

    /// `C_FindObjectsInit`.
    pub fn find_init(&mut self, h: CK_SESSION_HANDLE, template: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)]) -> Result<()> {
        let s = self.session(h)?;
        if s.found.is_some() {
            return Err(Rv::OPERATION_ACTIVE);
        }
        let slot = s.slot;
        let role = role_of(slot);
        let objects = self.with_card(slot, |card| card.objects(role))?;
        let found = objects.iter().filter(|(_, o)| o.matches(template)).map(|(i, _)| object_handle(slot, *i)).collect();
        self.session(h)?.found = Some(found);
        Ok(())
    }

    /// `C_FindObjects`: up to `max` more handles.
    pub fn find(&mut self, h: CK_SESSION_HANDLE, max: usize) -> Result<Vec<CK_OBJECT_HANDLE>> {
        let found = self.session(h)?.found.as_mut().ok_or(Rv::OPERATION_NOT_INITIALIZED)?;
        let n = max.min(found.len());
        Ok(found.drain(..n).collect())
    }

    /// `C_FindObjectsFinal`.
    pub fn find_final(&mut self, h: CK_SESSION_HANDLE) -> Result<()> {
        self.session(h)?.found.take().map(|_| ()).ok_or(Rv::OPERATION_NOT_INITIALIZED)
    }

    /// `C_SignInit` with mechanism `ty` (parameter bytes `params`) and key
    /// handle `key`.
    pub fn sign_init(
        &mut self,
        h: CK_SESSION_HANDLE,
        ty: CK_MECHANISM_TYPE,
        params: &[u8],
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        let s = self.session(h)?;
        if s.sign.is_some() {
            return Err(Rv::OPERATION_ACTIVE);
        }
        let slot = s.slot;
        let role = role_of(slot);
        let mechanism = Mechanism::from_raw(ty, params)?;
        let logged_in = self.with_card(slot, |card| Ok(card.logged_in(role)))?;
        if !logged_in {
            return Err(Rv::USER_NOT_LOGGED_IN);
        }
        let object = self.object(h, key).map_err(|_| Rv(CKR_KEY_HANDLE_INVALID))?;
        if object.kind != Kind::PrivateKey {
            return Err(Rv(CKR_KEY_HANDLE_INVALID));
        }
        let authorised = role == Role::Auth || self.with_card(slot, |card| Ok(card.take_sign_grant()))?;
        self.session(h)?.sign = Some(SignOp { role, input: Input::new(mechanism), multi_part: false, authorised });
        Ok(())
    }

    /// `C_Sign`: `capacity` is the caller's buffer size, `None` for a
    /// size query.
    pub fn sign(&mut self, h: CK_SESSION_HANDLE, data: &[u8], capacity: Option<usize>) -> Result<Signed> {
        let op = self.session(h)?.sign.as_ref().ok_or(Rv::OPERATION_NOT_INITIALIZED)?;
        if op.multi_part {
            return Err(Rv::OPERATION_ACTIVE);
        }
        let mut input = op.input.clone();
        if let Err(e) = input.update(data) {
            self.session(h)?.sign = None;
            return Err(e);
        }
        self.finish(h, input, capacity)
    }

    /// `C_SignUpdate`.
    pub fn sign_update(&mut self, h: CK_SESSION_HANDLE, part: &[u8]) -> Result<()> {
        let s = self.session(h)?;
        let op = s.sign.as_mut().ok_or(Rv::OPERATION_NOT_INITIALIZED)?;
        op.multi_part = true;
        let result = op.input.update(part);
        if result.is_err() {
            s.sign = None;
        }
        result
    }

    /// `C_SignFinal`.
    pub fn sign_final(&mut self, h: CK_SESSION_HANDLE, capacity: Option<usize>) -> Result<Signed> {
        let op = self.session(h)?.sign.as_ref().ok_or(Rv::OPERATION_NOT_INITIALIZED)?;
        let input = op.input.clone();
        self.finish(h, input, capacity)
    }

    /// Answers a size query, or lets the card sign and ends the operation.
    fn finish(&mut self, h: CK_SESSION_HANDLE, input: Input, capacity: Option<usize>) -> Result<Signed> {
        let s = self.session(h)?;
        let slot = s.slot;
        let op = s.sign.as_ref().ok_or(Rv::OPERATION_NOT_INITIALIZED)?;
        let (role, authorised) = (op.role, op.authorised);
        let len = self.with_card(slot, |card| card.signature_len(role))?;
        match capacity {
            None => return Ok(Signed::Length(len)),
            Some(c) if c < len => return Ok(Signed::TooSmall(len)),
            Some(_) => {}
        }
        // From here on the operation ends, whatever happens.
        self.session(h)?.sign = None;
        let digest_info = input.digest_info()?;
        let logged_in = self.with_card(slot, |card| Ok(card.logged_in(role)))?;
        if !logged_in || !authorised {
            return Err(Rv::USER_NOT_LOGGED_IN);
        }
        self.with_card(slot, |card| card.sign(role, &digest_info)).map(Signed::Done)
    }

    /// Whether each device holds a card (emulated tokens always do).
    fn presence(&self) -> Vec<bool> {
        let names: Vec<String> = self
            .devices
            .iter()
            .map(|d| match &d.source {
                Source::Reader(n) => n.clone(),
                Source::Emulated(_) => String::new(),
            })
            .collect();
        let readers = match &self.pcsc {
            Some(ctx) if names.iter().any(|n| !n.is_empty()) => device::cards_present(ctx, &names),
            _ => vec![false; names.len()],
        };
        self.devices.iter().zip(readers).map(|(d, p)| matches!(d.source, Source::Emulated(_)) || p).collect()
    }

    /// A slot whose token came or went since the last call (for
    /// `C_WaitForSlotEvent`), lowest first.
    pub fn slot_event(&mut self) -> Option<CK_SLOT_ID> {
        self.refresh_readers();
        for (index, now) in self.presence().into_iter().enumerate() {
            if self.devices[index].reported_present != now {
                self.devices[index].reported_present = now;
                return Some(2 * index as CK_SLOT_ID);
            }
        }
        None
    }
}
