//! The JPKI phone as the SAM's second factor (level 2, JT2A II 3.1.4): the
//! phone's authentication key co-signs the registration, and at each
//! authorisation signs a message that covers the credential, the exact
//! hashes and a single-use challenge; its certificate's status is asked
//! of the JPKI service by OCSP.

use crate::lab::*;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use csc_api::error::Code;
use csc_api::types::AuthDatum;
use rssp::records::Factor;
use tsm_api::PhoneCertType;

const PHONE_AUTH_PIN: &str = "2468";

/// A card and a phone provisioned with it for `types` (prepared, applied, PINs set).
async fn card_and_phone_with(
    lab: &Lab,
    name: &str,
    types: &[PhoneCertType],
) -> (mynacard::CardState, phone::app::JpkiApp) {
    let state = lab.card(name).await;
    let app = openjpki_tests::new_phone(&lab.d, openjpki_tests::jpki_app_identity());
    app.prepare(&lab.d.sei().unwrap()).await.expect("SE prepared");
    let mut card =
        jpki::JpkiCard::new(transport::InProcess::new(mynacard::MynaCard::in_memory(state.clone()).unwrap()));
    let applied = app.apply(&lab.d.sp().unwrap(), &mut card, "ABC123", types).await.expect("applied");
    applied.outcome.expect("provisioned");
    app.set_pins(PHONE_AUTH_PIN.as_bytes(), b"PHONE1").unwrap();
    (state, app)
}

/// A card and a phone with its authentication certificate.
async fn card_and_phone(lab: &Lab, name: &str) -> (mynacard::CardState, phone::app::JpkiApp) {
    card_and_phone_with(lab, name, &[PhoneCertType::Auth]).await
}

async fn register_with_phone(
    lab: &Lab,
    card: &mynacard::CardState,
    phone: &phone::app::JpkiApp,
) -> Result<serde_json::Value, csc_api::CscError> {
    let nonce = lab.nonce("register").await;
    let content = registration(&nonce, Factor::Phone, PASSWORD).to_bytes();
    let cms = card_signs(card, &content);
    let co_signed = phone.sign(PhoneCertType::Auth, PHONE_AUTH_PIN, &content).unwrap();
    lab.csc()
        .call_path(
            "/rssp/v1/register",
            &serde_json::json!({ "cms": B64.encode(cms), "password": PASSWORD,
                "phone_certificate": B64.encode(&co_signed.certificate), "phone_signature": B64.encode(&co_signed.signature) }),
        )
        .await
}

fn factors(phone_signature: &[u8]) -> Vec<AuthDatum> {
    let mut d = pin(PASSWORD);
    d.push(AuthDatum { id: "PHONE".into(), value: B64.encode(phone_signature) });
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_phone_activates_exactly_the_hashes_it_signed_for_once() {
    let lab = Lab::new().await;
    let (card, phone) = card_and_phone(&lab, "携帯 一子").await;
    let registered = register_with_phone(&lab, &card, &phone).await.expect("registered with the phone factor");
    assert_eq!(registered["level"], 2);
    let credential = registered["credential_id"].as_str().unwrap().to_string();
    let csc = lab.csc().login(registered["signer_id"].as_str().unwrap(), PASSWORD).await.unwrap();
    assert_eq!(csc.info(&credential).await.unwrap().auth.unwrap().expression, "PIN AND PHONE");
    let hashes = vec![sha256(b"contract page 1"), sha256(b"contract page 2")];
    let sha256_alg = pki::HashAlg::Sha256;

    // The password alone is not enough.
    assert_eq!(
        csc.authorize(&credential, &hashes, pin(PASSWORD)).await.unwrap_err().code,
        Code::InvalidAuthenticationData
    );
    // The phone signed other hashes than those asked for: refused.
    let c = challenge(&csc, &credential, "PHONE").await;
    let other = rssp::sam::activation_message(&credential, sha256_alg, 2, &[sha256(b"x"), sha256(b"y")], &c);
    let wrong = phone.sign(PhoneCertType::Auth, PHONE_AUTH_PIN, &other).unwrap().signature;
    assert_eq!(
        csc.authorize(&credential, &hashes, factors(&wrong)).await.unwrap_err().code,
        Code::InvalidAuthenticationData
    );
    // The right message: a SAD for exactly these hashes.
    let c = challenge(&csc, &credential, "PHONE").await;
    let message = rssp::sam::activation_message(&credential, sha256_alg, 2, &hashes, &c);
    let signed = phone.sign(PhoneCertType::Auth, PHONE_AUTH_PIN, &message).unwrap().signature;
    let sad = csc.authorize(&credential, &hashes, factors(&signed)).await.expect("password and phone");
    let signatures = csc.sign_hash(&credential, &sad.sad, &hashes).await.unwrap();
    let cert = B64.decode(registered["certificate"].as_str().unwrap()).unwrap();
    assert!(verifies(&cert, b"contract page 1", &signatures[0]));
    // The same phone signature again (its challenge is spent): refused.
    assert_eq!(
        csc.authorize(&credential, &hashes, factors(&signed)).await.unwrap_err().code,
        Code::InvalidAuthenticationData
    );

    // Another holder's phone cannot stand in for this one.
    let (_, stranger) = card_and_phone(&lab, "他人 二子").await;
    let c = challenge(&csc, &credential, "PHONE").await;
    let message = rssp::sam::activation_message(&credential, sha256_alg, 2, &hashes, &c);
    let foreign = stranger.sign(PhoneCertType::Auth, PHONE_AUTH_PIN, &message).unwrap().signature;
    assert_eq!(
        csc.authorize(&credential, &hashes, factors(&foreign)).await.unwrap_err().code,
        Code::InvalidAuthenticationData
    );

    // The phone's certificate is revoked at the JPKI service (the key stays
    // in the SE): the OCSP check at authorisation refuses the factor.
    let phone_cert = phone.certificate(PhoneCertType::Auth, Some(PHONE_AUTH_PIN)).unwrap();
    let serial = hex::encode_upper(
        pki::cert::parse_certificates(&phone_cert).unwrap()[0].tbs_certificate.serial_number.as_bytes(),
    );
    lab.d.operator().unwrap().revoke("revoke-phone-rssp", &serial, pki::crl::Reason::KeyCompromise).await.unwrap();
    let c = challenge(&csc, &credential, "PHONE").await;
    let message = rssp::sam::activation_message(&credential, sha256_alg, 2, &hashes, &c);
    let signed = phone.sign(PhoneCertType::Auth, PHONE_AUTH_PIN, &message).unwrap().signature;
    let e = csc.authorize(&credential, &hashes, factors(&signed)).await.unwrap_err();
    assert!(e.description.contains("not valid at the JPKI service"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn registration_refuses_a_phone_that_did_not_sign_it() {
    let lab = Lab::new().await;
    let (card, phone) = card_and_phone(&lab, "携帯 三子").await;
    let nonce = lab.nonce("register").await;
    let content = registration(&nonce, Factor::Phone, PASSWORD).to_bytes();
    let cms = card_signs(&card, &content);
    // The phone's certificate with its signature over something else.
    let other = phone.sign(PhoneCertType::Auth, PHONE_AUTH_PIN, b"something else").unwrap();
    let e = lab
        .csc()
        .call_path::<serde_json::Value>(
            "/rssp/v1/register",
            &serde_json::json!({ "cms": B64.encode(&cms), "password": PASSWORD,
                "phone_certificate": B64.encode(&other.certificate), "phone_signature": B64.encode(&other.signature) }),
        )
        .await
        .unwrap_err();
    assert!(e.description.contains("phone's signature over the registration does not verify"), "{e}");
    // A card certificate in place of the phone's: not a JPKI authentication certificate.
    let card_cert = card.jpki.sign_cert.clone();
    let e = lab
        .csc()
        .call_path::<serde_json::Value>(
            "/rssp/v1/register",
            &serde_json::json!({ "cms": B64.encode(&cms), "password": PASSWORD,
                "phone_certificate": B64.encode(&card_cert), "phone_signature": B64.encode(&other.signature) }),
        )
        .await
        .unwrap_err();
    assert!(e.description.contains("not a valid JPKI authentication certificate"), "{e}");
    assert_eq!(count(&lab.store().await, "SELECT COUNT(*) AS n FROM signers").await, 0);
}

/// The phone's *signature* key is an identity like the card's: its
/// certificate (issued by the JPKI signature CA with the card's holder
/// attributes) registers the signer and signs their suspension; the
/// identity is the certificate that registered.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_phones_signature_key_registers_and_suspends_like_the_card() {
    let lab = Lab::new().await;
    let (card, phone) = card_and_phone_with(&lab, "携帯署名 四子", &[PhoneCertType::Auth, PhoneCertType::Sign]).await;
    let nonce = lab.nonce("register").await;
    let content = registration(&nonce, Factor::Password, PASSWORD).to_bytes();
    let cms = phone.cms_sign(PhoneCertType::Sign, "PHONE1", &content, false).unwrap();
    let registered = lab.register(&cms, PASSWORD).await.expect("registered with the phone's signature key");
    assert_eq!(registered["name"], "携帯署名 四子", "the holder's name from the phone's signature certificate");
    let credential = registered["credential_id"].as_str().unwrap().to_string();
    let csc = lab.csc().login(registered["signer_id"].as_str().unwrap(), PASSWORD).await.unwrap();
    let h = vec![sha256(b"signed after a phone registration")];
    let sad = csc.authorize(&credential, &h, pin(PASSWORD)).await.unwrap();
    csc.sign_hash(&credential, &sad.sad, &h).await.unwrap();
    // The card did not register this signer: its instruction is refused.
    let e = lab.instruct(&card, rssp::instruction::Purpose::Suspend, &credential).await.unwrap_err();
    assert!(e.description.contains("registered no signer"), "{e}");
    // The phone suspends it.
    let nonce = lab.nonce("suspend").await;
    let ins = instruction(rssp::instruction::Purpose::Suspend, &nonce, &credential).to_bytes();
    let cms = phone.cms_sign(PhoneCertType::Sign, "PHONE1", &ins, false).unwrap();
    assert_eq!(lab.send_instruction(&cms).await.unwrap()["status"], "suspended");
}
