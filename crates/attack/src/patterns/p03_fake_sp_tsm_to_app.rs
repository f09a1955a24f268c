//! Pattern 3 — a fake SP-TSM talks to the phone app (⑩, TLS identity).
//!
//! The attacker controls the network between the phone and the SP-TSM and
//! diverts the app's connections to its own server: first with a
//! certificate it made itself for the SP-TSM's name, then with the real
//! certificate and key of another service of the deployment (a compromised
//! neighbour: the JPKI service, the SEI-TSM). The app must refuse before it
//! sends anything — no commitment drawn, no password asked of the card.

use crate::fake::{self, Identity};
use crate::lab::{se_snapshot, Lab, BOTH, CARD_SIGN_PASSWORD};
use crate::{lab_err, Attempts, Breach, Refusal};
use axum::routing::post;
use svc::tls::Service;

/// A fake SP-TSM that hands out nonces (and would take the application).
fn fake_sp_tsm() -> axum::Router {
    axum::Router::new().route(
        "/v1/nonces",
        post(|| async { axum::Json(serde_json::json!({ "nonce": "00".repeat(32), "expires_in": 300 })) }),
    )
}

/// Runs the attempts.
pub async fn run(lab: &Lab) -> Result<Vec<Refusal>, Breach> {
    let mut card = lab.card().await?;
    let app = lab.prepared_phone().await?;
    let before = (se_snapshot(&app), card.pin_tries_left(jpki::PinId::Sign).map_err(lab_err)?);
    let mut a = Attempts::default();
    let attempts = [
        (
            Identity::SelfMade(Service::SpTsm),
            "a fake SP-TSM with a self-made certificate for its name",
            "UnknownIssuer",
        ),
        (
            Identity::Stolen(Service::Jlis),
            "a fake SP-TSM with the JPKI service's own certificate and key",
            "certificate not valid for name \"sp-tsm.openjpki.internal\"",
        ),
        (
            Identity::Stolen(Service::SeiTsm),
            "a fake SP-TSM with the SEI-TSM's certificate and key",
            "certificate not valid for name \"sp-tsm.openjpki.internal\"",
        ),
    ];
    let sp = lab.sp()?;
    for (identity, tried, expected) in attempts {
        let fake = fake::start(lab, identity, fake_sp_tsm()).await?;
        let applied = lab.phone_tap.diverted(fake, app.apply(&sp, &mut card, CARD_SIGN_PASSWORD, &BOTH)).await;
        let applied = applied.map(|a| a.application);
        a.refused(&format!("the app applies; {tried} answers"), expected, applied)?;
    }
    let after = (se_snapshot(&app), card.pin_tries_left(jpki::PinId::Sign).map_err(lab_err)?);
    a.unchanged("the fake SP-TSMs", "the SE (no commitment drawn) or the card's password counter", &before, &after)?;
    a.done()
}
