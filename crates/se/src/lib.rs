//! A GlobalPlatform secure element emulator (GP Card Spec v2.3.1, Amd D).
//!
//! - [`runtime`]: [`SecureElement`] — logical channels, SELECT, and
//!   dispatch to the [`runtime::Applet`] that runs the selected entry, each
//!   instance with a context of its own; implements [`apdu::Icc`].
//! - [`element`]: the ROM (which applet runs which kind of entry) and the
//!   factory state.
//! - Security domains (module `sd`): SCP03 through `gp::card::CardSession`
//!   with the sequence counter committed before the challenge leaves;
//!   GET DATA, GET STATUS, INSTALL (SSDs from the built-in SD module, make
//!   selectable, personalization), STORE DATA, PUT KEY, DELETE, SET STATUS.
//! - The ISD's static keys are "KDF3"-diversified from a master key and the
//!   SE identifier (from CPLC), so a GP host tool given the master key opens it.
//! - The ARA-M applet: access rules written only through the ISD's secure
//!   channel, read by anyone.
//! - [`applet`]: the phone's JPKI applet (the card's JPKI AP plus the
//!   commitment, offline PIN setting and provisioning under level 33).
//! - [`SeState`]: one JSON file, committed atomically before each answer.
#![forbid(unsafe_code)]

pub mod applet;
mod aram;
pub mod element;
pub mod runtime;
mod sd;
pub mod secret;
pub mod state;

pub use runtime::{FileNvm, MemoryNvm, SeNvm, SecureElement};
pub use state::SeState;
