//! The JPKI service's API as both sides see it (the pattern every service
//! of openjpki follows: the server crate and its clients depend on this
//! crate, never on each other).
//!
//! - [`types`]: the request and answer bodies, serialized the same way by
//!   the handlers and the client (binary fields base64).
//! - [`Code`]: the machine-readable error codes and their HTTP statuses.
//! - [`application`]: the holder's card-signed application for phone
//!   certificates, the document the app, the SP-TSM and the service share.
//! - [`client`]: [`client::JlisClient`], for the municipal office, the
//!   SP-TSM and operators.
//! - [`status`]: a certificate's status as a relying party asks for it
//!   (OCSP with a nonce, the answer checked).
#![forbid(unsafe_code)]

pub mod application;
pub mod client;
mod code;
pub mod status;
pub mod types;

pub use code::Code;
pub use types::{PhoneCertType, PhoneCertificate, PhoneRequest};
