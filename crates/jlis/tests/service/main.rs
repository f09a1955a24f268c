//! The JPKI service's rules against a SQLite store, or against PostgreSQL
//! when `JPKI_TEST_POSTGRES` names a server (tests/interop/postgres.sh):
//! then each test gets a database of its own.
#![allow(missing_docs)]

mod device_trust;
mod rules;
mod status;

use jlis::{Jlis, PhoneCertType, PhoneRequest};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

pub struct Env {
    pub dir: tempfile::TempDir,
    pub jlis: Jlis,
}

pub async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let url = testkit::database::fresh(dir.path(), "jlis").await;
    let jlis = Jlis::open(&url, pki::ca::LocalCa::open_or_create(&dir.path().join("ca")).unwrap()).await.unwrap();
    Env { dir, jlis }
}

pub fn rid() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("req-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

pub fn holder() -> pki::Holder {
    pki::Holder {
        name: "連携 一郎".into(),
        address: "北海道札幌市中央区北1条西2丁目".into(),
        birth: "19780310".into(),
        sex: pki::Sex::Male,
        prefecture: "Hokkaido".into(),
        municipality: "Sapporo-shi".into(),
    }
}

pub fn key() -> Vec<u8> {
    pki::RsaPrivateKey::generate_2048().unwrap().public_key_der()
}

/// The cards' signature keys, by their signature certificate (DER), so a
/// test can have the card sign an application.
fn card_keys() -> &'static Mutex<HashMap<Vec<u8>, pki::RsaPrivateKey>> {
    static KEYS: OnceLock<Mutex<HashMap<Vec<u8>, pki::RsaPrivateKey>>> = OnceLock::new();
    KEYS.get_or_init(Default::default)
}

/// A card issued by the service: (auth DER, sign DER).
pub async fn card(env: &Env) -> (Vec<u8>, Vec<u8>) {
    let sign_key = pki::RsaPrivateKey::generate_2048().unwrap();
    let (auth, sign) = env.jlis.issue_card(&rid(), &holder(), &key(), &sign_key.public_key_der()).await.unwrap();
    card_keys().lock().unwrap().insert(sign.clone(), sign_key);
    (auth, sign)
}

/// The holder's application for `types`, signed by the card whose
/// signature certificate is `card_sign` (empty for a certificate whose key
/// the test does not hold).
pub fn application(card_sign: &[u8], types: &[PhoneCertType]) -> Vec<u8> {
    let keys = card_keys().lock().unwrap();
    let Some(key) = keys.get(card_sign) else { return Vec::new() };
    jlis::application::Application::example(types).sign_with(key, card_sign).unwrap()
}

/// `app` signed by the card whose signature certificate is `card_sign`.
pub fn sign_application(card_sign: &[u8], app: &jlis::application::Application) -> Vec<u8> {
    let keys = card_keys().lock().unwrap();
    app.sign_with(keys.get(card_sign).expect("a card of this test"), card_sign).unwrap()
}

/// [`application`] with the signing time `at` (the card's clock).
pub fn application_signed_at(card_sign: &[u8], types: &[PhoneCertType], at: std::time::SystemTime) -> Vec<u8> {
    let keys = card_keys().lock().unwrap();
    let key = keys.get(card_sign).expect("a card of this test");
    let signer = pki::cert::parse_certificates(card_sign).unwrap().remove(0);
    let options = pki::cms::SignOptions { hash: pki::HashAlg::Sha256, detached: false, signing_time: at };
    let content = jlis::application::Application::example(types).to_content();
    pki::cms::sign(&content, &signer, &[], &options, |digest_info| key.sign_raw(digest_info)).unwrap()
}

pub fn phone_request(card_sign: &[u8], t: PhoneCertType, se: &str) -> PhoneRequest {
    PhoneRequest {
        request_id: rid(),
        card_certificate: card_sign.to_vec(),
        application: application(card_sign, &[t]),
        phone_public_key: key(),
        se_id: se.into(),
        cert_type: t,
        attestation_result: None,
        key_attestation: vec![],
    }
}

pub fn serial(der: &[u8]) -> String {
    jlis::service::serial_hex(&pki::cert::parse_certificates(der).unwrap()[0])
}
