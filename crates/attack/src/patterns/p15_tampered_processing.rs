//! Pattern 15 — tampering with business processing: the SP-TSM's state
//! transitions, the SE, the JPKI service (③ ④ ⑤).
//!
//! Someone who learned another holder's application id pushes it through
//! the SP-TSM's state machine (resume it, with no token or a forged one),
//! guesses relay sessions next to its own, replays a used application and
//! resumes a finished one. The SP-TSM refuses each and the victim's
//! application is as it was. At the JPKI service, someone with write
//! access to its database cuts the audit log's tail, then rewrites the
//! whole chain around an edited entry: the checkpoints the service signed
//! with a key outside the database catch both.

use crate::lab::{Lab, BOTH, CARD_SIGN_PASSWORD};
use crate::{lab_err, Attempts, Breach, Refusal};
use tsm_api::client::ApplicationRef;

/// Runs the attempts.
pub async fn run(lab: &Lab) -> Result<Vec<Refusal>, Breach> {
    let mut card = lab.card().await?;
    let victim = lab.prepared_phone().await?;
    let sp = lab.sp()?;
    let mut a = Attempts::default();

    // The victim's application is interrupted: the phone stops relaying.
    let cms_signed = victim.signed_application(&sp, &mut card, CARD_SIGN_PASSWORD, &BOTH).await.map_err(lab_err)?;
    let (cms, cms_evidence) = (cms_signed.cms, cms_signed.evidence);
    let first = sp.submit(&cms, cms_evidence.as_deref()).await.map_err(lab_err)?;
    let genuine = ApplicationRef::from_answer(&first).ok_or_else(|| Breach::Lab("no application reference".into()))?;
    let session = first["session"].as_str().unwrap_or_default().to_string();
    let mut state = lab.application(&genuine.id).await?;
    for _ in 0..100 {
        if state["state"] != "provisioning" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        state = lab.application(&genuine.id).await?;
    }
    let before = state.clone();

    let attacker = lab.prepared_phone().await?;
    let no_token = ApplicationRef { id: genuine.id.clone(), resume_token: String::new() };
    let r = sp.resume(&no_token, &mut attacker.relay()).await.map(|o| o.result);
    a.refused("resuming another holder's application by its id alone", "403 not_applicant", r)?;
    let forged = ApplicationRef { id: genuine.id.clone(), resume_token: "00".repeat(32) };
    let r = sp.resume(&forged, &mut attacker.relay()).await.map(|o| o.result);
    a.refused("resuming it with a forged resume token", "403 not_applicant", r)?;
    // A clone of the app (same package name) that stole the resume token:
    // it has no app key in its TEE, or one of its own.
    let r = sp.resume(&genuine, &mut attacker.relay()).await.map(|o| o.result);
    a.refused("a cloned app resumes with the stolen resume token", "assertion_missing", r)?;
    attacker.evidence(&[0x5a; 32]).map_err(lab_err)?;
    let r = attacker.attesting(&sp).resume(&genuine, &mut attacker.relay()).await.map(|o| o.result);
    a.refused("a cloned app resumes with the stolen token, signing with its own app key", "assertion_signature", r)?;
    a.unchanged("the resumption attempts", "the victim's application", &before, &lab.application(&genuine.id).await?)?;

    // Relay sessions: the attacker's own id, and guesses next to it.
    let neighbours = [
        session.clone() + "0",
        session.chars().rev().collect::<String>(),
        format!("{}-2", &session[..session.len().min(16)]),
    ];
    let http = svc::client::https_client(&lab.deployment.tls_ca, svc::tls::Service::SpTsm.server_name(), None)?;
    for guess in neighbours {
        let request = http
            .post(format!("{}/v1/relay/{guess}", lab.phone_tap.url()))
            .json(&serde_json::json!({ "responses": ["9000"] }));
        let r = svc::client::call_json("the SP-TSM", request).await;
        a.refused("posting SE responses to a guessed relay session", "404 unknown_session", r)?;
    }
    a.saw(
        "reading the length of a relay session id (unguessable: 256 random bits)",
        "64 hex digits",
        format!("{} hex digits", session.len()),
    )?;

    let r = sp.submit(&cms, cms_evidence.as_deref()).await.map(|_| ());
    a.refused("replaying the victim's signed application", "403 unknown_nonce", r)?;

    // A finished application cannot be run again, even by its applicant.
    let done = victim.apply(&sp, &mut card, CARD_SIGN_PASSWORD, &BOTH).await.map_err(lab_err)?;
    done.outcome.map_err(lab_err)?;
    let reference = done.application.ok_or_else(|| Breach::Lab("no application reference".into()))?;
    let r = victim.attesting(&sp).resume(&reference, &mut victim.relay()).await.map(|o| o.result);
    a.refused("resuming a finished application (a second provisioning from one application)", "409 not_resumable", r)?;

    audit_log(lab, &mut a).await?;
    a.done()
}

type Entry = (i64, i64, String, String, String, String);

/// The JPKI service's audit log attacked in its database.
async fn audit_log(lab: &Lab, a: &mut Attempts) -> Result<(), Breach> {
    use jlis::audit::{verify_with, Checkpoint};
    use store::params;
    let dir = lab.dir();
    let config = jlis::config::Config::load(&dir.join("jlis.toml"))?;
    let db = store::Store::open(&config.database, jlis::schema::MIGRATIONS).await.map_err(lab_err)?;
    let public_key = jlis::audit::read_public_key(&jlis::audit::public_key_file(&config.audit_key_file))?;
    // Wait until the service has signed the head of what happened so far.
    let head = || async {
        let row =
            db.read(|tx| tx.optional("SELECT seq FROM audit ORDER BY seq DESC LIMIT 1", &[])).await.map_err(lab_err)?;
        row.map(|r| r.int("seq")).transpose().map_err(lab_err).map(|s| s.unwrap_or(0))
    };
    let target = head().await?;
    let mut anchor = None;
    for _ in 0..100 {
        if let Ok(cp) = Checkpoint::read(&config.audit_checkpoint_file) {
            if cp.seq >= target {
                anchor = Some(cp);
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let anchor = anchor.ok_or_else(|| Breach::Lab("the JPKI service signed no audit checkpoint".into()))?;
    let rows = db
        .read(|tx| tx.all("SELECT seq, at, event, detail, prev_hash, hash FROM audit ORDER BY seq", &[]))
        .await
        .map_err(lab_err)?;
    let saved = rows
        .iter()
        .map(|r| {
            Ok((
                r.int("seq")?,
                r.int("at")?,
                r.text("event")?,
                r.text("detail")?,
                r.text("prev_hash")?,
                r.text("hash")?,
            ))
        })
        .collect::<Result<Vec<Entry>, store::StoreError>>()
        .map_err(lab_err)?;
    let replace = |rows: Vec<Entry>, drop_checkpoints_after: Option<i64>| {
        db.write(move |tx| {
            tx.execute("DELETE FROM audit", &[])?;
            for (seq, at, event, detail, prev, hash) in rows {
                tx.execute(
                    "INSERT INTO audit (seq, at, event, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6)",
                    params![seq, at, event, detail, prev, hash],
                )?;
            }
            if let Some(seq) = drop_checkpoints_after {
                tx.execute("DELETE FROM audit_checkpoints WHERE seq > $1", params![seq])?;
            }
            Ok::<_, store::StoreError>(())
        })
    };
    let covered: Vec<Entry> = saved.iter().filter(|e| e.0 <= anchor.seq).cloned().collect();
    let keep = covered.len().saturating_sub(2);
    let cut = covered[..keep].to_vec();
    let checkpoints =
        db.read(|tx| tx.all("SELECT seq, hash, at, signature FROM audit_checkpoints", &[])).await.map_err(lab_err)?;
    replace(cut, Some(keep as i64)).await.map_err(lab_err)?;
    let r = verify_with(&db, &public_key, Some(&anchor)).await.map_err(lab_err)?.map(|v| v.entries);
    a.refused(
        "a database writer cuts the audit log's last two entries and their checkpoints",
        "the audit log was cut",
        r,
    )?;

    let mut prev = jlis::audit::GENESIS.to_string();
    let mut rewritten = Vec::with_capacity(covered.len());
    for (seq, at, event, detail, _, _) in covered.iter().cloned() {
        // The first entry's actor becomes someone else.
        let detail = if seq == 1 { detail.replacen("\"role\":\"", "\"role\":\"not-", 1) } else { detail };
        let hash = jlis::audit::entry_hash(&prev, seq, at, &event, &detail);
        rewritten.push((seq, at, event, detail, prev.clone(), hash.clone()));
        prev = hash;
    }
    replace(rewritten, None).await.map_err(lab_err)?;
    let chain_alone = jlis::audit::verify(&db).await.map_err(lab_err)?;
    let r = verify_with(&db, &public_key, Some(&anchor)).await.map_err(lab_err)?.map(|v| v.entries);
    if chain_alone.is_err() {
        return Err(Breach::Lab("the rewritten chain should fool a hash-only check".into()));
    }
    a.refused("it rewrites the whole chain around an edited entry (who acted)", "the audit log was rewritten", r)?;

    // Put everything back as the service wrote it.
    replace(saved, None).await.map_err(lab_err)?;
    db.write(move |tx| {
        for row in checkpoints {
            tx.execute(
                "INSERT INTO audit_checkpoints (seq, hash, at, signature) VALUES ($1, $2, $3, $4) ON CONFLICT (seq) DO NOTHING",
                params![row.int("seq")?, row.text("hash")?, row.int("at")?, row.text("signature")?],
            )?;
        }
        Ok::<_, store::StoreError>(())
    })
    .await
    .map_err(lab_err)?;
    let intact = verify_with(&db, &public_key, Some(&anchor)).await.map_err(lab_err)?;
    intact.map_err(|e| Breach::Lab(format!("the audit log was not restored: {e}")))?;
    Ok(())
}
