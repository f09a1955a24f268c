//! The JPKI service's error codes: what a client may act on. Every error
//! answer is JSON `{"code": …, "message": …}` with the code's HTTP status.

svc::error_codes! {
    /// An error code of the JPKI service's API.
    pub enum Code {
        /// A DER input did not parse.
        MalformedDer = "malformed_der", 400;
        /// A public key is not RSA-2048.
        WrongKeySize = "wrong_key_size", 400;
        /// The certificate is of the wrong kind for this request.
        WrongCertificate = "wrong_certificate", 400;
        /// The request is malformed.
        InvalidRequest = "invalid_request", 400;
        /// The card-signed application does not stand behind this request.
        BadApplication = "bad_application", 403;
        /// Device trust: no affirming attestation result, or the SE's key
        /// attestation does not bind the key to this SE and application.
        DeviceNotTrusted = "device_not_trusted", 403;
        /// The caller is not authorized for this route.
        Forbidden = "forbidden", 403;
        /// The body is larger than the route takes.
        TooLarge = "too_large", 413;
        /// No certificate with this serial.
        UnknownSerial = "unknown_serial", 404;
        /// The application already has an active certificate of this type.
        ApplicationUsed = "application_used", 409;
        /// The request id was seen before.
        Replay = "replay", 409;
        /// The change is not allowed from the current state.
        Conflict = "conflict", 409;
        /// The card certificate was not issued by this service.
        ForeignCa = "foreign_ca", 422;
        /// The card certificate is expired or not yet valid.
        CardExpired = "card_expired", 422;
        /// The card certificate is revoked.
        CardRevoked = "card_revoked", 422;
        /// The card certificate is on hold (一時保留).
        CardOnHold = "card_on_hold", 422;
        /// Storage or signing failed; nothing was done.
        Internal = "internal", 500;
        /// Too much work is waiting; nothing was done: try again shortly.
        Busy = "busy", 503;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_an_error_status() {
        assert!(Code::ALL.iter().all(|c| (400..600).contains(&c.http_status())));
        assert_eq!(Code::parse("card_on_hold"), Some(Code::CardOnHold));
        assert_eq!(Code::ALL.len(), 18);
        assert_eq!(Code::parse("busy").map(Code::http_status), Some(503));
    }
}
