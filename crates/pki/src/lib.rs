//! Public-key infrastructure for openjpki, over RustCrypto's `der`,
//! `x509-cert` and `cms` types (never hand-rolled ASN.1).
//!
//! - [`HashAlg`]: the hashes JPKI tools use, with PKCS#1 DigestInfo prefixes.
//! - [`rsa`]: RSA keys on constant-time backends (aws-lc-rs; OpenSSL for the
//!   card's "pad whatever arrives" case).
//! - [`names`], [`profile`]: the JPKI CA names and certificate profiles
//!   (spec/jpki-profiles.md §1), each TBS linted before it is signed.
//! - [`ca::LocalCa`]: a local test hierarchy in a directory.
//! - [`chain`]: path validation that picks issuers by key.
//! - [`cms`]: SignedData made with an external signer (a card), and verified.
#![forbid(unsafe_code)]

pub mod ca;
pub mod cert;
pub mod chain;
pub mod cms;
pub mod crl;
pub mod describe;
pub mod fs;
pub mod hash;
pub mod holder;
pub mod keystore;
pub mod names;
pub mod ocsp;
pub mod profile;
pub mod responder;
pub mod rsa;

pub use hash::HashAlg;
pub use holder::{Holder, Sex};
pub use names::{CaKind, Hierarchy};
pub use rsa::{RsaError, RsaPrivateKey};
pub use x509_cert::Certificate;

/// Fills `buf` from the system's cryptographic RNG (aws-lc).
pub fn fill_random(buf: &mut [u8]) {
    aws_lc_rs::rand::fill(buf).expect("system RNG");
}
