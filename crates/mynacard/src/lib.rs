//! A My Number card (個人番号カード) emulator.
//!
//! [`MynaCard`] answers command APDUs exactly as spec/jpki-card.md describes
//! the real card: the JPKI AP (two RSA-2048 keys, four certificates, the
//! auth PIN and the signature password) and the text AP (my number and the
//! basic four attributes behind a 4-digit PIN). It implements [`apdu::Icc`],
//! so the same object is driven in-process, over vsmartcard's vpcd (and so by
//! pcsc-lite, OpenSC and any PC/SC application), and by the fuzzer.
//!
//! - [`CardState`]: everything non-volatile, kept in one JSON card file and
//!   committed through an [`Nvm`] — atomically on disk ([`FileNvm`]).
//! - A PIN try is counted and committed before the PIN is compared, so
//!   cutting power mid-VERIFY never yields a free guess.
//! - [`files`]: AIDs and EF identifiers; [`PinId`]: the PINs and their rules.
#![forbid(unsafe_code)]

pub mod card;
pub mod files;
pub mod personalize;
pub mod pin;
pub mod secret;
pub mod state;

pub use card::{Fault, MynaCard, ATR};
pub use pin::{PinId, PinState};
pub use secret::Secret;
pub use state::{CardState, FileNvm, MemoryNvm, Nvm, StateError};
