//! Device trust end to end (issue 18, docs/device-trust.md): a deployment's
//! SP-TSM appraises each application's device evidence and refuses a phone
//! in a bad state before anything is stored or generated; the JPKI service
//! issues only with an affirming result and the SE's key attestation.

use jpki::JpkiCard;
use mynacard::personalize::InitialPins;
use openjpki_tests::{holder, jpki_app_identity};
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
