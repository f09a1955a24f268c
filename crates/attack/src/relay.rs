//! The attacker's relay between a TSM and the SE: the phone forwards the
//! TSM's APDUs, and a compromised phone (or malware on it) can record them
//! and flip, drop, replay or reorder them on their way. Put between the
//! TSM client's flow and the phone's real relay.

use apdu::{Transport, TransportError};

/// What the relay does to the traffic (commands counted from 0 across
/// the whole flow).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tamper {
    /// Forward everything unchanged (record only).
    None,
    /// Flip a bit of command `at` right after its header and Lc: its
    /// encrypted data or its C-MAC (the last byte may be Le, which no MAC
    /// covers).
    FlipCommand {
        /// Which command.
        at: usize,
    },
    /// Flip a byte of the SE's response to command `at` before the TSM sees it.
    FlipResponse {
        /// Which command's response.
        at: usize,
    },
    /// Send command `earlier` again in place of command `at`.
    Replay {
        /// Which command is replaced.
        at: usize,
        /// Which earlier command is sent again.
        earlier: usize,
    },
    /// Do not forward command `at`; answer it `90 00` as if the SE had.
    Drop {
        /// Which command.
        at: usize,
    },
    /// In the first script of two or more commands, send the first two in
    /// the opposite order.
    Reorder,
    /// In place of relay step `at` (a whole command script, counted from
    /// 0), send the previous step's script again (cut or repeated to the
    /// same number of commands).
    ReplayScript {
        /// Which step is replaced.
        at: usize,
    },
}

/// A recording, tampering relay in front of `inner` (the phone's relay).
#[derive(Debug)]
pub struct RelayTap<T: Transport> {
    inner: T,
    tamper: Tamper,
    sent: Vec<Vec<u8>>,
    /// Every (command, response) that crossed, as the attacker saw them.
    pub exchanges: Vec<(Vec<u8>, Vec<u8>)>,
    reordered: bool,
    /// The scripts (relay steps) seen so far.
    scripts: Vec<Vec<Vec<u8>>>,
}

impl<T: Transport> RelayTap<T> {
    /// A relay tap doing `tamper`.
    pub fn new(inner: T, tamper: Tamper) -> Self {
        Self { inner, tamper, sent: Vec::new(), exchanges: Vec::new(), reordered: false, scripts: Vec::new() }
    }

    /// All commands and responses, concatenated (what a recorder saw).
    pub fn transcript(&self) -> Vec<u8> {
        self.exchanges.iter().flat_map(|(c, r)| c.iter().chain(r.iter()).copied()).collect()
    }
}

impl<T: Transport> Transport for RelayTap<T> {
    fn transmit_raw(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let at = self.sent.len();
        self.sent.push(command.to_vec());
        let mut wire = command.to_vec();
        match self.tamper {
            Tamper::FlipCommand { at: n } if n == at => {
                let i = if wire.len() > 6 { 5 } else { wire.len().saturating_sub(1) };
                if let Some(byte) = wire.get_mut(i) {
                    *byte ^= 0x01;
                }
            }
            Tamper::Replay { at: n, earlier } if n == at => wire = self.sent[earlier].clone(),
            Tamper::Drop { at: n } if n == at => {
                self.exchanges.push((command.to_vec(), vec![0x90, 0x00]));
                return Ok(vec![0x90, 0x00]);
            }
            _ => {}
        }
        let mut response = self.inner.transmit_raw(&wire)?;
        self.exchanges.push((wire, response.clone()));
        if matches!(self.tamper, Tamper::FlipResponse { at: n } if n == at) && !response.is_empty() {
            response[0] ^= 0x01;
        }
        Ok(response)
    }

    fn transmit_script(&mut self, commands: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, TransportError> {
        let step = self.scripts.len();
        self.scripts.push(commands.to_vec());
        if let (Tamper::ReplayScript { at }, Some(previous)) = (self.tamper, step.checked_sub(1)) {
            if at == step {
                let replayed: Vec<Vec<u8>> =
                    self.scripts[previous].iter().cycle().take(commands.len()).cloned().collect();
                return replayed.iter().map(|c| self.inner.transmit_raw(c)).collect();
            }
        }
        let mut order: Vec<usize> = (0..commands.len()).collect();
        if self.tamper == Tamper::Reorder && !self.reordered && commands.len() >= 2 {
            order.swap(0, 1);
            self.reordered = true;
        }
        order.into_iter().map(|i| self.transmit_raw(&commands[i])).collect()
    }
}
