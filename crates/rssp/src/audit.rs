//! Who acted, as each audit entry records it (JT2A II 3.2.2.4, SAM-15):
//! the HTTP layer sets [`ACTOR`] for the request; the SAM's entries carry
//! it in their hashed detail. The log itself is [`audit_log`]'s.

use serde::Serialize;

/// The caller of the request being handled.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Actor {
    /// `signer`, `administrator`, `auditor`, `anonymous` or `service`.
    pub role: &'static str,
    /// The signer id or the privileged user's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The HTTP request id (`x-request-id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_request: Option<String>,
}

tokio::task_local! {
    /// The actor of the request being handled.
    pub static ACTOR: Actor;
}

/// The current actor, as JSON for an entry's `by`.
pub fn by() -> serde_json::Value {
    let actor = ACTOR.try_with(Clone::clone).unwrap_or(Actor { role: "service", ..Default::default() });
    serde_json::to_value(actor).unwrap_or_default()
}
