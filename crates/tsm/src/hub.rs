//! The relay sessions of one TSM (GPC Amd B over HTTP): between two posts
//! of the phone, a session's flow is parked here as a value — no thread
//! waits for the phone. A post takes the flow out, gives it the SE's
//! responses on a task of its own (so a phone that hangs up mid-request
//! cannot cut a flow in half), and parks what it answers. A phone silent
//! for the hub's timeout, or one that posts another number of responses
//! than it was given commands, ends the session: the flow is abandoned and
//! cleans up (e.g. revokes a certificate it had issued but not written).

use crate::FlowError;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tsm_api::Code;

/// What a flow answers to the phone's responses.
#[derive(Debug)]
pub enum Next<S> {
    /// Relay this script to the SE; the flow waits, parked.
    Send(Vec<Vec<u8>>, S),
    /// The flow finished with this result.
    Done(serde_json::Value),
    /// The flow failed (it has cleaned up).
    Failed(FlowError),
}

/// A TSM's flow over the relay, between two posts of the phone.
pub trait Session: Send + Sized + 'static {
    /// The SE's responses to the script last sent: the next step.
    fn resume(self, responses: Vec<Vec<u8>>) -> impl Future<Output = Next<Self>> + Send;

    /// The phone went silent or broke the protocol: the flow ends with
    /// `why` and cleans up.
    fn abandon(self, why: FlowError) -> impl Future<Output = ()> + Send;
}

/// What the phone is told: the next commands, the result, or the failure.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Relay these C-APDUs as one script.
    Commands(Vec<Vec<u8>>),
    /// The flow finished.
    Done(serde_json::Value),
    /// The flow failed.
    Failed(FlowError),
}

impl Answer {
    /// The relay step on the wire.
    pub fn to_step(&self, session: &str) -> tsm_api::relay::RelayStep {
        use tsm_api::relay::RelayStep;
        match self {
            Answer::Commands(c) => RelayStep::commands(session, c),
            Answer::Done(v) => RelayStep::done(session, v.clone()),
            Answer::Failed(e) => RelayStep::failed(session, e.code, &e.message),
        }
    }
}

struct Parked<S> {
    flow: S,
    /// Commands handed to the phone and not yet answered.
    outstanding: usize,
    /// When the phone must have answered.
    deadline: Instant,
}

/// The relay sessions of one TSM.
pub struct RelayHub<S: Session> {
    sessions: Mutex<HashMap<String, Parked<S>>>,
    timeout: Duration,
}

impl<S: Session> std::fmt::Debug for RelayHub<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayHub").field("timeout", &self.timeout).field("open", &self.open_sessions()).finish()
    }
}

fn no_session(id: &str) -> FlowError {
    FlowError::new(Code::UnknownSession, format!("no open relay session {id:?}: it finished, failed or expired"))
}

impl<S: Session> RelayHub<S> {
    /// A hub whose flows give up on a phone silent for `timeout`; a task on
    /// the current runtime abandons them (it ends with the hub).
    pub fn new(timeout: Duration) -> Arc<Self> {
        let hub = Arc::new(Self { sessions: Mutex::new(HashMap::new()), timeout });
        let watched = Arc::downgrade(&hub);
        let every = (timeout / 4).clamp(Duration::from_millis(20), Duration::from_secs(1));
        tokio::spawn(watch(watched, every));
        hub
    }

    /// How long a flow waits for the phone.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sessions open (for tests and metrics).
    pub fn open_sessions(&self) -> usize {
        self.sessions.lock().expect("relay sessions").len()
    }

    /// Opens a session for a flow's first step; returns its id (256 random
    /// bits: a session is known only to the phone it was answered to) and
    /// what the phone is told.
    pub fn open(&self, first: Next<S>) -> (String, Answer) {
        let mut random = [0u8; 32];
        pki::fill_random(&mut random);
        let id = hex::encode(random);
        let answer = self.park(&id, first);
        (id, answer)
    }

    /// `f` of session `id`'s parked flow, if it is parked (not expired,
    /// ended, or in the middle of a step).
    pub fn peek<R>(&self, id: &str, f: impl FnOnce(&S) -> R) -> Option<R> {
        self.sessions.lock().expect("relay sessions").get(id).map(|parked| f(&parked.flow))
    }

    /// The phone posts the SE's responses to the commands it was given and
    /// gets the next step.
    pub async fn exchange(self: &Arc<Self>, id: &str, responses: Vec<Vec<u8>>) -> Answer {
        let Some(parked) = self.sessions.lock().expect("relay sessions").remove(id) else {
            return Answer::Failed(no_session(id));
        };
        if responses.len() != parked.outstanding {
            let why = FlowError::new(
                Code::RelayProtocol,
                format!(
                    "{} responses posted for {} commands; the session is closed",
                    responses.len(),
                    parked.outstanding
                ),
            );
            tokio::spawn(parked.flow.abandon(why.clone()));
            return Answer::Failed(why);
        }
        // On a task of its own: the flow's step completes (and parks or
        // cleans up) even if the phone hangs up before the answer.
        let (hub, session) = (self.clone(), id.to_string());
        let span = tracing::Span::current();
        let step = tokio::spawn(async move {
            let _in_request = span.enter();
            let next = parked.flow.resume(responses).await;
            hub.park(&session, next)
        });
        step.await.unwrap_or_else(|e| Answer::Failed(FlowError::internal(format!("relay flow: {e}"))))
    }

    fn park(&self, id: &str, next: Next<S>) -> Answer {
        match next {
            Next::Send(script, flow) => {
                let parked = Parked { flow, outstanding: script.len(), deadline: Instant::now() + self.timeout };
                self.sessions.lock().expect("relay sessions").insert(id.to_string(), parked);
                Answer::Commands(script)
            }
            Next::Done(v) => Answer::Done(v),
            Next::Failed(e) => Answer::Failed(e),
        }
    }

    /// Abandons the flows whose phone is late.
    fn sweep(&self) {
        let now = Instant::now();
        let late: Vec<Parked<S>> = {
            let mut sessions = self.sessions.lock().expect("relay sessions");
            let ids: Vec<String> =
                sessions.iter().filter(|(_, p)| p.deadline <= now).map(|(id, _)| id.clone()).collect();
            ids.iter().filter_map(|id| sessions.remove(id)).collect()
        };
        for parked in late {
            let why = FlowError::new(Code::RelayFailed, "the phone stopped answering (relay timeout)");
            tokio::spawn(parked.flow.abandon(why));
        }
    }
}

async fn watch<S: Session>(hub: Weak<RelayHub<S>>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        match hub.upgrade() {
            Some(hub) => hub.sweep(),
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Echoes `left` one-command scripts, then answers what it saw; records
    /// an abandonment.
    struct Echo {
        left: usize,
        seen: Vec<String>,
        abandoned: Arc<Mutex<Option<FlowError>>>,
    }

    impl Echo {
        fn first(n: usize) -> (Next<Echo>, Arc<Mutex<Option<FlowError>>>) {
            let abandoned = Arc::new(Mutex::new(None));
            let echo = Echo { left: n - 1, seen: Vec::new(), abandoned: abandoned.clone() };
            (Next::Send(vec![vec![0x80, 0xCA, 0, 0]], echo), abandoned)
        }
    }

    impl Session for Echo {
        async fn resume(mut self, responses: Vec<Vec<u8>>) -> Next<Self> {
            self.seen.extend(responses.iter().map(hex::encode));
            if self.left == 0 {
                return Next::Done(serde_json::json!(self.seen));
            }
            self.left -= 1;
            Next::Send(vec![vec![0x80, 0xCA, 0, self.seen.len() as u8]], self)
        }

        async fn abandon(self, why: FlowError) {
            *self.abandoned.lock().unwrap() = Some(why);
        }
    }

    #[tokio::test]
    async fn a_flow_runs_step_by_step_and_ends_with_its_result() {
        let hub = RelayHub::new(Duration::from_secs(5));
        let (first, abandoned) = Echo::first(3);
        let (id, mut answer) = hub.open(first);
        assert_eq!(id.len(), 64);
        let mut seen = 0;
        while let Answer::Commands(cmds) = answer {
            assert_eq!(cmds.len(), 1);
            seen += 1;
            answer = hub.exchange(&id, vec![vec![cmds[0][3], 0x90, 0x00]]).await;
        }
        assert_eq!(seen, 3);
        assert_eq!(answer, Answer::Done(serde_json::json!(["009000", "019000", "029000"])));
        assert_eq!(hub.open_sessions(), 0);
        assert!(matches!(hub.exchange(&id, vec![]).await, Answer::Failed(e) if e.code == Code::UnknownSession));
        assert!(abandoned.lock().unwrap().is_none());
    }

    #[tokio::test]
    async fn a_wrong_number_of_responses_closes_the_session_and_abandons_the_flow() {
        let hub = RelayHub::new(Duration::from_secs(5));
        let (first, abandoned) = Echo::first(2);
        let (id, _) = hub.open(first);
        let answer = hub.exchange(&id, vec![vec![0x90, 0x00], vec![0x90, 0x00]]).await;
        assert!(matches!(answer, Answer::Failed(e) if e.code == Code::RelayProtocol));
        assert_eq!(hub.open_sessions(), 0);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(abandoned.lock().unwrap().as_ref().map(|e| e.code), Some(Code::RelayProtocol));
    }

    #[tokio::test]
    async fn a_silent_phone_has_its_flow_abandoned_and_a_late_answer_finds_no_session() {
        let hub = RelayHub::new(Duration::from_millis(100));
        let (first, abandoned) = Echo::first(2);
        let (id, _) = hub.open(first);
        tokio::time::sleep(Duration::from_millis(400)).await;
        let why = abandoned.lock().unwrap().clone().expect("abandoned");
        assert_eq!(why.code, Code::RelayFailed);
        assert!(why.message.contains("timeout"), "{why}");
        assert_eq!(hub.open_sessions(), 0);
        let late = hub.exchange(&id, vec![vec![0x90, 0x00]]).await;
        assert!(matches!(late, Answer::Failed(e) if e.code == Code::UnknownSession));
    }

    #[tokio::test]
    async fn the_watch_ends_with_the_hub() {
        let hub = RelayHub::<Echo>::new(Duration::from_millis(40));
        let watched = Arc::downgrade(&hub);
        drop(hub);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(watched.upgrade().is_none());
    }
}
