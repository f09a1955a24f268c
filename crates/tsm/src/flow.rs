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

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(sw: [u8; 2]) -> Vec<Vec<u8>> {
        vec![sw.to_vec()]
    }

    #[test]
    fn reading_the_se_identifier_refuses_what_is_not_its_answer() {
        let Step::Send(script, m) = ReadSeIdentifier::start() else { panic!("a first script") };
        assert_eq!(script, vec![vec![0x00, 0xA4, 0x04, 0x00, 0x08, 0xA0, 0, 0, 1, 0x51, 0, 0, 0, 0x00]]);
        assert!(matches!(m.answered(&raw([0x6A, 0x82])), Err(TsmError::Refused { step: "selecting the ISD", .. })));
        let Step::Send(_, m) = ReadSeIdentifier::start() else { panic!() };
        // Two answers to one command, then none: the count must match.
        assert!(matches!(m.answered(&[vec![0x90, 0x00], vec![0x90, 0x00]]), Err(TsmError::Malformed(_))));
        let Step::Send(_, m) = ReadSeIdentifier::start() else { panic!() };
        let Ok(Step::Send(_, m)) = m.answered(&raw([0x90, 0x00])) else { panic!("GET DATA next") };
        assert!(matches!(m.answered(&[vec![0x01, 0x90, 0x00]]), Err(TsmError::Malformed("CPLC"))));
    }

    #[test]
    fn opening_a_session_refuses_a_refusal_and_wrong_keys() {
        let keys = || StaticKeys::new(0x30, &[1; 16], &[2; 16], &[3; 16]).unwrap();
        let Step::Send(script, m) = OpenSession::start(&[0xA0, 0, 0, 1, 0x51, 0, 0, 0], keys(), 0x33).unwrap() else {
            panic!("SELECT and INITIALIZE UPDATE")
        };
        assert_eq!(script.len(), 2);
        let refused = m.answered(&[vec![0x6A, 0x82], vec![0x90, 0x00]]);
        assert!(matches!(refused, Err(TsmError::Refused { step: "selecting the security domain", .. })));
        let Step::Send(_, m) = OpenSession::start(&[0xA0, 0, 0, 1, 0x51, 0, 0, 0], keys(), 0x33).unwrap() else {
            panic!()
        };
        // An INITIALIZE UPDATE answer made with other keys: the card
        // cryptogram does not verify.
        let mut init = vec![0u8; 10];
        init.extend([0x30, 0x03, 0x60]);
        init.extend([0x11; 8]);
        init.extend([0x22; 8]);
        init.extend([0x90, 0x00]);
        assert!(matches!(m.answered(&[vec![0x90, 0x00], init]), Err(TsmError::Scp03(gp::Scp03Error::CardCryptogram))));
    }

    #[test]
    fn a_machine_runs_over_a_transport_to_its_result() {
        struct Answers(Vec<Vec<u8>>);
        impl Transport for Answers {
            fn transmit_raw(&mut self, _: &[u8]) -> Result<Vec<u8>, apdu::TransportError> {
                Ok(self.0.remove(0))
            }
        }
        let mut cplc = vec![0x9F, 0x7F, 0x2A];
        cplc.extend((0..42u8).collect::<Vec<_>>());
        cplc.extend([0x90, 0x00]);
        let mut se = Answers(vec![vec![0x90, 0x00], cplc]);
        let id = drive(ReadSeIdentifier::start(), &mut se).unwrap();
        assert_eq!(id.len(), 10);
        assert!(se.0.is_empty());
    }
}
