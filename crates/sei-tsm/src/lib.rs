//! The SEI-TSM (`jpki serve sei-tsm`; DESIGN.md "Preparation"): the SE
//! issuer's TSM, the only party with the ISD master key. It prepares a
//! phone's SE for JPKI and hands the SP domain's initial keys to the
//! SP-TSM; it never sees the SP-TSM's own keys (which replace them) and
//! holds no code that uses them.
//!
//! - [`preparation`]: the preparation as a machine without I/O, and its
//!   driver over a transport.
//! - [`records`]: the store (registered apps, prepared SEs).
//! - [`service`]: the rules: [`SeiTsm`], its relay flows.
//! - [`server`]: on its listener.
//! - [`http`]: the API (`openapi.json`), authorization as extractors.
//! - [`config`]: its configuration file, `sei-tsm.toml`.
#![forbid(unsafe_code)]

pub mod config;
pub mod http;
pub mod master;
pub mod preparation;
pub mod records;
pub mod server;
pub mod service;

pub use config::SeiConfig;
pub use preparation::{prepare, se_identifier};
pub use server::{run, serve};
pub use service::SeiTsm;
