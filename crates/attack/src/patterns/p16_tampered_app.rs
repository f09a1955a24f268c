//! Pattern 16 — tampering with the app's own processing: a revocation
//! whose applet is left behind (harmless by design, ⑤).
//!
//! A modified JPKI app sends the holder's revocation but never relays the
//! SP-TSM's wipe, so the applet keeps its keys and still signs. The
//! certificates were revoked at the JPKI service before the wipe was even
//! asked for, so every relying party that checks status — OCSP, as here —
//! refuses what the leftover applet signs.

use crate::lab::{Lab, PHONE_PINS};
use crate::{lab_err, Attempts, Breach, Refusal};
use apdu::{Transport, TransportError};
use jlis_api::status::Status;
use tsm_api::PhoneCertType as CertType;

/// The modified app's relay: it forwards nothing.
struct Withheld;

impl Transport for Withheld {
    fn transmit_raw(&mut self, _: &[u8]) -> Result<Vec<u8>, TransportError> {
        Err(TransportError::backend("modified app", "the wipe is not relayed"))
    }
}

/// Runs the attempts.
pub async fn run(lab: &Lab) -> Result<Vec<Refusal>, Breach> {
    let mut card = lab.card().await?;
    let app = lab.provisioned_phone(&mut card).await?;
    let sp = lab.sp()?;
    let mut a = Attempts::default();

    let nonce = sp.nonce().await.map_err(lab_err)?;
    let request = tsm_api::types::RevocationRequest {
        nonce: hex::encode(nonce),
        action: "revoke".into(),
        se_id: app.se_identifier(),
    };
    let content = serde_json::to_vec(&request).map_err(lab_err)?;
    let cms = app.cms_sign(CertType::Auth, PHONE_PINS.0, &content, false).map_err(lab_err)?;
    let confirmation = app.revocation_confirmation(&nonce, |_| true).map_err(lab_err)?;
    let r = app.attesting(&sp).revoke(&cms, confirmation, &mut Withheld).await.map(|o| o.result);
    a.refused("the modified app revokes but withholds the wipe", "the wipe is not relayed", r)?;

    let signed = app
        .cms_sign(CertType::Sign, PHONE_PINS.1, b"signed after the revocation", false)
        .map_err(|e| Breach::Lab(format!("the leftover applet no longer signs: {e}")))?;
    let cas = lab.deployment.jpki_cas()?;
    let checked =
        pki::cms::verify(&signed, &pki::cms::VerifyOptions { anchors: &cas, detached_content: None, at: None })
            .map_err(lab_err)?;
    let signer = der::Encode::to_der(&checked.signer).map_err(lab_err)?;
    let http = jlis_api::status::client();
    let status = jlis_api::status::ocsp(&http, &lab.deployment.ocsp_url, &signer, &cas).await.map_err(String::from)?;
    let refusal = match &status {
        Status::Revoked { reason } => Err(format!("revoked ({})", reason.clone().unwrap_or_default())),
        other => Ok(format!("{other:?}")),
    };
    a.refused("a relying party checks what the leftover applet signed (OCSP)", "revoked", refusal)?;
    a.done()
}
