//! Prometheus metrics of a TSM (issue 15, point 8), at `GET /metrics` for
//! whoever shows the metrics token (`metrics_token_file` in the TSM's
//! configuration; without one the route refuses everyone): HTTP requests
//! by route and status with their latency, and the relay sessions open
//! (flows parked between two posts of a phone).

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use secret::Secret;
use std::sync::Arc;
use std::time::Instant;

/// A TSM's metrics and the token that reads them.
pub struct Metrics {
    registry: Registry,
    http: svc::metrics::HttpMetrics,
    sessions: Gauge,
    token: Option<Secret>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").field("token", &self.token.as_ref().map(|_| "<redacted>")).finish_non_exhaustive()
    }
}

impl Metrics {
    /// Metrics named `prefix_…` (`sei_tsm`, `sp_tsm`), readable with `token`.
    pub fn new(prefix: &str, token: Option<Secret>) -> Self {
        let mut registry = Registry::with_prefix(prefix);
        let http = svc::metrics::HttpMetrics::register(&mut registry);
        let sessions = Gauge::default();
        registry.register("relay_sessions_open", "Flows parked between two posts of a phone", sessions.clone());
        Self { registry, http, sessions, token }
    }

    /// Whether `headers` carry the metrics token (compared in constant time).
    pub fn authorized(&self, headers: &HeaderMap) -> bool {
        let shown =
            headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        matches!((&self.token, shown), (Some(token), Some(shown)) if token.ct_eq(shown.as_bytes()))
    }

    /// The OpenMetrics text, with `open_sessions` as they are now.
    pub fn render(&self, open_sessions: usize) -> String {
        self.sessions.set(open_sessions as i64);
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    /// `GET /metrics`: the text for the token's holder, 403 otherwise.
    pub fn answer(&self, headers: &HeaderMap, open_sessions: usize) -> Response {
        if !self.authorized(headers) {
            return crate::http::ApiError(crate::FlowError::new(
                tsm_api::Code::Forbidden,
                "metrics need the metrics token (metrics_token_file in the TSM's configuration)",
            ))
            .into_response();
        }
        let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
        ([(header::CONTENT_TYPE, content_type)], self.render(open_sessions)).into_response()
    }
}

/// Middleware: counts each request under the route it matched.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.http.observe(&route, response.status().as_u16(), started.elapsed());
    response
}

/// The metrics token in `file` (its first line), if one is configured.
pub fn token_from(file: Option<&std::path::Path>) -> Result<Option<Secret>, String> {
    let Some(file) = file else { return Ok(None) };
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?);
    let token = text.trim();
    if token.len() < 16 {
        return Err(format!("{}: the metrics token must be at least 16 characters", file.display()));
    }
    Ok(Some(Secret::new(token.as_bytes())))
}
