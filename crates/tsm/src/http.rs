//! What the two TSMs' HTTP layers share: the error answer, the JSON body
//! extractor, the relay route and the answers that carry relay steps.

use crate::hub::{Answer, RelayHub, Session};
use crate::FlowError;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use tsm_api::relay::{RelayResponses, RelayStep};

/// The largest request body of a TSM route (an application's CMS, a
/// revocation request, domain keys: a few KiB).
pub const BODY_LIMIT: usize = 64 * 1024;
/// The largest relay body: a script's R-APDUs in hex (a certificate write
/// answers a few bytes; 1 MiB leaves room for extended-length answers).
pub const RELAY_BODY_LIMIT: usize = 1024 * 1024;

/// An error answer: `{"code": …, "message": …}` with the code's HTTP status.
#[derive(Debug)]
pub struct ApiError(pub FlowError);

impl From<FlowError> for ApiError {
    fn from(e: FlowError) -> Self {
        ApiError(e)
    }
}

impl From<store::StoreError> for ApiError {
    fn from(e: store::StoreError) -> Self {
        ApiError(FlowError::internal(e))
    }
}

fn status(code: tsm_api::Code) -> StatusCode {
    StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "code": self.0.code.as_str(), "message": self.0.message });
        (status(self.0.code), Json(body)).into_response()
    }
}

/// A JSON body whose rejection (wrong content type, bad JSON, missing
/// field) is answered as `invalid_request` with serde's explanation.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let r: Result<Json<T>, JsonRejection> = Json::from_request(req, state).await;
        r.map(|Json(v)| JsonBody(v)).map_err(|e| match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError(FlowError::new(tsm_api::Code::TooLarge, e.body_text())),
            _ => ApiError(FlowError::invalid(e.body_text())),
        })
    }
}

/// The other TSM, as a route's caller: it came over mutual TLS with a
/// client certificate from the CA this service trusts for that TSM. `R`
/// names the peer and says what anyone else is told.
#[derive(Debug)]
pub struct PeerTsm<R>(std::marker::PhantomData<R>);

/// Declares a peer TSM as a route's caller: `peer_tsm!(pub SpTsmCaller,
/// FromSpTsm, "refusal")` — the role, and the extractor a handler names.
#[macro_export]
macro_rules! peer_tsm {
    ($(#[$doc:meta])* $vis:vis $caller:ident, $role:ident, $refusal:literal) => {
        #[doc = concat!("The role of [`", stringify!($caller), "`].")]
        #[derive(Debug)]
        $vis struct $role;

        impl $crate::http::PeerRole for $role {
            const REFUSAL: &'static str = $refusal;
        }

        $(#[$doc])*
        $vis type $caller = $crate::http::PeerTsm<$role>;
    };
}

/// A peer TSM's role on a route.
pub trait PeerRole: Send + Sync + 'static {
    /// The refusal anyone else gets (`403 forbidden`).
    const REFUSAL: &'static str;
}

impl<S: Send + Sync, R: PeerRole> FromRequestParts<S> for PeerTsm<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        match parts.extensions.get::<svc::Peer>().is_some_and(svc::Peer::authenticated) {
            true => Ok(PeerTsm(std::marker::PhantomData)),
            false => Err(ApiError(FlowError::new(tsm_api::Code::Forbidden, R::REFUSAL))),
        }
    }
}

/// The answer carrying a relay step (with `extra` fields such as the
/// application): 200 while commands flow or when done, the code's status
/// when the flow failed.
pub fn step_answer(session: &str, answer: &Answer, extra: impl FnOnce(&mut RelayStep)) -> Response {
    let code = match answer {
        Answer::Failed(e) => status(e.code),
        _ => StatusCode::OK,
    };
    let mut step = answer.to_step(session);
    extra(&mut step);
    (code, Json(step)).into_response()
}

/// A service whose flows run over a relay hub.
pub trait Relays {
    /// Its flows between two posts of the phone.
    type Flow: Session;
    /// Its hub.
    fn hub(&self) -> &Arc<RelayHub<Self::Flow>>;
}

/// `POST /v1/relay/{session}`: the SE's responses in, the next step out.
pub async fn relay<S: Relays + Send + Sync + 'static>(
    State(state): State<Arc<S>>,
    Path(session): Path<String>,
    JsonBody(body): JsonBody<RelayResponses>,
) -> Result<Response, ApiError> {
    let responses = body
        .into_bytes()
        .ok_or_else(|| FlowError::invalid("responses must be R-APDUs in hex (data and a 2-byte status word)"))?;
    let answer = state.hub().exchange(&session, responses).await;
    Ok(step_answer(&session, &answer, |_| {}))
}

/// `GET /healthz` and `/readyz`: 200 when `store` answers, 503 when it does
/// not (a load balancer takes the instance out).
pub async fn health(store: &store::Store) -> Response {
    match store.ping().await {
        Ok(()) => "ok".into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: the store does not answer");
            let body = serde_json::json!({ "code": "unavailable", "message": "the store does not answer" });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// A TSM's OpenAPI security schemes: `peer_tsm`, the other TSM's client
/// certificate (`0` says whose), and `metrics`, the metrics token.
#[derive(Debug)]
pub struct TsmSecurity(pub &'static str);

impl utoipa::Modify for TsmSecurity {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        svc::openapi::mutual_tls(doc, "peer_tsm", self.0);
        svc::openapi::bearer(doc, "metrics", "the metrics token");
    }
}

/// A TSM's OpenAPI document as served, with the TSMs' error codes.
pub fn openapi_document(doc: utoipa::openapi::OpenApi) -> serde_json::Value {
    let codes: Vec<&str> = tsm_api::Code::ALL.iter().map(|c| c.as_str()).collect();
    svc::openapi::served(doc, &codes)
}
