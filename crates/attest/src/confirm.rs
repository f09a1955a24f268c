//! Trusted confirmation in the Android Protected Confirmation format
//! (device-trust.md §3; AOSP `IConfirmationUI`): the phone's trusted UI
//! shows a prompt; only when the holder confirms does the confirmation TA
//! give KeyMint a token — HMAC-SHA256 over `"confirmation token" ‖ message`
//! under a secret the two share — and only with that token does KeyMint
//! sign the message with a confirmation key (`[508]`). The message is the
//! CBOR map `{"prompt": text, "extra": bytes}` (≤ 0x1800 bytes); the
//! relying party checks the signature under the key it registered, the
//! prompt it expected, and that `extra` is its own unused nonce.
//!
//! AOSP deprecated APC (low adoption); the format is kept here because it
//! is the one open, documented format for "what the holder saw, signed".

use crate::ec::{self, EcKey};
use aws_lc_rs::hmac;
use ciborium::value::Value;

/// The largest message the confirmation UI takes.
pub const MAX_MESSAGE: usize = 0x1800;
/// The test key of the TA–KeyMint shared secret (32 × 0xA5, §3).
pub const TEST_SECRET: [u8; 32] = [0xA5; 32];

/// The confirmed message: CBOR `{"prompt": prompt, "extra": extra}`.
pub fn message(prompt: &str, extra: &[u8]) -> Vec<u8> {
    let map = Value::Map(vec![
        (Value::Text("prompt".into()), Value::Text(prompt.into())),
        (Value::Text("extra".into()), Value::Bytes(extra.to_vec())),
    ]);
    let mut out = Vec::new();
    ciborium::into_writer(&map, &mut out).expect("CBOR encodes");
    out
}

/// The confirmation token for `message` under the shared `secret`.
pub fn token(secret: &[u8], message: &[u8]) -> [u8; 32] {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(b"confirmation token");
    ctx.update(message);
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.sign().as_ref());
    out
}

/// Why a confirmation was not given or not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfirmError {
    /// The holder declined on the trusted UI.
    #[error("the holder declined the prompt")]
    Declined,
    /// KeyMint refused to sign without a valid token (NO_USER_CONFIRMATION).
    #[error("NO_USER_CONFIRMATION: the message was not confirmed on the trusted UI")]
    NoUserConfirmation,
    /// Not the CBOR map, or too long.
    #[error("the confirmation message is malformed: {0}")]
    Malformed(String),
    /// The signature does not verify under the registered key.
    #[error("the confirmation is not signed by the holder's registered confirmation key")]
    BadSignature,
    /// The holder saw another text.
    #[error("the holder confirmed another prompt than the one asked for")]
    PromptAltered,
    /// `extra` is not an unused nonce of ours.
    #[error("the confirmation's nonce is unknown or already used")]
    NonceReused,
}

/// KeyMint's side: signs `message` with the confirmation `key` only with a
/// valid `token` for it (constant-time compare).
pub fn sign_confirmed(key: &EcKey, secret: &[u8], message: &[u8], token_given: &[u8]) -> Result<Vec<u8>, ConfirmError> {
    let expected = token(secret, message);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(&expected[..], token_given)) {
        return Err(ConfirmError::NoUserConfirmation);
    }
    Ok(key.sign_der(message))
}

/// The prompt and extra data of a message.
pub fn parse(message: &[u8]) -> Result<(String, Vec<u8>), ConfirmError> {
    if message.len() > MAX_MESSAGE {
        return Err(ConfirmError::Malformed("longer than 0x1800 bytes".into()));
    }
    let v: Value = ciborium::from_reader(message).map_err(|e| ConfirmError::Malformed(e.to_string()))?;
    let map = v.as_map().ok_or_else(|| ConfirmError::Malformed("not a map".into()))?;
    let field = |name: &str| map.iter().find(|(k, _)| k.as_text() == Some(name)).map(|(_, v)| v);
    let prompt = field("prompt").and_then(Value::as_text).ok_or_else(|| ConfirmError::Malformed("no prompt".into()))?;
    let extra = field("extra").and_then(Value::as_bytes).ok_or_else(|| ConfirmError::Malformed("no extra".into()))?;
    Ok((prompt.to_string(), extra.clone()))
}

/// The relying party's check: `signature` (ASN.1 ES256) over the exact
/// `message` under the registered confirmation key `key_spki`; the prompt
/// is `expected_prompt`; `take_nonce` consumes `extra` (true only the first
/// time for a nonce the relying party issued).
pub fn verify(
    message: &[u8],
    signature: &[u8],
    key_spki: &[u8],
    expected_prompt: &str,
    take_nonce: impl FnOnce(&[u8]) -> bool,
) -> Result<(), ConfirmError> {
    if !ec::verify_der(key_spki, message, signature) {
        return Err(ConfirmError::BadSignature);
    }
    let (prompt, extra) = parse(message)?;
    if prompt != expected_prompt {
        return Err(ConfirmError::PromptAltered);
    }
    if !take_nonce(&extra) {
        return Err(ConfirmError::NonceReused);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn only_a_confirmed_prompt_with_a_fresh_nonce_under_the_registered_key_passes() {
        let key = EcKey::generate();
        let prompt = "sign contract.pdf, SHA-256 3f2a…";
        let nonce = [7u8; 32];
        let msg = message(prompt, &nonce);
        // The trusted UI's token, given only on confirmation.
        let t = token(&TEST_SECRET, &msg);
        let sig = sign_confirmed(&key, &TEST_SECRET, &msg, &t).unwrap();
        let mut issued: HashSet<Vec<u8>> = [nonce.to_vec()].into();
        let mut take = |n: &[u8]| issued.remove(n);
        assert_eq!(verify(&msg, &sig, &key.spki(), prompt, &mut take), Ok(()));
        // Reused.
        assert_eq!(verify(&msg, &sig, &key.spki(), prompt, &mut take), Err(ConfirmError::NonceReused));
        // Another prompt than the one asked for.
        assert_eq!(verify(&msg, &sig, &key.spki(), "sign other.pdf", |_| true), Err(ConfirmError::PromptAltered));
        // The prompt altered after signing.
        let altered = message("sign contract.pdf, SHA-256 0000…", &nonce);
        assert_eq!(verify(&altered, &sig, &key.spki(), prompt, |_| true), Err(ConfirmError::BadSignature));
        // Signed by another key.
        let other = EcKey::generate();
        assert_eq!(verify(&msg, &other.sign_der(&msg), &key.spki(), prompt, |_| true), Err(ConfirmError::BadSignature));
        // No token (declined) or a token for another message: KeyMint refuses.
        assert_eq!(sign_confirmed(&key, &TEST_SECRET, &msg, &[0; 32]), Err(ConfirmError::NoUserConfirmation));
        assert_eq!(
            sign_confirmed(&key, &TEST_SECRET, &msg, &token(&TEST_SECRET, &altered)),
            Err(ConfirmError::NoUserConfirmation)
        );
        assert_eq!(parse(&msg).unwrap(), (prompt.to_string(), nonce.to_vec()));
        assert!(matches!(parse(b"\xa0"), Err(ConfirmError::Malformed(_))));
    }
}
