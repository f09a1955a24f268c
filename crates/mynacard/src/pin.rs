//! PINs of the card: which exist, their formats and try limits
//! (jpki-card.md §3.1, jpki-profiles.md §2.1), and their stored state.

use crate::Secret;
use serde::{Deserialize, Serialize};

pub use jpki::pin::PinId;

/// A PIN's stored value and try counter.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PinState {
    /// The reference value.
    pub value: Secret,
    /// Tries left before the PIN blocks; 0 = blocked.
    pub tries_left: u8,
    /// The limit the counter resets to after a correct PIN.
    pub max_tries: u8,
}

impl PinState {
    /// A fresh PIN with a full counter.
    pub fn new(id: PinId, value: Secret) -> Self {
        Self { value, tries_left: id.max_tries(), max_tries: id.max_tries() }
    }

    /// A PIN not set yet (a phone applet before the user sets it offline).
    pub fn unset(id: PinId) -> Self {
        Self::new(id, Secret::default())
    }

    /// Whether a value has been set.
    pub fn is_set(&self) -> bool {
        !self.value.expose().is_empty()
    }
}
