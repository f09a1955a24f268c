//! The JPKI service's audit log ([`audit_log`], shared by every service):
//! each entry names who acted ([`Actor`]: operator or SP-TSM, the client
//! certificate's SHA-256, the HTTP request id and the request's own id)
//! inside the hashed detail. Checkpoints are signed every
//! `audit_checkpoint_secs`.

pub use audit_log::{
    append, checkpoint, entry_hash, public_key_file, read_public_key, serialize_changes, verify, verify_with,
    AuditError, AuditKey, Checkpoint, CheckpointError, Verified, GENESIS,
};
use serde::Serialize;

/// Who made a change, as the HTTP layer established it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Actor {
    /// `operator` or `auditor` (bearer token), `sp-tsm` (client
    /// certificate), or `service` (the service itself, or a caller in this
    /// process).
    pub role: &'static str,
    /// The operator's name ([`crate::operators`]), when an operator acts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// SHA-256 (hex) of the verified client certificate, if one was shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_certificate: Option<String>,
    /// The HTTP request id (`x-request-id`), as the logs name it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_request: Option<String>,
}

tokio::task_local! {
    /// The actor of the request being handled (set by the HTTP layer).
    pub static ACTOR: Actor;
}

/// The actor of the current request, with the request's own id (the
/// idempotency key the caller chose), as the audit detail records it.
pub fn by(request_id: &str) -> serde_json::Value {
    let actor = ACTOR.try_with(Clone::clone).unwrap_or(Actor { role: "service", ..Default::default() });
    let mut v = serde_json::to_value(actor).unwrap_or_default();
    v["request_id"] = serde_json::json!(request_id);
    v
}
