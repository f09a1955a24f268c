//! Pattern 5 — a fake JPKI service talks to the SP-TSM (⑩).
//!
//! The attacker diverts the SP-TSM's connections to the JPKI service: to a
//! server with a self-made certificate, then to one with the SP-TSM's own
//! stolen certificate (a neighbour's identity). The SP-TSM pins the JPKI
//! service's name, so it cannot even ask the card's status and refuses the
//! application. Then the JPKI service's own TLS key is in the attacker's
//! hands: its fake answers status genuinely but returns a certificate for
//! another key than the SE generated. The SP-TSM checks what it is given
//! and writes nothing.

use crate::fake::{self, Identity};
use crate::lab::{Lab, BOTH, CARD_SIGN_PASSWORD};
use crate::{lab_err, Attempts, Breach, Refusal};
use axum::extract::State;
use axum::routing::post;
use base64::{engine::general_purpose::STANDARD, Engine};
use std::sync::Arc;
use svc::tls::Service;

struct Compromised {
    /// The real JPKI service, for the status answers.
    real: reqwest::Client,
    real_url: String,
    /// The certificate it hands out instead of the phone's (a genuine JPKI
    /// certificate of another key: the card's own).
    substitute: Vec<u8>,
    ca: Vec<u8>,
}

async fn ocsp(State(c): State<Arc<Compromised>>, body: axum::body::Bytes) -> axum::response::Response {
    use axum::response::IntoResponse;
    let forwarded = c
        .real
        .post(format!("{}/ocsp", c.real_url))
        .header("content-type", "application/ocsp-request")
        .body(body)
        .send()
        .await;
    match forwarded {
        Ok(r) => match r.bytes().await {
            Ok(der) => ([("content-type", "application/ocsp-response")], der).into_response(),
            Err(_) => axum::http::StatusCode::BAD_GATEWAY.into_response(),
        },
        Err(_) => axum::http::StatusCode::BAD_GATEWAY.into_response(),
    }
}

async fn phone_certificate(State(c): State<Arc<Compromised>>) -> axum::Json<serde_json::Value> {
    let serial = pki::cert::parse_certificates(&c.substitute)
        .ok()
        .and_then(|mut v| v.pop())
        .map(|cert| jlis::service::serial_hex(&cert))
        .unwrap_or_default();
    axum::Json(serde_json::json!({
        "serial": serial,
        "certificate": STANDARD.encode(&c.substitute),
        "ca_certificate": STANDARD.encode(&c.ca),
        "superseded": [],
    }))
}

/// Runs the attempts.
pub async fn run(lab: &Lab) -> Result<Vec<Refusal>, Breach> {
    let mut card = lab.card().await?;
    let mut a = Attempts::default();
    let sp = lab.sp()?;

    // Every fake answers status genuinely (it relays OCSP to the real JPKI
    // service) and certifies nothing the phone generated: it hands out a
    // genuine JPKI certificate of another key, the card's own.
    card.verify(jpki::PinId::Sign, CARD_SIGN_PASSWORD).map_err(lab_err)?;
    let substitute = card.read_certificate(jpki::CertType::Sign).map_err(lab_err)?;
    let ca = card.read_certificate(jpki::CertType::SignCa).map_err(lab_err)?;
    let client = svc::client::https_client(&lab.deployment.tls_ca, Service::Jlis.server_name(), None)?;
    let state = Arc::new(Compromised { real: client, real_url: lab.deployment.jlis_url.clone(), substitute, ca });
    let router = axum::Router::new()
        .route("/ocsp", post(ocsp))
        .route("/v1/phone-certificates", post(phone_certificate))
        .with_state(state);

    let attempts = [
        (
            Identity::SelfMade(Service::Jlis),
            "a fake JPKI service with a self-made certificate for its name",
            "503 status_unavailable",
        ),
        (
            Identity::Stolen(Service::SpTsm),
            "a fake JPKI service with the SP-TSM's own certificate and key",
            "503 status_unavailable",
        ),
        (
            Identity::Stolen(Service::Jlis),
            "the JPKI service's own key in the attacker's hands, a certificate of another key for the phone",
            "certifies another key than the one generated in the SE",
        ),
    ];
    for (identity, tried, expected) in attempts {
        let phone = lab.prepared_phone().await?;
        let fake = fake::start(lab, identity, router.clone()).await?;
        let applied = lab.jlis_tap.diverted(fake, phone.apply(&sp, &mut card, CARD_SIGN_PASSWORD, &BOTH)).await;
        // Refused at the application (status), or at provisioning.
        let result = applied.and_then(|applied| Ok(applied.outcome?.result));
        a.refused(&format!("the holder applies; {tried}"), expected, result)?;
        let written =
            lab.deployment.sp.certificates(&phone.se_identifier()).await.map_err(|e| Breach::Lab(e.0.message))?;
        a.unchanged(tried, "the SP-TSM's certificates for the phone", &0, &written.len())?;
        let in_se = phone.certificate(tsm_api::PhoneCertType::Auth, None).map(|_| "a certificate");
        a.refused(&format!("{tried}: reading a certificate from the phone afterwards"), "6A 82", in_se)?;
    }
    a.done()
}
