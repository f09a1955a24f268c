//! Prometheus metrics of the JPKI service, served at `GET /metrics` on the
//! HTTPS port to operators (issue 15, point 8): requests by route and
//! status with their latency, OCSP answers by how they were made, the
//! signing queues, certificates issued and revoked, and how long the
//! store's writes (commit included) take.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Labels {
    what: &'static str,
}

/// How an OCSP answer was made.
#[derive(Debug, Clone, Copy)]
pub enum OcspAnswer {
    /// A pre-signed answer from the cache.
    Cached,
    /// Signed for this request (a nonce, or the cache had none).
    Signed,
    /// `tryLater`: the answer queue was full.
    Shed,
    /// `malformedRequest` or `unauthorized`.
    Refused,
}

/// The service's metrics.
pub struct Metrics {
    registry: Registry,
    http: svc::metrics::HttpMetrics,
    ocsp: Family<Labels, Counter>,
    issued: Family<Labels, Counter>,
    revoked: Counter,
    store_writes: Histogram,
    signing_waiting: Family<Labels, Gauge>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("jlis");
        let http = svc::metrics::HttpMetrics::register(&mut registry);
        let mut m = Self {
            registry,
            http,
            ocsp: Family::default(),
            issued: Family::default(),
            revoked: Counter::default(),
            store_writes: svc::metrics::seconds(),
            signing_waiting: Family::default(),
        };
        let r = &mut m.registry;
        r.register(
            "ocsp_answers",
            "OCSP answers by how they were made (cached, signed, shed, refused)",
            m.ocsp.clone(),
        );
        r.register("certificates_issued", "Certificates issued, by kind (card, phone)", m.issued.clone());
        r.register("certificates_revoked", "Certificates revoked (cascades included)", m.revoked.clone());
        r.register("store_write_duration_seconds", "Store writes, commit included", m.store_writes.clone());
        r.register("signing_waiting", "Jobs waiting for a signing thread, by queue", m.signing_waiting.clone());
        m
    }
}

impl Metrics {
    /// One HTTP request answered.
    pub fn request(&self, route: &str, status: u16, took: Duration) {
        self.http.observe(route, status, took);
    }

    /// One OCSP answer.
    pub fn ocsp(&self, how: OcspAnswer) {
        let what = match how {
            OcspAnswer::Cached => "cached",
            OcspAnswer::Signed => "signed",
            OcspAnswer::Shed => "shed",
            OcspAnswer::Refused => "refused",
        };
        self.ocsp.get_or_create(&Labels { what }).inc();
    }

    /// `count` certificates of `kind` (`card`, `phone`) issued.
    pub fn issued(&self, kind: &'static str, count: u64) {
        self.issued.get_or_create(&Labels { what: kind }).inc_by(count);
    }

    /// `count` certificates revoked.
    pub fn revoked(&self, count: u64) {
        self.revoked.inc_by(count);
    }

    /// A store write took `took`.
    pub fn store_write(&self, took: Duration) {
        self.store_writes.observe(took.as_secs_f64());
    }

    /// The Prometheus text exposition, with the signing queues as they are
    /// now (`waiting`: issuance, answers).
    pub fn render(&self, waiting: (usize, usize)) -> String {
        self.signing_waiting.get_or_create(&Labels { what: "issuance" }).set(waiting.0 as i64);
        self.signing_waiting.get_or_create(&Labels { what: "answers" }).set(waiting.1 as i64);
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}
