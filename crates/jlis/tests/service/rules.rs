//! Supersession, same expiry, cascade, hold/release, replay, bad input,
//! audit chain, concurrency.

use crate::*;
use jlis::JlisError;
use pki::crl::Reason;

#[tokio::test]
async fn phone_certificate_takes_the_card_expiry_and_is_linked() {
    let env = env().await;
    let (_, sign) = card(&env).await;
    let issued =
        env.jlis.issue_phone(&phone_request(&sign, PhoneCertType::Sign, "4F4A5345010203040506")).await.unwrap();
    let card_cert = pki::cert::parse_certificates(&sign).unwrap().remove(0);
    let phone = pki::cert::parse_certificates(&issued.certificate).unwrap().remove(0);
    assert_eq!(phone.tbs_certificate.validity.not_after, card_cert.tbs_certificate.validity.not_after);
    assert_eq!(
        pki::describe::holder_attributes(&phone),
        pki::describe::holder_attributes(&card_cert),
        "same four attributes"
    );
    let ca = env.jlis.ca().ca(pki::CaKind::Sign).cert.clone();
    pki::chain::validate_path(&phone, &[], &[ca], std::time::SystemTime::now()).unwrap();
    let record = env.jlis.record(&issued.serial).await.unwrap();
    assert_eq!((record.kind.as_str(), record.status.as_str()), ("phone", "good"));
    assert_eq!(record.links[0].card_serial, serial(&sign));
    assert_eq!(record.links[0].se_id, "4F4A5345010203040506");
    let auth_phone =
        env.jlis.issue_phone(&phone_request(&sign, PhoneCertType::Auth, "4F4A5345010203040506")).await.unwrap();
    assert!(auth_phone.superseded.is_empty(), "auth and sign are separate");
}

#[tokio::test]
async fn one_phone_at_a_time() {
    let env = env().await;
    let (_, sign) = card(&env).await;
    let first = env.jlis.issue_phone(&phone_request(&sign, PhoneCertType::Sign, "AA01")).await.unwrap();
    let second = env.jlis.issue_phone(&phone_request(&sign, PhoneCertType::Sign, "BB02")).await.unwrap();
    assert_eq!(second.superseded, vec![first.serial.clone()]);
    let old = env.jlis.record(&first.serial).await.unwrap();
    assert_eq!((old.status.as_str(), old.reason.as_deref()), ("revoked", Some("superseded")));
    assert_eq!(env.jlis.record(&second.serial).await.unwrap().status, "good");
    // Operators find each phone's links by its SE identifier.
    let links = env.jlis.links_of_se("bb02").await.unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(
        (links[0].phone_serial.as_str(), links[0].card_serial.as_str()),
        (second.serial.as_str(), serial(&sign).as_str())
    );
    assert!(env.jlis.links_of_se("CC03").await.unwrap().is_empty());
    assert!(matches!(env.jlis.links_of_se("not hex").await, Err(JlisError::Invalid(_))));
}

#[tokio::test]
async fn revoking_the_card_revokes_its_phones() {
    let env = env().await;
    let (_, sign) = card(&env).await;
    let a = env.jlis.issue_phone(&phone_request(&sign, PhoneCertType::Auth, "CC03")).await.unwrap();
    let s = env.jlis.issue_phone(&phone_request(&sign, PhoneCertType::Sign, "CC03")).await.unwrap();
    let revoked = env.jlis.revoke(&rid(), &serial(&sign), Reason::AffiliationChanged).await.unwrap();
    assert_eq!(revoked.len(), 3);
    for sn in [&a.serial, &s.serial] {
        assert_eq!(env.jlis.record(sn).await.unwrap().status, "revoked");
    }
    // A revoked card can no longer apply.
    let err = env.jlis.issue_phone(&phone_request(&sign, PhoneCertType::Sign, "DD04")).await.unwrap_err();
    assert!(matches!(err, JlisError::CardRevoked), "{err}");
    assert!(matches!(
        env.jlis.revoke(&rid(), &serial(&sign), Reason::KeyCompromise).await,
        Err(JlisError::Conflict(_))
    ));
}

#[tokio::test]
async fn hold_and_release() {
    let env = env().await;
    let (_, sign) = card(&env).await;
    let sn = serial(&sign);
    env.jlis.hold(&rid(), &sn).await.unwrap();
    assert!(matches!(env.jlis.hold(&rid(), &sn).await, Err(JlisError::Conflict(_))));
    let status = env.jlis.status(pki::CaKind::Sign, &hex::decode(&sn).unwrap()).await.unwrap();
    assert!(matches!(status, pki::ocsp::Status::Revoked { reason: Reason::CertificateHold, .. }));
    let err = env.jlis.issue_phone(&phone_request(&sign, PhoneCertType::Sign, "EE05")).await.unwrap_err();
    assert!(matches!(err, JlisError::CardOnHold));
    env.jlis.release(&rid(), &sn).await.unwrap();
    assert_eq!(env.jlis.status(pki::CaKind::Sign, &hex::decode(&sn).unwrap()).await.unwrap(), pki::ocsp::Status::Good);
    env.jlis.issue_phone(&phone_request(&sign, PhoneCertType::Sign, "EE05")).await.unwrap();
}

#[tokio::test]
async fn bad_requests_are_refused_and_change_nothing() {
    let env = env().await;
    let (auth, sign) = card(&env).await;
    let count = || async {
        let rows = env.jlis.store().read(|tx| tx.all("SELECT serial FROM certificates", &[])).await;
        rows.map_err(|e: store::StoreError| e).unwrap().len()
    };
    let before = count().await;
    let mut r = phone_request(&sign, PhoneCertType::Sign, "FF06");
    r.card_certificate = b"garbage".to_vec();
    assert_eq!(env.jlis.issue_phone(&r).await.unwrap_err().code(), "malformed_der");
    let mut r = phone_request(&sign, PhoneCertType::Sign, "FF06");
    r.phone_public_key = rsa_1024_public_key();
    assert_eq!(env.jlis.issue_phone(&r).await.unwrap_err().code(), "wrong_key_size");
    // The auth certificate cannot sign an application.
    let r = phone_request(&auth, PhoneCertType::Sign, "FF06");
    assert!(matches!(
        env.jlis.issue_phone(&r).await.unwrap_err(),
        JlisError::ForeignCa | JlisError::WrongCertificate(_)
    ));
    // A card certificate from another CA.
    let other = tempfile::tempdir().unwrap();
    let other_ca = pki::ca::LocalCa::open_or_create(other.path()).unwrap();
    let foreign =
        der::Encode::to_der(&other_ca.issue_card_certificate(pki::CaKind::Sign, &key(), &holder()).unwrap()).unwrap();
    assert_eq!(
        env.jlis.issue_phone(&phone_request(&foreign, PhoneCertType::Sign, "FF06")).await.unwrap_err().code(),
        "foreign_ca"
    );
    // A request id used again: for the same request (its answer was lost)
    // the same certificate comes back; for any other request it is a
    // replay. Neither changes anything (before: 409 for both).
    let r = phone_request(&sign, PhoneCertType::Auth, "FF06");
    let first = env.jlis.issue_phone(&r).await.unwrap();
    let after_first = count().await;
    let audit_after_first = jlis::audit::verify(env.jlis.store()).await.unwrap().unwrap();
    let lower = PhoneRequest { se_id: "ff06".into(), ..r.clone() };
    assert_eq!(env.jlis.issue_phone(&lower).await.unwrap(), first, "the same request, answered again");
    let other_key = PhoneRequest { phone_public_key: key(), ..r.clone() };
    assert_eq!(env.jlis.issue_phone(&other_key).await.unwrap_err().code(), "replay");
    let other_se = PhoneRequest { se_id: "FF07".into(), ..r.clone() };
    assert_eq!(env.jlis.issue_phone(&other_se).await.unwrap_err().code(), "replay");
    let card_id = rid();
    env.jlis.hold(&card_id, &serial(&sign)).await.unwrap();
    env.jlis.release(&rid(), &serial(&sign)).await.unwrap();
    let reused = PhoneRequest { request_id: card_id, ..phone_request(&sign, PhoneCertType::Sign, "FF06") };
    assert_eq!(env.jlis.issue_phone(&reused).await.unwrap_err().code(), "replay", "an id an operator used");
    for bad_id in [String::new(), "x".repeat(129)] {
        let r = PhoneRequest { request_id: bad_id, ..phone_request(&sign, PhoneCertType::Sign, "FF06") };
        assert_eq!(env.jlis.issue_phone(&r).await.unwrap_err().code(), "invalid_request");
    }
    assert_eq!(count().await, after_first);
    assert_eq!(after_first, before + 1);
    let audit_now = jlis::audit::verify(env.jlis.store()).await.unwrap().unwrap();
    assert_eq!(audit_now, audit_after_first + 2, "only the hold and the release were recorded");
    assert_eq!(env.jlis.record("00").await.unwrap_err().code(), "unknown_serial");
    assert_eq!(env.jlis.revoke(&rid(), "ABCDEF", Reason::KeyCompromise).await.unwrap_err().http_status(), 404);
}

/// An RSA-1024 public key (made with OpenSSL; aws-lc-rs refuses to generate one).
fn rsa_1024_public_key() -> Vec<u8> {
    let out = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-outform", "DER"])
        .stderr(std::process::Stdio::null())
        .output()
        .unwrap();
    let private = out.stdout;
    let out = std::process::Command::new("openssl")
        .args(["pkey", "-inform", "DER", "-pubout", "-outform", "DER"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(&private)?;
            c.wait_with_output()
        })
        .unwrap();
    out.stdout
}

#[tokio::test]
async fn audit_chain_detects_edits_and_deletions() {
    let env = env().await;
    let (_, sign) = card(&env).await;
    env.jlis.issue_phone(&phone_request(&sign, PhoneCertType::Sign, "1234")).await.unwrap();
    env.jlis.revoke(&rid(), &serial(&sign), Reason::CessationOfOperation).await.unwrap();
    let n = jlis::audit::verify(env.jlis.store()).await.unwrap().unwrap();
    assert_eq!(n, 4, "issued, phone issued, revoked, cascade");
    let store = env.jlis.store();
    let edit = |sql: &'static str| store.write(move |tx| tx.execute(sql, &[]).map_err(|e: store::StoreError| e));
    edit("UPDATE audit SET detail = '{\"serial\":\"00\"}' WHERE seq = 2").await.unwrap();
    assert_eq!(jlis::audit::verify(env.jlis.store()).await.unwrap(), Err(jlis::audit::AuditError::Altered(2)));
    edit("DELETE FROM audit WHERE seq = 2").await.unwrap();
    assert_eq!(jlis::audit::verify(env.jlis.store()).await.unwrap(), Err(jlis::audit::AuditError::Broken(3)));
}

/// Regression (issue 13): the chain alone let a database writer cut the
/// tail or recompute the whole chain undetected.
#[tokio::test]
async fn signed_checkpoints_catch_a_cut_tail_a_rewritten_log_and_a_forged_checkpoint() {
    use jlis::audit::{checkpoint, verify_with, AuditError, AuditKey};
    use store::params;
    let env = env().await;
    let (_, sign) = card(&env).await;
    env.jlis.issue_phone(&phone_request(&sign, PhoneCertType::Sign, "1234")).await.unwrap();
    env.jlis.revoke(&rid(), &serial(&sign), Reason::CessationOfOperation).await.unwrap();
    let store = env.jlis.store();
    let key = AuditKey::load_or_create(&env.dir.path().join("audit.key")).unwrap();
    let pk = key.public_key();
    let anchor_file = env.dir.path().join("audit.checkpoint");
    let anchor = checkpoint(store, &key, &anchor_file).await.unwrap().expect("a first checkpoint");
    assert_eq!(anchor.seq, 4);
    assert_eq!(jlis::audit::Checkpoint::read(&anchor_file).unwrap(), anchor);
    assert_eq!(checkpoint(store, &key, &anchor_file).await.unwrap(), None, "nothing new to sign");
    let v = verify_with(store, &pk, Some(&anchor)).await.unwrap().unwrap();
    assert_eq!((v.entries, v.checkpoints, v.anchored_at), (4, 1, Some(4)));
    // Every entry names who acted (here: the service's own caller) and the request.
    let rows = store.read(|tx| tx.all("SELECT detail FROM audit ORDER BY seq", &[])).await.unwrap();
    for row in rows {
        let detail: serde_json::Value = serde_json::from_str(&row.text("detail").unwrap()).unwrap();
        assert!(detail["by"]["role"] == "service" && detail["by"]["request_id"].is_string(), "{detail}");
    }

    let rows = store
        .read(|tx| tx.all("SELECT seq, at, event, detail, prev_hash, hash FROM audit ORDER BY seq", &[]))
        .await
        .unwrap();
    let saved: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.int("seq").unwrap(),
                r.int("at").unwrap(),
                r.text("event").unwrap(),
                r.text("detail").unwrap(),
                r.text("prev_hash").unwrap(),
                r.text("hash").unwrap(),
            )
        })
        .collect();
    let restore = |rows: Vec<(i64, i64, String, String, String, String)>| {
        store.write(move |tx| {
            tx.execute("DELETE FROM audit", &[])?;
            for (seq, at, event, detail, prev, hash) in rows {
                tx.execute(
                    "INSERT INTO audit (seq, at, event, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6)",
                    params![seq, at, event, detail, prev, hash],
                )?;
            }
            Ok::<_, store::StoreError>(())
        })
    };

    // The tail cut, and the stored checkpoints with it: only the anchor outside the database sees it.
    restore(saved[..3].to_vec()).await.unwrap();
    assert_eq!(
        verify_with(store, &pk, Some(&anchor)).await.unwrap(),
        Err(AuditError::Truncated { checkpoint: 4, head: 3 })
    );
    store.write(|tx| tx.execute("DELETE FROM audit_checkpoints", &[])).await.unwrap();
    assert!(
        verify_with(store, &pk, None).await.unwrap().is_ok(),
        "without an anchor a cut with its checkpoints is not seen"
    );
    // The service does not sign over the cut: the anchor stays as it was.
    assert!(checkpoint(store, &key, &anchor_file)
        .await
        .unwrap_err()
        .to_string()
        .contains("cut or rewritten; not signing"));
    assert_eq!(jlis::audit::Checkpoint::read(&anchor_file).unwrap(), anchor);
    assert_eq!(
        verify_with(store, &pk, Some(&anchor)).await.unwrap(),
        Err(AuditError::Truncated { checkpoint: 4, head: 3 })
    );

    // The whole chain recomputed around an edited entry (the formula is public).
    let mut prev = jlis::audit::GENESIS.to_string();
    let mut rewritten = Vec::new();
    for (seq, at, event, detail, _, _) in saved.iter().cloned() {
        let detail = if seq == 2 { detail.replace("1234", "9999") } else { detail };
        let hash = jlis::audit::entry_hash(&prev, seq, at, &event, &detail);
        rewritten.push((seq, at, event, detail, prev.clone(), hash.clone()));
        prev = hash;
    }
    restore(rewritten).await.unwrap();
    assert!(jlis::audit::verify(store).await.unwrap().is_ok(), "the chain alone is fooled");
    assert_eq!(verify_with(store, &pk, Some(&anchor)).await.unwrap(), Err(AuditError::Rewritten(4)));

    // A checkpoint the attacker signs with its own key.
    restore(saved.clone()).await.unwrap();
    let forger = AuditKey::load_or_create(&env.dir.path().join("forger.key")).unwrap();
    checkpoint(store, &forger, &env.dir.path().join("forged.checkpoint")).await.unwrap();
    assert_eq!(verify_with(store, &pk, Some(&anchor)).await.unwrap(), Err(AuditError::ForgedCheckpoint(4)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_simultaneous_registrations_leave_one_active_phone() {
    let env = std::sync::Arc::new(env().await);
    let (_, sign) = card(&env).await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let env = env.clone();
        let req = phone_request(&sign, PhoneCertType::Sign, &format!("{i:04X}"));
        tasks.push(tokio::spawn(async move { env.jlis.issue_phone(&req).await }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap().is_ok() {
            ok += 1;
        }
    }
    let card = serial(&sign);
    let rows = env
        .jlis
        .store()
        .read(move |tx| {
            tx.all(
                "SELECT c.status FROM certificates c JOIN links l ON l.phone_serial = c.serial WHERE l.card_serial = $1",
                store::params![card],
            )
        })
        .await
        .map_err(|e: store::StoreError| e)
        .unwrap();
    let active = rows.iter().filter(|r| r.text("status").unwrap() == "good").count();
    assert_eq!(active, 1, "never two active phone certificates");
    assert_eq!(rows.len(), ok, "every success is linked");
    assert_eq!(ok, 50);
}

/// The JPKI service's own check of the holder's application (issue 13):
/// every refusal, and the service's state untouched by a refused request.
#[tokio::test]
async fn the_application_behind_a_phone_certificate_is_checked_by_the_service() {
    use jlis::application::check;
    use std::time::{Duration, SystemTime};
    let env = env().await;
    let (_, sign) = card(&env).await;
    let (_, other_sign) = card(&env).await;
    let ca = pki::cert::parse_certificates(&std::fs::read(env.dir.path().join("ca/sign-ca.pem")).unwrap())
        .unwrap()
        .remove(0);
    let app = application(&sign, &[PhoneCertType::Sign]);
    let now = SystemTime::now();
    assert!(check(&app, &sign, &ca, PhoneCertType::Sign, now).is_ok());
    let refusal = |cms: &[u8], card: &[u8], t, at| check(cms, card, &ca, t, at).unwrap_err();
    let code_and_text = |e: jlis::JlisError| (e.code(), e.to_string());
    let (code, text) = code_and_text(refusal(&app, &sign, PhoneCertType::Sign, now + Duration::from_secs(7200)));
    assert_eq!(code, "bad_application");
    assert!(text.contains("too old"), "{text}");
    let ahead = application_signed_at(&sign, &[PhoneCertType::Sign], now + Duration::from_secs(600));
    let (_, text) = code_and_text(refusal(&ahead, &sign, PhoneCertType::Sign, now));
    assert!(text.contains("in the future"), "{text}");
    let (_, text) = code_and_text(refusal(&app, &sign, PhoneCertType::Auth, now));
    assert!(text.contains("did not apply for a auth certificate"), "{text}");
    let (_, text) = code_and_text(refusal(&app, &other_sign, PhoneCertType::Sign, now));
    assert!(text.contains("another card"), "{text}");
    let mut altered = app.clone();
    let at = altered.len() - 300;
    altered[at] ^= 1;
    assert_eq!(refusal(&altered, &sign, PhoneCertType::Sign, now).code(), "bad_application");
    assert_eq!(refusal(b"not CMS", &sign, PhoneCertType::Sign, now).code(), "bad_application");

    // Through the service: refused, and nothing recorded.
    let audit = jlis::audit::verify(env.jlis.store()).await.unwrap().unwrap();
    let mut r = phone_request(&sign, PhoneCertType::Sign, "ABCD");
    r.application = application(&other_sign, &[PhoneCertType::Sign]);
    assert_eq!(env.jlis.issue_phone(&r).await.unwrap_err().code(), "bad_application");
    assert_eq!(jlis::audit::verify(env.jlis.store()).await.unwrap().unwrap(), audit);
    assert!(env.jlis.links_of_se("ABCD").await.unwrap().is_empty());
}

/// Many municipal offices at once (issue 15): 48 cards issued, 16 of them
/// put on hold and 16 revoked, all concurrently. Every request succeeds and
/// the audit chain holds every change in one unbroken sequence. On
/// PostgreSQL, two writers used to take the same next sequence number and
/// one failed on the primary key.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_cards_at_once_keep_one_unbroken_audit_chain() {
    let env = std::sync::Arc::new(env().await);
    let sign_key = pki::RsaPrivateKey::generate_2048().unwrap().public_key_der();
    let (auth_key, holder) = (key(), holder());
    let issuing: Vec<_> = (0..48)
        .map(|_| {
            let (env, holder, auth_key, sign_key) = (env.clone(), holder.clone(), auth_key.clone(), sign_key.clone());
            tokio::spawn(async move { env.jlis.issue_card(&rid(), &holder, &auth_key, &sign_key).await })
        })
        .collect();
    let mut cards = Vec::new();
    for issue in issuing {
        cards.push(issue.await.unwrap().unwrap());
    }
    let changing: Vec<_> = cards
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 2)
        .map(|(i, (auth, sign))| {
            let (env, auth, sign) = (env.clone(), serial(auth), serial(sign));
            tokio::spawn(async move {
                match i % 3 {
                    0 => env.jlis.hold(&rid(), &sign).await.map(|_| ()),
                    _ => env.jlis.revoke(&rid(), &auth, Reason::KeyCompromise).await.map(|_| ()),
                }
            })
        })
        .collect();
    for change in changing {
        change.await.unwrap().unwrap();
    }
    let entries = jlis::audit::verify(env.jlis.store()).await.unwrap().unwrap();
    assert_eq!(entries, 48 + 16 + 16, "one entry per change, none lost");
}

/// Who may revoke what (issue 15): an SP-TSM revokes only the phone
/// certificates it asked for — not another SP-TSM's, not one issued
/// otherwise, never a card certificate; an operator revokes any. A refusal
/// changes nothing.
#[tokio::test]
async fn an_sp_tsm_revokes_only_the_phone_certificates_it_asked_for() {
    use jlis::service::Requester;
    let env = env().await;
    let (auth, sign) = card(&env).await;
    let sp = |n: u8| Requester::SpTsm { certificate_sha256: format!("{n:064x}") };
    let ours = env.jlis.issue_phone_for(&phone_request(&sign, PhoneCertType::Sign, "FF11"), &sp(1)).await.unwrap();
    let theirs = env.jlis.issue_phone_for(&phone_request(&sign, PhoneCertType::Auth, "FF11"), &sp(2)).await.unwrap();
    let refused = |e: JlisError| (e.code().as_str().to_string(), e.to_string());
    for (serial, why) in
        [(&theirs.serial, "asked for"), (&serial(&auth), "card certificate"), (&serial(&sign), "card certificate")]
    {
        let (code, message) =
            refused(env.jlis.revoke_for(&sp(1), &rid(), serial, Reason::KeyCompromise).await.unwrap_err());
        assert_eq!(code, "forbidden", "{serial}");
        assert!(message.contains(why), "{message}");
        assert_eq!(env.jlis.record(serial).await.unwrap().status, "good", "{serial} unchanged");
    }
    assert_eq!(
        env.jlis.revoke_for(&sp(1), &rid(), &ours.serial, Reason::CessationOfOperation).await.unwrap().revoked,
        vec![ours.serial.clone()]
    );
    let operator = Requester::Operator { name: "operator".into() };
    let revoked = env.jlis.revoke_for(&operator, &rid(), &serial(&sign), Reason::KeyCompromise).await;
    assert_eq!(
        revoked.unwrap().revoked,
        vec![serial(&sign), theirs.serial.clone()],
        "the operator's revocation cascades"
    );
}

/// Dual control (issue 15): with it on, one operator cannot revoke a card
/// certificate for key compromise alone — the first approval is recorded
/// and revokes nothing, the same operator asking again is refused, and a
/// second operator's request revokes (with the cascade) and names both in
/// the audit log. Other reasons and phone certificates need one operator.
#[tokio::test]
async fn dual_control_needs_a_second_operator_to_revoke_a_card_for_key_compromise() {
    use jlis::service::Requester;
    let mut env = env().await;
    env.jlis.require_dual_control(true);
    let (auth, sign) = card(&env).await;
    let phone = env.jlis.issue_phone(&phone_request(&sign, PhoneCertType::Sign, "FF21")).await.unwrap();
    let (alice, bob) = (Requester::Operator { name: "alice".into() }, Requester::Operator { name: "bob".into() });

    let first = env.jlis.revoke_for(&alice, &rid(), &serial(&sign), Reason::KeyCompromise).await.unwrap();
    assert_eq!(first.revoked, Vec::<String>::new(), "the first approval revokes nothing");
    assert_eq!(first.awaiting_second_operator.as_deref(), Some("alice"));
    assert_eq!(env.jlis.record(&serial(&sign)).await.unwrap().status, "good");
    assert_eq!(env.jlis.record(&phone.serial).await.unwrap().status, "good");

    let again = env.jlis.revoke_for(&alice, &rid(), &serial(&sign), Reason::KeyCompromise).await.unwrap_err();
    assert_eq!(again.code().as_str(), "forbidden", "{again}");
    assert!(again.to_string().contains("second operator"), "{again}");
    assert_eq!(env.jlis.record(&serial(&sign)).await.unwrap().status, "good", "still not revoked");

    let second = env.jlis.revoke_for(&bob, &rid(), &serial(&sign), Reason::KeyCompromise).await.unwrap();
    assert_eq!(second.revoked, vec![serial(&sign), phone.serial.clone()], "revoked, with the cascade");
    assert_eq!(second.awaiting_second_operator, None);
    assert_eq!(env.jlis.record(&serial(&sign)).await.unwrap().status, "revoked");
    let log = env.jlis.store().read(|tx| tx.all("SELECT event, detail FROM audit ORDER BY seq", &[])).await.unwrap();
    let events: Vec<(String, serde_json::Value)> = log
        .iter()
        .map(|r| (r.text("event").unwrap(), serde_json::from_str(&r.text("detail").unwrap()).unwrap()))
        .collect();
    let (_, revoked) = events.iter().find(|(e, _)| e == "revoked").expect("a revocation entry");
    assert_eq!(revoked["approved_by"], serde_json::json!(["alice", "bob"]));
    assert_eq!(events.iter().filter(|(e, _)| e == "revocation.approved").count(), 1, "one approval recorded");

    // An approval left for more than a day expires: the next request is a
    // first approval again, not the second.
    let first = env.jlis.revoke_for(&alice, &rid(), &serial(&auth), Reason::KeyCompromise).await.unwrap();
    assert_eq!(first.awaiting_second_operator.as_deref(), Some("alice"));
    let age = "UPDATE revocation_approvals SET approved_at = approved_at - 90000";
    env.jlis.store().write(move |tx| tx.execute(age, &[]).map_err(|e: store::StoreError| e)).await.unwrap();
    let late = env.jlis.revoke_for(&bob, &rid(), &serial(&auth), Reason::KeyCompromise).await.unwrap();
    assert_eq!(late.awaiting_second_operator.as_deref(), Some("bob"), "a stale approval does not count");
    assert_eq!(env.jlis.record(&serial(&auth)).await.unwrap().status, "good");

    // Another reason, one operator.
    let other = env.jlis.revoke_for(&alice, &rid(), &serial(&auth), Reason::AffiliationChanged).await.unwrap();
    assert_eq!(other.revoked, vec![serial(&auth)]);
}

/// An SP-TSM killed between the service's commit and its own (or whose
/// answer was lost) cancels its request by id (issue 15, point 4; the kill
/// harness found the certificate left active and unknown to the SP-TSM):
/// what the request issued is revoked; an id that never arrived is spent,
/// so the request arriving late issues nothing; another SP-TSM cannot
/// cancel it; cancelling twice changes nothing more.
#[tokio::test]
async fn a_cancelled_phone_request_is_revoked_or_can_no_longer_issue() {
    use jlis::service::Requester;
    let env = env().await;
    let (_, sign) = card(&env).await;
    let sp = |n: u8| Requester::SpTsm { certificate_sha256: format!("{n:064x}") };
    let issued_request = phone_request(&sign, PhoneCertType::Sign, "FF31");
    let issued = env.jlis.issue_phone_for(&issued_request, &sp(1)).await.unwrap();

    let refused = env.jlis.cancel_phone_request(&sp(2), &issued_request.request_id).await.unwrap_err();
    assert_eq!(refused.code().as_str(), "forbidden", "{refused}");
    assert_eq!(env.jlis.record(&issued.serial).await.unwrap().status, "good", "unchanged");

    let cancelled = env.jlis.cancel_phone_request(&sp(1), &issued_request.request_id).await.unwrap();
    assert_eq!(cancelled.issued.as_deref(), Some(issued.serial.as_str()));
    assert_eq!(cancelled.revoked, vec![issued.serial.clone()]);
    assert_eq!(env.jlis.record(&issued.serial).await.unwrap().status, "revoked");
    let again = env.jlis.cancel_phone_request(&sp(1), &issued_request.request_id).await.unwrap();
    assert_eq!(again.revoked, Vec::<String>::new(), "nothing more to revoke");

    // Never arrived: the id is spent, and the late request issues nothing.
    let late = phone_request(&sign, PhoneCertType::Auth, "FF31");
    let cancelled = env.jlis.cancel_phone_request(&sp(1), &late.request_id).await.unwrap();
    assert_eq!((cancelled.issued, cancelled.revoked), (None, vec![]));
    let replay = env.jlis.issue_phone_for(&late, &sp(1)).await.unwrap_err();
    assert_eq!(replay.code().as_str(), "replay", "{replay}");
    assert!(env.jlis.links_of_se(&late.se_id).await.unwrap().iter().all(|l| l.cert_type != "auth"), "nothing issued");
}
