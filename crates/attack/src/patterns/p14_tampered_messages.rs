//! Pattern 14 — tampering with messages: HTTPS, SCP03, the commitment
//! (⑧ ⑨ ⑩).
//!
//! The attacker flips bytes in the TLS stream between the phone and the
//! SP-TSM; on the relay it flips a command, flips a response, replays an
//! earlier command, drops one (answering `90 00` itself) and reorders a
//! script; and it alters the commitment inside the card-signed
//! application. Each is detected, the flow ends, and no certificate is
//! issued to the phone.

use crate::lab::{Lab, BOTH, CARD_SIGN_PASSWORD};
use crate::relay::{RelayTap, Tamper};
use crate::tap::Direction;
use crate::{lab_err, Attempts, Breach, Refusal};

/// The relay's command index of the first command inside the SP domain's
/// secure channel on first contact (after SELECT ISD, GET DATA CPLC,
/// SELECT SD, INITIALIZE UPDATE, EXTERNAL AUTHENTICATE): the SP-TSM's PUT
/// KEY replacing the handed-over keys.
const IN_SESSION: usize = 5;

/// Runs the attempts.
pub async fn run(lab: &Lab) -> Result<Vec<Refusal>, Breach> {
    let mut card = lab.card().await?;
    let phone = lab.prepared_phone().await?;
    let sp = lab.sp()?;
    let mut a = Attempts::default();

    // TLS: flip a bit in every application-data record to the SP-TSM.
    lab.phone_tap.rewrite(|direction, chunk| {
        if direction == Direction::ToServer && chunk.first() == Some(&0x17) && chunk.len() > 32 {
            let last = chunk.len() - 1;
            chunk[last] ^= 0x01;
        }
    });
    let r = phone.apply(&sp, &mut card, CARD_SIGN_PASSWORD, &BOTH).await.map(|a| a.application);
    lab.phone_tap.stop_rewriting();
    a.refused("flipping a bit in the TLS records from the app to the SP-TSM", "error sending request", r)?;

    let relay_attacks = [
        (Tamper::FlipCommand { at: IN_SESSION }, "flipping a bit of a command inside SCP03", "se_refused"),
        (
            Tamper::FlipResponse { at: IN_SESSION },
            "flipping a bit of the SE's response inside SCP03",
            "secure_channel_failed",
        ),
        (
            Tamper::Replay { at: IN_SESSION + 1, earlier: IN_SESSION },
            "replaying an earlier command in place of the next",
            "se_refused",
        ),
        (Tamper::Drop { at: IN_SESSION }, "dropping a command and answering 90 00 for the SE", "secure_channel_failed"),
        (Tamper::Reorder, "reordering the commands of a script", "se_refused"),
        (Tamper::ReplayScript { at: 4 }, "replaying a whole earlier command script in place of the next", "se_refused"),
    ];
    for (tamper, tried, expected) in relay_attacks {
        // A phone of its own each, so the commands are the first contact's.
        let target = lab.prepared_phone().await?;
        let cms_signed = target.signed_application(&sp, &mut card, CARD_SIGN_PASSWORD, &BOTH).await.map_err(lab_err)?;
        let (cms, cms_evidence) = (cms_signed.cms, cms_signed.evidence);
        let mut relay = RelayTap::new(target.relay(), tamper);
        let (_, outcome) = target.attesting(&sp).apply(&cms, cms_evidence.as_deref(), &mut relay).await;
        a.refused(tried, expected, outcome.map(|o| o.result))?;
        let linked = lab.issued_to(&target.se_identifier()).await?;
        a.unchanged(tried, "the certificates linked to the phone", &0, &linked)?;
    }

    // The commitment inside the card's signature: the attacker swaps its
    // first hex digit.
    let cms_signed = phone.signed_application(&sp, &mut card, CARD_SIGN_PASSWORD, &BOTH).await.map_err(lab_err)?;
    let (cms, cms_evidence) = (cms_signed.cms, cms_signed.evidence);
    let at = cms
        .windows(14)
        .position(|w| w == b"\"commitment\":\"")
        .ok_or_else(|| Breach::Lab("no commitment in the CMS".into()))?
        + 14;
    let mut altered = cms.clone();
    altered[at] = if altered[at] == b'0' { b'1' } else { b'0' };
    let (_, outcome) = sp.apply(&altered, cms_evidence.as_deref(), &mut phone.relay()).await;
    a.refused(
        "altering the commitment S inside the card-signed application",
        "403 bad_signature",
        outcome.map(|o| o.result),
    )?;

    let linked = lab.issued_to(&phone.se_identifier()).await?;
    a.unchanged("the tampered messages", "the certificates linked to the phone", &0, &linked)?;
    a.done()
}
