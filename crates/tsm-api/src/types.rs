//! The TSMs' request and answer bodies besides the relay (`openapi.json`
//! of each service).

use serde::{Deserialize, Serialize};

/// The request header that presents an application's resume token (given
/// once, as `resume_token`, in the answer to the application).
pub const RESUME_TOKEN_HEADER: &str = "x-resume-token";

/// The answer to `POST /v1/nonces` (SP-TSM).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NonceAnswer {
    /// 32 random bytes, hex.
    pub nonce: String,
    /// Seconds it stays usable.
    pub expires_in: u64,
}

/// `POST /v1/applications` (SP-TSM): the card-signed application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationBody {
    /// CMS SignedData over an [`crate::Application`] (base64).
    pub application: String,
    /// The phone's device evidence for the application's nonce: an EAT
    /// (COSE_Sign1, base64) signed by a TEE key whose Android key
    /// attestation rides inside (docs/device-trust.md). Required when the
    /// SP-TSM checks device trust.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

/// `POST /v1/revocations` (SP-TSM): the holder's signed request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevocationBody {
    /// CMS SignedData (base64) over a [`RevocationRequest`], signed with a
    /// phone key of that SE.
    pub request: String,
    /// What the holder confirmed on the phone's trusted UI
    /// (docs/device-trust.md "Trusted confirmation of a revocation");
    /// required when the SP-TSM checks device trust and the application
    /// carried evidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<RevocationConfirmation>,
}

/// The holder's trusted confirmation of a revocation (the Android
/// Protected Confirmation model): a `[508]` key made in the TEE and
/// attested with the revocation's nonce, the message it signed
/// (`{prompt: revocation_prompt(se_id), extra: nonce}`) and the signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevocationConfirmation {
    /// The confirmation key's Android attestation chain, leaf first (DER, base64 each).
    pub key_chain: Vec<String>,
    /// The confirmed message (CBOR, base64).
    pub message: String,
    /// ES256 over it (ASN.1, base64).
    pub signature: String,
}

/// The text the phone's trusted UI shows for the holder's revocation of
/// SE `se_id`'s certificates; the SP-TSM expects exactly this back.
pub fn revocation_prompt(se_id: &str) -> String {
    format!(
        "Revoke the JPKI certificates on this phone (SE {se_id})? They stop working at once; the My Number card is not affected."
    )
}

/// What a holder's revocation request says (the CMS content).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevocationRequest {
    /// A nonce from `POST /v1/nonces` (hex).
    pub nonce: String,
    /// Always `revoke`.
    pub action: String,
    /// The SE whose phone certificates go (hex).
    pub se_id: String,
}

/// `PUT /v1/apps` (SEI-TSM, from the SP-TSM): the JPKI app's signing
/// certificate hashes the ARA-M rules will name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppsBody {
    /// SHA-256 hashes, hex.
    pub app_certificate_sha256: Vec<String>,
}

/// `POST /v1/domain-keys` (SP-TSM, from the SEI-TSM): an SE's initial SP
/// domain keys. Secret: never logged (the `Debug` form shows no key).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, zeroize::Zeroize, zeroize::ZeroizeOnDrop, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainKeys {
    /// The SE identifier, 10 bytes hex.
    pub se_id: String,
    /// Key version.
    pub kvn: u8,
    /// S-ENC key, hex.
    pub enc: String,
    /// S-MAC key, hex.
    pub mac: String,
    /// DEK, hex.
    pub dek: String,
}

impl std::fmt::Debug for DomainKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DomainKeys").field("se_id", &self.se_id).field("kvn", &self.kvn).finish_non_exhaustive()
    }
}

/// An application at the SP-TSM as its applicant holds it: the id, and the
/// token that alone lets the applying phone resume it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApplicationRef {
    /// The SP-TSM's application id.
    pub id: String,
    /// The resume token (secret: shown only to the applying phone).
    pub resume_token: String,
}

impl std::fmt::Debug for ApplicationRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApplicationRef").field("id", &self.id).field("resume_token", &"REDACTED").finish()
    }
}

impl ApplicationRef {
    /// From the SP-TSM's answer to `POST /v1/applications`.
    pub fn from_answer(first: &serde_json::Value) -> Option<Self> {
        Some(Self {
            id: first["application"].as_str()?.to_string(),
            resume_token: first["resume_token"].as_str()?.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let keys = DomainKeys { se_id: "00".into(), kvn: 0x30, enc: "AA".into(), mac: "BB".into(), dek: "CC".into() };
        let shown = format!("{keys:?}");
        assert!(!shown.contains("AA") && !shown.contains("BB") && !shown.contains("CC"), "{shown}");
        let r = ApplicationRef { id: "1".into(), resume_token: "secret-token".into() };
        assert!(!format!("{r:?}").contains("secret-token"));
    }
}
