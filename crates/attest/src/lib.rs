//! Device trust (DESIGN.md "Device trust", device-trust.md): the formats
//! and the open verifier.
//!
//! - [`android`]: Android key attestation's KeyDescription, what the phone's
//!   TEE says about a key, the device and the app;
//! - [`se_key`]: the SE's on-chip key attestation (YubiKey PIV model):
//!   a certificate per generated key, signed by the SE's attestation key
//!   that the SE issuer certified;
//! - [`eat`]: the phone's evidence, an EAT (RFC 9711) in a CWT signed by a
//!   TEE key whose Android attestation chain rides inside;
//! - [`appraisal`]: the verifier (RFC 9334 background-check model): policy,
//!   vendor metadata, every check, and the result as an [`ear`] token;
//! - [`assertion`]: per-request app assertions (the App Attest model) by
//!   the key that signed the evidence, with a counter;
//! - [`confirm`]: trusted confirmation (the Android Protected Confirmation
//!   format) and its relying-party check;
//! - [`ec`], [`x509`]: ES256 and the certificates all this rides on.

pub mod android;
pub mod appraisal;
pub mod assertion;
pub mod confirm;
pub mod ear;
pub mod eat;
pub mod ec;
pub mod keystore;
pub mod se_key;
pub mod x509;

/// What went wrong outside an appraisal (which answers with reasons).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Bytes that do not parse as what they should be.
    #[error("malformed: {0}")]
    Malformed(String),
}
