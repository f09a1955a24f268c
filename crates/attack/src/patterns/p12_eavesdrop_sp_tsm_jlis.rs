//! Pattern 12 — eavesdropping between the SP-TSM and the JPKI service (⑩).
//!
//! The attacker on the closed network records the SP-TSM's calls during a
//! provisioning: the card's status, the phone certificate requests with
//! the holder's application. Mutually authenticated TLS 1.3 shows nothing —
//! not even the SP-TSM's client certificate, which TLS 1.3 encrypts.

use crate::lab::{Lab, BOTH, CARD_SIGN_PASSWORD, PHONE_PINS};
use crate::patterns::p11_eavesdrop_app_sp_tsm::visible;
use crate::tap::Direction;
use crate::{lab_err, Attempts, Breach, Refusal};

fn middle(der: &[u8]) -> Vec<u8> {
    der[der.len() / 2..der.len() / 2 + 32].to_vec()
}

/// Runs the attempts.
pub async fn run(lab: &Lab) -> Result<Vec<Refusal>, Breach> {
    let mut card = lab.card().await?;
    let phone = lab.prepared_phone().await?;
    let sp = lab.sp()?;
    let mut a = Attempts::default();
    lab.jlis_tap.clear();
    let cms_signed = phone.signed_application(&sp, &mut card, CARD_SIGN_PASSWORD, &BOTH).await.map_err(lab_err)?;
    let (cms, cms_evidence) = (cms_signed.cms, cms_signed.evidence);
    phone.attesting(&sp).apply(&cms, cms_evidence.as_deref(), &mut phone.relay()).await.1.map_err(lab_err)?;
    let (up, down) = (lab.jlis_tap.recorded(Direction::ToServer), lab.jlis_tap.recorded(Direction::ToClient));
    if !crate::tap::is_tls(&up) || !crate::tap::is_tls(&down) {
        return Err(Breach::Lab("the SP-TSM's calls did not cross the tap as TLS".into()));
    }
    card.verify(jpki::PinId::Sign, CARD_SIGN_PASSWORD).map_err(lab_err)?;
    let card_cert = card.read_certificate(jpki::CertType::Sign).map_err(lab_err)?;
    phone.set_pins(PHONE_PINS.0.as_bytes(), PHONE_PINS.1.as_bytes()).map_err(lab_err)?;
    let phone_cert = phone.certificate(tsm_api::PhoneCertType::Auth, Some(PHONE_PINS.0)).map_err(lab_err)?;
    let client_cert = pki::cert::parse_certificates(&std::fs::read(lab.dir().join("tls/sp-tsm.pem")).map_err(lab_err)?)
        .map_err(lab_err)?
        .remove(0);
    let secrets = vec![
        ("the card certificate", middle(&card_cert)),
        ("the holder's application", middle(&cms)),
        ("the phone certificate", middle(&phone_cert)),
        ("the SE identifier", phone.se_identifier().into_bytes()),
        ("the SP-TSM's client certificate", middle(&der::Encode::to_der(&client_cert).map_err(lab_err)?)),
    ];
    let tried = format!("recording {} bytes between the SP-TSM and the JPKI service", up.len() + down.len());
    a.saw(&format!("{tried}: the SP-TSM's requests"), "nothing in clear", visible(&up, &secrets))?;
    a.saw(&format!("{tried}: the JPKI service's answers"), "nothing in clear", visible(&down, &secrets))?;
    a.done()
}
