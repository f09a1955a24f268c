//! The TSMs' error codes: what a client may act on. Every error answer is
//! JSON `{"code": …, "message": …}` with the code's HTTP status.

svc::error_codes! {
    /// An error code of the TSMs' API.
    pub enum Code {
        /// The request is malformed.
        InvalidRequest = "invalid_request", 400;
        /// The phone posted another number of responses than commands.
        RelayProtocol = "relay_protocol", 400;
        /// The caller is not authorized for this route.
        Forbidden = "forbidden", 403;
        /// The application's CMS does not verify.
        BadSignature = "bad_signature", 403;
        /// The application was not signed with the card's signature key.
        NotCardSignature = "not_card_signature", 403;
        /// The nonce was never issued or was used.
        UnknownNonce = "unknown_nonce", 403;
        /// The nonce expired.
        ExpiredNonce = "expired_nonce", 403;
        /// The application was made by an app the SP does not know.
        AppNotRegistered = "app_not_registered", 403;
        /// The card's certificate is on hold.
        CardOnHold = "card_on_hold", 403;
        /// The card's certificate is revoked.
        CardRevoked = "card_revoked", 403;
        /// The JPKI service does not know the card.
        CardUnknown = "card_unknown", 403;
        /// The commitment does not match the SE's random (another phone's).
        CommitmentMismatch = "commitment_mismatch", 403;
        /// The phone's device evidence or the SE's key attestation was not
        /// affirmed (the message names the reason code).
        DeviceNotTrusted = "device_not_trusted", 403;
        /// Only the phone that applied may resume.
        NotApplicant = "not_applicant", 403;
        /// A revocation must be signed with an active phone certificate.
        NotActivePhoneCertificate = "not_active_phone_certificate", 403;
        /// The body is larger than the route takes.
        TooLarge = "too_large", 413;
        /// No such relay session (finished, failed or expired).
        UnknownSession = "unknown_session", 404;
        /// No such application.
        UnknownApplication = "unknown_application", 404;
        /// The SE is already prepared.
        AlreadyPrepared = "already_prepared", 409;
        /// The SP has not registered its app.
        NoApps = "no_apps", 409;
        /// The SE was not prepared by the SEI-TSM.
        NotPrepared = "not_prepared", 409;
        /// The application is done or refused.
        NotResumable = "not_resumable", 409;
        /// The application is too old to resume.
        Expired = "expired", 409;
        /// Storage failed; the operator's log has the cause.
        Internal = "internal", 500;
        /// The secure channel failed (wrong keys, a tampered or replayed APDU).
        SecureChannelFailed = "secure_channel_failed", 502;
        /// The SE refused a step.
        SeRefused = "se_refused", 502;
        /// The SE answered something malformed.
        SeMalformed = "se_malformed", 502;
        /// The JPKI service did not issue, or issued something refused.
        IssuanceFailed = "issuance_failed", 502;
        /// The SP-TSM did not take the domain keys.
        HandoverFailed = "handover_failed", 502;
        /// The JPKI service's status could not be checked.
        StatusUnavailable = "status_unavailable", 503;
        /// The phone stopped relaying.
        RelayFailed = "relay_failed", 504;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_an_error_status() {
        assert!(Code::ALL.iter().all(|c| (400..600).contains(&c.http_status())));
        assert_eq!(Code::parse("commitment_mismatch"), Some(Code::CommitmentMismatch));
    }
}
