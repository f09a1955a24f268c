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

use crate::service::{se_identifier, SignedRequest, Started};
use crate::SpTsm;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::{engine::general_purpose::STANDARD, Engine};
use gp::StaticKeys;
use std::sync::Arc;
use tsm::http::{step_answer, ApiError, JsonBody};
use tsm::FlowError;
use tsm_api::client::APP_ASSERTION_HEADER;
use tsm_api::types::{ApplicationBody, DomainKeys, NonceAnswer, RevocationBody, RESUME_TOKEN_HEADER};

#[utoipa::path(get, path = "/healthz", tag = "health",
    description = "Whether the store answers (also `GET /readyz`).",
    responses((status = 200, description = "the store answers"), (status = 503, description = "the store does not answer", body = svc::codes::ErrorBody)))]
async fn health(State(service): State<Arc<SpTsm>>) -> Response {
    tsm::http::health(service.records().store()).await
}

/// The SP-TSM's router.
pub fn router(sp: Arc<SpTsm>) -> Router {
    Router::new()
        .route("/healthz", get(health))
        .route("/readyz", get(health))
        .route("/openapi.json", get(openapi))
        .route("/metrics", get(metrics))
        .route("/v1/nonces", post(nonce))
        .route("/v1/domain-keys", post(domain_keys))
        .route("/v1/applications", post(application))
        .route("/v1/applications/{id}", get(application_state))
        .route("/v1/applications/{id}/provisioning", post(resume))
        .route("/v1/revocations", post(revocation))
        .route("/v1/relay/{session}", post(relay_step).layer(DefaultBodyLimit::max(tsm::http::RELAY_BODY_LIMIT)))
        .layer(DefaultBodyLimit::max(tsm::http::BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(sp.metrics().clone(), tsm::metrics::track))
        .with_state(sp)
}

tsm::peer_tsm!(
    /// The SEI-TSM, by its client certificate from the configured SEI-TSM CA.
    pub SeiTsmCaller,
    FromSeiTsm,
    "domain keys are accepted only from the SEI-TSM (client certificate)"
);

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

/// A phone's request with what its app assertion covers: method, path,
/// the body as received and the `x-app-assertion` header (docs/device-trust.md
/// "Per-request app assertions"). The handler parses the body with `Signed::json`.
#[derive(Debug)]
pub struct Signed {
    method: String,
    path: String,
    body: axum::body::Bytes,
    assertion: Option<Vec<u8>>,
}

impl<S: Send + Sync> axum::extract::FromRequest<S> for Signed {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let (method, path) = (req.method().to_string(), req.uri().path().to_string());
        let assertion = match req.headers().get(APP_ASSERTION_HEADER) {
            None => None,
            Some(v) => Some(v.to_str().ok().and_then(|t| STANDARD.decode(t).ok()).ok_or_else(|| {
                FlowError::new(
                    tsm_api::Code::DeviceNotTrusted,
                    format!("assertion_malformed: the {APP_ASSERTION_HEADER} header is not base64"),
                )
            })?),
        };
        let body = axum::body::Bytes::from_request(req, state).await.map_err(|e| match e.status() {
            axum::http::StatusCode::PAYLOAD_TOO_LARGE => FlowError::new(tsm_api::Code::TooLarge, e.body_text()),
            _ => FlowError::invalid(e.body_text()),
        })?;
        Ok(Signed { method, path, body, assertion })
    }
}

impl Signed {
    /// The request as the service checks its assertion.
    fn request(&self) -> SignedRequest<'_> {
        SignedRequest { method: &self.method, path: &self.path, body: &self.body, assertion: self.assertion.as_deref() }
    }

    /// The body as JSON (`invalid_request` with serde's explanation).
    fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, FlowError> {
        serde_json::from_slice(&self.body).map_err(|e| FlowError::invalid(format!("malformed JSON body: {e}")))
    }
}

#[utoipa::path(post, path = "/v1/nonces", tag = "phones",
    description = "A single-use nonce for an application or a holder's revocation request (valid 5 minutes).",
    responses((status = 200, description = "a nonce", body = NonceAnswer)))]
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

#[utoipa::path(post, path = "/v1/domain-keys", tag = "sei-tsm",
    description = "The SEI-TSM hands over an SE's initial SP-domain keys (sealed before they are stored). SEI-TSM only (client certificate).",
    security(("peer_tsm" = [])), request_body = DomainKeys,
    responses((status = 200, description = "stored"), (status = 400, description = "refused: the error's code says why", body = svc::codes::ErrorBody), (status = 403, description = "not the SEI-TSM", body = svc::codes::ErrorBody)))]
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

#[utoipa::path(post, path = "/v1/applications", tag = "phones",
    description = "A card-signed application (CMS, base64); the answer is provisioning's first relay step, with the application's id and the resume token.",
    request_body = ApplicationBody,
    responses((status = 200, description = "provisioning's first step", body = tsm_api::RelayStep), (status = 400, description = "refused: the error's code says why", body = svc::codes::ErrorBody)))]
async fn application(
    State(sp): State<Arc<SpTsm>>,
    JsonBody(body): JsonBody<ApplicationBody>,
) -> Result<Response, ApiError> {
    let cms = STANDARD.decode(&body.application).map_err(|_| FlowError::invalid("application must be base64 CMS"))?;
    let evidence = match &body.evidence {
        Some(e) => Some(STANDARD.decode(e).map_err(|_| FlowError::invalid("evidence must be base64 (an EAT)"))?),
        None => None,
    };
    Ok(started(sp.apply(&cms, evidence.as_deref()).await?))
}

#[utoipa::path(post, path = "/v1/applications/{id}/provisioning", tag = "phones",
    description = "Resumes an interrupted provisioning within the resume window; only the applying phone (its resume token in `x-resume-token`).",
    params(("id" = String, Path, description = "the application's id"), ("x-resume-token" = Option<String>, Header, description = "the token the application's answer gave"), ("x-app-assertion" = Option<String>, Header, description = "the JPKI app's assertion over this request (base64 CBOR, App Attest format) by the app key that signed the application's evidence; required when the application carried evidence")),
    responses((status = 200, description = "the resumed provisioning's first step", body = tsm_api::RelayStep), (status = 400, description = "refused: the error's code says why", body = svc::codes::ErrorBody), (status = 403, description = "not the applicant", body = svc::codes::ErrorBody)))]
async fn resume(
    State(sp): State<Arc<SpTsm>>,
    Path(id): Path<String>,
    ResumeToken(token): ResumeToken,
    signed: Signed,
) -> Result<Response, ApiError> {
    Ok(started(sp.resume(&id, token.as_deref(), &signed.request()).await?))
}

#[utoipa::path(get, path = "/v1/applications/{id}", tag = "phones",
    description = "An application's state, attempts and certificates.",
    params(("id" = String, Path, description = "the application's id")),
    responses((status = 200, description = "its state"), (status = 400, description = "refused: the error's code says why", body = svc::codes::ErrorBody), (status = 404, description = "no such application", body = svc::codes::ErrorBody)))]
async fn application_state(State(sp): State<Arc<SpTsm>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    Ok(Json(sp.application_view(&id).await?).into_response())
}

#[utoipa::path(post, path = "/v1/revocations", tag = "phones",
    description = "The holder's revocation, a request signed with the phone's auth key (CMS, base64), with what the holder confirmed on the trusted UI when device trust is on; the answer is the wipe's first relay step.",
    params(("x-app-assertion" = Option<String>, Header, description = "the JPKI app's assertion over this request (base64 CBOR, App Attest format) by the app key that signed the application's evidence; required when the application carried evidence")),
    request_body = RevocationBody,
    responses((status = 200, description = "revoked; the wipe's first step", body = tsm_api::RelayStep), (status = 400, description = "refused: the error's code says why", body = svc::codes::ErrorBody)))]
async fn revocation(State(sp): State<Arc<SpTsm>>, signed: Signed) -> Result<Response, ApiError> {
    let body: RevocationBody = signed.json()?;
    let cms = STANDARD.decode(&body.request).map_err(|_| FlowError::invalid("request must be base64 CMS"))?;
    let (session, answer) = sp.revoke_for_holder(&cms, body.confirmation.as_ref(), &signed.request()).await?;
    Ok(step_answer(&session, &answer, |_| {}))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "openjpki — the SP-TSM", description = "Nonces, card-signed applications and provisioning of the JPKI applet through the phone's relay, the SEI-TSM's hand-over of domain keys, the holder's revocation. Errors are `ErrorBody` with a code from the table."),
    paths(health, metrics, nonce, domain_keys, application, resume, application_state, revocation, relay_step),
    components(schemas(svc::codes::ErrorBody)),
    modifiers(&SECURITY)
)]
struct ApiDoc;

const SECURITY: tsm::http::TsmSecurity = tsm::http::TsmSecurity("the SEI-TSM's client certificate");

#[utoipa::path(post, path = "/v1/relay/{session}", tag = "phones",
    description = "The SE's responses to the last step's commands, in order; the answer is the next step (commands to relay, or `done`, or a failure with `code` and `message`). Anyone who holds the session.",
    params(("session" = String, Path, description = "the relay session (64 hex digits)"), ("x-app-assertion" = Option<String>, Header, description = "the JPKI app's assertion over this request (base64 CBOR, App Attest format) by the app key that signed the application's evidence; required when the application carried evidence")),
    request_body = tsm_api::RelayResponses,
    responses((status = 200, description = "the next step", body = tsm_api::RelayStep), (status = 400, description = "refused: the error's code says why", body = svc::codes::ErrorBody), (status = 404, description = "no such session (expired or ended)", body = svc::codes::ErrorBody)))]
async fn relay_step(
    State(sp): State<Arc<SpTsm>>,
    Path(session): Path<String>,
    signed: Signed,
) -> Result<Response, ApiError> {
    let body: tsm_api::RelayResponses = signed.json()?;
    let responses = body
        .into_bytes()
        .ok_or_else(|| FlowError::invalid("responses must be R-APDUs in hex (data and a 2-byte status word)"))?;
    let answer = sp.relay_step(&session, &signed.request(), responses).await?;
    Ok(step_answer(&session, &answer, |_| {}))
}

#[utoipa::path(get, path = "/metrics", tag = "operators",
    description = "Prometheus metrics (OpenMetrics text): requests by route and status, latency, relay sessions open. Whoever holds the metrics token.",
    security(("metrics" = [])),
    responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text"), (status = 403, description = "no metrics token", body = svc::codes::ErrorBody)))]
async fn metrics(State(service): State<Arc<SpTsm>>, headers: axum::http::HeaderMap) -> Response {
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
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use serde_json::json;
    use testkit::http::Caller;
    use tsm_api::Code;

    /// An SP-TSM whose JPKI service does not answer (port 9), with the
    /// local CA that issues its cards.
    async fn sp_tsm(dir: &std::path::Path) -> (Arc<SpTsm>, pki::ca::LocalCa) {
        svc::tls::generate(dir, &["sp-tsm", "sei-tsm"]).unwrap();
        let ca = pki::ca::LocalCa::open_or_create(&dir.join("ca")).unwrap();
        let mut cas = Vec::new();
        for kind in [pki::CaKind::Auth, pki::CaKind::Sign] {
            let path = dir.join(format!("{kind:?}.der"));
            std::fs::write(&path, &ca.ca(kind).cert_der).unwrap();
            cas.push(path);
        }
        let tls = dir.join("tls");
        let config = crate::SpConfig {
            https_listen: "127.0.0.1:0".parse().unwrap(),
            database: format!("sqlite://{}", dir.join("sp.sqlite").display()),
            vault_key_file: Some(dir.join("vault.key")),
            pkcs11: None,
            tls_certificate: tls.join("sp-tsm-server.pem"),
            tls_key: tls.join("sp-tsm-server.key"),
            sei_tsm_client_ca: tls.join("sei-tsm-ca.pem"),
            jlis_url: "https://127.0.0.1:9".into(),
            jlis_server_name: svc::tls::Service::Jlis.server_name().into(),
            jlis_ocsp_url: None,
            jpki_ca_certificates: cas,
            tls_ca: tls.join("ca.pem"),
            client_certificate: tls.join("sp-tsm.pem"),
            client_key: tls.join("sp-tsm.key"),
            app_certificate_sha256: vec!["AB".repeat(32)],
            relay_timeout_secs: 5,
            resume_window_secs: 600,
            metrics_token_file: Some(dir.join("metrics.token")),
            device_trust: None,
        };
        std::fs::write(dir.join("metrics.token"), METRICS_TOKEN).unwrap();
        tsm::keys::key_file(config.vault_key_file.as_ref().unwrap(), true).unwrap();
        (Arc::new(SpTsm::open(&config).await.unwrap()), ca)
    }

    const METRICS_TOKEN: &str = "a-metrics-token-for-the-tests";

    /// `/metrics` (issue 15, point 8): refused without the metrics token,
    /// with it the requests counted by the route they matched and the
    /// relay sessions open.
    #[tokio::test]
    async fn metrics_need_the_token_and_count_requests_by_route() {
        let dir = tempfile::tempdir().unwrap();
        let (sp, _) = sp_tsm(dir.path()).await;
        let app = router(sp);
        for _ in 0..3 {
            assert_eq!(call(&app, request("POST", "/v1/nonces", json!(null), false)).await.0, StatusCode::OK);
        }
        let (status, body) = call(&app, request("GET", "/metrics", json!(null), false)).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
        let wrong =
            testkit::http::request("GET", "/metrics", json!(null), &Caller::Bearer("wrong-token-wrong-token".into()));
        assert_eq!(call(&app, wrong).await.0, StatusCode::FORBIDDEN);
        let with = testkit::http::request("GET", "/metrics", json!(null), &Caller::Bearer(METRICS_TOKEN.into()));
        let (status, kind, text) = testkit::http::send(&app, with).await;
        assert_eq!(status, StatusCode::OK);
        assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("sp_tsm_http_requests_total{route=\"/v1/nonces\",status=\"200\"} 3"), "{text}");
        assert!(text.contains("sp_tsm_http_requests_total{route=\"/metrics\",status=\"403\"} 2"), "{text}");
        assert!(text.contains("sp_tsm_relay_sessions_open 0"), "{text}");
    }

    fn request(method: &str, uri: &str, body: serde_json::Value, from_sei_tsm: bool) -> Request<Body> {
        let caller = if from_sei_tsm { Caller::Peer(vec![0x30]) } else { Caller::Anonymous };
        testkit::http::request(method, uri, body, &caller)
    }

    async fn call(app: &Router, r: Request<Body>) -> (StatusCode, serde_json::Value) {
        testkit::http::call(app, r).await
    }

    /// A card-signed application (the card's key in software) for the
    /// nonce `nonce`.
    fn application(ca: &pki::ca::LocalCa, nonce: &str) -> String {
        let key = pki::RsaPrivateKey::generate_2048().unwrap();
        let cert =
            ca.issue_card_certificate(pki::CaKind::Sign, &key.public_key_der(), &pki::Holder::example()).unwrap();
        let mut app = tsm_api::Application::example(&[tsm_api::PhoneCertType::Sign]);
        app.nonce = nonce.into();
        let cms = app.sign_with(&key, &der::Encode::to_der(&cert).unwrap()).unwrap();
        STANDARD.encode(cms)
    }

    #[tokio::test]
    async fn every_route_answers_and_refuses_as_documented() {
        let dir = tempfile::tempdir().unwrap();
        let (sp, ca) = sp_tsm(dir.path()).await;
        let app = router(sp.clone());
        let none = serde_json::Value::Null;
        assert_eq!(call(&app, request("GET", "/healthz", none.clone(), false)).await.0, StatusCode::OK);
        assert_eq!(call(&app, request("GET", "/readyz", none.clone(), false)).await.0, StatusCode::OK);
        let (status, doc) = call(&app, request("GET", "/openapi.json", none.clone(), false)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(doc["paths"]["/v1/applications/{id}/provisioning"].is_object());
        assert_eq!(doc, openapi_document(), "the served document is the generated one");
        assert_eq!(testkit::http::documented_operations_are_routed(&app, &doc, "00").await, 9);

        // Nonces: 32 random bytes, five minutes.
        let (status, nonce) = call(&app, request("POST", "/v1/nonces", none.clone(), false)).await;
        assert_eq!((status, nonce["expires_in"].as_u64()), (StatusCode::OK, Some(300)));
        let nonce = nonce["nonce"].as_str().unwrap().to_string();
        assert_eq!(nonce.len(), 64);

        // Domain keys from the SEI-TSM.
        let key = "000102030405060708090A0B0C0D0E0F";
        let keys =
            serde_json::json!({ "se_id": "00112233445566778899", "kvn": 48, "enc": key, "mac": key, "dek": key });
        let (status, ok) = call(&app, request("POST", "/v1/domain-keys", keys, true)).await;
        assert_eq!((status, ok["se_id"].as_str()), (StatusCode::OK, Some("00112233445566778899")));

        // Every refusal, in order: who may call, malformed bodies, then a
        // genuine application whose card status cannot be checked (the JPKI
        // service is down: 503), which spends its nonce.
        let genuine = application(&ca, &nonce);
        let post = |uri: &str, body| request("POST", uri, body, false);
        let mut resume = post("/v1/applications/00ff/provisioning", none.clone());
        resume.headers_mut().insert(RESUME_TOKEN_HEADER, "00".parse().unwrap());
        let mut garbled = post(&format!("/v1/relay/{}", "ab".repeat(32)), json!({ "responses": ["9000"] }));
        garbled.headers_mut().insert(APP_ASSERTION_HEADER, "*** not base64 ***".parse().unwrap());
        let refusals = [
            (post("/v1/domain-keys", json!("not even a body")), StatusCode::FORBIDDEN, "forbidden"),
            (
                request("POST", "/v1/domain-keys", json!({ "se_id": "00" }), true),
                StatusCode::BAD_REQUEST,
                "invalid_request",
            ),
            (post("/v1/applications", json!({ "application": "***" })), StatusCode::BAD_REQUEST, "invalid_request"),
            (post("/v1/applications", json!({ "application": "AAAA" })), StatusCode::FORBIDDEN, "bad_signature"),
            (
                post("/v1/applications", json!({ "application": genuine })),
                StatusCode::SERVICE_UNAVAILABLE,
                "status_unavailable",
            ),
            (post("/v1/applications", json!({ "application": genuine })), StatusCode::FORBIDDEN, "unknown_nonce"),
            (
                request("GET", "/v1/applications/00ff", none.clone(), false),
                StatusCode::NOT_FOUND,
                "unknown_application",
            ),
            (resume, StatusCode::NOT_FOUND, "unknown_application"),
            (post("/v1/revocations", json!({ "request": "***" })), StatusCode::BAD_REQUEST, "invalid_request"),
            (post("/v1/revocations", json!({ "request": "AAAA" })), StatusCode::FORBIDDEN, "bad_signature"),
            (post("/v1/relay/x", json!({ "responses": ["9"] })), StatusCode::BAD_REQUEST, "invalid_request"),
            (post("/v1/relay/x", json!("not JSON responses")), StatusCode::BAD_REQUEST, "invalid_request"),
            (garbled, StatusCode::FORBIDDEN, "device_not_trusted"),
            (
                post(&format!("/v1/relay/{}", "ab".repeat(32)), json!({ "responses": ["9000"] })),
                StatusCode::NOT_FOUND,
                "unknown_session",
            ),
        ];
        for (n, (r, status, code)) in refusals.into_iter().enumerate() {
            assert_eq!(testkit::http::refusal(&app, r).await, (status, code.to_string()), "refusal {n}");
        }
        // Body limits per route: 64 KiB for a request, 1 MiB for a relay post.
        let big = post("/v1/applications", json!({ "application": "A".repeat(tsm::http::BODY_LIMIT) }));
        assert_eq!(call(&app, big).await.0, StatusCode::PAYLOAD_TOO_LARGE);
        let responses = json!({ "responses": ["90".repeat(40_000) + "9000"] });
        let relayed = post(&format!("/v1/relay/{}", "cd".repeat(32)), responses);
        assert_eq!(testkit::http::refusal(&app, relayed).await, (StatusCode::NOT_FOUND, "unknown_session".into()));
        assert_eq!(tsm::http::Relays::hub(&*sp).open_sessions(), 0);
    }

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
