//! The HTTP API, built by [`router`] and tested with one-shot requests.
//!
//! - `POST /v1/phone-certificates`, `POST /v1/phone-requests/cancel` —
//!   SP-TSM only (client certificate from the configured SP-TSM CA; anyone
//!   else gets 403, mechanism ⑩).
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

use crate::service::Requester;
use crate::{Jlis, JlisError};
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::{engine::general_purpose::STANDARD, Engine};
use jlis_api::types::{CancelPhoneRequest, CardCertificates, CardRequest, PhoneRequest, RevokeRequest, SerialRequest};
use pki::CaKind;
use std::sync::Arc;
use tokio::sync::Mutex;

pub use svc::Peer;

/// Shared state of the handlers.
#[derive(Debug)]
pub struct AppState {
    /// The service.
    pub jlis: Jlis,
    /// The operators and their tokens (compared in constant time).
    pub operators: crate::operators::Operators,
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
#[derive(Debug)]
pub struct ApiError(JlisError);

impl From<JlisError> for ApiError {
    fn from(e: JlisError) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::json!({ "code": self.0.code().as_str(), "message": self.0.to_string() });
        (status, Json(body)).into_response()
    }
}

/// The operator whose bearer token the request carries.
fn operator_of(state: &AppState, parts: &Parts) -> Option<crate::operators::Known> {
    let value = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())?;
    state.operators.identify(value.strip_prefix("Bearer ")?)
}

/// The SP-TSM that called over mutual TLS: SHA-256 (hex) of its verified
/// client certificate.
fn sp_tsm_of(parts: &Parts) -> Option<String> {
    let certificate = parts.extensions.get::<Peer>()?.client_certificate.as_deref()?;
    Some(hex::encode(pki::HashAlg::Sha256.digest(certificate)))
}

/// Authorization as extractors: a handler names who may call it in its
/// signature, and the check runs before the body is read (so an
/// unauthorized caller learns nothing from a body error).
pub mod caller {
    use super::*;

    use crate::operators::Role;

    /// A hotline or municipal-office operator (bearer token, role
    /// `operator`).
    #[derive(Debug)]
    pub struct Operator;

    /// The SP-TSM (client certificate from the configured SP-TSM CA;
    /// mechanism ⑩), as a [`Requester`].
    #[derive(Debug)]
    pub struct SpTsm(pub Requester);

    /// An operator, or the SP-TSM acting on a holder's request.
    #[derive(Debug)]
    pub struct OperatorOrSpTsm(pub Requester);

    fn forbidden(message: &'static str) -> ApiError {
        ApiError(JlisError::Forbidden(message))
    }

    impl FromRequestParts<Arc<AppState>> for Operator {
        type Rejection = ApiError;
        async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, ApiError> {
            match operator_of(state, parts).map(|o| o.role) {
                Some(Role::Operator) => Ok(Operator),
                Some(Role::Auditor) => Err(forbidden("an auditor reads; this change needs an operator")),
                None => Err(forbidden("this is an operator's request (operator token required)")),
            }
        }
    }

    /// An operator or an auditor: reading records, links and metrics.
    #[derive(Debug)]
    pub struct Reader;

    impl FromRequestParts<Arc<AppState>> for Reader {
        type Rejection = ApiError;
        async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, ApiError> {
            operator_of(state, parts)
                .map(|_| Reader)
                .ok_or_else(|| forbidden("an operator's or auditor's request (their token required)"))
        }
    }

    impl FromRequestParts<Arc<AppState>> for SpTsm {
        type Rejection = ApiError;
        async fn from_request_parts(parts: &mut Parts, _: &Arc<AppState>) -> Result<Self, ApiError> {
            let sp_tsm = sp_tsm_of(parts).ok_or_else(|| {
                forbidden("phone certificates are issued only to the SP-TSM (client certificate required)")
            })?;
            Ok(SpTsm(Requester::SpTsm { certificate_sha256: sp_tsm }))
        }
    }

    impl FromRequestParts<Arc<AppState>> for OperatorOrSpTsm {
        type Rejection = ApiError;
        async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, ApiError> {
            match operator_of(state, parts) {
                Some(o) if o.role == Role::Operator => {
                    return Ok(OperatorOrSpTsm(Requester::Operator { name: o.name }))
                }
                Some(_) => return Err(forbidden("an auditor reads; revocation needs an operator")),
                None => {}
            }
            let sp_tsm = sp_tsm_of(parts)
                .ok_or_else(|| forbidden("revocation needs the SP-TSM's client certificate or an operator token"))?;
            Ok(OperatorOrSpTsm(Requester::SpTsm { certificate_sha256: sp_tsm }))
        }
    }
}

use caller::{Operator, OperatorOrSpTsm, Reader, SpTsm};

/// A JSON body whose rejection is `invalid_request` with serde's
/// explanation.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let r: Result<Json<T>, JsonRejection> = Json::from_request(req, state).await;
        r.map(|Json(v)| JsonBody(v)).map_err(|e| match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError(JlisError::TooLarge(format!("the body is over {API_BODY_LIMIT} bytes")))
            }
            _ => ApiError(JlisError::Invalid(e.body_text())),
        })
    }
}

/// The routes relying parties reach over plain HTTP: OCSP, CRLs and
/// health — nothing that takes a credential (the operator's token would
/// travel in clear) or changes state.
pub fn public_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(healthz))
        .route("/ocsp", post(ocsp_post).layer(DefaultBodyLimit::max(OCSP_BODY_LIMIT)))
        .route("/ocsp/{*request}", get(ocsp_get))
        .route("/crl/{name}", get(crl))
        .layer(DefaultBodyLimit::max(OCSP_BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(state.clone(), record_actor))
        .layer(axum::middleware::from_fn_with_state(state.clone(), count_request))
        .with_state(state)
}

/// The largest API request body: a phone certificate request (a card
/// certificate and a card-signed application, base64) is a few KiB.
pub const API_BODY_LIMIT: usize = 64 * 1024;
/// The largest OCSP request: at most 16 CertIDs and a 32-byte nonce fit
/// in 2 KiB.
pub const OCSP_BODY_LIMIT: usize = 16 * 1024;

/// `GET /healthz` and `/readyz`: 200 when the store answers, 503 when it
/// does not (a load balancer takes the instance out).
#[utoipa::path(get, path = "/healthz", tag = "health",
    description = "Whether the store answers (also `GET /readyz`, for load balancers). Served on both ports.",
    responses((status = 200, description = "the store answers"), (status = 503, description = "the store does not answer", body = svc::codes::ErrorBody)))]
async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    match state.jlis.store().ping().await {
        Ok(()) => "ok".into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: the store does not answer");
            let body = serde_json::json!({ "code": "unavailable", "message": "the store does not answer" });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

/// Builds the router of the HTTPS API (everything, for the SP-TSM,
/// operators and relying parties alike).
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(healthz))
        .route("/openapi.json", get(openapi))
        .route("/v1/phone-certificates", post(phone_certificate))
        .route("/v1/phone-requests/cancel", post(cancel_phone_request))
        .route("/v1/card-certificates", post(card_certificates))
        .route("/v1/revocations", post(revocation))
        .route("/v1/holds", post(hold))
        .route("/v1/releases", post(release))
        .route("/v1/certificates/{serial}", get(certificate))
        .route("/v1/secure-elements/{se_id}/links", get(se_links))
        .route("/ocsp", post(ocsp_post).layer(DefaultBodyLimit::max(OCSP_BODY_LIMIT)))
        .route("/ocsp/{*request}", get(ocsp_get))
        .route("/crl/{name}", get(crl))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(API_BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(state.clone(), record_actor))
        .layer(axum::middleware::from_fn_with_state(state.clone(), count_request))
        .with_state(state)
}

/// `GET /metrics` (operators): Prometheus' text format ([`crate::metrics`]).
#[utoipa::path(get, path = "/metrics", tag = "operators",
    description = "Prometheus metrics (OpenMetrics text). Operators and auditors (bearer token).",
    security(("operator" = [])),
    responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text"), (status = 403, description = "no operator's or auditor's token", body = svc::codes::ErrorBody)))]
async fn metrics(State(state): State<Arc<AppState>>, _: Reader) -> Response {
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], state.jlis.metrics_text()).into_response()
}

/// Counts each request by the route it matched and its status, and times it.
async fn count_request(
    State(state): State<Arc<AppState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let route = match request.extensions().get::<axum::extract::MatchedPath>() {
        Some(path) => path.as_str().to_string(),
        None => "unmatched".to_string(),
    };
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    state.jlis.metrics().request(&route, response.status().as_u16(), started.elapsed());
    response
}

/// Makes who is calling — operator token, SP-TSM client certificate, the
/// request id — the [`crate::audit::ACTOR`] of everything the request does,
/// so each audit entry names it.
async fn record_actor(
    State(state): State<Arc<AppState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let peer = parts.extensions.get::<Peer>().cloned().unwrap_or_default();
    let operator = operator_of(&state, &parts);
    let role = match (&operator, peer.authenticated()) {
        (Some(o), _) => o.role.as_str(),
        (None, true) => "sp-tsm",
        (None, false) => "anonymous",
    };
    let actor = crate::audit::Actor {
        role,
        operator: operator.map(|o| o.name),
        client_certificate: peer.client_certificate.as_deref().map(|c| hex::encode(pki::HashAlg::Sha256.digest(c))),
        http_request: parts.extensions.get::<svc::RequestId>().map(|r| r.0.clone()),
    };
    let request = Request::from_parts(parts, body);
    crate::audit::ACTOR.scope(actor, next.run(request)).await
}

#[utoipa::path(post, path = "/v1/phone-certificates", tag = "sp-tsm",
    description = "A phone certificate for a key generated in an SE, linked to the card certificate that signed the holder's application. SP-TSM only (client certificate); the same request sent again with its id gets the same certificate.",
    security(("sp_tsm" = [])), request_body = PhoneRequest,
    responses((status = 200, description = "issued (or issued before under this id)", body = jlis_api::types::PhoneCertificate), (status = 400, description = "refused: the error's code says why; nothing changed", body = svc::codes::ErrorBody), (status = 403, description = "not this caller's request", body = svc::codes::ErrorBody), (status = 409, description = "replay: the id was used for another request", body = svc::codes::ErrorBody), (status = 503, description = "busy: the signing queue is full; retry", body = svc::codes::ErrorBody)))]
async fn phone_certificate(
    State(state): State<Arc<AppState>>,
    SpTsm(requester): SpTsm,
    JsonBody(req): JsonBody<PhoneRequest>,
) -> Result<Response, ApiError> {
    let issued = state.jlis.issue_phone_for(&req, &requester).await?;
    state.crls.lock().await.stale = true;
    Ok(Json(issued).into_response())
}

#[utoipa::path(post, path = "/v1/phone-requests/cancel", tag = "sp-tsm",
    description = "Cancels a phone-certificate request whose answer the SP-TSM never recorded: what it issued is revoked, an id that never arrived is spent. SP-TSM only, its own requests.",
    security(("sp_tsm" = [])), request_body = CancelPhoneRequest,
    responses((status = 200, description = "cancelled", body = jlis_api::types::Cancelled), (status = 400, description = "refused: the error's code says why; nothing changed", body = svc::codes::ErrorBody), (status = 403, description = "not this caller's request", body = svc::codes::ErrorBody)))]
async fn cancel_phone_request(
    State(state): State<Arc<AppState>>,
    SpTsm(requester): SpTsm,
    JsonBody(b): JsonBody<CancelPhoneRequest>,
) -> Result<Response, ApiError> {
    let cancelled = state.jlis.cancel_phone_request(&requester, &b.request_id).await?;
    state.crls.lock().await.stale = true;
    Ok(Json(cancelled).into_response())
}

#[utoipa::path(post, path = "/v1/card-certificates", tag = "operators",
    description = "Certificates for a new card's two keys (the municipal office). Operators.",
    security(("operator" = [])), request_body = CardRequest,
    responses((status = 200, description = "issued", body = CardCertificates), (status = 400, description = "refused: the error's code says why; nothing changed", body = svc::codes::ErrorBody), (status = 403, description = "not this caller's request", body = svc::codes::ErrorBody)))]
async fn card_certificates(
    State(state): State<Arc<AppState>>,
    _: Operator,
    JsonBody(b): JsonBody<CardRequest>,
) -> Result<Response, ApiError> {
    let (auth, sign) = state.jlis.issue_card(&b.request_id, &b.holder, &b.auth_public_key, &b.sign_public_key).await?;
    let ca = state.jlis.ca();
    Ok(Json(CardCertificates {
        auth_certificate: auth,
        sign_certificate: sign,
        auth_ca_certificate: ca.ca(CaKind::Auth).cert_der.clone(),
        sign_ca_certificate: ca.ca(CaKind::Sign).cert_der.clone(),
    })
    .into_response())
}

#[utoipa::path(post, path = "/v1/revocations", tag = "operators",
    description = "Revokes a certificate; a card's revocation cascades to its phones. Operators (under dual control a card's revocation for key compromise needs a second operator: the first answer names the approver), or the SP-TSM for the phone certificates it asked for.",
    security(("operator" = []), ("sp_tsm" = [])), request_body = RevokeRequest,
    responses((status = 200, description = "revoked, or approved and awaiting a second operator", body = jlis_api::types::Revoked), (status = 400, description = "refused: the error's code says why; nothing changed", body = svc::codes::ErrorBody), (status = 403, description = "not this caller's request", body = svc::codes::ErrorBody), (status = 409, description = "already revoked, or a replayed id", body = svc::codes::ErrorBody)))]
async fn revocation(
    State(state): State<Arc<AppState>>,
    OperatorOrSpTsm(requester): OperatorOrSpTsm,
    JsonBody(b): JsonBody<RevokeRequest>,
) -> Result<Response, ApiError> {
    let revoked = state.jlis.revoke_for(&requester, &b.request_id, &b.serial, b.reason).await?;
    state.crls.lock().await.stale = true;
    Ok(Json(revoked).into_response())
}

#[utoipa::path(post, path = "/v1/holds", tag = "operators",
    description = "Puts a certificate on hold (一時保留). Operators.",
    security(("operator" = [])), request_body = SerialRequest,
    responses((status = 200, description = "on hold", body = jlis_api::types::HoldChanged), (status = 400, description = "refused: the error's code says why; nothing changed", body = svc::codes::ErrorBody), (status = 403, description = "not this caller's request", body = svc::codes::ErrorBody)))]
async fn hold(
    State(s): State<Arc<AppState>>,
    _: Operator,
    JsonBody(b): JsonBody<SerialRequest>,
) -> Result<Response, ApiError> {
    change_hold(s, b, true).await
}

#[utoipa::path(post, path = "/v1/releases", tag = "operators",
    description = "Releases a hold. Operators.",
    security(("operator" = [])), request_body = SerialRequest,
    responses((status = 200, description = "good again", body = jlis_api::types::HoldChanged), (status = 400, description = "refused: the error's code says why; nothing changed", body = svc::codes::ErrorBody), (status = 403, description = "not this caller's request", body = svc::codes::ErrorBody)))]
async fn release(
    State(s): State<Arc<AppState>>,
    _: Operator,
    JsonBody(b): JsonBody<SerialRequest>,
) -> Result<Response, ApiError> {
    change_hold(s, b, false).await
}

/// `POST /v1/holds` (`on`) and `POST /v1/releases`.
async fn change_hold(state: Arc<AppState>, b: SerialRequest, on: bool) -> Result<Response, ApiError> {
    if on {
        state.jlis.hold(&b.request_id, &b.serial).await?;
    } else {
        state.jlis.release(&b.request_id, &b.serial).await?;
    }
    changed_hold(&state, &b.serial, if on { "hold" } else { "good" }).await
}

async fn changed_hold(state: &AppState, serial: &str, status: &str) -> Result<Response, ApiError> {
    state.crls.lock().await.stale = true;
    Ok(Json(jlis_api::types::HoldChanged { serial: serial.to_uppercase(), status: status.into() }).into_response())
}

#[utoipa::path(get, path = "/v1/certificates/{serial}", tag = "operators",
    description = "A certificate's record. Operators and auditors.",
    security(("operator" = [])), params(("serial" = String, Path, description = "hex serial")),
    responses((status = 200, description = "the record", body = jlis_api::types::Record), (status = 400, description = "refused: the error's code says why; nothing changed", body = svc::codes::ErrorBody), (status = 403, description = "not this caller's request", body = svc::codes::ErrorBody), (status = 404, description = "no such certificate", body = svc::codes::ErrorBody)))]
async fn certificate(
    State(state): State<Arc<AppState>>,
    _: Reader,
    Path(serial): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(state.jlis.record(&serial).await?).into_response())
}

#[utoipa::path(get, path = "/v1/secure-elements/{se_id}/links", tag = "operators",
    description = "The links of an SE's phone certificates to card certificates. Operators and auditors.",
    security(("operator" = [])), params(("se_id" = String, Path, description = "SE identifier, hex")),
    responses((status = 200, description = "its links", body = jlis_api::types::SeLinks), (status = 400, description = "refused: the error's code says why; nothing changed", body = svc::codes::ErrorBody), (status = 403, description = "not this caller's request", body = svc::codes::ErrorBody)))]
async fn se_links(
    State(state): State<Arc<AppState>>,
    _: Reader,
    Path(se_id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(jlis_api::types::SeLinks { links: state.jlis.links_of_se(&se_id).await? }).into_response())
}

fn ocsp_response(der: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/ocsp-response")], der).into_response()
}

#[utoipa::path(post, path = "/ocsp", tag = "relying parties",
    description = "OCSP (RFC 6960), POST form; signed by the CA's delegated responder. Anyone; also on the plain-HTTP port.",
    request_body(content = Vec<u8>, content_type = "application/ocsp-request"),
    responses((status = 200, description = "an OCSP response (also malformedRequest, unauthorized, tryLater)", content_type = "application/ocsp-response", body = Vec<u8>), (status = 413, description = "too large", body = svc::codes::ErrorBody)))]
async fn ocsp_post(State(state): State<Arc<AppState>>, body: Bytes) -> Result<Response, ApiError> {
    Ok(ocsp_response(state.jlis.ocsp(&body).await?))
}

#[utoipa::path(get, path = "/ocsp/{request}", tag = "relying parties",
    description = "OCSP, GET form (RFC 6960 App. A.1). Anyone; also on the plain-HTTP port.",
    params(("request" = String, Path, description = "the DER request, base64, URL-encoded")),
    responses((status = 200, description = "an OCSP response", content_type = "application/ocsp-response", body = Vec<u8>)))]
/// GET form (RFC 6960 App. A.1): the DER request, base64, URL-encoded.
async fn ocsp_get(State(state): State<Arc<AppState>>, Path(encoded): Path<String>) -> Result<Response, ApiError> {
    let decoded = percent_decode(&encoded);
    let der = STANDARD.decode(decoded.trim_start_matches('/')).unwrap_or_default();
    Ok(ocsp_response(state.jlis.ocsp(&der).await?))
}

/// Decodes `%XX` escapes (RFC 3986 §2.1) byte by byte; anything else —
/// a `%` not followed by two hex digits, bytes of any value — is kept as
/// it is. (It sliced the text before, and a `%` before a multi-byte
/// character panicked the worker.)
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(high << 4 | low);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[utoipa::path(get, path = "/crl/{name}", tag = "relying parties",
    description = "CRLs: full (auth.crl, sign.crl) and delta (auth-delta.crl, sign-delta.crl). Anyone; also on the plain-HTTP port.",
    params(("name" = String, Path, description = "auth.crl, sign.crl, auth-delta.crl or sign-delta.crl")),
    responses((status = 200, description = "a CRL (DER)", content_type = "application/pkix-crl", body = Vec<u8>), (status = 400, description = "no such CRL", body = svc::codes::ErrorBody)))]
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

/// The OpenAPI document, generated from the handlers and the body types
/// (`GET /openapi.json`; `jpki openapi jlis`).
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "openjpki — the JPKI service", description = "Card and phone certificates, their links, revocation (with cascade), holds; OCSP and CRLs for relying parties. Errors are `ErrorBody` with a code from the table."),
    paths(healthz, metrics, phone_certificate, cancel_phone_request, card_certificates, revocation, hold, release, certificate, se_links, ocsp_post, ocsp_get, crl),
    components(schemas(svc::codes::ErrorBody)),
    modifiers(&Security)
)]
struct ApiDoc;

/// The two ways callers prove who they are.
struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        svc::openapi::bearer(doc, "operator", "an operator's or auditor's token");
        svc::openapi::mutual_tls(doc, "sp_tsm", "the SP-TSM's client certificate");
    }
}

/// The JPKI service's OpenAPI document.
pub fn openapi_document() -> serde_json::Value {
    let codes: Vec<&str> = jlis_api::Code::ALL.iter().map(|c| c.as_str()).collect();
    svc::openapi::served(<ApiDoc as utoipa::OpenApi>::openapi(), &codes)
}

async fn openapi() -> Response {
    Json(openapi_document()).into_response()
}

#[cfg(test)]
mod tests {
    //! Every route, through the router with one request each (no
    //! listener): who may call it, what a bad body gets, what it answers.
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use testkit::http::Caller;

    const TOKEN: &str = "operator-token-for-tests";

    async fn state(dir: &std::path::Path) -> Arc<AppState> {
        state_with(dir, crate::operators::Operators::single(TOKEN)).await
    }

    async fn state_with(dir: &std::path::Path, operators: crate::operators::Operators) -> Arc<AppState> {
        let ca = pki::ca::LocalCa::open_or_create(&dir.join("ca")).unwrap();
        let url = format!("sqlite://{}", dir.join("jlis.sqlite").display());
        let jlis = Jlis::open(&url, ca).await.unwrap();
        let crls = CrlCache { interval: std::time::Duration::from_secs(60), ..Default::default() };
        Arc::new(AppState { jlis, operators, crls: Mutex::new(crls) })
    }

    /// Named operators (issue 15): an auditor reads records and metrics
    /// and is refused every change; a named operator's change is recorded
    /// under their name in the audit log. Before, there was one shared
    /// token and the log said only "operator".
    #[tokio::test]
    async fn an_auditor_reads_and_changes_nothing_and_changes_name_their_operator() {
        use crate::operators::{OperatorEntry, Operators, Role};
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, token: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, token).unwrap();
            path
        };
        let entries = [
            OperatorEntry {
                name: "alice".into(),
                role: Role::Operator,
                token_file: write("alice", "alice-token-0123456789"),
            },
            OperatorEntry {
                name: "audit-1".into(),
                role: Role::Auditor,
                token_file: write("aud", "auditor-token-0123456789"),
            },
        ];
        let operators = Operators::load(&write("default", TOKEN), &entries).unwrap();
        let state = state_with(dir.path(), operators).await;
        let app = router(state.clone());
        let (alice, auditor) =
            (Caller::Bearer("alice-token-0123456789".into()), Caller::Bearer("auditor-token-0123456789".into()));
        let keys = [pki::RsaPrivateKey::generate_2048().unwrap(), pki::RsaPrivateKey::generate_2048().unwrap()];
        let holder = serde_json::json!({ "name": "監査 花子", "address": "東京都", "birth": "19800101",
            "sex": "female", "prefecture": "Tokyo", "municipality": "Chiyoda-ku" });
        let card = |id: &str| {
            serde_json::json!({ "request_id": id, "holder": holder,
            "auth_public_key": STANDARD.encode(keys[0].public_key_der()),
            "sign_public_key": STANDARD.encode(keys[1].public_key_der()) })
        };
        let (status, _, body) =
            call(&app, request("POST", "/v1/card-certificates", Some(card("by-auditor")), auditor.clone())).await;
        assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden".into()));
        assert!(String::from_utf8_lossy(&body).contains("an auditor reads"));
        let (status, _, body) =
            call(&app, request("POST", "/v1/card-certificates", Some(card("by-alice")), alice.clone())).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        let issued: CardCertificates = serde_json::from_slice(&body).unwrap();
        let serial = crate::service::serial_hex(&pki::cert::parse_certificates(&issued.auth_certificate).unwrap()[0]);

        let record = format!("/v1/certificates/{serial}");
        assert_eq!(call(&app, request("GET", &record, None, auditor.clone())).await.0, StatusCode::OK);
        assert_eq!(call(&app, request("GET", "/metrics", None, auditor.clone())).await.0, StatusCode::OK);
        for (uri, body) in [
            (
                "/v1/revocations",
                serde_json::json!({ "request_id": "a-rev", "serial": serial, "reason": "key-compromise" }),
            ),
            ("/v1/holds", serde_json::json!({ "request_id": "a-hold", "serial": serial })),
        ] {
            let (status, _, answer) = call(&app, request("POST", uri, Some(body), auditor.clone())).await;
            assert_eq!((status, code(&answer)), (StatusCode::FORBIDDEN, "forbidden".into()), "{uri}");
        }
        assert_eq!(state.jlis.record(&serial).await.unwrap().status, "good", "the auditor changed nothing");
        let hold = serde_json::json!({ "request_id": "alice-hold", "serial": serial });
        assert_eq!(call(&app, request("POST", "/v1/holds", Some(hold), alice)).await.0, StatusCode::OK);
        let last = state
            .jlis
            .store()
            .read(|tx| tx.optional("SELECT event, detail FROM audit ORDER BY seq DESC LIMIT 1", &[]))
            .await
            .unwrap()
            .unwrap();
        let detail: serde_json::Value = serde_json::from_str(&last.text("detail").unwrap()).unwrap();
        assert_eq!(detail["by"]["operator"], "alice", "{detail}");
        assert_eq!(detail["by"]["role"], "operator", "{detail}");
    }

    async fn app(dir: &std::path::Path) -> Router {
        router(state(dir).await)
    }

    fn operator() -> Caller {
        Caller::Bearer(TOKEN.into())
    }

    fn sp_tsm() -> Caller {
        Caller::Peer(vec![0x30])
    }

    fn code(body: &[u8]) -> String {
        serde_json::from_slice::<serde_json::Value>(body).unwrap()["code"].as_str().unwrap_or_default().into()
    }

    async fn call(app: &Router, r: Request<Body>) -> (StatusCode, String, Vec<u8>) {
        testkit::http::send(app, r).await
    }

    fn request(method: &str, uri: &str, body: Option<serde_json::Value>, caller: Caller) -> Request<Body> {
        testkit::http::request(method, uri, body.unwrap_or(serde_json::Value::Null), &caller)
    }

    /// A body over the route's limit is refused before it is read (413):
    /// before, any route read up to 2 MiB.
    #[tokio::test]
    async fn bodies_over_the_route_limit_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path()).await;
        let big = serde_json::json!({ "request_id": "x".repeat(API_BODY_LIMIT) });
        let (status, _, _) = call(&app, request("POST", "/v1/card-certificates", Some(big), operator())).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        let mut ocsp = request("POST", "/ocsp", None, Caller::Anonymous);
        *ocsp.body_mut() = Body::from(vec![0x30; OCSP_BODY_LIMIT + 1]);
        assert_eq!(call(&app, ocsp).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn percent_decoding_never_panics_and_decodes_escapes() {
        assert_eq!(percent_decode("MA%3D%3d"), "MA==");
        assert_eq!(percent_decode("%2"), "%2");
        assert_eq!(percent_decode("%zz%"), "%zz%");
        // A `%` before a multi-byte character: it sliced the text inside
        // the character and panicked before.
        assert_eq!(percent_decode("%aé"), "%aé");
        assert_eq!(percent_decode("%é%"), "%é%");
    }

    /// The plain-HTTP listener's router: relying parties' routes only; the
    /// operator API is not there even with the right token (it served the
    /// whole API before, the token in clear).
    #[tokio::test]
    async fn plain_http_serves_only_ocsp_crls_and_health() {
        let dir = tempfile::tempdir().unwrap();
        let public = public_router(state(dir.path()).await);
        for (method, uri, body) in [
            ("POST", "/v1/card-certificates", Some(serde_json::json!({}))),
            ("POST", "/v1/revocations", Some(serde_json::json!({}))),
            ("POST", "/v1/holds", Some(serde_json::json!({}))),
            ("GET", "/v1/certificates/0A", None),
            ("GET", "/v1/secure-elements/00/links", None),
            ("POST", "/v1/phone-certificates", Some(serde_json::json!({}))),
            ("GET", "/openapi.json", None),
            ("GET", "/metrics", None),
        ] {
            let (status, _, _) = call(&public, request(method, uri, body, operator())).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {uri} over plain HTTP");
        }
        for uri in ["/healthz", "/readyz", "/crl/auth.crl"] {
            assert_eq!(call(&public, request("GET", uri, None, Caller::Anonymous)).await.0, StatusCode::OK, "{uri}");
        }
    }

    /// `/metrics` (operators): requests counted by the route they matched
    /// and their status, issuance, revocation, OCSP answers by how they
    /// were made, the signing queues and the store's writes.
    #[tokio::test]
    async fn metrics_count_requests_issuance_revocations_and_ocsp_answers() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(dir.path()).await;
        let (app, public) = (router(state.clone()), public_router(state.clone()));
        let keys = [pki::RsaPrivateKey::generate_2048().unwrap(), pki::RsaPrivateKey::generate_2048().unwrap()];
        let holder = serde_json::json!({ "name": "計測 太郎", "address": "東京都", "birth": "19800101",
            "sex": "male", "prefecture": "Tokyo", "municipality": "Chiyoda-ku" });
        let card = serde_json::json!({ "request_id": "metrics-card", "holder": holder,
            "auth_public_key": STANDARD.encode(keys[0].public_key_der()),
            "sign_public_key": STANDARD.encode(keys[1].public_key_der()) });
        let (status, _, body) = call(&app, request("POST", "/v1/card-certificates", Some(card), operator())).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        let issued: CardCertificates = serde_json::from_slice(&body).unwrap();
        let serial = crate::service::serial_hex(&pki::cert::parse_certificates(&issued.auth_certificate).unwrap()[0]);
        let revoke = serde_json::json!({ "request_id": "metrics-rev", "serial": serial, "reason": "key-compromise" });
        assert_eq!(call(&app, request("POST", "/v1/revocations", Some(revoke), operator())).await.0, StatusCode::OK);
        let ocsp = |body: Vec<u8>| {
            Request::builder()
                .method("POST")
                .uri("/ocsp")
                .header("content-type", "application/ocsp-request")
                .body(Body::from(body))
                .unwrap()
        };
        assert_eq!(call(&public, ocsp(b"nonsense".to_vec())).await.0, StatusCode::OK);
        let auth_ca = pki::cert::parse_certificates(&issued.auth_ca_certificate).unwrap().remove(0);
        let id = pki::ocsp::cert_id(&auth_ca, &hex::decode(&serial).unwrap(), pki::HashAlg::Sha1).unwrap();
        let asked = pki::ocsp::build_request(&[id], None).unwrap();
        for _ in 0..2 {
            assert_eq!(call(&public, ocsp(asked.clone())).await.0, StatusCode::OK);
        }
        assert_eq!(call(&app, request("GET", "/nowhere", None, Caller::Anonymous)).await.0, StatusCode::NOT_FOUND);

        let (status, kind, text) = call(&app, request("GET", "/metrics", None, operator())).await;
        assert_eq!(status, StatusCode::OK);
        assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
        let text = String::from_utf8(text).unwrap();
        for line in [
            r#"jlis_http_requests_total{route="/v1/card-certificates",status="200"} 1"#,
            r#"jlis_http_requests_total{route="/v1/revocations",status="200"} 1"#,
            r#"jlis_http_requests_total{route="/ocsp",status="200"} 3"#,
            r#"jlis_http_requests_total{route="unmatched",status="404"} 1"#,
            r#"jlis_certificates_issued_total{what="card"} 2"#,
            "jlis_certificates_revoked_total 1",
            r#"jlis_ocsp_answers_total{what="refused"} 1"#,
            r#"jlis_ocsp_answers_total{what="signed"} 1"#,
            r#"jlis_ocsp_answers_total{what="cached"} 1"#,
            r#"jlis_signing_waiting{what="answers"} 0"#,
            r#"jlis_http_request_duration_seconds_count{route="/v1/card-certificates"} 1"#,
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
        assert!(text.contains("jlis_store_write_duration_seconds_count "), "{text}");
    }

    #[tokio::test]
    async fn every_route_answers_and_refuses_as_documented() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path()).await;
        use Caller::Anonymous;
        assert_eq!(call(&app, request("GET", "/healthz", None, Anonymous)).await.0, StatusCode::OK);
        let (status, kind, doc) = call(&app, request("GET", "/openapi.json", None, Anonymous)).await;
        assert_eq!((status, kind.as_str()), (StatusCode::OK, "application/json"));
        let doc: serde_json::Value = serde_json::from_slice(&doc).unwrap();
        assert_eq!(doc, openapi_document(), "the served document is the generated one");
        assert!(doc["paths"]["/v1/revocations"]["post"].is_object());
        assert_eq!(testkit::http::documented_operations_are_routed(&app, &doc, "0A").await, 13);
        let codes = doc["components"]["schemas"]["ErrorBody"]["properties"]["code"]["enum"].as_array().unwrap();
        assert_eq!(codes.len(), jlis_api::Code::ALL.len(), "every error code documented");

        // Each protected route refuses the wrong caller before reading the
        // body (even a body that is not JSON).
        for (method, uri, caller) in [
            ("POST", "/v1/phone-certificates", Anonymous),
            ("POST", "/v1/phone-certificates", operator()),
            ("POST", "/v1/phone-requests/cancel", Anonymous),
            ("POST", "/v1/phone-requests/cancel", operator()),
            ("POST", "/v1/card-certificates", Anonymous),
            ("POST", "/v1/card-certificates", sp_tsm()),
            ("POST", "/v1/revocations", Anonymous),
            ("POST", "/v1/holds", sp_tsm()),
            ("POST", "/v1/releases", Anonymous),
            ("GET", "/v1/certificates/0A", sp_tsm()),
            ("GET", "/v1/secure-elements/00112233445566778899/links", Anonymous),
            ("GET", "/metrics", Anonymous),
            ("GET", "/metrics", sp_tsm()),
        ] {
            let (status, _, body) =
                call(&app, request(method, uri, Some(serde_json::json!("not a body")), caller)).await;
            assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden".into()), "{method} {uri}");
        }
        // The right caller with a malformed body: invalid_request.
        for (uri, caller) in [
            ("/v1/phone-certificates", sp_tsm()),
            ("/v1/card-certificates", operator()),
            ("/v1/revocations", operator()),
            ("/v1/holds", operator()),
            ("/v1/releases", operator()),
        ] {
            let (status, _, body) = call(&app, request("POST", uri, Some(serde_json::json!({ "x": 1 })), caller)).await;
            assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "invalid_request".into()), "{uri}");
        }

        // A card: both certificates and their CAs.
        let keys = [pki::RsaPrivateKey::generate_2048().unwrap(), pki::RsaPrivateKey::generate_2048().unwrap()];
        let card = serde_json::to_value(CardRequest {
            request_id: "card-1".into(),
            holder: pki::Holder::example(),
            auth_public_key: keys[0].public_key_der(),
            sign_public_key: keys[1].public_key_der(),
        })
        .unwrap();
        let (status, _, body) =
            call(&app, request("POST", "/v1/card-certificates", Some(card.clone()), operator())).await;
        assert_eq!(status, StatusCode::OK);
        let issued: CardCertificates = serde_json::from_slice(&body).unwrap();
        let serial = hex::encode_upper(
            pki::cert::parse_certificates(&issued.auth_certificate).unwrap()[0]
                .tbs_certificate
                .serial_number
                .as_bytes(),
        );
        let (status, _, body) = call(&app, request("POST", "/v1/card-certificates", Some(card), operator())).await;
        assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "replay".into()));

        // Its record; holds and releases; links of an SE that has none.
        let (status, _, body) =
            call(&app, request("GET", &format!("/v1/certificates/{serial}"), None, operator())).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(serde_json::from_slice::<jlis_api::types::Record>(&body).unwrap().status, "good");
        let (status, _, body) = call(&app, request("GET", "/v1/certificates/0A0A", None, operator())).await;
        assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "unknown_serial".into()));
        let hold = serde_json::json!({ "request_id": "hold-1", "serial": serial });
        let (status, _, body) = call(&app, request("POST", "/v1/holds", Some(hold), operator())).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        let release = serde_json::json!({ "request_id": "release-1", "serial": serial });
        assert_eq!(call(&app, request("POST", "/v1/releases", Some(release), operator())).await.0, StatusCode::OK);
        let links = "/v1/secure-elements/00112233445566778899/links";
        let (status, _, body) = call(&app, request("GET", links, None, operator())).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(serde_json::from_slice::<serde_json::Value>(&body).unwrap()["links"], serde_json::json!([]));

        // A phone certificate for a key with no application behind it.
        let phone = serde_json::to_value(PhoneRequest {
            request_id: "phone-1".into(),
            card_certificate: issued.sign_certificate.clone(),
            application: b"not an application".to_vec(),
            phone_public_key: keys[0].public_key_der(),
            se_id: "00112233445566778899".into(),
            cert_type: jlis_api::PhoneCertType::Sign,
            attestation_result: None,
            key_attestation: vec![],
        })
        .unwrap();
        let (status, _, body) = call(&app, request("POST", "/v1/phone-certificates", Some(phone), sp_tsm())).await;
        assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "bad_application".into()));

        // A card certificate: not by the SP-TSM (issue 15), by an operator.
        let revoke = serde_json::json!({ "request_id": "rev-0", "serial": serial, "reason": "key-compromise" });
        let (status, _, body) = call(&app, request("POST", "/v1/revocations", Some(revoke), sp_tsm())).await;
        assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden".into()));
        let revoke = serde_json::json!({ "request_id": "rev-1", "serial": serial, "reason": "key-compromise" });
        let (status, _, body) = call(&app, request("POST", "/v1/revocations", Some(revoke), operator())).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        assert_eq!(serde_json::from_slice::<jlis_api::types::Revoked>(&body).unwrap().revoked, vec![serial.clone()]);
        let again = serde_json::json!({ "request_id": "rev-2", "serial": serial, "reason": "key-compromise" });
        let (status, _, body) = call(&app, request("POST", "/v1/revocations", Some(again), operator())).await;
        assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "conflict".into()));

        // Relying parties: CRLs and OCSP, no authentication.
        for name in ["auth.crl", "sign.crl", "auth-delta.crl", "sign-delta.crl"] {
            let (status, kind, der) = call(&app, request("GET", &format!("/crl/{name}"), None, Anonymous)).await;
            assert_eq!((status, kind.as_str()), (StatusCode::OK, "application/pkix-crl"), "{name}");
            assert_eq!(der[0], 0x30);
        }
        let (status, _, body) = call(&app, request("GET", "/crl/other.crl", None, Anonymous)).await;
        assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "invalid_request".into()));
        let auth_ca = pki::cert::parse_certificates(&issued.auth_ca_certificate).unwrap().remove(0);
        let serial_bytes = hex::decode(&serial).unwrap();
        let id = pki::ocsp::cert_id(&auth_ca, &serial_bytes, pki::HashAlg::Sha1).unwrap();
        let ocsp = pki::ocsp::build_request(std::slice::from_ref(&id), None).unwrap();
        let mut post = request("POST", "/ocsp", None, Anonymous);
        *post.body_mut() = Body::from(ocsp.clone());
        let (status, kind, der) = call(&app, post).await;
        assert_eq!((status, kind.as_str()), (StatusCode::OK, "application/ocsp-response"));
        let verified = pki::ocsp::verify_response(&der, &auth_ca).unwrap();
        assert!(matches!(verified.statuses[0].1, x509_ocsp::CertStatus::Revoked(_)));
        use base64::Engine;
        let encoded = base64::engine::general_purpose::STANDARD.encode(&ocsp).replace('/', "%2F").replace('+', "%2B");
        let (status, kind, _) = call(&app, request("GET", &format!("/ocsp/{encoded}"), None, Anonymous)).await;
        assert_eq!((status, kind.as_str()), (StatusCode::OK, "application/ocsp-response"));
    }
}
