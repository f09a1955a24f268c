//! The Cloud Signature Consortium API, v2.0.0.2 (spec/csc-sam.md §1), as
//! the RSSP serves it and clients call it: the JSON of each method, with
//! the v1.0.4.0 names as aliases (`hash` for `hashes`, `hashAlgo` for
//! `hashAlgorithmOID`), because pyHanko sends v1 JSON to either path
//! (§3.1); and the error answer `{"error", "error_description"}` (§1.0).
//!
//! Field names are the specification's, so the structs carry
//! `rename_all = "camelCase"` and a few exact renames (`SAD`, `PIN`, `OTP`).
#![forbid(unsafe_code)]

pub mod client;
pub mod error;
pub mod oid;
pub mod types;

pub use error::{CscError, ErrorBody};
pub use types::*;
