//! Device trust end to end (issue 18, docs/device-trust.md): a deployment's
//! SP-TSM appraises each application's device evidence and refuses a phone
//! in a bad state before anything is stored or generated; the JPKI service
//! issues only with an affirming result and the SE's key attestation.

use jpki::JpkiCard;
use mynacard::personalize::InitialPins;
use openjpki_tests::{holder, jpki_app_identity, new_phone};
use phone::app::JpkiApp;
use testbed::devices::{Factory, PhoneState};
use testbed::Deployment;
use tsm_api::PhoneCertType as CertType;

const BOTH: [CertType; 2] = [CertType::Auth, CertType::Sign];

async fn deployment(dir: &std::path::Path) -> Deployment {
    let hash = hex::encode_upper(pki::HashAlg::Sha256.digest(&jpki_app_identity().signing_certificate));
    Deployment::create(dir, &hash, 10).await.expect("deployment starts")
}

type Card = JpkiCard<transport::InProcess<mynacard::MynaCard>>;

async fn card(d: &Deployment, n: u64) -> Card {
    let body = format!("{:011}", 20_000_000_000u64 + n);
    let number = mynacard::personalize::my_number_from_body(body.as_bytes().try_into().unwrap());
    let state = d.make_card(&holder(), &number, InitialPins::test_card()).await.expect("card issued");
    JpkiCard::new(transport::InProcess::new(mynacard::MynaCard::in_memory(state).expect("card")))
}

/// Waits until the SP-TSM has ended a provisioning attempt whose phone went quiet.
async fn quiet_attempt_ended(sp: &tsm_api::client::TsmClient, id: &str) {
    let mut waited = 0;
    while sp.application(id).await.unwrap()["state"] == "provisioning" {
        waited += 1;
        assert!(waited < 150, "the quiet attempt never ended");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Whether the applet holds any key (nothing generated = none).
fn keys_generated(app: &JpkiApp) -> bool {
    app.se_service().with_se(|s| {
        s.state()
            .registry
            .iter()
            .filter_map(|e| e.jpki.as_ref())
            .any(|j| !j.card.jpki.auth_key.expose().is_empty() || !j.card.jpki.sign_key.expose().is_empty())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn phones_in_a_bad_state_are_refused_and_a_good_one_gets_its_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let d = deployment(dir.path()).await;
    let factory = Factory::open(&d.dir).unwrap();
    let (sei, sp) = (d.sei().unwrap(), d.sp().unwrap());
    let mut card = card(&d, 1).await;
    let cases = [
        ("unlocked", "bootloader_unlocked"),
        ("rooted", "boot_not_verified"),
        ("old-patch", "patch_level"),
        ("software", "software_keystore"),
        ("other-vendor", "unknown_vendor"),
        ("revoked-key", "attestation_key_revoked"),
    ];
    for (state, reason) in cases {
        let app = factory.phone(jpki_app_identity(), PhoneState::parse(state).unwrap(), "test").unwrap();
        app.prepare(&sei).await.unwrap();
        let e = app.apply(&sp, &mut card, "ABC123", &BOTH).await.unwrap_err();
        let message = e.to_string();
        assert!(message.contains("device_not_trusted") && message.contains(reason), "{state}: {message}");
        assert!(!keys_generated(&app), "{state}: nothing is generated");
        assert!(d.sp.certificates(&app.se_identifier()).await.unwrap().is_empty(), "{state}: nothing is issued");
    }

    // A repackaged app: the JPKI app's name, another signing key, as the
    // phone's keystore names it.
    let app = factory.phone(jpki_app_identity(), PhoneState::Good, "test").unwrap();
    app.prepare(&sei).await.unwrap();
    let signed = app.signed_application(&sp, &mut card, "ABC123", &BOTH).await.unwrap();
    let repackaged = phone::App::new(phone::dir::JPKI_APP, b"a repackager's signing certificate".to_vec());
    let se = hex::decode(app.se_identifier()).unwrap();
    let evidence = app.tee().unwrap().evidence(&signed.nonce, &repackaged, &se, "test").unwrap();
    let (_, outcome) = sp.apply(&signed.cms, Some(&evidence), &mut app.relay()).await;
    let message = outcome.unwrap_err().to_string();
    assert!(message.contains("device_not_trusted") && message.contains("app_signing_key"), "{message}");

    // Evidence replayed: made for an earlier nonce.
    let signed = app.signed_application(&sp, &mut card, "ABC123", &BOTH).await.unwrap();
    let (_, outcome) = sp.apply(&signed.cms, evidence_for_old_nonce(&app).as_deref(), &mut app.relay()).await;
    let message = outcome.unwrap_err().to_string();
    assert!(message.contains("nonce_mismatch"), "{message}");

    // No evidence at all (an app from before device trust).
    let signed = app.signed_application(&sp, &mut card, "ABC123", &BOTH).await.unwrap();
    let (_, outcome) = sp.apply(&signed.cms, None, &mut app.relay()).await;
    assert!(outcome.unwrap_err().to_string().contains("evidence_missing"));
    assert!(!keys_generated(&app));

    // The same phone, genuine evidence: provisioned, and the JPKI service
    // checked the result and the SE's key attestations itself.
    let applied = app.apply(&sp, &mut card, "ABC123", &BOTH).await.unwrap();
    let outcome = applied.outcome.expect("provisioned");
    assert_eq!(outcome.result["certificates"].as_array().unwrap().len(), 2);
    assert!(keys_generated(&app));
}

fn evidence_for_old_nonce(app: &JpkiApp) -> Option<Vec<u8>> {
    app.evidence(&[0x42; 32]).unwrap()
}

/// Records the assertions of the app it wraps (what malware beside the app
/// could capture) so a test can replay one.
#[derive(Debug)]
struct Recording {
    tee: phone::tee::Tee,
    last: std::sync::Mutex<Option<Vec<u8>>>,
}

impl tsm_api::client::Asserter for Recording {
    fn assertion(&self, method: &str, path: &str, body: &[u8]) -> Option<Vec<u8>> {
        let a = self.tee.assertion(method, path, body);
        *self.last.lock().unwrap() = a.clone();
        a
    }
}

/// Sends one recorded assertion with every request.
#[derive(Debug)]
struct Replaying(Vec<u8>);

impl tsm_api::client::Asserter for Replaying {
    fn assertion(&self, _: &str, _: &str, _: &[u8]) -> Option<Vec<u8>> {
        Some(self.0.clone())
    }
}

/// The relay of a phone that goes quiet after `n` commands.
struct QuietAfter<T: apdu::Transport> {
    inner: T,
    left: usize,
}

impl<T: apdu::Transport> apdu::Transport for QuietAfter<T> {
    fn transmit_raw(&mut self, command: &[u8]) -> Result<Vec<u8>, apdu::TransportError> {
        if self.left == 0 {
            return Err(apdu::TransportError::backend("phone", "the phone went quiet"));
        }
        self.left -= 1;
        self.inner.transmit_raw(command)
    }
}

/// Per-request app assertions (item 4, docs/device-trust.md): after the
/// application, every request acting on it — resuming, each relay post,
/// the holder's revocation — must be signed by the app key its evidence
/// attested. A clone of the app with the stolen resume token, with no key
/// or its own, is refused; so is a replayed assertion; the genuine app
/// goes on. The holder's revocation also needs the trusted UI's
/// confirmation of its exact prompt (item 5).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cloned_app_with_the_stolen_token_and_replayed_assertions_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = deployment(dir.path()).await;
    let factory = Factory::open(&d.dir).unwrap();
    let (sei, sp) = (d.sei().unwrap(), d.sp().unwrap());
    let mut card = card(&d, 2).await;
    let app = factory.phone(jpki_app_identity(), PhoneState::Good, "test").unwrap();
    app.prepare(&sei).await.unwrap();

    // The relay posts of an application need the app key: without it the
    // first post is refused and nothing is generated.
    let signed = app.signed_application(&sp, &mut card, "ABC123", &BOTH).await.unwrap();
    let (_, outcome) = sp.apply(&signed.cms, signed.evidence.as_deref(), &mut app.relay()).await;
    let message = outcome.unwrap_err().to_string();
    assert!(message.contains("device_not_trusted") && message.contains("assertion_missing"), "{message}");
    assert!(!keys_generated(&app));

    // The genuine app applies and goes quiet after opening the channel.
    let signed = app.signed_application(&sp, &mut card, "ABC123", &BOTH).await.unwrap();
    let mut quiet = QuietAfter { inner: app.relay(), left: 4 };
    let (reference, outcome) = app.attesting(&sp).apply(&signed.cms, signed.evidence.as_deref(), &mut quiet).await;
    assert!(outcome.is_err());
    let reference = reference.expect("accepted");

    // A clone of the app with the stolen resume token: no app key, then a
    // key of its own (its TEE attested it for another nonce).
    let counter = || async { d.sp.records().app_key_state(&reference.id).await.unwrap().expect("an app key").1 };
    let before = counter().await;
    assert!(before > 0, "the genuine relay posts were asserted");
    let clone = factory.phone(jpki_app_identity(), PhoneState::Good, "test").unwrap();
    let refused = |r: Result<tsm_api::client::Outcome, tsm_api::client::ClientError>| r.unwrap_err().to_string();
    let message = refused(sp.resume(&reference, &mut clone.relay()).await);
    assert!(message.contains("assertion_missing"), "{message}");
    clone.evidence(&[0x5a; 32]).unwrap();
    let message = refused(clone.attesting(&sp).resume(&reference, &mut clone.relay()).await);
    assert!(message.contains("assertion_signature"), "{message}");
    assert!(d.sp.certificates(&app.se_identifier()).await.unwrap().iter().all(|c| c.2 != "written"));
    assert_eq!(counter().await, before, "a refused assertion moves no counter");

    // The SP-TSM ends the silent attempt; the genuine app resumes, its
    // assertions recorded.
    quiet_attempt_ended(&sp, &reference.id).await;
    let recording = std::sync::Arc::new(Recording { tee: app.tee().unwrap().clone(), last: Default::default() });
    let genuine = sp.with_asserter(recording.clone());
    let outcome = genuine.resume(&reference, &mut app.relay()).await.expect("the genuine app resumes");
    assert_eq!(outcome.result["certificates"].as_array().unwrap().len(), 2);

    // Its last assertion (the last relay post) replayed on the resume
    // request: the signature covers another request.
    let last = recording.last.lock().unwrap().clone().unwrap();
    let replayed = sp.with_asserter(std::sync::Arc::new(Replaying(last)));
    let message = refused(replayed.resume(&reference, &mut app.relay()).await);
    assert!(message.contains("assertion_signature"), "{message}");
    // An assertion over the very resume request, used once, then replayed.
    let path = format!("/v1/applications/{}/provisioning", reference.id);
    let once = app.tee().unwrap().assertion("POST", &path, b"").unwrap();
    let replayed = sp.with_asserter(std::sync::Arc::new(Replaying(once)));
    let message = refused(replayed.resume(&reference, &mut app.relay()).await);
    assert!(message.contains("not_resumable"), "used once: it passes, and the application is done: {message}");
    let message = refused(replayed.resume(&reference, &mut app.relay()).await);
    assert!(message.contains("assertion_replayed"), "{message}");

    // The holder's revocation from a client without the app key is refused
    // and revokes nothing; from the genuine app it goes through.
    app.set_pins(b"2468", b"PHONE1").unwrap();
    let nonce = sp.nonce().await.unwrap();
    let request = tsm_api::types::RevocationRequest {
        nonce: hex::encode(nonce),
        action: "revoke".into(),
        se_id: app.se_identifier(),
    };
    let content = serde_json::to_vec(&request).unwrap();
    let cms = app.cms_sign(CertType::Auth, "2468", &content, false).unwrap();
    let confirmed = app.revocation_confirmation(&nonce, |_| true).unwrap();
    let message = refused(sp.revoke(&cms, confirmed.clone(), &mut app.relay()).await);
    assert!(message.contains("assertion_missing"), "{message}");
    let written = |certs: &[(String, String, String)]| certs.iter().filter(|c| c.2 == "written").count();
    assert_eq!(written(&d.sp.certificates(&app.se_identifier()).await.unwrap()), 2, "nothing revoked");

    // Trusted confirmation (item 5): the genuine app's request without the
    // holder's confirmation, with a confirmation of another prompt, and
    // with one made for another nonce — each refused, nothing revoked.
    let message = refused(app.attesting(&sp).revoke(&cms, None, &mut app.relay()).await);
    assert!(message.contains("confirmation_missing"), "{message}");
    let tee = app.tee().unwrap();
    let key = tee.confirmation_key(&nonce, &jpki_app_identity()).unwrap();
    let other_prompt = tsm_api::types::revocation_prompt("00112233445566778899");
    let other = tee.confirm(&key, &other_prompt, &nonce, |_| true).unwrap();
    let b64 = |b: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b);
    let altered = tsm_api::types::RevocationConfirmation {
        key_chain: key.chain.iter().map(|c| b64(c)).collect(),
        message: b64(&other.message),
        signature: b64(&other.signature),
    };
    let message = refused(app.attesting(&sp).revoke(&cms, Some(altered), &mut app.relay()).await);
    assert!(message.contains("confirmation_invalid") && message.contains("another prompt"), "{message}");
    let stale = app.revocation_confirmation(&[0x33; 32], |_| true).unwrap();
    let message = refused(app.attesting(&sp).revoke(&cms, stale, &mut app.relay()).await);
    assert!(message.contains("confirmation_key"), "{message}");
    // A key that does not need the trusted UI (another phone's evidence
    // key, attested for this very nonce), and malformed confirmations.
    let neighbour = new_phone(&d, jpki_app_identity());
    let se = hex::decode(neighbour.se_identifier()).unwrap();
    let evidence = neighbour.tee().unwrap().evidence(&nonce, &jpki_app_identity(), &se, "test").unwrap();
    let plain_chain: Vec<String> = attest::eat::open(&evidence).unwrap().chain.iter().map(|c| b64(c)).collect();
    let with_chain = |key_chain: Vec<String>| tsm_api::types::RevocationConfirmation {
        key_chain,
        message: b64(&other.message),
        signature: b64(&other.signature),
    };
    let message = refused(app.attesting(&sp).revoke(&cms, Some(with_chain(plain_chain)), &mut app.relay()).await);
    assert!(message.contains("confirmation_key") && message.contains("not_confirmation_key"), "{message}");
    for (chain, why) in [(vec!["***".to_string()], "not base64"), (vec![], "no key attestation chain")] {
        let message = refused(app.attesting(&sp).revoke(&cms, Some(with_chain(chain)), &mut app.relay()).await);
        assert!(message.contains("confirmation_malformed") && message.contains(why), "{message}");
    }
    assert_eq!(written(&d.sp.certificates(&app.se_identifier()).await.unwrap()), 2, "nothing revoked");
    // The holder declines the prompt: nothing is sent.
    let declined = app.confirmed_revoke(&sp, "2468", |_| false).await.unwrap_err();
    assert!(declined.to_string().contains("declined"), "{declined}");
    assert_eq!(written(&d.sp.certificates(&app.se_identifier()).await.unwrap()), 2, "nothing revoked");

    // Confirmed: revoked and wiped.
    let outcome = app.attesting(&sp).revoke(&cms, confirmed, &mut app.relay()).await.expect("the holder revokes");
    assert_eq!(outcome.result["revoked"].as_array().unwrap().len(), 2);
}

/// A new application replaces the phone's app key (docs/device-trust.md):
/// the interrupted older application can no longer be resumed from this
/// phone — its assertions are by the new key — and nothing is issued for
/// it; the holder applies again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_application_replaces_the_app_key_and_the_older_one_cannot_be_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let d = deployment(dir.path()).await;
    let factory = Factory::open(&d.dir).unwrap();
    let (sei, sp) = (d.sei().unwrap(), d.sp().unwrap());
    let mut card = card(&d, 3).await;
    let app = factory.phone(jpki_app_identity(), PhoneState::Good, "test").unwrap();
    app.prepare(&sei).await.unwrap();
    let signed = app.signed_application(&sp, &mut card, "ABC123", &BOTH).await.unwrap();
    let mut quiet = QuietAfter { inner: app.relay(), left: 4 };
    let (older, outcome) = app.attesting(&sp).apply(&signed.cms, signed.evidence.as_deref(), &mut quiet).await;
    assert!(outcome.is_err());
    let older = older.expect("accepted");
    quiet_attempt_ended(&sp, &older.id).await;
    let counter = d.sp.records().app_key_state(&older.id).await.unwrap().expect("an app key").1;

    // The holder starts a new application: the TEE's app key is the new one.
    app.signed_application(&sp, &mut card, "ABC123", &BOTH).await.unwrap();
    let message = app.attesting(&sp).resume(&older, &mut app.relay()).await.unwrap_err().to_string();
    assert!(message.contains("device_not_trusted") && message.contains("assertion_signature"), "{message}");
    assert_eq!(d.sp.records().app_key_state(&older.id).await.unwrap().unwrap().1, counter, "no counter moved");
    assert!(d.sp.certificates(&app.se_identifier()).await.unwrap().iter().all(|c| c.2 != "written"), "nothing issued");
}
