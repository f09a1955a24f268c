//! Secret bytes: the workspace's one secret type and its base64 helper.

pub use secret::{b64, Secret};
