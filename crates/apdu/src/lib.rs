//! ISO/IEC 7816-4 application protocol data units, with no I/O.
//!
//! - [`Command`]: a command APDU in any of the four cases, short or extended
//!   form (ISO/IEC 7816-4:2020 §5.1). [`Command::parse`] is strict: trailing or
//!   missing bytes are an error, so an emulator can answer `67 00`.
//! - [`Response`] and [`StatusWord`]: the trailer `SW1 SW2` as a typed enum with
//!   a catch-all, mapped in one table ([`status`]).
//! - [`tlv`]: a lenient BER-TLV reader that accepts the non-minimal tags and
//!   lengths the My Number card writes (`FF 10`, `82 00 9F`).
//! - [`Transport`]: anything that exchanges raw APDU bytes with a card (an
//!   in-process emulator, PC/SC, vpcd). [`Transport::send`] handles `61xx`
//!   (GET RESPONSE) and `6Cxx` (wrong Le) once, for every backend.
//! - [`Icc`]: the card side — what an emulator implements so that any
//!   transport can serve it.
#![forbid(unsafe_code)]

pub mod command;
pub mod response;
pub mod status;
pub mod tlv;
pub mod transport;

pub use command::{Command, CommandError};
pub use response::Response;
pub use status::StatusWord;
pub use transport::{Icc, Transport, TransportError};
