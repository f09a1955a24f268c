//! The holder's card-signed application for phone certificates: what the
//! app has the card sign, what the SP-TSM checks, and what the JPKI service
//! checks itself before issuing (DESIGN.md "Rules that hold everywhere": no
//! party takes another's word for a security decision it can check).
//!
//! The content is [`Application`], canonical JSON (fields in this order).

use crate::PhoneCertType;
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};

/// How old an application may be when a certificate is issued for it: the
/// SP-TSM's resume window (10 minutes by default) with room to spare.
pub const MAX_AGE: Duration = Duration::from_secs(3600);
/// How far in the future a signing time may be (clock skew).
pub const MAX_SKEW: Duration = Duration::from_secs(300);

/// Content that is not a valid application: what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidApplication(pub String);

impl From<InvalidApplication> for String {
    fn from(e: InvalidApplication) -> String {
        e.0
    }
}

/// The phone the application is made on, as the app reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// Model name, for the holder's list of devices.
    pub model: String,
    /// SHA-256 of the JPKI app's signing certificate (hex), as the ARA-M
    /// rule will name it.
    pub app_certificate_hash: String,
}

/// The signed content of an application (canonical JSON: fields in this order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Application {
    /// The SP-TSM's nonce (hex, 32 bytes).
    pub nonce: String,
    /// S = SHA-256(R), R the applet's random (hex, 32 bytes).
    pub commitment: String,
    /// The certificates asked for, each at most once.
    pub cert_types: Vec<PhoneCertType>,
    /// The phone.
    pub device: Device,
}

impl Application {
    /// The bytes the card signs.
    pub fn to_content(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an application always serializes")
    }

    /// An application for `cert_types` with a fresh nonce and a placeholder
    /// commitment, as benchmarks and service tests make them without an SE.
    pub fn example(cert_types: &[PhoneCertType]) -> Self {
        let mut nonce = [0u8; 32];
        pki::fill_random(&mut nonce);
        Self {
            nonce: hex::encode(nonce),
            commitment: hex::encode([0x5A; 32]),
            cert_types: cert_types.to_vec(),
            device: Device { model: "openjpki example phone".into(), app_certificate_hash: "AB".repeat(32) },
        }
    }

    /// CMS SignedData over the application with the card key `key` whose
    /// certificate is `card_certificate` (DER): what the card makes, for
    /// tools that hold the key in software (benchmarks, service tests).
    pub fn sign_with(&self, key: &pki::RsaPrivateKey, card_certificate: &[u8]) -> Result<Vec<u8>, String> {
        let signer = <pki::Certificate as der::Decode>::from_der(card_certificate).map_err(|e| e.to_string())?;
        let options =
            pki::cms::SignOptions { hash: pki::HashAlg::Sha256, detached: false, signing_time: SystemTime::now() };
        pki::cms::sign(&self.to_content(), &signer, &[], &options, |digest_info| key.sign_raw(digest_info))
            .map_err(|e| e.to_string())
    }

    /// Parses signed content and checks its fields.
    pub fn parse(content: &[u8]) -> Result<Self, InvalidApplication> {
        let application: Application =
            serde_json::from_slice(content).map_err(|e| InvalidApplication(e.to_string()))?;
        application.check()?;
        Ok(application)
    }

    /// The fields' rules: 32-byte hex nonce and commitment, SHA-256 hex
    /// app hash, a model of 1–100 characters, each type at most once.
    pub fn check(&self) -> Result<(), InvalidApplication> {
        let invalid = |why: &str| Err(InvalidApplication(why.into()));
        let hex32 = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex32(&self.nonce) {
            return invalid("nonce must be 32 bytes in hex");
        }
        if !hex32(&self.commitment) {
            return invalid("commitment must be SHA-256 in hex");
        }
        if !hex32(&self.device.app_certificate_hash) {
            return invalid("app_certificate_hash must be SHA-256 in hex");
        }
        if self.device.model.is_empty() || self.device.model.len() > 100 {
            return invalid("device model must be 1 to 100 characters");
        }
        let repeated = self.cert_types.iter().enumerate().any(|(i, t)| self.cert_types[..i].contains(t));
        if self.cert_types.is_empty() || repeated {
            return invalid("cert_types must name auth and/or sign, each once");
        }
        Ok(())
    }
}
