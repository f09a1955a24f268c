//! Service errors: a machine-readable code, a human message, an HTTP status.
//! The cause of an internal error goes to the log, not to the client.

use jlis_api::Code;

/// A refused or failed request. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum JlisError {
    /// The DER did not parse.
    #[error("malformed {0}: not valid DER")]
    MalformedDer(&'static str),
    /// The public key is not RSA-2048.
    #[error("the public key must be RSA with 2048 bits (got {0})")]
    WrongKeySize(String),
    /// No certificate with this serial.
    #[error("no certificate with serial {0}")]
    UnknownSerial(String),
    /// The card certificate was not issued by this service's CAs.
    #[error("the card certificate was not issued by this JPKI service")]
    ForeignCa,
    /// The card certificate is outside its validity period.
    #[error("the card certificate is not valid now (expired or not yet valid)")]
    CardExpired,
    /// The card certificate is revoked.
    #[error("the card certificate is revoked")]
    CardRevoked,
    /// The card certificate is on hold.
    #[error("the card certificate is on hold (一時保留); release it first")]
    CardOnHold,
    /// The card certificate is of the wrong kind for this request.
    #[error("{0}")]
    WrongCertificate(String),
    /// The card-signed application behind a phone certificate request does
    /// not verify, is not this card's, is too old, or is not for this type.
    #[error("{0}")]
    Application(String),
    /// Device trust: the attestation result or the SE's key attestation was
    /// missing or refused.
    #[error("the phone is not trusted: {0}")]
    DeviceNotTrusted(String),
    /// The application already has an active certificate of this type.
    #[error("this application already has an active {0} certificate; the holder must apply again")]
    ApplicationUsed(&'static str),
    /// The request id was seen before.
    #[error("request {0} was already processed (replay)")]
    Replay(String),
    /// The state change is not allowed from the current state.
    #[error("{0}")]
    Conflict(String),
    /// The input is invalid.
    #[error("{0}")]
    Invalid(String),
    /// The body is larger than the route takes.
    #[error("{0}")]
    TooLarge(String),
    /// The caller may not make this request.
    #[error("{0}")]
    Forbidden(&'static str),
    /// Too much work is waiting: the request was not carried out; the
    /// caller may try again shortly (with the same request id).
    #[error("{0}")]
    Busy(String),
    /// Storage or signing failed.
    #[error("internal error; the request was not carried out")]
    Internal(String),
    /// The service cannot start or go on serving: its configuration, keys,
    /// TLS material or listeners are not usable (said in full, for the
    /// operator).
    #[error("the JPKI service cannot run: {0}")]
    Service(String),
}

impl JlisError {
    /// The API's code for it.
    pub fn code(&self) -> Code {
        match self {
            JlisError::MalformedDer(_) => Code::MalformedDer,
            JlisError::WrongKeySize(_) => Code::WrongKeySize,
            JlisError::UnknownSerial(_) => Code::UnknownSerial,
            JlisError::ForeignCa => Code::ForeignCa,
            JlisError::CardExpired => Code::CardExpired,
            JlisError::CardRevoked => Code::CardRevoked,
            JlisError::CardOnHold => Code::CardOnHold,
            JlisError::WrongCertificate(_) => Code::WrongCertificate,
            JlisError::Application(_) => Code::BadApplication,
            JlisError::DeviceNotTrusted(_) => Code::DeviceNotTrusted,
            JlisError::ApplicationUsed(_) => Code::ApplicationUsed,
            JlisError::Replay(_) => Code::Replay,
            JlisError::Conflict(_) => Code::Conflict,
            JlisError::Invalid(_) => Code::InvalidRequest,
            JlisError::Forbidden(_) => Code::Forbidden,
            JlisError::TooLarge(_) => Code::TooLarge,
            JlisError::Busy(_) => Code::Busy,
            JlisError::Internal(_) | JlisError::Service(_) => Code::Internal,
        }
    }

    /// The HTTP status it is answered with.
    pub fn http_status(&self) -> u16 {
        self.code().http_status()
    }
}

impl From<store::StoreError> for JlisError {
    fn from(e: store::StoreError) -> Self {
        tracing::error!(error = %e, "storage failure");
        JlisError::Internal(e.to_string())
    }
}

impl From<pki::cert::CertError> for JlisError {
    fn from(e: pki::cert::CertError) -> Self {
        tracing::error!(error = %e, "certificate operation failed");
        JlisError::Internal(e.to_string())
    }
}
