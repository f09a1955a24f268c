//! The remote signing service provider (RSSP): a Signature Activation
//! Module behind the Cloud Signature Consortium API, for signers
//! identified by their My Number card (spec/csc-sam.md; JT2A Remote
//! Signature Guideline Part II; docs/rssp.md maps every threat and
//! requirement to code and tests).
//!
//! - [`sam`]: the SAM — registration, the SAP (authorise, extend, sign),
//!   suspension and deletion, privileged actions; the only path to a key.
//! - [`cm`]: the crypto module (software or PKCS#11) that holds the keys.
//! - [`records`], [`schema`]: the MAC'd records and their SQL.
//! - [`instruction`]: what the signer signs with the card.
//! - [`ca`], [`csr`]: the RSSP's own CA and the key's certification request.
//! - [`http`], [`server`], [`config`], [`privileged`]: the API, listeners,
//!   configuration and privileged users.
#![forbid(unsafe_code)]

pub mod audit;
pub mod ca;
pub mod cm;
pub mod config;
pub mod confirm;
pub mod csr;
pub mod error;
pub mod http;
pub mod instruction;
pub mod privileged;
pub mod records;
pub mod sam;
pub mod schema;
pub mod selftest;
pub mod server;
pub mod totp;

pub use error::RsspError;
pub use sam::Sam;
