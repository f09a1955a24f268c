//! The SP-TSM's API (`openapi.json`), built by [`router`]:
//!
//! - `POST /v1/nonces` — a single-use nonce for an application or a
//!   revocation request (5 minutes).
//! - `POST /v1/domain-keys` — the SEI-TSM (client certificate) hands over
//!   an SE's initial domain keys; they are sealed before they are stored.
//! - `POST /v1/applications` — a card-signed application; the answer is
//!   provisioning's first relay step, with the application's id and the
//!   resume token. `POST /v1/applications/{id}/provisioning` (with the
//!   token) resumes an interrupted one; `GET /v1/applications/{id}` tells
//!   its state.
//! - `POST /v1/revocations` — the holder's revocation, signed with a phone
//!   key; the answer is the wipe's first relay step.
//! - `POST /v1/relay/{session}`, `GET /openapi.json`, `GET /healthz`.
//!
//! Who may call a route is an extractor in the handler's signature
//! ([`SeiTsmCaller`], [`ResumeToken`]).

use crate::service::{se_identifier, Started};
use crate::SpTsm;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::{engine::general_purpose::STANDARD, Engine};
use gp::StaticKeys;
use std::sync::Arc;
use tsm::http::{relay, step_answer, ApiError, JsonBody};
use tsm::FlowError;
use tsm_api::types::{ApplicationBody, DomainKeys, NonceAnswer, RevocationBody, RESUME_TOKEN_HEADER};
use tsm_api::Code;

const OPENAPI: &str = include_str!("openapi.json");

/// The SP-TSM's router.
pub fn router(sp: Arc<SpTsm>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/openapi.json", get(|| async { ([("content-type", "application/json")], OPENAPI) }))
        .route("/v1/nonces", post(nonce))
        .route("/v1/domain-keys", post(domain_keys))
        .route("/v1/applications", post(application))
        .route("/v1/applications/{id}", get(application_state))
        .route("/v1/applications/{id}/provisioning", post(resume))
        .route("/v1/revocations", post(revocation))
        .route("/v1/relay/{session}", post(relay::<SpTsm>))
        .with_state(sp)
}

/// The SEI-TSM, by its client certificate from the configured SEI-TSM CA.
#[derive(Debug)]
pub struct SeiTsmCaller;

impl<S: Send + Sync> FromRequestParts<S> for SeiTsmCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        if tsm::http::from_peer_tsm(parts) {
            Ok(SeiTsmCaller)
        } else {
            Err(ApiError(FlowError::new(
                Code::Forbidden,
                "domain keys are accepted only from the SEI-TSM (client certificate)",
            )))
        }
    }
}

/// The resume token a phone presents (`x-resume-token`); the rules check
/// it against the application's.
#[derive(Debug)]
pub struct ResumeToken(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ResumeToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let token = parts.headers.get(RESUME_TOKEN_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
        Ok(ResumeToken(token))
    }
}

async fn nonce(State(sp): State<Arc<SpTsm>>) -> Json<NonceAnswer> {
    let expires_in = crate::application::NONCE_LIFETIME.as_secs();
    Json(NonceAnswer { nonce: hex::encode(sp.nonce()), expires_in })
}

/// The SE identifier (upper-case hex) and the keys of a hand-over,
/// checked: AES keys in hex, a 10-byte SE identifier.
pub fn handed_over_keys(body: &DomainKeys) -> Result<(String, StaticKeys), FlowError> {
    let key = |s: &str| zeroize::Zeroizing::new(hex::decode(s).unwrap_or_default());
    let (enc, mac, dek) = (key(&body.enc), key(&body.mac), key(&body.dek));
    let keys = StaticKeys::new(body.kvn, &enc, &mac, &dek)
        .map_err(|_| FlowError::invalid("enc, mac and dek must be AES keys in hex"))?;
    Ok((se_identifier(&body.se_id)?, keys))
}

async fn domain_keys(
    State(sp): State<Arc<SpTsm>>,
    _: SeiTsmCaller,
    JsonBody(body): JsonBody<DomainKeys>,
) -> Result<Response, ApiError> {
    let (se_id, keys) = handed_over_keys(&body)?;
    sp.accept_handover(&se_id, &keys).await?;
    Ok(Json(serde_json::json!({ "se_id": se_id })).into_response())
}

/// A provisioning's answer: its relay step with the application (and, the
/// first time, the resume token).
fn started(s: Started) -> Response {
    step_answer(&s.session, &s.answer, |step| {
        step.application = Some(s.application.clone());
        step.resume_token = s.resume_token.as_ref().map(|t| t.to_string());
    })
}

async fn application(
    State(sp): State<Arc<SpTsm>>,
    JsonBody(body): JsonBody<ApplicationBody>,
) -> Result<Response, ApiError> {
    let cms = STANDARD.decode(&body.application).map_err(|_| FlowError::invalid("application must be base64 CMS"))?;
    Ok(started(sp.apply(&cms).await?))
}

async fn resume(
    State(sp): State<Arc<SpTsm>>,
    Path(id): Path<String>,
    ResumeToken(token): ResumeToken,
) -> Result<Response, ApiError> {
    Ok(started(sp.resume(&id, token.as_deref()).await?))
}

async fn application_state(State(sp): State<Arc<SpTsm>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    Ok(Json(sp.application_view(&id).await?).into_response())
}

async fn revocation(
    State(sp): State<Arc<SpTsm>>,
    JsonBody(body): JsonBody<RevocationBody>,
) -> Result<Response, ApiError> {
    let cms = STANDARD.decode(&body.request).map_err(|_| FlowError::invalid("request must be base64 CMS"))?;
    let (session, answer) = sp.revoke_for_holder(&cms).await?;
    Ok(step_answer(&session, &answer, |_| {}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handover(json: serde_json::Value) -> Result<(String, StaticKeys), FlowError> {
        handed_over_keys(&serde_json::from_value::<DomainKeys>(json).expect("shape"))
    }

    #[test]
    fn handover_bodies_are_checked() {
        let key = "000102030405060708090A0B0C0D0E0F";
        let ok = serde_json::json!({ "se_id": "00112233445566778899", "kvn": 48, "enc": key, "mac": key, "dek": key });
        assert_eq!(handover(ok.clone()).unwrap().0, "00112233445566778899");
        for (field, bad) in [("se_id", "0011"), ("se_id", "zz112233445566778899"), ("enc", "0001"), ("mac", "not hex")]
        {
            let mut body = ok.clone();
            body[field] = bad.into();
            assert_eq!(handover(body).unwrap_err().code, Code::InvalidRequest, "{field} = {bad}");
        }
        assert!(serde_json::from_value::<DomainKeys>(serde_json::json!({ "se_id": "", "extra": 1 })).is_err());
    }
}
