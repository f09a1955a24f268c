//! The relay over HTTP, as GlobalPlatform's remote application management
//! over HTTP (GPC Amd B) does it: the TSM's flow produces a command script,
//! the phone forwards each APDU to its SE unchanged and posts the SE's
//! responses back, until the TSM says the flow is done.
//!
//! A flow ([`crate::sei::prepare`], [`crate::sp::provision`], …) is written
//! against [`apdu::Transport`]; [`RelayHub::start`] runs it on a blocking
//! thread against a [`RemoteSe`] whose every `transmit_raw` becomes one
//! command handed to the phone in the answer to its last POST. The phone
//! sees only SCP03-wrapped APDUs. A phone that stops answering for
//! [`RelayHub::timeout`] ends the flow with an error, and the flow's own
//! error handling (e.g. revoking an issued but unwritten certificate) runs.

use apdu::{Transport, TransportError};
use std::collections::HashMap;
use std::sync::{mpsc as sync_mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Why a flow ended without result: an HTTP status, a machine-readable code
/// and a human message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FlowError {
    /// HTTP status of the answer.
    pub status: u16,
    /// Machine-readable code.
    pub code: &'static str,
    /// What happened and what to do.
    pub message: String,
}

impl FlowError {
    /// A new error.
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }
}

impl From<crate::TsmError> for FlowError {
    fn from(e: crate::TsmError) -> Self {
        use crate::TsmError::*;
        let (status, code) = match &e {
            Relay(_) => (504, "relay_failed"),
            Scp03(_) => (502, "secure_channel_failed"),
            Refused { .. } => (502, "se_refused"),
            CommitmentMismatch => (403, "commitment_mismatch"),
            Issuance(_) => (502, "issuance_failed"),
            Malformed(_) => (502, "se_malformed"),
        };
        Self::new(status, code, e.to_string())
    }
}

/// What the phone is told after each POST.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Send these APDUs to the SE, in order, and post the responses.
    Commands(Vec<Vec<u8>>),
    /// The flow finished; its result.
    Done(serde_json::Value),
    /// The flow failed; nothing more will be sent.
    Failed(FlowError),
}

impl Step {
    /// The JSON the phone receives, with the session it belongs to.
    pub fn to_json(&self, session: &str) -> serde_json::Value {
        match self {
            Step::Commands(c) => serde_json::json!({
                "session": session,
                "commands": c.iter().map(hex::encode_upper).collect::<Vec<_>>(),
            }),
            Step::Done(v) => serde_json::json!({ "session": session, "done": v }),
            Step::Failed(e) => serde_json::json!({ "session": session, "code": e.code, "message": e.message }),
        }
    }
}

enum Event {
    Commands(Vec<Vec<u8>>),
    Done(Result<serde_json::Value, FlowError>),
}

struct Session {
    events: tokio::sync::Mutex<mpsc::Receiver<Event>>,
    responses: sync_mpsc::Sender<Vec<u8>>,
    /// Commands handed to the phone and not yet answered.
    outstanding: Mutex<usize>,
    last_seen: Mutex<Instant>,
}

/// The SE as a TSM flow sees it: each APDU goes to the phone and the flow
/// waits (at most the hub's timeout) for the SE's response.
pub struct RemoteSe {
    events: mpsc::Sender<Event>,
    responses: sync_mpsc::Receiver<Vec<u8>>,
    timeout: Duration,
}

impl std::fmt::Debug for RemoteSe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteSe").field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

impl Transport for RemoteSe {
    fn transmit_raw(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        Ok(self.transmit_script(&[command.to_vec()])?.remove(0))
    }

    /// The whole script goes to the phone in one step.
    fn transmit_script(&mut self, commands: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, TransportError> {
        let gone = || TransportError::backend("relay", "the phone ended the session");
        self.events.blocking_send(Event::Commands(commands.to_vec())).map_err(|_| gone())?;
        let mut responses = Vec::with_capacity(commands.len());
        for _ in commands {
            match self.responses.recv_timeout(self.timeout) {
                Ok(r) => responses.push(r),
                Err(sync_mpsc::RecvTimeoutError::Timeout) => {
                    return Err(TransportError::backend("relay", "the phone stopped answering (relay timeout)"))
                }
                Err(sync_mpsc::RecvTimeoutError::Disconnected) => return Err(gone()),
            }
        }
        Ok(responses)
    }
}

/// The relay sessions of one TSM.
pub struct RelayHub {
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    timeout: Duration,
}

impl std::fmt::Debug for RelayHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayHub").field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

/// Unknown or finished relay session.
fn no_session(id: &str) -> FlowError {
    FlowError::new(404, "unknown_session", format!("no open relay session {id:?}: it finished, failed or expired"))
}

impl RelayHub {
    /// A hub whose flows give up on a phone silent for `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self { sessions: Mutex::new(HashMap::new()), timeout }
    }

    /// How long a flow waits for the phone.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sessions still open (for tests and metrics).
    pub fn open_sessions(&self) -> usize {
        self.sessions.lock().expect("relay sessions").len()
    }

    /// Starts `flow` on a blocking thread and returns the session id and the
    /// first step (usually the first command).
    pub async fn start<F>(&self, flow: F) -> (String, Step)
    where
        F: FnOnce(&mut RemoteSe) -> Result<serde_json::Value, FlowError> + Send + 'static,
    {
        self.sweep();
        let (event_tx, event_rx) = mpsc::channel(1);
        let (response_tx, response_rx) = sync_mpsc::channel();
        // 256 random bits: a session is known only to the phone it was
        // answered to (an id next to one's own is no one's).
        let mut random = [0u8; 32];
        pki::fill_random(&mut random);
        let id = hex::encode(random);
        let session = Arc::new(Session {
            events: tokio::sync::Mutex::new(event_rx),
            responses: response_tx,
            outstanding: Mutex::new(0),
            last_seen: Mutex::new(Instant::now()),
        });
        self.sessions.lock().expect("relay sessions").insert(id.clone(), session.clone());
        let mut remote = RemoteSe { events: event_tx.clone(), responses: response_rx, timeout: self.timeout };
        // The flow's log lines carry the id of the request that started it.
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _in_request = span.enter();
            let result = flow(&mut remote);
            let _ = event_tx.blocking_send(Event::Done(result));
        });
        let step = self.next_step(&id, &session).await;
        (id, step)
    }

    /// The phone posts the SE's responses to the commands it was given and
    /// gets the next step. A count that does not match ends the session.
    pub async fn exchange(&self, id: &str, responses: Vec<Vec<u8>>) -> Step {
        let Some(session) = self.sessions.lock().expect("relay sessions").get(id).cloned() else {
            return Step::Failed(no_session(id));
        };
        {
            let mut outstanding = session.outstanding.lock().expect("relay session");
            if responses.len() != *outstanding {
                let expected = *outstanding;
                drop(outstanding);
                self.end(id);
                return Step::Failed(FlowError::new(
                    400,
                    "relay_protocol",
                    format!("{} responses posted for {expected} commands; the session is closed", responses.len()),
                ));
            }
            *outstanding = 0;
        }
        *session.last_seen.lock().expect("relay session") = Instant::now();
        for r in responses {
            let _ = session.responses.send(r);
        }
        self.next_step(id, &session).await
    }

    async fn next_step(&self, id: &str, session: &Session) -> Step {
        let event = session.events.lock().await.recv().await;
        match event {
            Some(Event::Commands(c)) => {
                *session.outstanding.lock().expect("relay session") = c.len();
                Step::Commands(c)
            }
            Some(Event::Done(result)) => {
                self.end(id);
                match result {
                    Ok(v) => Step::Done(v),
                    Err(e) => Step::Failed(e),
                }
            }
            None => {
                self.end(id);
                Step::Failed(FlowError::new(500, "internal", "the flow ended without a result"))
            }
        }
    }

    /// Closes a session: its flow sees the phone gone at its next APDU.
    fn end(&self, id: &str) {
        self.sessions.lock().expect("relay sessions").remove(id);
    }

    /// Drops sessions the phone abandoned (their flows have timed out).
    fn sweep(&self) {
        let limit = self.timeout * 2;
        self.sessions
            .lock()
            .expect("relay sessions")
            .retain(|_, s| s.last_seen.lock().expect("relay session").elapsed() < limit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo_flow(n: usize) -> impl FnOnce(&mut RemoteSe) -> Result<serde_json::Value, FlowError> + Send + 'static {
        move |se| {
            let mut got = Vec::new();
            for i in 0..n {
                let r = se
                    .transmit_raw(&[0x80, 0xCA, 0, i as u8])
                    .map_err(|e| FlowError::new(504, "relay", e.to_string()))?;
                got.push(hex::encode(r));
            }
            Ok(serde_json::json!(got))
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flow_runs_command_by_command_and_ends_with_its_result() {
        let hub = RelayHub::new(Duration::from_secs(5));
        let (id, mut step) = hub.start(echo_flow(3)).await;
        let mut seen = Vec::new();
        while let Step::Commands(cmds) = step {
            assert_eq!(cmds.len(), 1);
            seen.push(cmds[0].clone());
            step = hub.exchange(&id, vec![vec![cmds[0][3], 0x90, 0x00]]).await;
        }
        assert_eq!(seen.len(), 3);
        assert_eq!(step, Step::Done(serde_json::json!(["009000", "019000", "029000"])));
        assert_eq!(hub.open_sessions(), 0);
        assert!(matches!(hub.exchange(&id, vec![]).await, Step::Failed(e) if e.code == "unknown_session"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_script_travels_in_one_step_and_its_responses_come_back_in_order() {
        let hub = RelayHub::new(Duration::from_secs(5));
        let (id, step) = hub
            .start(|se| {
                let script: Vec<Vec<u8>> = (0..3u8).map(|i| vec![0x80, 0xCA, 0, i]).collect();
                let r = se.transmit_script(&script).map_err(|e| FlowError::new(504, "relay", e.to_string()))?;
                Ok(serde_json::json!(r.iter().map(hex::encode).collect::<Vec<_>>()))
            })
            .await;
        let Step::Commands(cmds) = step else { panic!("{step:?}") };
        assert_eq!(cmds.len(), 3);
        assert!(
            matches!(hub.exchange(&id, vec![vec![0x90, 0x00]]).await, Step::Failed(e) if e.code == "relay_protocol")
        );
        let (id, step) = hub
            .start(|se| {
                let r = se
                    .transmit_script(&[vec![1, 2, 3, 4], vec![5, 6, 7, 8]])
                    .map_err(|e| FlowError::new(504, "relay", e.to_string()))?;
                Ok(serde_json::json!(r.iter().map(hex::encode).collect::<Vec<_>>()))
            })
            .await;
        assert!(matches!(&step, Step::Commands(c) if c.len() == 2));
        let done = hub.exchange(&id, vec![vec![0x61, 0x00], vec![0x90, 0x00]]).await;
        assert_eq!(done, Step::Done(serde_json::json!(["6100", "9000"])));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_wrong_number_of_responses_closes_the_session_and_the_flow_fails() {
        let hub = RelayHub::new(Duration::from_secs(5));
        let (id, step) = hub.start(echo_flow(2)).await;
        assert!(matches!(step, Step::Commands(_)));
        let step = hub.exchange(&id, vec![vec![0x90, 0x00], vec![0x90, 0x00]]).await;
        assert!(matches!(step, Step::Failed(e) if e.code == "relay_protocol"));
        assert_eq!(hub.open_sessions(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_silent_phone_times_the_flow_out() {
        let hub = RelayHub::new(Duration::from_millis(100));
        let (id, _) = hub.start(echo_flow(2)).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        // The flow gave up; the answer to a late response is its failure.
        let step = hub.exchange(&id, vec![vec![0x90, 0x00]]).await;
        assert!(matches!(&step, Step::Failed(e) if e.code == "relay" && e.message.contains("timeout")), "{step:?}");
    }
}
