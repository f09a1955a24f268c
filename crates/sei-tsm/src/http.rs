//! The SEI-TSM's API (`openapi.json`), built by [`router`]:
//!
//! - `PUT /v1/apps` — the SP-TSM (client certificate) registers the JPKI
//!   app's signing-certificate hashes, which the ARA-M rule will name.
//! - `POST /v1/preparations` — a phone asks for its SE to be prepared; the
//!   answer is the first relay step. A prepared SE is not prepared again
//!   (409 `already_prepared`).
//! - `POST /v1/relay/{session}`, `GET /openapi.json`, `GET /healthz`.
//!
//! Who may call a route is an extractor in the handler's signature
//! ([`SpTsmCaller`]), checked before the body is read.

use crate::SeiTsm;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use std::sync::Arc;
use tsm::http::{relay, step_answer, ApiError, JsonBody};
use tsm::FlowError;
use tsm_api::types::AppsBody;

#[utoipa::path(get, path = "/healthz", tag = "health",
    description = "Whether the store answers (also `GET /readyz`).",
    responses((status = 200, description = "the store answers"), (status = 503, description = "the store does not answer", body = svc::codes::ErrorBody)))]
async fn health(State(service): State<Arc<SeiTsm>>) -> Response {
    tsm::http::health(service.records().store()).await
}

/// The SEI-TSM's router.
pub fn router(sei: Arc<SeiTsm>) -> Router {
    Router::new()
        .route("/healthz", get(health))
        .route("/readyz", get(health))
        .route("/openapi.json", get(openapi))
        .route("/metrics", get(metrics))
        .route("/v1/apps", put(register_apps))
        .route("/v1/preparations", post(preparation))
        .route("/v1/relay/{session}", post(relay_step).layer(DefaultBodyLimit::max(tsm::http::RELAY_BODY_LIMIT)))
        .layer(DefaultBodyLimit::max(tsm::http::BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(sei.metrics().clone(), tsm::metrics::track))
        .with_state(sei)
}

tsm::peer_tsm!(
    /// The SP-TSM, by its client certificate from the configured SP-TSM CA.
    pub SpTsmCaller,
    FromSpTsm,
    "only the SP-TSM (client certificate) registers apps"
);

#[utoipa::path(put, path = "/v1/apps", tag = "sp-tsm",
    description = "The SP-TSM registers the JPKI app's signing-certificate hashes (the ARA-M rule every preparation installs). SP-TSM only (client certificate).",
    security(("peer_tsm" = [])), request_body = AppsBody,
    responses((status = 200, description = "registered"), (status = 400, description = "refused: the error's code says why", body = svc::codes::ErrorBody), (status = 403, description = "not the SP-TSM", body = svc::codes::ErrorBody)))]
async fn register_apps(
    State(sei): State<Arc<SeiTsm>>,
    _: SpTsmCaller,
    JsonBody(body): JsonBody<AppsBody>,
) -> Result<Response, ApiError> {
    let hashes = body
        .app_certificate_sha256
        .iter()
        .map(|h| hex::decode(h).ok().filter(|h| h.len() == 32))
        .collect::<Option<Vec<_>>>()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| FlowError::invalid("app_certificate_sha256 must list SHA-256 hashes in hex"))?;
    sei.register_apps(&hashes).await?;
    Ok(Json(serde_json::json!({ "registered": hashes.len() })).into_response())
}

#[utoipa::path(post, path = "/v1/preparations", tag = "phones",
    description = "Prepares the phone's SE (SP domain, JPKI applet, ARA-M rule) through the relay; the answer is the first step. At the end the domain keys are handed to the SP-TSM.",
    responses((status = 200, description = "the first step", body = tsm_api::RelayStep), (status = 400, description = "refused: the error's code says why", body = svc::codes::ErrorBody)))]
async fn preparation(State(sei): State<Arc<SeiTsm>>) -> Result<Response, ApiError> {
    let (session, answer) = sei.begin_preparation().await?;
    Ok(step_answer(&session, &answer, |_| {}))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "openjpki — the SEI-TSM", description = "Preparation of phones' SEs through the phone's relay, and the app whitelist the SP-TSM registers. Errors are `ErrorBody` with a code from the table."),
    paths(health, metrics, register_apps, preparation, relay_step),
    components(schemas(svc::codes::ErrorBody)),
    modifiers(&SECURITY)
)]
struct ApiDoc;

const SECURITY: tsm::http::TsmSecurity = tsm::http::TsmSecurity("the SP-TSM's client certificate");

#[utoipa::path(post, path = "/v1/relay/{session}", tag = "phones",
    description = "The SE's responses to the last step's commands, in order; the answer is the next step (commands to relay, or `done`, or a failure with `code` and `message`). Anyone who holds the session.",
    params(("session" = String, Path, description = "the relay session (64 hex digits)")),
    request_body = tsm_api::RelayResponses,
    responses((status = 200, description = "the next step", body = tsm_api::RelayStep), (status = 400, description = "refused: the error's code says why", body = svc::codes::ErrorBody), (status = 404, description = "no such session (expired or ended)", body = svc::codes::ErrorBody)))]
async fn relay_step(
    state: State<Arc<SeiTsm>>,
    session: Path<String>,
    body: JsonBody<tsm_api::RelayResponses>,
) -> Result<Response, ApiError> {
    relay::<SeiTsm>(state, session, body).await
}

#[utoipa::path(get, path = "/metrics", tag = "operators",
    description = "Prometheus metrics (OpenMetrics text): requests by route and status, latency, relay sessions open. Whoever holds the metrics token.",
    security(("metrics" = [])),
    responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text"), (status = 403, description = "no metrics token", body = svc::codes::ErrorBody)))]
async fn metrics(State(service): State<Arc<SeiTsm>>, headers: axum::http::HeaderMap) -> Response {
    service.metrics().answer(&headers, tsm::http::Relays::hub(&*service).open_sessions())
}

async fn openapi() -> Response {
    Json(openapi_document()).into_response()
}

/// The OpenAPI document, generated from the handlers and the body types
/// (`GET /openapi.json`; `jpki openapi NAME`).
pub fn openapi_document() -> serde_json::Value {
    tsm::http::openapi_document(<ApiDoc as utoipa::OpenApi>::openapi())
}

#[cfg(test)]
mod tests {
    //! Every route, one request each through the router (no listener).
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use testkit::http::Caller;

    async fn sei(dir: &std::path::Path) -> Arc<SeiTsm> {
        svc::tls::generate(dir, &[]).unwrap();
        let ca = dir.join("tls/ca.pem");
        let sp = tsm_api::client::TsmClient::new("https://127.0.0.1:9", &ca, svc::tls::Service::SpTsm, None).unwrap();
        let master = crate::master::IsdMaster::Software(gp::AesKey::new(&[7; 32]).unwrap());
        let url = format!("sqlite://{}", dir.join("sei.sqlite").display());
        Arc::new(SeiTsm::open(&url, master, sp, std::time::Duration::from_secs(5)).await.unwrap())
    }

    async fn call(router: Router, request: Request<Body>) -> (StatusCode, serde_json::Value) {
        testkit::http::call(&router, request).await
    }

    fn json(method: &str, uri: &str, body: serde_json::Value, peer: Option<Caller>) -> Request<Body> {
        testkit::http::request(method, uri, body, &peer.unwrap_or(Caller::Anonymous))
    }

    fn sp_tsm() -> Option<Caller> {
        Some(Caller::Peer(vec![1, 2, 3]))
    }

    #[tokio::test]
    async fn every_route_answers_and_refuses_as_documented() {
        let dir = tempfile::tempdir().unwrap();
        let sei = sei(dir.path()).await;
        let app = router(sei.clone());
        let get = |uri: &str| Request::builder().uri(uri).body(Body::empty()).unwrap();
        assert_eq!(call(app.clone(), get("/healthz")).await.0, StatusCode::OK);
        assert_eq!(call(app.clone(), get("/readyz")).await.0, StatusCode::OK);
        let (status, doc) = call(app.clone(), get("/openapi.json")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(doc["paths"]["/v1/preparations"].is_object());
        assert_eq!(doc, openapi_document(), "the served document is the generated one");
        assert_eq!(testkit::http::documented_operations_are_routed(&app, &doc, "00").await, 5);

        // Refusals, in order: preparation before the SP registered an app
        // (it would lock every app out); apps only from the SP-TSM, checked
        // before the body; malformed bodies.
        let refusals = [
            (json("POST", "/v1/preparations", serde_json::json!({}), None), StatusCode::CONFLICT, "no_apps"),
            (json("PUT", "/v1/apps", serde_json::json!("not even a body"), None), StatusCode::FORBIDDEN, "forbidden"),
            (
                json("PUT", "/v1/apps", serde_json::json!({ "app_certificate_sha256": ["00"] }), sp_tsm()),
                StatusCode::BAD_REQUEST,
                "invalid_request",
            ),
            (
                json("PUT", "/v1/apps", serde_json::json!({ "extra": 1 }), sp_tsm()),
                StatusCode::BAD_REQUEST,
                "invalid_request",
            ),
        ];
        for (n, (r, status, code)) in refusals.into_iter().enumerate() {
            assert_eq!(testkit::http::refusal(&app, r).await, (status, code.to_string()), "refusal {n}");
        }
        let hashes = serde_json::json!({ "app_certificate_sha256": ["AB".repeat(32)] });
        let (status, ok) = call(app.clone(), json("PUT", "/v1/apps", hashes, sp_tsm())).await;
        assert_eq!((status, ok["registered"].as_u64()), (StatusCode::OK, Some(1)));

        // Now a preparation starts: its first step selects the ISD.
        let (status, step) = call(app.clone(), json("POST", "/v1/preparations", serde_json::json!({}), None)).await;
        assert_eq!(status, StatusCode::OK);
        let session = step["session"].as_str().unwrap().to_string();
        assert_eq!(step["commands"][0].as_str().unwrap(), "00A4040008A00000015100000000");
        // The relay: a wrong count closes the session, which is then
        // unknown; responses that are not R-APDUs.
        let relay = |id: &str, responses| {
            json("POST", &format!("/v1/relay/{id}"), serde_json::json!({ "responses": responses }), None)
        };
        let refusals = [
            (relay(&session, serde_json::json!(["9000", "9000"])), StatusCode::BAD_REQUEST, "relay_protocol"),
            (relay(&session, serde_json::json!(["9000"])), StatusCode::NOT_FOUND, "unknown_session"),
            (relay("x", serde_json::json!(["zz"])), StatusCode::BAD_REQUEST, "invalid_request"),
        ];
        for (n, (r, status, code)) in refusals.into_iter().enumerate() {
            assert_eq!(testkit::http::refusal(&app, r).await, (status, code.to_string()), "relay refusal {n}");
        }
        assert_eq!(tsm::http::Relays::hub(&*sei).open_sessions(), 0);
    }
}
