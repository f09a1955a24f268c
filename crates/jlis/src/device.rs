//! Device trust at the JPKI service (docs/device-trust.md): the relying
//! party of the SP-TSM's attestation results, and a verifier of the SE's
//! key attestation in its own right — so a compromised SP-TSM cannot have
//! a key certified that was not generated in the SE where the card signed.

use crate::JlisError;
use jlis_api::application::Application;
use jlis_api::{PhoneCertType, PhoneRequest};
use std::time::SystemTime;

/// What a phone request must prove.
#[derive(Debug, Clone)]
pub struct DeviceTrust {
    /// The verifier's result key (SubjectPublicKeyInfo DER), pinned.
    pub verifier: Vec<u8>,
    /// The SE issuers' roots (DER).
    pub se_issuer_roots: Vec<Vec<u8>>,
}

fn refused(why: impl std::fmt::Display) -> JlisError {
    JlisError::DeviceNotTrusted(why.to_string())
}

impl DeviceTrust {
    /// Checks `req` for `application` (already verified) at `now`.
    pub fn check(&self, req: &PhoneRequest, application: &Application, now: SystemTime) -> Result<(), JlisError> {
        let token =
            req.attestation_result.as_deref().ok_or_else(|| refused("the request carries no attestation result"))?;
        let nonce = hex::decode(&application.nonce).map_err(|_| refused("the application's nonce is not hex"))?;
        attest::appraisal::check_result(token, &self.verifier, &nonce, &req.se_id, now).map_err(refused)?;
        let commitment =
            hex::decode(&application.commitment).map_err(|_| refused("the application's commitment is not hex"))?;
        let se = hex::decode(&req.se_id).map_err(|_| refused("se_id is not hex"))?;
        let slot = match req.cert_type {
            PhoneCertType::Auth => attest::se_key::KeySlot::Auth,
            PhoneCertType::Sign => attest::se_key::KeySlot::Sign,
        };
        let expected =
            attest::se_key::Expected { spki: &req.phone_public_key, se_identifier: &se, slot, commitment: &commitment };
        attest::se_key::verify(&req.key_attestation, &self.se_issuer_roots, &|_| false, &expected, now)
            .map_err(refused)?;
        Ok(())
    }
}
