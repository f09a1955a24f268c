//! The two sides of the card interface.
//!
//! [`Transport`] is the reader side: one required method moves raw bytes;
//! [`Transport::send`] adds what every backend needs — encoding, `61xx`
//! (GET RESPONSE, ISO/IEC 7816-4 §5.3.4 and §11.5.2) and `6Cxx` (resend with
//! the exact Le, ISO/IEC 7816-3 §12.2.2 / 7816-4 §5.6) — written once here.
//!
//! [`Icc`] is the card side: an emulator answers raw command bytes and
//! power events; any backend (in-process, vpcd) can serve it.

use crate::{Command, CommandError, Response, StatusWord};
use thiserror::Error;

/// A failure below the APDU layer: the reader, the link, or the card went away.
#[derive(Debug, Error)]
pub enum TransportError {
    /// No reader matched, or no reader is connected.
    #[error("no reader: {0}")]
    NoReader(String),
    /// The reader has no card in it.
    #[error("no card in reader {0}")]
    NoCard(String),
    /// The command could not be encoded.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// The card answered fewer than two bytes.
    #[error("card answered {0} bytes, fewer than a status word")]
    ShortResponse(usize),
    /// GET RESPONSE chaining did not end.
    #[error("GET RESPONSE chain longer than {0} steps")]
    EndlessChain(usize),
    /// An I/O or subsystem error in the backend.
    #[error("{context}: {source}")]
    Backend {
        /// What was being done.
        context: String,
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl TransportError {
    /// Wraps a backend error with what was being done.
    pub fn backend(context: impl Into<String>, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Backend { context: context.into(), source: source.into() }
    }
}

/// Longest GET RESPONSE chain followed before giving up.
const MAX_CHAIN: usize = 256;

/// Anything that carries command APDUs to a card and brings the answer back.
pub trait Transport {
    /// Sends raw command bytes, returns raw response bytes (data ‖ SW1 SW2).
    fn transmit_raw(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError>;

    /// Sends a script: commands that do not depend on each other's
    /// responses, answered in order (raw response bytes each). A transport
    /// that carries them together — a TSM's relay, in one round trip as GP
    /// Amd B's remote management does — overrides this; by default they go
    /// one by one. Every command is sent even when an earlier one fails.
    fn transmit_script(&mut self, commands: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, TransportError> {
        commands.iter().map(|c| self.transmit_raw(c)).collect()
    }

    /// Sends a command and returns the complete response: follows `61xx` with
    /// GET RESPONSE, and resends once with the exact Le on `6Cxx`.
    fn send(&mut self, command: &Command) -> Result<Response, TransportError> {
        let mut response = self.exchange(command)?;
        if let StatusWord::WrongLe(exact) = response.sw {
            let mut again = command.clone();
            again.ne = Some(if exact == 0 { 256 } else { usize::from(exact) });
            response = self.exchange(&again)?;
        }
        let mut steps = 0;
        while let StatusWord::BytesAvailable(n) = response.sw {
            steps += 1;
            if steps > MAX_CHAIN {
                return Err(TransportError::EndlessChain(MAX_CHAIN));
            }
            let ne = if n == 0 { 256 } else { usize::from(n) };
            let get_response = Command::new(command.cla & 0x03, 0xC0, 0, 0).with_ne(ne);
            let next = self.exchange(&get_response)?;
            response.data.extend_from_slice(&next.data);
            response.sw = next.sw;
        }
        Ok(response)
    }

    /// One command, one response, no chaining.
    fn exchange(&mut self, command: &Command) -> Result<Response, TransportError> {
        let raw = self.transmit_raw(&command.to_bytes()?)?;
        Response::parse(&raw).ok_or(TransportError::ShortResponse(raw.len()))
    }
}

impl<T: Transport + ?Sized> Transport for &mut T {
    fn transmit_raw(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        (**self).transmit_raw(command)
    }
    fn transmit_script(&mut self, commands: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, TransportError> {
        (**self).transmit_script(commands)
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn transmit_raw(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        (**self).transmit_raw(command)
    }
    fn transmit_script(&mut self, commands: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, TransportError> {
        (**self).transmit_script(commands)
    }
}

/// The card side: an integrated circuit card (or an applet host) that answers
/// command bytes. Emulators implement this; transports serve it.
pub trait Icc {
    /// Answer-to-reset bytes (ISO/IEC 7816-3 §8).
    fn atr(&self) -> Vec<u8>;
    /// Contacts powered: a cold reset.
    fn power_on(&mut self);
    /// Contacts unpowered: volatile state is lost.
    fn power_off(&mut self);
    /// Warm reset: volatile state is lost.
    fn reset(&mut self);
    /// Processes one command APDU and answers data ‖ SW1 SW2. Never panics:
    /// malformed input is answered with a status word.
    fn process(&mut self, command: &[u8]) -> Vec<u8>;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A card that answers 6C then 61 chains, to exercise `send`.
    struct Chatty {
        seen: Vec<Vec<u8>>,
    }

    impl Transport for Chatty {
        fn transmit_raw(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
            self.seen.push(command.to_vec());
            Ok(match command {
                [0, 0xB0, 0, 0, 0x10] => vec![0x6C, 0x03],
                [0, 0xB0, 0, 0, 0x03] => vec![1, 2, 3, 0x61, 0x02],
                [0, 0xC0, 0, 0, 0x02] => vec![4, 5, 0x61, 0x00],
                [0, 0xC0, 0, 0, 0x00] => vec![6, 0x90, 0x00],
                _ => vec![0x6D, 0x00],
            })
        }
    }

    #[test]
    fn wrong_le_then_get_response_chain() {
        let mut card = Chatty { seen: vec![] };
        let r = card.send(&Command::new(0, 0xB0, 0, 0).with_ne(0x10)).unwrap();
        assert_eq!(r.data, vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(r.sw, StatusWord::Ok);
        assert_eq!(card.seen.len(), 4);
    }

    struct Mute;
    impl Transport for Mute {
        fn transmit_raw(&mut self, _: &[u8]) -> Result<Vec<u8>, TransportError> {
            Ok(vec![0x90])
        }
    }

    #[test]
    fn short_response_is_an_error() {
        let err = Mute.send(&Command::new(0, 0xA4, 4, 0x0C)).unwrap_err();
        assert!(matches!(err, TransportError::ShortResponse(1)));
    }

    struct Endless;
    impl Transport for Endless {
        fn transmit_raw(&mut self, _: &[u8]) -> Result<Vec<u8>, TransportError> {
            Ok(vec![0xAA, 0x61, 0x01])
        }
    }

    #[test]
    fn endless_chain_stops() {
        let err = Endless.send(&Command::new(0, 0xB0, 0, 0).with_ne(1)).unwrap_err();
        assert!(matches!(err, TransportError::EndlessChain(_)));
    }
}
