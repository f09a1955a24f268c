//! Client errors: each says what happened and what to do next.

use crate::pin::PinId;
use apdu::{StatusWord, TransportError};

/// A JPKI client failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The reader, the link or the card went away.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The card has no JPKI AP (SELECT answered `6A 82`).
    #[error("this card has no JPKI application (SELECT answered {0}); is it a My Number card?")]
    NotJpki(StatusWord),
    /// A wrong PIN; the card counted the try.
    #[error("wrong {pin}: {tries_left} tries left before it blocks", pin = .pin.describe())]
    WrongPin {
        /// Which PIN.
        pin: PinId,
        /// Tries left.
        tries_left: u8,
    },
    /// The PIN is blocked.
    #[error("the {pin} is blocked; it is reset at the municipal office (or with the PIN reset app when the other JPKI PIN is known)", pin = .pin.describe())]
    PinBlocked {
        /// Which PIN.
        pin: PinId,
    },
    /// The PIN entered does not have the PIN's format (nothing was sent).
    #[error("{0}")]
    PinFormat(String),
    /// The operation needs a PIN that was not verified.
    #[error("the card requires the {} first", .0.describe())]
    NeedsPin(PinId),
    /// Any other status word, with what was being done.
    #[error("{context}: card answered {sw}")]
    Card {
        /// The operation.
        context: String,
        /// The status word.
        sw: StatusWord,
    },
    /// The card's data is not what the specification describes.
    #[error("malformed data from the card: {0}")]
    Malformed(String),
}

/// Result alias.
pub type Result<T> = std::result::Result<T, Error>;
