//! The JPKI service's error codes: what a client may act on. Every error
//! answer is JSON `{"code": …, "message": …}` with the code's HTTP status.

/// An error code of the JPKI service's API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// A DER input did not parse.
    MalformedDer,
    /// A public key is not RSA-2048.
    WrongKeySize,
    /// No certificate with this serial.
    UnknownSerial,
    /// The card certificate was not issued by this service.
    ForeignCa,
    /// The card certificate is expired or not yet valid.
    CardExpired,
    /// The card certificate is revoked.
    CardRevoked,
    /// The card certificate is on hold (一時保留).
    CardOnHold,
    /// The certificate is of the wrong kind for this request.
    WrongCertificate,
    /// The card-signed application does not stand behind this request.
    BadApplication,
    /// The application already has an active certificate of this type.
    ApplicationUsed,
    /// The request id was seen before.
    Replay,
    /// The change is not allowed from the current state.
    Conflict,
    /// The request is malformed.
    InvalidRequest,
    /// The caller is not authorized for this route.
    Forbidden,
    /// Storage or signing failed; nothing was done.
    Internal,
}

impl Code {
    /// Every code, for documentation and tests.
    pub const ALL: [Code; 15] = [
        Code::MalformedDer,
        Code::WrongKeySize,
        Code::UnknownSerial,
        Code::ForeignCa,
        Code::CardExpired,
        Code::CardRevoked,
        Code::CardOnHold,
        Code::WrongCertificate,
        Code::BadApplication,
        Code::ApplicationUsed,
        Code::Replay,
        Code::Conflict,
        Code::InvalidRequest,
        Code::Forbidden,
        Code::Internal,
    ];

    /// The code on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::MalformedDer => "malformed_der",
            Code::WrongKeySize => "wrong_key_size",
            Code::UnknownSerial => "unknown_serial",
            Code::ForeignCa => "foreign_ca",
            Code::CardExpired => "card_expired",
            Code::CardRevoked => "card_revoked",
            Code::CardOnHold => "card_on_hold",
            Code::WrongCertificate => "wrong_certificate",
            Code::BadApplication => "bad_application",
            Code::ApplicationUsed => "application_used",
            Code::Replay => "replay",
            Code::Conflict => "conflict",
            Code::InvalidRequest => "invalid_request",
            Code::Forbidden => "forbidden",
            Code::Internal => "internal",
        }
    }

    /// The code a client received, if it is one of this API's.
    pub fn parse(code: &str) -> Option<Code> {
        Code::ALL.into_iter().find(|c| c.as_str() == code)
    }

    /// The HTTP status the code is answered with.
    pub fn http_status(self) -> u16 {
        match self {
            Code::UnknownSerial => 404,
            Code::Replay | Code::Conflict | Code::ApplicationUsed => 409,
            Code::BadApplication | Code::Forbidden => 403,
            Code::Internal => 500,
            Code::CardRevoked | Code::CardOnHold | Code::CardExpired | Code::ForeignCa => 422,
            Code::MalformedDer | Code::WrongKeySize | Code::WrongCertificate | Code::InvalidRequest => 400,
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Codes compare with the text on the wire (`code == "replay"`).
impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_parses_back_and_has_an_error_status() {
        for c in Code::ALL {
            assert_eq!(Code::parse(c.as_str()), Some(c));
            assert!((400..600).contains(&c.http_status()), "{c}");
        }
        assert_eq!(Code::parse("no_such_code"), None);
    }
}
