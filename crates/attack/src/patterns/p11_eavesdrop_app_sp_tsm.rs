//! Pattern 11 — eavesdropping between the app and the SP-TSM (⑧ ⑨).
//!
//! The attacker records everything between the phone and the SP-TSM during
//! an application and its provisioning. HTTPS carries it: no part of the
//! card-signed application, its nonce or commitment, no relayed APDU, no
//! certificate is visible.

use crate::lab::{Lab, BOTH, CARD_SIGN_PASSWORD};
use crate::tap::{contains, Direction};
use crate::{lab_err, Attempts, Breach, Refusal};

/// What a recording shows of `secrets` (name, bytes).
pub fn visible(recorded: &[u8], secrets: &[(&str, Vec<u8>)]) -> String {
    let seen: Vec<&str> = secrets.iter().filter(|(_, s)| contains(recorded, s)).map(|(n, _)| *n).collect();
    if seen.is_empty() {
        "nothing in clear".into()
    } else {
        format!("in clear: {}", seen.join(", "))
    }
}

/// Runs the attempts.
pub async fn run(lab: &Lab) -> Result<Vec<Refusal>, Breach> {
    let mut card = lab.card().await?;
    let phone = lab.prepared_phone().await?;
    let sp = lab.sp()?;
    let mut a = Attempts::default();
    lab.phone_tap.clear();
    let cms_signed = phone.signed_application(&sp, &mut card, CARD_SIGN_PASSWORD, &BOTH).await.map_err(lab_err)?;
    let (cms, cms_evidence) = (cms_signed.cms, cms_signed.evidence);
    let (_, outcome) = phone.attesting(&sp).apply(&cms, cms_evidence.as_deref(), &mut phone.relay()).await;
    let result = outcome.map_err(lab_err)?.result;
    let (up, down) = (lab.phone_tap.recorded(Direction::ToServer), lab.phone_tap.recorded(Direction::ToClient));
    if !crate::tap::is_tls(&up) || !crate::tap::is_tls(&down) {
        return Err(Breach::Succeeded {
            tried: "recording app ↔ SP-TSM".into(),
            what: "what crossed is not TLS".into(),
        });
    }
    let (application, card_cert) = lab.application_of(&cms)?;
    let serials: Vec<Vec<u8>> = result["certificates"]
        .as_array()
        .map(|c| c.iter().filter_map(|c| c["serial"].as_str()).map(|s| s.as_bytes().to_vec()).collect())
        .unwrap_or_default();
    let mut secrets = vec![
        ("the CMS application", cms[cms.len() - 64..cms.len() - 32].to_vec()),
        ("the card certificate", card_cert[card_cert.len() - 64..card_cert.len() - 32].to_vec()),
        ("the nonce", application.nonce.as_bytes().to_vec()),
        ("the commitment", application.commitment.as_bytes().to_vec()),
        ("a relayed APDU (SELECT of the ISD, hex)", b"00A4040008A000000151000000".to_vec()),
        ("the SE identifier", phone.se_identifier().into_bytes()),
    ];
    secrets.extend(serials.into_iter().map(|s| ("a certificate serial", s)));
    let tried = format!("recording {} bytes between the app and the SP-TSM", up.len() + down.len());
    a.saw(&format!("{tried}: the phone's requests"), "nothing in clear", visible(&up, &secrets))?;
    a.saw(&format!("{tried}: the SP-TSM's answers"), "nothing in clear", visible(&down, &secrets))?;
    a.done()
}
