//! What the two TSMs share (DESIGN.md "Preparation" and "Provisioning"),
//! so that each party's crate — `sei-tsm` with the ISD master key,
//! `sp-tsm` with the SP domain keys — holds only its own rules and keys:
//!
//! - [`flow`]: flows as machines without I/O, the CPLC reader and the
//!   secure-session opener they start with, and a driver over a transport;
//! - [`hub`]: the relay sessions, where a flow waits for the phone as a
//!   value, not as a parked thread;
//! - [`http`]: the error answer, the JSON body extractor, the relay route;
//! - [`error`]: [`TsmError`] inside a flow, [`FlowError`] as the phone is
//!   told;
//! - [`keys`], [`config`]: key files and the configuration files' rules.
#![forbid(unsafe_code)]

pub mod config;
pub mod error;
pub mod flow;
pub mod http;
pub mod hub;
pub mod keys;
pub mod metrics;

pub use error::{FlowError, TsmError};
