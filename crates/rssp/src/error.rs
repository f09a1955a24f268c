//! One error type for the service: a CSC error (spec/csc-sam.md §1.0), so
//! every refusal — of the SAM, of registration, of the privileged API —
//! reaches the caller as `{"error", "error_description"}` with its status.

pub use csc_api::error::text;
use csc_api::error::Code;
use csc_api::CscError;

/// A refusal or failure, as the caller will see it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RsspError(pub CscError);

impl RsspError {
    /// An error with `code`.
    pub fn new(code: Code, description: impl Into<String>) -> Self {
        Self(CscError::new(code, description))
    }

    /// `invalid_request`.
    pub fn invalid(description: impl Into<String>) -> Self {
        Self::new(Code::InvalidRequest, description)
    }

    /// `access_denied` (403).
    pub fn denied(description: impl Into<String>) -> Self {
        Self::new(Code::AccessDenied, description)
    }

    /// `server_error` (500); the details go to the log, not to the caller.
    pub fn internal(description: impl std::fmt::Display) -> Self {
        tracing::error!(error = %description, "internal error");
        Self::new(Code::ServerError, "internal error; the service's log has the details")
    }

    /// The CSC code.
    pub fn code(&self) -> Code {
        self.0.code
    }

    /// The description.
    pub fn description(&self) -> &str {
        &self.0.description
    }
}

impl From<store::StoreError> for RsspError {
    fn from(e: store::StoreError) -> Self {
        Self::internal(e)
    }
}

impl From<crate::cm::CmError> for RsspError {
    fn from(e: crate::cm::CmError) -> Self {
        Self::internal(e)
    }
}
