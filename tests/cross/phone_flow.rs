//! The whole life cycle of a smartphone certificate over real HTTPS on
//! loopback: the JPKI service, the SEI-TSM and the SP-TSM as services, an
//! emulated My Number card issued by that JPKI service, and phones whose
//! JPKI app relays between the TSMs and its SE. Relying-party checks are
//! CMS verification against the JPKI CA and OCSP at the service.
//!
//! The stores are SQLite files, or databases of their own on the
//! PostgreSQL server `JPKI_TEST_POSTGRES` names (tests/interop/postgres.sh).

use apdu::{Transport, TransportError};
use jlis_api::status::Status;
use jpki::JpkiCard;
use mynacard::personalize::InitialPins;
use openjpki_tests::{holder, jpki_app_identity, new_phone as phone};
use phone::app::{Intent, IntentError, JpkiApp};
use phone::App;
use std::time::Duration;
use testbed::Databases;
use testbed::Deployment;
use tsm_api::client::TsmClient;
use tsm_api::PhoneCertType as CertType;

const BOTH: [CertType; 2] = [CertType::Auth, CertType::Sign];

async fn deployment(dir: &std::path::Path, relay_timeout_secs: u64) -> Deployment {
    let hash = hex::encode_upper(pki::HashAlg::Sha256.digest(&jpki_app_identity().signing_certificate));
    Deployment::create_with(dir, &hash, relay_timeout_secs, databases().await).await.expect("deployment starts")
}

/// SQLite files, or three new databases on `JPKI_TEST_POSTGRES`.
async fn databases() -> Databases {
    let Ok(server) = std::env::var("JPKI_TEST_POSTGRES") else { return Databases::default() };
    let postgres = |service| testkit::database::postgres(&server, service);
    Databases {
        jlis: postgres("jlis").await,
        sei: postgres("sei_tsm").await,
        sp: postgres("sp_tsm").await,
        rssp: postgres("rssp").await,
    }
}

type Card = JpkiCard<transport::InProcess<mynacard::MynaCard>>;

async fn card(d: &Deployment) -> Card {
    let state = d.make_card(&holder(), "123456789018", InitialPins::test_card()).await.expect("card issued");
    JpkiCard::new(transport::InProcess::new(mynacard::MynaCard::in_memory(state).expect("card")))
}

fn clients(d: &Deployment) -> (TsmClient, TsmClient) {
    (d.sei().unwrap(), d.sp().unwrap())
}

async fn status(d: &Deployment, cert: &[u8]) -> Status {
    let http = jlis_api::status::client();
    jlis_api::status::ocsp(&http, &d.ocsp_url, cert, &d.jpki_cas().unwrap()).await.unwrap()
}

/// Prepared, applied, provisioned, PINs set.
async fn provisioned(d: &Deployment, card: &mut Card) -> JpkiApp {
    let (sei, sp) = clients(d);
    let app = phone(d, jpki_app_identity());
    let prepared = app.prepare(&sei).await.expect("prepared");
    assert_eq!(prepared.result["se_id"], app.se_identifier());
    let applied = app.apply(&sp, card, "ABC123", &BOTH).await.expect("application accepted");
    let outcome = applied.outcome.expect("provisioned");
    assert_eq!(outcome.result["certificates"].as_array().unwrap().len(), 2);
    app.set_pins(b"2468", b"PHONE1").unwrap();
    app
}

fn active(certs: &[(String, String, String)]) -> Vec<(String, String)> {
    certs.iter().filter(|c| c.2 == "written").map(|c| (c.0.clone(), c.1.clone())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_card_puts_certificates_into_a_phone_and_the_rules_hold() {
    let dir = tempfile::tempdir().unwrap();
    let d = deployment(dir.path(), 5).await;
    let mut card = card(&d).await;
    let first = provisioned(&d, &mut card).await;

    // The phone signs; a relying party verifies the CMS against the JPKI
    // signature CA and asks OCSP.
    let cms = first.cms_sign(CertType::Sign, "phone1", b"contract", false).unwrap();
    let cas = d.jpki_cas().unwrap();
    let checked = pki::cms::verify(&cms, &pki::cms::VerifyOptions { anchors: &cas, detached_content: None, at: None })
        .expect("CMS verifies against the JPKI CA");
    assert_eq!(checked.content, b"contract");
    let first_sign = first.certificate(CertType::Sign, Some("phone1")).unwrap();
    assert_eq!(der::Encode::to_der(&checked.signer).unwrap(), first_sign);
    assert_eq!(status(&d, &first_sign).await, Status::Good);
    // Same expiry as the card's signature certificate.
    card.verify(jpki::PinId::Sign, "ABC123").unwrap();
    let card_sign = card.read_certificate(jpki::CertType::Sign).unwrap();
    let not_after = |der: &[u8]| {
        pki::cert::parse_certificates(der).unwrap()[0].tbs_certificate.validity.not_after.to_unix_duration()
    };
    assert_eq!(not_after(&first_sign), not_after(&card_sign));

    // A second phone with the same card supersedes the first.
    let second = provisioned(&d, &mut card).await;
    assert!(matches!(status(&d, &first_sign).await, Status::Revoked { reason: Some(r) } if r == "Superseded"));
    let second_sign = second.certificate(CertType::Sign, Some("phone1")).unwrap();
    assert_eq!(status(&d, &second_sign).await, Status::Good);
    assert!(active(&d.sp.certificates(&first.se_identifier()).await.unwrap()).is_empty());
    assert_eq!(active(&d.sp.certificates(&second.se_identifier()).await.unwrap()).len(), 2);

    // The card is revoked at the municipal office: the phone follows.
    let card_serial = hex::encode_upper(
        pki::cert::parse_certificates(&card_sign).unwrap()[0].tbs_certificate.serial_number.as_bytes(),
    );
    d.operator().unwrap().revoke("revoke-card", &card_serial, pki::crl::Reason::KeyCompromise).await.unwrap();
    assert!(matches!(status(&d, &second_sign).await, Status::Revoked { .. }));
    let second_auth = second.certificate(CertType::Auth, Some("2468")).unwrap();
    assert!(matches!(status(&d, &second_auth).await, Status::Revoked { .. }));
    // And the revoked card can no longer apply.
    let (_, sp) = clients(&d);
    let third = phone(&d, jpki_app_identity());
    let (sei, _) = clients(&d);
    third.prepare(&sei).await.unwrap();
    let refused = third.apply(&sp, &mut card, "ABC123", &BOTH).await.unwrap_err();
    assert!(refused.to_string().contains("card_revoked"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_holder_revokes_from_the_phone_and_its_keys_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let d = deployment(dir.path(), 5).await;
    let mut card = card(&d).await;
    let app = provisioned(&d, &mut card).await;
    let auth = app.certificate(CertType::Auth, Some("2468")).unwrap();
    let (_, sp) = clients(&d);
    // A wrong PIN signs nothing and revokes nothing.
    assert!(app.revoke(&sp, "9999").await.is_err());
    assert_eq!(status(&d, &auth).await, Status::Good);
    let done = app.revoke(&sp, "2468").await.expect("revoked");
    assert_eq!(done.result["revoked"].as_array().unwrap().len(), 2);
    assert!(matches!(status(&d, &auth).await, Status::Revoked { .. }));
    assert!(app.certificate(CertType::Auth, Some("2468")).is_err(), "the applet's certificates are gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn attacks_on_the_application_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = deployment(dir.path(), 5).await;
    let mut card = card(&d).await;
    let (sei, sp) = clients(&d);
    let victim = phone(&d, jpki_app_identity());
    let attacker = phone(&d, jpki_app_identity());
    victim.prepare(&sei).await.unwrap();
    attacker.prepare(&sei).await.unwrap();

    // Pattern 6: an application signed for the victim's SE, provisioned
    // into the attacker's SE, fails on SHA-256(R) ≠ S and issues nothing.
    let signed = victim.signed_application(&sp, &mut card, "ABC123", &BOTH).await.unwrap();
    attacker.commitment().unwrap();
    // The attacker's phone is genuine: its own evidence for the nonce passes;
    // the commitment does not.
    let attackers_evidence = attacker.evidence(&signed.nonce).unwrap();
    let (id, outcome) =
        attacker.attesting(&sp).apply(&signed.cms, attackers_evidence.as_deref(), &mut attacker.relay()).await;
    assert_eq!(outcome.unwrap_err().code(), Some("commitment_mismatch"));
    let state = sp.application(&id.unwrap().id).await.unwrap();
    assert_eq!(state["state"], "refused");
    assert!(d.sp.certificates(&attacker.se_identifier()).await.unwrap().is_empty());

    // The same application again: the nonce is used up.
    let (id, outcome) = victim.attesting(&sp).apply(&signed.cms, signed.evidence.as_deref(), &mut victim.relay()).await;
    assert!(id.is_none());
    assert_eq!(outcome.unwrap_err().code(), Some("unknown_nonce"));

    // Patterns 1 and 7: another app on the phone cannot reach the applet,
    // and an application naming it is refused by the SP-TSM.
    let evil_identity = App::new("com.example.evil", b"another certificate".to_vec());
    let evil = JpkiApp::new(victim.se_service(), evil_identity, "x");
    assert!(evil.set_pins(b"1111", b"AAAAAA").is_err(), "the ACE keeps other apps out");
    assert!(
        evil.signed_application(&sp, &mut card, "ABC123", &BOTH).await.is_err(),
        "no commitment for an app the ARA-M rule does not name"
    );
    let nonce = sp.nonce().await.unwrap();
    let naming_evil = sp_tsm::application::Application {
        nonce: hex::encode(nonce),
        commitment: hex::encode([0x11; 32]),
        cert_types: BOTH.to_vec(),
        device: sp_tsm::application::Device { model: "x".into(), app_certificate_hash: evil.certificate_hash() },
    };
    card.verify(jpki::PinId::Sign, "ABC123").unwrap();
    let options = pki::cms::SignOptions {
        hash: pki::HashAlg::Sha256,
        detached: false,
        signing_time: std::time::SystemTime::now(),
    };
    let cms = jpki::sign_cms(&mut card, jpki::KeyType::Sign, &naming_evil.to_content(), &options).unwrap();
    let (id, outcome) = sp.apply(&cms, victim.evidence(&nonce).unwrap().as_deref(), &mut victim.relay()).await;
    assert!(id.is_none());
    assert_eq!(outcome.unwrap_err().code(), Some("app_not_registered"));

    // Pattern ③: a business app cannot start issuance or revocation.
    let business = App::new("jp.example.bank", b"bank app".to_vec());
    for intent in [Intent::Apply, Intent::Revoke] {
        let e = victim.handle_intent(&business, intent, |_| panic!("no prompt for a refused intent")).unwrap_err();
        assert!(matches!(e, IntentError::NotAllowed(_)));
    }
}

/// Passes APDUs through, but tampers with or replays one command, or
/// disconnects after some.
struct Faulty<T> {
    inner: T,
    seen: usize,
    fault: Fault,
    last: Vec<u8>,
}

#[derive(Clone, Copy, Debug)]
enum Fault {
    FlipByteOf(usize),
    ReplayAt(usize),
    DisconnectAfter(usize),
}

impl<T: Transport> Transport for Faulty<T> {
    fn transmit_raw(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.seen += 1;
        let mut c = command.to_vec();
        match self.fault {
            // The first data byte (ciphertext or C-MAC of a wrapped command;
            // Le is outside the MAC, so flipping it proves nothing).
            Fault::FlipByteOf(n) if n == self.seen && c.len() > 5 => c[5] ^= 0x01,
            Fault::ReplayAt(n) if n == self.seen => c = self.last.clone(),
            Fault::DisconnectAfter(n) if self.seen > n => return Err(TransportError::backend("test", "gone")),
            _ => {}
        }
        self.last = command.to_vec();
        self.inner.transmit_raw(&c)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tampered_or_replayed_relay_apdu_ends_the_session_and_issues_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = deployment(dir.path(), 5).await;
    let mut card = card(&d).await;
    let (sei, sp) = clients(&d);
    // Commands 1–9 open the channels (CPLC, take-over, INITIALIZE UPDATE,
    // EXTERNAL AUTHENTICATE); 10 onwards are C-MACed provisioning commands.
    for fault in [Fault::FlipByteOf(11), Fault::ReplayAt(11), Fault::FlipByteOf(13)] {
        let app = phone(&d, jpki_app_identity());
        app.prepare(&sei).await.unwrap();
        let signed = app.signed_application(&sp, &mut card, "ABC123", &BOTH).await.unwrap();
        let mut relay = Faulty { inner: app.relay(), seen: 0, fault, last: Vec::new() };
        let (_, outcome) = app.attesting(&sp).apply(&signed.cms, signed.evidence.as_deref(), &mut relay).await;
        assert!(outcome.is_err(), "{fault:?} must end the session");
        let certs = d.sp.certificates(&app.se_identifier()).await.unwrap();
        assert!(active(&certs).is_empty(), "{fault:?}: {certs:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_phone_disconnecting_at_any_step_can_resume_and_never_leaves_half_issued_state() {
    let dir = tempfile::tempdir().unwrap();
    let d = deployment(dir.path(), 2).await;
    let mut card = card(&d).await;
    let (sei, sp) = clients(&d);
    let mut step = 0;
    loop {
        step += 1;
        let app = phone(&d, jpki_app_identity());
        // Preparation interrupted at the same step, then done again.
        let mut relay = Faulty { inner: app.relay(), seen: 0, fault: Fault::DisconnectAfter(step), last: Vec::new() };
        let prepared_at_once = sei.prepare(&mut relay).await.is_ok();
        if !prepared_at_once {
            tokio::time::sleep(Duration::from_millis(2500)).await;
            app.prepare(&sei).await.expect("preparation again after an interruption");
        }
        let signed = app.signed_application(&sp, &mut card, "ABC123", &BOTH).await.unwrap();
        let mut relay = Faulty { inner: app.relay(), seen: 0, fault: Fault::DisconnectAfter(step), last: Vec::new() };
        let (id, outcome) = app.attesting(&sp).apply(&signed.cms, signed.evidence.as_deref(), &mut relay).await;
        let id = id.expect("accepted");
        let finished = outcome.is_ok();
        if !finished {
            // The SP-TSM notices the silence, revokes what it issued but did
            // not write, and lets the application resume.
            let mut waited = 0;
            while sp.application(&id.id).await.unwrap()["state"] == "provisioning" {
                tokio::time::sleep(Duration::from_millis(200)).await;
                waited += 1;
                assert!(waited < 100, "the flow never timed out");
            }
            let certs = d.sp.certificates(&app.se_identifier()).await.unwrap();
            assert!(active(&certs).is_empty(), "step {step}: {certs:?}");
            for (serial, _, state) in &certs {
                assert_eq!(state, "revoked", "step {step}: {serial} issued but not written must be revoked");
            }
            app.resume(&sp, &id).await.unwrap_or_else(|e| panic!("step {step}: resume: {e}"));
        }
        // Exactly one active certificate per type, in the SE, good at OCSP;
        // every other certificate of this SE is revoked.
        let certs = d.sp.certificates(&app.se_identifier()).await.unwrap();
        assert_eq!(active(&certs).len(), 2, "step {step}: {certs:?}");
        app.set_pins(b"2468", b"PHONE1").unwrap();
        for (t, pin) in [(CertType::Auth, "2468"), (CertType::Sign, "phone1")] {
            let in_se = app.certificate(t, Some(pin)).unwrap();
            assert_eq!(status(&d, &in_se).await, Status::Good, "step {step}");
            let serial = hex::encode_upper(
                pki::cert::parse_certificates(&in_se).unwrap()[0].tbs_certificate.serial_number.as_bytes(),
            );
            assert!(active(&certs).iter().any(|(s, _)| *s == serial), "step {step}: the SE holds the active one");
        }
        if finished && prepared_at_once {
            break;
        }
        assert!(step < 40, "more steps than a provisioning has");
    }
    assert!(step > 10, "the loop covered {step} steps");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malformed_requests_get_clear_errors_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = deployment(dir.path(), 5).await;
    let (sei, sp) = clients(&d);
    let app = phone(&d, jpki_app_identity());
    // Not CMS at all, then a relay session that does not exist.
    let (id, outcome) = sp.apply(b"not a CMS SignedData", None, &mut app.relay()).await;
    assert!(id.is_none());
    let e = outcome.unwrap_err();
    assert!(
        matches!(&e, tsm_api::client::ClientError::Service(svc::client::ServiceError::Refused { status: 403, .. })),
        "{e}"
    );
    let e = sp.drive(serde_json::json!({ "session": "nope", "commands": [] }), &mut app.relay()).await.unwrap_err();
    assert_eq!(e.code(), Some("unknown_session"), "{e}");
    let nope = tsm_api::client::ApplicationRef { id: "nope".into(), resume_token: "00".repeat(32) };
    assert_eq!(sp.resume(&nope, &mut app.relay()).await.unwrap_err().code(), Some("unknown_application"));
    assert_eq!(sp.application("nope").await.unwrap_err().code(), Some("unknown_application"));
    // Domain keys and app registration need the callers' client certificates.
    assert_eq!(sei.register_apps(&["00".repeat(32)]).await.unwrap_err().code(), Some("forbidden"));
    // An SE the SEI-TSM never prepared has no applet and no rule: the app
    // cannot even draw its commitment, and nothing is recorded.
    let mut card = card(&d).await;
    let e = app.apply(&sp, &mut card, "ABC123", &BOTH).await.unwrap_err();
    assert!(e.to_string().contains("no access rule"), "{e}");
    assert!(d.sp.certificates(&app.se_identifier()).await.unwrap().is_empty());
    // The prepared SE is not prepared twice.
    app.prepare(&sei).await.unwrap();
    let e = app.prepare(&sei).await.unwrap_err();
    assert!(e.to_string().contains("already_prepared"), "{e}");
}

/// The services are killed while an attempt is past issuance and before the
/// certificates are written (the phone has gone quiet; the flow lived in the
/// SP-TSM's memory). At the next start the SP-TSM ends that attempt as an
/// interruption: what it issued but did not write is revoked at the JPKI
/// service, and the holder resumes with new certificates — exactly one
/// active per type, the ones in the SE (issue 15). Before, the attempt
/// stayed `provisioning` for ever with its certificates active and in no SE.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn attempts_left_by_a_killed_sp_tsm_are_ended_at_the_next_start_and_resume() {
    let dir = tempfile::tempdir().unwrap();
    let d = deployment(dir.path(), 600).await;
    let mut card = card(&d).await;
    let (sei, sp) = clients(&d);
    // Find the first step at which the attempt holds issued, unwritten certificates.
    let mut step = 0;
    let (app, id) = loop {
        step += 1;
        assert!(step < 40, "no step left certificates issued and unwritten");
        let app = phone(&d, jpki_app_identity());
        app.prepare(&sei).await.unwrap();
        let signed = app.signed_application(&sp, &mut card, "ABC123", &BOTH).await.unwrap();
        let mut relay = Faulty { inner: app.relay(), seen: 0, fault: Fault::DisconnectAfter(step), last: Vec::new() };
        let (id, outcome) = app.attesting(&sp).apply(&signed.cms, signed.evidence.as_deref(), &mut relay).await;
        assert!(outcome.is_err(), "step {step}: the phone went quiet");
        let certs = d.sp.certificates(&app.se_identifier()).await.unwrap();
        if certs.iter().any(|c| c.2 == "issued") {
            break (app, id.unwrap());
        }
    };
    assert_eq!(sp.application(&id.id).await.unwrap()["state"], "provisioning");
    let issued: Vec<String> = d.sp.certificates(&app.se_identifier()).await.unwrap().into_iter().map(|c| c.0).collect();

    // Killed: the tasks end where they stand (no graceful shutdown).
    drop(d);
    let mut tries = 0;
    let d = loop {
        match Deployment::open(dir.path()).await {
            Ok(d) => break d,
            // The killed listeners' ports are let go as their tasks end.
            Err(e) if e.contains("binding") && tries < 100 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => panic!("restart: {e}"),
        }
    };
    let (_, sp) = clients(&d);
    let mut waited = 0;
    while sp.application(&id.id).await.unwrap()["state"] == "provisioning" {
        waited += 1;
        assert!(waited < 100, "the restarted SP-TSM left the attempt running");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(sp.application(&id.id).await.unwrap()["state"], "interrupted");
    let jlis = d.operator().unwrap();
    for serial in &issued {
        let record = jlis.record(serial).await.unwrap();
        assert_eq!(record["status"], "revoked", "{serial}: issued, never written, revoked: {record}");
    }
    app.resume(&sp, &id).await.expect("the holder resumes");
    let certs = d.sp.certificates(&app.se_identifier()).await.unwrap();
    assert_eq!(active(&certs).len(), 2, "{certs:?}");
    app.set_pins(b"2468", b"PHONE1").unwrap();
    for (t, pin) in [(CertType::Auth, "2468"), (CertType::Sign, "phone1")] {
        let in_se = app.certificate(t, Some(pin)).unwrap();
        assert_eq!(status(&d, &in_se).await, Status::Good);
    }
}

/// The soft limit on open files (`/proc/self/limits`), 1024 if unknown.
fn open_files_limit() -> usize {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let line = limits.lines().find(|l| l.starts_with("Max open files"));
    line.and_then(|l| l.split_whitespace().nth(3)).and_then(|n| n.parse().ok()).unwrap_or(1024)
}

/// A flood on every public port — the JPKI service's HTTPS and plain-HTTP
/// listeners, the SEI-TSM, the SP-TSM — of connections that say nothing
/// and connections that send garbage (500 per port where the file limit
/// allows), while a card is issued and a phone
/// provisioned (issue 15). Issuance completes, the services go on serving
/// (health, another phone) afterwards, and no flood connection got an
/// answer that was not an error or a close.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_silent_and_garbage_connections_does_not_stop_issuance() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let d = deployment(dir.path(), 30).await;
    let port = |url: &str| url.rsplit(':').next().unwrap().trim_end_matches('/').split('/').next().unwrap().to_string();
    let ports: Vec<String> =
        [&d.jlis_url, &d.ocsp_url, &d.sei_url, &d.sp_url].iter().map(|u| port(u.as_str())).collect();
    // Two descriptors per flood connection (ours and the server's) in this
    // one process: as many as the soft limit leaves room for, at most 500
    // per port.
    let per_port = (open_files_limit().saturating_sub(400) / 8).min(500);
    assert!(per_port >= 50, "too few file descriptors for a flood ({per_port} per port)");
    let mut flood = Vec::new();
    for p in &ports {
        for i in 0..per_port {
            let addr = format!("127.0.0.1:{p}");
            flood.push(tokio::spawn(async move {
                let mut stream = tokio::net::TcpStream::connect(&addr).await.ok()?;
                if i % 2 == 1 {
                    let mut garbage = [0u8; 512];
                    pki::fill_random(&mut garbage);
                    let _ = stream.write_all(&garbage).await;
                }
                // Read whatever comes back until the server closes (or 15 s).
                let mut answer = Vec::new();
                let _ = tokio::time::timeout(Duration::from_secs(15), stream.read_to_end(&mut answer)).await;
                Some(answer)
            }));
        }
    }
    let mut card = card(&d).await;
    let app = provisioned(&d, &mut card).await;
    let sign = app.certificate(CertType::Sign, Some("phone1")).unwrap();
    assert_eq!(status(&d, &sign).await, Status::Good);
    let mut answered = 0;
    for f in flood {
        if let Some(answer) = f.await.unwrap() {
            answered += 1;
            let text = String::from_utf8_lossy(&answer);
            assert!(
                answer.is_empty() || answer[0] == 0x15 || text.starts_with("HTTP/1.1 4"),
                "a flood connection got an answer other than an error: {text:?}"
            );
        }
    }
    let total = per_port * ports.len();
    assert!(answered * 20 >= total * 19, "the flood connected ({answered} of {total})");
    let http = svc::client::plain_http_client().unwrap();
    let health = http.get(d.ocsp_url.replace("/ocsp", "/healthz")).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
    // Both TSMs still serve a whole phone.
    provisioned(&d, &mut card).await;
}
