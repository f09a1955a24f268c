//! Signed instructions: what the signer signs with the My Number card's
//! *signature* key (a CMS SignedData with the content attached, made by
//! `jpki cms sign` or the phone) to register, suspend, resume or delete
//! (JT2A II 3.1.3.2, 3.3.1–3.3.2). The content names this service, the
//! purpose, a fresh server nonce (single use, per purpose) and, for
//! registration, a binding of the chosen password to the nonce — so an
//! instruction made for another RSSP, another purpose or an earlier nonce
//! is refused, and a password swapped in transit does not match
//! (2.1.1.1, 2.1.2.2, 2.3.1.2). The card certificate's chain is checked
//! against the JPKI signature CA and its status by OCSP at the JPKI
//! service (2.1.1.4).

use crate::error::RsspError;
use crate::records::Factor;
use pki::{Certificate, HashAlg};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};

/// The `format` of every instruction.
pub const FORMAT: &str = "openjpki-rssp-instruction/1";
/// How old an instruction's signing time may be.
pub const MAX_AGE: Duration = Duration::from_secs(300);
/// How far in the future a signing time may be (clock skew).
pub const MAX_SKEW: Duration = Duration::from_secs(60);

/// What an instruction asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    /// Register as a signer, with a first credential.
    Register,
    /// Suspend a credential.
    Suspend,
    /// Resume a suspended credential.
    Resume,
    /// Delete a credential: its key is destroyed.
    Delete,
}

impl Purpose {
    /// As the nonce table records it.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Register => "register",
            Purpose::Suspend => "suspend",
            Purpose::Resume => "resume",
            Purpose::Delete => "delete",
        }
    }

    /// Parses a purpose.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "register" => Some(Purpose::Register),
            "suspend" => Some(Purpose::Suspend),
            "resume" => Some(Purpose::Resume),
            "delete" => Some(Purpose::Delete),
            _ => None,
        }
    }
}

/// The signed content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instruction {
    /// [`FORMAT`].
    pub format: String,
    /// The RSSP's name (`service_name` of its configuration).
    pub service: String,
    /// What the signer asks for.
    pub purpose: Purpose,
    /// The nonce the service gave for this purpose.
    pub nonce: String,
    /// The credential (suspend, resume, delete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    /// Registration: the second factor wanted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<Factor>,
    /// Registration: [`password_binding`] of the password sent beside.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_binding: Option<String>,
    /// Registration with the confirm factor: SHA-256 (hex) of the holder's
    /// confirmation key (SubjectPublicKeyInfo DER), so the card vouches for
    /// the key sent beside and a key swapped in transit does not match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation_key: Option<String>,
}

impl Instruction {
    /// The bytes the card signs.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("JSON of strings")
    }
}

/// SHA-256 (hex) binding `password` to `nonce`: the card signs this, not
/// the password, so the CMS can be kept without the password in it.
pub fn password_binding(nonce: &str, password: &str) -> String {
    hex::encode(HashAlg::Sha256.digest(format!("openjpki-rssp-password\n{nonce}\n{password}").as_bytes()))
}

/// An instruction whose signature and chain verified.
#[derive(Debug, Clone)]
pub struct Verified {
    /// What was asked.
    pub instruction: Instruction,
    /// The card's signature certificate (DER).
    pub card_certificate: Vec<u8>,
    /// The card certificate, parsed.
    pub card: Certificate,
    /// The signed content as signed.
    pub content: Vec<u8>,
}

fn refused(why: impl Into<String>) -> RsspError {
    RsspError::denied(why)
}

/// Verifies `cms` (DER) against the JPKI signature CA at `now`, and that it
/// is an instruction for `service`. The nonce is consumed by the caller.
pub fn verify(cms: &[u8], sign_ca: &Certificate, service: &str, now: SystemTime) -> Result<Verified, RsspError> {
    let options =
        pki::cms::VerifyOptions { anchors: std::slice::from_ref(sign_ca), detached_content: None, at: Some(now) };
    let verified = pki::cms::verify(cms, &options)
        .map_err(|e| refused(format!("the instruction is not signed by a valid JPKI signature certificate: {e}")))?;
    let signed_at = verified.signing_time.ok_or_else(|| refused("the instruction has no signing time"))?;
    if signed_at > now + MAX_SKEW {
        return Err(refused("the instruction's signing time is in the future"));
    }
    if now.duration_since(signed_at).unwrap_or_default() > MAX_AGE {
        return Err(refused("the instruction is too old: ask for a new nonce and sign again"));
    }
    let instruction: Instruction = serde_json::from_slice(&verified.content)
        .map_err(|e| RsspError::invalid(format!("the signed content is not an RSSP instruction: {e}")))?;
    if instruction.format != FORMAT {
        return Err(RsspError::invalid(format!("instruction format {:?}; expected {FORMAT:?}", instruction.format)));
    }
    if instruction.service != service {
        return Err(refused(format!(
            "the instruction was made for the service {:?}, not this one ({service:?})",
            instruction.service
        )));
    }
    let card_certificate = der::Encode::to_der(&verified.signer).map_err(RsspError::internal)?;
    Ok(Verified { instruction, card_certificate, card: verified.signer, content: verified.content })
}

/// The JPKI side the RSSP trusts: the two CAs and the OCSP responder.
#[derive(Debug, Clone)]
pub struct JpkiTrust {
    /// The JPKI signature CA (card signature certificates).
    pub sign_ca: Certificate,
    /// The JPKI authentication CA (phone authentication certificates).
    pub auth_ca: Certificate,
    /// The JPKI service's OCSP responder.
    pub ocsp_url: String,
    /// HTTP client.
    pub http: reqwest::Client,
}

impl JpkiTrust {
    /// Refuses unless the JPKI responder says `cert` (DER) is good now.
    pub async fn require_good(&self, cert: &[u8], what: &str) -> Result<(), RsspError> {
        let cas = [self.sign_ca.clone(), self.auth_ca.clone()];
        match jlis_api::status::ocsp(&self.http, &self.ocsp_url, cert, &cas).await {
            Ok(jlis_api::status::Status::Good) => Ok(()),
            Ok(status) => Err(refused(format!("the {what} is not valid at the JPKI service: {status:?}"))),
            Err(e) => Err(RsspError::new(
                csc_api::error::Code::Unavailable,
                format!("the {what}'s status could not be checked at the JPKI service ({e}); try again later"),
            )),
        }
    }
}
