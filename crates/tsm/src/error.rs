//! How a TSM flow fails: [`TsmError`] inside the flow, [`FlowError`] as the
//! phone is told (an API code and a message; the HTTP status follows from
//! the code, not from the flow).

use gp::session::SessionError;
use tsm_api::Code;

/// A TSM flow failed; nothing after the failing step was done.
#[derive(Debug, thiserror::Error)]
pub enum TsmError {
    /// The relay to the SE failed.
    #[error("relay: {0}")]
    Relay(#[from] apdu::TransportError),
    /// The secure channel failed (wrong keys, tampered or replayed APDU).
    #[error("secure channel: {0}")]
    Scp03(#[from] gp::Scp03Error),
    /// The SE refused a step.
    #[error("{step}: the SE answered {sw}")]
    Refused {
        /// What was being done.
        step: &'static str,
        /// The status word.
        sw: apdu::StatusWord,
    },
    /// The commitment does not match R: the card signed for another phone's SE
    /// (attack pattern 6).
    #[error("the commitment does not match this SE's random: the application was made for another phone")]
    CommitmentMismatch,
    /// The certificate issuer failed.
    #[error("certificate issuance: {0}")]
    Issuance(String),
    /// Malformed data from the SE.
    #[error("malformed answer: {0}")]
    Malformed(&'static str),
    /// The key store (a PKCS#11 token) failed.
    #[error("key store: {0}")]
    Key(String),
}

impl From<SessionError> for TsmError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Scp03(e) => TsmError::Scp03(e),
            SessionError::Refused { step, sw } => TsmError::Refused { step, sw },
            SessionError::Malformed(what) => TsmError::Malformed(what),
        }
    }
}

impl From<gp::session::BlockingError> for TsmError {
    fn from(e: gp::session::BlockingError) -> Self {
        match e {
            gp::session::BlockingError::Transport(e) => TsmError::Relay(e),
            gp::session::BlockingError::Session(e) => e.into(),
        }
    }
}

/// Why a flow or a request ended without result: a code and a human message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FlowError {
    /// Machine-readable code (and through it the HTTP status).
    pub code: Code,
    /// What happened and what to do.
    pub message: String,
}

impl FlowError {
    /// A new error.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    /// A failure whose cause goes to the log, not to the client.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "internal error");
        Self::new(Code::Internal, "internal error; the operator's log has the cause")
    }

    /// `invalid_request`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(Code::InvalidRequest, message)
    }
}

impl From<TsmError> for FlowError {
    fn from(e: TsmError) -> Self {
        let code = match &e {
            TsmError::Relay(_) => Code::RelayFailed,
            TsmError::Scp03(_) => Code::SecureChannelFailed,
            TsmError::Refused { .. } => Code::SeRefused,
            TsmError::CommitmentMismatch => Code::CommitmentMismatch,
            TsmError::Issuance(_) => Code::IssuanceFailed,
            TsmError::Malformed(_) => Code::SeMalformed,
            TsmError::Key(_) => Code::Internal,
        };
        Self::new(code, e.to_string())
    }
}

impl From<store::StoreError> for FlowError {
    fn from(e: store::StoreError) -> Self {
        FlowError::internal(e)
    }
}
