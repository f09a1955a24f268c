//! Pattern 10 — eavesdropping between the app and the SE (⑨).
//!
//! Malware on the phone records every APDU the JPKI app relays between the
//! SP-TSM and the SE during a whole provisioning. Inside SCP03 at level 33
//! it sees only ciphertext and MACs: not R (whose hash S the app itself
//! sent), not the SP domain's new keys, not the certificates written, and
//! no command after the handshake goes without secure messaging.

use crate::lab::{Lab, BOTH, CARD_SIGN_PASSWORD, PHONE_PINS};
use crate::relay::{RelayTap, Tamper};
use crate::tap::contains;
use crate::{lab_err, Attempts, Breach, Refusal};
use jpki::ap::SP_DOMAIN;
use tsm_api::PhoneCertType as CertType;

/// Whether some 32-byte window of `transcript` hashes to `s` (R in clear).
pub fn reveals_preimage(transcript: &[u8], s: &[u8]) -> bool {
    transcript.windows(32).any(|w| pki::HashAlg::Sha256.digest(w) == s)
}

/// Runs the attempts.
pub async fn run(lab: &Lab) -> Result<Vec<Refusal>, Breach> {
    let mut card = lab.card().await?;
    let phone = lab.prepared_phone().await?;
    let sp = lab.sp()?;
    let mut a = Attempts::default();
    let cms_signed = phone.signed_application(&sp, &mut card, CARD_SIGN_PASSWORD, &BOTH).await.map_err(lab_err)?;
    let (cms, cms_evidence) = (cms_signed.cms, cms_signed.evidence);
    let (application, _) = lab.application_of(&cms)?;
    let s = hex::decode(&application.commitment).map_err(lab_err)?;

    let mut recorder = RelayTap::new(phone.relay(), Tamper::None);
    let (_, outcome) = phone.attesting(&sp).apply(&cms, cms_evidence.as_deref(), &mut recorder).await;
    outcome.map_err(|e| Breach::Lab(format!("the recorded provisioning failed: {e}")))?;
    phone.set_pins(PHONE_PINS.0.as_bytes(), PHONE_PINS.1.as_bytes()).map_err(lab_err)?;
    let transcript = recorder.transcript();

    let tried = format!("recording the {} APDUs of a provisioning", recorder.exchanges.len());
    let r_seen = reveals_preimage(&transcript, &s);
    a.saw(
        &format!("{tried}: looking for R (a 32-byte preimage of S)"),
        "R not in clear",
        if r_seen { "R in clear".into() } else { "R not in clear".into() },
    )?;

    let keys = phone
        .se_service()
        .with_se(|se| se.state().entry(SP_DOMAIN).and_then(|e| e.key_sets.first()).map(|k| k.static_keys()));
    let keys = keys.ok_or_else(|| Breach::Lab("the SP domain has no keys".into()))?;
    let leaked: Vec<&str> = [("ENC", keys.enc.expose()), ("MAC", keys.mac.expose()), ("DEK", keys.dek.expose())]
        .iter()
        .filter(|(_, k)| contains(&transcript, k))
        .map(|(n, _)| *n)
        .collect();
    a.saw(
        &format!("{tried}: looking for the SP domain's new keys"),
        "no key in clear",
        if leaked.is_empty() { "no key in clear".into() } else { format!("keys in clear: {leaked:?}") },
    )?;

    let cert = phone.certificate(CertType::Auth, Some(PHONE_PINS.0)).map_err(lab_err)?;
    let probe = &cert[cert.len() - 64..cert.len() - 32];
    a.saw(
        &format!("{tried}: looking for the certificate written"),
        "certificate not in clear",
        if contains(&transcript, probe) { "certificate in clear".into() } else { "certificate not in clear".into() },
    )?;

    let pins = [PHONE_PINS.0.as_bytes(), PHONE_PINS.1.as_bytes()];
    a.saw(
        &format!("{tried}: looking for the phone PINs"),
        "no PIN relayed",
        if pins.iter().any(|p| contains(&transcript, p)) {
            "a PIN was relayed".into()
        } else {
            "no PIN relayed".into()
        },
    )?;

    // Outside the handshake (SELECT, GET DATA CPLC, INITIALIZE UPDATE),
    // every command carries secure messaging (CLA bit 3).
    let handshake = |c: &[u8]| matches!(c, [0x00, 0xA4, ..] | [0x80, 0xCA, 0x9F, 0x7F, ..] | [0x80, 0x50, ..]);
    let plain: Vec<String> = recorder
        .exchanges
        .iter()
        .filter(|(c, _)| c.len() >= 4 && !handshake(c) && c[0] & 0x04 == 0)
        .map(|(c, _)| hex::encode_upper(&c[..4]))
        .collect();
    a.saw(
        &format!("{tried}: looking for commands without secure messaging"),
        "all secured",
        if plain.is_empty() { "all secured".into() } else { format!("plain commands: {plain:?}") },
    )?;
    a.done()
}
