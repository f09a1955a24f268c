//! Pattern 13 — operations the user did not approve (⑦ ②).
//!
//! A business app asks the JPKI app, through the intent API, to sign and to
//! authenticate. The holder sees the request and declines: no signature
//! comes back and no PIN try is spent. The same request the holder
//! approves (entering the PIN) yields a signature that verifies — so the
//! refusal is the decline's, not a broken path. And no signature exists
//! without the PIN: a sign command on the JPKI app's own channel without
//! VERIFY is refused by the applet.

use crate::lab::{rogue_app, Lab, PHONE_PINS};
use crate::{lab_err, Attempts, Breach, Refusal};
use jpki::{KeyType, PinId};
use phone::app::Intent;
use zeroize::Zeroizing;

/// Runs the attempts.
pub async fn run(lab: &Lab) -> Result<Vec<Refusal>, Breach> {
    let mut card = lab.card().await?;
    let app = lab.provisioned_phone(&mut card).await?;
    let bank = rogue_app("com.example.bank");
    let mut a = Attempts::default();
    let open = || phone::device::JpkiApplet::open(&app.se_service(), &crate::lab::jpki_app_identity()).map_err(lab_err);
    let counters = || -> Result<(u8, u8), Breach> {
        let mut applet = jpki::JpkiCard::new(open()?);
        Ok((applet.pin_tries_left(PinId::Auth).map_err(lab_err)?, applet.pin_tries_left(PinId::Sign).map_err(lab_err)?))
    };
    let before = counters()?;

    let r = app.handle_intent(&bank, Intent::Sign(b"contract v1".to_vec()), |_| None).map(|s| s.signature);
    a.refused("a business app asks for a signature; the holder declines", "the user declined", r)?;
    let r = app.handle_intent(&bank, Intent::Authenticate(b"login challenge".to_vec()), |_| None).map(|s| s.signature);
    a.refused("a business app asks for an authentication; the holder declines", "the user declined", r)?;
    a.unchanged("the declined requests", "the PIN try counters", &before, &counters()?)?;

    let approved = app
        .handle_intent(&bank, Intent::Sign(b"contract v1".to_vec()), |_| Some(Zeroizing::new(PHONE_PINS.1.to_string())))
        .map_err(|e| Breach::Lab(format!("the approved signature failed: {e}")))?;
    let key = pki::cert::parse_certificates(&approved.certificate).map_err(lab_err)?.remove(0);
    pki::rsa::verify(
        &pki::cert::public_key_der(&key).map_err(lab_err)?,
        pki::HashAlg::Sha256,
        b"contract v1",
        &approved.signature,
    )
    .map_err(|e| Breach::Lab(format!("the approved signature does not verify: {e}")))?;

    let mut applet = jpki::JpkiCard::new(open()?);
    let h = pki::HashAlg::Sha256;
    let r = applet.sign(KeyType::Sign, &h.digest_info(&h.digest(b"never approved"))).map(|s| s.len());
    a.refused("a signature without the PIN on the JPKI app's own channel", "requires the signature password", r)?;
    a.done()
}
