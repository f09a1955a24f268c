//! The two TSMs as HTTPS services (axum on the `svc` listeners), sharing
//! the error answer, the JSON body extractor and the relay route.
//!
//! - [`sei`]: the SEI-TSM — app whitelist, SE preparation, key hand-over.
//! - [`sp`]: the SP-TSM — nonces, applications, provisioning, revocation.
//! - [`config`]: their TOML configurations and `--init`.

pub mod config;
pub mod deployment;
pub mod sei;
pub mod sp;

use crate::remote::{FlowError, RelayHub, Step};
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::sync::Arc;

/// Seconds since the Unix epoch.
pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// An error answer: `{"code": …, "message": …}` with its HTTP status.
#[derive(Debug)]
pub struct ApiError(pub FlowError);

impl From<FlowError> for ApiError {
    fn from(e: FlowError) -> Self {
        ApiError(e)
    }
}

impl From<store::StoreError> for ApiError {
    fn from(e: store::StoreError) -> Self {
        internal(e)
    }
}

/// A failure whose cause goes to the log, not to the client.
pub(crate) fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "internal error");
    ApiError(FlowError::new(500, "internal", "internal error; the operator's log has the cause"))
}

/// 400 with code `invalid_request`.
pub(crate) fn invalid(message: impl Into<String>) -> ApiError {
    ApiError(FlowError::new(400, "invalid_request", message))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(serde_json::json!({ "code": self.0.code, "message": self.0.message }))).into_response()
    }
}

/// A JSON body whose rejection (wrong content type, bad JSON, missing
/// field) is answered as `invalid_request` with serde's explanation.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let r: Result<Json<T>, JsonRejection> = Json::from_request(req, state).await;
        r.map(|Json(v)| JsonBody(v)).map_err(|e| invalid(e.body_text()))
    }
}

/// The answer carrying a relay step: 200 while commands flow or when done,
/// the flow's error status when it failed.
pub(crate) fn step_response(session: &str, step: Step) -> Response {
    let status = match &step {
        Step::Failed(e) => StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_GATEWAY),
        _ => StatusCode::OK,
    };
    (status, Json(step.to_json(session))).into_response()
}

/// The body of `POST /v1/relay/{session}`: the SE's responses, in order.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayBody {
    responses: Vec<String>,
}

impl RelayBody {
    /// The R-APDUs, each hex with data and a 2-byte status word (at most
    /// 65 538 bytes, ISO 7816-4 extended length).
    pub fn into_responses(self) -> Result<Vec<Vec<u8>>, ApiError> {
        self.responses
            .iter()
            .map(|r| hex::decode(r).ok().filter(|r| r.len() >= 2 && r.len() <= 65_538))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| invalid("responses must be R-APDUs in hex (data and a 2-byte status word)"))
    }
}

/// `POST /v1/relay/{session}`: the SE's responses in, the next step out.
pub(crate) async fn relay<S: AsRef<RelayHub>>(
    State(state): State<Arc<S>>,
    Path(session): Path<String>,
    JsonBody(body): JsonBody<RelayBody>,
) -> Result<Response, ApiError> {
    let responses = body.into_responses()?;
    let step = state.as_ref().as_ref().exchange(&session, responses).await;
    Ok(step_response(&session, step))
}
