//! Pattern 15 — tampering with business processing: the SP-TSM's state
//! transitions, the SE, the JPKI service (③ ④ ⑤).
//!
//! Someone who learned another holder's application id pushes it through
//! the SP-TSM's state machine (resume it, with no token or a forged one),
//! guesses relay sessions next to its own, replays a used application and
//! resumes a finished one. The SP-TSM refuses each and the victim's
//! application is as it was.

use crate::lab::{Lab, BOTH, CARD_SIGN_PASSWORD};
use crate::{Attempts, Breach, Refusal};
use tsm::client::ApplicationRef;

fn lab_err(e: impl std::fmt::Display) -> Breach {
    Breach::Lab(e.to_string())
}

/// Runs the attempts.
pub async fn run(lab: &Lab) -> Result<Vec<Refusal>, Breach> {
    let mut card = lab.card().await?;
    let victim = lab.prepared_phone().await?;
    let sp = lab.sp()?;
    let mut a = Attempts::default();

    // The victim's application is interrupted: the phone stops relaying.
    let cms = victim.signed_application(&sp, &mut card, CARD_SIGN_PASSWORD, &BOTH).await.map_err(lab_err)?;
    let first = sp.submit(&cms).await.map_err(lab_err)?;
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

    let r = sp.submit(&cms).await.map(|_| ());
    a.refused("replaying the victim's signed application", "403 unknown_nonce", r)?;

    // A finished application cannot be run again, even by its applicant.
    let done = victim.apply(&sp, &mut card, CARD_SIGN_PASSWORD, &BOTH).await.map_err(lab_err)?;
    done.outcome.map_err(lab_err)?;
    let reference = done.application.ok_or_else(|| Breach::Lab("no application reference".into()))?;
    let r = sp.resume(&reference, &mut victim.relay()).await.map(|o| o.result);
    a.refused("resuming a finished application (a second provisioning from one application)", "409 not_resumable", r)?;
    a.done()
}
