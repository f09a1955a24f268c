//! The card (security domain) side of SCP03: INITIALIZE UPDATE, EXTERNAL
//! AUTHENTICATE, then unwrapping commands and wrapping responses; any
//! failure aborts the session (Amd D §5.5–5.6, §7.1). Sans-IO: the caller
//! keeps the key sets and persists the sequence counter.

use crate::channel::{level, Channel};
use crate::crypto::{constant, kdf};
use crate::keys::{SessionKeys, StaticKeys};
use crate::Scp03Error;
use apdu::{Command, Response, StatusWord};

/// The card's SCP03 parameters for one security domain.
#[derive(Debug, Clone)]
pub struct CardConfig {
    /// The "i" parameter (Amd D Table 5-1), e.g. `70`.
    pub i: u8,
    /// Key diversification data returned in INITIALIZE UPDATE (10 bytes).
    pub kdd: [u8; 10],
    /// The security domain's instance AID (context of the pseudo-random
    /// card challenge).
    pub sd_aid: Vec<u8>,
}

/// Largest sequence counter value (3 bytes).
pub const MAX_SEQUENCE: u32 = 0xFF_FFFF;

/// Where the card's secure channel stands.
#[derive(Debug, Default)]
pub enum CardSession {
    /// No session.
    #[default]
    Idle,
    /// INITIALIZE UPDATE answered; waiting for EXTERNAL AUTHENTICATE.
    Initialized {
        /// Derived session keys.
        keys: SessionKeys,
        /// host challenge ‖ card challenge.
        context: Vec<u8>,
    },
    /// Mutually authenticated.
    Open(Channel),
    /// A command broke the rules: everything is refused until a new
    /// INITIALIZE UPDATE, a reselection or a reset.
    Aborted,
}

impl CardSession {
    /// Handles INITIALIZE UPDATE `80 50 KVN 00 08 <host challenge>` with the
    /// key set the caller found for KVN (`None` → `6A 88`). With a
    /// pseudo-random challenge (i bit `10`), `sequence` is incremented first
    /// and the caller must persist it; `random` supplies a random challenge
    /// otherwise.
    pub fn initialize_update(
        &mut self,
        cmd: &Command,
        config: &CardConfig,
        keys: Option<&StaticKeys>,
        sequence: &mut u32,
        random: impl FnOnce() -> [u8; 8],
    ) -> Response {
        *self = CardSession::Idle;
        if cmd.p2 != 0x00 {
            return StatusWord::IncorrectP1P2.into();
        }
        if cmd.data.len() != 8 {
            return StatusWord::WrongLength.into();
        }
        let Some(keys) = keys else { return StatusWord::ReferencedDataNotFound.into() };
        let pseudo_random = config.i & 0x10 != 0;
        let (card_challenge, seq) = if pseudo_random {
            if *sequence >= MAX_SEQUENCE {
                return StatusWord::ConditionsNotSatisfied.into();
            }
            *sequence += 1;
            let seq = sequence.to_be_bytes()[1..].to_vec();
            (kdf(&keys.enc, constant::CARD_CHALLENGE, &[&seq[..], &config.sd_aid].concat(), 64), Some(seq))
        } else {
            (random().to_vec(), None)
        };
        let context = [&cmd.data[..], &card_challenge].concat();
        let session = keys.session_keys(&context);
        let cryptogram = kdf(&session.s_mac, constant::CARD_CRYPTOGRAM, &context, 64);
        let mut data = Vec::with_capacity(32);
        data.extend_from_slice(&config.kdd);
        data.extend_from_slice(&[keys.kvn, 0x03, config.i]);
        data.extend_from_slice(&card_challenge);
        data.extend_from_slice(&cryptogram);
        if let Some(seq) = seq {
            data.extend_from_slice(&seq);
        }
        *self = CardSession::Initialized { keys: session, context };
        Response::new(data, StatusWord::Ok)
    }

    /// Handles EXTERNAL AUTHENTICATE `84 82 level 00 10 <host cryptogram>
    /// <C-MAC>` (raw bytes). A wrong MAC or cryptogram answers `63 00` / `69 82`
    /// and leaves no session.
    pub fn external_authenticate(&mut self, raw: &[u8]) -> Response {
        let CardSession::Initialized { keys, context } = std::mem::take(self) else {
            return StatusWord::ConditionsNotSatisfied.into();
        };
        let Ok(cmd) = Command::parse(raw) else { return StatusWord::WrongLength.into() };
        if !level::VALID.contains(&cmd.p1) || cmd.p2 != 0 {
            return StatusWord::IncorrectP1P2.into();
        }
        let mut check = Channel::new(keys.clone(), level::C_MAC, [0; 16]);
        let Ok(plain) = check.unwrap_command(raw) else { return StatusWord::SecurityStatusNotSatisfied.into() };
        let expected = kdf(&keys.s_mac, constant::HOST_CRYPTOGRAM, &context, 64);
        if plain.data != expected {
            return StatusWord::Other(0x6300).into();
        }
        *self = CardSession::Open(Channel::new(keys, cmd.p1, check.chaining_value()));
        StatusWord::Ok.into()
    }

    /// The security level in force (`None` without an open session).
    pub fn level(&self) -> Option<u8> {
        match self {
            CardSession::Open(c) => Some(c.level()),
            _ => None,
        }
    }

    /// Unwraps a command received in the open session; on any failure the
    /// session is aborted and the error says why (answer `69 82`).
    pub fn unwrap_command(&mut self, raw: &[u8]) -> Result<Command, Scp03Error> {
        let CardSession::Open(channel) = self else {
            return Err(Scp03Error::NoSession);
        };
        channel.unwrap_command(raw).inspect_err(|_| *self = CardSession::Aborted)
    }

    /// Wraps a response in the open session (plain otherwise).
    pub fn wrap_response(&self, response: &Response) -> Vec<u8> {
        match self {
            CardSession::Open(channel) => channel.wrap_response(response),
            _ => response.to_bytes(),
        }
    }

    /// Ends the session (reselection, reset, channel close).
    pub fn reset(&mut self) {
        *self = CardSession::Idle;
    }
}
