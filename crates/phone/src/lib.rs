//! The smartphone's OS side (DESIGN.md "Open Mobile API + ACE").
//!
//! - [`omapi`]: SEService, Reader, Session, Channel over the emulated
//!   secure element, as android.se.omapi exposes them to apps.
//! - [`ace`]: the access control enforcer — rules read from the ARA-M,
//!   cached by refresh tag, decided in AOSP's order, APDU filters applied —
//!   which is mechanism ⑦: only the app whose signing certificate the
//!   SEI-TSM registered reaches the JPKI applet.
//! - [`device`]: the TSM relay, the JPKI app's applet calls, and NFC card
//!   emulation routing the JPKI AID to an external reader.
//! - [`app`]: the JPKI app — preparation, application with the card,
//!   provisioning relay, PINs, signatures, revocation, business apps'
//!   intents.
//! - [`dir`]: an emulated phone on disk (SE, app identity, what the app
//!   remembers), as `jpki phone` keeps it.
//! - [`tee`]: the TEE — KeyMint with Android key attestation of the
//!   device's state, the device evidence, the trusted confirmation UI.
#![forbid(unsafe_code)]

pub mod ace;
pub mod app;
pub mod device;
pub mod dir;
pub mod omapi;
pub mod tee;

pub use device::{JpkiApplet, NfcEmulation, Relay};
pub use dir::{PhoneDir, PhoneRecord};
pub use omapi::{App, Channel, OmapiError, Reader, SeService, Session};
