//! Pattern 1 — a fake app on the holder's phone talks to the SE (⑦).
//!
//! The attacker's app tries every door to the JPKI applet: an OMAPI
//! channel, the TSM relay (the path that once bypassed the enforcer), and
//! a rogue app wearing the JPKI app's package name with its own signing
//! certificate. A reader held to the phone (NFC) tries the phone-only
//! commands. The SE must be exactly as before.

use crate::lab::{rogue_app, se_snapshot, Lab};
use crate::{lab_err, Attempts, Breach, Refusal};
use apdu::Transport;
use phone::{App, NfcEmulation, Relay};
const JPKI_APPLET: &[u8] = &jpki::ap::AID_JPKI;

/// SELECT the JPKI applet by AID on the basic channel.
fn select_jpki() -> Vec<u8> {
    [&[0x00, 0xA4, 0x04, 0x00, JPKI_APPLET.len() as u8][..], JPKI_APPLET, &[0x00]].concat()
}

/// The applet's commitment command (draws a new R).
pub const COMMITMENT: [u8; 5] = [0x80, 0xC0, 0x00, 0x00, 0x20];

/// Runs the attempts.
pub async fn run(lab: &Lab) -> Result<Vec<Refusal>, Breach> {
    let (victim, before) = lab.victim().await?;
    let service = victim.se_service();
    let mut a = Attempts::default();

    let rogue = rogue_app("com.example.flashlight");
    let omapi = service.readers()[0].open_session(&rogue).open_logical_channel(JPKI_APPLET, 0x00).map(|_| ());
    a.refused("a rogue app opens an OMAPI channel to the JPKI applet", "access denied", omapi)?;

    let mut relay = Relay::new(&service, &rogue);
    a.refused(
        "a rogue app SELECTs the JPKI applet through the TSM relay",
        "access denied",
        relay.transmit_raw(&select_jpki()),
    )?;
    a.refused(
        "then sends the commitment command through the relay without a selection",
        "nothing was selected",
        relay.transmit_raw(&COMMITMENT),
    )?;

    let lookalike = App::new("jp.go.jpki.app", b"the attacker's own signing certificate".to_vec());
    let channel = service.readers()[0].open_session(&lookalike).open_logical_channel(JPKI_APPLET, 0x00).map(|_| ());
    a.refused("an app named like the JPKI app but signed by the attacker opens a channel", "access denied", channel)?;
    let mut relay = Relay::new(&service, &lookalike);
    a.refused("the look-alike app relays a SELECT of the applet", "access denied", relay.transmit_raw(&select_jpki()))?;

    // The rogue app selects a security domain (any app may), then waits
    // for an NFC reader to select the applet on the SE's basic channel.
    let mut relay = Relay::new(&service, &rogue);
    let isd = gp::commands::select(gp::aids::ISD).to_bytes().map_err(lab_err)?;
    relay.transmit_raw(&isd).map_err(lab_err)?;
    let mut nfc = NfcEmulation::new(&service);
    let selected = apdu::Icc::process(&mut nfc, &select_jpki());
    if selected[selected.len() - 2..] != [0x90, 0x00] {
        return Err(Breach::Lab(format!("NFC SELECT of the JPKI AP answered {}", hex::encode_upper(&selected))));
    }
    a.refused(
        "the rogue app relays the commitment command after a reader selected the applet on the basic channel",
        "selected by someone else",
        relay.transmit_raw(&COMMITMENT),
    )?;
    let commitment = apdu::Icc::process(&mut nfc, &COMMITMENT);
    a.saw("a reader held to the phone sends the commitment command over NFC", "6D00", hex::encode_upper(commitment))?;
    let set_pin = apdu::Icc::process(&mut nfc, &[0x80, 0xC2, 0x01, 0x80, 0x04, b'1', b'1', b'1', b'1']);
    a.saw("a reader sets the phone's auth PIN over NFC", "6D00", hex::encode_upper(set_pin))?;
    let manage = apdu::Icc::process(&mut nfc, &[0x00, 0x70, 0x00, 0x00, 0x01]);
    a.saw("a reader opens a logical channel over NFC", "6D00", hex::encode_upper(manage))?;

    a.unchanged(
        "the rogue apps and the reader",
        "the SE's state (R, PINs, keys, counters)",
        &before,
        &se_snapshot(&victim),
    )?;
    a.done()
}
