//! A whole deployment in one process — the JPKI service, the SEI-TSM and
//! the SP-TSM on loopback HTTPS, each with its own TLS identity and store —
//! for `jpki serve all`, `jpki demo`, the attack lab and the cross-party
//! tests; and [`Endpoints`], what a client of a deployment reads from its
//! directory whether the services run here or elsewhere.
//!
//! - [`deployment`]: [`Deployment`] (create, open, stop on drop) and
//!   [`Endpoints`];
//! - [`layout`]: the deployment's files: ports, peers and stores;
//! - [`devices`]: device trust — SE issuer, phone vendor, the verifier's
//!   files — and a [`devices::Factory`] of phones in any device state.
#![forbid(unsafe_code)]

pub mod deployment;
pub mod devices;
pub mod layout;

pub use deployment::{Deployment, Endpoints};
pub use layout::{Databases, Layout};
