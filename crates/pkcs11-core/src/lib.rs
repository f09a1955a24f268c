//! The safe core of openjpki's PKCS#11 module (`crates/pkcs11` is the C
//! boundary around it): JPKI tokens — a My Number card in a PC/SC reader,
//! an emulated card, a phone's JPKI applet over NFC — as PKCS#11 slots,
//! tokens, objects, sessions and signatures.
//!
//! - [`config`]: which tokens are offered.
//! - [`device`]: readers and emulators.
//! - [`token`]: one bound card: certificates, PIN state, signing.
//! - [`objects`]: the objects and their attributes (OpenSC's layout).
//! - [`mechanism`]: `CKM_RSA_PKCS` and `CKM_SHA*_RSA_PKCS`.
//! - [`module`]: what each `C_*` function does.
//! - [`rv`]: `CKR_*` values.
//!
//! Decisions (token split, always-authenticate, PIN rules, fork, slot
//! events) are written down in docs/pkcs11.md.
#![forbid(unsafe_code)]

pub mod config;
pub mod device;
pub mod mechanism;
pub mod module;
pub mod objects;
pub mod rv;
pub mod token;

pub use config::Config;
pub use module::{Module, SessionInfo, Signed, SlotInfo, TokenInfo};
pub use rv::{Result, Rv};
