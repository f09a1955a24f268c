//! The HTTP part of every service's Prometheus metrics: requests by the
//! route they matched and their status, and the time to answer by route.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

/// A histogram of seconds from 125 µs to about 4 s, doubling.
pub fn seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.000_125, 2.0, 16))
}

/// Requests and their latency.
#[derive(Debug)]
pub struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
}

impl HttpMetrics {
    /// Registers `http_requests` and `http_request_duration_seconds` in
    /// `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self { requests: Family::default(), latency: Family::new_with_constructor(seconds) };
        registry.register("http_requests", "HTTP requests answered, by route and status", m.requests.clone());
        registry.register("http_request_duration_seconds", "Time to answer, by route", m.latency.clone());
        m
    }

    /// One request to `route` answered `status` after `took`.
    pub fn observe(&self, route: &str, status: u16, took: Duration) {
        self.requests.get_or_create(&RequestLabels { route: route.to_string(), status }).inc();
        self.latency.get_or_create(&RouteLabels { route: route.to_string() }).observe(took.as_secs_f64());
    }
}
