//! Plumbing shared by the JPKI service and the two TSMs, so each service
//! crate holds only its rules and its routes:
//!
//! - `server` (feature `server`, for the services only): HTTPS (rustls) listeners that ask for a client certificate
//!   and tell the handlers who called ([`Peer`]), and plain HTTP listeners;
//! - [`client`]: HTTPS clients that trust the deployment's TLS CA and can
//!   present a client certificate (mutual TLS);
//! - [`tls`]: TLS material for a local deployment;
//! - [`codes`]: how each API declares its error codes.
#![forbid(unsafe_code)]

pub mod client;
pub mod codes;
pub mod metrics;
pub mod openapi;
#[cfg(feature = "server")]
pub mod server;
pub mod tls;

#[cfg(feature = "server")]
pub use server::{Peer, RequestId};
