//! The HTTP API, built by [`router`] and tested with one-shot requests.
//!
//! - `POST /v1/phone-certificates` — SP-TSM only (client certificate from the
//!   configured SP-TSM CA; anyone else gets 403, mechanism ⑩).
//! - `POST /v1/card-certificates`, `/v1/revocations`, `/v1/holds`,
//!   `/v1/releases`, `GET /v1/certificates/{serial}`,
//!   `GET /v1/secure-elements/{se_id}/links` — operators (bearer
//!   token); revocations also from the SP-TSM (holder's request).
//! - `GET|POST /ocsp`, `GET /crl/{auth,sign}[-delta].crl` — relying parties,
//!   no authentication.
//! - `GET /openapi.json`, `GET /healthz`.
//!
//! Errors are JSON `{"code": …, "message": …}`; internal causes are logged,
//! not returned.

use crate::{Jlis, JlisError, PhoneCertType, PhoneRequest};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use base64::{engine::general_purpose::STANDARD, Engine};
use pki::crl::Reason;
use pki::CaKind;
use serde::Deserialize;
use std::sync::Arc;
use tokio::sync::Mutex;

pub use svc::Peer;

/// Shared state of the handlers.
#[derive(Debug)]
pub struct AppState {
    /// The service.
    pub jlis: Jlis,
    /// Bearer token of operators (compared in constant time).
    pub operator_token: String,
    /// Cached CRLs, regenerated after state changes.
    pub crls: Mutex<CrlCache>,
}

/// CRLs by (CA, delta), and whether they are stale.
#[derive(Debug, Default)]
pub struct CrlCache {
    /// Cached DER by (CA, delta) with the time it was made.
    pub entries: std::collections::HashMap<(&'static str, bool), (std::time::Instant, Vec<u8>)>,
    /// Set by every state change.
    pub stale: bool,
    /// Regenerate at least this often.
    pub interval: std::time::Duration,
}

/// An error answer.
pub struct ApiError(JlisError);

impl From<JlisError> for ApiError {
    fn from(e: JlisError) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::json!({ "code": self.0.code(), "message": self.0.to_string() });
        (status, Json(body)).into_response()
    }
}

fn forbidden(message: &str) -> Response {
    (StatusCode::FORBIDDEN, Json(serde_json::json!({ "code": "forbidden", "message": message }))).into_response()
}

fn operator(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else { return false };
    let Some(token) = value.strip_prefix("Bearer ") else { return false };
    let (a, b) = (token.as_bytes(), state.operator_token.as_bytes());
    !b.is_empty() && a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A JSON body, parsed only after the caller is authorized (so an
/// unauthorized caller learns nothing from a body error).
type JsonBody<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

/// The body, or `invalid_request` with serde's explanation.
fn parsed<T>(body: JsonBody<T>) -> Result<T, ApiError> {
    body.map(|Json(b)| b).map_err(|e| ApiError(JlisError::Invalid(e.body_text())))
}

fn b64(field: &'static str, v: &str) -> Result<Vec<u8>, ApiError> {
    STANDARD.decode(v).map_err(|_| ApiError(JlisError::Invalid(format!("{field} must be base64"))))
}

/// Builds the router.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/openapi.json", get(openapi))
        .route("/v1/phone-certificates", post(phone_certificate))
        .route("/v1/card-certificates", post(card_certificates))
        .route("/v1/revocations", post(revocation))
        .route("/v1/holds", post(hold))
        .route("/v1/releases", post(release))
        .route("/v1/certificates/{serial}", get(certificate))
        .route("/v1/secure-elements/{se_id}/links", get(se_links))
        .route("/ocsp", post(ocsp_post))
        .route("/ocsp/{*request}", get(ocsp_get))
        .route("/crl/{name}", get(crl))
        .layer(axum::middleware::from_fn_with_state(state.clone(), record_actor))
        .with_state(state)
}

/// Makes who is calling — operator token, SP-TSM client certificate, the
/// request id — the [`crate::audit::ACTOR`] of everything the request does,
/// so each audit entry names it.
async fn record_actor(
    State(state): State<Arc<AppState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let peer = request.extensions().get::<Peer>().cloned().unwrap_or_default();
    let role = if operator(&state, request.headers()) {
        "operator"
    } else if peer.authenticated() {
        "sp-tsm"
    } else {
        "anonymous"
    };
    let actor = crate::audit::Actor {
        role,
        client_certificate: peer.client_certificate.as_deref().map(|c| hex::encode(pki::HashAlg::Sha256.digest(c))),
        http_request: request.extensions().get::<svc::RequestId>().map(|r| r.0.clone()),
    };
    crate::audit::ACTOR.scope(actor, next.run(request)).await
}

#[derive(Deserialize)]
struct PhoneBody {
    request_id: String,
    card_certificate: String,
    /// The card-signed application (CMS, base64).
    application: String,
    phone_public_key: String,
    se_id: String,
    cert_type: PhoneCertType,
}

async fn phone_certificate(
    State(state): State<Arc<AppState>>,
    Extension(peer): Extension<Peer>,
    body: JsonBody<PhoneBody>,
) -> Result<Response, ApiError> {
    if !peer.authenticated() {
        return Ok(forbidden("phone certificates are issued only to the SP-TSM (client certificate required)"));
    }
    let b = parsed(body)?;
    let req = PhoneRequest {
        request_id: b.request_id,
        card_certificate: b64("card_certificate", &b.card_certificate)?,
        application: b64("application", &b.application)?,
        phone_public_key: b64("phone_public_key", &b.phone_public_key)?,
        se_id: b.se_id,
        cert_type: b.cert_type,
    };
    let issued = state.jlis.issue_phone(&req).await?;
    state.crls.lock().await.stale = true;
    Ok(Json(serde_json::json!({
        "serial": issued.serial,
        "certificate": STANDARD.encode(&issued.certificate),
        "ca_certificate": STANDARD.encode(&issued.ca_certificate),
        "superseded": issued.superseded,
    }))
    .into_response())
}

#[derive(Deserialize)]
struct CardBody {
    request_id: String,
    holder: pki::Holder,
    auth_public_key: String,
    sign_public_key: String,
}

async fn card_certificates(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: JsonBody<CardBody>,
) -> Result<Response, ApiError> {
    if !operator(&state, &headers) {
        return Ok(forbidden("card certificates are issued to the municipal office (operator token required)"));
    }
    let b = parsed(body)?;
    let (auth, sign) = state
        .jlis
        .issue_card(
            &b.request_id,
            &b.holder,
            &b64("auth_public_key", &b.auth_public_key)?,
            &b64("sign_public_key", &b.sign_public_key)?,
        )
        .await?;
    let ca = state.jlis.ca();
    Ok(Json(serde_json::json!({
        "auth_certificate": STANDARD.encode(auth),
        "sign_certificate": STANDARD.encode(sign),
        "auth_ca_certificate": STANDARD.encode(&ca.ca(CaKind::Auth).cert_der),
        "sign_ca_certificate": STANDARD.encode(&ca.ca(CaKind::Sign).cert_der),
    }))
    .into_response())
}

#[derive(Deserialize)]
struct RevokeBody {
    request_id: String,
    serial: String,
    reason: Reason,
}

async fn revocation(
    State(state): State<Arc<AppState>>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
    body: JsonBody<RevokeBody>,
) -> Result<Response, ApiError> {
    if !peer.authenticated() && !operator(&state, &headers) {
        return Ok(forbidden("revocation needs the SP-TSM's client certificate or an operator token"));
    }
    let b = parsed(body)?;
    let revoked = state.jlis.revoke(&b.request_id, &b.serial, b.reason).await?;
    state.crls.lock().await.stale = true;
    Ok(Json(serde_json::json!({ "revoked": revoked })).into_response())
}

#[derive(Deserialize)]
struct SerialBody {
    request_id: String,
    serial: String,
}

async fn hold(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: JsonBody<SerialBody>,
) -> Result<Response, ApiError> {
    change_hold(state, headers, body, true).await
}

async fn release(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: JsonBody<SerialBody>,
) -> Result<Response, ApiError> {
    change_hold(state, headers, body, false).await
}

async fn change_hold(
    state: Arc<AppState>,
    headers: HeaderMap,
    body: JsonBody<SerialBody>,
    on: bool,
) -> Result<Response, ApiError> {
    if !operator(&state, &headers) {
        return Ok(forbidden("holds are set by the hotline operators (operator token required)"));
    }
    let b = parsed(body)?;
    if on {
        state.jlis.hold(&b.request_id, &b.serial).await?;
    } else {
        state.jlis.release(&b.request_id, &b.serial).await?;
    }
    state.crls.lock().await.stale = true;
    Ok(Json(serde_json::json!({ "serial": b.serial.to_uppercase(), "status": if on { "hold" } else { "good" } }))
        .into_response())
}

async fn certificate(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(serial): Path<String>,
) -> Result<Response, ApiError> {
    if !operator(&state, &headers) {
        return Ok(forbidden("certificate records are for operators (operator token required)"));
    }
    Ok(Json(state.jlis.record(&serial).await?).into_response())
}

async fn se_links(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(se_id): Path<String>,
) -> Result<Response, ApiError> {
    if !operator(&state, &headers) {
        return Ok(forbidden("linkage records are for operators (operator token required)"));
    }
    Ok(Json(serde_json::json!({ "links": state.jlis.links_of_se(&se_id).await? })).into_response())
}

fn ocsp_response(der: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/ocsp-response")], der).into_response()
}

async fn ocsp_post(State(state): State<Arc<AppState>>, body: Bytes) -> Result<Response, ApiError> {
    Ok(ocsp_response(state.jlis.ocsp(&body).await?))
}

/// GET form (RFC 6960 App. A.1): the DER request, base64, URL-encoded.
async fn ocsp_get(State(state): State<Arc<AppState>>, Path(encoded): Path<String>) -> Result<Response, ApiError> {
    let decoded = percent_decode(&encoded);
    let der = STANDARD.decode(decoded.trim_start_matches('/')).unwrap_or_default();
    Ok(ocsp_response(state.jlis.ocsp(&der).await?))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn crl(State(state): State<Arc<AppState>>, Path(name): Path<String>) -> Result<Response, ApiError> {
    let (kind, delta, key) = match name.as_str() {
        "auth.crl" => (CaKind::Auth, false, "auth"),
        "sign.crl" => (CaKind::Sign, false, "sign"),
        "auth-delta.crl" => (CaKind::Auth, true, "auth"),
        "sign-delta.crl" => (CaKind::Sign, true, "sign"),
        _ => {
            return Err(ApiError(JlisError::Invalid(
                "CRLs are auth.crl, sign.crl, auth-delta.crl and sign-delta.crl".into(),
            )))
        }
    };
    let mut cache = state.crls.lock().await;
    if cache.stale {
        cache.entries.clear();
        cache.stale = false;
    }
    let fresh =
        cache.entries.get(&(key, delta)).filter(|(at, _)| at.elapsed() < cache.interval).map(|(_, d)| d.clone());
    let der = match fresh {
        Some(d) => d,
        None => {
            let d = state.jlis.crl(kind, delta).await?;
            cache.entries.insert((key, delta), (std::time::Instant::now(), d.clone()));
            d
        }
    };
    Ok(([(header::CONTENT_TYPE, "application/pkix-crl")], der).into_response())
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], include_str!("openapi.json")).into_response()
}
