//! The confirm factor (level 2, JT2A II 3.1.4; docs/device-trust.md
//! "Trusted confirmation as a signing factor"): the holder's phone shows
//! [`prompt`] — this service, the credential, the number of signatures and
//! every hash — on its trusted UI, and only when the holder confirms does a
//! `[508]` TEE key sign `{prompt, extra: challenge}` (Android Protected
//! Confirmation, [`attest::confirm`]). The SAD issued then binds exactly
//! those hashes, so what is signed is what the holder saw.
//!
//! The key is registered with the card-signed registration: its attestation
//! chain must pass the device-trust policy for the registration's nonce,
//! and the card signs the key's SHA-256. At each authorisation the chain is
//! appraised again against the metadata of the day.

use crate::error::RsspError;
use crate::records::ConfirmationKey;
use attest::appraisal::{Reason, Verifier};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use csc_api::error::Code;
use pki::HashAlg;
use std::time::SystemTime;

/// The text the trusted UI shows for an authorisation.
pub fn prompt(service: &str, credential_id: &str, hash: HashAlg, num_signatures: u32, hashes: &[Vec<u8>]) -> String {
    let mut p = format!(
        "Sign with {service}\ncredential {credential_id}\n{num_signatures} signature(s) of these {} digests:\n",
        match hash {
            HashAlg::Sha1 => "SHA-1",
            HashAlg::Sha256 => "SHA-256",
            HashAlg::Sha384 => "SHA-384",
            HashAlg::Sha512 => "SHA-512",
        }
    );
    for h in hashes {
        p.push_str(&hex::encode(h));
        p.push('\n');
    }
    p
}

/// Refuses hashes whose prompt the trusted UI could not show.
pub fn check_prompt_fits(prompt: &str) -> Result<(), RsspError> {
    if attest::confirm::message(prompt, &[0; 64]).len() > attest::confirm::MAX_MESSAGE {
        return Err(RsspError::invalid(format!(
            "the confirmation prompt for these hashes is longer than the phone's trusted UI shows ({} bytes): \
             authorise fewer hashes at a time",
            attest::confirm::MAX_MESSAGE
        )));
    }
    Ok(())
}

fn codes(reasons: &[Reason]) -> String {
    reasons.iter().map(Reason::code).collect::<Vec<_>>().join(", ")
}

/// Registration: `chain` (base64 DER, leaf first) must attest a `[508]` key
/// of a trusted phone running the app the policy names, for `nonce`; its
/// SHA-256 must be `signed_hash`, what the card signed.
pub fn register(
    verifier: &Verifier,
    chain: &[String],
    nonce: &str,
    signed_hash: Option<&str>,
    now: SystemTime,
) -> Result<ConfirmationKey, RsspError> {
    let Some(signed_hash) = signed_hash else {
        return Err(RsspError::invalid(
            "the registration does not name the confirmation key: the card must sign its SHA-256 (confirmation_key)",
        ));
    };
    let der = chain
        .iter()
        .map(|c| B64.decode(c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| RsspError::invalid("confirmation_key_chain holds a certificate that is not base64"))?;
    if der.is_empty() {
        return Err(RsspError::invalid(
            "confirmation_key_chain is empty: send the key's attestation chain, leaf first",
        ));
    }
    let spki = verifier.confirmation_key(&der, nonce.as_bytes(), now).map_err(|reasons| {
        RsspError::denied(format!(
            "device_not_trusted: the confirmation key is not a trusted phone's confirmation key ({})",
            codes(&reasons)
        ))
    })?;
    let hash = hex::encode(HashAlg::Sha256.digest(&spki));
    if !signed_hash.eq_ignore_ascii_case(&hash) {
        return Err(RsspError::denied("the confirmation key is not the one the card signed for (swapped in transit?)"));
    }
    Ok(ConfirmationKey { chain: chain.to_vec(), challenge: nonce.into() })
}

/// Authorisation: the registered `key` is appraised again; `message`
/// (CBOR `{prompt, extra}`) must be signed by it, show exactly
/// `expected_prompt`, and carry one of the outstanding `challenges`, which
/// is returned to be spent.
pub fn check(
    verifier: &Verifier,
    key: &ConfirmationKey,
    message: &[u8],
    signature: &[u8],
    expected_prompt: &str,
    challenges: &[String],
    now: SystemTime,
) -> Result<String, RsspError> {
    let refused = |why: String| RsspError::new(Code::InvalidAuthenticationData, why);
    let spki = verifier.confirmation_key(&key.chain_der()?, key.challenge.as_bytes(), now).map_err(|reasons| {
        refused(format!(
            "device_not_trusted: the registered confirmation key is no longer trusted ({}); register again",
            codes(&reasons)
        ))
    })?;
    let mut used = None;
    attest::confirm::verify(message, signature, &spki, expected_prompt, |extra| {
        used = challenges.iter().find(|c| c.as_bytes() == extra).cloned();
        used.is_some()
    })
    .map_err(|e| match e {
        attest::confirm::ConfirmError::NonceReused => refused(
            "the confirmation's challenge is unknown, used or expired: ask credentials/getChallenge again".into(),
        ),
        other => refused(other.to_string()),
    })?;
    used.ok_or_else(|| RsspError::internal("a confirmation passed without a challenge"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The registered key is appraised again at each authorisation: once
    /// its vendor's attestation key is on the status list, the holder's
    /// genuine confirmation is refused, and nothing is taken.
    #[test]
    fn a_key_whose_attestation_key_was_revoked_since_registration_is_refused() {
        use attest::appraisal::{Metadata, Policy, StatusEntry};
        use attest::keystore::{AppIdentity, Keystore, Preset, Vendor};
        let vendor = Vendor::new("Test Phones").unwrap();
        let batch = vendor.attestation_key("T1").unwrap();
        let batch_serial = attest::x509::Parsed::from_der(&batch.certificate).unwrap().serial_hex();
        let keystore = Keystore::new(Preset::Good.state(&vendor.boot_key), batch, vendor.root.certificate.clone());
        let app = AppIdentity { package: "jp.go.jpki.app".into(), version: 1, signing_digests: vec![vec![0xAB; 32]] };
        let issuer = attest::x509::Authority::new_root("Test SE Issuer", 1).unwrap();
        let metadata = Metadata::of(
            ("Test Phones", &vendor.root.certificate, &vendor.boot_key),
            ("Test SE Issuer", &issuer.certificate),
        );
        let policy = Policy::jpki("test", &app.package, &hex::encode([0xAB; 32]));
        let mut verifier = Verifier::new(policy, metadata, attest::ec::EcKey::generate(), "test");
        let now = SystemTime::now();
        let (key, chain) = keystore.generate_attested(b"registration nonce", &app, true).unwrap();
        let chain: Vec<String> = chain.iter().map(|c| B64.encode(c)).collect();
        let hash = hex::encode(HashAlg::Sha256.digest(&key.spki()));
        let registered = register(&verifier, &chain, "registration nonce", Some(&hash), now).unwrap();
        let prompt = prompt("rssp", "c-1", HashAlg::Sha256, 1, &[vec![1; 32]]);
        let message = attest::confirm::message(&prompt, b"challenge");
        let token = attest::confirm::token(&attest::confirm::TEST_SECRET, &message);
        let signature = attest::confirm::sign_confirmed(&key, &attest::confirm::TEST_SECRET, &message, &token).unwrap();
        let open = ["challenge".to_string()];
        let checked = check(&verifier, &registered, &message, &signature, &prompt, &open, now);
        assert_eq!(checked.unwrap(), "challenge");
        verifier
            .metadata
            .status
            .insert(batch_serial, StatusEntry { status: "REVOKED".into(), reason: "KEY_COMPROMISE".into() });
        let e = check(&verifier, &registered, &message, &signature, &prompt, &open, now).unwrap_err();
        assert_eq!(e.code(), Code::InvalidAuthenticationData);
        assert!(e.description().contains("no longer trusted (attestation_key_revoked)"), "{e}");
    }

    #[test]
    fn the_prompt_lists_every_hash_and_a_long_one_is_refused() {
        let hashes = vec![vec![0xAB; 32], vec![0xCD; 32]];
        let p = prompt("openjpki-rssp", "c-1", HashAlg::Sha256, 2, &hashes);
        assert!(p.contains(&"ab".repeat(32)) && p.contains(&"cd".repeat(32)) && p.contains("credential c-1"), "{p}");
        assert!(check_prompt_fits(&p).is_ok());
        let many = vec![vec![0xEF; 64]; 100];
        let long = prompt("openjpki-rssp", "c-1", HashAlg::Sha512, 100, &many);
        assert_eq!(check_prompt_fits(&long).unwrap_err().code(), Code::InvalidRequest);
    }
}
