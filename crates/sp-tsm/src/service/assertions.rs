//! Per-request app assertions (docs/device-trust.md "Per-request app
//! assertions", the App Attest model): once an application's evidence was
//! appraised, the TEE key that signed it is the app key, and every later
//! request that acts on that application — resuming it, each relay post
//! of its provisioning or wipe, the holder's revocation — must carry an
//! assertion by that key over the exact request, with a counter above the
//! last one. The counter is stored before the request is acted on.
//! Reading an application's state changes nothing and needs none.

use super::SpTsm;
use attest::assertion::{self, AssertionError};
use attest::keystore::AppIdentity;
use tsm::FlowError;

/// A phone's request as its assertion covers it.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// `GET`, `POST`.
    pub method: &'a str,
    /// The path, e.g. `/v1/relay/…`.
    pub path: &'a str,
    /// The body as received.
    pub body: &'a [u8],
    /// The assertion (decoded from base64), if one came.
    pub assertion: Option<&'a [u8]>,
}

fn untrusted(e: AssertionError) -> FlowError {
    super::untrusted("app assertion", e.code(), e.to_string())
}

impl SpTsm {
    /// Checks `request`'s assertion for application `id`; true when it was
    /// needed and passed. Applications without evidence (device trust off
    /// when they were made) have no app key and need none (false).
    pub async fn check_app_assertion(&self, id: &str, request: &SignedRequest<'_>) -> Result<bool, FlowError> {
        if self.device.is_none() {
            return Ok(false);
        }
        let Some((evidence, stored)) = self.records.app_key_state(id).await? else { return Ok(false) };
        let raw = request.assertion.ok_or(AssertionError::Missing).map_err(untrusted)?;
        // The evidence was appraised when it was accepted; it is opened
        // here only for its signing key and the app it names.
        let opened = attest::eat::open(&evidence).map_err(FlowError::internal)?;
        let leaf = opened.chain.first().ok_or_else(|| FlowError::internal("stored evidence without a chain"))?;
        let spki = attest::x509::Parsed::from_der(leaf).map_err(FlowError::internal)?.spki();
        let app = AppIdentity {
            package: opened.claims.app_package,
            version: 0,
            signing_digests: opened.claims.app_signing_digests,
        };
        let client_data = assertion::client_data_hash(request.method, request.path, request.body);
        let counter =
            assertion::verify(raw, &spki, &assertion::rp_id_hash(&app), &client_data, stored).map_err(untrusted)?;
        if !self.records.advance_assertion_counter(id, counter).await? {
            return Err(untrusted(AssertionError::Replayed { got: counter, stored: counter }));
        }
        Ok(true)
    }
}
