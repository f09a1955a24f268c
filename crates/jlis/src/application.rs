//! The JPKI service's check of the application behind a phone certificate
//! (the document itself: [`jlis_api::application`]). The SP-TSM forwards
//! the CMS the card signed; the service verifies the signature and chain
//! against its own signature CA, that the signer is the card certificate
//! the request names, that the holder asked for this type, and that the
//! application is recent — so a compromised SP-TSM cannot certify a key
//! for a holder who never applied, nor reuse an application for another
//! type. One active certificate per application and type is enforced in
//! the issuing transaction.

use crate::{JlisError, PhoneCertType};
pub use jlis_api::application::{Application, Device};
use jlis_api::application::{MAX_AGE, MAX_SKEW};
use std::time::SystemTime;

/// An application the service accepted for one certificate.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// SHA-256 of the signed content (hex): the application's identity for
    /// the one-active-certificate rule.
    pub digest: String,
    /// What the holder signed.
    pub application: Application,
}

fn refused(why: impl Into<String>) -> JlisError {
    JlisError::Application(why.into())
}

/// Checks `cms` (DER) as the application behind a `cert_type` phone
/// certificate for `card_certificate` (DER), against the service's
/// signature CA, at `now`.
pub fn check(
    cms: &[u8],
    card_certificate: &[u8],
    sign_ca: &pki::Certificate,
    cert_type: PhoneCertType,
    now: SystemTime,
) -> Result<Accepted, JlisError> {
    let options =
        pki::cms::VerifyOptions { anchors: std::slice::from_ref(sign_ca), detached_content: None, at: Some(now) };
    let verified =
        pki::cms::verify(cms, &options).map_err(|e| refused(format!("the application does not verify: {e}")))?;
    let signer = der::Encode::to_der(&verified.signer).map_err(|e| JlisError::Internal(e.to_string()))?;
    if signer != card_certificate {
        return Err(refused("the application was signed by another card than the one the request names"));
    }
    let signed_at = verified.signing_time.ok_or_else(|| refused("the application has no signing time"))?;
    if signed_at > now + MAX_SKEW {
        return Err(refused("the application's signing time is in the future"));
    }
    if now.duration_since(signed_at).unwrap_or_default() > MAX_AGE {
        return Err(refused("the application is too old: the holder must apply again"));
    }
    let application = Application::parse(&verified.content)
        .map_err(|e| refused(format!("the signed content is not an application: {e}")))?;
    if !application.cert_types.contains(&cert_type) {
        return Err(refused(format!("the holder did not apply for a {} certificate", cert_type.as_str())));
    }
    Ok(Accepted { digest: hex::encode(pki::HashAlg::Sha256.digest(&verified.content)), application })
}
