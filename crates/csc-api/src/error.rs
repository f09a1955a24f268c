//! CSC error answers (spec/csc-sam.md §1.0): an HTTP status and
//! `{"error": code, "error_description": text}`. Clients match on the code
//! and on a few exact descriptions ("SAD expired", "Hash is not authorized
//! by the SAD"), so those are spelled here once.

use serde::{Deserialize, Serialize};

/// The JSON body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The CSC error code (`invalid_request`, `invalid_token`, …).
    pub error: String,
    /// What went wrong and what to do, for people and logs.
    pub error_description: String,
}

/// A CSC error: the code decides the HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CscError {
    /// The CSC error code.
    pub code: Code,
    /// The description.
    pub description: String,
}

/// The CSC error codes the RSSP answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// 400: a missing or malformed parameter, or a request the SAM refuses
    /// (an unknown credential, a hash the SAD does not cover, an expired
    /// or used SAD, a locked credential).
    InvalidRequest,
    /// 401: no bearer token, or one the service does not know.
    InvalidToken,
    /// 401: the bearer token expired.
    ExpiredToken,
    /// 400: `auth/login` credentials are wrong.
    AuthenticationError,
    /// 400: the authorisation factors are wrong (v2).
    InvalidAuthenticationData,
    /// 400: the PIN is wrong (v1 clients).
    InvalidPin,
    /// 400: the OTP is wrong (v1 clients).
    InvalidOtp,
    /// 403: the caller may not do this (another signer's credential, a
    /// privileged user asking to sign, a role that lacks the right).
    AccessDenied,
    /// 403: signDoc — a digest not authorised.
    InvalidHash,
    /// 400: the token endpoint's grant is wrong.
    InvalidGrant,
    /// 413 with `invalid_request`: the request body is too large.
    TooLarge,
    /// 429: slow down.
    TooManyRequests,
    /// 501: the method is not implemented.
    NotImplemented,
    /// 503: the SAM refuses to serve (a self-test failed).
    Unavailable,
    /// 500.
    ServerError,
}

impl Code {
    /// The code as the JSON carries it.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidRequest | Code::TooLarge => "invalid_request",
            Code::InvalidToken => "invalid_token",
            Code::ExpiredToken => "expired_token",
            Code::AuthenticationError => "authentication_error",
            Code::InvalidAuthenticationData => "invalid_authentication_data",
            Code::InvalidPin => "invalid_pin",
            Code::InvalidOtp => "invalid_otp",
            Code::AccessDenied => "access_denied",
            Code::InvalidHash => "invalid_hash",
            Code::InvalidGrant => "invalid_grant",
            Code::TooManyRequests => "temporarily_unavailable",
            Code::NotImplemented => "invalid_request",
            Code::Unavailable => "temporarily_unavailable",
            Code::ServerError => "server_error",
        }
    }

    /// The HTTP status that goes with it.
    pub fn http_status(self) -> u16 {
        match self {
            Code::InvalidToken | Code::ExpiredToken => 401,
            Code::AccessDenied | Code::InvalidHash => 403,
            Code::TooLarge => 413,
            Code::TooManyRequests => 429,
            Code::NotImplemented => 501,
            Code::Unavailable => 503,
            Code::ServerError => 500,
            _ => 400,
        }
    }
}

impl CscError {
    /// An error with `code` and `description`.
    pub fn new(code: Code, description: impl Into<String>) -> Self {
        Self { code, description: description.into() }
    }

    /// `invalid_request` with `description`.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(Code::InvalidRequest, description)
    }

    /// The JSON body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody { error: self.code.as_str().to_string(), error_description: self.description.clone() }
    }
}

impl std::fmt::Display for CscError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

impl std::error::Error for CscError {}

/// The descriptions clients match on (spec/csc-sam.md §1.1, §2.6).
pub mod text {
    /// The SAD is unknown, used up, or bound to another credential or caller.
    pub const INVALID_SAD: &str = "Invalid parameter SAD";
    /// The SAD's time is over.
    pub const SAD_EXPIRED: &str = "SAD expired";
    /// SCAL2: a hash the SAD does not cover.
    pub const HASH_NOT_AUTHORIZED: &str = "Hash is not authorized by the SAD";
    /// numSignatures above multisign.
    pub const TOO_MANY_SIGNATURES: &str = "Numbers of signatures is too high";
    /// Too many wrong factors.
    pub const CREDENTIAL_LOCKED: &str = "Credential locked";
    /// The credential is suspended or deleted.
    pub const CREDENTIAL_DISABLED: &str = "The credential identified by credentialID is disabled";
    /// The signer certificate's time is over.
    pub const CERTIFICATE_EXPIRED: &str = "Signing certificate is expired";
    /// An unknown credential, or one of another signer.
    pub const INVALID_CREDENTIAL: &str = "Invalid parameter credentialID";
    /// Wrong factors at authorize.
    pub const INVALID_AUTHENTICATION_DATA: &str = "The authentication data is invalid";
}
