//! The JPKI client library: use a My Number card, or a phone's JPKI applet
//! answering like one, through any [`apdu::Transport`] (PC/SC reader, vpcd,
//! in-process emulator).
//!
//! - [`ap`]: the AIDs, EF identifiers and tokens — the card's contract.
//! - [`phone_applet`]: what the phone's JPKI applet answers beyond that.
//! - [`pin::PinId`]: the three PINs and their rules.
//! - [`JpkiCard`]: select, read certificates, PIN status/VERIFY/change,
//!   sign a DigestInfo, read the text AP.
//! - [`sign_cms`]: CMS SignedData with a card key, through `pki::cms`.
//!
//! Every command follows spec/jpki-card.md; the same calls drive a real card
//! and the emulator.
#![forbid(unsafe_code)]

pub mod ap;
pub mod card;
pub mod error;
pub mod phone_applet;
pub mod pin;

pub use ap::TokenKind;
pub use card::{Attributes, CertType, JpkiCard, KeyType};
pub use error::{Error, Result};
pub use pin::PinId;

use apdu::Transport;
use der::Decode;

/// Signs `content` as CMS SignedData with the card's `key` (its PIN already
/// verified): reads the signer and CA certificates from the card, and lets
/// the card sign the DigestInfo of the signed attributes.
pub fn sign_cms<T: Transport>(
    card: &mut JpkiCard<T>,
    key: KeyType,
    content: &[u8],
    options: &pki::cms::SignOptions,
) -> Result<Vec<u8>> {
    let parse = |der: Vec<u8>| pki::Certificate::from_der(&der).map_err(|e| Error::Malformed(e.to_string()));
    let signer = parse(card.read_certificate(key.cert())?)?;
    let ca = parse(card.read_certificate(key.ca_cert())?)?;
    let mut card_error = None;
    let result = pki::cms::sign(content, &signer, &[ca], options, |digest_info| {
        card.sign(key, digest_info).map_err(|e| {
            let text = e.to_string();
            card_error = Some(e);
            text
        })
    });
    match (result, card_error) {
        (Ok(der), _) => Ok(der),
        (Err(_), Some(e)) => Err(e),
        (Err(e), None) => Err(Error::Malformed(e.to_string())),
    }
}
