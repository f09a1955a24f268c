//! Card transports: the ways bytes reach a card.
//!
//! - [`InProcess`]: an emulator object ([`apdu::Icc`]) called directly.
//! - [`pcsc`]: real readers through pcsc-lite (or WinSCard) with the `pcsc`
//!   crate; a reader is chosen by a substring of its name, or the first
//!   reader with a card.
//! - [`vpcd`]: vsmartcard's virtual reader protocol. [`vpcd::serve`] turns an
//!   emulator into a card in pcscd's "Virtual PCD" reader (the vicc side);
//!   [`vpcd::VpcdHost`] is the reader side, for tests without pcscd.
//!
//! All reader-side types implement [`apdu::Transport`].
#![forbid(unsafe_code)]

pub mod pcsc;
pub mod vpcd;

use apdu::{Icc, Transport, TransportError};

/// A card emulator driven in-process.
#[derive(Debug)]
pub struct InProcess<C: Icc> {
    card: C,
}

impl<C: Icc> InProcess<C> {
    /// Powers the card on and wraps it.
    pub fn new(mut card: C) -> Self {
        card.power_on();
        Self { card }
    }

    /// The card.
    pub fn card(&self) -> &C {
        &self.card
    }

    /// The card, mutable (power events).
    pub fn card_mut(&mut self) -> &mut C {
        &mut self.card
    }

    /// Unwraps the card.
    pub fn into_inner(self) -> C {
        self.card
    }
}

impl<C: Icc> Transport for InProcess<C> {
    fn transmit_raw(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        Ok(self.card.process(command))
    }
}
