//! The JPKI service (公的個人認証サービス, operated by J-LIS): the root of
//! trust of the system (DESIGN.md, spec/jpki-profiles.md §3–4).
//!
//! - [`Jlis`]: issues card certificates (the municipal-office path) and phone
//!   certificates (for the SP-TSM), enforces one phone at a time per card and
//!   certificate type, gives phone certificates the card's expiry, records
//!   the card ↔ phone ↔ SE link, revokes with cascade, holds and releases,
//!   answers OCSP and produces full and delta CRLs.
//! - [`application`]: the holder's card-signed application, which the
//!   service checks itself behind every phone certificate.
//! - [`signing`]: the CAs' private-key operations on one thread per core.
//! - [`audit`]: the hash-chained audit log, written in the same transaction
//!   as each change.
//! - the API's types, error codes and client are in `jlis-api`, which
//!   clients depend on instead of this crate.
//! - [`records`]: the SQL, with typed states; [`schema`]: one schema for
//!   SQLite and PostgreSQL.
//! - [`http`], [`server`], [`config`]: the API (router built by one
//!   function), HTTPS with the SP-TSM's client certificates, plain HTTP for
//!   OCSP and CRLs, one validated TOML configuration.
#![forbid(unsafe_code)]

pub mod application;
pub mod audit;
pub mod config;
pub mod device;
pub mod error;
pub mod http;
pub mod metrics;
pub mod operators;
pub mod records;
pub mod schema;
pub mod server;
pub mod service;
pub mod signing;

pub use error::JlisError;
pub use jlis_api::{client, PhoneCertType, PhoneCertificate, PhoneRequest};
pub use service::{Jlis, Record};
