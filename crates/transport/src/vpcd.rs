//! vsmartcard's vpcd protocol (`vpcd.h`): the virtual reader in pcscd and the
//! virtual card (vicc) talk over TCP (default port 35963). Every message is a
//! 2-byte big-endian length and a payload. A 1-byte payload is a control
//! code — `00` power off, `01` power on, `02` reset, `04` "send your ATR" —
//! anything longer is a command APDU, answered with the response APDU.
//!
//! The message handling is sans-IO ([`handle`]); [`serve`] and [`VpcdHost`]
//! put sockets around it.

use apdu::{Icc, Transport, TransportError};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Control code: power off.
pub const POWER_OFF: u8 = 0x00;
/// Control code: power on.
pub const POWER_ON: u8 = 0x01;
/// Control code: reset.
pub const RESET: u8 = 0x02;
/// Control code: the reader asks for the ATR.
pub const GET_ATR: u8 = 0x04;

/// Default vpcd port (first reader; the second is 35964).
pub const DEFAULT_PORT: u16 = 35963;

/// Handles one message from the reader; returns the reply payload, if any.
pub fn handle(card: &mut dyn Icc, payload: &[u8]) -> Option<Vec<u8>> {
    match payload {
        [POWER_OFF] => {
            card.power_off();
            None
        }
        [POWER_ON] => {
            card.power_on();
            None
        }
        [RESET] => {
            card.reset();
            None
        }
        [GET_ATR] => Some(card.atr()),
        [unknown] => {
            tracing::warn!(code = unknown, "unknown vpcd control code ignored");
            None
        }
        // An empty message carries nothing to answer.
        [] => None,
        apdu => Some(card.process(apdu)),
    }
}

/// Reads one framed message; `Ok(None)` on a clean end of stream.
pub fn read_message(stream: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 2];
    match stream.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut payload = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut payload)?;
    Ok(Some(payload))
}

/// Writes one framed message.
pub fn write_message(stream: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    let len = u16::try_from(payload.len()).map_err(|_| io::Error::other("vpcd message longer than 65535 bytes"))?;
    let mut frame = Vec::with_capacity(payload.len() + 2);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(payload);
    stream.write_all(&frame)?;
    stream.flush()
}

/// Serves `card` on one connection until the reader closes it.
pub fn serve_connection(stream: &mut TcpStream, card: &mut dyn Icc) -> io::Result<()> {
    stream.set_nodelay(true)?;
    while let Some(msg) = read_message(stream)? {
        if let Some(reply) = handle(card, &msg) {
            write_message(stream, &reply)?;
        }
    }
    Ok(())
}

/// How [`serve`] behaves when the reader goes away.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Reconnect after a disconnect or a failed connect (pcscd restarting).
    pub reconnect: bool,
    /// First delay between attempts; doubles up to [`ServeOptions::max_backoff`].
    pub backoff: Duration,
    /// Longest delay between attempts.
    pub max_backoff: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self { reconnect: true, backoff: Duration::from_millis(200), max_backoff: Duration::from_secs(5) }
    }
}

/// Connects `card` to the vpcd reader at `addr` and serves it; with
/// `reconnect`, keeps going across pcscd restarts until `stop` is set.
/// The card is powered off whenever the link drops (a card pulled out).
pub fn serve(addr: &str, card: &mut dyn Icc, options: &ServeOptions, stop: &AtomicBool) -> io::Result<()> {
    let mut delay = options.backoff;
    while !stop.load(Ordering::Relaxed) {
        let result = connect(addr).and_then(|mut s| {
            tracing::info!(%addr, "connected to vpcd");
            delay = options.backoff;
            serve_connection(&mut s, card)
        });
        card.power_off();
        match result {
            Ok(()) => tracing::info!(%addr, "vpcd closed the connection"),
            Err(e) if options.reconnect => tracing::warn!(%addr, error = %e, "vpcd link failed"),
            Err(e) => return Err(e),
        }
        if !options.reconnect {
            return Ok(());
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(options.max_backoff);
    }
    Ok(())
}

fn connect(addr: &str) -> io::Result<TcpStream> {
    let mut last = io::Error::other(format!("{addr} resolves to no address"));
    for a in addr.to_socket_addrs()? {
        match TcpStream::connect_timeout(&a, Duration::from_secs(3)) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The reader side of vpcd, as pcscd's driver plays it: listens, accepts the
/// virtual card, powers it on, and carries APDUs. For tests and benchmarks
/// that need a vicc without pcscd.
#[derive(Debug)]
pub struct VpcdHost {
    stream: TcpStream,
}

impl VpcdHost {
    /// Accepts one virtual card on `listener`.
    pub fn accept(listener: &TcpListener) -> io::Result<Self> {
        let (stream, _) = listener.accept()?;
        stream.set_nodelay(true)?;
        Ok(Self { stream })
    }

    /// Sends a control code.
    pub fn control(&mut self, code: u8) -> io::Result<()> {
        write_message(&mut self.stream, &[code])
    }

    /// Asks for the ATR.
    pub fn atr(&mut self) -> io::Result<Vec<u8>> {
        self.control(GET_ATR)?;
        read_message(&mut self.stream)?.ok_or_else(|| io::ErrorKind::UnexpectedEof.into())
    }

    /// Sets a read timeout for answers.
    pub fn set_timeout(&mut self, t: Option<Duration>) -> io::Result<()> {
        self.stream.set_read_timeout(t)
    }
}

impl Transport for VpcdHost {
    fn transmit_raw(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let io = |e: io::Error| TransportError::backend("vpcd", e);
        write_message(&mut self.stream, command).map_err(io)?;
        read_message(&mut self.stream)
            .map_err(io)?
            .ok_or_else(|| TransportError::NoCard("vpcd: the virtual card disconnected".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Echo {
        powered: bool,
        resets: usize,
    }

    impl Icc for Echo {
        fn atr(&self) -> Vec<u8> {
            vec![0x3B, 0x00]
        }
        fn power_on(&mut self) {
            self.powered = true;
        }
        fn power_off(&mut self) {
            self.powered = false;
        }
        fn reset(&mut self) {
            self.resets += 1;
        }
        fn process(&mut self, command: &[u8]) -> Vec<u8> {
            let mut r = command.to_vec();
            r.extend_from_slice(&[0x90, 0x00]);
            r
        }
    }

    #[test]
    fn control_codes_and_apdus() {
        let mut card = Echo::default();
        assert_eq!(handle(&mut card, &[POWER_ON]), None);
        assert!(card.powered);
        assert_eq!(handle(&mut card, &[GET_ATR]), Some(vec![0x3B, 0x00]));
        assert_eq!(handle(&mut card, &[RESET]), None);
        assert_eq!(card.resets, 1);
        assert_eq!(handle(&mut card, &[0, 0xA4]), Some(vec![0, 0xA4, 0x90, 0]));
        assert_eq!(handle(&mut card, &[POWER_OFF]), None);
        assert!(!card.powered);
        assert_eq!(handle(&mut card, &[0x77]), None);
        assert_eq!(handle(&mut card, &[]), None);
    }

    #[test]
    fn framing_round_trip_and_truncation() {
        let mut buf = Vec::new();
        write_message(&mut buf, &[1, 2, 3]).unwrap();
        assert_eq!(buf, vec![0, 3, 1, 2, 3]);
        assert_eq!(read_message(&mut &buf[..]).unwrap(), Some(vec![1, 2, 3]));
        assert_eq!(read_message(&mut &[][..]).unwrap(), None);
        assert!(read_message(&mut &[0u8, 5, 1][..]).is_err());
    }

    #[test]
    fn serve_over_loopback() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let server = std::thread::spawn(move || {
            let mut card = Echo::default();
            let opts = ServeOptions { reconnect: false, ..Default::default() };
            serve(&addr, &mut card, &opts, &stop2).unwrap();
        });
        let mut host = VpcdHost::accept(&listener).unwrap();
        host.control(POWER_ON).unwrap();
        assert_eq!(host.atr().unwrap(), vec![0x3B, 0x00]);
        assert_eq!(host.transmit_raw(&[0, 0xB0, 0, 0, 1]).unwrap(), vec![0, 0xB0, 0, 0, 1, 0x90, 0]);
        drop(host);
        server.join().unwrap();
        stop.store(true, Ordering::Relaxed);
    }
}
