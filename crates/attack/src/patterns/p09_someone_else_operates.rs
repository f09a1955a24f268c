//! Pattern 9 — someone else operates the phone: PIN setting and the like
//! (②).
//!
//! A thief with the holder's unlocked phone tries to take over the JPKI
//! app's keys: set the PINs anew (they are set once, offline, right after
//! provisioning), change them without the old ones, and guess them. Every
//! guess is counted, and the PIN blocks.

use crate::lab::{Lab, PHONE_PINS};
use crate::{lab_err, Attempts, Breach, Refusal};
use jpki::PinId;
use tsm_api::PhoneCertType as CertType;

/// Runs the attempts.
pub async fn run(lab: &Lab) -> Result<Vec<Refusal>, Breach> {
    let mut card = lab.card().await?;
    let app = lab.provisioned_phone(&mut card).await?;
    let mut a = Attempts::default();

    a.refused("the thief sets the phone's PINs to its own", "69 85", app.set_pins(b"1111", b"THIEF1"))?;
    a.refused(
        "the thief changes the sign PIN without the old one",
        "tries left",
        app.change_pin(PinId::Sign, "GUESS1", "THIEF1"),
    )?;
    // The holder's PINs are still the holder's.
    app.sign(CertType::Sign, PHONE_PINS.1, b"still mine").map_err(|e| Breach::Changed {
        tried: "setting and changing the PINs".into(),
        what: format!("the holder's sign PIN no longer works: {e}"),
    })?;

    let mut applet = jpki::JpkiCard::new(
        phone::device::JpkiApplet::open(&app.se_service(), &crate::lab::jpki_app_identity()).map_err(lab_err)?,
    );
    let mut tries = applet.pin_tries_left(PinId::Auth).map_err(lab_err)?;
    for guess in ["0000", "1234", "9999", "1111", "4321"] {
        if tries == 0 {
            break;
        }
        let r = app.sign(CertType::Auth, guess, b"log in as the holder").map(|s| s.signature.len());
        let now = applet.pin_tries_left(PinId::Auth).map_err(lab_err)?;
        if now != tries - 1 {
            return Err(Breach::Changed {
                tried: format!("auth PIN guess {guess}"),
                what: format!("the try counter went from {tries} to {now}"),
            });
        }
        let expected = if now == 0 { "is blocked" } else { "tries left" };
        a.refused(&format!("the thief guesses the auth PIN ({tries} tries left)"), expected, r)?;
        tries = now;
    }
    if tries == 0 {
        let r = app.sign(CertType::Auth, PHONE_PINS.0, b"log in as the holder").map(|s| s.signature.len());
        a.refused("the right auth PIN after the lockout", "is blocked", r)?;
    }
    a.done()
}
