//! Pattern 8 — someone else's card is used, or a card key is extracted
//! (① ⑥).
//!
//! The attacker holds the victim's card but not its signature password and
//! applies through the JPKI app with guesses: each wrong password is
//! counted once (never retried silently) until the password blocks; then
//! even the right one is refused. The private keys cannot be read even with
//! the password. A "card" the attacker made, with its own CA, is refused by
//! the SP-TSM.

use crate::lab::{Lab, BOTH, CARD_SIGN_PASSWORD};
use crate::{lab_err, Attempts, Breach, Refusal};
use jpki::PinId;

/// Runs the attempts.
pub async fn run(lab: &Lab) -> Result<Vec<Refusal>, Breach> {
    let mut victims = lab.card().await?;
    let phone = lab.prepared_phone().await?;
    let sp = lab.sp()?;
    let mut a = Attempts::default();

    let mut tries = victims.pin_tries_left(PinId::Sign).map_err(lab_err)?;
    while tries > 0 {
        let r = phone.apply(&sp, &mut victims, "WRONG123", &BOTH).await.map(|a| a.application);
        let now = victims.pin_tries_left(PinId::Sign).map_err(lab_err)?;
        if now != tries - 1 {
            return Err(Breach::Changed {
                tried: "a wrong signature password".into(),
                what: format!("the try counter went from {tries} to {now}, not down by one"),
            });
        }
        let expected = if now == 0 { "is blocked" } else { "tries left before it blocks" };
        a.refused(&format!("applying with a guessed signature password ({tries} tries left)"), expected, r)?;
        tries = now;
    }
    let r = phone.apply(&sp, &mut victims, CARD_SIGN_PASSWORD, &BOTH).await.map(|a| a.application);
    a.refused("applying with the right password after the lockout", "is blocked", r)?;

    let mut card = lab.card().await?;
    card.verify(PinId::Sign, CARD_SIGN_PASSWORD).map_err(lab_err)?;
    let transport = card.transport_mut();
    let select = apdu::Command::new(0x00, 0xA4, 0x02, 0x0C).with_data(jpki::ap::EF_SIGN_KEY.to_be_bytes().to_vec());
    let selected = apdu::Transport::send(transport, &select).map_err(lab_err)?;
    a.saw("selecting the signature key's EF", "Ok", format!("{:?}", selected.sw))?;
    let read =
        apdu::Transport::send(transport, &apdu::Command::new(0x00, 0xB0, 0x00, 0x00).with_ne(256)).map_err(lab_err)?;
    a.saw(
        "reading the signature private key with the password verified",
        "6981",
        hex::encode_upper(read.sw.to_bytes()),
    )?;

    // A card the attacker personalized under its own CA, in the victim's name.
    let forged_ca_dir = lab.dir().join("attacker").join("ca");
    let forged_ca = pki::ca::LocalCa::open_or_create(&forged_ca_dir).map_err(lab_err)?;
    let forged = mynacard::personalize::new_card(
        &forged_ca,
        &crate::lab::holder(),
        "123456789018",
        mynacard::personalize::InitialPins::test_card(),
    )
    .map_err(lab_err)?;
    let mut forged =
        jpki::JpkiCard::new(transport::InProcess::new(mynacard::MynaCard::in_memory(forged).map_err(lab_err)?));
    let r = phone.apply(&sp, &mut forged, CARD_SIGN_PASSWORD, &BOTH).await.map(|a| a.application);
    a.refused("applying with a card from the attacker's own CA", "403 bad_signature", r)?;

    let linked = lab.issued_to(&phone.se_identifier()).await?;
    a.unchanged("the card attacks", "the certificates linked to the phone", &0, &linked)?;
    a.done()
}
