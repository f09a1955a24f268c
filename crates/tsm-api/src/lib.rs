//! The TSMs' API as both sides see it: the SEI-TSM's and the SP-TSM's
//! handlers, the JPKI app and the SP-TSM (as the SEI-TSM's client) depend
//! on this crate, never on each other (the `jlis-api` pattern).
//!
//! - [`relay`]: the relay protocol (GPC Amd B over HTTP): a step answer
//!   carries a script of C-APDUs, the phone posts the R-APDUs back.
//! - [`types`]: the other request and answer bodies.
//! - [`Code`]: the machine-readable error codes and their HTTP statuses.
//! - [`client`]: the client, [`client::TsmClient`].
#![forbid(unsafe_code)]

pub mod client;
mod code;
pub mod relay;
pub mod types;

pub use code::Code;
pub use jlis_api::application::{Application, Device};
pub use jlis_api::PhoneCertType;
pub use relay::{RelayResponses, RelayStep};

/// KVN of the SP domain's key sets: the initial set the SEI-TSM creates
/// and hands over, and the SP-TSM's own that replaces it.
pub const SP_DOMAIN_KVN: u8 = 0x30;
