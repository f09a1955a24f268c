//! The holder's application for phone certificates (DESIGN.md "Application"):
//! the JPKI app asks the SP-TSM for a nonce, builds the [`Application`]
//! (nonce, commitment S = SHA-256(R) read from the applet, certificate
//! types, device), and has the My Number card sign it as CMS SignedData with
//! the signature key — the signature password is the holder's consent. The
//! SP-TSM accepts it with [`verify`]: signature, signer chain to the
//! digital-signature CA, the signer is a card signature certificate, the
//! content is well formed, and the nonce is one it issued, unexpired and
//! unused ([`NonceBook`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// How long a nonce may wait for its application.
pub const NONCE_LIFETIME: Duration = Duration::from_secs(300);
/// Outstanding nonces kept at most (older ones are dropped first).
const MAX_OUTSTANDING: usize = 100_000;

use tsm_api::Code;
pub use tsm_api::{Application, Device};

/// Why an application was refused.
#[derive(Debug, thiserror::Error)]
pub enum ApplicationError {
    /// Not a CMS SignedData the card made, or its signature or chain fails.
    #[error("the application's signature does not verify: {0}")]
    Signature(String),
    /// Signed with the authentication key or another certificate.
    #[error("the application must be signed with the My Number card's signature certificate")]
    NotCardSignature,
    /// The content is not an application.
    #[error("malformed application: {0}")]
    Malformed(String),
    /// The nonce was never issued, or was already used (a replay).
    #[error("unknown or already used nonce: ask for a new one")]
    UnknownNonce,
    /// The nonce waited too long.
    #[error("the nonce expired: ask for a new one")]
    ExpiredNonce,
}

impl ApplicationError {
    /// The API's code for it.
    pub fn code(&self) -> Code {
        match self {
            ApplicationError::Signature(_) => Code::BadSignature,
            ApplicationError::NotCardSignature => Code::NotCardSignature,
            ApplicationError::Malformed(_) => Code::InvalidRequest,
            ApplicationError::UnknownNonce => Code::UnknownNonce,
            ApplicationError::ExpiredNonce => Code::ExpiredNonce,
        }
    }
}

impl From<ApplicationError> for tsm::FlowError {
    fn from(e: ApplicationError) -> Self {
        tsm::FlowError::new(e.code(), e.to_string())
    }
}

/// Single-use nonces with a lifetime. Kept in memory: a restart of the
/// SP-TSM invalidates outstanding nonces, which only makes applicants ask
/// again (fail closed).
#[derive(Debug)]
pub struct NonceBook {
    lifetime: Duration,
    issued: Mutex<HashMap<[u8; 32], Instant>>,
}

impl Default for NonceBook {
    fn default() -> Self {
        Self::new(NONCE_LIFETIME)
    }
}

impl NonceBook {
    /// Nonces valid for `lifetime`.
    pub fn new(lifetime: Duration) -> Self {
        Self { lifetime, issued: Mutex::new(HashMap::new()) }
    }

    /// A fresh nonce.
    pub fn issue(&self) -> [u8; 32] {
        let mut nonce = [0u8; 32];
        pki::fill_random(&mut nonce);
        let mut issued = self.issued.lock().unwrap_or_else(|e| e.into_inner());
        if issued.len() >= MAX_OUTSTANDING {
            let lifetime = self.lifetime;
            issued.retain(|_, at| at.elapsed() < lifetime);
            if issued.len() >= MAX_OUTSTANDING {
                if let Some(oldest) = issued.iter().min_by_key(|(_, at)| **at).map(|(n, _)| *n) {
                    issued.remove(&oldest);
                }
            }
        }
        issued.insert(nonce, Instant::now());
        nonce
    }

    /// Uses up `nonce`: it is gone whatever the outcome.
    pub fn consume(&self, nonce: &[u8; 32]) -> Result<(), ApplicationError> {
        let at = self.issued.lock().unwrap_or_else(|e| e.into_inner()).remove(nonce);
        match at {
            None => Err(ApplicationError::UnknownNonce),
            Some(at) if at.elapsed() >= self.lifetime => Err(ApplicationError::ExpiredNonce),
            Some(_) => Ok(()),
        }
    }
}

/// Parses and checks the signed content of an application.
pub fn parse_content(content: &[u8]) -> Result<Application, ApplicationError> {
    Application::parse(content).map_err(|e| ApplicationError::Malformed(e.0))
}

/// An application that passed every check.
#[derive(Debug, Clone)]
pub struct Verified {
    /// What was applied for.
    pub application: Application,
    /// The card's signature certificate (DER), for the JPKI service.
    pub card_certificate: Vec<u8>,
    /// The commitment as bytes.
    pub commitment: [u8; 32],
}

/// Checks a CMS-signed application against the digital-signature CA(s)
/// `sign_cas` at `now`, then uses up its nonce. Nothing is consumed when the
/// signature or content is refused, so a forged application cannot burn a
/// holder's nonce.
pub fn verify(
    cms: &[u8],
    nonces: &NonceBook,
    sign_cas: &[pki::Certificate],
    now: SystemTime,
) -> Result<Verified, ApplicationError> {
    use der::Encode;
    let options = pki::cms::VerifyOptions { anchors: sign_cas, detached_content: None, at: Some(now) };
    let checked = pki::cms::verify(cms, &options).map_err(|e| ApplicationError::Signature(e.to_string()))?;
    if pki::describe::holder_from_sign_certificate(&checked.signer).is_none() {
        return Err(ApplicationError::NotCardSignature);
    }
    let application = parse_content(&checked.content)?;
    let hex32 = |s: &str| -> [u8; 32] {
        let mut out = [0u8; 32];
        // check() accepted exactly 64 hex digits.
        let _ = hex::decode_to_slice(s, &mut out);
        out
    };
    nonces.consume(&hex32(&application.nonce))?;
    let card_certificate = checked.signer.to_der().map_err(|e| ApplicationError::Malformed(e.to_string()))?;
    Ok(Verified { commitment: hex32(&application.commitment), application, card_certificate })
}
