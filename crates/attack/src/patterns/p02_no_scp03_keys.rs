//! Pattern 2 — a fake app or a fake SP-TSM talks to the SE without the
//! SCP03 keys (⑨).
//!
//! Security domains are reachable through any app's relay (the enforcer
//! lets SD selection through), so the keys are all that stands between an
//! attacker and card management: plain STORE DATA (key generation, writing
//! certificates), INSTALL, PUT KEY and DELETE; an SCP03 handshake with
//! guessed keys; a forged EXTERNAL AUTHENTICATE.

use crate::lab::{rogue_app, se_snapshot, Lab};
use crate::{lab_err, Attempts, Breach, Refusal};
use apdu::{Transport, TransportError};
use gp::aids::ISD;
use jpki::ap::SP_DOMAIN;
use phone::Relay;
const JPKI_APPLET: &[u8] = &jpki::ap::AID_JPKI;

fn sw(r: Result<Vec<u8>, TransportError>) -> String {
    match r {
        Ok(bytes) if bytes.len() >= 2 => hex::encode_upper(&bytes[bytes.len() - 2..]),
        Ok(bytes) => format!("short response {}", hex::encode_upper(bytes)),
        Err(e) => e.to_string(),
    }
}

fn bytes(c: &apdu::Command) -> Result<Vec<u8>, Breach> {
    c.to_bytes().map_err(lab_err)
}

/// Runs the attempts.
pub async fn run(lab: &Lab) -> Result<Vec<Refusal>, Breach> {
    let (victim, before) = lab.victim().await?;
    let service = victim.se_service();
    let mut a = Attempts::default();
    let mut relay = Relay::new(&service, &rogue_app("com.example.fake-sp-tsm"));
    let select = |aid: &[u8]| bytes(&gp::commands::select(aid));

    relay.transmit_raw(&select(SP_DOMAIN)?).map_err(lab_err)?;
    let personalize = bytes(&gp::commands::install_for_personalization(JPKI_APPLET).map_err(lab_err)?)?;
    a.saw("INSTALL [for personalization] of the JPKI applet, plain", "6982", sw(relay.transmit_raw(&personalize)))?;
    let keygen = bytes(
        &gp::commands::store_data(0x81, 0, &jpki::phone_applet::provision::generate_key(jpki::KeyType::Auth))
            .with_ne(256),
    )?;
    a.saw("STORE DATA: generate a key pair in the applet, plain", "6982", sw(relay.transmit_raw(&keygen)))?;
    let keys = gp::StaticKeys::new(0x30, &[0x11; 16], &[0x22; 16], &[0x33; 16]).map_err(lab_err)?;
    let dek = gp::AesKey::new(&[0x44; 16]).map_err(lab_err)?;
    let put_key = bytes(&gp::commands::put_key(0x30, &keys, &dek))?;
    a.saw(
        "PUT KEY: replace the SP domain's keys with the attacker's, plain",
        "6982",
        sw(relay.transmit_raw(&put_key)),
    )?;

    let init = [0x80, 0x50, 0x30, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8, 0x00].to_vec();
    relay.transmit_raw(&select(SP_DOMAIN)?).map_err(lab_err)?;
    let _ = relay.transmit_raw(&init);
    let forged = [[0x84, 0x82, 0x33, 0x00, 0x10].as_slice(), &[0xA5; 16]].concat();
    a.saw(
        "INITIALIZE UPDATE, then EXTERNAL AUTHENTICATE with a forged cryptogram",
        "6982",
        sw(relay.transmit_raw(&forged)),
    )?;

    relay.transmit_raw(&select(ISD)?).map_err(lab_err)?;
    let delete = bytes(&gp::commands::delete(SP_DOMAIN, true).map_err(lab_err)?)?;
    a.saw("DELETE the SP domain and the JPKI applet through the ISD, plain", "6982", sw(relay.transmit_raw(&delete)))?;

    let guessed = gp::StaticKeys::new(0x30, &[0x5A; 16], &[0x5A; 16], &[0x5A; 16]).map_err(lab_err)?;
    let mut challenge = [0u8; 8];
    pki::fill_random(&mut challenge);
    let session = gp::session::Blocking::open(&mut relay, SP_DOMAIN, guessed, 0x33, challenge).map(|_| ());
    a.refused("a fake SP-TSM opens SCP03 with the SP domain using guessed keys", "card cryptogram invalid", session)?;

    a.unchanged("the fake SP-TSM", "the SE's state (keys, applet, certificates)", &before, &se_snapshot(&victim))?;
    a.done()
}
