//! TSM flows as state machines without I/O (DESIGN.md "Preparation" and
//! "Provisioning"): a [`Machine`] is given the SE's responses to the
//! script it last produced and answers with the next script or its
//! result, consuming itself, as [`gp::session`] does for one secure
//! session. The services keep a machine between two posts of the phone
//! (no thread waits for the phone); [`drive`] runs one over a transport,
//! for tools and tests.

use crate::TsmError;
use apdu::{Response, StatusWord, Transport};
use gp::session::{Authenticating, Opening, SecureSession};
use gp::StaticKeys;

/// What a machine does next.
#[derive(Debug)]
pub enum Step<M: Machine> {
    /// Relay this script to the SE (one round trip) and give the responses
    /// to [`Machine::answered`].
    Send(Vec<Vec<u8>>, M),
    /// The machine finished.
    Done(M::Output),
}

/// A flow's state between two round trips to the SE.
pub trait Machine: Sized {
    /// What the flow produces.
    type Output;

    /// The SE's responses to the last script, in order.
    fn answered(self, responses: &[Vec<u8>]) -> Result<Step<Self>, TsmError>;
}

/// Runs a machine from `step` over `transport` until it finishes.
pub fn drive<M: Machine, T: Transport + ?Sized>(mut step: Step<M>, transport: &mut T) -> Result<M::Output, TsmError> {
    loop {
        match step {
            Step::Done(output) => return Ok(output),
            Step::Send(script, machine) => step = machine.answered(&transport.transmit_script(&script)?)?,
        }
    }
}

/// The one response a one-command script gets.
fn single(responses: &[Vec<u8>], what: &'static str) -> Result<Response, TsmError> {
    match responses {
        [raw] => Ok(gp::session::response(raw, what)?),
        _ => Err(TsmError::Malformed("a script answered with another number of responses")),
    }
}

/// Reads the SE identifier from CPLC without a secure channel: SELECT the
/// ISD, then GET DATA `9F7F` (GPC §H.4), one round trip each.
#[derive(Debug)]
pub enum ReadSeIdentifier {
    /// SELECT sent.
    Selecting,
    /// GET DATA sent.
    Reading,
}

impl ReadSeIdentifier {
    /// The first script: SELECT the ISD.
    pub fn start() -> Step<Self> {
        Step::Send(vec![command(&gp::commands::select(gp::aids::ISD))], ReadSeIdentifier::Selecting)
    }
}

fn command(c: &apdu::Command) -> Vec<u8> {
    c.to_bytes().expect("a short APDU")
}

impl Machine for ReadSeIdentifier {
    type Output = [u8; 10];

    fn answered(self, responses: &[Vec<u8>]) -> Result<Step<Self>, TsmError> {
        match self {
            ReadSeIdentifier::Selecting => {
                let r = single(responses, "SELECT")?;
                if r.sw != StatusWord::Ok {
                    return Err(TsmError::Refused { step: "selecting the ISD", sw: r.sw });
                }
                Ok(Step::Send(vec![command(&gp::commands::get_data(0x9F7F))], ReadSeIdentifier::Reading))
            }
            ReadSeIdentifier::Reading => {
                let r = single(responses, "GET DATA")?;
                if r.sw != StatusWord::Ok {
                    return Err(TsmError::Refused { step: "reading CPLC", sw: r.sw });
                }
                let cplc = gp::commands::Cplc::parse(&r.data).map_err(|_| TsmError::Malformed("CPLC"))?;
                Ok(Step::Done(cplc.se_identifier()))
            }
        }
    }
}

/// Opens SCP03 with a security domain (two round trips), as a machine
/// other machines start with.
#[derive(Debug)]
pub enum OpenSession {
    /// SELECT and INITIALIZE UPDATE sent.
    Opening(Box<Opening>),
    /// EXTERNAL AUTHENTICATE sent.
    Authenticating(Box<Authenticating>),
}

impl OpenSession {
    /// Starts opening `sd_aid` at `level` with `keys` (a fresh random host
    /// challenge).
    pub fn start(sd_aid: &[u8], keys: StaticKeys, level: u8) -> Result<Step<Self>, TsmError> {
        let mut challenge = [0u8; 8];
        pki::fill_random(&mut challenge);
        let (opening, script) = Opening::start(sd_aid, keys, level, challenge)?;
        Ok(Step::Send(script, OpenSession::Opening(Box::new(opening))))
    }
}

impl Machine for OpenSession {
    type Output = Box<SecureSession>;

    fn answered(self, responses: &[Vec<u8>]) -> Result<Step<Self>, TsmError> {
        match self {
            OpenSession::Opening(o) => {
                let (authenticating, script) = o.answered(responses)?;
                Ok(Step::Send(script, OpenSession::Authenticating(Box::new(authenticating))))
            }
            OpenSession::Authenticating(a) => Ok(Step::Done(Box::new(a.answered(responses)?))),
        }
    }
}

/// A running session and the script whose responses it waits for.
#[derive(Debug)]
pub struct Awaiting {
    /// The session (boxed: its keys and chaining state are large, and
    /// machines move between round trips).
    pub session: Box<SecureSession>,
    /// What checks the responses.
    pub pending: gp::session::Pending,
}

impl Awaiting {
    /// Wraps `script` in `session`: the wire script and the state that
    /// waits for its responses.
    pub fn wrap(
        session: impl Into<Box<SecureSession>>,
        script: &[(&'static str, apdu::Command)],
    ) -> Result<(Vec<Vec<u8>>, Self), TsmError> {
        let mut session = session.into();
        let (wire, pending) = session.wrap(script)?;
        Ok((wire, Self { session, pending }))
    }

    /// The responses' data, each `90 00`; and the session, to go on with.
    pub fn unwrap_ok(self, responses: &[Vec<u8>]) -> Result<(Vec<Vec<u8>>, Box<SecureSession>), TsmError> {
        let data = self.session.unwrap_ok(self.pending, responses)?;
        Ok((data, self.session))
    }

    /// The responses whatever their status words; and the session.
    pub fn unwrap(self, responses: &[Vec<u8>]) -> Result<(Vec<Response>, Box<SecureSession>), TsmError> {
        let r = self.session.unwrap(self.pending, responses)?;
        Ok((r, self.session))
    }
}
