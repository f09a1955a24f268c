//! Trusted confirmation of a business app's signature request (issue 18,
//! docs/device-trust.md): the relying party registers the holder's
//! confirmation key (attested by the TEE, `[508]`), asks for a signature
//! with a nonce, and checks what comes back — refusing an altered prompt, a
//! confirmation from another key, a reused one; a declined prompt yields
//! nothing and spends no PIN try.

use attest::appraisal::{Metadata, Policy, Reason, Verifier};
use attest::confirm::{self, ConfirmError};
use jpki::JpkiCard;
use mynacard::personalize::InitialPins;
use openjpki_tests::{holder, jpki_app_identity, new_phone};
use phone::app::{confirmation_prompt, IntentError};
use phone::App;
use std::collections::HashSet;
use std::time::SystemTime;
use testbed::Deployment;
use tsm_api::PhoneCertType as CertType;
use zeroize::Zeroizing;

/// The relying party's verifier: the deployment's policy and vendor list.
fn verifier(d: &Deployment) -> Verifier {
    let read = |f: &str| std::fs::read_to_string(d.dir.join("device-trust").join(f)).unwrap();
    let policy: Policy = serde_json::from_str(&read("policy.json")).unwrap();
    let metadata: Metadata = serde_json::from_str(&read("metadata.json")).unwrap();
    Verifier::new(policy, metadata, attest::ec::EcKey::generate(), "relying party")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_relying_party_gets_what_the_holder_confirmed_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let hash = hex::encode_upper(pki::HashAlg::Sha256.digest(&jpki_app_identity().signing_certificate));
    let d = Deployment::create(dir.path(), &hash, 10).await.unwrap();
    let state = d.make_card(&holder(), "123456789018", InitialPins::test_card()).await.unwrap();
    let mut card = JpkiCard::new(transport::InProcess::new(mynacard::MynaCard::in_memory(state).unwrap()));
    let app = new_phone(&d, jpki_app_identity());
    app.prepare(&d.sei().unwrap()).await.unwrap();
    app.apply(&d.sp().unwrap(), &mut card, "ABC123", &[CertType::Auth, CertType::Sign]).await.unwrap().outcome.unwrap();
    app.set_pins(b"2468", b"PHONE1").unwrap();
    let rp = verifier(&d);
    let bank = App::new("jp.example.bank", b"bank app".to_vec());
    let now = SystemTime::now();

    // Registration: the key's attestation must show [508].
    let challenge = [0x11; 32];
    let key = app.tee().unwrap().confirmation_key(&challenge, &jpki_app_identity()).unwrap();
    let registered = rp.confirmation_key(&key.chain, &challenge, now).unwrap();
    assert_eq!(registered, key.public_key());
    let plain = app.tee().unwrap().evidence(&challenge, &jpki_app_identity(), &[0; 10], "x").unwrap();
    let plain_chain = attest::eat::open(&plain).unwrap().chain;
    let e = rp.confirmation_key(&plain_chain, &challenge, now).unwrap_err();
    assert!(e.contains(&Reason::NotConfirmationKey), "{e:?}");
    assert!(rp.confirmation_key(&key.chain, &[0x12; 32], now).unwrap_err().contains(&Reason::NonceMismatch));

    // The holder confirms: the RP gets the SE's signature and the confirmation.
    let document = b"contract: 100 shares at 1,000 yen";
    let mut issued: HashSet<Vec<u8>> = HashSet::new();
    let nonce = vec![0x21; 32];
    issued.insert(nonce.clone());
    let mut seen = String::new();
    let (answer, confirmed) = app
        .confirmed_sign(&bank, &key, "contract.pdf", document, &nonce, |prompt| {
            seen = prompt.to_string();
            Some(Zeroizing::new("PHONE1".into()))
        })
        .unwrap();
    let expected = confirmation_prompt("jp.example.bank", "contract.pdf", document);
    assert_eq!(seen, expected, "the holder saw the document's name and hash");
    let cert = pki::cert::parse_certificates(&answer.certificate).unwrap().remove(0);
    let public = pki::cert::public_key_der(&cert).unwrap();
    pki::rsa::verify(&public, pki::HashAlg::Sha256, document, &answer.signature).expect("the SE's signature");
    let mut take = |n: &[u8]| issued.remove(n);
    assert_eq!(confirm::verify(&confirmed.message, &confirmed.signature, &registered, &expected, &mut take), Ok(()));

    // Reused.
    assert_eq!(
        confirm::verify(&confirmed.message, &confirmed.signature, &registered, &expected, &mut take),
        Err(ConfirmError::NonceReused)
    );
    // The RP asked about another document: the prompt differs.
    let other = confirmation_prompt("jp.example.bank", "contract.pdf", b"contract: 1 share");
    assert_eq!(
        confirm::verify(&confirmed.message, &confirmed.signature, &registered, &other, |_| true),
        Err(ConfirmError::PromptAltered)
    );
    // A message altered after the holder confirmed.
    let altered = confirm::message(&other, &nonce);
    assert_eq!(
        confirm::verify(&altered, &confirmed.signature, &registered, &other, |_| true),
        Err(ConfirmError::BadSignature)
    );
    // A confirmation from another key (another phone's TEE).
    let stranger = new_phone(&d, jpki_app_identity());
    let their_key = stranger.tee().unwrap().confirmation_key(&challenge, &jpki_app_identity()).unwrap();
    let theirs = stranger.tee().unwrap().confirm(&their_key, &expected, &nonce, |_| true).unwrap();
    assert_eq!(
        confirm::verify(&theirs.message, &theirs.signature, &registered, &expected, |_| true),
        Err(ConfirmError::BadSignature)
    );
    // Without the trusted UI's token, KeyMint does not sign.
    assert_eq!(app.tee().unwrap().sign_unconfirmed(&key, &confirmed.message), Err(ConfirmError::NoUserConfirmation));

    // Declined: no confirmation, no signature, no PIN try spent.
    let tries = card_tries(&app);
    let declined = app.confirmed_sign(&bank, &key, "contract.pdf", document, &[0x22; 32], |_| None).unwrap_err();
    assert!(matches!(declined, IntentError::Declined));
    assert_eq!(card_tries(&app), tries);
}

fn card_tries(app: &phone::app::JpkiApp) -> u8 {
    let mut card = JpkiCard::new(phone::JpkiApplet::open(&app.se_service(), &jpki_app_identity()).unwrap());
    card.pin_tries_left(jpki::PinId::Sign).unwrap()
}
