//! Trusted confirmation as the SAM's second factor (level 2, JT2A II
//! 3.1.4; docs/device-trust.md "Trusted confirmation as a signing factor"):
//! the phone's trusted UI shows the credential and every hash, and the
//! holder's `[508]` TEE key, registered with the card-signed registration,
//! signs that prompt with the RSSP's challenge. The SAD then covers exactly
//! what the holder saw.

use crate::lab::*;
use attest::confirm::ConfirmError;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use csc_api::error::Code;
use csc_api::types::AuthDatum;
use openjpki_tests::{jpki_app_identity, new_phone};
use phone::tee::ConfirmationKey;
use rssp::records::Factor;
use testbed::devices::{Factory, PhoneState};

const SERVICE: &str = "openjpki-rssp";

fn key_hash(key: &ConfirmationKey) -> String {
    hex::encode(pki::HashAlg::Sha256.digest(&key.public_key()))
}

fn chain_b64(key: &ConfirmationKey) -> Vec<String> {
    key.chain.iter().map(|c| B64.encode(c)).collect()
}

/// Registers `card`'s holder with the confirm factor: the card signs the
/// key's hash `signed_for`, and `chain` is sent beside.
async fn register(
    lab: &Lab,
    card: &mynacard::CardState,
    nonce: &str,
    signed_for: Option<String>,
    chain: Option<Vec<String>>,
) -> Result<serde_json::Value, csc_api::CscError> {
    let mut ins = registration(nonce, Factor::Confirm, PASSWORD);
    ins.confirmation_key = signed_for;
    let cms = card_signs(card, &ins.to_bytes());
    let mut body = serde_json::json!({ "cms": B64.encode(cms), "password": PASSWORD });
    if let Some(chain) = chain {
        body["confirmation_key_chain"] = serde_json::json!(chain);
    }
    lab.csc().call_path("/rssp/v1/register", &body).await
}

fn factors(message: &[u8], signature: &[u8]) -> Vec<AuthDatum> {
    let mut d = pin(PASSWORD);
    d.push(AuthDatum { id: "CONFIRM".into(), value: B64.encode(message) });
    d.push(AuthDatum { id: "CONFIRM_SIGNATURE".into(), value: B64.encode(signature) });
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_holders_confirmation_activates_exactly_the_hashes_shown_once() {
    let lab = Lab::new().await;
    let card = lab.card("確認 一子").await;
    let phone = new_phone(&lab.d, jpki_app_identity());
    let tee = phone.tee().unwrap();
    let nonce = lab.nonce("register").await;
    let key = tee.confirmation_key(nonce.as_bytes(), &jpki_app_identity()).unwrap();
    let registered =
        register(&lab, &card, &nonce, Some(key_hash(&key)), Some(chain_b64(&key))).await.expect("registered");
    assert_eq!((registered["level"].as_u64(), registered["factor"].as_str()), (Some(2), Some("confirm")));
    let credential = registered["credential_id"].as_str().unwrap().to_string();
    let csc = lab.csc().login(registered["signer_id"].as_str().unwrap(), PASSWORD).await.unwrap();
    assert_eq!(csc.info(&credential).await.unwrap().auth.unwrap().expression, "PIN AND CONFIRM");
    let hashes = vec![sha256(b"lease page 1"), sha256(b"lease page 2")];
    let prompt = rssp::confirm::prompt(SERVICE, &credential, pki::HashAlg::Sha256, 2, &hashes);
    let refused = |e: csc_api::CscError, why: &str| {
        assert_eq!(e.code, Code::InvalidAuthenticationData, "{e}");
        assert!(e.description.contains(why), "expected {why:?}: {e}");
    };

    // The password alone is not enough.
    let e = csc.authorize(&credential, &hashes, pin(PASSWORD)).await.unwrap_err();
    refused(e, "CONFIRM");

    // A compromised client shows the holder other hashes than it sends:
    // the holder confirmed another prompt.
    let c = challenge(&csc, &credential, "CONFIRM").await;
    let shown = rssp::confirm::prompt(SERVICE, &credential, pki::HashAlg::Sha256, 2, &[sha256(b"x"), sha256(b"y")]);
    let other = tee.confirm(&key, &shown, c.as_bytes(), |_| true).unwrap();
    let e = csc.authorize(&credential, &hashes, factors(&other.message, &other.signature)).await.unwrap_err();
    refused(e, "another prompt");

    // Another trusted phone's confirmation key, not the registered one.
    let stranger = new_phone(&lab.d, jpki_app_identity());
    let their_key = stranger.tee().unwrap().confirmation_key(b"theirs", &jpki_app_identity()).unwrap();
    let theirs = stranger.tee().unwrap().confirm(&their_key, &prompt, c.as_bytes(), |_| true).unwrap();
    let e = csc.authorize(&credential, &hashes, factors(&theirs.message, &theirs.signature)).await.unwrap_err();
    refused(e, "registered confirmation key");

    // The holder declines: the phone has nothing to send, and malware on
    // the phone cannot have the key sign without the trusted UI's token.
    assert_eq!(tee.confirm(&key, &prompt, c.as_bytes(), |_| false).unwrap_err(), ConfirmError::Declined);
    let unconfirmed = attest::confirm::message(&prompt, c.as_bytes());
    assert_eq!(tee.sign_unconfirmed(&key, &unconfirmed).unwrap_err(), ConfirmError::NoUserConfirmation);
    // A confirmation's signature sent with another message.
    let good = tee.confirm(&key, &prompt, c.as_bytes(), |shown| shown == prompt).unwrap();
    let forged = attest::confirm::message(&prompt, b"another challenge");
    let e = csc.authorize(&credential, &hashes, factors(&forged, &good.signature)).await.unwrap_err();
    refused(e, "registered confirmation key");
    // CONFIRM without its signature: a malformed request, not a factor.
    let mut half = pin(PASSWORD);
    half.push(AuthDatum { id: "CONFIRM".into(), value: B64.encode(&good.message) });
    assert_eq!(csc.authorize(&credential, &hashes, half).await.unwrap_err().code, Code::InvalidRequest);

    // What the holder confirmed: a SAD for exactly these hashes.
    let sad = csc.authorize(&credential, &hashes, factors(&good.message, &good.signature)).await.expect("confirmed");
    let e = csc.sign_hash(&credential, &sad.sad, &[sha256(b"not shown")]).await.unwrap_err();
    assert_eq!(e.code, Code::InvalidRequest, "{e}");
    let signatures = csc.sign_hash(&credential, &sad.sad, &hashes).await.unwrap();
    let cert = B64.decode(registered["certificate"].as_str().unwrap()).unwrap();
    assert!(verifies(&cert, b"lease page 1", &signatures[0]));
    assert!(verifies(&cert, b"lease page 2", &signatures[1]));

    // The same confirmation again: its challenge is spent.
    let e = csc.authorize(&credential, &hashes, factors(&good.message, &good.signature)).await.unwrap_err();
    refused(e, "challenge is unknown, used or expired");
    // A fresh challenge confirmed again works (the refusals did not lock it).
    let c = challenge(&csc, &credential, "CONFIRM").await;
    let again = tee.confirm(&key, &prompt, c.as_bytes(), |_| true).unwrap();
    csc.authorize(&credential, &hashes, factors(&again.message, &again.signature)).await.expect("a new confirmation");
    // The PHONE challenge is not this credential's factor.
    let e = csc
        .call::<_, serde_json::Value>(
            "credentials/getChallenge",
            &serde_json::json!({ "credentialID": credential, "authObjectID": "PHONE" }),
        )
        .await
        .unwrap_err();
    assert!(e.description.contains("does not take the PHONE factor"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn registration_refuses_an_untrusted_or_swapped_confirmation_key_and_changes_nothing() {
    let lab = Lab::new().await;
    let card = lab.card("確認 二子").await;
    let factory = Factory::open(&lab.d.dir).unwrap();
    let nonce = lab.nonce("register").await;
    let good_phone = new_phone(&lab.d, jpki_app_identity());
    let good = good_phone.tee().unwrap().confirmation_key(nonce.as_bytes(), &jpki_app_identity()).unwrap();
    let denied = |e: csc_api::CscError, why: &str| {
        assert_eq!(e.code, Code::AccessDenied, "{e}");
        assert!(e.description.contains(why), "expected {why:?}: {e}");
    };

    // Phones the policy does not trust.
    for (state, reason) in [
        ("rooted", "boot_not_verified"),
        ("unlocked", "bootloader_unlocked"),
        ("revoked-key", "attestation_key_revoked"),
    ] {
        let phone = factory.phone(jpki_app_identity(), PhoneState::parse(state).unwrap(), "test").unwrap();
        let key = phone.tee().unwrap().confirmation_key(nonce.as_bytes(), &jpki_app_identity()).unwrap();
        let e = register(&lab, &card, &nonce, Some(key_hash(&key)), Some(chain_b64(&key))).await.unwrap_err();
        denied(e, reason);
    }
    // A repackaged app's key (another signing certificate).
    let repackaged = phone::App::new(phone::dir::JPKI_APP, b"a repackager's signing certificate".to_vec());
    let key = good_phone.tee().unwrap().confirmation_key(nonce.as_bytes(), &repackaged).unwrap();
    denied(
        register(&lab, &card, &nonce, Some(key_hash(&key)), Some(chain_b64(&key))).await.unwrap_err(),
        "app_signing_key",
    );
    // A key attested for another registration's nonce (replayed).
    let key = good_phone.tee().unwrap().confirmation_key(b"an earlier nonce", &jpki_app_identity()).unwrap();
    denied(
        register(&lab, &card, &nonce, Some(key_hash(&key)), Some(chain_b64(&key))).await.unwrap_err(),
        "nonce_mismatch",
    );
    // A key that does not need the trusted UI (the app's evidence key).
    let se = hex::decode(good_phone.se_identifier()).unwrap();
    let evidence = good_phone.tee().unwrap().evidence(nonce.as_bytes(), &jpki_app_identity(), &se, "test").unwrap();
    let plain: Vec<String> = attest::eat::open(&evidence).unwrap().chain.iter().map(|c| B64.encode(c)).collect();
    let plain_hash = {
        let leaf = attest::x509::Parsed::from_der(&B64.decode(&plain[0]).unwrap()).unwrap();
        hex::encode(pki::HashAlg::Sha256.digest(&leaf.spki()))
    };
    denied(register(&lab, &card, &nonce, Some(plain_hash), Some(plain)).await.unwrap_err(), "not_confirmation_key");
    // A trusted key swapped in for the one the card signed.
    let swapped = good_phone.tee().unwrap().confirmation_key(nonce.as_bytes(), &jpki_app_identity()).unwrap();
    denied(
        register(&lab, &card, &nonce, Some(key_hash(&good)), Some(chain_b64(&swapped))).await.unwrap_err(),
        "not the one the card signed",
    );
    // Bad input: no chain, an empty one, one not in base64, no hash signed.
    for (signed, chain, why) in [
        (Some(key_hash(&good)), None, "needs confirmation_key_chain"),
        (Some(key_hash(&good)), Some(vec![]), "empty"),
        (Some(key_hash(&good)), Some(vec!["***".to_string()]), "not base64"),
        (None, Some(chain_b64(&good)), "does not name the confirmation key"),
    ] {
        let e = register(&lab, &card, &nonce, signed, chain).await.unwrap_err();
        assert_eq!(e.code, Code::InvalidRequest, "{e}");
        assert!(e.description.contains(why), "expected {why:?}: {e}");
    }
    // A key hash signed into a registration for another factor.
    let mut ins = registration(&nonce, Factor::Password, PASSWORD);
    ins.confirmation_key = Some(key_hash(&good));
    let e = lab.register(&card_signs(&card, &ins.to_bytes()), PASSWORD).await.unwrap_err();
    assert_eq!(e.code, Code::InvalidRequest, "{e}");
    assert!(e.description.contains("that is for the confirm factor"), "{e}");
    // Nothing was registered and the nonce is still unused: the genuine
    // registration with it goes through.
    let registered =
        register(&lab, &card, &nonce, Some(key_hash(&good)), Some(chain_b64(&good))).await.expect("registered");
    assert_eq!(registered["factor"], "confirm");
}
