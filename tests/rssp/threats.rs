//! One test per threat of the JT2A Remote Signature Guideline Part II §2
//! (spec/csc-sam.md §0.1), each attempting the attack against the running
//! service and asserting the refusal and that nothing changed. docs/rssp.md
//! maps each to the code that stops it.

use crate::lab::*;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use csc_api::error::{text, Code};
use rssp::instruction::Purpose;
use rssp::records::Factor;

async fn signers(lab: &Lab) -> i64 {
    count(&lab.store().await, "SELECT COUNT(*) AS n FROM signers").await
}

async fn credential_status(lab: &Lab, id: &str) -> String {
    let id = id.to_string();
    let row = lab
        .store()
        .await
        .read(move |tx| tx.optional("SELECT status FROM credentials WHERE id = $1", store::params![id]))
        .await
        .unwrap();
    row.unwrap().text("status").unwrap()
}

/// Everything the RSSP keeps on disk, as bytes an insider could read.
fn disk(lab: &Lab) -> Vec<u8> {
    let mut all = vec![];
    for name in ["rssp.sqlite", "rssp.sqlite-wal"] {
        all.extend(std::fs::read(lab.dir.path().join(name)).unwrap_or_default());
    }
    all
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

// ----- 2.1 registration -----

/// 2.1.1.1: the RS-C is obtained while the RSSP links it to the signer — a
/// captured registration (the card's CMS) sent with the attacker's own
/// password before the signer's: refused (the card signed a binding of
/// the signer's password); the signer's own then succeeds; a replay of it
/// afterwards is refused.
#[tokio::test(flavor = "multi_thread")]
async fn t2_1_1_1_a_captured_registration_cannot_be_bound_to_the_attackers_password() {
    let lab = Lab::new().await;
    let card = lab.card("捕獲 一郎").await;
    let nonce = lab.nonce("register").await;
    let cms = card_signs(&card, &registration(&nonce, Factor::Password, PASSWORD).to_bytes());
    let e = lab.register(&cms, "attacker's own password").await.unwrap_err();
    assert_eq!(e.code, Code::AccessDenied);
    assert!(e.description.contains("password is not the one the card signed"), "{e}");
    assert_eq!(signers(&lab).await, 0);
    let registered = lab.register(&cms, PASSWORD).await.expect("the signer's own registration");
    let e = lab.register(&cms, PASSWORD).await.unwrap_err();
    assert!(e.description.contains("already registered"), "{e}");
    assert_eq!(signers(&lab).await, 1);
    // The attacker's password opens nothing.
    let e = lab.csc().login(registered["signer_id"].as_str().unwrap(), "attacker's own password").await.unwrap_err();
    assert_eq!(e.code, Code::AuthenticationError);
}

/// 2.1.1.2: the public key is changed on its way to the CA — the CA
/// certifies only the key the SAM generated: a request for another key,
/// even well signed, is refused; the issued certificate carries the CM's key.
#[tokio::test(flavor = "multi_thread")]
async fn t2_1_1_2_the_ca_refuses_a_request_whose_key_is_not_the_one_the_sam_made() {
    let dir = tempfile::tempdir().unwrap();
    let keys = pki::keystore::SoftwareKeyStore::new(dir.path(), None).unwrap();
    let ca = rssp::ca::RsspCa::open_or_create(dir.path(), &keys).unwrap();
    let sam_key = pki::RsaPrivateKey::generate_2048().unwrap();
    let attacker = pki::RsaPrivateKey::generate_2048().unwrap();
    let subject = pki::names::name(&[(const_oid::db::rfc4519::CN, "x")]);
    let swapped = rssp::csr::build(subject, &attacker.public_key_der(), |di| attacker.sign_raw(di)).unwrap();
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(86_400);
    let e = ca.certify(&swapped, &sam_key.public_key_der(), "x", later).unwrap_err();
    assert!(e.contains("not the key the SAM generated"), "{e}");
    // In the service: the certificate's key is the CM's key of the record.
    let lab = Lab::new().await;
    let s = lab.signer("鍵 二郎", Factor::Password).await;
    let id = s.credential();
    let row = lab
        .store()
        .await
        .read(move |tx| tx.optional("SELECT public_key FROM credentials WHERE id = $1", store::params![id]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hex::decode(row.text("public_key").unwrap()).unwrap(), spki(&s.certificate()));
}

/// 2.1.1.3: registration data read in transit — the RSSP speaks TLS only
/// (a plain-HTTP request gets no answer), and what it keeps holds no
/// password: only an Argon2id hash.
#[tokio::test(flavor = "multi_thread")]
async fn t2_1_1_3_registration_travels_only_over_tls_and_no_password_is_kept() {
    let lab = Lab::new().await;
    let plain = svc::client::plain_http_client().unwrap();
    let url = lab.d.rssp_url.replace("https://", "http://") + "/rssp/v1/nonces";
    let answer = plain.post(&url).json(&serde_json::json!({ "purpose": "register" })).send().await;
    assert!(answer.map(|r| !r.status().is_success()).unwrap_or(true), "no plain-HTTP answer");
    let _s = lab.signer("通信 三郎", Factor::Password).await;
    lab.store().await.close().await.unwrap();
    let bytes = disk(&lab);
    assert!(!contains(&bytes, PASSWORD.as_bytes()), "the password is nowhere in the store");
    assert!(contains(&bytes, b"$argon2id$"), "an Argon2id hash is");
}

/// 2.1.1.4: an attacker registers as the signer — without the card they
/// cannot sign: a CMS from a card of another PKI, an instruction made for
/// another service, and a revoked card are refused.
#[tokio::test(flavor = "multi_thread")]
async fn t2_1_1_4_only_the_cards_valid_signature_key_registers() {
    let lab = Lab::new().await;
    let nonce = lab.nonce("register").await;
    // A card from another (look-alike) PKI.
    let foreign = openjpki_tests::fixture().card.clone();
    let e = lab
        .register(&card_signs(&foreign, &registration(&nonce, Factor::Password, PASSWORD).to_bytes()), PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(e.code, Code::AccessDenied);
    assert!(e.description.contains("not signed by a valid JPKI signature certificate"), "{e}");
    // The right card, but an instruction made for another RSSP.
    let card = lab.card("成りすまし 四郎").await;
    let mut other = registration(&nonce, Factor::Password, PASSWORD);
    other.service = "another-rssp".into();
    let e = lab.register(&card_signs(&card, &other.to_bytes()), PASSWORD).await.unwrap_err();
    assert!(e.description.contains("made for the service"), "{e}");
    // A revoked card: the JPKI service says so by OCSP.
    let cert = pki::cert::parse_certificates(&card.jpki.sign_cert).unwrap().remove(0);
    let serial = hex::encode_upper(cert.tbs_certificate.serial_number.as_bytes());
    lab.d.operator().unwrap().revoke("revoke-card-rssp", &serial, pki::crl::Reason::KeyCompromise).await.unwrap();
    let e = lab
        .register(&card_signs(&card, &registration(&nonce, Factor::Password, PASSWORD).to_bytes()), PASSWORD)
        .await
        .unwrap_err();
    assert!(e.description.contains("not valid at the JPKI service"), "{e}");
    assert_eq!(signers(&lab).await, 0);
}

/// 2.1.2.1: an attacker poses as a privileged user to change registration
/// data — the privileged routes refuse no token, a signer's token and a
/// guessed token; the credential is unchanged.
#[tokio::test(flavor = "multi_thread")]
async fn t2_1_2_1_no_one_but_an_administrator_changes_a_credential() {
    let lab = Lab::new().await;
    let s = lab.signer("管理 五郎", Factor::Password).await;
    for token in ["", s.csc.token().unwrap(), "0123456789abcdef0123456789abcdef0123456789abcdef"] {
        let e = lab.admin(token, &s.credential(), "suspend").await.unwrap_err();
        assert_eq!(e.code, Code::AccessDenied, "token {token:?}");
    }
    assert_eq!(credential_status(&lab, &s.credential()).await, "enabled");
    assert_eq!(lab.admin(&lab.admin_token(), &s.credential(), "suspend").await.unwrap()["status"], "suspended");
}

/// 2.1.2.2: authentication data disclosed while it is set or updated — it
/// travels only over TLS and is kept only as an Argon2id hash, the TOTP
/// seed only sealed by the crypto module (neither the seed nor its base32
/// form is on disk).
#[tokio::test(flavor = "multi_thread")]
async fn t2_1_2_2_the_totp_seed_and_the_password_are_never_stored_in_clear() {
    let lab = Lab::new().await;
    let s = lab.signer("秘密 六郎", Factor::Totp).await;
    let uri = s.registered["totp_uri"].as_str().unwrap().to_string();
    let secret = uri.split("secret=").nth(1).unwrap().split('&').next().unwrap().to_string();
    lab.store().await.close().await.unwrap();
    let bytes = disk(&lab);
    assert!(!contains(&bytes, secret.as_bytes()), "the base32 seed is not on disk");
    assert!(!contains(&bytes, PASSWORD.as_bytes()));
    // The credential's info never shows the seed again.
    let info = serde_json::to_string(&s.csc.info(&s.credential()).await.unwrap()).unwrap();
    assert!(!info.contains(&secret));
}

/// 2.1.3.1: a CSR altered in transit does not verify, and the CA refuses it.
#[tokio::test(flavor = "multi_thread")]
async fn t2_1_3_1_an_altered_certification_request_is_refused() {
    let key = pki::RsaPrivateKey::generate_2048().unwrap();
    let subject = pki::names::name(&[(const_oid::db::rfc4519::CN, "申請 七郎")]);
    let mut csr = rssp::csr::build(subject, &key.public_key_der(), |di| key.sign_raw(di)).unwrap();
    assert!(rssp::csr::verify(&csr).is_ok());
    let i = csr.len() / 3;
    csr[i] ^= 0x01;
    assert!(rssp::csr::verify(&csr).is_err());
    let dir = tempfile::tempdir().unwrap();
    let keys = pki::keystore::SoftwareKeyStore::new(dir.path(), None).unwrap();
    let ca = rssp::ca::RsspCa::open_or_create(dir.path(), &keys).unwrap();
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(86_400);
    assert!(ca.certify(&csr, &key.public_key_der(), "申請 七郎", later).is_err());
}

/// 2.1.3.2: a CSR under a false identity — the certificate's name is the
/// holder's as the card states it, whatever the request says.
#[tokio::test(flavor = "multi_thread")]
async fn t2_1_3_2_the_certificate_names_the_cards_holder_not_the_requests_subject() {
    let key = pki::RsaPrivateKey::generate_2048().unwrap();
    let lie = pki::names::name(&[(const_oid::db::rfc4519::CN, "Someone Else")]);
    let csr = rssp::csr::build(lie, &key.public_key_der(), |di| key.sign_raw(di)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let keys = pki::keystore::SoftwareKeyStore::new(dir.path(), None).unwrap();
    let ca = rssp::ca::RsspCa::open_or_create(dir.path(), &keys).unwrap();
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(86_400);
    let cert = ca.certify(&csr, &key.public_key_der(), "本人 八郎", later).unwrap();
    let subject = cert.tbs_certificate.subject.to_string();
    assert!(subject.contains("本人 八郎") && !subject.contains("Someone Else"), "{subject}");
    // In the service there is no way to name oneself: the name is the card's.
    let lab = Lab::new().await;
    let s = lab.signer("本人 八郎", Factor::Password).await;
    assert_eq!(s.registered["name"], "本人 八郎");
}

/// 2.1.4.1–2.1.4.4: key import. The RSSP imports no key at all (keys are
/// only generated in the CM); every import attempt is answered 501 and
/// creates nothing.
async fn import_is_refused(body: serde_json::Value) {
    let lab = Lab::new().await;
    let s = lab.signer("輸入 九郎", Factor::Password).await;
    let before = count(&lab.store().await, "SELECT COUNT(*) AS n FROM credentials").await;
    for path in ["/csc/v2/credentials/import", "/rssp/v1/keys/import", "/rssp/v1/credentials"] {
        let (status, answer) = s.csc.post_raw(path, &body).await.unwrap();
        assert_eq!(status, 501, "{path}: {answer}");
        assert_eq!(answer["error"], "invalid_request");
    }
    assert_eq!(count(&lab.store().await, "SELECT COUNT(*) AS n FROM credentials").await, before);
}

fn pkcs8_b64() -> String {
    B64.encode(pki::RsaPrivateKey::generate_2048().unwrap().to_pkcs8_der())
}

#[tokio::test(flavor = "multi_thread")]
async fn t2_1_4_1_a_signing_key_with_forged_attributes_cannot_be_imported() {
    import_is_refused(serde_json::json!({ "key": pkcs8_b64(), "attributes": { "purpose": "signing", "level": 2 } }))
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn t2_1_4_2_someone_elses_key_cannot_be_imported_under_the_attackers_account() {
    import_is_refused(serde_json::json!({ "key": pkcs8_b64(), "certificate": "victim", "owner": "attacker" })).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn t2_1_4_3_the_attackers_key_cannot_be_imported_under_someone_elses_key_information() {
    import_is_refused(
        serde_json::json!({ "key": pkcs8_b64(), "credentialID": "c-0000000000000000", "signerID": "s-victim" }),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn t2_1_4_4_the_same_key_cannot_be_imported_twice() {
    let key = pkcs8_b64();
    import_is_refused(serde_json::json!({ "keys": [key.clone(), key] })).await;
    // And the CM itself refuses a second key under a label it holds.
    let dir = tempfile::tempdir().unwrap();
    let cm = rssp::cm::SoftwareCm::open(dir.path()).unwrap();
    use rssp::cm::CryptoModule;
    cm.generate("k-twice").unwrap();
    assert!(cm.generate("k-twice").is_err());
}

// ----- 2.2 signing -----

/// 2.2.1.1: an insider changes the authentication data (the password hash,
/// written straight into the database): the record's MAC no longer
/// verifies and the SAM refuses the record.
#[tokio::test(flavor = "multi_thread")]
async fn t2_2_1_1_a_password_hash_changed_in_the_database_is_detected() {
    let lab = Lab::new().await;
    let s = lab.signer("改竄 十郎", Factor::Password).await;
    let other = lab.signer("改竄 十一郎", Factor::Password).await;
    // The insider copies another signer's hash (a password they know).
    let (victim, known) = (s.id(), other.id());
    lab.store()
        .await
        .write(move |tx| {
            tx.execute(
                "UPDATE signers SET password_hash = (SELECT password_hash FROM signers WHERE id = $2) WHERE id = $1",
                store::params![victim, known],
            )
        })
        .await
        .unwrap();
    let e = lab.csc().login(&s.id(), PASSWORD).await.unwrap_err();
    assert_eq!(e.code, Code::ServerError);
    assert!(e.description.contains("failed its integrity check"), "{e}");
    let e = s.csc.authorize(&s.credential(), &[sha256(b"x")], pin(PASSWORD)).await.unwrap_err();
    assert!(e.description.contains("failed its integrity check"), "{e}");
    // Changing the credential's key or owner is detected the same way.
    let (c, o) = (other.credential(), s.id());
    lab.store()
        .await
        .write(move |tx| tx.execute("UPDATE credentials SET signer_id = $2 WHERE id = $1", store::params![c, o]))
        .await
        .unwrap();
    let e = other.csc.info(&other.credential()).await.unwrap_err();
    assert!(e.description.contains("failed its integrity check") || e.description == text::INVALID_CREDENTIAL, "{e}");
}

/// 2.2.1.2: SAP steps bypassed — no SAD, an empty SAD, a made-up SAD, no
/// password at authorisation: each refused, nothing signed.
#[tokio::test(flavor = "multi_thread")]
async fn t2_2_1_2_no_signature_without_every_step_of_the_sap() {
    let lab = Lab::new().await;
    let s = lab.signer("迂回 十二郎", Factor::Password).await;
    let h = vec![sha256(b"bypass")];
    let body = |sad: Option<&str>| {
        let mut b = serde_json::json!({ "credentialID": s.credential(), "hashes": [B64.encode(&h[0])], "signAlgo": csc_api::oid::SHA256_WITH_RSA });
        if let Some(sad) = sad {
            b["SAD"] = sad.into();
        }
        b
    };
    for (sad, why) in [
        (None, "Missing (or invalid type) string parameter SAD"),
        (Some(""), text::INVALID_SAD),
        (Some("AAAA"), text::INVALID_SAD),
    ] {
        let (status, answer) = s.csc.post_raw("/csc/v2/signatures/signHash", &body(sad)).await.unwrap();
        assert_eq!((status, answer["error_description"].as_str().unwrap()), (400, why));
    }
    let e = s.csc.authorize(&s.credential(), &h, vec![]).await.unwrap_err();
    assert_eq!(e.code, Code::InvalidPin);
    assert_eq!(count(&lab.store().await, "SELECT COUNT(*) AS n FROM audit WHERE event = 'signature'").await, 0);
}

/// 2.2.1.3: SAP steps replayed — the same signHash twice, the same
/// card-signed instruction twice: the second is refused.
#[tokio::test(flavor = "multi_thread")]
async fn t2_2_1_3_a_replayed_signing_request_is_refused() {
    let lab = Lab::new().await;
    let s = lab.signer("再送 十三郎", Factor::Password).await;
    let h = vec![sha256(b"replay")];
    let sad = s.csc.authorize(&s.credential(), &h, pin(PASSWORD)).await.unwrap();
    s.csc.sign_hash(&s.credential(), &sad.sad, &h).await.unwrap();
    let e = s.csc.sign_hash(&s.credential(), &sad.sad, &h).await.unwrap_err();
    assert_eq!(e.description, text::INVALID_SAD);
    assert_eq!(count(&lab.store().await, "SELECT COUNT(*) AS n FROM audit WHERE event = 'signature'").await, 1);
}

/// 2.2.1.4: forged authentication data — a wrong password, another signer's
/// password, a forged bearer token: refused, and wrong factors counted.
#[tokio::test(flavor = "multi_thread")]
async fn t2_2_1_4_forged_factors_and_tokens_are_refused_and_counted() {
    let lab = Lab::new().await;
    let s = lab.signer("偽造 十四郎", Factor::Password).await;
    let h = vec![sha256(b"forged")];
    assert_eq!(s.csc.authorize(&s.credential(), &h, pin("guess")).await.unwrap_err().code, Code::InvalidPin);
    let id = s.credential();
    let failures = lab
        .store()
        .await
        .read(move |tx| tx.optional("SELECT failures FROM credentials WHERE id = $1", store::params![id]))
        .await
        .unwrap()
        .unwrap()
        .int("failures")
        .unwrap();
    assert_eq!(failures, 1, "counted");
    let forged = lab.with_token("forged-token-forged-token-forged-token");
    let e = forged.authorize(&s.credential(), &h, pin(PASSWORD)).await.unwrap_err();
    assert_eq!(e.code, Code::InvalidToken);
    let e = lab.csc().login(&s.id(), "guess").await.unwrap_err();
    assert_eq!(e.code, Code::AuthenticationError);
}

/// 2.2.1.5: the DTBS/R or the SAD learned in transit — TLS only, and the
/// store keeps only the SAD's SHA-256, so the database does not give it away.
#[tokio::test(flavor = "multi_thread")]
async fn t2_2_1_5_the_sad_travels_over_tls_and_is_stored_only_as_a_hash() {
    let lab = Lab::new().await;
    let s = lab.signer("盗聴 十五郎", Factor::Password).await;
    let sad = s.csc.authorize(&s.credential(), &[sha256(b"secret deal")], pin(PASSWORD)).await.unwrap();
    let plain = svc::client::plain_http_client().unwrap();
    let url = lab.d.rssp_url.replace("https://", "http://") + "/csc/v2/info";
    assert!(plain
        .post(&url)
        .json(&serde_json::json!({}))
        .send()
        .await
        .map(|r| !r.status().is_success())
        .unwrap_or(true));
    lab.store().await.close().await.unwrap();
    assert!(!contains(&disk(&lab), sad.sad.as_bytes()), "the SAD handle is not on disk");
}

/// 2.2.1.6: the DTBS/R forged in transit — another hash, or the same bytes
/// declared another algorithm: refused; the SAD still signs what was authorised.
#[tokio::test(flavor = "multi_thread")]
async fn t2_2_1_6_a_hash_other_than_the_authorised_one_is_not_signed() {
    let lab = Lab::new().await;
    let s = lab.signer("差替 十六郎", Factor::Password).await;
    let h = sha256(b"what the signer approved");
    let sad = s.csc.authorize(&s.credential(), std::slice::from_ref(&h), pin(PASSWORD)).await.unwrap();
    let e = s.csc.sign_hash(&s.credential(), &sad.sad, &[sha256(b"what the attacker wants")]).await.unwrap_err();
    assert_eq!(e.description, text::HASH_NOT_AUTHORIZED);
    let (status, _) = s
        .csc
        .post_raw("/csc/v2/signatures/signHash", &serde_json::json!({ "credentialID": s.credential(), "SAD": sad.sad,
            "hashes": [B64.encode(&h)], "signAlgo": csc_api::oid::RSA_ENCRYPTION, "hashAlgorithmOID": csc_api::oid::SHA512 }))
        .await
        .unwrap();
    assert_eq!(status, 400);
    let signature = s.csc.sign_hash(&s.credential(), &sad.sad, &[h]).await.expect("the approved hash still signs");
    assert!(verifies(&s.certificate(), b"what the signer approved", &signature[0]));
}

/// 2.2.1.7: the SAD forged in transit — altered, used by another signer,
/// for another credential, or by another session of the same signer.
#[tokio::test(flavor = "multi_thread")]
async fn t2_2_1_7_a_forged_or_transplanted_sad_is_refused() {
    let lab = Lab::new().await;
    let s = lab.signer("偽SAD 十七郎", Factor::Password).await;
    let mallory = lab.signer("悪意 十八郎", Factor::Password).await;
    let h = vec![sha256(b"sad")];
    let sad = s.csc.authorize(&s.credential(), &h, pin(PASSWORD)).await.unwrap().sad;
    let mut altered = sad.clone().into_bytes();
    altered[5] = if altered[5] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    assert_eq!(s.csc.sign_hash(&s.credential(), &altered, &h).await.unwrap_err().description, text::INVALID_SAD);
    // Mallory's session with the victim's SAD, for either credential.
    assert_eq!(
        mallory.csc.sign_hash(&s.credential(), &sad, &h).await.unwrap_err().description,
        text::INVALID_CREDENTIAL
    );
    assert_eq!(
        mallory.csc.sign_hash(&mallory.credential(), &sad, &h).await.unwrap_err().description,
        text::INVALID_SAD
    );
    // The signer's other session (another bearer) cannot use it either.
    let other_session = lab.csc().login(&s.id(), PASSWORD).await.unwrap();
    assert_eq!(other_session.sign_hash(&s.credential(), &sad, &h).await.unwrap_err().description, text::INVALID_SAD);
    s.csc.sign_hash(&s.credential(), &sad, &h).await.expect("the SAD is intact for its own session");
}

/// 2.2.1.8: the signature modified outside the SAM — a relying party's
/// check (OpenSSL here) fails on a changed bit; the SAM's own passes.
#[tokio::test(flavor = "multi_thread")]
async fn t2_2_1_8_a_signature_changed_after_the_sam_does_not_verify() {
    let lab = Lab::new().await;
    let s = lab.signer("署名改 十九郎", Factor::Password).await;
    let mut sig = sign(&s, &[sha256(b"signed")]).await.unwrap().remove(0);
    assert!(verifies(&s.certificate(), b"signed", &sig));
    sig[100] ^= 0x80;
    assert!(!verifies(&s.certificate(), b"signed", &sig));
}

/// 2.2.2.1: an insider poses as an operator and uses a signing key —
/// privileged tokens open no CSC method, and the privileged API has no
/// signing action.
#[tokio::test(flavor = "multi_thread")]
async fn t2_2_2_1_privileged_users_cannot_authorise_or_sign() {
    let lab = Lab::new().await;
    let s = lab.signer("運用 二十郎", Factor::Password).await;
    let h = vec![sha256(b"insider")];
    let sad = s.csc.authorize(&s.credential(), &h, pin(PASSWORD)).await.unwrap().sad;
    for token in [lab.admin_token(), lab.auditor_token()] {
        let insider = lab.with_token(&token);
        assert_eq!(insider.authorize(&s.credential(), &h, pin(PASSWORD)).await.unwrap_err().code, Code::AccessDenied);
        assert_eq!(insider.sign_hash(&s.credential(), &sad, &h).await.unwrap_err().code, Code::AccessDenied);
        assert_eq!(insider.list().await.unwrap_err().code, Code::AccessDenied);
    }
    let e = lab.admin(&lab.admin_token(), &s.credential(), "sign").await.unwrap_err();
    assert!(e.description.contains("unlock, suspend, resume or delete"), "{e}");
    assert_eq!(count(&lab.store().await, "SELECT COUNT(*) AS n FROM audit WHERE event = 'signature'").await, 0);
}

/// 2.2.2.2: an insider poses as an auditor to read the logs — only an
/// auditor's token reads them; administrators, signers and strangers are refused.
#[tokio::test(flavor = "multi_thread")]
async fn t2_2_2_2_only_auditors_read_the_audit_log() {
    let lab = Lab::new().await;
    let s = lab.signer("監査偽 二十一郎", Factor::Password).await;
    for token in ["".to_string(), lab.admin_token(), s.csc.token().unwrap().to_string()] {
        let (status, body) = lab.with_token(&token).get_raw("/rssp/v1/admin/audit").await.unwrap();
        assert_eq!(status, 403, "{body}");
    }
    let (status, body) = lab.with_token(&lab.auditor_token()).get_raw("/rssp/v1/admin/audit").await.unwrap();
    assert_eq!(status, 200);
    assert!(!body["entries"].as_array().unwrap().is_empty());
}

/// 2.2.2.3: an insider obtains key-activation data — the store holds no
/// SAD, password or seed in clear, and the CM's key files are sealed (not
/// PKCS#8, and they do not open under another label).
#[tokio::test(flavor = "multi_thread")]
async fn t2_2_2_3_the_database_and_key_files_give_no_activation_data() {
    let lab = Lab::new().await;
    let s = lab.signer("内部 二十二郎", Factor::Password).await;
    let sad = s.csc.authorize(&s.credential(), &[sha256(b"x")], pin(PASSWORD)).await.unwrap().sad;
    let token = s.csc.token().unwrap().to_string();
    lab.store().await.close().await.unwrap();
    let bytes = disk(&lab);
    for secret in [sad.as_bytes(), PASSWORD.as_bytes(), token.as_bytes()] {
        assert!(!contains(&bytes, secret));
    }
    let keys = lab.dir.path().join("rssp-cm").join("keys");
    let files: Vec<_> = std::fs::read_dir(&keys).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(!files.is_empty());
    for f in &files {
        let sealed = std::fs::read(f).unwrap();
        assert!(pki::RsaPrivateKey::from_pkcs8_der(&sealed).is_err(), "{} is sealed", f.display());
        // Moved under another label, it does not open.
        let moved = keys.join("k-moved.sealed");
        std::fs::write(&moved, &sealed).unwrap();
        let cm = rssp::cm::SoftwareCm::open(&lab.dir.path().join("rssp-cm")).unwrap();
        use rssp::cm::CryptoModule;
        assert!(cm.public_key("k-moved").is_err());
        std::fs::remove_file(&moved).unwrap();
    }
}

// ----- 2.3 suspension -----

/// 2.3.1.1: someone other than the signer suspends the key — another
/// registered holder's card, or a signer's token on the privileged route:
/// refused; the credential stays enabled.
#[tokio::test(flavor = "multi_thread")]
async fn t2_3_1_1_only_the_signer_or_an_administrator_suspends() {
    let lab = Lab::new().await;
    let victim = lab.signer("被害 二十三郎", Factor::Password).await;
    let mallory = lab.signer("加害 二十四郎", Factor::Password).await;
    let e = lab.instruct(&mallory.card, Purpose::Suspend, &victim.credential()).await.unwrap_err();
    assert_eq!(e.description, text::INVALID_CREDENTIAL);
    let unregistered = lab.card("未登録 二十五郎").await;
    let e = lab.instruct(&unregistered, Purpose::Delete, &victim.credential()).await.unwrap_err();
    assert!(e.description.contains("registered no signer"), "{e}");
    let e = lab.admin(mallory.csc.token().unwrap(), &victim.credential(), "suspend").await.unwrap_err();
    assert_eq!(e.code, Code::AccessDenied);
    assert_eq!(credential_status(&lab, &victim.credential()).await, "enabled");
}

/// 2.3.1.2: a suspension request intercepted, altered and replayed — the
/// replay is refused (single-use nonce), an altered CMS does not verify,
/// and a suspension's nonce does not serve a deletion.
#[tokio::test(flavor = "multi_thread")]
async fn t2_3_1_2_a_suspension_cannot_be_replayed_or_altered() {
    let lab = Lab::new().await;
    let s = lab.signer("中断 二十六郎", Factor::Password).await;
    let nonce = lab.nonce("suspend").await;
    let cms = card_signs(&s.card, &instruction(Purpose::Suspend, &nonce, &s.credential()).to_bytes());
    // Altered in transit: one byte of the signed content.
    let mut altered = cms.clone();
    let at = altered.windows(7).position(|w| w == b"suspend").unwrap();
    altered[at..at + 7].copy_from_slice(b"Suspend");
    assert_eq!(lab.send_instruction(&altered).await.unwrap_err().code, Code::AccessDenied);
    // The suspension nonce in a deletion: refused.
    let deletion = card_signs(&s.card, &instruction(Purpose::Delete, &nonce, &s.credential()).to_bytes());
    assert!(lab.send_instruction(&deletion).await.unwrap_err().description.contains("nonce"));
    assert_eq!(credential_status(&lab, &s.credential()).await, "enabled");
    assert_eq!(lab.send_instruction(&cms).await.unwrap()["status"], "suspended");
    lab.instruct(&s.card, Purpose::Resume, &s.credential()).await.unwrap();
    let e = lab.send_instruction(&cms).await.unwrap_err();
    assert!(e.description.contains("nonce"), "replayed: {e}");
    assert_eq!(credential_status(&lab, &s.credential()).await, "enabled");
}
