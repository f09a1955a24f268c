//! The holder's trusted confirmation of a revocation (docs/device-trust.md
//! "Trusted confirmation of a revocation", device-trust.md §3): the SP-TSM
//! as relying party. The confirmation key must be a `[508]` key of a
//! trusted phone running the JPKI app, attested for this revocation's
//! nonce; it must have signed exactly the revocation prompt for this SE
//! with that nonce as extra data.

use super::SpTsm;
use base64::{engine::general_purpose::STANDARD, Engine};
use tsm::FlowError;
use tsm_api::types::{revocation_prompt, RevocationConfirmation};

fn untrusted(reason: &str, why: impl std::fmt::Display) -> FlowError {
    super::untrusted("revocation confirmation", reason, format!("{reason}: {why}"))
}

impl SpTsm {
    /// Checks the holder's `confirmation` of revoking SE `se_id` for
    /// `nonce`; called when the phone's application carried evidence and its
    /// request's app assertion passed.
    pub(super) fn check_revocation_confirmation(
        &self,
        nonce: &[u8; 32],
        se_id: &str,
        confirmation: Option<&RevocationConfirmation>,
    ) -> Result<(), FlowError> {
        let Some(verifier) = &self.device else { return Ok(()) };
        let c = confirmation.ok_or_else(|| {
            untrusted("confirmation_missing", "the revocation was not confirmed on the phone's trusted UI")
        })?;
        let b64 = |s: &str| STANDARD.decode(s).map_err(|_| untrusted("confirmation_malformed", "not base64"));
        let chain = c.key_chain.iter().map(|s| b64(s)).collect::<Result<Vec<_>, _>>()?;
        if chain.is_empty() {
            return Err(untrusted("confirmation_malformed", "no key attestation chain"));
        }
        let key = verifier.confirmation_key(&chain, nonce, std::time::SystemTime::now()).map_err(|reasons| {
            let codes: Vec<&str> = reasons.iter().map(|r| r.code()).collect();
            untrusted("confirmation_key", format!("the confirmation key is not trusted ({})", codes.join(", ")))
        })?;
        let prompt = revocation_prompt(se_id);
        attest::confirm::verify(&b64(&c.message)?, &b64(&c.signature)?, &key, &prompt, |extra| extra == nonce)
            .map_err(|e| untrusted("confirmation_invalid", e))
    }
}
