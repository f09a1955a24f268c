//! One request through a router (`tower::ServiceExt::oneshot`).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use tower::ServiceExt;

/// Who makes a request.
#[derive(Debug, Clone)]
pub enum Caller {
    /// No credentials.
    Anonymous,
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// A client certificate the listener verified (its DER).
    Peer(Vec<u8>),
}

/// A request with a JSON `body` (none for `Null`) from `caller`, as the
/// listener hands it to the router (the verified peer as an extension).
pub fn request(method: &str, uri: &str, body: serde_json::Value, caller: &Caller) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Caller::Bearer(token) = caller {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let body = match body {
        serde_json::Value::Null => Body::empty(),
        json => {
            builder = builder.header("content-type", "application/json");
            Body::from(json.to_string())
        }
    };
    let mut request = builder.body(body).expect("a valid request");
    let client_certificate = match caller {
        Caller::Peer(der) => Some(der.clone()),
        _ => None,
    };
    request.extensions_mut().insert(svc::Peer { client_certificate });
    request
}

/// The answer: status, content type, body.
pub async fn send(router: &Router, request: Request<Body>) -> (StatusCode, String, Vec<u8>) {
    let answer = router.clone().oneshot(request).await.expect("the router answers");
    let status = answer.status();
    let kind = answer.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let body = axum::body::to_bytes(answer.into_body(), 1 << 22).await.expect("a body").to_vec();
    (status, kind, body)
}

/// The answer's status and JSON (`Null` when the body is not JSON).
pub async fn call(router: &Router, request: Request<Body>) -> (StatusCode, serde_json::Value) {
    let (status, _, body) = send(router, request).await;
    (status, serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null))
}

/// The status and the error code of an answer.
pub async fn refusal(router: &Router, request: Request<Body>) -> (StatusCode, String) {
    let (status, json) = call(router, request).await;
    (status, json["code"].as_str().unwrap_or_default().to_string())
}

/// Every operation an OpenAPI document names reaches a handler of
/// `router` (path parameters filled with `sample`): the answer is not the
/// router's bare 404 for an unknown path nor its 405 for a method it does
/// not route. Returns how many operations were tried.
pub async fn documented_operations_are_routed(router: &Router, doc: &serde_json::Value, sample: &str) -> usize {
    let mut tried = 0;
    for (path, operations) in doc["paths"].as_object().expect("paths") {
        let mut uri = String::new();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            uri.push('/');
            uri.push_str(if part.starts_with('{') { sample } else { part });
        }
        for method in operations.as_object().expect("operations").keys() {
            let request = request(&method.to_uppercase(), &uri, serde_json::Value::Null, &Caller::Anonymous);
            let (status, _, body) = send(router, request).await;
            assert_ne!(status, axum::http::StatusCode::METHOD_NOT_ALLOWED, "{method} {path} is documented, not routed");
            assert!(
                status != axum::http::StatusCode::NOT_FOUND || !body.is_empty(),
                "{method} {path} is documented, not routed"
            );
            tried += 1;
        }
    }
    tried
}
