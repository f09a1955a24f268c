//! The SP-TSM (`jpki serve sp-tsm`; DESIGN.md "Application" and
//! "Provisioning"): J-LIS's TSM. It checks the holder's card-signed
//! application, takes over the SP domain the SEI-TSM prepared (keys only it
//! knows, sealed at rest), has keys generated in the SE, has the JPKI
//! service certify them, checks and writes the certificates, and revokes
//! for the holder.
//!
//! - [`provisioning`]: its flows on the SE as machines without I/O, and
//!   their drivers over a transport;
//! - [`application`]: the application's checks and single-use nonces;
//! - [`check`]: the check of a certificate the JPKI service returns;
//! - [`records`]: the store, with typed states; [`vault`]: keys at rest;
//! - [`service`]: the rules ([`SpTsm`]) and its relay flows;
//! - [`server`]: on its listener;
//! - [`http`]: the API, authorization as extractors; [`config`].
#![forbid(unsafe_code)]

pub mod application;
pub mod check;
pub mod config;
pub mod http;
pub mod provisioning;
pub mod records;
pub mod server;
pub mod service;
pub mod vault;

pub use config::SpConfig;
pub use provisioning::{provision, take_over, wipe, Provisioned};
pub use server::{run, serve};
pub use service::SpTsm;
