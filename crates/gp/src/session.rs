//! The host side of a secure session with one security domain, reached
//! through a relay (GPC Amd B's remote management: the host produces
//! command scripts, something else carries them to the SE and brings the
//! responses back).
//!
//! Without I/O, as a state machine that consumes itself, like
//! [`crate::host::HostHandshake`]: [`Opening::start`] gives the first
//! script (SELECT and INITIALIZE UPDATE, one round trip),
//! [`Opening::answered`] checks the card's answer and gives EXTERNAL
//! AUTHENTICATE, [`Authenticating::answered`] gives the open
//! [`SecureSession`], which wraps scripts of commands ([`SecureSession::wrap`])
//! and checks their responses ([`SecureSession::unwrap`]). [`Blocking`]
//! drives the same machine over an [`apdu::Transport`], for tools and tests.

use crate::channel::ResponseContext;
use crate::host::HostHandshake;
use crate::{Channel, Scp03Error, StaticKeys};
use apdu::{Command, Response, StatusWord, Transport, TransportError};

/// Why a session step failed; nothing after the failing step was sent.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The secure channel failed (wrong keys, tampered or replayed APDU).
    #[error("secure channel: {0}")]
    Scp03(#[from] Scp03Error),
    /// The SE refused a step.
    #[error("{step}: the SE answered {sw}")]
    Refused {
        /// What was being done.
        step: &'static str,
        /// The status word.
        sw: StatusWord,
    },
    /// Malformed data from the SE, or a response count that does not match
    /// the script.
    #[error("malformed answer: {0}")]
    Malformed(&'static str),
}

/// Parses one raw R-APDU.
pub fn response(raw: &[u8], what: &'static str) -> Result<Response, SessionError> {
    Response::parse(raw).ok_or(SessionError::Malformed(what))
}

/// The responses to a script of `n` commands, each parsed.
fn responses(raw: &[Vec<u8>], n: usize, what: &'static str) -> Result<Vec<Response>, SessionError> {
    if raw.len() != n {
        return Err(SessionError::Malformed("a script answered with another number of responses"));
    }
    raw.iter().map(|r| response(r, what)).collect()
}

/// SELECT and INITIALIZE UPDATE sent, waiting for their answers.
#[derive(Debug)]
pub struct Opening {
    handshake: HostHandshake,
}

impl Opening {
    /// Starts opening SCP03 at `level` with the security domain `sd_aid`
    /// using `keys` and a fresh random `host_challenge`: returns the state
    /// and the script (SELECT, INITIALIZE UPDATE). The card's pseudo-random
    /// challenge is checked against the SD's AID.
    pub fn start(
        sd_aid: &[u8],
        keys: StaticKeys,
        level: u8,
        host_challenge: [u8; 8],
    ) -> Result<(Self, Vec<Vec<u8>>), SessionError> {
        let (handshake, init) = HostHandshake::start(keys, host_challenge, level)?;
        let select = crate::commands::select(sd_aid).to_bytes().map_err(|_| SessionError::Malformed("SELECT"))?;
        Ok((Self { handshake: handshake.expect_sd_aid(sd_aid) }, vec![select, init]))
    }

    /// Checks the answers and returns the state and the script (EXTERNAL
    /// AUTHENTICATE).
    pub fn answered(self, raw: &[Vec<u8>]) -> Result<(Authenticating, Vec<Vec<u8>>), SessionError> {
        let answers = responses(raw, 2, "SELECT or INITIALIZE UPDATE")?;
        if !matches!(answers[0].sw, StatusWord::Ok | StatusWord::BytesAvailable(_)) {
            return Err(SessionError::Refused { step: "selecting the security domain", sw: answers[0].sw });
        }
        if answers[1].sw != StatusWord::Ok {
            return Err(SessionError::Refused { step: "INITIALIZE UPDATE", sw: answers[1].sw });
        }
        let (channel, external_authenticate, _) = self.handshake.authenticate(&answers[1].data)?;
        Ok((Authenticating { channel }, vec![external_authenticate]))
    }
}

/// EXTERNAL AUTHENTICATE sent, waiting for its answer.
#[derive(Debug)]
pub struct Authenticating {
    channel: Channel,
}

impl Authenticating {
    /// The open session, if the card accepted the host's cryptogram.
    pub fn answered(self, raw: &[Vec<u8>]) -> Result<SecureSession, SessionError> {
        let answer = responses(raw, 1, "EXTERNAL AUTHENTICATE")?.remove(0);
        if answer.sw != StatusWord::Ok {
            return Err(SessionError::Refused { step: "EXTERNAL AUTHENTICATE", sw: answer.sw });
        }
        Ok(SecureSession { channel: self.channel })
    }
}

/// An open SCP03 session with a security domain.
#[derive(Debug)]
pub struct SecureSession {
    channel: Channel,
}

/// A wrapped script whose responses have not come back yet: each
/// command's step name and the context its response is checked against.
#[derive(Debug)]
#[must_use = "the responses must be checked with SecureSession::unwrap"]
pub struct Pending {
    steps: Vec<&'static str>,
    contexts: Vec<ResponseContext>,
}

impl Pending {
    /// How many responses are expected.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether the script was empty.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

impl SecureSession {
    /// Wraps a script of commands whose content does not depend on each
    /// other's responses (one relay round trip), each named by the step it
    /// performs. Returns the wire script and what checks the responses.
    pub fn wrap(&mut self, script: &[(&'static str, Command)]) -> Result<(Vec<Vec<u8>>, Pending), SessionError> {
        let mut wire = Vec::with_capacity(script.len());
        let mut pending = Pending { steps: Vec::with_capacity(script.len()), contexts: Vec::new() };
        for (step, cmd) in script {
            let plain = cmd.to_bytes().map_err(|_| SessionError::Malformed("command"))?;
            wire.push(self.channel.wrap_command(&plain)?);
            pending.steps.push(step);
            pending.contexts.push(self.channel.response_context());
        }
        Ok((wire, pending))
    }

    /// The unwrapped responses to a wrapped script, whatever their status
    /// words (each checked against its own command's MAC chain).
    pub fn unwrap(&self, pending: Pending, raw: &[Vec<u8>]) -> Result<Vec<Response>, SessionError> {
        if raw.len() != pending.len() {
            return Err(SessionError::Malformed("a script answered with another number of responses"));
        }
        pending
            .contexts
            .into_iter()
            .zip(raw)
            .map(|(context, r)| Ok(self.channel.unwrap_response_to(context, r)?))
            .collect()
    }

    /// [`SecureSession::unwrap`], requiring `90 00` from every command (the
    /// error names the failing step); returns the response data in order.
    pub fn unwrap_ok(&self, pending: Pending, raw: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, SessionError> {
        let steps = pending.steps.clone();
        let mut data = Vec::with_capacity(steps.len());
        for (step, r) in steps.into_iter().zip(self.unwrap(pending, raw)?) {
            if r.sw != StatusWord::Ok {
                return Err(SessionError::Refused { step, sw: r.sw });
            }
            data.push(r.data);
        }
        Ok(data)
    }
}

/// What a blocking session can fail with: the transport or the session.
#[derive(Debug, thiserror::Error)]
pub enum BlockingError {
    /// The transport to the SE failed.
    #[error("relay: {0}")]
    Transport(#[from] TransportError),
    /// The session failed.
    #[error(transparent)]
    Session(#[from] SessionError),
}

/// The session machine driven over a transport, one script per round trip.
#[derive(Debug)]
pub struct Blocking<'t, T: Transport + ?Sized> {
    transport: &'t mut T,
    session: SecureSession,
}

impl<'t, T: Transport + ?Sized> Blocking<'t, T> {
    /// Opens SCP03 at `level` with `sd_aid` using `keys` and a fresh random
    /// `host_challenge` over `transport`.
    pub fn open(
        transport: &'t mut T,
        sd_aid: &[u8],
        keys: StaticKeys,
        level: u8,
        host_challenge: [u8; 8],
    ) -> Result<Self, BlockingError> {
        let (opening, script) = Opening::start(sd_aid, keys, level, host_challenge)?;
        let (authenticating, script) = opening.answered(&transport.transmit_script(&script)?)?;
        let session = authenticating.answered(&transport.transmit_script(&script)?)?;
        Ok(Self { transport, session })
    }

    /// Sends a script; every command must answer `90 00`.
    pub fn run_script(&mut self, script: &[(&'static str, Command)]) -> Result<Vec<Vec<u8>>, BlockingError> {
        let (wire, pending) = self.session.wrap(script)?;
        let raw = self.transport.transmit_script(&wire)?;
        Ok(self.session.unwrap_ok(pending, &raw)?)
    }

    /// Sends one command; it must answer `90 00`.
    pub fn run(&mut self, step: &'static str, cmd: &Command) -> Result<Vec<u8>, BlockingError> {
        Ok(self.run_script(&[(step, cmd.clone())])?.remove(0))
    }

    /// Sends one command and returns the response whatever its status word.
    pub fn exchange(&mut self, cmd: &Command) -> Result<Response, BlockingError> {
        let (wire, pending) = self.session.wrap(&[("", cmd.clone())])?;
        let raw = self.transport.transmit_script(&wire)?;
        Ok(self.session.unwrap(pending, &raw)?.remove(0))
    }
}
